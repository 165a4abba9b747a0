"""Plotly figures for the Architecture page: where the parameters and the compute are, and model comparisons."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.charts import FONT, SPATIAL_COLOUR, VECTOR_COLOUR, FlowStep, shape_flow_figure

PARAMS_COLOUR = VECTOR_COLOUR
MACS_COLOUR = SPATIAL_COLOUR
INK = dict(FONT, color="#222222")  # darker than Streamlit's chart theme, for projectors
FLOW_WIDTH_PX = 1000  # the main column of a 1400-pixel-wide window with the sidebar open
CROWDED_STAGES = 9


def flow_figure(shapes: Sequence[tuple[int, ...]], labels: Sequence[str]) -> go.Figure:
    """The shape-flow diagram at 3 units per feature-map pixel, as tall as its tallest tensor needs at
    FLOW_WIDTH_PX. labels[i] (lines split by newlines) names the step into shapes[i]; with more than
    CROWDED_STAGES stages only first lines are kept, in a smaller font, so neighbours do not overlap."""
    crowded = len(shapes) > CROWDED_STAGES
    steps = [FlowStep(shape, (label.split("\n")[0] if crowded else label).replace("\n", "<br>"))
             for shape, label in zip(shapes, labels)]
    fig = shape_flow_figure(steps, pixel=3.0, small_font_size=12 if crowded else 14)
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    margins = fig.layout.margin.t + fig.layout.margin.b
    fig.update_layout(height=round(min(max(FLOW_WIDTH_PX * (y1 - y0) / (x1 - x0) + margins, 220), 640)))
    return fig


def layer_share_figure(names: Sequence[str], params: Sequence[int], macs: Sequence[int], *,
                       height: int = 320) -> go.Figure:
    """Two bar charts side by side, one bar per layer (top to bottom in network order), labelled with
    the count and its share of the total."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("Parameters (weights to learn)", "Multiply-accumulates per image"))
    for col, values, colour in ((1, params, PARAMS_COLOUR), (2, macs, MACS_COLOUR)):
        total = sum(values)
        labels = [f"{v:,} ({_percent(v, total)})" for v in values]
        fig.add_trace(go.Bar(x=list(values), y=list(names), orientation="h", marker_color=colour, text=labels,
                             textposition="outside", cliponaxis=False, textfont=INK, hoverinfo="skip"),
                      row=1, col=col)
        fig.update_xaxes(visible=False, range=[0, max(values, default=0) * 1.7 or 1], row=1, col=col)
        fig.update_yaxes(autorange="reversed", tickfont=INK, row=1, col=col)
    return _finish(fig, height)


def comparison_figure(models: Sequence[str], params: Sequence[int], macs: Sequence[int], *,
                      height: int = 340) -> go.Figure:
    """Parameters and multiply-accumulates per image of a few models, as labelled bars side by side."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("Parameters", "Multiply-accumulates per image"))
    for col, values, colour in ((1, params, PARAMS_COLOUR), (2, macs, MACS_COLOUR)):
        fig.add_trace(go.Bar(x=list(models), y=list(values), marker_color=colour, text=[f"{v:,}" for v in values],
                             textposition="outside", cliponaxis=False, textfont=INK, hoverinfo="skip"),
                      row=1, col=col)
        fig.update_yaxes(visible=False, range=[0, max(values, default=0) * 1.25 or 1], row=1, col=col)
        fig.update_xaxes(tickfont=INK, tickangle=0, row=1, col=col)
    return _finish(fig, height)


def _percent(value: int, total: int) -> str:
    """Share of the total, never rounded to 0% for a layer that has some."""
    share = value / total if total else 0.0
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def _finish(fig: go.Figure, height: int) -> go.Figure:
    fig.update_annotations(font=dict(INK, size=17))  # subplot titles
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50, b=10), font=FONT, showlegend=False,
                      plot_bgcolor="white", paper_bgcolor="white", bargap=0.35)
    return fig
