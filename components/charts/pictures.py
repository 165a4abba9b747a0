"""Arrays as the pictures charts draw: colour-mapped as Plotly would, encoded as PNG or JPEG data URIs."""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image

LOSSLESS_PIXELS = 128 * 128  # pictures up to this size are sent as PNG, larger ones as JPEG
COLOUR_LEVELS = 1024  # colour-scale resolution of `colorize`: finer than the 8-bit colours it produces


def colorize(
    values: np.ndarray, colorscale: str | list, low: float, high: float, gap: tuple[int, int, int] | None = None
) -> np.ndarray:
    """uint8 RGB picture of a 2-D array as a Plotly heatmap with this colour scale and zmin/zmax draws it.

    Values are clipped to [low, high] and mapped linearly onto the scale's stops, each colour channel
    interpolated between stops as Plotly does. NaN cells get the colour `gap`, or without one become
    transparent (the result is then RGBA).
    """
    hashable = (
        colorscale
        if isinstance(colorscale, str)
        else tuple(stop if isinstance(stop, str) else tuple(stop) for stop in colorscale)
    )
    table = _colour_table(hashable)
    array = np.asarray(values, dtype=np.float32)
    span = high - low if high > low else 1.0
    finite = np.isfinite(array)
    scaled = np.clip((np.where(finite, array, low) - low) / span, 0.0, 1.0)
    picture = table[np.rint(scaled * (COLOUR_LEVELS - 1)).astype(np.intp)]
    if finite.all():
        return picture
    if gap is not None:
        picture[~finite] = gap
        return picture
    return np.concatenate([picture, np.where(finite, 255, 0).astype(np.uint8)[..., None]], axis=-1)


@functools.lru_cache(maxsize=32)
def _colour_table(colorscale: str | tuple) -> np.ndarray:
    """(COLOUR_LEVELS, 3) uint8 colours evenly spread over a Plotly colour scale (a name, [position, colour]
    pairs or evenly spaced colours); read-only, shared by every caller."""
    from plotly.colors import get_colorscale, unlabel_rgb, validate_colors  # plotly only where charts need it

    scale = get_colorscale(colorscale) if isinstance(colorscale, str) else list(colorscale)
    if isinstance(scale[0], str):  # a plain list of colours, evenly spaced
        scale = [[i / (len(scale) - 1), colour] for i, colour in enumerate(scale)]
    positions = np.array([float(stop) for stop, _ in scale])
    colours = np.array(
        [unlabel_rgb(c) for c in validate_colors([c for _, c in scale], colortype="rgb")], dtype=np.float64
    )
    levels = np.linspace(0.0, 1.0, COLOUR_LEVELS)
    table = np.rint(np.stack([np.interp(levels, positions, colours[:, c]) for c in range(3)], axis=1)).astype(np.uint8)
    table.setflags(write=False)
    return table


def picture_data_uri(picture: np.ndarray, *, lossless: bool = False) -> str:
    """A uint8 (H, W), (H, W, 3) or (H, W, 4) picture as a data URI for a Plotly image's `source`.

    Small pictures and those with transparency are PNG. Large ones are JPEG at quality 85 without
    chroma subsampling, so thin red and blue lines side by side keep their colours: a photo-like
    512 x 512 map is about a fifth of its PNG size, and charts show it at about its own size. `lossless`
    keeps PNG for a picture drawn enlarged (e.g. a grid of 26x26 maps), where JPEG would blur the edges.
    """
    array = np.ascontiguousarray(picture)
    buffer = io.BytesIO()
    if lossless or array.ndim == 3 and array.shape[2] == 4 or array.shape[0] * array.shape[1] <= LOSSLESS_PIXELS:
        Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
        kind = "png"
    else:
        Image.fromarray(array).save(buffer, format="JPEG", quality=85, subsampling=0)
        kind = "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def tile(arrays: np.ndarray, columns: int, fill: object = np.nan, gap: int = 1) -> np.ndarray:
    """Lay (n, h, w) arrays out row by row in a grid `columns` wide, `gap` cells of `fill` between them."""
    arrays = np.asarray(arrays)
    count, height, width = arrays.shape
    rows = -(-count // columns)
    dtype = object if arrays.dtype == object else np.result_type(arrays.dtype, np.asarray(fill).dtype)
    tiled = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), fill, dtype=dtype)
    for index, array in enumerate(arrays):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        tiled[top : top + height, left : left + width] = array
    return tiled
