"""Plotly figures and their one-line captions for the Pooling page (no Streamlit here).

Maps are drawn as heatmaps (hover shows the exact value) while they are small, and as a
pixelated PNG above `HEATMAP_LIMIT` values so a 1024x1024 upload stays light in the browser.
Rows run top to bottom, as in the image.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots
from scipy import ndimage

from components.charts import FONT
from components.pooling import PoolMode, Padding, output_shape, pool2d, pool_with_argmax

HEATMAP_LIMIT = 40_000  # values; larger maps are sent as one PNG image
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


def _png_uri(values: np.ndarray, low: float, high: float) -> str:
    scaled = np.clip((np.asarray(values, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
    buffer = io.BytesIO()
    Image.fromarray(np.rint(scaled * 255).astype(np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _map_trace(panel: Panel, low: float, high: float, left: float, scale: float) -> go.BaseTraceType:
    """The panel's map with its top-left corner at (left, 0), each pixel `scale` units wide."""
    values = panel.values
    place = dict(x0=left + scale / 2, dx=scale, y0=scale / 2, dy=scale)
    if values.ndim == 2 and values.size <= HEATMAP_LIMIT:
        return go.Heatmap(z=values, zmin=low, zmax=high, colorscale=panel.colorscale, showscale=False,
                          hovertemplate=f"{panel.label}<br>value %{{z:.3f}}<extra></extra>", **place)
    return go.Image(source=_png_uri(values, low, high), zsmooth=False, hoverinfo="skip", **place)


def maps_figure(panels: Sequence[Panel], *, same_pixel_size: bool = True, height: int = 360) -> go.Figure:
    """Maps left to right, labelled above, with square pixels.

    `same_pixel_size`: every pixel is drawn the same size, so a pooled map looks as small as it
    is; otherwise each map is scaled to the tallest map's height. Panels without their own
    `value_range` share one grey scale, so equal values look equal in every panel.
    """
    if not panels:
        raise ValueError("maps_figure needs at least one panel")
    tallest = max(p.values.shape[0] for p in panels)
    sharing = [p.values for p in panels if p.value_range is None]
    shared = value_range(*sharing) if sharing else (0.0, 1.0)
    gap, narrowest_slot = 0.12 * tallest, 0.6 * tallest  # small maps get room for their label
    fig = go.Figure()
    left = 0.0
    for panel in panels:
        rows, cols = panel.values.shape[:2]
        scale = 1.0 if same_pixel_size else tallest / rows
        slot = max(cols * scale, narrowest_slot)
        low, high = panel.value_range or shared
        fig.add_trace(_map_trace(panel, low, high, left + (slot - cols * scale) / 2, scale))
        fig.add_annotation(x=left + slot / 2, y=0, yshift=6, text=panel.label, showarrow=False,
                           yanchor="bottom", font=LABEL_FONT)
        left += slot + gap
    fig.update_xaxes(visible=False, range=[-gap / 4, left - gap * 0.75], constrain="domain", fixedrange=True)
    fig.update_yaxes(visible=False, range=[tallest, 0], scaleanchor="x", constrain="domain", constraintoward="top",
                     fixedrange=True)
    label_lines = max(p.label.count("<br>") + 1 for p in panels)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=16 + 22 * label_lines, b=5), font=FONT,
                      plot_bgcolor="white", paper_bgcolor="white", showlegend=False)
    return fig


@dataclass(frozen=True)
class WindowView:
    """A block of `count` pooling windows whose top-left window is output cell `first`."""

    first: tuple[int, int]
    count: tuple[int, int]
    selected: tuple[int, int]


def window_starts(length: int, size: int, stride: int, padding: Padding) -> np.ndarray:
    """Input index where each window starts along one axis (negative: it begins in the padding).

    TensorFlow puts the smaller half of 'same' padding before the map.
    """
    out = output_shape(length, 1, (size, 1), (stride, 1), padding)[0]
    before = max((out - 1) * stride + size - length, 0) // 2 if padding == "same" else 0
    return np.arange(out) * stride - before


