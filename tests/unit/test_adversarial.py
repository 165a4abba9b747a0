"""models.explain.adversarial on real Fashion-MNIST test images and the shipped model, checked against a gradient
written out here with tf.GradientTape and keras.losses, and against direct predictions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.explain import adversarial as adv
from models.networks.zoo import load_model_file

IMAGES = (0, 1, 2, 23)  # an ankle boot, a pullover, trousers, and an ankle boot the model calls a sandal


@pytest.fixture(scope="module")
def model():
    return load_model_file()


@pytest.fixture(scope="module")
def test_set(fashion):
    return fashion[1]


def reference_sign(model, pixels: np.ndarray, labels: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
    """The inputs x (N, 28, 28, 1) of uint8 images and sign(d loss / d x), the loss Keras's cross-entropy."""
    x = tf.constant(pixels.astype(np.float32)[..., np.newaxis] / np.float32(255.0))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.losses.SparseCategoricalCrossentropy(reduction="sum")(labels, model(x, training=False))
    return x, tf.sign(tape.gradient(loss, x))


def reference_fgsm(model, pixels: np.ndarray, labels: np.ndarray, epsilon: float) -> np.ndarray:
    """Goodfellow et al.'s formula, written out: clip(x + epsilon * sign(d loss / d x), 0, 1)."""
    x, sign = reference_sign(model, pixels, labels)
    return np.asarray(tf.clip_by_value(x + np.float32(epsilon) * sign, 0.0, 1.0))[..., 0]


def predicted(model, images: np.ndarray) -> np.ndarray:
    """Keras's own predictions for float images (N, 28, 28) in [0, 1]."""
    return model.predict(images[..., np.newaxis], verbose=0).argmax(axis=1)


@pytest.mark.parametrize("epsilon", [0.0, 0.01, 0.05, 0.2, 1.0])
def test_fgsm_equals_the_formula_with_keras_loss_and_tape(model, test_set, epsilon):
    images, labels = test_set
    batch = images[list(IMAGES)]
    expected = reference_fgsm(model, batch, labels[list(IMAGES)], epsilon)
    np.testing.assert_array_equal(adv.fgsm(model, batch, labels[list(IMAGES)], epsilon), expected)
    one = adv.fgsm(model, images[1], int(labels[1]), epsilon)  # one uint8 image; the same as float in [0, 1]
    assert one.shape == (28, 28)
    np.testing.assert_array_equal(one, reference_fgsm(model, images[1:2], labels[1:2], epsilon)[0])
    np.testing.assert_array_equal(adv.fgsm(model, images[1] / 255.0, int(labels[1]), epsilon), one)
    if epsilon == 0.05:  # every pixel moves by exactly epsilon, unless it stops at 0 or 1 or its gradient is 0
        change = np.abs(expected - batch / 255.0)
        assert change.max() <= 0.05 + 1e-6 and np.mean(np.isclose(change, 0.05, atol=1e-6)) > 0.3


def test_iterative_stays_in_the_ball_and_lowers_the_true_class_at_least_as_much_as_fgsm(model, test_set):
    images, labels = test_set
    for index in IMAGES:
        x, label = images[index] / np.float32(255.0), int(labels[index])
        for epsilon in (0.01, 0.03, 0.1):
            bim = adv.iterative(model, images[index], label, epsilon)
            assert np.abs(bim - x).max() <= epsilon + 1e-6
            assert bim.min() >= 0.0 and bim.max() <= 1.0
            after = model.predict(np.stack([bim, adv.fgsm(model, x, label, epsilon)])[..., None], verbose=0)
            assert after[0, label] <= after[1, label] + 1e-9, (index, epsilon, after[:, label])


def test_iterative_with_one_full_step_is_fgsm(model, test_set):
    images, labels = test_set
    np.testing.assert_array_equal(
        adv.iterative(model, images[0], int(labels[0]), 0.04, steps=1, alpha=0.04),
        reference_fgsm(model, images[:1], labels[:1], 0.04)[0],
    )


