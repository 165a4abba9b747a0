"""models.design.receptive_field against the course numbers written out, and against a measurement: the support (the
nonzero pixels) of tf.GradientTape gradients of single units with respect to the input, with weights made
positive and a positive input so that no gradient vanishes by chance (average pooling in place of max, whose
gradient reaches only the window's winner)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from models.design.config import COURSE_CNN, CNNConfig
from models.design.receptive_field import (
    FieldError,
    dropped_rows,
    field_labels,
    field_steps,
    find_step,
    receptive_field,
    seen_span,
)
from models.explain.field_probe import unit_gradient
from models.networks.zoo import build_cnn, load_model_file

COURSE = {"conv1": (3, 1, 0), "pool1": (4, 2, 0), "conv2": (8, 2, 0), "pool2": (10, 4, 0), "dense": (26, 20, 0)}


def positive(model: keras.Model) -> keras.Model:
    """Every weight and bias made positive (|w| + 0.05), so every path from a pixel adds to the unit."""
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([np.abs(w) + 0.05 for w in layer.get_weights()])
    return model


def support(model: keras.Model, layer: str, unit: tuple[int, ...], side: int = 28) -> np.ndarray:
    """Nonzero pixels of d unit / d input, measured with tf.GradientTape through Keras's own layers."""
    probe = keras.Model(model.inputs[0], model.get_layer(layer).output)
    pixels = tf.constant(np.random.default_rng(0).uniform(0.2, 1.0, (1, side, side, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        value = probe(pixels)[(0, *unit)]
    return np.asarray(tape.gradient(value, pixels))[0, :, :, 0] != 0


def box(mask: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    rows, cols = np.nonzero(mask)
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def predicted(model_or_config, layer: str, row: int, col: int):
    steps = field_steps(model_or_config)
    step = find_step(steps, layer)
    (r0, r1, _), (c0, c1, _) = seen_span(steps, step, row, 0), seen_span(steps, step, col, 1)
    return (r0, r1), (c0, c1)


def test_the_course_cnn_written_out():
    for layer, numbers in COURSE.items():
        assert receptive_field(COURSE_CNN, layer) == numbers
    steps = {step.name: step.text for step in field_steps(COURSE_CNN)}
    assert steps["conv1"] == "k = 3, s = 1: r = 1 + (3 - 1) x 1 = 3, j = 1 x 1 = 1, start 0"
    assert steps["pool1"] == "k = 2, s = 2: r = 3 + (2 - 1) x 1 = 4, j = 1 x 2 = 2, start 0"
    assert steps["conv2"] == "k = 3, s = 1: r = 4 + (3 - 1) x 2 = 8, j = 2 x 1 = 2, start 0"
    assert steps["pool2"] == "k = 2, s = 2: r = 8 + (2 - 1) x 2 = 10, j = 2 x 2 = 4, start 0"
    assert steps["dense"] == "one window over the whole map (k = 5): r = 10 + (5 - 1) x 4 = 26"
    assert (
        field_labels(COURSE_CNN)["conv2"] == "8x8, jump 2" and field_labels(COURSE_CNN)["dense"] == "26x26, whole map"
    )
    # pool2 rounds 11 down to 5: conv2's last row and column, the only ones that see input rows 26-27, are dropped
    fit = "windows of 2 with stride 2 fit 11 {} 5 times, floor((11 - 2) / 2) + 1 = 5, and leave the last 1 out"
    assert dropped_rows(field_steps(COURSE_CNN)) == [f"pool2: {fit.format('rows')}", f"pool2: {fit.format('columns')}"]


def test_the_shipped_model_reads_the_same_numbers_and_its_gradients_stay_inside():
    model = load_model_file()
    for layer, numbers in COURSE.items():
        assert receptive_field(model, layer) == numbers
    image = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    for layer, unit in [("conv1", (0, 25, 3)), ("conv2", (10, 4, 7)), ("pool2", (4, 0, 5)), ("dense", (3,))]:
        gradient = unit_gradient(model, image, layer, unit).gradient
        row, col = unit[:2] if len(unit) == 3 else (0, 0)
        (r0, r1), (c0, c1) = predicted(model, layer, row, col)
        outside = np.ones(gradient.shape, dtype=bool)
        outside[r0 : r1 + 1, c0 : c1 + 1] = False
        assert np.abs(gradient).max() > 0 and np.all(gradient[outside] == 0), layer


def test_the_probe_of_a_conv1_unit_is_its_kernel_in_the_square():
    model = load_model_file()
    image = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    measured = unit_gradient(model, image, "conv1", (4, 9, 11))
    kernel = model.get_layer("conv1").get_weights()[0][:, :, 0, 11]  # d unit / d input (pixels / 255) = the weights
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[4:7, 9:12] = kernel
    np.testing.assert_allclose(measured.gradient, expected, rtol=1e-6, atol=0)
    assert measured.before_activation


@pytest.mark.parametrize(
    "config",
    [
        CNNConfig(filters=3, pooling="avg", dense_units=8),  # the course geometry
        CNNConfig(filters=3, kernel_size=5, padding="same", pooling="avg", dense_units=8),  # fields past the edge
        CNNConfig(filters=3, kernel_size=4, pooling="avg", pool_size=3, dense_units=8),  # even kernels, 3x3 pools
    ],
)
def test_builder_configs_against_the_gradient_support(config):
    model = positive(build_cnn(config))
    for step in field_steps(config):
        if step.kind not in ("Conv2D", "AveragePooling2D"):
            continue
        size = int(model.get_layer(step.name).output.shape[1])
        for row, col in [(0, 0), (size - 1, size - 1), (size // 2, 0), (1 % size, size // 2)]:
            mask = support(model, step.name, (row, col, 0))
            expected = predicted(config, step.name, row, col)
            assert box(mask) == expected, (step.name, row, col)
            (r0, r1), (c0, c1) = expected
            assert mask.sum() == (r1 - r0 + 1) * (c1 - c0 + 1)  # the whole square, no holes
    mask = support(model, "dense", (0,))
    assert box(mask) == predicted(config, "dense", 0, 0)
    assert mask.sum() == np.prod([b - a + 1 for a, b in box(mask)])


def test_the_course_dense_layer_does_not_see_the_last_two_rows():
    model = positive(build_cnn(CNNConfig(filters=3, pooling="avg", dense_units=4)))
    mask = support(model, "dense", (2,))
    assert box(mask) == ((0, 25), (0, 25)) and not mask[26:].any() and not mask[:, 26:].any()


def keras_model(*stack, side: int = 28) -> keras.Model:
    return positive(keras.Sequential([keras.Input((side, side, 1)), *stack]))


@pytest.mark.parametrize(
    "model",
    [
        keras_model(
            layers.Conv2D(2, 3, strides=2, padding="same", name="a"),  # 28 -> 14, 'same' pads 0 before, 1 after
            layers.Conv2D(2, 3, strides=2, padding="same", name="b"),  # 14 -> 7
            layers.AveragePooling2D(3, strides=2, padding="same", name="c"),  # 7 -> 4, pads 1 before
        ),
        keras_model(
            layers.Conv2D(2, 4, strides=3, name="a"),  # 27 -> 8, an even kernel
            layers.Conv2D(2, 3, strides=2, padding="same", name="b"),  # 8 -> 4, pads 0 before
            layers.Conv2D(2, (3, 2), padding="same", name="c"),  # rows and columns differ
            side=27,
        ),
        keras_model(
            layers.Conv2D(2, 5, name="a"),
            layers.Activation("relu", name="relu"),
            layers.AveragePooling2D(2, name="b"),
            layers.Conv2D(2, 5, padding="same", name="c"),
        ),
    ],
)
def test_keras_models_with_strides_and_same_padding_against_the_gradient_support(model):
    side = int(model.inputs[0].shape[1])
    for name in ("a", "b", "c"):
        rows, cols = (int(d) for d in model.get_layer(name).output.shape[1:3])
        for row, col in [(0, 0), (rows - 1, cols - 1), (rows // 2, cols - 1)]:
            mask = support(model, name, (row, col, 1), side)
            assert box(mask) == predicted(model, name, row, col), (name, row, col)
            assert mask.sum() == np.prod([b - a + 1 for a, b in box(mask)])


def test_dilation_spans_the_field_with_holes():
    model = keras_model(
        layers.Conv2D(2, 3, dilation_rate=2, name="a"),  # k_eff = 2 x (3 - 1) + 1 = 5
        layers.Conv2D(2, 3, dilation_rate=2, padding="same", name="b"),  # 'same' pads 2 before
    )
    assert receptive_field(model, "a") == (5, 1, 0) and receptive_field(model, "b") == (9, 1, -2)
    text = find_step(field_steps(model), "b").text
    assert text.startswith("k = 5 (dilation 2: 2 x (3 - 1) + 1), s = 1: r = 5 + (5 - 1) x 1 = 9")
    for name, row, col in [("a", 0, 0), ("a", 23, 10), ("b", 0, 0), ("b", 12, 23), ("b", 23, 23)]:
        mask = support(model, name, (row, col, 0))
        assert box(mask) == predicted(model, name, row, col), (name, row, col)
    first = support(model, "a", (3, 4, 0))
    assert first.sum() == 9 and first[3:8:2, 4:9:2].all()  # every other pixel: the 3x3 taps, 2 apart


def test_what_cannot_be_worked_out_is_named():
    with pytest.raises(FieldError, match="no layer 'conv9'; the layers are input, conv1"):
        receptive_field(COURSE_CNN, "conv9")
    with pytest.raises(FieldError, match="up: the receptive field of a UpSampling2D layer is not worked out"):
        field_steps(keras_model(layers.UpSampling2D(name="up")))
    with pytest.raises(FieldError, match="rows .* and columns .* differ"):
        receptive_field(keras_model(layers.Conv2D(1, (3, 1), name="a")), "a")
