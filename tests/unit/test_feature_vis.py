"""models.explain.feature_vis checked against independent Keras computations: sub-models of the layer's own output, the
gradient written out with tf.GradientTape, and a brute-force search over every activation of a real subset."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.design.config import CNNConfig
from models.design.receptive_field import Field
from models.explain import feature_vis as fv
from models.inputs.fashion_mnist import scale_images
from models.networks.zoo import build_cnn, load_model_file


@pytest.fixture(scope="module")
def model():
    return load_model_file()


@pytest.fixture(scope="module")
def train_images(fashion):
    return fashion[0][0]


def layer_output(model, name, images):
    """The layer's own output (after ReLU) for float images (N, 28, 28), by a Keras sub-model."""
    return keras.Model(model.inputs[0], model.get_layer(name).output).predict(images[..., None], verbose=0)


def logits(model, images):
    features = keras.Model(model.inputs[0], model.layers[-1].input).predict(images[..., None], verbose=0)
    output = model.layers[-1]
    return features.astype(np.float64) @ np.asarray(output.kernel, np.float64) + np.asarray(output.bias, np.float64)


def gradient_support(model, name, row, col):
    """Rows and columns of the input pixels where d(sum of the unit's pre-activations)/d(input) is not zero."""
    layer = model.get_layer(name)
    front = keras.Model(model.inputs[0], layer.input)
    x = tf.constant(np.random.default_rng(0).uniform(0.2, 1.0, (1, 28, 28, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = tf.nn.conv2d(front(x), layer.kernel, 1, layer.padding.upper()) + layer.bias
        unit = tf.reduce_sum(z[0, row, col, :])
    grad = np.asarray(tape.gradient(unit, x))[0, :, :, 0]
    rows, cols = np.nonzero(grad)
    return rows.min(), rows.max(), cols.min(), cols.max()


def test_course_windows_and_the_gradient_stays_inside_them(model):
    assert fv.crop_window(model, "conv1") == Field(3, 1, 0)
    assert fv.crop_window(model, "conv2") == Field(8, 2, 0)
    assert fv.crop_window(model, fv.OUTPUT).size == 28
    for name, (row, col) in (("conv1", (5, 7)), ("conv2", (4, 6)), ("conv2", (0, 10))):
        window = fv.crop_window(model, name)
        top, left = window.start + row * window.jump, window.start + col * window.jump
        assert gradient_support(model, name, row, col) == (top, top + window.size - 1, left, left + window.size - 1)


def test_same_padding_window_starts_before_the_image():
    model = build_cnn(CNNConfig(padding="same"))
    window = fv.crop_window(model, "conv2")
    assert window == Field(8, 2, -3)  # conv1 pads 1 pixel, conv2 one pool1 cell (2 pixels)
    top, bottom, left, right = gradient_support(model, "conv2", 0, 0)
    assert (top, left) == (0, 0) and bottom == right == window.start + window.size - 1
    image = np.arange(28 * 28, dtype=np.int32).reshape(28, 28) + 1
    piece = fv.crop(image, window, 0, 0)
    assert (piece[:3] == 0).all() and (piece[:, :3] == 0).all()
    np.testing.assert_array_equal(piece[3:, 3:], image[:5, :5])


@pytest.mark.parametrize(("target", "units"), [("conv1", [0, 1, 4, 10]), ("conv2", [0, 3, 5, 9]), ("output", [0, 8])])
def test_ascent_raises_the_targets_activation_over_the_noise(model, target, units):
    found = fv.maximise(model, target, units, fv.AscentSettings(steps=64))
    after = scale_images(found.images)[..., 0]
    if target == fv.OUTPUT:
        before_values = logits(model, found.start)[np.arange(len(units)), units]
        after_values = logits(model, after)[np.arange(len(units)), units]
        assert (after_values > before_values + 5).all()
    else:
        before_maps, after_maps = layer_output(model, target, found.start), layer_output(model, target, after)
        before_values = before_maps.mean(axis=(1, 2))[np.arange(len(units)), units]
        after_values = after_maps.mean(axis=(1, 2))[np.arange(len(units)), units]
        assert (after_values > 1.5 * before_values + 0.01).all(), (before_values, after_values)
    np.testing.assert_allclose(found.objective, after_values, rtol=1e-4, atol=1e-4)


def test_bad_units_give_a_clear_error(model):
    with pytest.raises(fv.FeatureError, match="0-63"):
        fv.maximise(model, "conv1", [64])
    with pytest.raises(fv.FeatureError, match="no layer 'conv7'"):
        fv.maximise(model, "conv7")


def brute_force_top(values):
    """(N, F) values -> (F, 9) image indices: largest first, ties by the lower index."""
    count = values.shape[0]
    return np.stack([np.lexsort((np.arange(count), -values[:, f]))[: fv.TOP] for f in range(values.shape[1])])


def test_top_patches_equal_a_brute_force_search(model, train_images):
    images = train_images[:700]
    found = fv.top_patches(model, images, ["conv1", "conv2", fv.OUTPUT], batch=128)
    x = scale_images(images)[..., 0]
    for name in ("conv1", "conv2"):
        maps = layer_output(model, name, x)  # (N, H, W, F)
        flat = maps.reshape(len(maps), -1, maps.shape[-1])
        peaks, where = flat.max(axis=1), flat.argmax(axis=1)
        order = brute_force_top(peaks)
        got = found[name]
        np.testing.assert_array_equal(got.indices, order)
        np.testing.assert_allclose(got.values, np.take_along_axis(peaks.T, order, axis=1), rtol=1e-6, atol=1e-6)
        window, width = fv.crop_window(model, name), maps.shape[2]
        for f in (0, 7, 33, 63):
            for k, i in enumerate(order[f]):
                row, col = divmod(int(where[i, f]), width)
                assert tuple(got.positions[f, k]) == (row, col)
                top, left = row * window.jump, col * window.jump
                np.testing.assert_array_equal(
                    got.crops[f, k], images[i, top : top + window.size, left : left + window.size]
                )
    scores = logits(model, x)
    order = brute_force_top(scores)
    np.testing.assert_array_equal(found[fv.OUTPUT].indices, order)
    np.testing.assert_allclose(found[fv.OUTPUT].values, np.take_along_axis(scores.T, order, axis=1), rtol=1e-5)
    np.testing.assert_array_equal(found[fv.OUTPUT].crops, images[order])


def test_shipped_artefact_matches_the_model_and_keras(model, train_images):
    saved = fv.read_features(fv.FEATURES_FILE, fv.weights_key(model))
    assert saved is not None, "models/fashion_cnn.features.npz is stale: run python -m models.explain.feature_vis"
    assert saved.budget.images == 60_000 and saved.initial is not None
    for name in ("conv1", "conv2"):
        patches = saved.trained[name].patches
        for f in (0, 21, 50):
            maps = layer_output(model, name, scale_images(train_images[patches.indices[f]])[..., 0])[..., f]
            np.testing.assert_allclose(patches.values[f], maps.max(axis=(1, 2)), rtol=1e-6, atol=1e-6)
    classes = saved.trained[fv.OUTPUT].patches
    for c in (0, 9):
        scores = logits(model, scale_images(train_images[classes.indices[c]])[..., 0])[:, c]
        np.testing.assert_allclose(classes.values[c], scores, rtol=1e-5)
    assert fv.read_features(fv.FEATURES_FILE, "another model") is None


def test_initial_weights_rebuilt_from_the_seed(model):
    from models.design.card import read_filter_snapshots

    initial = fv.shipped_initial()
    assert initial is not None
    np.testing.assert_array_equal(initial.get_layer("conv1").kernel, read_filter_snapshots()[0])
    assert not np.allclose(initial.get_layer("conv2").kernel, model.get_layer("conv2").kernel)
    assert fv.rebuild_initial(lambda: build_cnn(CNNConfig()), 1, read_filter_snapshots()[0]) is None  # other seed
