"""models.ops.convolution against Keras Conv2D / tf.nn.depthwise_conv2d on real Fashion-MNIST images."""

from __future__ import annotations

import gzip
import itertools
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.inputs.samples import DRAWN_SAMPLES, load_sample
from models.ops.convolution import (
    KernelError,
    conv2d_summed,
    convolve2d,
    explain_pixel,
    kernel_to_text,
    normalise_kernel,
    output_shape,
    parse_kernel,
    same_on_each_channel,
    shape_formula,
)
from models.ops.kernels import (
    CHANCE_SAMPLES,
    CHANCE_SEED,
    CHANCE_THRESHOLD,
    FIRST_LAYER_SHAPE,
    KERNELS,
    Kernel,
    glorot_uniform_limit,
    most_similar_kernel,
)
from tests.support.kernel_reference import library_3x3, reference_chance

FASHION_TEST_IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
KERNEL_SIZES = (1, 3, 5, 7)
STRIDES = (1, 2, 3)
PADDINGS = ("valid", "same")


def fashion_images(count: int) -> np.ndarray:
    """The first `count` Fashion-MNIST test images as float32 in [0, 1], shape (count, 28, 28)."""
    with gzip.open(FASHION_TEST_IMAGES, "rb") as stream:
        raw = stream.read(16 + count * 28 * 28)
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, 28, 28).astype(np.float32) / 255


def asymmetric_kernel(size: int) -> np.ndarray:
    """Deterministic weights with no symmetry, so a flipped kernel gives different numbers."""
    return np.sin(np.arange(size * size) * 1.7 + size).reshape(size, size).astype(np.float32)


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    fashion = fashion_images(6)
    rgb = np.stack(fashion[:3], axis=-1)  # three garments as the R, G, B channels
    large_rgb = np.tile(rgb, (2, 3, 1))  # 56 x 84 x 3
    return {
        "gray 28x28": fashion[0],
        "gray 27x27": fashion[1][:27, :27],
        "gray 28x13": fashion[2][:, 7:20],
        "gray 6x5": fashion[3][10:16, 10:15],
        "rgb 28x28x3": rgb,
        "rgb 55x83x3": large_rgb[:55, :83],
    }


@pytest.fixture(scope="module")
def conv_layers():
    """One 1-in/1-out Conv2D layer per (kernel size, stride, padding), asymmetric weights, no bias."""
    layers = {}
    for size, stride, padding in itertools.product(KERNEL_SIZES, STRIDES, PADDINGS):
        layer = keras.layers.Conv2D(1, size, strides=stride, padding=padding, use_bias=False)
        layer.build((None, None, None, 1))
        layer.set_weights([asymmetric_kernel(size)[:, :, None, None]])
        layers[size, stride, padding] = layer
    return layers


def keras_per_channel(layer, image: np.ndarray) -> np.ndarray:
    """Run the layer on each channel separately (channels become the batch), back to H x W [x C]."""
    channels = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    result = np.asarray(layer(channels[..., None]))[..., 0]
    return result[0] if image.ndim == 2 else np.moveaxis(result, 0, -1)


@pytest.mark.parametrize("size,stride,padding", itertools.product(KERNEL_SIZES, STRIDES, PADDINGS))
def test_convolve2d_matches_keras_conv2d(images, conv_layers, size, stride, padding):
    layer = conv_layers[size, stride, padding]
    kernel = asymmetric_kernel(size)
    for name, image in images.items():
        if padding == "valid" and size > min(image.shape[:2]):
            with pytest.raises(ValueError, match="larger than"):
                convolve2d(image, kernel, stride=stride, padding=padding)
            continue
        ours = convolve2d(image, kernel, stride=stride, padding=padding)
        expected = keras_per_channel(layer, image)
        assert ours.dtype == np.float32
        assert ours.shape == expected.shape, name
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=2e-5, err_msg=name)
        assert output_shape(image.shape[0], image.shape[1], size, stride, padding) == expected.shape[:2]


