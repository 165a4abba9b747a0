"""Plotly figures for the Inspect page: feature maps, kernels, confusion matrix, probabilities, embeddings.

Pure plotting: inputs are NumPy arrays and labels (no TensorFlow). Images are (28, 28) float in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.charts import FONT

TITLE_FONT = dict(FONT, size=16)
HOVER = dict(font=dict(FONT, size=15))
# The course notebook's imshow(cmap="inferno"), starting at pure black: Inferno's own first colour, #000004,
# is one of the placeholder colours Streamlit's Plotly theme swaps for theme colours (it turned 0 pink).
ACTIVATION_SCALE = ["#000000", *plotly.colors.sequential.Inferno[1:]]
WEIGHT_SCALE = "RdBu_r"  # negative blue, positive red, 0 white
HEAT_SCALE = [[0.0, "rgba(255,230,0,0)"], [0.25, "rgba(255,200,0,0.35)"], [1.0, "rgba(230,0,0,0.9)"]]
CLASS_COLOURS = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                 "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#7F7F7F")
CORRECT_SCALE = [[0.0, "#f4faf4"], [1.0, "#2e7d32"]]
ERROR_SCALE = [[0.0, "#fff7f3"], [1.0, "#c62828"]]


@dataclass(frozen=True, eq=False)
class GridColumn:
    """One column of an image grid: `values` (rows, h, w).

    kind "image": gray pixels in [0, 1]; "activation": a feature map (one colour range per column);
    "heat": a heat map drawn over the row's image (transparent where 0).
    """

    title: str
    values: np.ndarray
    kind: Literal["image", "activation", "heat"] = "activation"


def _image_axes(fig: go.Figure, count: int) -> None:
    """Square pixels, row 0 at the top, no ticks, for `count` subplots."""
    for index in range(1, count + 1):
        suffix = "" if index == 1 else str(index)
        fig.layout[f"xaxis{suffix}"].update(visible=False, constrain="domain")
        fig.layout[f"yaxis{suffix}"].update(visible=False, autorange="reversed", scaleanchor=f"x{suffix}",
                                            constrain="domain")


def _gray(image: np.ndarray, name: str, brightness: float = 1.0) -> go.Heatmap:
    return go.Heatmap(z=image, colorscale="Gray", zmin=0.0, zmax=1.0 / brightness, showscale=False, name=name,
                      hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}: %{{z:.2f}}<extra></extra>")


def image_grid_figure(images: np.ndarray, columns: Sequence[GridColumn], row_labels: Sequence[str] | None = None,
                      *, cell: int = 150) -> go.Figure:
    """Rows are images, columns are stages (input, heat maps, layers), as in the course notebook's grid."""
    rows = len(images)
    if any(len(column.values) != rows for column in columns) or (row_labels is not None and len(row_labels) != rows):
        raise ValueError("Every column and the row labels need one entry per image.")
    fig = make_subplots(rows=rows, cols=len(columns), column_titles=[c.title for c in columns],
                        row_titles=list(row_labels) if row_labels else None, horizontal_spacing=0.012,
                        vertical_spacing=0.03)
    for col, column in enumerate(columns, start=1):
        low, high = float(np.min(column.values)), float(np.max(column.values))
        for row in range(rows):
            values = column.values[row]
            if column.kind == "image":
                fig.add_trace(_gray(values, "pixel"), row=row + 1, col=col)
                continue
            if column.kind == "heat":
                fig.add_trace(_gray(images[row], "pixel", brightness=0.55), row=row + 1, col=col)
                fig.add_trace(go.Heatmap(
                    z=values, colorscale=HEAT_SCALE, zmin=0.0, zmax=max(float(values.max()), 1e-12),
                    showscale=False,
                    hovertemplate=f"{column.title}<br>row %{{y}}, col %{{x}}: %{{z:.3g}}<extra></extra>",
                ), row=row + 1, col=col)
                continue
            fig.add_trace(go.Heatmap(
                z=values, colorscale=ACTIVATION_SCALE, zmin=low, zmax=high if high > low else low + 1e-6,
                showscale=False, hovertemplate=f"{column.title}<br>row %{{y}}, col %{{x}}: %{{z:.3f}}<extra></extra>",
            ), row=row + 1, col=col)
    _image_axes(fig, rows * len(columns))
    fig.update_annotations(font=TITLE_FONT)
    fig.for_each_annotation(lambda a: a.update(textangle=0, xanchor="left", x=1.005) if a.textangle == 90 else None)
    fig.update_layout(height=rows * cell + 60, margin=dict(l=5, r=170 if row_labels else 5, t=45, b=5),
                      hoverlabel=HOVER, plot_bgcolor="white", paper_bgcolor="white", font=FONT)
    return fig