@pytest.mark.parametrize("method", adv.METHODS)
def test_smallest_flip_changes_the_prediction_and_one_grid_step_below_does_not(model, test_set, method):
    images, labels = test_set
    attack = adv.fgsm if method == "fgsm" else adv.iterative
    for index in (0, 1):
        label = int(labels[index])
        flip = adv.smallest_flip(model, images[index], label, method)
        assert flip.epsilon is not None and flip.below is not None and flip.becomes is not None
        assert flip.resolution == (0.001 if method == "fgsm" else 0.002)
        assert flip.below == pytest.approx(flip.epsilon - flip.resolution, abs=1e-12)
        clean = predicted(model, images[index : index + 1] / np.float32(255.0))[0]
        assert flip.original == clean == label
        at, below = attack(model, images[index], label, flip.epsilon), attack(model, images[index], label, flip.below)
        assert predicted(model, np.stack([at, below])).tolist() == [flip.becomes, clean]
        assert flip.becomes != clean


def test_the_search_in_chunks_finds_the_first_flip_of_the_whole_grid(model, test_set, monkeypatch):
    images, labels = test_set
    grid = np.array([k * 0.001 for k in range(1, 1001)], dtype=np.float32)
    for index in (0, 4, 23):  # flips near 0.05, and beyond the first chunk of 250 epsilons (0.58, 0.40)
        x, sign = reference_sign(model, images[index : index + 1], labels[index : index + 1])
        every = tf.clip_by_value(x + grid.reshape(-1, 1, 1, 1) * sign, 0.0, 1.0)
        changed = np.flatnonzero(
            model.predict(every, batch_size=250, verbose=0).argmax(axis=1) != predicted(model, x[..., 0])[0]
        )
        flip = adv.smallest_flip(model, images[index], int(labels[index]), "fgsm")
        assert np.float32(flip.epsilon) == grid[changed[0]], index
    whole = [adv.smallest_flip(model, images[i], int(labels[i]), "iterative").epsilon for i in (0, 1)]
    monkeypatch.setattr(adv, "ITERATIVE_CHUNK", 4)  # chunk boundaries at every 4th epsilon
    assert [adv.smallest_flip(model, images[i], int(labels[i]), "iterative").epsilon for i in (0, 1)] == whole


def test_smallest_flip_says_when_no_epsilon_on_the_grid_works(model, test_set):
    images, labels = test_set
    flip = adv.smallest_flip(model, images[0], int(labels[0]), "fgsm", resolution=0.001, most=0.005)
    assert flip.epsilon is None and flip.becomes is None
    on_grid = np.stack([adv.fgsm(model, images[0], int(labels[0]), k * 0.001) for k in range(1, 6)])
    assert (predicted(model, on_grid) == flip.original).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: adv.fgsm(m, x, 9, 1.5), "epsilon must be between 0 and 1"),
        (lambda m, x: adv.fgsm(m, x, 9, -0.1), "epsilon must be between 0 and 1"),
        (lambda m, x: adv.fgsm(m, x, 9, float("nan")), "epsilon must be between 0 and 1"),
        (lambda m, x: adv.fgsm(m, x, 10, 0.1), "The label must be a class 0-9"),
        (lambda m, x: adv.fgsm(m, x, -1, 0.1), "The label must be a class 0-9"),
        (lambda m, x: adv.fgsm(m, x, 2.5, 0.1), "The label must be a class number"),
        (lambda m, x: adv.iterative(m, x, 9, 0.1, steps=0), "steps must be a whole number of at least 1"),
        (lambda m, x: adv.iterative(m, x, 9, 0.1, alpha=2.0), "alpha (the step size) must be between 0 and 1"),
        (lambda m, x: adv.fgsm(m, x * 2.0, 9, 0.1), "Image pixels must be finite and in [0, 1]"),
        (lambda m, x: adv.fgsm(m, x[:20], 9, 0.1), "Expected 28x28 images"),
        (lambda m, x: adv.smallest_flip(m, x, 9, "fgsm", resolution=0.0), "The grid's resolution must be above 0"),
        (lambda m, x: adv.smallest_flip(m, x, 9, "cw"), "method must be one of fgsm, iterative"),
    ],
)
def test_bad_parameters_say_what_is_wrong(model, test_set, call, message):
    images, _ = test_set
    with pytest.raises(adv.AttackError) as raised:
        call(model, images[0] / 255.0)
    assert message in str(raised.value)
