"""Kernel text, the cross-correlation Keras `Conv2D` computes, and its shape arithmetic.

Deep-learning "convolution" is cross-correlation: the kernel is slid over the image
without flipping it, so a kernel whose top row is negative and bottom row positive
responds where brightness increases from top to bottom (a horizontal edge).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import ndimage

from models.ops.geometry import AxisPlan, Padding, axis_plan, effective_window, whole_pair
from models.ops.kernels import KERNELS

MAX_KERNEL_SIZE = 7
MAX_WEIGHT = 1e6  # larger typed weights only overflow the output; float32 itself ends near 3.4e38


class KernelError(ValueError):
    """Typed kernel text that cannot be used; the message names the problem and where."""


# ---------------------------------------------------------------- kernel text


def parse_kernel(text: str) -> np.ndarray:
    """Parse typed kernel weights into a float32 odd square array (1x1 up to 7x7).

    Rows are separated by newlines or ``;`` and values by commas and/or spaces.
    Values may be integers, decimals, fractions such as ``1/9`` and negative
    numbers. A Python/NumPy style nested list ``[[0, 1, 0], [1, -4, 1], ...]`` is
    accepted too.
    """
    cleaned = text.replace("\u2212", "-").strip()  # accept the typographic minus sign
    if "[" in cleaned or "]" in cleaned:
        cleaned = re.sub(r"\]\s*,?", ";", cleaned).replace("[", "")
    rows = [row.strip() for row in re.split(r"[;\n]", cleaned)]
    rows = [row for row in rows if row]
    if not rows:
        raise KernelError("The kernel is empty: type rows of numbers, e.g. '0 1 0; 1 -4 1; 0 1 0'.")

    values = [
        [_parse_value(token, row_number, column) for column, token in enumerate(_tokens(row), 1)]
        for row_number, row in enumerate(rows, 1)
    ]
    width = len(values[0])
    for row_number, row_values in enumerate(values[1:], 2):
        if len(row_values) != width:
            raise KernelError(
                f"Row {row_number} has {len(row_values)} numbers but row 1 has {width}: "
                "every row needs the same number of values."
            )
    height = len(values)
    if height != width:
        raise KernelError(f"The kernel is {height}x{width} (rows x columns): it must be square, e.g. 3x3.")
    if height % 2 == 0:
        raise KernelError(f"The kernel is {height}x{width}: use an odd size (1, 3, 5 or 7) so it has a centre pixel.")
    if height > MAX_KERNEL_SIZE:
        raise KernelError(
            f"The kernel is {height}x{width}: the largest allowed is {MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}."
        )
    return np.array(values, dtype=np.float32)


def _tokens(row: str) -> list[str]:
    return [token for token in re.split(r"[,\s]+", row) if token]


def _parse_value(token: str, row: int, column: int) -> float:
    where = f"Row {row}, column {column}"
    numerator, slash, denominator = token.partition("/")
    try:
        value = float(numerator) / float(denominator) if slash else float(token)
    except ValueError:
        raise KernelError(f"{where}: {token!r} is not a number (use e.g. 2, -0.5 or 1/9).") from None
    except ZeroDivisionError:
        raise KernelError(f"{where}: {token!r} divides by zero.") from None
    if not math.isfinite(value):
        raise KernelError(f"{where}: {token!r} is not a finite number.")
    if abs(value) > MAX_WEIGHT:
        raise KernelError(
            f"{where}: {token!r} is too large; weights must be between -{MAX_WEIGHT:,.0f} and {MAX_WEIGHT:,.0f}."
        )
    return value


def kernel_to_text(kernel: np.ndarray) -> str:
    """Write a kernel as text that `parse_kernel` reads back; simple fractions stay fractions."""
    weights = np.asarray(kernel, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"A kernel must be 2-D, got shape {weights.shape}.")
    return "\n".join(", ".join(_format_value(value) for value in row) for row in weights)


def _format_value(value: float) -> str:
    """Integers and 1-2 decimal numbers as decimals, other simple fractions as "a/b"."""
    tolerance = 1e-7 * max(1.0, abs(value))
    for digits in (0, 1, 2):
        rounded = round(value, digits)
        if abs(rounded - value) <= tolerance:
            return f"{rounded + 0.0:.{digits}f}"
    fraction = Fraction(value).limit_denominator(1000)
    if abs(float(fraction) - value) <= tolerance:
        return str(fraction)
    return f"{value:.6g}"


def starting_kernels(size: int) -> dict[str, np.ndarray]:
    """Templates for the kernel editor: identity, box blur and the library kernels of this size."""
    identity = np.zeros((size, size), dtype=np.float32)
    identity[size // 2, size // 2] = 1.0
    library = {name: kernel.weights for name, kernel in KERNELS.items() if kernel.weights.shape[0] == size}
    return {"Identity": identity, f"Box blur {size}x{size}": np.full((size, size), 1 / size**2), **library}


def normalise_kernel(kernel: np.ndarray) -> np.ndarray:
    """Divide a kernel by its sum, so a blur keeps the image's overall brightness.

    Kernels that sum to (nearly) zero, such as edge detectors, are returned
    unchanged: their output is a difference, not an average, and dividing by ~0
    would explode it. Always returns a new float32 array.
    """
    weights = np.array(kernel, dtype=np.float64)
    total = weights.sum()
    if abs(total) <= 1e-6 * max(np.abs(weights).sum(), 1e-12):
        return weights.astype(np.float32)
    return (weights / total).astype(np.float32)


# ---------------------------------------------------------------- shapes


def _axis_plan(size: int, kernel: int, stride: int, padding: str, axis: str, dilation: int = 1) -> AxisPlan:
    """models.ops.geometry's rule for one axis, with the learner's message when a 'valid' kernel does not fit."""
    span = effective_window(kernel, dilation)
    if padding == "valid" and span > size:
        spread = "" if dilation == 1 else f" at dilation {dilation} spans {span} pixels and"
        raise ValueError(
            f"The {kernel}-pixel kernel {axis}{spread} is larger than the {size}-pixel image {axis}: "
            "with 'valid' padding it does not fit. Use a smaller kernel"
            + ("" if dilation == 1 else " or dilation")
            + " or 'same' padding."
        )
    return axis_plan(size, kernel, stride, padding, dilation)


def stride_and_dilation(
    stride: int | tuple[int, int], dilation: int | tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, columns) pairs of stride and dilation, refused as Keras's Conv2D refuses them: a stride above 1
    together with a dilation above 1 (Keras raises "`strides > 1` not supported in conjunction with
    `dilation_rate > 1`")."""
    strides, dilations = whole_pair(stride, "stride"), whole_pair(dilation, "dilation")
    if max(strides) > 1 and max(dilations) > 1:
        raise ValueError(
            f"Keras's Conv2D refuses a stride above 1 together with a dilation above 1 (got stride {stride}, "
            f"dilation {dilation}): use stride 1 with a dilation, or dilation 1 with a stride."
        )
    return strides, dilations


