"""Turn any picture into the 28x28 input the Fashion-MNIST network expects, keeping every step to show.

The steps follow how Fashion-MNIST itself was made (Xiao et al. 2017): trim to the item, extend the
short side to a square with the item centred, resize the long side to 28, negate intensities so the
item is light on black, store as 8-bit. The network then sees pixel / 255. One step is added for
photos: after inverting, a dark-gray background (a light wall or paper inverted) is pulled down to black.

Images are float arrays in [0, 1], (H, W) or (H, W, 3), as `models.inputs.images.load_image` returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage

from models.inputs.images import luma

SIZE = 28  # the network's input side
OBJECT_THRESHOLD = 0.1  # a pixel belongs to the object when it differs this much from the background
SPECK_SHARE = 0.01  # object pixel groups smaller than this share of the largest group are noise
LIGHT_BACKGROUND = 0.5  # "auto" inverts when the background is lighter than this
INVERT_CHOICES = ("auto", "on", "off")
Invert = Literal["auto", "on", "off"]


class PreprocessError(ValueError):
    """The picture cannot be turned into a network input; the message says why."""


@dataclass(frozen=True, eq=False)
class Step:
    """One stage of the pipeline: its title, the image after it (float in [0, 1]) and what it did."""

    title: str
    image: np.ndarray
    note: str


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """Every step, the 8-bit 28x28 image (as the data set stores items) and the network input."""

    steps: tuple[Step, ...]
    pixels: np.ndarray  # uint8 (28, 28): light item on black, like a Fashion-MNIST file entry
    network_input: np.ndarray  # float32 (28, 28) in [0, 1]: pixels / 255
    background: float  # gray level of the original background, 0 (black) to 1 (white)
    box: tuple[int, int, int, int]  # object bounding box in the grayscale image: top, bottom, left, right
    inverted: bool


def grayscale(image: np.ndarray) -> np.ndarray:
    """(H, W) luma in [0, 1] with the ITU-R 601 weights `load_image` uses; a 2-D image is returned as float32."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return luma(pixels)
    if pixels.ndim == 2:
        return pixels.copy()
    raise PreprocessError(f"Expected an image of shape (H, W) or (H, W, 3), got {pixels.shape}.")


def border_level(gray: np.ndarray) -> float:
    """The background's gray level: the median of a frame about 2% of the short side wide (at least 1 pixel)."""
    width = max(1, round(0.02 * min(gray.shape)))
    frame = np.concatenate(
        [
            gray[:width].ravel(),
            gray[-width:].ravel(),
            gray[width:-width, :width].ravel(),
            gray[width:-width, -width:].ravel(),
        ]
    )
    return float(np.median(frame))


def object_mask(gray: np.ndarray, background: float, threshold: float = OBJECT_THRESHOLD) -> np.ndarray:
    """Pixels differing from `background` by more than `threshold`, without specks: 8-connected groups
    smaller than SPECK_SHARE of the largest group (sensor noise, dust) are dropped."""
    mask = np.abs(gray - background) > threshold
    groups, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count > 1:
        sizes = np.bincount(groups.ravel())[1:]
        keep = np.flatnonzero(sizes >= SPECK_SHARE * sizes.max()) + 1
        mask = np.isin(groups, keep)
    return mask


def object_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Smallest box (top, bottom, left, right; bottom and right exclusive) holding the mask.
    Raises PreprocessError when the mask is empty."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise PreprocessError(
            f"There is nothing to classify: every pixel is within {OBJECT_THRESHOLD:.0%} of the background's "
            "brightness. Draw or photograph an item that stands out from its background."
        )
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def pad_to_square(gray: np.ndarray, fill: float) -> np.ndarray:
    """Extend the short side with `fill` so the image is square, the content centred (odd extra pixel at the end)."""
    height, width = gray.shape
    extra = abs(height - width)
    before, after = extra // 2, extra - extra // 2
    padding = ((before, after), (0, 0)) if width > height else ((0, 0), (before, after))
    return np.pad(gray, padding, mode="constant", constant_values=fill)


