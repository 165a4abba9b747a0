"""models.ops.pooling against TensorFlow / Keras on real Fashion-MNIST images and feature maps."""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from models.ops.pooling import (
    CompressionStats,
    PoolError,
    busiest_window,
    compression,
    output_shape,
    pool2d,
    pool_repeatedly,
    poolable_times,
    shape_formula,
    shift_sensitivity,
)

T10K_IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
KERNELS = (
    SOBEL_X,
    SOBEL_X.T,
    -SOBEL_X,
    np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float32),  # Laplacian (blob detector)
    np.array([[2, 1, 0], [1, 0, -1], [0, -1, -2]], dtype=np.float32),  # diagonal edge
    np.full((3, 3), 1 / 9, dtype=np.float32),  # box blur
)

SIZES = (1, 2, 3, 4)
STRIDES = (1, 2, 3, None)
PADDINGS = ("valid", "same")
MODES = ("max", "avg", "min")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """All 10,000 Fashion-MNIST test images as float32 in [0, 1], read straight from the IDX file."""
    with gzip.open(T10K_IMAGES) as f:
        raw = f.read()
    magic, count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in range(0, 16, 4))
    assert (magic, count, rows, cols) == (2051, 10000, 28, 28)
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols).astype(np.float32) / 255


def relu_feature_map(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.maximum(ndimage.correlate(image, kernel, mode="constant"), 0).astype(np.float32)


def feature_stack(images: np.ndarray, channels: int) -> np.ndarray:
    """(28, 28, channels) real ReLU maps: channel i = image i // 6 correlated with kernel i % 6."""
    maps = [relu_feature_map(images[c // len(KERNELS)], KERNELS[c % len(KERNELS)]) for c in range(channels)]
    return np.stack(maps, axis=-1)


@pytest.fixture(scope="module")
def real_inputs(images: np.ndarray) -> list[np.ndarray]:
    """Real 2-D images and H x W x C feature maps in the sizes a CNN produces (crops of real maps)."""
    stack64 = feature_stack(images, 64)
    return [
        images[0],  # 28x28 ankle boot
        images[1][:27, 1:],  # 27x27
        feature_stack(images[2:], 3)[1:27, 2:28],  # 26x26x3
        stack64[8:21, 8:21, :8],  # 13x13x8
        stack64[9:20, 9:20],  # 11x11x64, as after the course model's second conv block
        images[3][10:17, 5:18],  # 7x13 (non-square)
        stack64[12:19, 12:19, 10:12],  # 7x7x2
        images[4][12:17, 12:17],  # 5x5
        ndimage.correlate(images[5], KERNELS[3])[5:18, 5:18],  # 13x13 signed pre-activation map
        stack64[13:16, 13:16, 20:24],  # 3x3x4
    ]


def tf_pool(x: np.ndarray, size, stride, mode: str, padding: str) -> np.ndarray:
    """The reference on a batch of one: tf.nn.pool, or for strides larger than the window (which
    tf.nn.pool refuses) tf.nn.max_pool2d / avg_pool2d, the ops Keras calls. Min = -maxpool(-x)."""
    if mode == "min":
        return -tf_pool(-x, size, stride, "max", padding)
    window = (size, size) if isinstance(size, int) else size
    strides = window if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    batch = x[np.newaxis] if x.ndim == 3 else x[np.newaxis, ..., np.newaxis]
    if strides[0] <= window[0] and strides[1] <= window[1]:
        out = tf.nn.pool(batch, window, mode.upper(), strides=strides, padding=padding.upper())
    else:
        op = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
        out = op(batch, window, strides, padding.upper())
    out = out.numpy()
    return out[0] if x.ndim == 3 else out[0, ..., 0]


def fits(x: np.ndarray, size, padding: str) -> bool:
    """Whether TF accepts the window (TF crashes on a 'valid' window larger than the input)."""
    kh, kw = (size, size) if isinstance(size, int) else size
    return padding == "same" or (kh <= x.shape[0] and kw <= x.shape[1])


def assert_same_numbers(ours: np.ndarray, reference: np.ndarray, mode: str) -> None:
    assert ours.shape == reference.shape
    assert ours.dtype == reference.dtype
    if mode == "avg":  # sums may be accumulated in a different order
        np.testing.assert_allclose(ours, reference, rtol=2e-6, atol=1e-7)
    else:  # max / min pick an input value: bit-identical
        np.testing.assert_array_equal(ours, reference)


# --- pool2d against TensorFlow / Keras -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("size", SIZES)
def test_pool2d_matches_tf_nn_pool(real_inputs, size, stride, padding, mode):
    compared = 0
    for x in real_inputs:
        if not fits(x, size, padding):
            continue
        ours = pool2d(x, size=size, stride=stride, mode=mode, padding=padding)
        assert_same_numbers(ours, tf_pool(x, size, stride, mode, padding), mode)
        assert ours.shape[:2] == output_shape(*x.shape[:2], size, stride, padding)
        compared += 1
    assert compared >= len(real_inputs) - 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize(("size", "stride"), [((2, 3), (1, 2)), ((3, 2), None), ((1, 4), (2, 1))])
def test_pool2d_matches_tf_for_rectangular_windows(real_inputs, size, stride, padding, mode):
    for x in real_inputs:
        if fits(x, size, padding):
            ours = pool2d(x, size=size, stride=stride, mode=mode, padding=padding)
            assert_same_numbers(ours, tf_pool(x, size, stride, mode, padding), mode)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize(("size", "stride"), [(2, None), (3, None), (2, 1), (3, 2)])
def test_pool2d_matches_keras_layers(real_inputs, size, stride, padding):
    for x in real_inputs:
        if not fits(x, size, padding):
            continue
        batch = x[np.newaxis] if x.ndim == 3 else x[np.newaxis, ..., np.newaxis]
        for mode, layer in (("max", keras.layers.MaxPooling2D), ("avg", keras.layers.AveragePooling2D)):
            expected = np.asarray(layer(pool_size=size, strides=stride, padding=padding)(batch))
            expected = expected[0] if x.ndim == 3 else expected[0, ..., 0]
            ours = pool2d(x, size=size, stride=stride, mode=mode, padding=padding)
            assert_same_numbers(ours, expected, mode)


def test_course_feature_map_11x11x64_pools_to_5x5x64(real_inputs):
    x = real_inputs[4]
    assert x.shape == (11, 11, 64)
    expected = np.asarray(keras.layers.MaxPooling2D(2)(x[np.newaxis]))[0]
    ours = pool2d(x)
    assert ours.shape == (5, 5, 64)
    np.testing.assert_array_equal(ours, expected)


def test_same_padding_never_lets_padded_cells_win_or_count(images):
    # An all-negative real map: a padded 0 would win a max; a padded 0 counted would shrink averages.
    x = -images[0][:5, :5] - 0.5
    np.testing.assert_array_equal(pool2d(x, size=2, padding="same"), tf_pool(x, 2, None, "max", "same"))
    assert pool2d(x, size=2, padding="same").max() < 0
    corner = pool2d(x, size=2, padding="same", mode="avg")[-1, -1]
    assert corner == pytest.approx(x[-1, -1])  # the bottom-right window holds one real pixel
    np.testing.assert_allclose(
        pool2d(x, size=2, padding="same", mode="avg"), tf_pool(x, 2, None, "avg", "same"), rtol=2e-6
    )


def test_window_larger_than_image_with_same_padding_matches_tf(images):
    x = images[7][12:16, 12:16]  # 4x4, window 5x5
    for mode in MODES:
        ours = pool2d(x, size=5, stride=1, padding="same", mode=mode)
        assert_same_numbers(ours, tf_pool(x, 5, 1, mode, "same"), mode)


def test_dtypes_float64_kept_and_uint8_promoted(images):
    x64 = images[5].astype(np.float64)
    ours = pool2d(x64, size=3, stride=2, mode="avg", padding="same")
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, tf_pool(x64, 3, 2, "avg", "same"), rtol=1e-12)
    as_bytes = np.round(images[5] * 255).astype(np.uint8)
    pooled = pool2d(as_bytes, size=2)
    assert pooled.dtype == np.float32
    np.testing.assert_array_equal(pooled, tf_pool(as_bytes.astype(np.float32), 2, None, "max", "valid"))


def test_output_shape_agrees_with_pool2d_for_many_shapes():
    rng = np.random.default_rng(0)  # random *shapes* only; the values are never looked at
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 40, size=2))
        size = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        stride = None if rng.random() < 0.3 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = str(rng.choice(PADDINGS))
        if padding == "valid" and (size[0] > h or size[1] > w):
            with pytest.raises(PoolError):
                output_shape(h, w, size, stride, padding)
            continue
        shape = output_shape(h, w, size, stride, padding)
        zeros = np.zeros((h, w, 2), np.float32)
        assert pool2d(zeros, size=size, stride=stride, padding=padding).shape == (*shape, 2)


# --- winner positions ----------------------------------------------------------------------


# --- errors ------------------------------------------------------------------------------------


NOT_WHOLE = "Pool size must be a whole number or a pair of whole numbers"


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (
            np.ones((4, 4)),
            {"size": 5},
            "Pool size 5x5 is larger than the 4x4 input: with 'valid' padding there is no full window",
        ),
        (
            np.ones((4, 6)),
            {"size": (2, 7)},
            "Pool size 2x7 is larger than the 4x6 input: with 'valid' padding there is no full window",
        ),
        (np.ones((4, 4)), {"stride": 0}, "Stride must be at least 1 (got 0)"),
        (np.ones((4, 4)), {"stride": (1, -2)}, "Stride must be at least 1 (got -2)"),
        (np.ones((4, 4)), {"size": 0}, "Pool size must be at least 1 (got 0)"),
        (np.ones((4, 4)), {"size": 2.5}, f"{NOT_WHOLE} (got 2.5)"),
        (np.ones((4, 4)), {"size": (1, 2, 3)}, f"{NOT_WHOLE} (got (1, 2, 3))"),
        (np.ones((0, 4)), {}, "The input is empty (shape (0, 4))"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), {}, "The input contains NaN or infinite values"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), {}, "The input contains NaN or infinite values"),
        (np.ones(4), {}, "Expected an (H, W) or (H, W, C) array (got shape (4,))"),
        (np.ones((1, 4, 4, 1)), {}, "Expected an (H, W) or (H, W, C) array (got shape (1, 4, 4, 1))"),
        (np.array([["a", "b"], ["c", "d"]]), {}, "Expected a numeric image (got dtype <U1)"),
        (np.ones((4, 4)), {"mode": "median"}, "Mode must be 'max', 'avg' or 'min' (got 'median')"),
        (np.ones((4, 4)), {"padding": "full"}, "Padding must be 'valid' or 'same' (got 'full')"),
    ],
)
def test_pool2d_errors_have_clear_messages(x, kwargs, message):
    with pytest.raises(PoolError) as caught:
        pool2d(x, **kwargs)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_output_shape_errors():
    with pytest.raises(PoolError, match="Pool size 5x5 is larger than the 4x4 input"):
        output_shape(4, 4, 5)
    with pytest.raises(PoolError, match=r"Stride must be at least 1 \(got 0\)"):
        output_shape(28, 28, 2, 0)
    with pytest.raises(PoolError, match=r"The input height must be a whole number >= 1 \(got 0\)"):
        output_shape(0, 28)
    assert output_shape(4, 4, 5, 1, "same") == (4, 4)


