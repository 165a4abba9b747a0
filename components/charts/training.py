"""Plotly figures for the Training page: learning curves, run overlays and the filter timeline."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.charts.common import FONT
from components.charts.pictures import tile

TRAIN_COLOUR = "#1f5fa8"
BATCH_COLOUR = "#8fb3dc"
VALIDATION_COLOUR = "#e4572e"
RUN_COLOURS = ("#1f5fa8", "#e4572e", "#2a9d3f", "#8e44ad", "#d4a017", "#17a2b8", "#6c757d", "#c2185b")
MAX_DRAWN_POINTS = 1_000
METRICS = (("loss", "Loss"), ("accuracy", "Accuracy"))

CurvePoint = tuple[float, float, float]  # (epochs done, smoothed loss, smoothed accuracy)


def thin(points: Sequence, limit: int = MAX_DRAWN_POINTS) -> list:
    """At most `limit` evenly spaced points, always keeping the last one."""
    if len(points) <= limit:
        return list(points)
    step = -(-len(points) // limit)
    kept = list(points[::step])
    return kept if (len(points) - 1) % step == 0 else [*kept, points[-1]]


def epoch_positions(count: int, epochs_done: float | None = None) -> list[float]:
    """Where `count` per-epoch values sit on the epoch axis: at each epoch's end, the last at `epochs_done`
    when training stopped part-way through that epoch (1.45: the second epoch's values cover 0.45 of it)."""
    positions = [float(epoch) for epoch in range(1, count + 1)]
    if epochs_done is not None and count and count - 1 < epochs_done < count:
        positions[-1] = epochs_done
    return positions


def _two_panels(height: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=[title for _, title in METRICS], horizontal_spacing=0.08)
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=-0.28, x=0, font=FONT),  # laid out at the size it is drawn
        hovermode="x unified",
    )
    fig.update_annotations(font=FONT)  # the panel titles
    fig.update_xaxes(title_text="epoch", gridcolor="#e5e5e5", zeroline=False)
    fig.update_yaxes(gridcolor="#e5e5e5", zeroline=False)
    return fig


def curves_figure(
    batch_curve: Sequence[CurvePoint],
    history: dict[str, list[float]],
    *,
    epochs: int | None = None,
    epochs_done: float | None = None,
    height: int = 360,
) -> go.Figure:
    """Loss and accuracy of one run: per batch (smoothed) and per epoch, training vs validation.

    x is in epochs: a batch point sits at its fraction of the epoch, an epoch's value at its end (the last one
    at `epochs_done` for a run stopped part-way through an epoch).
    """
    fig = _two_panels(height)
    points = thin(batch_curve)
    x = [p[0] for p in points]
    for column, (key, _) in enumerate(METRICS, 1):
        first = column == 1
        if points:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[p[column] for p in points],
                    mode="lines",
                    name="training, per batch (smoothed)",
                    line=dict(color=BATCH_COLOUR, width=1.5),
                    legendgroup="batch",
                    showlegend=first,
                    hovertemplate="%{y:.4f}",
                ),
                row=1,
                col=column,
            )
        for metric, label, colour in (
            (key, "training, per epoch", TRAIN_COLOUR),
            (f"val_{key}", "validation, per epoch", VALIDATION_COLOUR),
        ):
            values = history.get(metric, [])
            if values:
                fig.add_trace(
                    go.Scatter(
                        x=epoch_positions(len(values), epochs_done),
                        y=values,
                        mode="lines+markers",
                        name=label,
                        line=dict(color=colour, width=2.5),
                        marker=dict(size=8),
                        legendgroup=metric.removesuffix(key),
                        showlegend=first,
                        hovertemplate="%{y:.4f}",
                    ),
                    row=1,
                    col=column,
                )
    if epochs:
        fig.update_xaxes(range=[0, epochs * 1.02])
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    return fig


def overlay_figure(runs: Sequence[tuple[str, dict[str, list[float]], float | None]], *, height: int = 400) -> go.Figure:
    """Several runs' per-epoch curves on shared axes: validation solid (filled dots), training dashed (open dots),
    one colour per run. Each run is (name, history, epochs done: where its last epoch's values sit)."""
    fig = _two_panels(height)
    for index, (name, history, epochs_done) in enumerate(runs):
        colour = RUN_COLOURS[index % len(RUN_COLOURS)]
        for column, (key, _) in enumerate(METRICS, 1):
            shown = False
            for metric, dash, symbol, kind in (
                (f"val_{key}", "solid", "circle", "validation"),
                (key, "dash", "circle-open", "training"),
            ):
                values = history.get(metric, [])
                if not values:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=epoch_positions(len(values), epochs_done),
                        y=values,
                        mode="lines+markers",
                        name=name,
                        line=dict(color=colour, dash=dash, width=2.5),
                        marker=dict(size=8, symbol=symbol),
                        legendgroup=name,
                        showlegend=column == 1 and not shown,
                        hovertemplate=f"{kind}: %{{y:.4f}}",
                    ),
                    row=1,
                    col=column,
                )
                shown = True
    fig.update_layout(hovermode="closest")
    return fig


def _tile_figure(
    tiles: np.ndarray,
    scaled: np.ndarray,
    *,
    columns: int,
    colorscale,
    zmin: float,
    zmax: float,
    label: str,
    height: int,
) -> go.Figure:
    """A mosaic heatmap coloured by `scaled` with the true values (and tile number) in the hover text."""
    count, tile_h, tile_w = tiles.shape
    values = tile(tiles, columns)
    numbers = tile(np.repeat(np.arange(1, count + 1, dtype=np.float32), tile_h * tile_w).reshape(tiles.shape), columns)
    fig = go.Figure(
        go.Heatmap(
            z=tile(scaled, columns),
            customdata=np.stack([numbers, values], axis=-1),
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            showscale=False,
            xgap=0,
            ygap=0,
            hoverongaps=False,
            hovertemplate=f"{label} %{{customdata[0]:.0f}}: %{{customdata[1]:.4f}}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white", font=FONT)
    return fig


def square_columns(count: int) -> int:
    """Columns for a near-square grid of `count` tiles: 16 -> 4, 32 -> 6, 64 -> 8."""
    return max(1, math.ceil(math.sqrt(count)))


def filters_figure(kernels: np.ndarray, *, columns: int | None = None, height: int = 380) -> go.Figure:
    """First-layer kernels (k, k, F): each drawn on its own symmetric scale (blue negative, red positive)."""
    tiles = np.moveaxis(np.asarray(kernels, dtype=np.float32), -1, 0)
    peak = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    scaled = tiles / np.where(peak > 0, peak, 1.0)
    return _tile_figure(
        tiles,
        scaled,
        columns=columns or square_columns(len(tiles)),
        colorscale="RdBu_r",
        zmin=-1,
        zmax=1,
        label="filter",
        height=height,
    )


def feature_maps_figure(maps: np.ndarray, *, columns: int | None = None, height: int = 380) -> go.Figure:
    """One image's first-layer outputs (H, W, F): each map on its own scale, black 0 to white its maximum."""
    tiles = np.moveaxis(np.asarray(maps, dtype=np.float32), -1, 0)
    peak = tiles.max(axis=(1, 2), keepdims=True)
    scaled = tiles / np.where(peak > 0, peak, 1.0)
    return _tile_figure(
        tiles,
        scaled,
        columns=columns or square_columns(len(tiles)),
        colorscale="gray",
        zmin=0,
        zmax=1,
        label="map",
        height=height,
    )
