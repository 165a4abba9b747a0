"""models.explain.attribution on the shipped model and real test images: every occlusion value against a direct Keras
prediction of the patched image built here, SmoothGrad against a tf.GradientTape loop written out here."""

import numpy as np
import pytest

from models.explain import attribution as att
from models.explain import inspection as ins
from models.networks.zoo import load_model_file


@pytest.fixture(scope="module")
def model():
    return load_model_file()


@pytest.fixture(scope="module")
def images(fashion):
    return fashion[1][0]


def direct_probabilities(model, pixels: np.ndarray) -> np.ndarray:
    """The model's output for one (28, 28) float image in [0, 1], one Keras call of its own."""
    return np.asarray(model(pixels[np.newaxis, :, :, np.newaxis].astype(np.float32), training=False))[0]


@pytest.mark.parametrize(
    ("index", "patch", "stride", "fill"),
    [
        (23, 4, 2, "grey"),
        (23, 5, 3, "mean"),
        (4, 7, 7, "grey"),
        (4, 3, 4, "mean"),
        (23, 28, 1, "grey"),
        (11, 6, 5, "grey"),
    ],
)
def test_each_occlusion_value_is_the_drop_of_a_direct_prediction_of_the_patched_image(
    model, images, index, patch, stride, fill
):
    image = images[index]
    pixels = image.astype(np.float64) / 255.0
    value = 0.5 if fill == "grey" else pixels.mean()
    starts = list(range(0, 28 - patch + 1, stride))  # every window that fits
    clean = direct_probabilities(model, pixels)
    target = int(clean.argmax())
    result = att.occlusion_map(model, image, None, patch, stride, fill=fill)
    assert result.class_index == target and result.fill_value == pytest.approx(value, abs=1e-6)
    assert result.probability == pytest.approx(float(clean[target]), abs=1e-6)
    assert result.drops.shape == (len(starts), len(starts)) and result.starts.tolist() == starts
    expected = np.empty((len(starts), len(starts)))
    for i, top in enumerate(starts):
        for j, left in enumerate(starts):
            patched = pixels.copy()
            patched[top : top + patch, left : left + patch] = value
            expected[i, j] = clean[target] - direct_probabilities(model, patched)[target]
    assert np.abs(expected).max() > 1e-3  # some patch changes the prediction: the comparison is not 0 == 0
    np.testing.assert_allclose(result.drops, expected, atol=2e-6)
    # each pixel: the mean drop of the windows covering it; NaN where none does
    total, count = np.zeros((28, 28)), np.zeros((28, 28))
    for i, top in enumerate(starts):
        for j, left in enumerate(starts):
            total[top : top + patch, left : left + patch] += expected[i, j]
            count[top : top + patch, left : left + patch] += 1
    reference = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    np.testing.assert_allclose(result.pixel_map, reference, atol=2e-6, equal_nan=True)
    assert result.uncovered == 28 - (starts[-1] + patch)


def test_a_patch_that_does_not_divide_the_image_leaves_its_last_rows_clear(model, images):
    result = att.occlusion_map(model, images[0], None, 5, 3)  # windows at 0, 3, ..., 21: rows 26, 27 uncovered
    assert result.drops.shape == (8, 8) and result.uncovered == 2
    assert np.isnan(result.pixel_map[26:, :]).all() and np.isnan(result.pixel_map[:, 26:]).all()
    assert np.isfinite(result.pixel_map[:26, :26]).all()


def test_occlusion_of_a_chosen_class(model, images):
    pixels = images[5].astype(np.float64) / 255.0
    result = att.occlusion_map(model, images[5], 9, 7, 7)
    clean = direct_probabilities(model, pixels)
    patched = pixels.copy()
    patched[7:14, 14:21] = 0.5
    assert result.class_index == 9
    assert result.drops[1, 2] == pytest.approx(clean[9] - direct_probabilities(model, patched)[9], abs=2e-6)


@pytest.mark.parametrize(
    ("patch", "stride", "fill", "message"),
    [
        (29, 1, "grey", "A 29x29 patch is larger than the 28x28 image: choose a patch of at most 28 pixels."),
        (0, 1, "grey", "The patch size must be a whole number of at least 1 pixel (got 0)."),
        (3, 0, "grey", "The stride must be a whole number of at least 1 pixel (got 0)."),
        (2.5, 1, "grey", "The patch size must be a whole number of at least 1 pixel (got 2.5)."),
        (3, 1, "black", "The fill must be one of grey, mean (got 'black')."),
    ],
)
def test_bad_occlusion_parameters_say_what_is_wrong(model, images, patch, stride, fill, message):
    with pytest.raises(att.AttributionError) as caught:
        att.occlusion_map(model, images[0], None, patch, stride, fill=fill)
    assert str(caught.value) == message
    assert isinstance(caught.value, ins.InspectionError)  # what the Inspect tabs show as a message