def _tiles(blocks: Sequence[np.ndarray], per_row: int, gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Lay equal-size (h, w) blocks out left to right, `per_row` a row, NaN between them.

    Returns the canvas and, per canvas cell, the block index (-1 in the gaps).
    """
    height, width = blocks[0].shape
    rows = -(-len(blocks) // per_row)
    canvas = np.full((rows * (height + gap) - gap, per_row * (width + gap) - gap), np.nan)
    owner = np.full(canvas.shape, -1)
    for index, block in enumerate(blocks):
        top, left = (index // per_row) * (height + gap), (index % per_row) * (width + gap)
        canvas[top:top + height, left:left + width] = block
        owner[top:top + height, left:left + width] = index
    return canvas, owner


def all_maps_figure(maps: np.ndarray, layer: str, *, per_map: bool = False, per_row: int = 8,
                    height: int = 720) -> go.Figure:
    """All channels of one image's feature map (h, w, C) as a grid: one colour range for the layer, or
    (`per_map`) each map divided by its own maximum so weak maps show their pattern too."""
    channels = maps.shape[-1]
    tiles = [maps[:, :, c] for c in range(channels)]
    canvas, owner = _tiles(tiles, per_row)
    values, _ = _tiles(tiles, per_row)
    if per_map:
        peaks = maps.max(axis=(0, 1))
        canvas = canvas / np.where(owner >= 0, np.where(peaks > 0, peaks, 1.0)[owner], 1.0)
    text = np.where(owner >= 0, np.char.add("filter ", owner.astype(str)), "")
    fig = go.Figure(go.Heatmap(
        z=canvas, text=text, customdata=values, colorscale=ACTIVATION_SCALE, zmin=0.0 if per_map else float(maps.min()),
        zmax=1.0 if per_map else float(maps.max()), hoverongaps=False,
        colorbar=dict(title=dict(text="value /<br>map max" if per_map else "value", font=FONT), tickfont=FONT,
                      thickness=14),
        hovertemplate=f"{layer} %{{text}}<br>value %{{customdata:.3f}}<extra></extra>",
    ))
    _image_axes(fig, 1)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=10, b=5), hoverlabel=HOVER, plot_bgcolor="white",
                      font=FONT)
    return fig


def kernel_gallery_figure(kernels: np.ndarray, groups: Sequence[tuple[str, Sequence[int]]],
                          notes: Sequence[str], *, per_row: int = 10, cell: int = 16) -> go.Figure:
    """(n, k, k) kernels in rows per group (wrapping at `per_row`); hover shows the filter, its weights and note.

    Each kernel is coloured relative to its own largest |weight| (blue -1, white 0, red +1), so small
    and large kernels show their pattern equally; the hover gives the real weights.
    """
    size = kernels.shape[1]
    peaks = np.abs(kernels).max(axis=(1, 2))
    scaled = kernels / np.where(peaks > 0, peaks, 1.0)[:, None, None]
    blank = np.full((size, size), np.nan)
    blocks, owners, tick_rows, tick_text = [], [], [], []
    for name, indices in groups:
        tick_rows.append(len(blocks) // per_row * (size + 1) + (size - 1) / 2)
        tick_text.append(f"{name} ({len(indices)})")
        for start in range(0, len(indices), per_row):
            chunk = list(indices[start:start + per_row])
            blocks += [scaled[i] for i in chunk] + [blank] * (per_row - len(chunk))
            owners += chunk + [-1] * (per_row - len(chunk))
    canvas, position = _tiles(blocks, per_row)
    owner = np.where(position >= 0, np.asarray(owners + [-1])[position], -1)
    customdata = np.empty((*canvas.shape, 2), dtype=object)
    customdata[..., 0], customdata[..., 1] = "", np.nan
    for index in np.unique(owner[owner >= 0]):
        weights = "<br>".join("  ".join(f"{w:+.2f}" for w in line) for line in kernels[index])
        cells = owner == index
        customdata[cells, 0] = f"<b>filter {index}</b><br>{notes[index]}<br>{weights}"
        customdata[cells, 1] = kernels[index].ravel()
    fig = go.Figure(go.Heatmap(
        z=canvas, customdata=customdata, colorscale=WEIGHT_SCALE, zmin=-1.0, zmax=1.0, hoverongaps=False,
        colorbar=dict(title=dict(text="weight /<br>kernel's<br>max |weight|", font=dict(FONT, size=14)),
                      tickfont=FONT, thickness=14),
        hovertemplate="%{customdata[0]}<br>this weight: %{customdata[1]:+.3f}<extra></extra>",
    ))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", tickvals=tick_rows,
                     ticktext=tick_text, tickfont=FONT, showgrid=False, zeroline=False, ticks="")
    fig.update_layout(height=canvas.shape[0] * cell + 20, margin=dict(l=5, r=5, t=10, b=5), hoverlabel=HOVER,
                      plot_bgcolor="white", font=FONT)
    return fig


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str],
                     selected: tuple[int, int] | None = None) -> go.Figure:
    """Rows true class, columns predicted; correct counts in green, errors in red, each with its own scale.

    An invisible square marker sits on every cell so a click selects it (Plotly heat maps are not selectable);
    `clicked_cell` turns the selected point back into (true class, predicted class).
    """
    counts = np.asarray(confusion)
    classes = len(class_names)
    diagonal = np.eye(classes, dtype=bool)
    support = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    names = list(class_names)
    fig = go.Figure()
    for mask, scale in ((diagonal, CORRECT_SCALE), (~diagonal, ERROR_SCALE)):
        values = np.where(mask, counts, np.nan).astype(float)
        fig.add_trace(go.Heatmap(
            z=values, x=names, y=names, colorscale=scale, zmin=0, zmax=max(float(np.nanmax(values)), 1.0),
            showscale=False, hoverinfo="skip", texttemplate="%{z:.0f}", textfont=dict(FONT, size=15), xgap=2, ygap=2,
        ))
    true_index, predicted_index = np.divmod(np.arange(classes * classes), classes)
    share = counts[true_index, predicted_index] / support[true_index, 0]
    hover = [
        f"true <b>{names[t]}</b>, predicted <b>{names[p]}</b><br>{counts[t, p]:,} images "
        f"({s:.1%} of {names[t]})<br>click to see them"
        for t, p, s in zip(true_index, predicted_index, share)
    ]
    fig.add_trace(go.Scatter(
        x=[names[p] for p in predicted_index], y=[names[t] for t in true_index], mode="markers",
        marker=dict(symbol="square", size=34, color="rgba(0,0,0,0)"), hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", showlegend=False,
        selected=dict(marker=dict(color="rgba(0,0,0,0)")), unselected=dict(marker=dict(opacity=0)),
    ))
    if selected is not None:
        t, p = selected
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line=dict(color="#111", width=4))
    fig.update_xaxes(title=dict(text="predicted class", font=TITLE_FONT), tickfont=FONT, tickangle=-35,
                     side="bottom", showgrid=False)
    fig.update_yaxes(title=dict(text="true class", font=TITLE_FONT), tickfont=FONT, autorange="reversed",
                     showgrid=False)
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=10, b=10), hoverlabel=HOVER, plot_bgcolor="white",
                      font=FONT, clickmode="event+select", dragmode=False)
    return fig


def clicked_cell(point: dict, classes: int) -> tuple[int, int]:
    """(true class, predicted class) of a point selected on `confusion_figure` (marker i is cell divmod(i, classes))."""
    true_class, predicted = divmod(int(point["point_index"]), classes)
    return true_class, predicted


def probability_figure(probabilities: np.ndarray, class_names: Sequence[str], true_class: int | None) -> go.Figure:
    """Horizontal bars of the 10 class probabilities; the predicted class dark, the true class outlined."""
    probabilities = np.asarray(probabilities, dtype=float)
    predicted = int(probabilities.argmax())
    colours = ["#1f5fa8" if c == predicted else "#a9bcd6" for c in range(len(class_names))]
    outline = [3 if c == true_class else 0 for c in range(len(class_names))]
    labels = [f"{name} (true)" if c == true_class else name for c, name in enumerate(class_names)]
    fig = go.Figure(go.Bar(
        x=probabilities, y=labels, orientation="h", marker=dict(color=colours, line=dict(color="#111", width=outline)),
        text=[f"{p:.1%}" for p in probabilities], textfont=FONT, cliponaxis=False,
        textposition=["inside" if p > 0.6 else "outside" for p in probabilities], insidetextanchor="end",
        hovertemplate="%{y}: %{x:.4f}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, 1.35], tickvals=[0, 0.5, 1], tickformat=".0%", tickfont=FONT,
                     title=dict(text="probability", font=FONT))
    fig.update_yaxes(autorange="reversed", tickfont=FONT)
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), hoverlabel=HOVER, plot_bgcolor="white",
                      font=FONT, showlegend=False)
    return fig


def gallery_figure(images: np.ndarray, titles: Sequence[str], *, per_row: int = 6, cell: int = 190) -> go.Figure:
    """Gray images with a title each (e.g. true and predicted label), `per_row` a row."""
    count = len(images)
    rows = max(1, -(-count // per_row))
    fig = make_subplots(rows=rows, cols=per_row, subplot_titles=list(titles), horizontal_spacing=0.02,
                        vertical_spacing=0.3 / rows)
    for index, image in enumerate(images):
        fig.add_trace(_gray(image, "pixel"), row=index // per_row + 1, col=index % per_row + 1)
    _image_axes(fig, rows * per_row)
    fig.update_annotations(font=dict(FONT, size=14))
    fig.update_layout(height=rows * cell + 40, margin=dict(l=5, r=5, t=70, b=5), hoverlabel=HOVER,
                      plot_bgcolor="white", font=FONT)
    return fig


def embedding_figure(coordinates: np.ndarray, labels: np.ndarray, hover: Sequence[str], indices: np.ndarray,
                     class_names: Sequence[str], *, axis_titles: tuple[str, str] = ("1", "2")) -> go.Figure:
    """One WebGL scatter trace per class (click the legend to hide one); customdata is the test-image index."""
    fig = go.Figure()
    hover = np.asarray(hover, dtype=object)
    for class_index, name in enumerate(class_names):
        members = np.flatnonzero(labels == class_index)
        fig.add_trace(go.Scattergl(
            x=coordinates[members, 0], y=coordinates[members, 1], mode="markers", name=name,
            marker=dict(size=5, color=CLASS_COLOURS[class_index % len(CLASS_COLOURS)], opacity=0.75),
            customdata=indices[members], hovertext=hover[members], hovertemplate="%{hovertext}<extra></extra>",
        ))
    fig.update_xaxes(title=dict(text=axis_titles[0], font=FONT), tickfont=FONT, zeroline=False)
    fig.update_yaxes(title=dict(text=axis_titles[1], font=FONT), tickfont=FONT, zeroline=False)
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=10, b=10), hoverlabel=HOVER, font=FONT,
                      legend=dict(font=FONT, itemsizing="constant"), clickmode="event+select",
                      plot_bgcolor="#fafafa")
    return fig