@pytest.mark.parametrize("sample", list(DRAWN_SAMPLES))
def test_conv2d_summed_is_one_keras_conv2d_filter_on_a_real_rgb_image(sample):

    image = load_sample(sample, grayscale=False)
    assert image.ndim == 3 and image.shape[2] == 3
    rng = np.random.default_rng(5)
    for size, stride, padding in [(3, 1, "valid"), (3, 2, "same"), (5, 3, "valid")]:
        kernel, bias = rng.normal(size=(size, size, 3)).astype(np.float32), 0.25
        layer = keras.layers.Conv2D(1, size, strides=stride, padding=padding)
        layer.build((None, *image.shape))
        layer.set_weights([kernel[:, :, :, None], np.array([bias], np.float32)])
        expected = np.asarray(layer(image[None]))[0, :, :, 0]
        ours = conv2d_summed(image, kernel, bias=bias, stride=stride, padding=padding)
        assert ours.shape == expected.shape and ours.dtype == np.float32
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4, err_msg=f"{sample} {size} {stride}")
    sobel = KERNELS["Sobel: vertical edges"].weights
    same = same_on_each_channel(sobel, 3)
    assert same.shape == (3, 3, 3) and all(np.array_equal(same[:, :, c], sobel) for c in range(3))
    with pytest.raises(ValueError, match="same C"):
        conv2d_summed(image, np.ones((3, 3, 2)))


def test_convolve2d_matches_depthwise_conv2d_on_rgb(images):
    image = images["rgb 55x83x3"]
    kernel = KERNELS["Sobel: vertical edges"].weights
    depthwise_filter = np.repeat(kernel[:, :, None, None], 3, axis=2)
    for stride, padding in itertools.product((1, 2), PADDINGS):
        expected = tf.nn.depthwise_conv2d(
            image[None], depthwise_filter, strides=[1, stride, stride, 1], padding=padding.upper()
        ).numpy()[0]
        ours = convolve2d(image, kernel, stride=stride, padding=padding)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=2e-5)


def test_convolve2d_with_rectangular_stride_matches_keras(images):
    image = images["gray 28x13"]
    kernel = KERNELS["Course: Laplacian"].weights
    for padding in PADDINGS:
        layer = keras.layers.Conv2D(1, 3, strides=(2, 3), padding=padding, use_bias=False)
        layer.build((None, None, None, 1))
        layer.set_weights([kernel[:, :, None, None]])
        expected = np.asarray(layer(image[None, :, :, None]))[0, :, :, 0]
        ours = convolve2d(image, kernel, stride=(2, 3), padding=padding)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", KERNEL_SIZES)
def test_output_shape_matches_keras_when_kernel_exceeds_image_with_same_padding(size):
    for height, width, stride in [(1, 1, 1), (2, 3, 2), (4, 2, 3), (5, 6, 3)]:
        layer = keras.layers.Conv2D(1, size, strides=stride, padding="same")
        assert output_shape(height, width, size, stride, "same") == tuple(
            layer.compute_output_shape((1, height, width, 1))[1:3]
        )


def test_convolve_does_not_flip_the_kernel():
    image = np.zeros((5, 5), np.float32)
    image[2, 2] = 1.0
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3)
    # Cross-correlation of a single bright dot paints the kernel rotated by 180 degrees.
    np.testing.assert_array_equal(convolve2d(image, kernel, padding="same")[1:4, 1:4], kernel[::-1, ::-1])


def test_horizontal_and_vertical_edge_kernels_respond_to_the_right_edges():
    top_dark_bottom_bright = np.repeat(np.array([0, 0, 0, 1, 1, 1], np.float32)[:, None], 6, axis=1)
    left_dark_right_bright = top_dark_bottom_bright.T
    for family in ("Sobel", "Prewitt"):
        horizontal = KERNELS[f"{family}: horizontal edges"].weights
        vertical = KERNELS[f"{family}: vertical edges"].weights
        assert convolve2d(top_dark_bottom_bright, horizontal).max() > 0
        assert np.all(convolve2d(top_dark_bottom_bright, vertical) == 0)
        assert convolve2d(left_dark_right_bright, vertical).max() > 0
        assert np.all(convolve2d(left_dark_right_bright, horizontal) == 0)
    np.testing.assert_array_equal(
        KERNELS["Course: horizontal lines"].weights, KERNELS["Sobel: horizontal edges"].weights
    )
    np.testing.assert_array_equal(KERNELS["Course: vertical lines"].weights, KERNELS["Sobel: vertical edges"].weights)