# --- shape arithmetic --------------------------------------------------------------------------


def test_shape_formula_examples():
    assert shape_formula(11, 2, 2, "valid") == "floor((11 - 2) / 2) + 1 = 5"
    assert shape_formula(11, 2) == "floor((11 - 2) / 2) + 1 = 5"
    assert shape_formula(11, 2, 2, "same") == "ceil(11 / 2) = 6"
    assert shape_formula(28, 3, 1, "valid") == "floor((28 - 3) / 1) + 1 = 26"
    with pytest.raises(PoolError, match="Pool size 5 is larger than the input length 4"):
        shape_formula(4, 5)


FORMULA = r"(floor\(\(\d+ - \d+\) / \d+\) \+ 1|ceil\(\d+ / \d+\)) = \d+"


@pytest.mark.parametrize("padding", PADDINGS)
def test_shape_formula_arithmetic_and_result_equal_the_real_output(padding):
    for h in (3, 5, 7, 11, 13, 26, 27, 28):
        for size in SIZES:
            for stride in STRIDES:
                if padding == "valid" and size > h:
                    continue
                formula = shape_formula(h, size, stride, padding)
                expression, result = formula.rsplit(" = ", 1)
                assert eval(expression, {"floor": math.floor, "ceil": math.ceil}) == int(result)
                column_stride = None if stride is None else (stride, 1)
                pooled = pool2d(np.zeros((h, 3)), size=(size, 1), stride=column_stride, padding=padding)
                assert pooled.shape[0] == int(result)
                assert re.fullmatch(FORMULA, formula)


