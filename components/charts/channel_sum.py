"""Plotly figures for the Deeper page's Channel sum: one filter of a deeper conv layer, channel by channel.

Pure plotting from NumPy arrays. The 64 input maps, the 64 kernel slices and the 64 partial maps are each one small
tiled PNG (components/charts/pictures.py), with one invisible hover cell per tile naming its channel; the sum and its
activation are small heat maps with an invisible marker on every pixel, so a click selects that output pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from components.charts.common import FONT
from components.charts.inspect import ACTIVATION_SCALE, WEIGHT_SCALE
from components.charts.pictures import colorize, picture_data_uri, tile

TEXT = FONT  # 15 px: presentation mode's chart text size (components.presentation.CHART_TEXT_PX)
HOVER = dict(font=TEXT)
GAP = (200, 200, 200)  # light grey between tiles: white is 0 on the red/blue scale
MARK = "#00c853"  # the selected pixel and its window: green, apart from red, blue and the inferno colours
POSITIVE, NEGATIVE, REST, BIAS, TOTAL = "#c62828", "#1565c0", "#bdbdbd", "#757575", "#111111"


def grid_columns(channels: int) -> int:
    """Tiles per row of a channel grid: near square (8 for 64 channels)."""
    return max(1, math.ceil(math.sqrt(channels)))


def _symmetric(values: np.ndarray) -> tuple[float, float]:
    peak = float(np.abs(values).max())
    peak = peak if peak > 0 else 1.0
    return -peak, peak


def _panel(index: int, widths: Sequence[float], gap: float = 0.04) -> tuple[dict, dict]:
    """x and y axes of panel `index` of panels side by side (`widths` their relative widths): square pixels, row 0
    at the top, no ticks."""
    scale = (1 - gap * (len(widths) - 1)) / sum(widths)
    left = sum(widths[:index]) * scale + gap * index
    suffix = "" if index == 0 else str(index + 1)
    x = dict(domain=[left, left + widths[index] * scale], visible=False, constrain="domain", anchor=f"y{suffix}")
    y = dict(
        domain=[0.0, 0.9],
        visible=False,
        autorange="reversed",
        scaleanchor=f"x{suffix}",
        constrain="domain",
        anchor=f"x{suffix}",
    )
    return x, y


def _title(text: str, axis: dict) -> dict:
    low, high = axis["domain"]
    return dict(
        text=text,
        x=(low + high) / 2,
        y=0.93,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        showarrow=False,
        font=TEXT,
    )


def channel_grids_figure(
    inputs: np.ndarray,
    kernel: np.ndarray,
    partials: np.ndarray,
    window: tuple[int, int, int, int],
    pixel: tuple[int, int],
    *,
    input_layer: str,
    channels: Sequence[int],
    height: int = 300,
) -> go.Figure:
    """Three tiled grids side by side: the input maps (H_in, W_in, C), the kernel's slices (kh, kw, C) and the
    partial maps (C, H_out, W_out), channel c in the same place in each.

    `window` (top, left, bottom, right) is the selected pixel's input window, outlined on every input map, and
    `pixel` (row, col) that pixel, marked on every partial map. Each grid has one colour scale for all its tiles,
    so strong channels stand out: inputs black to yellow from 0; kernels and partials blue negative, red positive.
    """
    count = partials.shape[0]
    per_row = grid_columns(count)
    blocks: tuple[tuple[str, np.ndarray, str | list, tuple[float, float]], ...] = (
        ("input maps", np.moveaxis(inputs, -1, 0), ACTIVATION_SCALE, (0.0, max(float(inputs.max()), 1e-6))),
        ("kernel slices", np.moveaxis(kernel, -1, 0), WEIGHT_SCALE, _symmetric(kernel)),
        ("partial maps", partials, WEIGHT_SCALE, _symmetric(partials)),
    )
    data: list[dict] = []
    layout: dict = {}
    annotations = []
    shapes = []
    row, col = pixel
    for index, (name, stack, scale, (low, high)) in enumerate(blocks):
        x_axis, y_axis = _panel(index, (1.0, 0.7, 1.0))
        suffix = "" if index == 0 else str(index + 1)
        layout[f"xaxis{suffix}"], layout[f"yaxis{suffix}"] = x_axis, y_axis
        refs = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        height_px, width_px = stack.shape[1:]
        canvas = tile(stack.astype(np.float32), per_row)
        data.append(
            dict(
                type="image",
                source=picture_data_uri(colorize(canvas, scale, low, high, gap=GAP), lossless=True),
                hoverinfo="skip",
                **refs,
            )
        )
        rows = -(-count // per_row)
        owner = np.full(rows * per_row, np.nan)
        owner[:count] = channels
        peaks = np.full(rows * per_row, np.nan)
        peaks[:count] = np.abs(stack).max(axis=(1, 2))
        data.append(
            dict(
                type="heatmap",
                z=owner.reshape(rows, per_row),
                customdata=peaks.reshape(rows, per_row),
                x0=(width_px - 1) / 2,
                dx=width_px + 1,
                y0=(height_px - 1) / 2,
                dy=height_px + 1,
                opacity=0,
                showscale=False,
                hoverongaps=False,
                hovertemplate=f"{name}: channel %{{z}}<br>largest |value| %{{customdata:.3f}}<extra></extra>",
                **refs,
            )
        )
        what = {0: f"{count} input maps ({input_layer})", 1: f"{count} kernel slices", 2: f"{count} partial maps"}
        annotations.append(_title(what[index], x_axis))
        for c in range(count):
            top, left = (c // per_row) * (height_px + 1), (c % per_row) * (width_px + 1)
            if index == 0:
                r0, c0, r1, c1 = window
                box = (top + max(r0, 0) - 0.5, left + max(c0, 0) - 0.5)
                far = (top + min(r1, height_px - 1) + 0.5, left + min(c1, width_px - 1) + 0.5)
            elif index == 2:
                box, far = (top + row - 0.5, left + col - 0.5), (top + row + 0.5, left + col + 0.5)
            else:
                continue
            shapes.append(
                dict(
                    type="rect",
                    xref=f"x{suffix}",
                    yref=f"y{suffix}",
                    x0=box[1],
                    y0=box[0],
                    x1=far[1],
                    y1=far[0],
                    line=dict(color=MARK, width=1),
                )
            )
    layout.update(_frame(height, annotations, shapes))
    return go.Figure(data=data, layout=layout)


def sum_figure(
    pre_activation: np.ndarray,
    output: np.ndarray,
    pixel: tuple[int, int],
    *,
    layer: str,
    activation: str,
    channels: int,
    height: int = 380,
) -> go.Figure:
    """The pre-activation (the partial maps' sum plus the bias) beside the layer's output after its activation,
    the selected `pixel` (row, col) outlined on both. Every pixel carries an invisible marker, so clicking it
    selects it (`clicked_pixel` reads the selection back)."""
    out_h, out_w = pre_activation.shape
    rows, cols = np.divmod(np.arange(out_h * out_w), out_w)
    plot_px = height - 60
    marker = max(6, int(0.9 * plot_px / max(out_h, out_w)))
    low, high = float(output.min()), float(output.max())
    panels = (
        (f"sum of the {channels} partial maps + bias", pre_activation, WEIGHT_SCALE, _symmetric(pre_activation)),
        (f"after {activation} ({layer}'s output)", output, ACTIVATION_SCALE, (low, high if high > low else low + 1e-6)),
    )
    data: list[dict] = []
    layout: dict = {}
    annotations, shapes = [], []
    for index, (name, values, scale, (zmin, zmax)) in enumerate(panels):
        x_axis, y_axis = _panel(index, (1.0, 1.0), gap=0.12)
        suffix = "" if index == 0 else str(index + 1)
        layout[f"xaxis{suffix}"], layout[f"yaxis{suffix}"] = x_axis, y_axis
        refs = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        data.append(
            dict(
                type="heatmap",
                z=np.asarray(values, dtype=np.float32),
                colorscale=scale,
                zmin=zmin,
                zmax=zmax,
                hoverinfo="skip",
                colorbar=dict(x=x_axis["domain"][1] + 0.01, len=0.9, y=0.45, thickness=12, tickfont=TEXT),
                **refs,
            )
        )
        data.append(
            dict(
                type="scatter",
                x=cols,
                y=rows,
                mode="markers",
                marker=dict(symbol="square", size=marker, color="rgba(0,0,0,0)"),
                customdata=np.asarray(values, dtype=np.float32).ravel(),
                hovertemplate=f"row %{{y}}, column %{{x}}<br>{name}: %{{customdata:.4f}}<br>click to take it apart"
                "<extra></extra>",
                showlegend=False,
                selected=dict(marker=dict(color="rgba(0,0,0,0)")),
                unselected=dict(marker=dict(opacity=0)),
                **refs,
            )
        )
        annotations.append(_title(name, x_axis))
        row, col = pixel
        shapes.append(
            dict(
                type="rect",
                xref=f"x{suffix}",
                yref=f"y{suffix}",
                x0=col - 0.5,
                x1=col + 0.5,
                y0=row - 0.5,
                y1=row + 0.5,
                line=dict(color=MARK, width=3),
            )
        )
    layout.update(_frame(height, annotations, shapes, right=40), clickmode="event+select")
    return go.Figure(data=data, layout=layout)


def clicked_pixel(point: dict) -> tuple[int, int]:
    """(row, col) of a point selected on `sum_figure` (its markers sit at x = column, y = row)."""
    return int(round(float(point["y"]))), int(round(float(point["x"])))


def contributions_figure(
    contributions: np.ndarray, channels: Sequence[int], bias: float, total: float, *, shown: int = 12
) -> go.Figure:
    """The `shown` input channels that contribute most (in size) to one output pixel, largest first (red positive,
    blue negative), then the other channels' sum, the bias and the total they add up to (the pre-activation)."""
    order = np.argsort(-np.abs(contributions), kind="stable")
    top, rest = order[:shown], order[shown:]
    labels = [f"channel {channels[c]}" for c in top]
    values = [float(contributions[c]) for c in top]
    hover = [f"channel {channels[c]}: {contributions[c]:+.4f}" for c in top]
    colours = [POSITIVE if v >= 0 else NEGATIVE for v in values]
    if rest.size:
        labels.append(f"the other {rest.size}")
        values.append(float(contributions[rest].sum()))
        hover.append(
            f"the other {rest.size} channels together: {contributions[rest].sum():+.4f}<br>"
            f"each between {contributions[rest].min():+.4f} and {contributions[rest].max():+.4f}"
        )
        colours.append(REST)
    labels += ["bias", "total"]
    values += [bias, total]
    hover += [f"the filter's bias: {bias:+.4f}", f"contributions + bias = pre-activation: {total:+.4f}"]
    colours += [BIAS, TOTAL]
    bar = dict(
        type="bar",
        orientation="h",
        y=labels,
        x=values,
        marker=dict(color=colours),
        text=[f"{v:+.3f}" for v in values],
        textposition="outside",
        textfont=TEXT,
        cliponaxis=False,
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    )
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    pad = 0.25 * (high - low if high > low else 1.0)
    layout = dict(
        height=26 * len(labels) + 70,
        margin=dict(l=10, r=10, t=10, b=10),
        yaxis=dict(type="category", autorange="reversed", tickfont=TEXT),
        xaxis=dict(
            title=dict(text="contribution to the pre-activation", font=TEXT),
            tickfont=TEXT,
            range=[low - pad, high + pad],
            zeroline=True,
            zerolinecolor="#444",
        ),
        hoverlabel=HOVER,
        plot_bgcolor="white",
        paper_bgcolor="white",
        font=TEXT,
        bargap=0.2,
        dragmode=False,
    )
    return go.Figure(data=[bar], layout=layout)


def _frame(height: int, annotations: list, shapes: list, right: int = 5) -> dict:
    """What the grid and sum figures share: size, margins, titles, markers, hover and a still, white frame."""
    return dict(
        height=height,
        margin=dict(l=5, r=right, t=10, b=5),
        annotations=annotations,
        shapes=shapes,
        hoverlabel=HOVER,
        plot_bgcolor="white",
        paper_bgcolor="white",
        font=TEXT,
        dragmode=False,
    )