def _check_dimensions(height: int, width: int, kernel: int) -> None:
    if min(height, width) < 1:
        raise ValueError(f"The image must have at least 1x1 pixels, got {height}x{width}.")
    if kernel < 1:
        raise ValueError(f"The kernel size must be at least 1, got {kernel}.")


def output_shape(
    h: int,
    w: int,
    k: int,
    stride: int | tuple[int, int] = 1,
    padding: Padding = "valid",
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int]:
    """Output (height, width) of a k x k convolution, by Keras's rules (Conv2D's strides and dilation_rate)."""
    _check_dimensions(h, w, k)
    (stride_h, stride_w), (dilation_h, dilation_w) = stride_and_dilation(stride, dilation)
    return (
        _axis_plan(h, k, stride_h, padding, "height", dilation_h)[0],
        _axis_plan(w, k, stride_w, padding, "width", dilation_w)[0],
    )


def shape_formula(
    h: int,
    w: int,
    k: int,
    stride: int | tuple[int, int] = 1,
    padding: Padding = "valid",
    dilation: int | tuple[int, int] = 1,
) -> str:
    """The output-size arithmetic written out with these numbers.

    E.g. ``valid: (28 - 3) / 1 + 1 = 26 for height and width -> output 26 x 26`` or
    ``same: ceil(28 / 2) = 14 (padding 0 top/left, 1 bottom/right) ...``; with dilation 2,
    ``valid: (28 - 2\u00d7(3 - 1) - 1) / 1 + 1 = 24 ...`` or ``same: ceil(28 / 1) = 28 (padding 2\u00d7(3 - 1) = 4:
    2 top/left, 2 bottom/right) ...``.
    """
    _check_dimensions(h, w, k)
    (stride_h, stride_w), (dilation_h, dilation_w) = stride_and_dilation(stride, dilation)
    out_h, out_w = output_shape(h, w, k, (stride_h, stride_w), padding, (dilation_h, dilation_w))
    if (h, stride_h, dilation_h) == (w, stride_w, dilation_w):
        axes = f"{_axis_formula(h, k, stride_h, padding, 'top/left', 'bottom/right', dilation_h)} for height and width"
    else:
        height = _axis_formula(h, k, stride_h, padding, "top", "bottom", dilation_h)
        width = _axis_formula(w, k, stride_w, padding, "left", "right", dilation_w)
        axes = f"height {height}; width {width}"
    return f"{padding}: {axes} \u2192 output {out_h} x {out_w}"


