"""Dilation (issue 18, item 2): models.ops.geometry's rule and models.ops.convolution against Keras
Conv2D(dilation_rate=d) on real Fashion-MNIST images and a colour picture; the page under AppTest is in
tests/app/test_filters_dilation_page.py."""

from __future__ import annotations

import itertools
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.inputs.samples import load_sample
from models.ops.convolution import (
    conv2d_summed,
    convolve2d,
    explain_pixel,
    output_shape,
    shape_formula,
    stride_and_dilation,
)
from models.ops.geometry import axis_plan, effective_window

DILATIONS = (2, 3, 4)
KERNEL_SIZES = (2, 3, 5)
PADDINGS = ("valid", "same")


def asymmetric_kernel(rows: int, cols: int | None = None) -> np.ndarray:
    """Deterministic weights with no symmetry, so a misplaced tap gives different numbers."""
    cols = rows if cols is None else cols
    return np.sin(np.arange(rows * cols) * 1.3 + rows).reshape(rows, cols).astype(np.float32)


def keras_conv(image: np.ndarray, kernel: np.ndarray, dilation, padding: str, stride=1) -> np.ndarray:
    """Keras Conv2D(1, kernel.shape, dilation_rate=..., use_bias=False) with these weights, on each channel alone."""
    layer = keras.layers.Conv2D(
        1, kernel.shape, strides=stride, padding=padding, dilation_rate=dilation, use_bias=False
    )
    layer.build((None, None, None, 1))
    layer.set_weights([kernel[:, :, None, None]])
    channels = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    result = np.asarray(layer(channels[..., None]))[..., 0]
    return result[0] if image.ndim == 2 else np.moveaxis(result, 0, -1)


@pytest.fixture(scope="module")
def garments(fashion) -> np.ndarray:
    """Six real Fashion-MNIST test images as float32 in [0, 1]."""
    return fashion[1][0][[0, 1, 2, 7, 11, 19]].astype(np.float32) / 255


@pytest.fixture(scope="module")
def colour() -> np.ndarray:
    """A colour picture, cut to 64 x 96 x 3 (rows x columns x RGB) so Keras runs it quickly."""
    return load_sample("Street scene", grayscale=False)[96:160, 100:196]


@pytest.mark.parametrize("size,dilation,padding", itertools.product(KERNEL_SIZES, DILATIONS, PADDINGS))
def test_convolve2d_with_dilation_is_keras_conv2d_on_fashion_mnist(garments, size, dilation, padding):
    kernel = asymmetric_kernel(size)
    expected = keras_conv(np.moveaxis(garments, 0, -1), kernel, dilation, padding)  # the garments as channels
    for index, image in enumerate(garments):
        ours = convolve2d(image, kernel, padding=padding, dilation=dilation)
        assert ours.dtype == np.float32 and ours.shape == expected.shape[:2]
        np.testing.assert_allclose(ours, expected[:, :, index], rtol=1e-5, atol=2e-5)
    assert output_shape(28, 28, size, 1, padding, dilation) == expected.shape[:2]


@pytest.mark.parametrize("size,dilation,padding", [(3, 2, "valid"), (3, 2, "same"), (5, 3, "same"), (3, 4, "valid")])
def test_convolve2d_and_conv2d_summed_with_dilation_are_keras_on_a_colour_picture(colour, size, dilation, padding):
    kernel = asymmetric_kernel(size)
    expected = keras_conv(colour, kernel, dilation, padding)
    ours = convolve2d(colour, kernel, padding=padding, dilation=dilation)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=2e-5)
    # One Conv2D filter over the three channels at once, with a bias.
    weights = np.stack([kernel, -kernel.T, 0.5 * kernel], axis=-1)
    layer = keras.layers.Conv2D(1, size, padding=padding, dilation_rate=dilation)
    layer.build((None, *colour.shape))
    layer.set_weights([weights[:, :, :, None], np.array([0.25], np.float32)])
    summed = np.asarray(layer(colour[None]))[0, :, :, 0]
    ours = conv2d_summed(colour, weights, bias=0.25, padding=padding, dilation=dilation)
    np.testing.assert_allclose(ours, summed, rtol=1e-4, atol=1e-4)


def test_rectangular_kernels_and_dilations_are_keras(garments):
    image = garments[3][:, 2:25]  # 28 x 23
    for kernel_shape, dilation, padding in [
        ((3, 5), (2, 1), "valid"),
        ((2, 3), (1, 3), "same"),
        ((5, 3), (3, 2), "same"),
    ]:
        kernel = asymmetric_kernel(*kernel_shape)
        expected = keras_conv(image, kernel, dilation, padding)
        np.testing.assert_allclose(convolve2d(image, kernel, padding=padding, dilation=dilation), expected, atol=2e-5)


def test_output_size_rule_is_keras_over_a_grid_of_sizes():
    """models.ops.geometry's rule against the output shapes Keras Conv2D(dilation_rate=d) gives (refusals included)."""
    for length, window, dilation, padding in itertools.product(
        (1, 4, 5, 7, 12, 28), (1, 2, 3, 5), (1, 2, 3, 4), PADDINGS
    ):
        plan = axis_plan(length, window, 1, padding, dilation)
        layer = keras.layers.Conv2D(1, (window, 1), padding=padding, dilation_rate=(dilation, 1))
        try:
            expected = layer.compute_output_shape((1, length, 1, 1))[1]
        except ValueError:  # Keras: "Computed output size would be zero or negative"
            assert padding == "valid" and plan.out <= 0, (length, window, dilation)
            continue
        assert plan.out == expected, (length, window, dilation, padding)
        assert plan.out == (length + plan.before + plan.after - effective_window(window, dilation)) + 1
    # Strided windows without dilation (pooling's and Conv2D's) keep the rule they had.
    for length, window, stride in itertools.product((5, 28), (2, 3), (2, 3)):
        expected = keras.layers.Conv2D(1, window, strides=stride).compute_output_shape((1, length, length, 1))[1]
        assert axis_plan(length, window, stride, "valid", 1).out == expected