def test_compression_stats():
    assert compression((28, 28), (14, 14)) == CompressionStats(784, 196, 4.0, 0.25)
    stats = compression((11, 11, 64), (5, 5, 64))
    assert (stats.input_pixels, stats.output_pixels) == (121, 25)
    assert stats.ratio == pytest.approx(4.84) and stats.fraction_kept == pytest.approx(25 / 121)
    with pytest.raises(PoolError, match="non-empty"):
        compression((28,), (14, 14))
    with pytest.raises(PoolError, match="non-empty"):
        compression((28, 28), (0, 14))


# --- repeated pooling --------------------------------------------------------------------------


def test_pool_repeatedly_shrinks_a_real_image_until_it_cannot(images):
    steps = pool_repeatedly(images[0], 4)
    assert [s.shape for s in steps] == [(14, 14), (7, 7), (3, 3), (1, 1)]
    previous = images[0]
    for step in steps:
        np.testing.assert_array_equal(step, tf_pool(previous, 2, None, "max", "valid"))
        previous = step
    assert pool_repeatedly(images[0], 0) == []
    with pytest.raises(PoolError) as caught:
        pool_repeatedly(images[0], 5)
    assert str(caught.value) == (
        "Step 5 cannot pool: the 1x1 map left by step 4 is smaller than the 2x2 pool window ('valid' padding)"
    )
    with pytest.raises(PoolError, match="Step 1 cannot pool: the 28x28 input"):
        pool_repeatedly(images[0], 1, size=29)
    with pytest.raises(PoolError, match="whole number >= 0"):
        pool_repeatedly(images[0], -1)