def test_course_kernels_are_the_notebook_values():
    np.testing.assert_array_equal(KERNELS["Course: Laplacian"].weights, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(KERNELS["Course: horizontal lines"].weights, [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(KERNELS["Course: vertical lines"].weights, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def test_kernel_library_entries_are_well_formed():
    for name, kernel in KERNELS.items():
        assert kernel.name == name
        assert kernel.weights.dtype == np.float32
        assert kernel.weights.shape[0] == kernel.weights.shape[1] and kernel.weights.shape[0] % 2 == 1
        assert kernel.explanation and "\n" not in kernel.explanation
        assert not kernel.weights.flags.writeable
    for blur in ("Box blur 3x3", "Gaussian blur 3x3", "Gaussian blur 5x5"):
        assert KERNELS[blur].weights.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="odd and square"):
        Kernel("bad", np.ones((2, 2)), "even")


def test_blur_keeps_the_brightness_of_a_real_image():
    image = fashion_images(1)[0]
    blurred = convolve2d(image, KERNELS["Gaussian blur 5x5"].weights, padding="same")
    interior = (slice(4, -4), slice(4, -4))
    assert blurred[interior].mean() == pytest.approx(image[interior].mean(), abs=0.02)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(image, axis=1)).mean()


@pytest.mark.parametrize(
    "image,kernel,kwargs,message",
    [
        (np.zeros((3, 3)), np.ones((5, 5)), {}, "larger than"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"stride": 0}, "at least 1"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"stride": (1, 0)}, "at least 1"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"stride": 1.5}, "whole number"),
        (np.zeros((8, 8)), np.ones((3, 3)), {"padding": "full"}, "'valid' or 'same'"),
        (np.full((8, 8), np.nan), np.ones((3, 3)), {}, "NaN or infinite"),
        (np.zeros((8, 8)), np.array([[1.0, np.inf, 1.0]] * 3), {}, "NaN or infinite"),
        (np.zeros((2, 8, 8, 1)), np.ones((3, 3)), {}, "2-D .* or 3-D"),
        (np.zeros((8, 8)), np.ones(3), {}, "2-D array"),
    ],
)
def test_convolve2d_rejects_bad_arguments(image, kernel, kwargs, message):
    with pytest.raises(ValueError, match=message):
        convolve2d(image, kernel, **kwargs)


def test_shape_formula_writes_out_the_arithmetic():
    assert shape_formula(28, 28, 3, 1, "valid").startswith("valid: (28 - 3) / 1 + 1 = 26")
    assert "floor((28 - 3) / 2) + 1 = 13" in shape_formula(28, 28, 3, 2, "valid")
    same = shape_formula(28, 28, 3, 2, "same")
    assert "ceil(28 / 2) = 14 (padding 0 top/left, 1 bottom/right)" in same
    assert "ceil(28 / 1) = 28 (padding 1 top/left, 1 bottom/right)" in shape_formula(28, 28, 3, 1, "same")
    mixed = shape_formula(28, 13, 5, (1, 2), "same")
    assert "height ceil(28 / 1) = 28 (padding 2 top, 2 bottom)" in mixed
    assert "width ceil(13 / 2) = 7 (padding 2 left, 2 right)" in mixed


def test_shape_formula_results_agree_with_output_shape():
    for h, w, k, s, padding in itertools.product((5, 13, 28), (6, 28), (1, 3, 5), STRIDES, PADDINGS):
        formula = shape_formula(h, w, k, s, padding)
        out_h, out_w = output_shape(h, w, k, s, padding)
        assert formula.endswith(f"output {out_h} x {out_w}")
        results = [int(n) for n in re.findall(r"= (\d+)", formula)]
        assert results == ([out_h] if h == w else [out_h, out_w])


