"""Bundled sample images: layout, consistency with uploads, and that they show what they promise."""

import io

import numpy as np
import pytest
from PIL import Image

from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.images import in_colour_mode, load_image
from models.inputs.samples import (
    DRAWN_SAMPLES,
    FASHION_PREFIX,
    draw_checkerboard,
    draw_shapes,
    fashion_item,
    is_fashion_sample,
    load_sample,
    sample_description,
    sample_names,
)
from models.ops.convolution import convolve2d
from models.ops.kernels import KERNELS


@pytest.mark.parametrize("name", list(DRAWN_SAMPLES))
def test_drawn_samples_are_float_images_in_both_modes(name):
    rgb = load_sample(name, grayscale=False)
    gray = load_sample(name, grayscale=True)
    assert rgb.dtype == gray.dtype == np.float32
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and gray.shape == rgb.shape[:2]
    assert min(gray.shape) >= 128
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    assert rgb.std() > 0.1, "a sample must have visible structure"
    assert sample_description(name)


@pytest.mark.parametrize("name", list(DRAWN_SAMPLES))
def test_grayscale_samples_match_what_an_uploaded_png_would_give(name):
    rgb = load_sample(name, grayscale=False)
    png = io.BytesIO()
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(png, format="PNG")
    uploaded = load_image(png.getvalue(), grayscale=True)
    np.testing.assert_allclose(load_sample(name, grayscale=True), uploaded, atol=1 / 255)


def test_drawn_samples_are_deterministic():
    for name, (_, draw) in DRAWN_SAMPLES.items():
        np.testing.assert_array_equal(draw(), draw(), err_msg=name)


def test_shapes_sample_has_vertical_bars_top_left_and_horizontal_bars_top_right():
    gray = in_colour_mode(draw_shapes(256), grayscale=True)
    vertical = np.abs(convolve2d(gray, KERNELS["Sobel: vertical edges"].weights, padding="same"))
    horizontal = np.abs(convolve2d(gray, KERNELS["Sobel: horizontal edges"].weights, padding="same"))
    top_left, top_right = (slice(16, 112), slice(16, 112)), (slice(16, 112), slice(144, 240))
    assert vertical[top_left].sum() > 5 * horizontal[top_left].sum()
    assert horizontal[top_right].sum() > 5 * vertical[top_right].sum()


def test_checkerboard_is_black_and_white_squares():
    board = draw_checkerboard(64, squares=4)[:, :, 0]
    assert set(np.unique(board)) == {0.0, 1.0}
    assert board[0, 0] == 0.0 and board[0, 16] == 1.0 and board[16, 0] == 1.0 and board[16, 16] == 0.0
    assert np.all(board[:16, :16] == 0.0)


def test_sample_names_list_drawn_pictures_then_every_fashion_class():
    names = sample_names()
    assert names[: len(DRAWN_SAMPLES)] == list(DRAWN_SAMPLES)
    assert names[len(DRAWN_SAMPLES) :] == [FASHION_PREFIX + c for c in CLASS_NAMES]
    assert all(is_fashion_sample(n) for n in names[len(DRAWN_SAMPLES) :])
    assert not any(is_fashion_sample(n) for n in DRAWN_SAMPLES)
    assert not is_fashion_sample(FASHION_PREFIX + "Hat")


def test_fashion_samples_are_the_first_test_image_of_their_class(fashion):
    _, (x_test, y_test) = fashion
    for label, class_name in enumerate(CLASS_NAMES):
        first = int(np.flatnonzero(y_test == label)[0])
        item = fashion_item(x_test, y_test, class_name)
        np.testing.assert_array_equal(item, x_test[first].astype(np.float32) / 255)
        assert item.shape == (28, 28) and item.dtype == np.float32
    boot = load_sample(FASHION_PREFIX + "Ankle boot", grayscale=False, fashion=(x_test, y_test))
    assert boot.shape == (28, 28, 3)
    np.testing.assert_array_equal(boot[:, :, 0], boot[:, :, 2])
    gray_boot = load_sample(FASHION_PREFIX + "Ankle boot", grayscale=True, fashion=(x_test, y_test))
    np.testing.assert_allclose(gray_boot, boot[:, :, 0], atol=1e-6)


def test_bad_sample_requests_raise_clear_errors(fashion):
    _, (x_test, y_test) = fashion
    with pytest.raises(ValueError, match="Unknown sample 'Moon'"):
        load_sample("Moon", grayscale=True)
    with pytest.raises(ValueError, match="need the \\(images, labels\\) arrays"):
        load_sample(FASHION_PREFIX + "Bag", grayscale=True)
    with pytest.raises(ValueError, match="Unknown Fashion-MNIST class"):
        fashion_item(x_test, y_test, "Hat")
    with pytest.raises(ValueError, match="holds no 'Bag' image"):
        fashion_item(x_test[:10], np.zeros(10, dtype=np.uint8), "Bag")