def test_same_padding_pads_as_tensorflow_does():
    """The zeros 'same' adds before each axis, read off where Keras's output meets a one-pixel impulse."""
    for size, dilation in [(3, 2), (3, 3), (2, 3), (5, 2)]:
        impulse = np.zeros((1, 21, 21, 1), np.float32)
        impulse[0, 10, 10, 0] = 1.0
        kernel = np.zeros((size, size, 1, 1), np.float32)
        kernel[0, 0] = 1.0  # the first tap only: the output lights where the window's top-left sits on the impulse
        out = np.asarray(tf.nn.conv2d(impulse, kernel, 1, "SAME", dilations=dilation))[0, :, :, 0]
        row, col = np.argwhere(out == 1.0)[0]
        before = axis_plan(21, size, 1, "same", dilation).before
        assert (row - before, col - before) == (10, 10), (size, dilation)


def test_keras_and_the_lab_refuse_stride_with_dilation_alike():
    with pytest.raises(ValueError, match="strides > 1. not supported in conjunction with .dilation_rate > 1"):
        keras.layers.Conv2D(1, 3, strides=2, dilation_rate=2)
    for stride, dilation in [(2, 2), ((1, 2), (2, 1)), (3, (1, 2))]:
        with pytest.raises(ValueError):
            keras.layers.Conv2D(1, 3, strides=stride, dilation_rate=dilation)
        with pytest.raises(ValueError, match="refuses a stride above 1 together with a dilation above 1"):
            convolve2d(np.zeros((9, 9)), np.ones((3, 3)), stride=stride, dilation=dilation)
        with pytest.raises(ValueError, match="refuses"):
            shape_formula(9, 9, 3, stride, "valid", dilation)
    assert stride_and_dilation(2, 1) == ((2, 2), (1, 1)) and stride_and_dilation(1, (2, 3)) == ((1, 1), (2, 3))
    for bad, reason in [(0, "at least 1"), (1.5, "a whole number")]:
        with pytest.raises(ValueError, match=f"dilation must be {reason}"):
            convolve2d(np.zeros((9, 9)), np.ones((3, 3)), dilation=bad)


def test_a_dilated_kernel_that_does_not_fit_says_how_far_it_spans():
    with pytest.raises(ValueError, match="at dilation 3 spans 7 pixels and is larger than the 6-pixel image"):
        convolve2d(np.zeros((6, 6)), np.ones((3, 3)), dilation=3)
    assert convolve2d(np.zeros((6, 6)), np.ones((3, 3)), padding="same", dilation=3).shape == (6, 6)


@pytest.mark.parametrize("padding,dilation", [("valid", 2), ("same", 2), ("same", 3), ("valid", (3, 2))])
def test_explain_pixel_reads_taps_d_apart_and_sums_to_the_keras_output(garments, padding, dilation):
    image, kernel = garments[2], asymmetric_kernel(3)
    expected = keras_conv(image, kernel, dilation, padding)
    d_h, d_w = (dilation, dilation) if isinstance(dilation, int) else dilation
    for row, col in [(0, 0), (expected.shape[0] - 1, expected.shape[1] - 1), (5, 9)]:
        step = explain_pixel(image, kernel, row, col, padding=padding, dilation=dilation)
        assert step.total == pytest.approx(float(expected[row, col]), rel=1e-5, abs=1e-5)
        assert step.dilation == (d_h, d_w) and step.span == (2 * d_h + 1, 2 * d_w + 1)
        for i, j in itertools.product(range(3), range(3)):  # tap (i, j) reads input (top + i d, left + j d)
            r, c = step.top + i * d_h, step.left + j * d_w
            inside = 0 <= r < 28 and 0 <= c < 28
            assert step.inside[i, j] == inside
            assert step.patch[i, j] == (image[r, c] if inside else 0.0)


def test_shape_formula_writes_dilation_out():
    assert shape_formula(28, 28, 3, 1, "valid", 2) == (
        "valid: (28 - 2\u00d7(3 - 1) - 1) / 1 + 1 = 24 for height and width \u2192 output 24 x 24"
    )
    assert shape_formula(28, 28, 3, 1, "same", 2) == (
        "same: ceil(28 / 1) = 28 (padding 2\u00d7(3 - 1) = 4: 2 top/left, 2 bottom/right) for height and width "
        "\u2192 output 28 x 28"
    )
    assert "padding 3\u00d7(2 - 1) = 3: 1 top, 2 bottom" in shape_formula(28, 20, 2, 1, "same", (3, 1))
    # At dilation 1 the formula is the one the page wrote before.
    assert shape_formula(28, 28, 3, 1, "valid", 1) == shape_formula(28, 28, 3, 1, "valid")
    for n, k, d, padding in itertools.product((9, 28), (3, 5), (2, 3), PADDINGS):
        if padding == "valid" and effective_window(k, d) > n:
            continue
        out = keras.layers.Conv2D(1, k, padding=padding, dilation_rate=d).compute_output_shape((1, n, n, 1))[1]
        formula = shape_formula(n, n, k, 1, padding, d)
        first_result = re.search(r"(ceil\(.*?\)|\+ 1) = (\d+)", formula)
        assert first_result is not None and int(first_result.group(2)) == out, formula
        assert formula.endswith(f"output {out} x {out}")
