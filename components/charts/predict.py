"""Plotly figures for the Predict page: the preprocessing steps and the top-k class probabilities.

Steps are drawn as pictures; gray steps of at most `HOVER_LIMIT` values (the 28x28 network input) are heatmaps
whose hover gives each value. Figures are built from plain dicts in one go.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from components.charts.common import FONT
from components.charts.inspect import (
    HOVER,
    TITLE_FONT,
    GridColumn,
    _axis_id,
    _centre,
    _gray,
    _image_grid,
    _suffix,
    _title,
    all_maps_figure,
    image_grid_figure,
    probability_axes,
)
from components.charts.pictures import colorize, picture_data_uri
from models.inputs.preprocess import Step

DISPLAY_SIDE = 160  # larger step images are shown reduced to this long side (display only)
PAGE_GRAY = "#e8eaee"  # behind the step images, so white backgrounds show where they end
HOVER_LIMIT = 64 * 64  # gray steps up to this many values hover them; larger ones are pictures


def display_copy(image: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """`image` (float in [0, 1]) reduced with box averaging so its long side is at most `side`."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.ndim == 2:
        return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
    channels = [
        Image.fromarray(image[..., c].astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
        for c in range(image.shape[2])
    ]
    return np.stack([np.asarray(channel) for channel in channels], axis=2)


def steps_figure(steps: Sequence[Step], *, per_row: int = 4, cell: int = 230) -> go.Figure:
    """One panel per step, `per_row` a row, titled with its number, name and size, on a light gray page so
    white pictures keep their edges; gray steps hover their values."""
    rows = -(-len(steps) // per_row)
    titles = [
        f"{number}. {step.title} ({step.image.shape[0]}x{step.image.shape[1]})"
        for number, step in enumerate(steps, start=1)
    ]
    layout = _image_grid(rows, per_row, h_spacing=0.03, v_spacing=0.12)
    data = []
    for position, step in enumerate(steps):
        shown, where = display_copy(step.image), _axis_id(position // per_row, position % per_row, per_row)
        if shown.ndim == 2 and shown.size <= HOVER_LIMIT:
            data.append(_gray(shown, "value") | where)
        else:
            picture = (
                np.rint(np.clip(shown, 0, 1) * 255).astype(np.uint8)
                if shown.ndim == 3
                else colorize(shown, "Gray", 0.0, 1.0)[..., 0]
            )  # as the heatmap of a small step paints it
            data.append(dict(type="image", source=picture_data_uri(picture), hoverinfo="skip") | where)
    suffixes = [_suffix(position // per_row, position % per_row, per_row) for position in range(len(titles))]
    layout.update(
        annotations=[
            _title(
                "<br>(".join(title.rsplit(" (", 1)),  # the size on a line of its own: titles stay apart
                _centre(layout, f"xaxis{suffix}"),
                layout[f"yaxis{suffix}"]["domain"][1],
                dict(TITLE_FONT, size=15),
                yshift=8,
            )
            for title, suffix in zip(titles, suffixes)
        ],
        height=rows * cell + 50,
        margin=dict(l=5, r=5, t=50, b=5),
        hoverlabel=HOVER,
        plot_bgcolor=PAGE_GRAY,
        paper_bgcolor=PAGE_GRAY,
        font=FONT,
    )
    return go.Figure(data=data, layout=layout)


def feature_map_figures(
    network_input: np.ndarray,
    outputs: dict[str, np.ndarray],
    layers: Sequence[str],
    number: int,
    layer: str,
    per_row: int | None = None,
) -> tuple[go.Figure, go.Figure]:
    """The input and filter `number` after each of `layers` (`per_row` maps a row: a phone); then all maps of
    `layer` (outputs: (1, h, w, C))."""
    columns = [GridColumn("input 28x28", network_input[None], "image")]
    columns += [
        GridColumn(f"{name} {outputs[name].shape[1]}x{outputs[name].shape[2]}", outputs[name][..., number])
        for name in layers
    ]
    return (
        image_grid_figure(network_input[None], columns, cell=180, per_row=per_row),
        all_maps_figure(outputs[layer][0], layer, height=560),
    )


def neighbours_caption(index, shown: int, agree: int, predicted: str) -> str:
    """What the nearest training images are: `index` is the models.explain.neighbours.NeighbourIndex searched."""
    return (
        f"Class, training index · cosine similarity. The {shown} training images whose "
        f"{index.unit_vectors.shape[1]} `{index.layer}` outputs point most nearly the same way as this input's "
        f"(cosine similarity, 1 = same direction), among {len(index.indices):,} randomly chosen training images "
        f"(embedded in {index.seconds:.1f} s once, when the model was stored). {agree} of {shown} are {predicted}."
    )


def top_k_figure(probabilities: np.ndarray, class_names: Sequence[str], k: int = 5) -> go.Figure:
    """The `k` most probable classes as horizontal bars, the most probable on top, with their percentages."""
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(-probabilities, kind="stable")[:k]
    fig = go.Figure(
        go.Bar(
            x=probabilities[order],
            y=[class_names[c] for c in order],
            orientation="h",
            marker=dict(color=["#1f5fa8", *["#a9bcd6"] * (len(order) - 1)]),
            text=[f"{probabilities[c]:.1%}" for c in order],
            textposition="outside",
            textfont=FONT,
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    return probability_axes(fig, x_max=1.25, height=60 + 44 * len(order))
