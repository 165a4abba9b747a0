"""Decode uploaded image files into float32 arrays in [0, 1], and encode results back as files.

`load_image` is the contract the pages rely on: any bad upload raises `ImageError`
with a message meant for the learner (a page shows it with ``st.error``).
Every size is checked from the image's header before a pixel is decoded: one image
against a per-image budget, and an upload of several images (a zip, a multi-file
upload) against a per-upload budget of declared pixels (`PixelBudget`). Pillow's own
decompression-bomb guard, ``Image.MAX_IMAGE_PIXELS``, is set here to the same
per-image budget (it warns above it and refuses above twice it, in any code that
opens an image). ``ImageFile.LOAD_TRUNCATED_IMAGES`` keeps its default ``False``, so
truncated files are rejected.
"""

from __future__ import annotations

import hashlib
import io
import math
import re

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# ITU-R BT.601 luma weights, the ones Pillow uses for its "L" conversion.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

MAX_IMAGE_PIXELS = 40_000_000  # one image, as its header declares it (a 40-megapixel photo)
# All the images of one upload (a zip or several files), declared: within the 25 MB upload limit honest photos
# (JPEG, 0.1 byte a pixel or more) stay under it; tiny files that declare huge pictures do not.
MAX_UPLOAD_PIXELS = 256_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow's own guard agrees (it refuses above twice this)


def luma(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 1] -> (...) gray, with the ITU-R 601 weights of Pillow's "L" conversion."""
    return np.asarray(rgb, dtype=np.float32) @ LUMA_WEIGHTS


def in_colour_mode(pixels: np.ndarray, *, grayscale: bool) -> np.ndarray:
    """(H, W) luma if `grayscale`, else (H, W, 3) (a gray image repeated in each channel); float32, contiguous."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 3 and grayscale:
        pixels = luma(pixels)
    elif pixels.ndim == 2 and not grayscale:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels, dtype=np.float32)


class ImageError(ValueError):
    """An uploaded file cannot be used as an image; the message says why."""


class ImageTooLarge(ImageError):
    """One image's header declares more pixels than its budget; `size` is its declared (width, height)."""

    def __init__(self, message: str, size: tuple[int, int]) -> None:
        super().__init__(message)
        self.size = size


class UploadTooLarge(ImageError):
    """The images of one upload declare more pixels in all than the per-upload budget: the upload stops."""


def declared_size(data: bytes) -> tuple[int, int]:
    """(width, height) as the image's header declares them, nothing decoded; ImageError if unreadable."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ImageError("The file is empty (0 bytes). Please choose an image file.")
    try:
        with Image.open(io.BytesIO(bytes(data))) as image:  # lazy: reads the header only
            return image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(_bomb_text(error, MAX_IMAGE_PIXELS)) from error
    except UnidentifiedImageError as error:
        raise ImageError("This file is not an image format we can read.") from error
    except Exception as error:  # Pillow plugins raise many types on malformed headers.
        raise ImageError("The image header could not be read: the file is truncated or corrupt.") from error


def _bomb_text(error: Exception, limit: int) -> str:
    """Pillow's decompression-bomb refusal in words, with the pixels the header declares."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    declared = f"declares {int(found.group(1)):,} pixels" if found else "declares more pixels than can be decoded"
    return (
        f"The image is far too large: its header {declared}, more than the limit of {limit:,}. "
        "Please upload a smaller image."
    )


def size_text(width: int, height: int) -> str:
    """'4000x4000 (height x width) = 16,000,000 pixels'."""
    return f"{height}x{width} (height x width) = {width * height:,} pixels"


class PixelBudget:
    """The pixels one upload's images declare, counted from their headers before any is decoded.

    `charge(name, data)` raises ImageTooLarge for an image above `per_image` (that image is refused),
    ImageError for one whose header cannot be read, and
    UploadTooLarge once the sum passes `per_upload` (the whole upload stops), each naming the file and its size.
    """

    def __init__(self, per_image: int = MAX_IMAGE_PIXELS, per_upload: int = MAX_UPLOAD_PIXELS) -> None:
        if per_image < 1 or per_upload < 1:
            raise ValueError("pixel budgets must be positive")
        self.per_image, self.per_upload = per_image, per_upload
        self.used = 0

    def charge(self, name: str, data: bytes) -> tuple[int, int]:
        """Count one image's declared pixels; its (width, height)."""
        width, height = declared_size(data)
        pixels = width * height
        if pixels > self.per_image:
            raise ImageTooLarge(
                f"{name} declares {size_text(width, height)}; one image may have at most {self.per_image:,}.",
                (width, height),
            )
        self.used += pixels
        if self.used > self.per_upload:
            raise UploadTooLarge(
                f"Stopped at {name}, which declares {size_text(width, height)}: the images up to it declare "
                f"{self.used:,} pixels in all, more than the {self.per_upload:,} one upload may have. Upload fewer "
                "or smaller images."
            )
        return width, height