def _axis_formula(size: int, kernel: int, stride: int, padding: str, before: str, after: str, dilation: int) -> str:
    out, pad_before, pad_after = _axis_plan(size, kernel, stride, padding, "", dilation)
    spread = f"{dilation}\u00d7({kernel} - 1)"  # how much further than one pixel the last tap sits
    if padding == "same":
        if dilation == 1:
            return f"ceil({size} / {stride}) = {out} (padding {pad_before} {before}, {pad_after} {after})"
        total = pad_before + pad_after  # stride is 1 here: (out - 1) + d(k - 1) + 1 - size = d(k - 1)
        return (
            f"ceil({size} / {stride}) = {out} (padding {spread} = {total}: {pad_before} {before}, {pad_after} {after})"
        )
    if dilation > 1:
        return f"({size} - {spread} - 1) / 1 + 1 = {out}"
    if stride == 1:
        return f"({size} - {kernel}) / 1 + 1 = {out}"
    return f"floor(({size} - {kernel}) / {stride}) + 1 = {out}"


# ---------------------------------------------------------------- convolution


def convolve2d(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: int | tuple[int, int] = 1,
    padding: Padding = "valid",
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """The cross-correlation Keras `Conv2D(strides=stride, padding=padding, dilation_rate=dilation)` computes
    (no kernel flip, zero padding), as float32.

    `image` is (H, W) or (H, W, C); the 2-D kernel is applied to each channel
    separately and the channels are kept (like a depthwise convolution). With dilation d the kernel's taps are
    d pixels apart: a k x k kernel reads a d(k - 1) + 1 square. Keras refuses stride > 1 with dilation > 1; so
    does this.
    """
    pixels = _as_image(image)
    weights = _as_kernel(kernel)
    (stride_h, stride_w), (dilation_h, dilation_w) = stride_and_dilation(stride, dilation)
    (k_h, k_w), (height, width) = weights.shape, pixels.shape[:2]
    out_h, top, _ = _axis_plan(height, k_h, stride_h, padding, "height", dilation_h)
    out_w, left, _ = _axis_plan(width, k_w, stride_w, padding, "width", dilation_w)
    if (dilation_h, dilation_w) != (1, 1):  # the taps d apart, zeros between (SciPy skips zero weights)
        spread = np.zeros((effective_window(k_h, dilation_h), effective_window(k_w, dilation_w)), np.float32)
        spread[::dilation_h, ::dilation_w] = weights
        weights, (k_h, k_w) = spread, spread.shape
    # With origin = zeros-before - k // 2, scipy's full-resolution map F satisfies
    # F[i, j] = sum(weights * padded window starting at input (i - top, j - left)),
    # so Keras's output is F sampled every `stride` pixels from (0, 0).
    origin = [top - k_h // 2, left - k_w // 2]
    if pixels.ndim == 3:
        weights = weights[:, :, None]
        origin.append(0)
    full = ndimage.correlate(pixels, weights, mode="constant", cval=0.0, origin=origin)
    sampled = full[: (out_h - 1) * stride_h + 1 : stride_h, : (out_w - 1) * stride_w + 1 : stride_w]
    return np.ascontiguousarray(sampled)


def conv2d_summed(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    bias: float = 0.0,
    stride: int | tuple[int, int] = 1,
    padding: Padding = "valid",
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """What one Conv2D filter computes on an (H, W, C) image: a (k, k, C) kernel, each channel's slice
    cross-correlated with that channel, summed over the channels into one (H', W') map, plus the bias."""
    pixels = _as_image(image)
    weights = np.asarray(kernel, dtype=np.float32)
    if pixels.ndim != 3 or weights.ndim != 3 or weights.shape[2] != pixels.shape[2]:
        raise ValueError(
            f"Expected an (H, W, C) image and a (k, k, C) kernel with the same C, got {pixels.shape} and "
            f"{weights.shape}."
        )
    maps = [
        convolve2d(pixels[:, :, c], weights[:, :, c], stride=stride, padding=padding, dilation=dilation)
        for c in range(pixels.shape[2])
    ]
    return np.asarray(np.sum(maps, axis=0, dtype=np.float32) + np.float32(bias), dtype=np.float32)


def same_on_each_channel(kernel2d: np.ndarray, channels: int) -> np.ndarray:
    """A (k, k, C) kernel with the same k x k weights on each of the C input channels."""
    return np.repeat(_as_kernel(kernel2d)[:, :, np.newaxis], channels, axis=2)


def _as_image(image: np.ndarray) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim not in (2, 3):
        raise ValueError(f"The image must be 2-D (H, W) or 3-D (H, W, C), got shape {pixels.shape}.")
    if min(pixels.shape) < 1:
        raise ValueError(f"The image is empty (shape {pixels.shape}).")
    if not np.all(np.isfinite(pixels)):
        raise ValueError("The image contains NaN or infinite values.")
    return pixels


def _as_kernel(kernel: np.ndarray) -> np.ndarray:
    weights = np.asarray(kernel, dtype=np.float32)
    if weights.ndim != 2 or min(weights.shape) < 1:
        raise ValueError(f"The kernel must be a non-empty 2-D array, got shape {weights.shape}.")
    if not np.all(np.isfinite(weights)):
        raise ValueError("The kernel contains NaN or infinite values.")
    return weights


@dataclass(frozen=True, eq=False)
class PixelStep:
    """One output pixel of `convolve2d`, worked out step by step.

    `patch` holds the input pixels the kernel's taps read (zeros where a tap falls in the padding; `inside`
    is False there), `products` is patch * kernel, and `total` their sum, which is
    the output value. (`top`, `left`) is the window's top-left input position;
    negative values mean it starts in the padding. Tap (i, j) reads input row top + i * dilation[0], column
    left + j * dilation[1]: next to each other at dilation 1, d pixels apart at dilation d.
    """

    patch: np.ndarray
    inside: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    total: float
    top: int
    left: int
    dilation: tuple[int, int] = (1, 1)

    @property
    def span(self) -> tuple[int, int]:
        """(rows, columns) of input the window covers, first tap to last: d(k - 1) + 1 each."""
        (k_h, k_w), (d_h, d_w) = self.kernel.shape, self.dilation
        return effective_window(k_h, d_h), effective_window(k_w, d_w)


def explain_pixel(
    image2d: np.ndarray,
    kernel: np.ndarray,
    row: int,
    col: int,
    *,
    stride: int | tuple[int, int] = 1,
    padding: Padding = "valid",
    dilation: int | tuple[int, int] = 1,
) -> PixelStep:
    """Show how output pixel (`row`, `col`) of `convolve2d` with the same arguments is computed."""
    pixels = _as_image(image2d)
    if pixels.ndim != 2:
        raise ValueError(f"explain_pixel takes one channel (H, W); got shape {pixels.shape}. Pass image[..., c].")
    weights = _as_kernel(kernel)
    (stride_h, stride_w), (dilation_h, dilation_w) = stride_and_dilation(stride, dilation)
    (k_h, k_w), (height, width) = weights.shape, pixels.shape
    out_h, pad_top, _ = _axis_plan(height, k_h, stride_h, padding, "height", dilation_h)
    out_w, pad_left, _ = _axis_plan(width, k_w, stride_w, padding, "width", dilation_w)
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"Pixel ({row}, {col}) is outside the {out_h} x {out_w} output.")
    top, left = row * stride_h - pad_top, col * stride_w - pad_left
    rows = (top + dilation_h * np.arange(k_h))[:, None]
    cols = (left + dilation_w * np.arange(k_w))[None, :]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    patch = np.where(inside, pixels[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)], 0.0)
    products = patch.astype(np.float64) * weights
    return PixelStep(
        patch=patch.astype(np.float32),
        inside=inside,
        kernel=weights,
        products=products,
        total=float(products.sum()),
        top=int(top),
        left=int(left),
        dilation=(dilation_h, dilation_w),
    )
