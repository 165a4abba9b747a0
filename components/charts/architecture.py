"""Plotly figures for the Architecture page: where the parameters and the compute are, and model comparisons."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from components.charts.common import FONT, SPATIAL_COLOUR, VECTOR_COLOUR, FlowStep, shape_flow_figure

PARAMS_COLOUR = VECTOR_COLOUR
MACS_COLOUR = SPATIAL_COLOUR
INK = dict(FONT, color="#222222")  # darker than Streamlit's chart theme, for projectors
FLOW_WIDTH_PX = 790  # the main column of a 1280-pixel-wide window with the sidebar open
# Beside the parameter table on a 1280-pixel projector (tour step 4): the column's 707 px over presentation mode's
# zoom of 1.25, which Streamlit applies to a chart's height but not its width (measured in Chromium).
NARROW_FLOW_WIDTH_PX = 570
CROWDED_STAGES = 9
STACKED = ((0.56, 1.0), (0.0, 0.44))  # the two charts' heights on a phone, one above the other


def flow_figure(shapes: Sequence[tuple[int, ...]], labels: Sequence[str], *, narrow: bool = False) -> go.Figure:
    """The shape-flow diagram at 3 units per feature-map pixel, as tall as its tallest tensor needs at
    FLOW_WIDTH_PX (NARROW_FLOW_WIDTH_PX when `narrow`, with little room above): no empty band above and below it
    there, and a wider column only adds room at its sides. labels[i] (lines split by newlines) names the step into
    shapes[i]; with more than CROWDED_STAGES stages, or `narrow` (drawn in a column), only first lines are kept, in a
    smaller font, so neighbours do not overlap."""
    crowded = narrow or len(shapes) > CROWDED_STAGES
    steps = [
        FlowStep(shape, (label.split("\n")[0] if crowded else label).replace("\n", "<br>"))
        for shape, label in zip(shapes, labels)
    ]
    fig = shape_flow_figure(steps, pixel=3.0, small_font_size=12 if crowded else 14, headroom=15 if narrow else 60)
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    margins = fig.layout.margin.t + fig.layout.margin.b
    width, least = (NARROW_FLOW_WIDTH_PX, 120) if narrow else (FLOW_WIDTH_PX, 220)
    fig.update_layout(height=round(min(max(width * (y1 - y0) / (x1 - x0) + margins, least), 640)))
    return fig


def layer_share_figure(
    names: Sequence[str], params: Sequence[int], macs: Sequence[int], *, height: int = 320, stacked: bool = False
) -> go.Figure:
    """Two bar charts side by side (`stacked`, a phone: one above the other), one bar per layer (top to bottom in
    network order), labelled with the count and its share of the total."""
    data: list[dict] = []
    axes: dict = {}
    for n, (values, colour) in enumerate(((params, PARAMS_COLOUR), (macs, MACS_COLOUR)), start=1):
        total = sum(values)
        data.append(
            dict(
                type="bar",
                x=list(values),
                y=list(names),
                orientation="h",
                marker_color=colour,
                text=[f"{v:,} ({_percent(v, total)})" for v in values],
                textposition="outside",
                cliponaxis=False,
                textfont=INK,
                hoverinfo="skip",
            )
            | _axes(n)
        )
        axes |= _pair(
            n,
            0.14,
            x=dict(visible=False, range=[0, max(values, default=0) * (2.2 if stacked else 1.7) or 1]),
            y=dict(autorange="reversed", tickfont=INK),
        )
    titles = ("Parameters (weights to learn)", "Multiply-accumulates per image")
    return _finish(data, axes, titles, 0.14, height, stacked=stacked)


def comparison_figure(
    models: Sequence[str], params: Sequence[int], macs: Sequence[int], *, height: int = 340, stacked: bool = False
) -> go.Figure:
    """Parameters and multiply-accumulates per image of a few models, as labelled bars side by side (`stacked`, a
    phone: one chart above the other)."""
    data: list[dict] = []
    axes: dict = {}
    for n, (values, colour) in enumerate(((params, PARAMS_COLOUR), (macs, MACS_COLOUR)), start=1):
        data.append(
            dict(
                type="bar",
                x=list(models),
                y=list(values),
                marker_color=colour,
                text=[f"{v:,}" for v in values],
                textposition="outside",
                cliponaxis=False,
                textfont=INK,
                hoverinfo="skip",
            )
            | _axes(n)
        )
        axes |= _pair(
            n,
            0.12,
            x=dict(tickfont=INK, tickangle=0),
            y=dict(visible=False, range=[0, max(values, default=0) * 1.25 or 1]),
        )
    return _finish(data, axes, ("Parameters", "Multiply-accumulates per image"), 0.12, height, stacked=stacked)


def shift_figure(shifts: Sequence[int], accuracy: dict[str, Sequence[float]], *, height: int = 340) -> go.Figure:
    """Test accuracy (one line per model, in percent) against how many pixels the test images were moved; the
    first line's labels sit above its points, the others' below (the first model is the more accurate)."""
    colours = (MACS_COLOUR, PARAMS_COLOUR, "#54A24B")
    data = [
        dict(
            type="scatter",
            mode="lines+markers+text",
            x=list(shifts),
            y=[100 * a for a in values],
            name=name,
            line=dict(color=colour, width=3),
            marker=dict(size=9),
            text=[f"{100 * a:.0f}%" for a in values],
            textposition="top center" if n == 0 else "bottom center",
            textfont=dict(INK, color=colour),
            cliponaxis=False,
            hovertemplate=f"{name}: moved %{{x}} px, %{{y:.1f}}% correct<extra></extra>",
        )
        for n, ((name, values), colour) in enumerate(zip(accuracy.items(), colours))
    ]
    layout = dict(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        xaxis=dict(
            title=dict(text="pixels moved (right, left, down, up: averaged)", font=INK),
            tickmode="array",
            tickvals=list(shifts),
            tickfont=INK,
            gridcolor="#e5e5e5",
        ),
        yaxis=dict(
            title=dict(text="test accuracy (%)", font=INK),
            range=[0, 105],
            tickfont=INK,
            gridcolor="#e5e5e5",
        ),
        legend=dict(orientation="h", x=0.0, y=1.0, yanchor="bottom", font=INK),
    )
    return go.Figure(data=data, layout=layout)


def _axes(n: int) -> dict:
    suffix = "" if n == 1 else str(n)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def _domain(n: int, spacing: float) -> list[float]:
    """Column n (1 or 2) of two side by side, as make_subplots lays them out."""
    width = (1 - spacing) / 2
    return [0.0, width] if n == 1 else [width + spacing, 1.0]


def _pair(n: int, spacing: float, *, x: dict, y: dict) -> dict:
    suffix = "" if n == 1 else str(n)
    return {
        f"xaxis{suffix}": dict(anchor=f"y{suffix}", domain=_domain(n, spacing)) | x,
        f"yaxis{suffix}": dict(anchor=f"x{suffix}", domain=[0.0, 1.0]) | y,
    }


def _percent(value: int, total: int) -> str:
    """Share of the total, never rounded to 0% for a layer that has some."""
    share = value / total if total else 0.0
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def _finish(
    data: list[dict], axes: dict, titles: tuple[str, str], spacing: float, height: int, *, stacked: bool = False
) -> go.Figure:
    """Two charts side by side with their titles above (as make_subplots places them), built in one go;
    `stacked`: the second under the first, each the full width and `height` tall."""
    places = [(sum(_domain(n, spacing)) / 2, 1.0) for n in (1, 2)]
    if stacked:
        for n, (low, high) in enumerate(STACKED, start=1):
            suffix = "" if n == 1 else str(n)
            axes[f"xaxis{suffix}"]["domain"], axes[f"yaxis{suffix}"]["domain"] = [0.0, 1.0], [low, high]
        places, height = [(0.5, high) for _, high in STACKED], 2 * height
    annotations = [
        dict(
            text=title,
            x=x,
            y=y,
            xref="paper",
            yref="paper",
            xanchor="center",
            yanchor="bottom",
            showarrow=False,
            font=dict(INK, size=17),
        )
        for title, (x, y) in zip(titles, places)
    ]
    layout = axes | dict(
        annotations=annotations,
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        font=FONT,
        showlegend=False,
        plot_bgcolor="white",
        paper_bgcolor="white",
        bargap=0.35,
    )
    return go.Figure(data=data, layout=layout)