def test_shape_formula_explains_a_kernel_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        shape_formula(3, 3, 5, 1, "valid")


@pytest.mark.parametrize("stride,padding", [(1, "valid"), (1, "same"), (2, "same"), (3, "valid"), (3, "same")])
def test_explain_pixel_sum_equals_convolution_output(stride, padding):
    image = fashion_images(2)[1]
    kernel = asymmetric_kernel(5)
    output = convolve2d(image, kernel, stride=stride, padding=padding)
    positions = {(0, 0), (0, output.shape[1] - 1), (output.shape[0] - 1, 0), (output.shape[0] // 2, 3)}
    for row, col in positions:
        step = explain_pixel(image, kernel, row, col, stride=stride, padding=padding)
        np.testing.assert_allclose(step.products, step.patch * kernel, rtol=1e-6)
        assert step.total == pytest.approx(float(output[row, col]), rel=1e-5, abs=1e-5)


def test_explain_pixel_shows_zero_padding_outside_the_image():
    image = fashion_images(1)[0] + 0.5  # no zeros inside the image
    step = explain_pixel(image, KERNELS["Sharpen"].weights, 0, 0, padding="same")
    assert (step.top, step.left) == (-1, -1)
    np.testing.assert_array_equal(step.inside, [[False] * 3, [False, True, True], [False, True, True]])
    assert np.all(step.patch[~step.inside] == 0)
    np.testing.assert_array_equal(step.patch[1:, 1:], image[:2, :2])


def test_explain_pixel_rejects_positions_outside_the_output():
    with pytest.raises(ValueError, match="outside the 26 x 26 output"):
        explain_pixel(np.zeros((28, 28)), np.ones((3, 3)), 26, 0)
    with pytest.raises(ValueError, match="one channel"):
        explain_pixel(np.zeros((28, 28, 3)), np.ones((3, 3)), 0, 0)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0 1 0\n1 -4 1\n0 1 0", [[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
        ("-1,-2,-1; 0,0,0; 1,2,1", [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
        ("1/9 1/9 1/9;1/9, 1/9, 1/9\n 1/9 1/9 1/9 ;", np.full((3, 3), 1 / 9)),
        ("[[0.5, -0.25, 1e-1], [2, 3, 4], [-1/2, .5, \u22121]]", [[0.5, -0.25, 0.1], [2, 3, 4], [-0.5, 0.5, -1]]),
        ("7", [[7]]),
    ],
)
def test_parse_kernel_accepts_common_notations(text, expected):
    parsed = parse_kernel(text)
    assert parsed.dtype == np.float32
    np.testing.assert_allclose(parsed, np.asarray(expected, dtype=np.float32), rtol=1e-7)


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty"),
        (" ;\n ", "empty"),
        ("1 2 3\n4 x 6\n7 8 9", r"Row 2, column 2: 'x' is not a number"),
        ("1 2 3\n4 5 6\n7 8 1/0", r"Row 3, column 3: '1/0' divides by zero"),
        ("1 2 inf\n4 5 6\n7 8 9", r"Row 1, column 3: 'inf' is not a finite number"),
        ("nan 2 3\n4 5 6\n7 8 9", r"Row 1, column 1: 'nan' is not a finite"),
        ("1 2 3\n4 5\n7 8 9", "Row 2 has 2 numbers but row 1 has 3"),
        ("1 2 3\n4 5 6", r"2x3 \(rows x columns\): it must be square"),
        ("1 2\n3 4", "odd size"),
        ("; ".join([" ".join(["1"] * 9)] * 9), "largest allowed is 7x7"),
    ],
)
def test_parse_kernel_errors_are_specific(text, message):
    with pytest.raises(KernelError, match=message):
        parse_kernel(text)


def test_kernel_text_round_trips():
    for kernel in KERNELS.values():
        text = kernel_to_text(kernel.weights)
        np.testing.assert_allclose(parse_kernel(text), kernel.weights, rtol=1e-6)
    assert kernel_to_text(KERNELS["Box blur 3x3"].weights).splitlines()[0] == "1/9, 1/9, 1/9"
    assert kernel_to_text(np.array([[0.3, -0.25, 2.0]])) == "0.3, -0.25, 2"