def test_occlusion_refuses_a_class_the_model_lacks(model, images):
    with pytest.raises(att.AttributionError, match="from 0 to 9"):
        att.occlusion_map(model, images[0], 10, 4, 2)


def tape_smoothgrad(model, image, class_index, noise, samples, seed):
    """SmoothGrad written out: the same noise draws, then one tf.GradientTape per noisy copy of the logit
    (the output Dense layer's kernel and bias applied to its input by hand, before softmax)."""
    import keras
    import tensorflow as tf

    pixels = image.astype(np.float32)[:, :, np.newaxis] / np.float32(255.0)
    sigma = noise * float(pixels.max() - pixels.min())
    draws = np.random.default_rng(seed).normal(0.0, sigma, size=(samples, 28, 28, 1)).astype(np.float32)
    features = keras.Model(model.inputs[0], model.layers[-1].input)
    kernel, bias = model.layers[-1].kernel, model.layers[-1].bias
    maps = []
    for copy in pixels[np.newaxis] + draws:
        tensor = tf.constant(copy[np.newaxis])
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            score = (tf.matmul(features(tensor, training=False), kernel) + bias)[0, class_index]
        maps.append(np.abs(np.asarray(tape.gradient(score, tensor))[0]).max(axis=-1))
    return np.mean(maps, axis=0)


@pytest.mark.parametrize(("noise", "samples", "seed"), [(0.15, 12, 0), (0.3, 7, 4), (0.05, 60, 1)])
def test_smoothgrad_is_the_mean_saliency_of_the_same_noisy_copies(model, images, noise, samples, seed):
    image = images[23]
    result = att.smoothgrad(model, image, 5, noise=noise, samples=samples, seed=seed)
    reference = tape_smoothgrad(model, image, 5, noise, samples, seed)
    assert result.map.shape == (28, 28) and result.class_index == 5 and result.samples == samples
    assert result.sigma == pytest.approx(noise * (image.max() - image.min()) / 255.0)
    np.testing.assert_allclose(result.map, reference, rtol=1e-4, atol=1e-6 * reference.max())


def test_smoothgrad_without_noise_is_plain_saliency(model, images):
    for index in (0, 23):
        plain = ins.saliency(model, images[index : index + 1])
        smooth = att.smoothgrad(model, images[index], None, noise=0.0, samples=3)
        assert smooth.class_index == int(plain.classes[0])  # None: the clean image's predicted class
        np.testing.assert_allclose(smooth.map, plain.maps[0], rtol=1e-5, atol=1e-7)


def test_smoothgrad_depends_on_the_seed_only_through_the_noise(model, images):
    first = att.smoothgrad(model, images[3], 1, noise=0.2, samples=5, seed=7)
    again = att.smoothgrad(model, images[3], 1, noise=0.2, samples=5, seed=7)
    other = att.smoothgrad(model, images[3], 1, noise=0.2, samples=5, seed=8)
    np.testing.assert_array_equal(first.map, again.map)
    assert not np.allclose(first.map, other.map)


def test_smoothgrad_batches_give_the_same_map_as_one_pass(model, images, monkeypatch):
    whole = att.smoothgrad(model, images[2], 3, noise=0.1, samples=9, seed=2)
    monkeypatch.setattr(att, "GRADIENT_BATCH", 4)  # 4 + 4 + 1 copies
    np.testing.assert_allclose(
        att.smoothgrad(model, images[2], 3, noise=0.1, samples=9, seed=2).map, whole.map, rtol=1e-5
    )


@pytest.mark.parametrize(
    ("noise", "samples", "message"),
    [
        (-0.1, 10, "The noise level must be a number from 0 to 1 (a fraction of the range); got -0.1."),
        (1.5, 10, "The noise level must be a number from 0 to 1 (a fraction of the range); got 1.5."),
        (float("nan"), 10, "The noise level must be a number from 0 to 1 (a fraction of the range); got nan."),
        (0.1, 0, "The sample count must be a whole number from 1 to 500 (got 0)."),
        (0.1, 501, "The sample count must be a whole number from 1 to 500 (got 501)."),
        (0.1, 2.5, "The sample count must be a whole number from 1 to 500 (got 2.5)."),
    ],
)
def test_bad_smoothgrad_parameters_say_what_is_wrong(model, images, noise, samples, message):
    with pytest.raises(att.AttributionError) as caught:
        att.smoothgrad(model, images[0], None, noise=noise, samples=samples)
    assert str(caught.value) == message
