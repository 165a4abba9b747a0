"""models.inputs.images on image files built in memory with Pillow, good and bad."""

from __future__ import annotations

import base64
import gzip
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from components.charts.pictures import LOSSLESS_PIXELS, colorize, picture_data_uri
from models.inputs import images
from models.inputs.images import (
    ImageError,
    PixelBudget,
    UploadTooLarge,
    declared_size,
    fingerprint,
    load_image,
    load_image_with_notes,
    to_display_uint8,
    to_npy_bytes,
    to_png_bytes,
)
from tests.support.image_files import header_only_png

FASHION_TEST_IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
RED, BLUE = (255, 0, 0), (0, 0, 255)


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def fashion_mosaic() -> np.ndarray:
    """The first 100 Fashion-MNIST test images as a 280 x 280 uint8 mosaic (real, detailed content)."""
    with gzip.open(FASHION_TEST_IMAGES, "rb") as stream:
        raw = stream.read(16 + 100 * 28 * 28)
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(10, 10, 28, 28)
    return images.transpose(0, 2, 1, 3).reshape(280, 280)


def test_rgb_png_round_trips_exactly_to_float():
    mosaic = fashion_mosaic()
    rgb = np.stack([mosaic, 255 - mosaic, mosaic // 2], axis=-1)
    image, notes = load_image_with_notes(encode(Image.fromarray(rgb), "PNG"))
    assert image.dtype == np.float32 and image.shape == (280, 280, 3)
    np.testing.assert_array_equal(image, rgb.astype(np.float32) / 255)
    assert notes == []


def test_grayscale_uses_itu_601_luma_and_rgb_mode_repeats_gray_channels():
    colours = Image.fromarray(np.array([[RED, (0, 255, 0), BLUE, (255, 255, 255)]], dtype=np.uint8))
    gray = load_image(encode(colours, "PNG"), grayscale=True)
    assert gray.shape == (1, 4)
    np.testing.assert_allclose(gray[0], [0.299, 0.587, 0.114, 1.0], rtol=1e-6)
    gray_png = encode(Image.fromarray(fashion_mosaic()), "PNG")
    as_rgb = load_image(gray_png)
    assert as_rgb.shape == (280, 280, 3)
    np.testing.assert_array_equal(as_rgb[..., 0], as_rgb[..., 2])
    np.testing.assert_array_equal(load_image(gray_png, grayscale=True), fashion_mosaic() / np.float32(255))


def test_png_rgba_is_flattened_onto_white():
    pixels = np.array([[(255, 0, 0, 255), (255, 0, 0, 0), (0, 0, 0, 128)]], dtype=np.uint8)
    image, notes = load_image_with_notes(encode(Image.fromarray(pixels, "RGBA"), "PNG"))
    np.testing.assert_allclose(image[0, 0], [1, 0, 0])
    np.testing.assert_allclose(image[0, 1], [1, 1, 1])
    np.testing.assert_allclose(image[0, 2], [1 - 128 / 255] * 3, rtol=1e-6)
    assert "Alpha channel flattened onto white" in notes


def test_gray_with_alpha_is_flattened_onto_white():
    pixels = np.array([[(0, 255), (0, 0)]], dtype=np.uint8)
    image = load_image(encode(Image.fromarray(pixels, "LA"), "PNG"), grayscale=True)
    np.testing.assert_allclose(image, [[0.0, 1.0]])


def test_jpeg_exif_orientation_6_is_rotated_upright():
    photo = Image.new("RGB", (40, 20), BLUE)
    photo.paste(RED, (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image, notes = load_image_with_notes(encode(photo, "JPEG", exif=exif, quality=95))
    assert image.shape == (40, 20, 3), "width and height must be swapped"
    assert image[5, 10, 0] > 0.9 and image[5, 10, 2] < 0.1, "the left half is now on top"
    assert image[35, 10, 2] > 0.9 and image[35, 10, 0] < 0.1
    assert "Rotated upright using the camera's EXIF orientation" in notes


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("P", (12, 8), index) for index in (1, 0, 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 255, 255, 255, 0, 0] + [0] * 759)  # black, white, red
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    image, notes = load_image_with_notes(data)
    assert image.shape == (8, 12, 3)
    assert np.all(image == 1.0), "the first frame is white, the next black, the last red"
    assert "Animated image: using the first frame" in notes


def test_palette_png_with_transparency():
    palette_image = Image.new("P", (4, 1), 0)
    palette_image.putpalette([0, 0, 255, 0, 0, 0] + [0] * 762)
    palette_image.putpixel((1, 0), 1)
    data = encode(palette_image, "PNG", transparency=0)
    image, notes = load_image_with_notes(data)
    np.testing.assert_allclose(image[0, 0], [1, 1, 1])
    np.testing.assert_allclose(image[0, 1], [0, 0, 0])
    assert "Alpha channel flattened onto white" in notes


def test_cmyk_jpeg_is_converted_to_rgb():
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    image, notes = load_image_with_notes(data)
    assert image.shape == (16, 16, 3)
    np.testing.assert_allclose(image.mean(axis=(0, 1)), [1, 0, 0], atol=0.03)
    assert "CMYK converted to RGB" in notes


def test_16_bit_png_keeps_its_precision():
    values = np.array([[0, 1000, 1001, 32768, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    image, notes = load_image_with_notes(data, grayscale=True)
    np.testing.assert_allclose(image, values / 65535, rtol=1e-6)
    assert image[0, 2] > image[0, 1], "1000 and 1001 must stay distinct (8 bits would merge them)"
    assert "16-bit image scaled to 0-1" in notes
    np.testing.assert_allclose(load_image(data)[..., 1], values / 65535, rtol=1e-6)


def test_32_bit_tiffs_are_scaled_to_0_1():
    integers = np.array([[0, 100, 70000]], dtype=np.int32)
    image, notes = load_image_with_notes(encode(Image.fromarray(integers), "TIFF"), grayscale=True)
    np.testing.assert_allclose(image, integers / 70000, rtol=1e-6)
    assert "32-bit integer image rescaled from its range 0..70000 to 0-1" in notes
    floats = np.array([[0.0, 0.25, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(load_image(encode(Image.fromarray(floats), "TIFF"), grayscale=True), floats)


def test_one_bit_image():
    bits = Image.new("1", (5, 3), 0)
    bits.putpixel((2, 1), 1)
    image = load_image(encode(bits, "PNG"), grayscale=True)
    expected = np.zeros((3, 5), np.float32)
    expected[1, 2] = 1
    np.testing.assert_array_equal(image, expected)


@pytest.mark.parametrize("image_format,options", [("BMP", {}), ("WEBP", {"lossless": True}), ("TIFF", {})])
def test_other_formats_decode_exactly(image_format, options):
    mosaic = fashion_mosaic()
    rgb = np.stack([mosaic, np.flipud(mosaic), 255 - mosaic], axis=-1)
    image = load_image(encode(Image.fromarray(rgb), image_format, **options))
    np.testing.assert_array_equal(image, rgb / np.float32(255))


def test_large_images_are_downscaled_to_the_working_size():
    mosaic = Image.fromarray(fashion_mosaic()).resize((2000, 1000))
    image, notes = load_image_with_notes(encode(mosaic, "PNG"), grayscale=True)
    assert image.shape == (512, 1024)
    assert "Downscaled from 1000x2000 to 512x1024 (height x width) working size" in notes
    reference = np.asarray(mosaic.resize((1024, 512), Image.Resampling.LANCZOS), dtype=np.float32) / 255
    np.testing.assert_allclose(image, reference, atol=1 / 255 + 1e-6)


def test_large_jpeg_uses_draft_decoding_and_keeps_colour_and_orientation():
    photo = Image.new("RGB", (4000, 3000), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    image, notes = load_image_with_notes(encode(photo, "JPEG", exif=exif, quality=95), working_size=500)
    assert image.shape == (500, 375, 3)
    assert "Downscaled from 4000x3000 to 500x375 (height x width) working size" in notes
    np.testing.assert_allclose(image.mean(axis=(0, 1)), np.array([200, 30, 30]) / 255, atol=0.02)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"hello", "not an image format"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "not an image format"),
        (header_only_png(0, 10), "not an image format|no pixels"),
    ],
)
def test_bad_files_raise_clear_errors(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


def test_non_bytes_input_is_rejected():
    with pytest.raises(ImageError, match="Expected the file's bytes"):
        load_image("photo.png")  # type: ignore[arg-type]


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_files_are_rejected_not_filled_with_grey(image_format):
    data = encode(Image.fromarray(fashion_mosaic()), image_format)
    assert load_image(data).shape == (280, 280, 3)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False, "Pillow's global setting must be left alone"


def test_decompression_bombs_are_rejected_before_decoding():
    with pytest.raises(ImageError, match="far too large"):
        load_image(header_only_png(50_000, 50_000))  # Pillow's own hard limit
    with pytest.raises(
        ImageError, match=r"8000x8000 \(height x width\) = 64,000,000 pixels, more than the limit of 40,000,000"
    ):
        load_image(header_only_png(8000, 8000))  # the stub pixel data would fail if it were decoded
    small = encode(Image.fromarray(fashion_mosaic()), "PNG")
    with pytest.raises(ImageError, match="more than the limit of 10,000"):
        load_image(small, max_pixels=10_000)
    assert Image.MAX_IMAGE_PIXELS == images.MAX_IMAGE_PIXELS, "Pillow's own guard agrees with the per-image budget"


def test_declared_size_reads_the_header_only():
    assert declared_size(header_only_png(6000, 5000)) == (6000, 5000)  # the stub data would fail to decode
    with pytest.raises(ImageError, match="far too large"):
        declared_size(header_only_png(50_000, 50_000))
    for bad in (b"", b"not an image", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(ImageError):
            declared_size(bad)


def test_pixel_budget_refuses_one_image_and_stops_an_upload_by_declared_pixels():
    budget = PixelBudget(per_image=1_000_000, per_upload=2_500_000)
    with pytest.raises(ImageError, match=r"'big.png' declares 1001x1000 \(height x width\) = 1,001,000 pixels"):
        budget.charge("'big.png'", header_only_png(1000, 1001))
    assert budget.used == 0  # a refused image is not counted
    assert budget.charge("'a.png'", header_only_png(1000, 1000)) == (1000, 1000)
    budget.charge("'b.png'", header_only_png(1000, 1000))
    with pytest.raises(UploadTooLarge, match=r"Stopped at 'c.png', which declares 1000x1000 .* 3,000,000 pixels"):
        budget.charge("'c.png'", header_only_png(1000, 1000))
    with pytest.raises(ValueError):
        PixelBudget(per_image=0)
    assert images.MAX_IMAGE_PIXELS <= images.MAX_UPLOAD_PIXELS


def test_to_display_uint8_stretches_min_to_max():
    response = np.array([[-2.0, 0.0, 2.0]], np.float32)
    np.testing.assert_array_equal(to_display_uint8(response), [[0, 128, 255]])
    np.testing.assert_array_equal(to_display_uint8(response, rescale=False), [[0, 0, 255]])
    np.testing.assert_array_equal(to_display_uint8(np.full((2, 2), 0.5)), np.full((2, 2), 128))
    rgb = to_display_uint8(np.stack([response, response / 2, response * 0], axis=-1))
    np.testing.assert_array_equal(rgb[0, :, 1], [64, 128, 191])
    assert to_display_uint8(response[..., None]).shape == (1, 3)
    with pytest.raises(ValueError, match="NaN"):
        to_display_uint8(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, 3\)"):
        to_display_uint8(np.zeros((2, 2, 2)))


def test_to_png_bytes_decodes_back_to_the_display_pixels():
    gray = fashion_mosaic().astype(np.float32) * 3 - 100
    decoded = np.asarray(Image.open(io.BytesIO(to_png_bytes(gray))))
    np.testing.assert_array_equal(decoded, to_display_uint8(gray))
    rgb = np.stack([gray, -gray, gray / 2], axis=-1)
    decoded_rgb = Image.open(io.BytesIO(to_png_bytes(rgb)))
    assert decoded_rgb.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded_rgb), to_display_uint8(rgb))


def decode_data_uri(uri: str) -> tuple[str, np.ndarray]:
    header, data = uri.split(",", 1)
    return header, np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


@pytest.mark.parametrize("scale", ["RdBu_r", "gray", "Reds", ["#000000", "#ff8800", "#ffffff"]])
def test_colorize_paints_what_plotly_would_for_each_value(scale):
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    values = np.linspace(-3.0, 5.0, 401, dtype=np.float32).reshape(1, -1)
    stops = get_colorscale(scale) if isinstance(scale, str) else [[i / 2, c] for i, c in enumerate(scale)]
    expected = [unlabel_rgb(c) for c in sample_colorscale(stops, np.clip((values[0] + 2) / 6, 0, 1), colortype="rgb")]
    picture = colorize(values, scale, -2.0, 4.0)
    assert picture.shape == (1, 401, 3) and picture.dtype == np.uint8
    np.testing.assert_allclose(picture[0], expected, atol=1.0)  # 1024 colour levels: off by at most one


def test_colorize_leaves_gaps_transparent_or_in_the_gap_colour():
    values = np.array([[0.0, np.nan], [1.0, 0.5]])
    rgba = colorize(values, "gray", 0.0, 1.0)
    assert rgba.shape == (2, 2, 4) and rgba[0, 1, 3] == 0 and (rgba[[0, 1, 1], [0, 0, 1], 3] == 255).all()
    filled = colorize(values, "gray", 0.0, 1.0, gap=(255, 0, 0))
    assert filled.shape == (2, 2, 3) and tuple(filled[0, 1]) == (255, 0, 0)
    np.testing.assert_array_equal(filled[[0, 1, 1], [0, 0, 1]], rgba[[0, 1, 1], [0, 0, 1], :3])


def test_pictures_are_exact_png_when_small_and_close_jpeg_when_large():
    small = fashion_mosaic()[:100, :100]
    header, decoded = decode_data_uri(picture_data_uri(small))
    assert header == "data:image/png;base64" and small.size <= LOSSLESS_PIXELS
    np.testing.assert_array_equal(decoded, small)
    large = np.repeat(np.repeat(fashion_mosaic(), 2, axis=0), 2, axis=1)
    colour = colorize(large.astype(np.float32), "RdBu_r", 0, 255)
    header, decoded = decode_data_uri(picture_data_uri(colour))
    assert header == "data:image/jpeg;base64" and decoded.shape == colour.shape
    assert np.abs(decoded.astype(int) - colour).mean() < 4.0  # sharp 28x28 items: the hardest case for JPEG
    header, decoded = decode_data_uri(picture_data_uri(np.dstack([colour, np.full(large.shape, 255, np.uint8)])))
    assert header == "data:image/png;base64" and decoded.shape[2] == 4  # transparency needs PNG


def test_fingerprint_tells_every_value_shape_and_type_apart():
    image = np.zeros((1024, 1024), np.float32)
    changed = image.copy()
    changed[1000, 3] = 1e-7
    keys = {
        fingerprint(image),
        fingerprint(changed),
        fingerprint(image.reshape(512, 2048)),
        fingerprint(image.astype(np.float64)),
        fingerprint(image, image),
    }
    assert len(keys) == 5 and fingerprint(image) == fingerprint(np.zeros((1024, 1024), np.float32))
    np.testing.assert_array_equal(np.load(io.BytesIO(to_npy_bytes(changed))), changed)