def load_image(
    data: bytes,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    working_size: int = 1024,
    grayscale: bool = False,
) -> np.ndarray:
    """Decode image bytes to float32 in [0, 1]: (H, W) if `grayscale`, else (H, W, 3)."""
    image, _notes = load_image_with_notes(data, max_pixels=max_pixels, working_size=working_size, grayscale=grayscale)
    return image


def load_image_with_notes(
    data: bytes,
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    working_size: int = 1024,
    grayscale: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """Like `load_image`, plus plain-language notes on what was changed on the way.

    Handles PNG, JPEG, WebP, BMP, GIF, TIFF (first frame of animations), EXIF
    orientation, transparency (flattened onto white), palette, 1-bit, CMYK and
    16/32-bit grayscale. Images whose long side exceeds `working_size` are
    downscaled with Lanczos filtering. Grayscale uses ITU-R 601 luma.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"Expected the file's bytes, got {type(data).__name__}.")
    if len(data) == 0:
        raise ImageError("The file is empty (0 bytes). Please choose an image file.")
    if max_pixels < 1 or working_size < 1:
        raise ValueError("max_pixels and working_size must be positive.")

    notes: list[str] = []
    image = _open_checked(bytes(data), max_pixels)
    _select_first_frame(image, notes)
    stored_size = image.size
    if image.format == "JPEG":
        # Let libjpeg decode at a reduced scale (1/2, 1/4, 1/8) when the result is
        # still at least the working size: saves memory and time on huge photos.
        scale = working_size / max(stored_size)
        if scale < 1:
            image.draft(image.mode, (math.ceil(stored_size[0] * scale), math.ceil(stored_size[1] * scale)))
    _decode_fully(image)
    image, upright_size = _apply_exif_orientation(image, stored_size, notes)
    image = _to_standard_mode(image, notes)
    image = _downscale(image, working_size, notes, upright_size)
    return _to_float_array(image, grayscale, notes), notes


def to_display_uint8(x: np.ndarray, *, rescale: bool = True) -> np.ndarray:
    """Map an (H, W), (H, W, 1) or (H, W, 3) array to uint8 for display or saving.

    With `rescale` (the default) the array's min..max is stretched to 0..255 jointly
    over all channels, so filter responses with negative values stay visible. A
    constant array, or `rescale=False`, is clipped to [0, 1] and scaled by 255.
    """
    array = np.asarray(x, dtype=np.float32)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"Expected an image of shape (H, W) or (H, W, 3), got {array.shape}.")
    if array.size == 0:
        raise ValueError("Cannot display an empty image.")
    if not np.all(np.isfinite(array)):
        raise ValueError("The image contains NaN or infinite values.")
    low, high = float(array.min()), float(array.max())
    if rescale and high > low:
        array = (array - low) / (high - low)
    else:
        array = np.clip(array, 0.0, 1.0)
    return np.rint(array * 255.0).astype(np.uint8)


def to_npy_bytes(array: np.ndarray) -> bytes:
    """An array as the bytes of a NumPy .npy file (a raw-values download)."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def to_png_bytes(x: np.ndarray) -> bytes:
    """Encode an array as a PNG download, stretched min..max to 0..255 (see `to_display_uint8`)."""
    buffer = io.BytesIO()
    Image.fromarray(to_display_uint8(x)).save(buffer, format="PNG")
    return buffer.getvalue()


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Read the header only and reject unusable or oversized images before decoding."""
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(_bomb_text(error, max_pixels)) from error
    except UnidentifiedImageError as error:
        raise ImageError(
            "This file is not an image format we can read. Please upload a PNG, JPEG, WebP, BMP, GIF or TIFF file."
        ) from error
    except Exception as error:  # Pillow plugins raise many types on malformed headers.
        raise ImageError(
            "The image header could not be read: the file is truncated or corrupt. "
            "Please upload the complete file again."
        ) from error
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"The image has no pixels ({height}x{width}, height x width).")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is {height}x{width} (height x width) = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,}. Please upload a smaller image."
        )
    return image


def _select_first_frame(image: Image.Image, notes: list[str]) -> None:
    try:
        frames = getattr(image, "n_frames", 1)
        image.seek(0)
    except Exception as error:  # Counting frames walks the file: broken files fail here.
        raise ImageError(
            "The animation could not be read: the file is truncated or corrupt. Please upload the complete file again."
        ) from error
    if frames > 1:
        kind = "Animated image" if image.format in {"GIF", "PNG", "WEBP"} else "Multi-frame image"
        notes.append(f"{kind}: using the first frame")


def _decode_fully(image: Image.Image) -> None:
    """Decode every pixel now, so truncated or corrupt files fail here, not as grey areas."""
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError("The image is far too large to decode safely.") from error
    except Exception as error:  # OSError, SyntaxError, EOFError, zlib errors ... all mean "unreadable".
        raise ImageError(
            "The image could not be decoded completely: the file is truncated or corrupt. "
            "Please upload the complete file again."
        ) from error


def _to_standard_mode(image: Image.Image, notes: list[str]) -> Image.Image:
    """Convert to one of "L", "LA", "RGB", "RGBA" (8-bit) or "F" (float in [0, 1])."""
    mode = image.mode
    if mode in {"L", "LA", "RGB", "RGBA"}:
        return image
    if mode == "1":
        return image.convert("L")
    if mode in {"P", "PA"}:
        has_alpha = mode == "PA" or image.has_transparency_data
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "La":
        return image.convert("LA")
    if mode == "RGBa":
        return image.convert("RGBA")
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
        return image.convert("RGB")
    if mode in _SIXTEEN_BIT_MODES:
        notes.append("16-bit image scaled to 0-1")
        return _float_image(np.asarray(image, dtype=np.float32) / 65535.0)
    if mode in {"I", "F"}:
        return _float_image(_scale_wide_gray(np.asarray(image, dtype=np.float64), mode, notes))
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as error:
        raise ImageError(f"Images in colour mode {mode!r} are not supported.") from error


def _scale_wide_gray(values: np.ndarray, mode: str, notes: list[str]) -> np.ndarray:
    """Scale 32-bit integer ("I") or float ("F") grayscale pixels to [0, 1]."""
    if not np.all(np.isfinite(values)):
        raise ImageError("The image contains NaN or infinite pixel values.")
    low, high = float(values.min()), float(values.max())
    if mode == "F" and low >= 0.0 and high <= 1.0:
        return values.astype(np.float32)
    if mode == "I" and low >= 0.0 and high <= 65535.0:
        notes.append("16-bit image scaled to 0-1")
        return (values / 65535.0).astype(np.float32)
    kind = "32-bit integer" if mode == "I" else "Floating-point"
    notes.append(f"{kind} image rescaled from its range {low:g}..{high:g} to 0-1")
    if high == low:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _float_image(values: np.ndarray) -> Image.Image:
    return Image.fromarray(values.astype(np.float32))


def _apply_exif_orientation(
    image: Image.Image, stored_size: tuple[int, int], notes: list[str]
) -> tuple[Image.Image, tuple[int, int]]:
    """Rotate/flip as the camera's EXIF tag says; return the image and its upright full size."""
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        upright = ImageOps.exif_transpose(image)
    except Exception:  # Malformed EXIF blocks are common; the pixels are still fine.
        notes.append("The EXIF orientation could not be read: showing the image as stored")
        return image, stored_size
    if orientation not in {2, 3, 4, 5, 6, 7, 8}:
        return image, stored_size
    notes.append("Rotated upright using the camera's EXIF orientation")
    return upright, stored_size[::-1] if orientation in {5, 6, 7, 8} else stored_size


def _downscale(image: Image.Image, working_size: int, notes: list[str], full_size: tuple[int, int]) -> Image.Image:
    """Lanczos-resize so the long side is at most `working_size`; note any size change.

    `full_size` is the upright size before JPEG draft decoding, which may already
    have reduced the image.
    """
    width, height = image.size
    scale = min(1.0, working_size / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if target != image.size:
        image = image.resize(target, Image.Resampling.LANCZOS)
    if target != full_size:
        notes.append(
            f"Downscaled from {full_size[1]}x{full_size[0]} to {target[1]}x{target[0]} (height x width) working size"
        )
    return image


def _to_float_array(image: Image.Image, grayscale: bool, notes: list[str]) -> np.ndarray:
    if image.mode == "F":
        # Lanczos can overshoot slightly beyond the input range.
        pixels = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    else:
        pixels = np.asarray(image, dtype=np.float32) / np.float32(255.0)
    if image.mode in {"LA", "RGBA"}:
        alpha = pixels[..., -1:]
        colour = pixels[..., :-1]
        if np.any(alpha < 1.0):
            notes.append("Alpha channel flattened onto white")
        pixels = colour * alpha + (np.float32(1.0) - alpha)
        if image.mode == "LA":
            pixels = pixels[..., 0]
    return in_colour_mode(np.clip(pixels, 0.0, 1.0), grayscale=grayscale)


def fingerprint(*arrays: np.ndarray) -> str:
    """A digest of the arrays' shapes, types and every value: a cache key that never mixes two inputs up."""
    digest = hashlib.sha256()  # with the CPU's SHA instructions the fastest here: 4 MB in about 2 ms
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype.str}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:32]
