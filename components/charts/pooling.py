"""Plotly figures and their one-line captions for the Pooling page (no Streamlit here).

Maps are drawn as heatmaps (hover shows the exact value) while they are small, and above
`HEATMAP_LIMIT` values as one pixelated picture in the same colour scale, reduced (block means)
to about the size it is drawn at, so a 1024x1024 upload stays light. Rows run top to bottom, as
in the image. Figures are built from plain dicts in one go (plotly's add_*/update_* calls
validate property by property).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from components.charts.common import FONT, outline
from components.charts.filters import block_mean
from components.charts.pictures import colorize, picture_data_uri
from models.design.config import shape_text
from models.ops.pooling import Padding, PoolMode, pool2d, pool_repeatedly, shift_zero_fill, window_starts

HEATMAP_LIMIT = 64 * 64  # values; larger maps are sent as one picture
FIGURE_WIDTH = 900  # about the width in pixels of a chart across the main column
MAX_TEXT_CELLS = 12  # zoomed grids wider than this show values on hover only
MAX_LISTED_VALUES = 16  # larger windows are summarised instead of written out
WINDOW_COLOUR = "#1f77b4"
WINNER_COLOUR = "#ff7f0e"
SELECTED_COLOUR = "#d62728"
LABEL_FONT = dict(FONT, size=16, color="#111111")
CELL_FONT = dict(FONT, size=16)
TICK_FONT = dict(FONT, color="#333333")
MODE_WORDS = {"max": "largest", "avg": "average", "min": "smallest"}
MODE_NAMES = {"max": "max", "avg": "average", "min": "min"}


@dataclass(frozen=True, eq=False)
class Panel:
    """One map to draw: (H, W) or (H, W, 3); `value_range` None means the figure's shared range."""

    label: str
    values: np.ndarray
    value_range: tuple[float, float] | None = None
    colorscale: str = "gray"


def value_range(*arrays: np.ndarray) -> tuple[float, float]:
    """(low, high) over all arrays, widened to a non-empty interval for constant maps."""
    low = min(float(np.min(a)) for a in arrays)
    high = max(float(np.max(a)) for a in arrays)
    return (low, high) if high > low else (low, low + 1.0)