def window_view(out_shape: tuple[int, int], selected: tuple[int, int], size: int, stride: int) -> WindowView:
    """Up to 4 x 4 windows around `selected`, fewer when they would cover more than ~8 input pixels."""
    per_side = max(1, min(4, (8 - size) // stride + 1))
    count = (min(per_side, out_shape[0]), min(per_side, out_shape[1]))
    first = tuple(int(np.clip(s - c // 2, 0, n - c)) for s, c, n in zip(selected, count, out_shape))
    return WindowView(first=first, count=count, selected=selected)


def _rect(x0: float, y0: float, x1: float, y1: float, colour: str, width: float, axes: str = "") -> dict:
    return dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, xref=f"x{axes}", yref=f"y{axes}",
                line=dict(color=colour, width=width), fillcolor="rgba(0,0,0,0)", layer="above")


def window_grid_figure(
    x2d: np.ndarray, view: WindowView, *, size: int, stride: int, padding: Padding, mode: PoolMode,
    decimals: int = 2, height: int = 640,
) -> go.Figure:
    """Zoomed input cells with their values, each window outlined (blue), each max/min window's
    winning pixel boxed (orange), and beside it the pooled cells those windows produce.

    The window written out below the chart (`view.selected`) is outlined in red on both sides.
    """
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

    fig = make_subplots(rows=1, cols=2, column_widths=[right - left, nc], horizontal_spacing=0.08,
                        subplot_titles=(f"Input, rows {rows[0]}-{rows[-1]}, columns {cols[0]}-{cols[-1]}",
                                        f"{MODE_WORDS[mode].capitalize()} of each window"))
    text = f"%{{z:.{decimals}f}}" if max(rows.size, cols.size) <= MAX_TEXT_CELLS else None
    fig.add_trace(go.Heatmap(z=x2d[np.ix_(rows, cols)], x=cols, y=rows, zmin=low, zmax=high, colorscale="gray",
                             showscale=False, texttemplate=text, textfont=CELL_FONT,
                             hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=pooled[np.ix_(out_rows, out_cols)], x=list(out_cols), y=list(out_rows), zmin=low,
                             zmax=high, colorscale="gray", showscale=False, texttemplate=text, textfont=CELL_FONT,
                             hovertemplate="output row %{y}, column %{x}: %{z:.4f}<extra></extra>"), row=1, col=2)

    winners = pool_with_argmax(x2d, size=size, stride=stride, padding=padding, mode=mode)[1] if mode != "avg" else None
    windows, marks = [], []
    for r in out_rows:
        for c in out_cols:
            y0, x0 = row_starts[r] - 0.5, col_starts[c] - 0.5
            windows.append(_rect(x0, y0, x0 + size, y0 + size, WINDOW_COLOUR, 3))
            if winners is not None:
                wr, wc = winners[r, c]
                marks.append(_rect(wc - 0.42, wr - 0.42, wc + 0.42, wr + 0.42, WINNER_COLOUR, 4))
    sr, sc = view.selected
    y0, x0 = row_starts[sr] - 0.5, col_starts[sc] - 0.5
    selected = [_rect(x0, y0, x0 + size, y0 + size, SELECTED_COLOUR, 5),
                _rect(sc - 0.5, sr - 0.5, sc + 0.5, sr + 0.5, SELECTED_COLOUR, 5, "2")]
    fig.update_layout(shapes=windows + marks + selected)  # one call: adding shapes one by one is ~5 ms each

    fig.update_xaxes(range=[left - 0.5, right - 0.5], row=1, col=1)
    fig.update_yaxes(range=[bottom - 0.5, top - 0.5], scaleanchor="x", row=1, col=1)
    fig.update_xaxes(range=[c0 - 0.5, c0 + nc - 0.5], row=1, col=2)
    fig.update_yaxes(range=[r0 + nr - 0.5, r0 - 0.5], scaleanchor="x2", row=1, col=2)
    fig.update_xaxes(side="top", dtick=1, showgrid=False, zeroline=False, tickfont=TICK_FONT, fixedrange=True,
                     constrain="domain")
    fig.update_yaxes(dtick=1, showgrid=False, zeroline=False, tickfont=TICK_FONT, fixedrange=True, constrain="domain",
                     constraintoward="top")
    fig.update_annotations(font=LABEL_FONT, yshift=34)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=100, b=10), font=FONT, plot_bgcolor="white",
                      paper_bgcolor="white", showlegend=False)
    return fig


def window_equation(
    x2d: np.ndarray, cell: tuple[int, int], *, size: int, stride: int, padding: Padding, mode: PoolMode,
    decimals: int = 2,
) -> str:
    """The selected window's arithmetic, e.g. "max(0.00, 0.47, 0.82, 0.31) = 0.82".

    Cells in the 'same' padding are left out (TensorFlow ignores them), so an edge window
    may hold fewer values; windows of more than `MAX_LISTED_VALUES` are summarised
    ("max of 25 values = 0.82").
    """
    r, c = cell
    top = window_starts(x2d.shape[0], size, stride, padding)[r]
    left = window_starts(x2d.shape[1], size, stride, padding)[c]
    values = x2d[max(top, 0): top + size, max(left, 0): left + size].ravel()
    result = pool2d(x2d, size=size, stride=stride, mode=mode, padding=padding)[r, c]
    if values.size > MAX_LISTED_VALUES:
        return f"{mode} of {values.size} values = {result:.{decimals}f}"
    listed = ", ".join(f"{v:.{decimals}f}" for v in values)
    if mode == "avg":
        return f"({listed.replace(', ', ' + ')}) / {values.size} = {result:.{decimals}f}"
    return f"{mode}({listed}) = {result:.{decimals}f}"


def pooling_sentence(in_shape: tuple[int, int], out_shape: tuple[int, int], *, size: int, stride: int,
                     mode: PoolMode) -> str:
    """E.g. "2x2 max pooling keeps the largest of each 4 values: 26x26 -> 13x13, a quarter of the pixels"."""
    fraction = out_shape[0] * out_shape[1] / (in_shape[0] * in_shape[1])
    named = {1.0: "all of the pixels", 0.5: "half of the pixels", 0.25: "a quarter of the pixels",
             1 / 9: "a ninth of the pixels", 1 / 16: "a sixteenth of the pixels"}
    kept = next((words for value, words in named.items() if np.isclose(fraction, value)),
                f"{fraction:.1%} of the pixels")
    step = "" if stride == size else f" (windows move {stride} pixel{'s' * (stride != 1)} at a time)"
    return (f"{size}x{size} {MODE_NAMES[mode]} pooling keeps the {MODE_WORDS[mode]} of each {size * size} "
            f"values{step}: {in_shape[0]}x{in_shape[1]} -> {out_shape[0]}x{out_shape[1]}, {kept}")


def shift_figures(
    x2d: np.ndarray, shift: tuple[int, int], *, size: int, stride: int, mode: PoolMode, padding: Padding,
    height: int = 300,
) -> tuple[go.Figure, go.Figure]:
    """Two rows of [original, shifted, |difference|]: the map itself, then the pooled maps.

    The shift fills with zeros, as `shift_sensitivity` does; both difference panels use the
    original map's value range, so their reds compare directly.
    """
    shifted = ndimage.shift(x2d, shift, order=0, mode="constant", cval=0.0)
    pooled, pooled_shifted = (pool2d(m, size=size, stride=stride, mode=mode, padding=padding) for m in (x2d, shifted))
    low, high = value_range(x2d)
    difference_range = (0.0, high - low)
    moved = f"moved ({shift[0]:+d}, {shift[1]:+d})"
    figures = []
    for what, original, changed in (("Feature map", x2d, shifted), ("Pooled", pooled, pooled_shifted)):
        panels = [Panel(f"{what} {original.shape[0]}x{original.shape[1]}", original),
                  Panel(f"{what}, {moved}", changed),
                  Panel("|difference|", np.abs(changed - original), difference_range, "Reds")]
        figures.append(maps_figure(panels, same_pixel_size=False, height=height))
    return figures[0], figures[1]