def resize_to_bytes(gray: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Lanczos resize (Pillow, float precision) of a square image to size x size, rounded to uint8 0-255.

    An image already of that size is only rounded, so Fashion-MNIST items pass through unchanged.
    """
    pixels = np.asarray(gray, dtype=np.float32)
    if pixels.shape != (size, size):
        pixels = np.asarray(Image.fromarray(pixels, mode="F").resize((size, size), Image.Resampling.LANCZOS))
    return np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def should_invert(background: float, invert: Invert) -> bool:
    """ "auto" inverts a light background (Fashion-MNIST items are light on black); "on"/"off" force it."""
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {INVERT_CHOICES}, got {invert!r}.")
    return background > LIGHT_BACKGROUND if invert == "auto" else invert == "on"


def background_to_black(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    """Stretch uint8 values so a dark-gray background level (border median) becomes 0 and 255 stays 255:
    round((value - level) * 255 / (255 - level)), clipped at 0. A light background (level >= 128) is left
    alone. Returns the image and the level."""
    level = int(round(border_level(pixels.astype(np.float32))))
    if level == 0 or level >= 128:
        return pixels.copy(), level
    stretched = (pixels.astype(np.float32) - level) * (255.0 / (255 - level))
    return np.rint(np.clip(stretched, 0.0, 255.0)).astype(np.uint8), level


def preprocess(image: np.ndarray, *, invert: Invert = "auto", crop: bool = True, darken: bool = True) -> Preprocessed:
    """Original -> grayscale -> crop to the object -> pad to square -> resize to 28x28 (8-bit)
    -> invert if the background is light -> background to black (`darken`) -> scale to [0, 1]."""
    original = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if original.size == 0:
        raise PreprocessError("The image has no pixels.")
    gray = grayscale(original)
    height, width = gray.shape
    background = border_level(gray)
    box = object_box(object_mask(gray, background))
    top, bottom, left, right = box
    cropped = gray[top:bottom, left:right] if crop else gray
    square = pad_to_square(cropped, background)
    small = resize_to_bytes(square)
    inverted = should_invert(background, invert)
    flipped = 255 - small if inverted else small
    final, level = background_to_black(flipped) if darken else (flipped, None)
    network_input = final.astype(np.float32) / np.float32(255.0)

    colour = "colour" if original.ndim == 3 else "gray"
    crop_note = (
        f"Kept the object's box, rows {top}-{bottom - 1}, columns {left}-{right - 1}: "
        f"{bottom - top}x{right - left} of {height}x{width}."
        if crop
        else f"Off: the whole {height}x{width} image is kept, so the item ends up smaller."
    )
    shade = "light" if background > LIGHT_BACKGROUND else "dark"
    if invert == "auto":
        invert_note = f"Auto: the background is {shade} ({background:.2f}), so " + (
            "inverted (255 - value): now a light item on black, as in Fashion-MNIST." if inverted else "kept as it is."
        )
    else:
        invert_note = f"Forced {invert}: {'inverted (255 - value)' if inverted else 'kept as it is'}."
    if level is None:
        dark_note = "Off."
    elif level == 0:
        dark_note = "The background is already black (border median 0)."
    elif level >= 128:
        dark_note = f"Skipped: the background is light (border median {level}); only a dark one is pulled to 0."
    else:
        dark_note = f"Background level {level} -> 0: (value - {level}) x 255 / {255 - level}."
    steps = (
        Step("original", original, f"{height}x{width} (height x width) {colour}."),
        Step("grayscale", gray, f"0.299 R + 0.587 G + 0.114 B; background {background:.2f} (median of the border)."),
        Step("crop to object", cropped, crop_note),
        Step("pad to square", square, f"{square.shape[0]}x{square.shape[1]}: short side filled with the background."),
        Step("resize to 28x28", small / np.float32(255.0), "Lanczos; stored as 8-bit values 0-255 like the data set."),
        Step("invert", flipped / np.float32(255.0), invert_note),
        Step("background to black", network_input, dark_note),
        Step(
            "scale to [0, 1]",
            network_input,
            f"value / 255: {network_input.min():.2f} to {network_input.max():.2f}. This is what the network sees.",
        ),
    )
    return Preprocessed(steps, final, network_input, background, box, inverted)


def photo_like(
    item: np.ndarray,
    *,
    side: int = 112,
    canvas: tuple[int, int] = (200, 260),
    position: tuple[int, int] = (30, 120),
    seed: int = 0,
) -> np.ndarray:
    """A Fashion-MNIST item (uint8 28x28, light on black) as a photo: a dark item on light paper,
    enlarged to `side` pixels, placed off-centre at `position` (top, left) on a `canvas` (height, width)
    with uneven lighting and a little sensor noise. Returns float32 (H, W, 3) in [0, 1]."""
    pixels = np.asarray(item)
    if pixels.shape != (SIZE, SIZE) or pixels.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 28x28 item, got {pixels.dtype} {pixels.shape}.")
    height, width = canvas
    top, left = position
    if top + side > height or left + side > width:
        raise ValueError(
            f"An item of {side} pixels at {position} does not fit a {height}x{width} (height x width) canvas."
        )
    paper = np.array([0.94, 0.92, 0.87], dtype=np.float32)
    ink = np.array([0.16, 0.15, 0.20], dtype=np.float32)
    lighting = np.linspace(1.0, 0.93, width, dtype=np.float32)[None, :, None]
    photo = np.broadcast_to(paper * lighting, (height, width, 3)).copy()
    alpha = (
        np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32)[..., None]
        / 255.0
    )
    window = photo[top : top + side, left : left + side]
    photo[top : top + side, left : left + side] = window * (1.0 - alpha) + ink * alpha
    photo += np.asarray(np.random.default_rng(seed).normal(0.0, 0.01, photo.shape), dtype=np.float32)
    return np.clip(photo, 0.0, 1.0)