def test_normalise_kernel():
    ones = np.ones((3, 3), np.float32)
    normalised = normalise_kernel(ones)
    assert normalised.sum() == pytest.approx(1.0)
    assert np.all(ones == 1), "the input must not be modified"
    sobel = KERNELS["Sobel: vertical edges"].weights
    np.testing.assert_array_equal(normalise_kernel(sobel), sobel)
    np.testing.assert_allclose(normalise_kernel(-2 * ones), ones / 9)


def test_glorot_limit_is_the_one_keras_initialises_conv_kernels_with():

    for shape in [FIRST_LAYER_SHAPE, (3, 3, 32, 64), (5, 5, 3, 8)]:
        limit = glorot_uniform_limit(shape)
        draws = np.asarray(keras.initializers.GlorotUniform(seed=3)(shape=shape))
        assert np.abs(draws).max() <= limit, shape
        assert np.abs(draws).max() > 0.98 * limit, shape  # hundreds of uniform draws come close to the bound
    assert glorot_uniform_limit(FIRST_LAYER_SHAPE) == pytest.approx(np.sqrt(6 / (9 + 576)))


def test_chance_threshold_is_the_95th_percentile_of_random_initial_filters():
    limit = glorot_uniform_limit(FIRST_LAYER_SHAPE)
    assert reference_chance(CHANCE_SAMPLES, CHANCE_SEED, limit) == pytest.approx(CHANCE_THRESHOLD, abs=1e-6)
    assert 0.7 < CHANCE_THRESHOLD < 0.9  # far above the old fixed 0.5, which most random filters beat
    fresh = np.random.default_rng(2024).uniform(-limit, limit, size=(20_000, 3, 3))
    unnamed = [not most_similar_kernel(weights).close for weights in fresh]
    assert np.mean(unnamed) == pytest.approx(0.95, abs=0.01)
    assert most_similar_kernel(fresh[0]).text.startswith("no close classic kernel (best ")


def test_most_similar_kernel_names_library_kernels_their_scaled_and_noisy_copies_and_says_inverted():
    rng = np.random.default_rng(0)
    twins = {"Sharpen": "Course: Laplacian", "Course: Laplacian": "Sharpen"}  # Sharpen = identity - Laplacian
    for name, unit in library_3x3().items():
        weights = KERNELS[name].weights
        exact, inverted = most_similar_kernel(3 * weights), most_similar_kernel(-weights)
        assert (exact.name, exact.cosine) == (name, pytest.approx(1.0))
        assert (inverted.name, inverted.cosine) == (f"{name}, inverted", pytest.approx(-1.0))
        assert exact.text == f"\u2248 {name} (cosine +1.00, chance 95th percentile {CHANCE_THRESHOLD:.2f})"
        own = 0
        for _ in range(100):
            noisy = most_similar_kernel((unit + rng.normal(0, 0.1 / 3, 9)).reshape(3, 3))  # noise 10% of the norm
            own += noisy.name == name or (name in twins and noisy.name == f"{twins[name]}, inverted")
        assert own >= 97, name
    assert most_similar_kernel(KERNELS["Course: vertical lines"].weights).name == "Sobel: vertical edges"


def test_a_zero_sum_bar_is_not_a_blur():
    bar = np.array([[-0.45, -0.84, 0.03], [0.95, 1.0, 0.87], [-0.17, -0.63, -0.94]])  # the "blur"
    match = most_similar_kernel(bar)
    assert not match.close and match.name == "no close classic kernel"
    assert most_similar_kernel(bar - bar.mean()).best != "Gaussian blur 3x3"
    assert most_similar_kernel(np.full((3, 3), 0.5)).name == "Box blur 3x3"


def test_most_similar_kernel_rejects_flat_or_misshaped_weights():
    with pytest.raises(ValueError, match="no pattern"):
        most_similar_kernel(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="3x3"):
        most_similar_kernel(np.ones((5, 5)))
