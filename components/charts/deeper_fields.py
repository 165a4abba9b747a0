"""Plotly figures for the Deeper page's Receptive fields tab: a layer's map to click, and the input image and the
unit's gradient with the square of pixels the unit sees drawn on both. No Streamlit here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from components.charts.common import FONT
from components.charts.inspect import ACTIVATION_SCALE, WEIGHT_SCALE

SQUARE = dict(color="#00c853", width=3)  # the unit's field: green on gray, on black and on red/blue
OUTSIDE = dict(color="#00c853", width=2, dash="dot")  # the part of the field past the image edge
HEIGHT = 270  # px: the columns are about 200-230 px wide, so the square plot area fills the figure


def _layout(title: str, rows: int, cols: int) -> dict:
    return dict(
        title=dict(text=title, font=dict(FONT, size=15), x=0.5, xanchor="center"),
        font=FONT,
        height=HEIGHT,
        margin=dict(l=4, r=4, t=36, b=4),
        xaxis=dict(range=[-0.5, cols - 0.5], showticklabels=False, showgrid=False, zeroline=False, fixedrange=True),
        yaxis=dict(
            range=[rows - 0.5, -0.5],
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            fixedrange=True,
            scaleanchor="x",
        ),
        plot_bgcolor="#ffffff",
        dragmode=False,
    )


def _rect(rows: tuple[int, int], cols: tuple[int, int], line: dict) -> dict:
    return dict(
        type="rect", x0=cols[0] - 0.5, x1=cols[1] + 0.5, y0=rows[0] - 0.5, y1=rows[1] + 0.5, line=line, layer="above"
    )


def _squares(seen: tuple[tuple[int, int], tuple[int, int]], field: tuple[tuple[int, int], tuple[int, int]]) -> list:
    """The seen square (solid) and, when the image edge clips it, the whole field (dotted)."""
    shapes = [_rect(*seen, SQUARE)]
    if seen != field:
        shapes.append(_rect(*field, OUTSIDE))
    return shapes


def map_figure(values: np.ndarray, selected: tuple[int, int], title: str) -> go.Figure:
    """A layer's (h, w) map with the selected unit outlined; an invisible marker on every unit makes it clickable
    (Plotly heat maps are not selectable): point i is unit divmod(i, w)."""
    rows, cols = values.shape
    row_index, col_index = np.divmod(np.arange(rows * cols), cols)
    data = [
        dict(type="heatmap", z=values, colorscale=ACTIVATION_SCALE, showscale=False, hoverinfo="skip"),
        dict(
            type="scatter",
            x=col_index,
            y=row_index,
            mode="markers",
            marker=dict(symbol="square", size=max(4, (HEIGHT - 40) // max(rows, cols) - 1), color="rgba(0,0,0,0)"),
            hovertemplate="row %{y}, column %{x}<br>click to pick this unit<extra></extra>",
            showlegend=False,
            selected=dict(marker=dict(color="rgba(0,0,0,0)")),
            unselected=dict(marker=dict(opacity=0)),
        ),
    ]
    layout = _layout(title, rows, cols)
    layout["shapes"] = [_rect((selected[0], selected[0]), (selected[1], selected[1]), SQUARE)]
    return go.Figure(data=data, layout=layout)


def clicked_unit(point: dict, cols: int) -> tuple[int, int]:
    """(row, column) of a point selected on `map_figure`."""
    row, col = divmod(int(point["point_index"]), cols)
    return row, col


def image_figure(
    image: np.ndarray,
    seen: tuple[tuple[int, int], tuple[int, int]],
    field: tuple[tuple[int, int], tuple[int, int]],
    title: str,
) -> go.Figure:
    """The (28, 28) input in [0, 1], gray, with the square of pixels the unit sees."""
    rows, cols = image.shape
    layout = _layout(title, rows, cols)
    layout["shapes"] = _squares(seen, field)
    trace = dict(
        type="heatmap",
        z=image,
        colorscale="gray",
        zmin=0,
        zmax=1,
        showscale=False,
        hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>",
    )
    return go.Figure(data=[trace], layout=layout)


def gradient_figure(
    gradient: np.ndarray,
    seen: tuple[tuple[int, int], tuple[int, int]],
    field: tuple[tuple[int, int], tuple[int, int]],
    title: str,
) -> go.Figure:
    """d unit / d pixel: red positive, blue negative, white exactly 0; the same square drawn on it."""
    rows, cols = gradient.shape
    top = float(np.abs(gradient).max()) or 1.0
    layout = _layout(title, rows, cols)
    layout["shapes"] = _squares(seen, field)
    trace = dict(
        type="heatmap",
        z=gradient,
        colorscale=WEIGHT_SCALE,
        zmin=-top,
        zmax=top,
        showscale=False,
        hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>",
    )
    return go.Figure(data=[trace], layout=layout)