def _picture(values: np.ndarray, low: float, high: float, colorscale: str) -> np.ndarray:
    """uint8 picture of a map: a 2-D map in its colour scale as a heatmap paints it, an (H, W, 3) colour map with
    low..high stretched to black..white per channel."""
    if values.ndim == 2:
        painted = colorize(values, colorscale, low, high)
        return painted[..., 0] if colorscale == "gray" else painted  # one channel is a third of the bytes
    scaled = np.clip((np.asarray(values, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
    return np.rint(scaled * 255).astype(np.uint8)


def drawn_as_picture(*maps: np.ndarray) -> bool:
    """Whether `maps_figure` draws any of these maps as a picture (no hover values, maybe reduced)."""
    return any(m.ndim == 3 or m.size > HEATMAP_LIMIT for m in maps)


def _map_trace(panel: Panel, low: float, high: float, left: float, scale: float, screen: float) -> dict:
    """The panel's map with its top-left corner at (left, 0), each pixel `scale` units wide.

    `screen` is about how many screen pixels one unit is drawn as: a picture is reduced to about one of its
    pixels per screen pixel.
    """
    values = panel.values
    if not drawn_as_picture(values):
        return dict(
            type="heatmap",
            z=values,
            zmin=low,
            zmax=high,
            colorscale=panel.colorscale,
            showscale=False,
            hovertemplate=f"{panel.label}<br>value %{{z:.3f}}<extra></extra>",
            x0=left + scale / 2,
            dx=scale,
            y0=scale / 2,
            dy=scale,
        )
    factor = max(1, round(1 / (scale * screen)))
    step = scale * factor  # each shown pixel averages a factor x factor block
    picture = _picture(block_mean(values, factor), low, high, panel.colorscale)
    return dict(
        type="image",
        source=picture_data_uri(picture),
        zsmooth=False,
        hoverinfo="skip",
        x0=left + step / 2,
        dx=step,
        y0=step / 2,
        dy=step,
    )


def maps_figure(
    panels: Sequence[Panel], *, same_pixel_size: bool = True, height: int = 360, width: int = FIGURE_WIDTH
) -> go.Figure:
    """Maps left to right, labelled above, with square pixels.

    `same_pixel_size`: every pixel is drawn the same size, so a pooled map looks as small as it
    is; otherwise each map is scaled to the tallest map's height. Panels without their own
    `value_range` share one grey scale, so equal values look equal in every panel. `width` is about
    the chart's width on screen (pixels), for the resolution of maps drawn as pictures.
    """
    if not panels:
        raise ValueError("maps_figure needs at least one panel")
    tallest = max(p.values.shape[0] for p in panels)
    sharing = [p.values for p in panels if p.value_range is None]
    shared = value_range(*sharing) if sharing else (0.0, 1.0)
    gap, narrowest_slot = 0.12 * tallest, 0.6 * tallest  # small maps get room for their label
    scales = [1.0 if same_pixel_size else tallest / p.values.shape[0] for p in panels]
    slots = [max(p.values.shape[1] * scale, narrowest_slot) for p, scale in zip(panels, scales)]
    label_lines = max(p.label.count("<br>") + 1 for p in panels)
    top = 16 + 22 * label_lines
    screen = min((height - top - 5) / tallest, (width - 10) / (sum(slots) + gap * (len(panels) - 1)))
    data, annotations = [], []
    left = 0.0
    for panel, scale, slot in zip(panels, scales, slots):
        cols = panel.values.shape[1]
        low, high = panel.value_range or shared
        data.append(_map_trace(panel, low, high, left + (slot - cols * scale) / 2, scale, screen))
        annotations.append(
            dict(x=left + slot / 2, y=0, yshift=6, text=panel.label, showarrow=False, yanchor="bottom", font=LABEL_FONT)
        )
        left += slot + gap
    layout = dict(
        xaxis=dict(visible=False, range=[-gap / 4, left - gap * 0.75], constrain="domain", fixedrange=True),
        yaxis=dict(
            visible=False,
            range=[tallest, 0],
            scaleanchor="x",
            constrain="domain",
            constraintoward="top",
            fixedrange=True,
        ),
        annotations=annotations,
        height=height,
        margin=dict(l=5, r=5, t=top, b=5),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=False,
    )
    return go.Figure(data=data, layout=layout)


def repeated_figure(x: np.ndarray, times: int, pool: dict) -> go.Figure:
    """The map and `times` poolings of it in a row (pool2d's keyword arguments `pool`), all scaled to one height."""
    maps = [x, *pool_repeatedly(x, times, **pool)]
    return maps_figure(
        [
            Panel(f"{i}x: {shape_text(m.shape[:2])}" if i else f"Input {shape_text(m.shape[:2])}", m)
            for i, m in enumerate(maps)
        ],
        same_pixel_size=False,
        height=300,
    )


@dataclass(frozen=True)
class WindowView:
    """A block of `count` pooling windows whose top-left window is output cell `first`."""

    first: tuple[int, int]
    count: tuple[int, int]
    selected: tuple[int, int]


def window_view(out_shape: tuple[int, int], selected: tuple[int, int], size: int, stride: int) -> WindowView:
    """Up to 4 x 4 windows around `selected`, fewer when they would cover more than ~8 input pixels."""
    per_side = max(1, min(4, (8 - size) // stride + 1))
    count = (min(per_side, out_shape[0]), min(per_side, out_shape[1]))
    first = (
        int(np.clip(selected[0] - count[0] // 2, 0, out_shape[0] - count[0])),
        int(np.clip(selected[1] - count[1] // 2, 0, out_shape[1] - count[1])),
    )
    return WindowView(first=first, count=count, selected=selected)


def window_grid_figure(
    x2d: np.ndarray,
    view: WindowView,
    *,
    size: int,
    stride: int,
    padding: Padding,
    mode: PoolMode,
    decimals: int = 2,
    height: int = 640,
    pooled: np.ndarray | None = None,
) -> go.Figure:
    """Zoomed input cells with their values, each window outlined (blue), each max/min window's
    winning pixel boxed (orange), and beside it the pooled cells those windows produce.

    The window written out below the chart (`view.selected`) is outlined in red on both sides.
    """
    if pooled is None:  # `pooled`: pool2d of x2d with these settings, when the caller has it
        pooled = pool2d(x2d, size=size, stride=stride, mode=mode, padding=padding)
    row_starts = window_starts(x2d.shape[0], size, stride, padding)
    col_starts = window_starts(x2d.shape[1], size, stride, padding)
    (r0, c0), (nr, nc) = view.first, view.count
    out_rows, out_cols = range(r0, r0 + nr), range(c0, c0 + nc)
    top, left = row_starts[r0], col_starts[c0]
    bottom, right = row_starts[r0 + nr - 1] + size, col_starts[c0 + nc - 1] + size
    rows = np.arange(max(top, 0), min(bottom, x2d.shape[0]))
    cols = np.arange(max(left, 0), min(right, x2d.shape[1]))
    low, high = value_range(x2d)

    spacing = 0.08
    first_width = (1 - spacing) * (right - left) / (right - left + nc)
    text = f"%{{z:.{decimals}f}}" if max(rows.size, cols.size) <= MAX_TEXT_CELLS else None
    cells = dict(
        type="heatmap", zmin=low, zmax=high, colorscale="gray", showscale=False, texttemplate=text, textfont=CELL_FONT
    )
    data = [
        cells
        | dict(
            z=x2d[np.ix_(rows, cols)], x=cols, y=rows, hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"
        ),
        cells
        | dict(
            z=pooled[np.ix_(out_rows, out_cols)],
            x=list(out_cols),
            y=list(out_rows),
            xaxis="x2",
            yaxis="y2",
            hovertemplate="output row %{y}, column %{x}: %{z:.4f}<extra></extra>",
        ),
    ]

    windows, marks = [], []
    for r in out_rows:
        for c in out_cols:
            y0, x0 = row_starts[r] - 0.5, col_starts[c] - 0.5
            windows.append(outline(x0, y0, x0 + size, y0 + size, WINDOW_COLOUR, 3))
            if mode != "avg":
                wr, wc = _winner(x2d, row_starts[r], col_starts[c], size, mode)
                marks.append(outline(wc - 0.42, wr - 0.42, wc + 0.42, wr + 0.42, WINNER_COLOUR, 4))
    sr, sc = view.selected
    y0, x0 = row_starts[sr] - 0.5, col_starts[sc] - 0.5
    selected = [
        outline(x0, y0, x0 + size, y0 + size, SELECTED_COLOUR, 5),
        outline(sc - 0.5, sr - 0.5, sc + 0.5, sr + 0.5, SELECTED_COLOUR, 5, "2"),
    ]

    axis = dict(dtick=1, showgrid=False, zeroline=False, tickfont=TICK_FONT, fixedrange=True, constrain="domain")
    domains = ([0.0, first_width], [first_width + spacing, 1.0])
    titles = (
        f"Input, rows {rows[0]}-{rows[-1]}, columns {cols[0]}-{cols[-1]}",
        f"{MODE_WORDS[mode].capitalize()} of each window",
    )
    layout = dict(
        xaxis=axis | dict(domain=domains[0], anchor="y", side="top", range=[left - 0.5, right - 0.5]),
        yaxis=axis
        | dict(domain=[0.0, 1.0], anchor="x", range=[bottom - 0.5, top - 0.5], scaleanchor="x", constraintoward="top"),
        xaxis2=axis | dict(domain=domains[1], anchor="y2", side="top", range=[c0 - 0.5, c0 + nc - 0.5]),
        yaxis2=axis
        | dict(
            domain=[0.0, 1.0], anchor="x2", range=[r0 + nr - 0.5, r0 - 0.5], scaleanchor="x2", constraintoward="top"
        ),
        annotations=[
            dict(
                text=title,
                x=(a + b) / 2,
                y=1.0,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=LABEL_FONT,
                yshift=34,
            )
            for title, (a, b) in zip(titles, domains)
        ],
        shapes=windows + marks + selected,
        height=height,
        margin=dict(l=10, r=10, t=100, b=10),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=False,
    )
    return go.Figure(data=data, layout=layout)


def _winner(x2d: np.ndarray, top: int, left: int, size: int, mode: PoolMode) -> tuple[int, int]:
    """(row, col) of the pixel a max or min window keeps: on a tie the first in row-major order, padding never
    (what TensorFlow's `max_pool_with_argmax` picks), found in this one window rather than the whole map."""
    first_row, first_col = max(top, 0), max(left, 0)
    window = x2d[first_row : top + size, first_col : left + size]
    row, col = divmod(int(window.argmax() if mode == "max" else window.argmin()), window.shape[1])
    return first_row + row, first_col + col


def window_equation(
    x2d: np.ndarray,
    cell: tuple[int, int],
    *,
    size: int,
    stride: int,
    padding: Padding,
    mode: PoolMode,
    decimals: int = 2,
    pooled: np.ndarray | None = None,
) -> str:
    """The selected window's arithmetic, e.g. "max(0.00, 0.47, 0.82, 0.31) = 0.82".

    Cells in the 'same' padding are left out (TensorFlow ignores them), so an edge window
    may hold fewer values; windows of more than `MAX_LISTED_VALUES` are summarised
    ("max of 25 values = 0.82").
    """
    r, c = cell
    top = window_starts(x2d.shape[0], size, stride, padding)[r]
    left = window_starts(x2d.shape[1], size, stride, padding)[c]
    values = x2d[max(top, 0) : top + size, max(left, 0) : left + size].ravel()
    if pooled is None:  # as in window_grid_figure
        pooled = pool2d(x2d, size=size, stride=stride, mode=mode, padding=padding)
    result = pooled[r, c]
    if values.size > MAX_LISTED_VALUES:
        return f"{mode} of {values.size} values = {result:.{decimals}f}"
    listed = ", ".join(f"{v:.{decimals}f}" for v in values)
    if mode == "avg":
        return f"({listed.replace(', ', ' + ')}) / {values.size} = {result:.{decimals}f}"
    return f"{mode}({listed}) = {result:.{decimals}f}"


def pooling_sentence(
    in_shape: tuple[int, int], out_shape: tuple[int, int], *, size: int, stride: int, mode: PoolMode
) -> str:
    """E.g. "2x2 max pooling keeps the largest of each 4 values: 26x26 -> 13x13, a quarter of the pixels"."""
    fraction = out_shape[0] * out_shape[1] / (in_shape[0] * in_shape[1])
    named = {
        1.0: "all of the pixels",
        0.5: "half of the pixels",
        0.25: "a quarter of the pixels",
        1 / 9: "a ninth of the pixels",
        1 / 16: "a sixteenth of the pixels",
    }
    kept = next(
        (words for value, words in named.items() if np.isclose(fraction, value)), f"{fraction:.1%} of the pixels"
    )
    step = "" if stride == size else f" (windows move {stride} pixel{'s' * (stride != 1)} at a time)"
    return (
        f"{size}x{size} {MODE_NAMES[mode]} pooling keeps the {MODE_WORDS[mode]} of each {size * size} "
        f"values{step}: {in_shape[0]}x{in_shape[1]} -> {out_shape[0]}x{out_shape[1]}, {kept}"
    )


def shift_figure(
    x2d: np.ndarray,
    shift: tuple[int, int],
    pool: dict | None = None,
    *,
    height: int = 300,
    pooled: np.ndarray | None = None,
    moved_cells: tuple[int, int] | None = None,
) -> go.Figure:
    """[original, shifted, |difference|] of the map (no `pool`), or of the pooled maps (pool2d's keyword arguments;
    `pooled` is pool2d of x2d when the caller has it). The shift fills with zeros, as `shift_sensitivity` does;
    the difference uses the original map's value range, so the two rows' reds compare directly. With
    `moved_cells`, two more panels: the pooled original moved by that many cells, and its |difference| to the
    pooled shifted map."""
    shifted = shift_zero_fill(np.asarray(x2d), *shift)
    if pool is None:
        original, changed = x2d, shifted
    else:
        original, changed = pool2d(x2d, **pool) if pooled is None else pooled, pool2d(shifted, **pool)
    low, high = value_range(x2d)
    what, moved = "Feature map" if pool is None else "Pooled", f"moved ({shift[0]:+d}, {shift[1]:+d}) px"
    reds = (0.0, high - low)
    panels = [
        Panel(f"{what} {shape_text(original.shape)}", original),
        Panel(f"{what}, {moved}", changed),
        Panel("|difference|", np.abs(changed - original), reds, "Reds"),
    ]
    if pool is not None and moved_cells is not None:
        cells = shift_zero_fill(np.asarray(original), *moved_cells)
        panels += [
            Panel(f"Pooled, moved ({moved_cells[0]:+d}, {moved_cells[1]:+d}) cells", cells),
            Panel("|difference|", np.abs(changed - cells), reds, "Reds"),
        ]
    return maps_figure(panels, same_pixel_size=False, height=height)