def test_pool_repeatedly_with_same_padding_and_channels(real_inputs):
    steps = pool_repeatedly(real_inputs[4], 5, size=2, mode="avg", padding="same")
    assert [s.shape for s in steps] == [(6, 6, 64), (3, 3, 64), (2, 2, 64), (1, 1, 64), (1, 1, 64)]
    np.testing.assert_allclose(steps[1], tf_pool(steps[0], 2, None, "avg", "same"), rtol=2e-6)


# --- shift sensitivity -------------------------------------------------------------------------


def zero_filled_shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Reference shift via scipy (order-0 shift with constant 0 fill)."""
    return ndimage.shift(x, (dy, dx), order=0, mode="constant", cval=0.0)


def relative_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(b - a).sum() / (np.abs(a).sum() + np.abs(b).sum()))


def test_shift_sensitivity_numbers_match_an_independent_computation(images):
    fmap = relu_feature_map(images[0], SOBEL_X)
    stats = shift_sensitivity(fmap, (1, -2), size=2, mode="max")
    shifted = zero_filled_shift(fmap, 1, -2)
    pooled = tf_pool(fmap, 2, None, "max", "valid")
    pooled_shifted = tf_pool(shifted, 2, None, "max", "valid")
    assert stats.shift == (1, -2)
    assert stats.unpooled_change == pytest.approx(relative_change(fmap, shifted), rel=1e-6)
    assert stats.pooled_change == pytest.approx(relative_change(pooled, pooled_shifted), rel=1e-6)
    assert (stats.moved_cells, stats.pooled_moved_change) == (None, None)  # 1 pixel down is half a stride


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shift", [(0, 2), (2, 0), (-2, 2), (2, -4)])
def test_a_shift_by_whole_strides_only_moves_the_pooled_map(images, shift, mode):
    """2x2 pools with stride 2 on real 28x28 edge maps: a shift by whole strides changes the pooled map in place, but
    against the pooled original moved by shift / 2 cells (zero fill, as scipy shifts it) nothing changed."""
    for image in images[:50]:
        fmap = relu_feature_map(image, SOBEL_X)
        stats = shift_sensitivity(fmap, shift, size=2, mode=mode)
        pooled = tf_pool(fmap, 2, None, mode, "valid")
        pooled_shifted = tf_pool(zero_filled_shift(fmap, *shift), 2, None, mode, "valid")
        cells = (shift[0] // 2, shift[1] // 2)
        assert stats.moved_cells == cells
        assert stats.pooled_moved_change == pytest.approx(
            relative_change(zero_filled_shift(pooled, *cells), pooled_shifted), abs=1e-7
        )
        assert stats.pooled_moved_change == pytest.approx(0.0, abs=1e-6)
        assert mode == "min" or stats.pooled_change > 0.01  # in place, the same shift does change the pooled map


def test_overlapping_windows_move_by_whole_cells_except_at_the_edge(images):
    """3x3 pools with stride 2: a 2-pixel move is one cell; only the cells whose windows reach the zero fill differ."""
    fmap = relu_feature_map(images[0], SOBEL_X)
    stats = shift_sensitivity(fmap, (0, 2), size=3, stride=2)
    assert stats.moved_cells == (0, 1)
    assert stats.pooled_moved_change is not None and stats.pooled_moved_change < 0.05 < stats.pooled_change


def test_shift_uses_zero_fill_not_wrap_around():
    edge = np.zeros((4, 4))
    edge[:, 3] = 1.0  # a bright right column: np.roll would carry it over to the left side
    stats = shift_sensitivity(edge, (0, 1), size=2)
    assert stats.unpooled_change == pytest.approx(4 / (4 + 0))  # the column left the view; nothing came in
    assert stats.pooled_change == pytest.approx(1.0)  # the right pooled column is now 0


def test_no_shift_changes_nothing(images):
    stats = shift_sensitivity(relu_feature_map(images[3], SOBEL_X), (0, 0))
    assert (stats.unpooled_change, stats.pooled_change, stats.moved_cells) == (0.0, 0.0, None)


@pytest.mark.parametrize("mode", ("max", "avg"))
@pytest.mark.parametrize("shift", [(0, 1), (1, 0), (1, 1), (0, -1)])
def test_pooling_reduces_relative_change_for_one_pixel_shifts_of_real_edge_maps(images, shift, mode):
    """For every one of 100 real edge maps, pooling shrinks the share of activation a shift moves."""
    for image in images[:100]:
        stats = shift_sensitivity(relu_feature_map(image, SOBEL_X), shift, size=2, mode=mode)
        assert stats.pooled_change < stats.unpooled_change


def test_shift_sensitivity_errors(images):
    fmap = relu_feature_map(images[0], SOBEL_X)
    with pytest.raises(PoolError, match=r"A shift of \(28, 0\) moves the whole 28x28 map out of view"):
        shift_sensitivity(fmap, (28, 0))
    with pytest.raises(PoolError, match="Shift must be a pair of whole numbers"):
        shift_sensitivity(fmap, (0.5, 0))
    with pytest.raises(PoolError, match=r"Expected an \(H, W\) array"):
        shift_sensitivity(np.stack([fmap, fmap], axis=-1), (1, 0))
    with pytest.raises(PoolError, match="Stride must be at least 1"):
        shift_sensitivity(fmap, (1, 0), stride=0)


@pytest.mark.parametrize(
    "shape,size,stride,padding",
    [
        ((28, 28), 2, 2, "valid"),
        ((26, 26), 3, 1, "valid"),
        ((5, 9), 2, 2, "same"),
        ((1, 1), 2, 2, "same"),
        ((3, 40), 4, 4, "valid"),
    ],
)
def test_poolable_times_counts_the_poolings_that_still_fit(shape, size, stride, padding):
    x, fits = np.zeros(shape, np.float32), 0
    while fits < 5:
        try:
            x = pool2d(x, size=size, stride=stride, padding=padding)
        except PoolError:
            break
        fits += 1
    assert poolable_times(shape, size, stride, padding) == fits


@pytest.mark.parametrize("size,stride,padding", [(2, 2, "valid"), (3, 2, "same"), (2, 1, "valid")])
def test_busiest_window_is_the_window_whose_values_differ_most(size, stride, padding):
    x = np.random.default_rng(3).random((11, 13)).astype(np.float32)
    out = output_shape(11, 13, size, stride, padding)
    pad_h = max((out[0] - 1) * stride + size - 11, 0) // 2 if padding == "same" else 0
    pad_w = max((out[1] - 1) * stride + size - 13, 0) // 2 if padding == "same" else 0
    spreads = np.array(
        [
            [
                np.ptp(
                    x[
                        max(r * stride - pad_h, 0) : r * stride - pad_h + size,
                        max(c * stride - pad_w, 0) : c * stride - pad_w + size,
                    ]
                )
                for c in range(out[1])
            ]
            for r in range(out[0])
        ]
    )
    shape, cell = busiest_window(x, size, stride, padding)
    assert shape == out and cell == np.unravel_index(int(spreads.argmax()), out)
