"""Plotly figure builders shared by the pages (no Streamlit here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go

FONT = dict(family="DejaVu Sans, Arial, sans-serif", size=15)
SPATIAL_COLOUR = "#4C78A8"
VECTOR_COLOUR = "#F58518"
GAP = 100.0


@dataclass(frozen=True)
class FlowStep:
    """One tensor in a shape-flow diagram and the operation that produced it."""

    shape: tuple[int, ...]
    operation: str = ""


def shape_label(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def shape_flow_figure(steps: list[FlowStep], *, pixel: float = 5.0, height: int = 420,
                      small_font_size: int = 12) -> go.Figure:
    """Tensors left to right at one scale: squares have a side of H pixels (stacked to hint at channels);
    vectors are bars whose height is sqrt(values), so equal areas mean equal numbers of values.
    small_font_size is for the operations and the value counts."""
    fig = go.Figure()
    x = 0.0
    tallest = 0.0
    for index, step in enumerate(steps):
        if len(step.shape) == 3:
            side_h, side_w, channels = step.shape[0] * pixel, step.shape[1] * pixel, step.shape[2]
            layers = min(channels, 6)
            offset = 4.0
            for layer in range(layers - 1, -1, -1):
                x0, y0 = x + layer * offset, layer * offset
                fig.add_shape(type="rect", x0=x0, y0=y0, x1=x0 + side_w, y1=y0 + side_h,
                              line=dict(color="white", width=1), fillcolor=SPATIAL_COLOUR,
                              opacity=0.55 + 0.45 * (layer == 0))
            width, top = side_w + (layers - 1) * offset, side_h + (layers - 1) * offset
        else:
            values = math.prod(step.shape)
            width, top = 14.0, math.sqrt(values) * pixel
            fig.add_shape(type="rect", x0=x, y0=0, x1=x + width, y1=top,
                          line=dict(color="white", width=1), fillcolor=VECTOR_COLOUR)
        tallest = max(tallest, top)
        centre = x + width / 2
        fig.add_annotation(x=centre, y=-12, text=f"<b>{shape_label(step.shape)}</b>", showarrow=False,
                           yanchor="top", font=FONT)
        fig.add_annotation(x=centre, y=-40, text=f"{math.prod(step.shape):,} values", showarrow=False,
                           yanchor="top", font=dict(FONT, size=small_font_size, color="#555"))
        if index + 1 < len(steps):
            start, end = x + width + 6, x + width + GAP - 6
            fig.add_annotation(x=end, y=top / 2 if len(step.shape) == 3 else 20, ax=start,
                               ay=top / 2 if len(step.shape) == 3 else 20,
                               xref="x", yref="y", axref="x", ayref="y", showarrow=True, arrowhead=2,
                               arrowwidth=2, arrowcolor="#333", text="")
        x += width + GAP
    for index in range(1, len(steps)):
        fig.add_annotation(**_operation_anchor(steps, index, pixel), text=steps[index].operation,
                           showarrow=False, font=dict(FONT, size=small_font_size), yanchor="bottom")
    fig.update_xaxes(visible=False, range=[-20, x - GAP + 30], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-75, tallest + 60], scaleanchor="x", scaleratio=1, fixedrange=True)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=10, b=5), plot_bgcolor="white",
                      paper_bgcolor="white", showlegend=False)
    return fig


def _operation_anchor(steps: list[FlowStep], index: int, pixel: float) -> dict:
    """Where to print the operation that turns steps[index - 1] into steps[index]: above the arrow."""
    x = 0.0
    top = 0.0
    for step in steps[:index]:
        if len(step.shape) == 3:
            width = step.shape[1] * pixel + (min(step.shape[2], 6) - 1) * 4.0
            top = step.shape[0] * pixel / 2
        else:
            width, top = 14.0, 20.0
        x += width + GAP
    return dict(x=x - GAP / 2, y=top + 6)
