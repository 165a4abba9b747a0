"""Bundled sample images: pictures drawn with Pillow/NumPy and Fashion-MNIST items (no downloads).

Every sample is float32 in [0, 1]: (H, W) in grayscale mode or (H, W, 3) in RGB mode,
the same layout `models.inputs.images.load_image` returns for uploads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from models.inputs.fashion_mnist import CLASS_NAMES as FASHION_CLASSES
from models.inputs.images import in_colour_mode

FASHION_PREFIX = "Fashion-MNIST: "


def _to_float(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def draw_shapes(size: int = 256) -> np.ndarray:
    """Vertical bars, horizontal bars, a square, a disc and a triangle on white."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    unit = size / 16
    for i in range(4):  # vertical bars, top left
        x = unit * (1 + 1.5 * i)
        draw.rectangle([x, unit, x + unit * 0.75, unit * 7], fill=(30, 60, 160))
    for i in range(4):  # horizontal bars, top right
        y = unit * (1 + 1.5 * i)
        draw.rectangle([unit * 9, y, unit * 15, y + unit * 0.75], fill=(200, 50, 40))
    draw.rectangle([unit, unit * 9, unit * 7, unit * 15], fill=(40, 40, 40))
    draw.ellipse([unit * 9, unit * 9, unit * 15, unit * 15], fill=(240, 170, 20))
    draw.polygon([(unit * 4, unit * 10), (unit * 6, unit * 14), (unit * 2, unit * 14)], fill=(250, 250, 250))
    return _to_float(image)


def draw_checkerboard(size: int = 256, squares: int = 8) -> np.ndarray:
    """Black and white squares: only vertical and horizontal edges."""
    cells = np.arange(size) * squares // size
    board = ((cells[:, None] + cells[None, :]) % 2).astype(np.float32)
    return np.repeat(board[:, :, None], 3, axis=2)


def draw_letters(width: int = 384, height: int = 192) -> np.ndarray:
    """Bold dark letters on a light background: straight, slanted and curved strokes."""
    image = Image.new("RGB", (width, height), (235, 235, 225))
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=height * 0.55)
    small = ImageFont.load_default(size=height * 0.14)
    draw.text(
        (width / 2, height * 0.42),
        "CNN",
        font=big,
        fill=(20, 20, 30),
        anchor="mm",
        stroke_width=max(1, height // 64),
        stroke_fill=(20, 20, 30),
    )
    draw.text((width / 2, height * 0.85), "filters find edges", font=small, fill=(120, 30, 30), anchor="mm")
    return _to_float(image)


def draw_town(width: int = 384, height: int = 256) -> np.ndarray:
    """A small street scene: sky, sun, hills, houses with windows and roofs, a fence and a road."""
    sky_top, sky_bottom = np.array([70, 130, 200]), np.array([190, 220, 245])
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    sky = (sky_top * (1 - ramp) + sky_bottom * ramp).astype(np.uint8)
    image = Image.fromarray(np.repeat(sky, width, axis=1))
    draw = ImageDraw.Draw(image)
    w, h = width / 24, height / 16
    draw.ellipse([w * 19, h * 1, w * 22, h * 1 + w * 3], fill=(255, 220, 90))
    draw.polygon(
        [
            (0, h * 10),
            (w * 6, h * 6),
            (w * 13, h * 9.5),
            (w * 19, h * 5.5),
            (width, h * 9),
            (width, height),
            (0, height),
        ],
        fill=(90, 150, 80),
    )
    houses = [(1, 4, (200, 90, 70)), (6.5, 5, (230, 200, 150)), (13, 4, (140, 160, 200)), (18.5, 4.5, (210, 180, 80))]
    for left, span, wall in houses:
        x0, x1, y0, y1 = w * left, w * (left + span), h * 8, h * 13
        draw.rectangle([x0, y0, x1, y1], fill=wall, outline=(50, 40, 40))
        draw.polygon([(x0 - w * 0.4, y0), ((x0 + x1) / 2, y0 - h * 2.5), (x1 + w * 0.4, y0)], fill=(110, 50, 40))
        for column in range(int(span) - 1):
            wx = x0 + w * (0.6 + column)
            draw.rectangle([wx, y0 + h * 1, wx + w * 0.6, y0 + h * 2.2], fill=(250, 245, 200), outline=(60, 60, 60))
        door = (x0 + x1) / 2
        draw.rectangle([door - w * 0.4, y1 - h * 2, door + w * 0.4, y1], fill=(80, 50, 30))
    draw.rectangle([0, h * 13, width, height], fill=(80, 80, 85))
    for x in np.arange(0, width, w * 2):
        draw.rectangle([x, h * 14.4, x + w, h * 14.7], fill=(240, 240, 240))
    for x in np.arange(0, width, w * 0.5):
        draw.rectangle([x, h * 12.2, x + w * 0.15, h * 13], fill=(245, 245, 245))
    draw.rectangle([0, h * 12.3, width, h * 12.45], fill=(245, 245, 245))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    grain = np.random.default_rng(0).normal(0.0, 0.015, (height, width, 1)).astype(np.float32)
    return np.clip(_to_float(image) + grain, 0.0, 1.0)


DRAWN_SAMPLES: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    "Street scene": ("Houses, windows, roofs and a fence: many vertical and horizontal lines", draw_town),
    "Shapes": ("Vertical bars, horizontal bars, a square, a disc and a triangle", draw_shapes),
    "Checkerboard": ("Only vertical and horizontal edges", draw_checkerboard),
    "Letters": ("Straight, slanted and curved strokes", draw_letters),
}


def sample_names() -> list[str]:
    """Drawn pictures first, then one Fashion-MNIST test item per class."""
    return [*DRAWN_SAMPLES, *(FASHION_PREFIX + name for name in FASHION_CLASSES)]


def is_fashion_sample(name: str) -> bool:
    return name.startswith(FASHION_PREFIX) and name[len(FASHION_PREFIX) :] in FASHION_CLASSES


def sample_description(name: str) -> str:
    if is_fashion_sample(name):
        return "A 28x28 Fashion-MNIST test image, the size the course network sees"
    return _drawn(name)[0]


def _drawn(name: str) -> tuple[str, Callable[[], np.ndarray]]:
    try:
        return DRAWN_SAMPLES[name]
    except KeyError:
        raise ValueError(f"Unknown sample {name!r}; choose one of {sample_names()}.") from None


def fashion_item(images: np.ndarray, labels: np.ndarray, class_name: str) -> np.ndarray:
    """The first image of `class_name` in uint8 (N, 28, 28) `images`, as float32 (28, 28) in [0, 1]."""
    if class_name not in FASHION_CLASSES:
        raise ValueError(f"Unknown Fashion-MNIST class {class_name!r}.")
    matches = np.flatnonzero(np.asarray(labels) == FASHION_CLASSES.index(class_name))
    if matches.size == 0:
        raise ValueError(f"The data holds no {class_name!r} image.")
    return np.asarray(images[matches[0]], dtype=np.float32) / np.float32(255.0)


def load_sample(name: str, *, grayscale: bool, fashion: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A bundled sample by name; Fashion-MNIST items need `fashion` = (images, labels)."""
    if is_fashion_sample(name):
        if fashion is None:
            raise ValueError("Fashion-MNIST samples need the (images, labels) arrays.")
        return in_colour_mode(fashion_item(*fashion, name[len(FASHION_PREFIX) :]), grayscale=grayscale)
    return in_colour_mode(_drawn(name)[1](), grayscale=grayscale)
