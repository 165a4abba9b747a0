"""Two more answers to "which pixels made this prediction": occlusion sensitivity and SmoothGrad (TensorFlow).

Occlusion (Zeiler and Fergus 2014) asks the model directly: cover one square of the image with a plain patch,
predict again, and record how much the class's probability drops; repeat for every position of the patch.
SmoothGrad (Smilkov et al. 2017) averages the saliency maps of noisy copies of the image, so the speckle of a
single gradient averages away and the regions that matter remain.

Both take one uint8 Fashion-MNIST image (28, 28), as `models.explain.inspection.saliency` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import keras
import numpy as np

from models.explain.inspection import InspectionError, forward, input_gradients, model_input
from models.ops.geometry import axis_plan, is_whole

GREY = 0.5  # the "grey" fill: the middle of the model's [0, 1] input range
FILLS = ("grey", "mean")  # the patch is grey 0.5, or the image's own mean pixel value
DEFAULT_FILL = "grey"
MAX_SAMPLES = 500  # SmoothGrad copies at most
GRADIENT_BATCH = 50  # noisy copies per gradient pass (keeps the tape's memory small)
PREDICT_BATCH = 256  # patched images per predict batch


class AttributionError(InspectionError):
    """Parameters an occlusion map or SmoothGrad cannot use; the message says which and why."""


@dataclass(frozen=True, eq=False)
class Occlusion:
    """How much covering each window lowers the probability of `class_index`.

    `drops[i, j]` = p(class | image) - p(class | image with the patch on window (i, j)); window (i, j) covers rows
    starts[i] to starts[i] + patch - 1 and columns starts[j] to starts[j] + patch - 1. Positive: hiding that square
    lowers the score. `pixel_map` (H, W) is the mean drop of the windows covering each pixel (NaN where none does:
    the last rows and columns when the windows do not reach the edge).
    """

    drops: np.ndarray
    pixel_map: np.ndarray
    starts: np.ndarray
    class_index: int
    probability: float  # p(class | the image, no patch)
    patch: int
    stride: int
    fill: str
    fill_value: float

    @property
    def uncovered(self) -> int:
        """Rows (and columns) at the bottom (right) edge that no window covers."""
        return int(self.pixel_map.shape[0] - (self.starts[-1] + self.patch))


def window_starts(length: int, patch: int, stride: int) -> np.ndarray:
    """First pixel of every window along one axis: the windows that fit ('valid'), `models.ops.geometry.axis_plan`."""
    return np.arange(axis_plan(length, patch, stride, "valid").out) * stride


def _check_whole(value: object, what: str) -> int:
    if not is_whole(value) or int(value) < 1:
        raise AttributionError(f"{what} must be a whole number of at least 1 pixel (got {value!r}).")
    return int(value)


def check_occlusion(size: tuple[int, int], patch: object, stride: object, fill: str) -> tuple[int, int]:
    """(patch, stride) as ints if an occlusion map of an image of `size` (rows, columns) can use them; else
    AttributionError saying what is wrong."""
    patch = _check_whole(patch, "The patch size")
    stride = _check_whole(stride, "The stride")
    if patch > min(size):
        raise AttributionError(
            f"A {patch}x{patch} patch is larger than the {size[0]}x{size[1]} image: "
            f"choose a patch of at most {min(size)} pixels."
        )
    if fill not in FILLS:
        raise AttributionError(f"The fill must be one of {', '.join(FILLS)} (got {fill!r}).")
    return patch, stride


def occlusion_map(
    model: keras.Model,
    image: np.ndarray,
    class_index: int | None,
    patch: int,
    stride: int,
    *,
    fill: str = DEFAULT_FILL,
) -> Occlusion:
    """Occlusion sensitivity of one uint8 (28, 28) image for `class_index` (None: the class it predicts).

    A `patch` x `patch` square of `fill` ("grey": 0.5; "mean": the image's mean pixel value, in the model's [0, 1]
    input) is put on every window `stride` pixels apart that fits in the image (`window_starts`); all the patched
    images and the image itself go through the model in batches (`models.explain.inspection.forward`). The probability
    is the model's output.
    """
    pixels = model_input(image)[0]  # (H, W, 1) float32 in [0, 1]
    height, width = pixels.shape[:2]
    patch, stride = check_occlusion((height, width), patch, stride, fill)
    value = GREY if fill == "grey" else float(pixels.mean())
    rows, cols = window_starts(height, patch, stride), window_starts(width, patch, stride)
    row_cover = (np.arange(height) >= rows[:, None]) & (np.arange(height) < rows[:, None] + patch)  # (R, H)
    col_cover = (np.arange(width) >= cols[:, None]) & (np.arange(width) < cols[:, None] + patch)  # (C, W)
    cover = row_cover[:, None, :, None] & col_cover[None, :, None, :]  # (R, C, H, W): window (r, c) hides (h, w)
    patched = np.where(cover[..., None], np.float32(value), pixels).reshape(-1, height, width, pixels.shape[2])
    batch = np.concatenate([pixels[np.newaxis], patched])
    probabilities = forward(model, batch, PREDICT_BATCH).astype(np.float64)
    classes = probabilities.shape[1]
    if class_index is None:
        class_index = int(probabilities[0].argmax())
    elif not is_whole(class_index) or not 0 <= class_index < classes:
        raise AttributionError(f"The class must be a whole number from 0 to {classes - 1} (got {class_index!r}).")
    base = probabilities[0, class_index]
    drops = base - probabilities[1:, class_index].reshape(len(rows), len(cols))
    count = cover.sum(axis=(0, 1))
    total = np.einsum("rchw,rc->hw", cover, drops)
    with np.errstate(invalid="ignore", divide="ignore"):
        pixel_map = np.where(count > 0, total / count, np.nan)
    for array in (drops, pixel_map, rows):
        array.setflags(write=False)
    return Occlusion(drops, pixel_map, rows, int(class_index), float(base), patch, stride, fill, value)


# ---------------------------------------------------------------- SmoothGrad


@dataclass(frozen=True, eq=False)
class SmoothGrad:
    """The mean saliency map (H, W) of `samples` noisy copies of the image, for `class_index`."""

    map: np.ndarray
    class_index: int
    noise: float  # sigma as a fraction of the image's range (max - min pixel value)
    sigma: float  # the noise's standard deviation in input units ([0, 1])
    samples: int
    seed: int


def check_smoothgrad(noise: object, samples: object) -> tuple[float, int]:
    """(noise, samples) if SmoothGrad can use them; else AttributionError saying what is wrong."""
    level = float(noise) if isinstance(noise, Real) and not isinstance(noise, bool) else math.nan
    if not 0 <= level <= 1:  # NaN fails too
        raise AttributionError(
            f"The noise level must be a number from 0 to 1 (a fraction of the range); got {noise!r}."
        )
    if not is_whole(samples) or not 1 <= int(samples) <= MAX_SAMPLES:
        raise AttributionError(f"The sample count must be a whole number from 1 to {MAX_SAMPLES} (got {samples!r}).")
    return level, int(samples)


def noisy_copies(pixels: np.ndarray, noise: float, samples: int, seed: int) -> tuple[np.ndarray, float]:
    """`samples` copies of one model input (H, W, C) plus Gaussian noise of sigma = noise * (max - min), drawn as
    np.random.default_rng(seed).normal(0, sigma, (samples, H, W, C)) and cast to float32 before adding (not
    clipped, as in the paper); returns (copies, sigma)."""
    sigma = noise * float(pixels.max() - pixels.min())
    draws = np.random.default_rng(seed).normal(0.0, sigma, size=(samples, *pixels.shape)).astype(np.float32)
    return pixels[np.newaxis] + draws, sigma


def smoothgrad(
    model: keras.Model,
    image: np.ndarray,
    class_index: int | None = None,
    *,
    noise: float = 0.15,
    samples: int = 25,
    seed: int = 0,
) -> SmoothGrad:
    """SmoothGrad of one uint8 (28, 28) image: the mean over `noisy_copies` of the saliency map |d score / d pixel|
    (max over channels, `models.explain.inspection.saliency`), for `class_index` (None: the class the clean image is
    predicted as; every copy explains that same class). The copies go through the gradient in batches."""
    noise, samples = check_smoothgrad(noise, samples)
    pixels = model_input(image)  # (1, H, W, C)
    if class_index is None:
        class_index = int(np.asarray(model(pixels, training=False))[0].argmax())
    copies, sigma = noisy_copies(pixels[0], noise, samples, seed)
    total = np.zeros(pixels.shape[1:3], dtype=np.float64)
    for start in range(0, samples, GRADIENT_BATCH):
        gradients, _, _, _ = input_gradients(model, copies[start : start + GRADIENT_BATCH], class_index)
        total += np.abs(gradients).max(axis=-1).sum(axis=0)
    mean = (total / samples).astype(np.float32)
    mean.setflags(write=False)
    return SmoothGrad(mean, int(class_index), noise, sigma, samples, seed)
