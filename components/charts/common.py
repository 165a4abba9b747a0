"""Plotly figure builders shared by the pages (no Streamlit here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go

FONT = dict(family="DejaVu Sans, Arial, sans-serif", size=15)
SPATIAL_COLOUR = "#4C78A8"
VECTOR_COLOUR = "#F58518"
GAP = 100.0
CROWDED = 160.0  # value-count labels nearer than this (diagram units) alternate between two rows
ROW_STEP = 20.0


@dataclass(frozen=True)
class FlowStep:
    """One tensor in a shape-flow diagram and the operation that produced it."""

    shape: tuple[int, ...]
    operation: str = ""


def shape_label(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def shape_flow_figure(
    steps: list[FlowStep],
    *,
    pixel: float = 5.0,
    height: int = 420,
    small_font_size: int = 12,
    headroom: float = 60.0,
) -> go.Figure:
    """Tensors left to right at one scale: squares have a side of H pixels (stacked to hint at channels);
    vectors are bars whose height is sqrt(values), so equal areas mean equal numbers of values.
    small_font_size is for the operations and the value counts; headroom (units) is kept above the tallest tensor
    for operation names of several lines."""
    shapes: list[dict] = []
    annotations: list[dict] = []
    x = 0.0
    tallest = 0.0
    previous_centre, previous_row = -math.inf, 1
    for index, step in enumerate(steps):
        if len(step.shape) == 3:
            side_h, side_w, channels = step.shape[0] * pixel, step.shape[1] * pixel, step.shape[2]
            layers = min(channels, 6)
            offset = 4.0
            for layer in range(layers - 1, -1, -1):
                x0, y0 = x + layer * offset, layer * offset
                shapes.append(
                    dict(
                        type="rect",
                        x0=x0,
                        y0=y0,
                        x1=x0 + side_w,
                        y1=y0 + side_h,
                        line=dict(color="white", width=1),
                        fillcolor=SPATIAL_COLOUR,
                        opacity=0.55 + 0.45 * (layer == 0),
                    )
                )
            width, top = side_w + (layers - 1) * offset, side_h + (layers - 1) * offset
            arrow_y = side_h / 2
        else:
            width, top = 14.0, math.sqrt(math.prod(step.shape)) * pixel
            shapes.append(
                dict(
                    type="rect",
                    x0=x,
                    y0=0,
                    x1=x + width,
                    y1=top,
                    line=dict(color="white", width=1),
                    fillcolor=VECTOR_COLOUR,
                )
            )
            arrow_y = 20.0
        tallest = max(tallest, top)
        centre = x + width / 2
        annotations.append(
            dict(x=centre, y=-12, text=f"<b>{shape_label(step.shape)}</b>", showarrow=False, yanchor="top", font=FONT)
        )
        # A value count closer than CROWDED to the one before it goes on the other row, so they do not collide.
        row = 1 - previous_row if centre - previous_centre < CROWDED else 0
        previous_centre, previous_row = centre, row
        annotations.append(
            dict(
                x=centre,
                y=-40 - ROW_STEP * row,
                text=f"{math.prod(step.shape):,} values",
                showarrow=False,
                yanchor="top",
                font=dict(FONT, size=small_font_size, color="#555"),
            )
        )
        if index + 1 < len(steps):
            start, end = x + width + 6, x + width + GAP - 6
            annotations.append(
                dict(
                    x=end,
                    y=arrow_y,
                    ax=start,
                    ay=arrow_y,
                    xref="x",
                    yref="y",
                    axref="x",
                    ayref="y",
                    showarrow=True,
                    arrowhead=2,
                    arrowwidth=2,
                    arrowcolor="#333",
                    text="",
                )
            )
            annotations.append(
                dict(
                    x=x + width + GAP / 2,
                    y=arrow_y + 6,
                    text=steps[index + 1].operation,
                    showarrow=False,
                    font=dict(FONT, size=small_font_size),
                    yanchor="bottom",
                )
            )
        x += width + GAP
    fig = go.Figure()
    # constrain="domain": the plot area shrinks to keep pixels square, the ranges stay; with Plotly's default a
    # chart first drawn narrower (a sidebar closing) kept its widened range after the resize and drew smaller
    fig.update_xaxes(visible=False, range=[-20, x - GAP + 60], fixedrange=True, constrain="domain")
    fig.update_yaxes(
        visible=False,
        range=[-75 - ROW_STEP, tallest + headroom],
        scaleanchor="x",
        scaleratio=1,
        fixedrange=True,
        constrain="domain",
    )
    fig.update_layout(
        shapes=shapes,
        annotations=annotations,
        height=height,
        margin=dict(l=5, r=5, t=10, b=5),
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=False,
    )
    return fig


def outline(x0: float, y0: float, x1: float, y1: float, colour: str, width: float, axes: str = "") -> dict:
    """A rectangle outline drawn above the data of subplot `axes` ("" for the first), e.g. a window on a map."""
    return dict(
        type="rect",
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
        xref=f"x{axes}",
        yref=f"y{axes}",
        line=dict(color=colour, width=width),
        fillcolor="rgba(0,0,0,0)",
        layer="above",
    )
