"""Plotly figures for the Inspect page: feature maps, kernels, confusion matrix, probabilities, embeddings.

Pure plotting: inputs are NumPy arrays and labels (no TensorFlow). Images are (28, 28) float in [0, 1].
Grids of small maps are built from plain dicts in one go (make_subplots and add_trace validate property by
property: hundreds of milliseconds for a grid); a layer's 64 maps are one picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from components.charts.common import FONT
from components.charts.pictures import colorize, picture_data_uri, tile

TITLE_FONT = dict(FONT, size=16)
HOVER = dict(font=dict(FONT, size=15))
# The course notebook's imshow(cmap="inferno"), starting at pure black: Inferno's own first colour, #000004,
# is one of the placeholder colours Streamlit's Plotly theme swaps for theme colours (it turned 0 pink).
ACTIVATION_SCALE = ["#000000", *plotly.colors.sequential.Inferno[1:]]
WEIGHT_SCALE = "RdBu_r"  # negative blue, positive red, 0 white
HEAT_SCALE = [[0.0, "rgba(255,230,0,0)"], [0.25, "rgba(255,200,0,0.35)"], [1.0, "rgba(230,0,0,0.9)"]]
# A signed heat map over the image: blue below 0, clear at 0, red above 0 (range symmetric about 0).
SIGNED_SCALE = [[0.0, "rgba(20,80,220,0.9)"], [0.5, "rgba(255,255,255,0)"], [1.0, "rgba(230,0,0,0.9)"]]
CLASS_COLOURS = (
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#7F7F7F",
)
# One marker shape per class beside its colour, so classes are told apart without colour (e.g. Pullover and Coat
# under deuteranopia); all drawn by WebGL (scattergl).
CLASS_SYMBOLS = (
    "circle",
    "square",
    "diamond",
    "cross",
    "x",
    "triangle-up",
    "triangle-down",
    "star",
    "hourglass",
    "circle-open",
)
WRAP_GAP_PX = 18  # between one image's bands of panels and the next image's label, in a wrapped grid
WRAP_CELL_PX = 170  # a wrapped grid's panel height: two panels across a phone's 356-px chart are ~165 px wide
CORRECT_SCALE = [[0.0, "#f4faf4"], [1.0, "#2e7d32"]]
ERROR_SCALE = [[0.0, "#fff7f3"], [1.0, "#c62828"]]


@dataclass(frozen=True, eq=False)
class GridColumn:
    """One column of an image grid: `values` (rows, h, w).

    kind "image": gray pixels in [0, 1]; "activation": a feature map (one colour range per column);
    "heat": a heat map drawn over the row's image (transparent where 0); "signed": the same with negative values
    in blue (NaN: not drawn).
    """

    title: str
    values: np.ndarray
    kind: Literal["image", "activation", "heat", "signed"] = "activation"


def item_label(index: int, labels: np.ndarray, class_names: Sequence[str], result=None) -> str:
    """ "#23 Ankle boot", and with an evaluation `result` (predictions, confidences) "<br>→ Sandal 62%"."""
    label = f"#{index} {class_names[int(labels[index])]}"
    if result is None:
        return label
    return f"{label}<br>→ {class_names[int(result.predictions[index])]} {result.confidences[index]:.0%}"


def prediction_labels(
    indices: Sequence[int],
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    predicted_names: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """Row labels "#i true<br>→ predicted p%" for these test images, and "#i (predicted)" for those it gets wrong.

    `predicted_names` are the model's classes when they are not the labels' (then nothing counts as wrong)."""
    names = class_names if predicted_names is None else predicted_names
    rows = [
        f"#{i} {class_names[int(labels[i])]}<br>→ {names[int(p.argmax())]} {p.max():.0%}"
        for i, p in zip(indices, probabilities)
    ]
    if list(names) != list(class_names):
        return rows, []
    wrong = [f"#{i} ({names[int(p.argmax())]})" for i, p in zip(indices, probabilities) if p.argmax() != labels[i]]
    return rows, wrong


def projection_text(projection, shown: int) -> tuple[tuple[str, str], str]:
    """Axis titles and a caption for a PCA projection (it has `explained` variance ratios) or a t-SNE one (with its
    perplexity, steps and KL divergence) of the `shown` test images."""
    if projection.explained is not None:
        share = projection.explained
        return (
            (f"PC 1 ({share[0]:.0%} of variance)", f"PC 2 ({share[1]:.0%} of variance)"),
            f"PCA (scikit-learn): the two directions of largest variance keep {share[:2].sum():.0%} of it. "
            "Axes are linear mixes of the dense units.",
        )
    return (
        ("t-SNE 1", "t-SNE 2"),
        f"t-SNE (scikit-learn, Barnes-Hut; perplexity {projection.perplexity:g}, {projection.iterations:,} steps) "
        f"of all {shown:,} test images; KL divergence {projection.kl_divergence:.2f}. It keeps neighbours "
        "together; distances between clusters and the axes mean nothing.",
    )


def why_text(layer: str | None, shape: tuple[int, int] = (0, 0)) -> str:
    """What the Why tab's heat maps are; `layer` is the last conv layer (None: no Grad-CAM), `shape` its maps'."""
    cam = (
        ""
        if layer is None
        else (
            f" **Grad-CAM**: {layer}'s {shape[0]}x{shape[1]} feature maps, each weighted by how much it raises "
            "the class score (its mean gradient), summed, negatives dropped, and placed on the pixels each "
            "position sees."
        )
    )
    return (
        "For one test image: the probability of each class, and heat maps of where the evidence is. "
        "**Saliency**: how much a small change of each pixel would change the class score "
        f"(absolute gradient; red = most).{cam} The class score is the value before softmax; the "
        "gradients come from TensorFlow."
    )


def attribution_text(occlusion, smooth, class_name: str) -> str:
    """What the occlusion and SmoothGrad columns show, for an `occlusion` (patch, stride, fill, drops, starts,
    probability) and a SmoothGrad result (noise, sigma, samples), with where the largest drop is; either may be
    None (not computed: its message is shown instead)."""
    parts = []
    if occlusion is not None:
        fill = "grey (0.5)" if occlusion.fill == "grey" else f"the image's mean ({occlusion.fill_value:.2f})"
        rows, cols = occlusion.drops.shape
        row, col = np.unravel_index(int(np.argmax(occlusion.drops)), occlusion.drops.shape)
        top, left, size = int(occlusion.starts[row]), int(occlusion.starts[col]), occlusion.patch
        drop = float(occlusion.drops[row, col])
        parts.append(
            f"**Occlusion** asks the model directly: a {size}x{size} patch of {fill}, moved {occlusion.stride} "
            f"pixel{'s' if occlusion.stride > 1 else ''} at a time ({rows}x{cols} positions, each a prediction), "
            f"covers part of the image. Red where hiding that part lowers the probability of {class_name}, blue "
            f"where it raises it (each pixel: the mean over the patches covering it). Largest drop: "
            f"{occlusion.probability:.1%} to {occlusion.probability - drop:.1%}, with the patch on rows "
            f"{top}-{top + size - 1}, columns {left}-{left + size - 1}."
        )
        if occlusion.uncovered:
            parts.append(
                f"The last {occlusion.uncovered} row(s) and column(s) are left clear: no patch position reaches them."
            )
    if smooth is not None:
        parts.append(
            f"**SmoothGrad** averages the saliency maps of {smooth.samples} noisy copies of the image (noise "
            f"sigma {smooth.noise:.0%} of its range, {smooth.sigma:.3f}): the speckle of plain saliency averages "
            "away, and what stays is what matters under small changes too."
        )
    return " ".join(parts)


def channel_notes(layers: Sequence[tuple[str, str]], number: int) -> list[str]:
    """What channel `number` of each (name, kind) layer is: a conv layer's own filter, or a pooling layer's copy of
    the conv filter before it, pooled (pooling keeps the channels)."""
    notes, conv = [], None
    for name, kind in layers:
        if kind == "Conv2D":
            notes.append(f"filter {number}" if conv is None else f"new filter {number}")
            conv = name
        else:
            notes.append(f"pooled {conv}" if conv else "pooled input")
    return notes


def channel_caption(layers: Sequence[tuple[str, str, str]], number: int) -> str:
    """The feature-map grid's caption for (name, kind, weights shape e.g. "3x3x32") layers: which columns show the
    same filter."""
    text = (
        f"Filter {number} of each layer: different filters that share a number. A pooling layer keeps its input's "
        f"channels, so its map {number} is the conv map {number} before it, pooled."
    )
    convs = [(position, name, shape) for position, (name, kind, shape) in enumerate(layers) if kind == "Conv2D"]
    if len(convs) > 1:
        (_, first, _), (position, second, shape) = convs[0], convs[1]
        text += (
            f" {second}'s filter {number} is not {first}'s filter {number} again: it has its own {shape} weights "
            f"and adds up all {shape.rsplit('x', 1)[1]} maps of {layers[position - 1][0]}."
        )
    return text


def kernels_caption(
    initial: np.ndarray, trained: np.ndarray, epochs: int, typical: Sequence[float], close: Sequence[int], chance: float
) -> str:
    """The learned-filters caption: weight ranges before/after `epochs`, the median best |cosine| (`typical`) and
    the number of kernels beating `chance` (`close`), at initialisation and after training."""
    count = len(trained)
    return (
        f"Same layout in both views (grouped by the trained kernels); each kernel is coloured relative to its "
        f"own largest weight. Weights at initialisation: "
        f"{initial.min():+.2f} to {initial.max():+.2f} (Glorot uniform); after {epochs} epochs: "
        f"{trained.min():+.2f} to {trained.max():+.2f}. Random 3x3 weights resemble some library kernel too: "
        f"95% of random Glorot-uniform filters reach best |cosine| at most {chance:.2f} (chance), so only a "
        f"match above it gets a name. Median best |cosine| {typical[0]:.2f} at initialisation, {typical[1]:.2f} "
        f"after training; above chance: {close[0]} of {count} at initialisation, {close[1]} of {count} after "
        "training."
    )


def kernel_notes(groups, count: int, chance: float, no_match: str) -> list[str]:
    """Per kernel, "≈ name (cosine +0.91, chance 95th percentile 0.78)" for the group (name, indices, scores) it
    belongs to; kernels of the `no_match` group get "no close classic kernel (best |cosine| ...)"."""
    notes = [""] * count
    for group in groups:
        for index, score in zip(group.indices, group.scores):
            score_text = f"cosine {score:+.2f}, chance 95th percentile {chance:.2f}"
            named = group.name != no_match
            notes[index] = f"\u2248 {group.name} ({score_text})" if named else f"{group.name} ({score_text})"
    return notes


def _image_grid(rows: int, cols: int, *, h_spacing: float, v_spacing: float, width: float = 1.0) -> dict:
    """Layout dict of a rows x cols grid of image cells as make_subplots lays it out (axes numbered row by
    row from 1; `width` of the paper used): square pixels, row 0 at the top, no ticks."""
    cell_w, cell_h = (width - h_spacing * (cols - 1)) / cols, (1 - v_spacing * (rows - 1)) / rows
    layout: dict = {}
    for r in range(rows):
        for c in range(cols):
            suffix = "" if r * cols + c == 0 else str(r * cols + c + 1)
            left, top = c * (cell_w + h_spacing), 1 - r * (cell_h + v_spacing)
            layout[f"xaxis{suffix}"] = dict(
                anchor=f"y{suffix}", domain=[left, left + cell_w], visible=False, constrain="domain"
            )
            layout[f"yaxis{suffix}"] = dict(
                anchor=f"x{suffix}",
                domain=[max(top - cell_h, 0.0), top],
                visible=False,
                autorange="reversed",
                scaleanchor=f"x{suffix}",
                constrain="domain",
            )
    return layout


def _suffix(row: int, col: int, cols: int) -> str:
    """The axis-name suffix of a grid cell: "", "2", "3" ... row by row, as make_subplots numbers them."""
    n = row * cols + col + 1
    return "" if n == 1 else str(n)


def _axis_id(row: int, col: int, cols: int) -> dict:
    suffix = _suffix(row, col, cols)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def _centre(layout: dict, axis: str) -> float:
    low, high = layout[axis]["domain"]
    return (low + high) / 2


def _title(text: str, x: float, y: float, font: dict, **extra: object) -> dict:
    return (
        dict(
            text=text,
            x=x,
            y=y,
            xref="paper",
            yref="paper",
            xanchor="center",
            yanchor="bottom",
            showarrow=False,
            font=font,
        )
        | extra
    )


def _gray(image: np.ndarray, name: str, brightness: float = 1.0) -> dict:
    return dict(
        type="heatmap",
        z=np.asarray(image, dtype=np.float32),
        colorscale="Gray",
        zmin=0.0,
        zmax=1.0 / brightness,
        showscale=False,
        name=name,
        hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}: %{{z:.2f}}<extra></extra>",
    )


def _wrapped_grid(
    columns: Sequence[GridColumn], row_labels: Sequence[str] | None, rows: int, per_row: int
) -> tuple[dict, list[dict], int]:
    """Axes, titles and plot height (px) of the grid with each image's columns `per_row` a band (a phone): the
    image's label above its bands, every panel's title above it, axes numbered as in the one-row-per-image grid."""
    cols, spacing, cell = len(columns), 0.04, WRAP_CELL_PX
    title_px = 20 * max(column.title.count("<br>") + 1 for column in columns) + 4
    label_px = 20 * max(label.count("<br>") + 1 for label in row_labels) + 10 if row_labels else 0
    block = label_px + -(-cols // per_row) * (title_px + cell) + WRAP_GAP_PX
    height, width = rows * block, (1 - spacing * (per_row - 1)) / per_row
    layout: dict = {}
    titles = []
    for row in range(rows):
        if row_labels:
            titles.append(
                _title(row_labels[row], 0.0, 1 - (row * block + label_px) / height, TITLE_FONT, xanchor="left")
            )
        for col, column in enumerate(columns):
            band, slot = divmod(col, per_row)
            top, left = row * block + label_px + band * (title_px + cell) + title_px, slot * (width + spacing)
            suffix = _suffix(row, col, cols)
            layout[f"xaxis{suffix}"] = dict(
                anchor=f"y{suffix}", domain=[left, left + width], visible=False, constrain="domain"
            )
            layout[f"yaxis{suffix}"] = dict(
                anchor=f"x{suffix}",
                domain=[max(1 - (top + cell) / height, 0.0), 1 - top / height],
                visible=False,
                autorange="reversed",
                scaleanchor=f"x{suffix}",
                constrain="domain",
                constraintoward="top",
            )
            titles.append(_title(column.title, left + width / 2, 1 - top / height, TITLE_FONT))
    return layout, titles, height


def image_grid_figure(
    images: np.ndarray,
    columns: Sequence[GridColumn],
    row_labels: Sequence[str] | None = None,
    *,
    cell: int = 150,
    per_row: int | None = None,
) -> go.Figure:
    """Rows are images, columns are stages (input, heat maps, layers), as in the course notebook's grid, `cell` px
    tall; with `per_row` (a phone), each image's columns wrap `per_row` a band under its label."""
    rows = len(images)
    if any(len(column.values) != rows for column in columns) or (row_labels is not None and len(row_labels) != rows):
        raise ValueError("Every column and the row labels need one entry per image.")
    cols = len(columns)
    if per_row is not None and per_row < cols:
        layout, titles, height = _wrapped_grid(columns, row_labels, rows, per_row)
        layout.update(height=height + 10, margin=dict(l=5, r=5, t=5, b=5))
    else:
        layout = _image_grid(rows, cols, h_spacing=0.012, v_spacing=0.03, width=0.98 if row_labels else 1.0)
        titles = _grid_titles(layout, columns, row_labels)
        layout.update(height=rows * cell + 60, margin=dict(l=5, r=170 if row_labels else 5, t=45, b=5))
    data = []
    for col, column in enumerate(columns):
        low, high = float(np.min(column.values)), float(np.max(column.values))
        for row in range(rows):
            values, where = np.asarray(column.values[row], dtype=np.float32), _axis_id(row, col, cols)
            if column.kind == "image":
                data.append(_gray(values, "pixel") | where)
                continue
            if column.kind == "heat":
                data.append(_gray(images[row], "pixel", brightness=0.55) | where)
                data.append(
                    dict(
                        type="heatmap",
                        z=values,
                        colorscale=HEAT_SCALE,
                        zmin=0.0,
                        zmax=max(float(values.max()), 1e-12),
                        showscale=False,
                        hovertemplate=f"{column.title}<br>row %{{y}}, col %{{x}}: %{{z:.3g}}<extra></extra>",
                    )
                    | where
                )
                continue
            if column.kind == "signed":
                reach = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
                data.append(_gray(images[row], "pixel", brightness=0.55) | where)
                data.append(
                    dict(
                        type="heatmap",
                        z=values,
                        colorscale=SIGNED_SCALE,
                        zmin=-max(reach, 1e-12),
                        zmax=max(reach, 1e-12),
                        showscale=False,
                        hoverongaps=False,
                        hovertemplate=f"{column.title}<br>row %{{y}}, col %{{x}}: %{{z:+.3f}}<extra></extra>",
                    )
                    | where
                )
                continue
            data.append(
                dict(
                    type="heatmap",
                    z=values,
                    colorscale=ACTIVATION_SCALE,
                    zmin=low,
                    zmax=high if high > low else low + 1e-6,
                    showscale=False,
                    hovertemplate=f"{column.title}<br>row %{{y}}, col %{{x}}: %{{z:.3f}}<extra></extra>",
                )
                | where
            )
    layout.update(annotations=titles, hoverlabel=HOVER, plot_bgcolor="white", paper_bgcolor="white", font=FONT)
    return go.Figure(data=data, layout=layout)


def _grid_titles(layout: dict, columns: Sequence[GridColumn], row_labels: Sequence[str] | None) -> list[dict]:
    """Column titles above the first row, row labels right of the last column."""
    cols = len(columns)
    titles = [
        _title(column.title, _centre(layout, f"xaxis{_suffix(0, c, cols)}"), 1.0, TITLE_FONT)
        for c, column in enumerate(columns)
    ]
    return titles + [
        _title(
            label,
            1.005,
            _centre(layout, f"yaxis{_suffix(row, 0, cols)}"),
            TITLE_FONT,
            xanchor="left",
            yanchor="middle",
            textangle=0,
        )
        for row, label in enumerate(row_labels or [])
    ]


def _tiles(blocks: Sequence[np.ndarray], per_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-size (h, w) blocks tiled `per_row` a row with NaN between them, and per cell the block index (-1
    in the gaps)."""
    stack = np.asarray(blocks, dtype=np.float64)
    owner = np.broadcast_to(np.arange(len(stack))[:, None, None], stack.shape)
    return tile(stack, per_row), tile(owner, per_row, fill=-1)


def all_maps_figure(
    maps: np.ndarray, layer: str, *, per_map: bool = False, per_row: int = 8, height: int = 720
) -> go.Figure:
    """All channels of one image's feature map (h, w, C) as a grid: one colour range for the layer, or
    (`per_map`) each map divided by its own maximum so weak maps show their pattern too.

    The grid is one picture; an invisible heatmap with one cell per map names the filter and its largest
    value on hover.
    """
    height_px, width_px, channels = maps.shape
    tiles = [maps[:, :, c] for c in range(channels)]
    canvas, owner = _tiles(tiles, per_row)
    peaks = maps.max(axis=(0, 1))
    if per_map:
        canvas = canvas / np.where(owner >= 0, np.where(peaks > 0, peaks, 1.0)[owner], 1.0)
    low, high = (0.0, 1.0) if per_map else (float(maps.min()), float(maps.max()))
    rows = -(-channels // per_row)
    filters = np.full(rows * per_row, np.nan)
    filters[:channels] = np.arange(channels)
    largest = np.full(rows * per_row, np.nan)
    largest[:channels] = peaks
    picture = dict(
        type="image",
        source=picture_data_uri(colorize(canvas, ACTIVATION_SCALE, low, high, gap=(255, 255, 255)), lossless=True),
        hoverinfo="skip",
    )  # PNG: the maps are drawn enlarged, JPEG would blur their edges
    names = dict(
        type="heatmap",
        z=filters.reshape(rows, per_row),
        customdata=largest.reshape(rows, per_row),
        x0=(width_px - 1) / 2,
        dx=width_px + 1,
        y0=(height_px - 1) / 2,
        dy=height_px + 1,
        opacity=0,
        hoverongaps=False,
        hovertemplate=f"{layer} filter %{{z}}<br>largest value %{{customdata:.3f}}<extra></extra>",
        # the colour bar of the picture: the invisible cells' own values (filter numbers) are not drawn
        colorscale=ACTIVATION_SCALE,
        zmin=low,
        zmax=high if high > low else low + 1e-6,
        zauto=False,
        colorbar=dict(
            title=dict(text="value /<br>map max" if per_map else "value", font=FONT), tickfont=FONT, thickness=14
        ),
    )
    layout = _image_grid(1, 1, h_spacing=0.0, v_spacing=0.0)
    layout.update(height=height, margin=dict(l=5, r=5, t=10, b=5), hoverlabel=HOVER, plot_bgcolor="white", font=FONT)
    return go.Figure(data=[picture, names], layout=layout)


def kernel_gallery_figure(
    kernels: np.ndarray,
    groups: Sequence[tuple[str, Sequence[int]]],
    notes: Sequence[str],
    *,
    per_row: int = 10,
    cell: int = 16,
) -> go.Figure:
    """(n, k, k) kernels in rows per group (wrapping at `per_row`); hover shows the filter, its weights and note.

    Each kernel is coloured relative to its own largest |weight| (blue -1, white 0, red +1), so small
    and large kernels show their pattern equally; the hover gives the real weights.
    """
    size = kernels.shape[1]
    peaks = np.abs(kernels).max(axis=(1, 2))
    scaled = kernels / np.where(peaks > 0, peaks, 1.0)[:, None, None]
    blank = np.full((size, size), np.nan)
    blocks: list[np.ndarray] = []
    owners: list[int] = []
    tick_rows: list[float] = []
    tick_text: list[str] = []
    for name, indices in groups:
        tick_rows.append(len(blocks) // per_row * (size + 1) + (size - 1) / 2)
        tick_text.append(f"{name} ({len(indices)})")
        for start in range(0, len(indices), per_row):
            chunk = list(indices[start : start + per_row])
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
    fig = go.Figure(
        go.Heatmap(
            z=canvas,
            customdata=customdata,
            colorscale=WEIGHT_SCALE,
            zmin=-1.0,
            zmax=1.0,
            hoverongaps=False,
            colorbar=dict(
                title=dict(text="weight /<br>kernel's<br>max |weight|", font=dict(FONT, size=14)),
                tickfont=FONT,
                thickness=14,
            ),
            hovertemplate="%{customdata[0]}<br>this weight: %{customdata[1]:+.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(
        autorange="reversed",
        scaleanchor="x",
        constrain="domain",
        tickvals=tick_rows,
        ticktext=tick_text,
        tickfont=FONT,
        showgrid=False,
        zeroline=False,
        ticks="",
    )
    fig.update_layout(
        height=canvas.shape[0] * cell + 20,
        margin=dict(l=5, r=5, t=10, b=5),
        hoverlabel=HOVER,
        plot_bgcolor="white",
        font=FONT,
    )
    return fig


def confusion_figure(
    confusion: np.ndarray, class_names: Sequence[str], selected: tuple[int, int] | None = None
) -> go.Figure:
    """Rows true class, columns predicted; correct counts in green, errors in red, each with its own scale.

    An invisible square marker sits on every cell so a click selects it (Plotly heat maps are not selectable);
    `clicked_cell` turns the selected point back into (true class, predicted class).
    """
    counts = np.asarray(confusion)
    classes = len(class_names)
    diagonal = np.eye(classes, dtype=bool)
    support = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    names = list(class_names)
    data = []
    for mask, scale in ((diagonal, CORRECT_SCALE), (~diagonal, ERROR_SCALE)):
        values = np.where(mask, counts, np.nan).astype(float)
        data.append(
            dict(
                type="heatmap",
                z=values,
                x=names,
                y=names,
                colorscale=scale,
                zmin=0,
                zmax=max(float(np.nanmax(values)), 1.0),
                showscale=False,
                hoverinfo="skip",
                texttemplate="%{z:.0f}",
                textfont=dict(FONT, size=15),
                xgap=2,
                ygap=2,
            )
        )
    true_index, predicted_index = np.divmod(np.arange(classes * classes), classes)
    share = counts[true_index, predicted_index] / support[true_index, 0]
    hover = [
        f"true <b>{names[t]}</b>, predicted <b>{names[p]}</b><br>{counts[t, p]:,} images "
        f"({s:.1%} of {names[t]})<br>click to see them"
        for t, p, s in zip(true_index, predicted_index, share)
    ]
    data.append(
        dict(
            type="scatter",
            x=[names[p] for p in predicted_index],
            y=[names[t] for t in true_index],
            mode="markers",
            marker=dict(symbol="square", size=34, color="rgba(0,0,0,0)"),
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            showlegend=False,
            selected=dict(marker=dict(color="rgba(0,0,0,0)")),
            unselected=dict(marker=dict(opacity=0)),
        )
    )
    shapes = []
    if selected is not None:
        t, p = selected
        shapes.append(
            dict(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line=dict(color="#111", width=4))
        )
    layout = dict(
        xaxis=dict(
            title=dict(text="predicted class", font=TITLE_FONT),
            tickfont=FONT,
            tickangle=-35,
            side="bottom",
            showgrid=False,
        ),
        yaxis=dict(title=dict(text="true class", font=TITLE_FONT), tickfont=FONT, autorange="reversed", showgrid=False),
        shapes=shapes,
        height=640,
        margin=dict(l=10, r=10, t=10, b=10),
        hoverlabel=HOVER,
        plot_bgcolor="white",
        font=FONT,
        clickmode="event+select",
        dragmode=False,
    )
    return go.Figure(data=data, layout=layout)


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
    fig = go.Figure(
        go.Bar(
            x=probabilities,
            y=labels,
            orientation="h",
            marker=dict(color=colours, line=dict(color="#111", width=outline)),
            text=[f"{p:.1%}" for p in probabilities],
            textfont=FONT,
            cliponaxis=False,
            textposition=["inside" if p > 0.6 else "outside" for p in probabilities],
            insidetextanchor="end",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    return probability_axes(fig, x_max=1.35, height=420)


def probability_axes(fig: go.Figure, *, x_max: float, height: int) -> go.Figure:
    """The look of a class-probability bar chart: a 0-100% axis (room for the labels up to `x_max`), classes down."""
    fig.update_xaxes(
        range=[0, x_max],
        tickvals=[0, 0.5, 1],
        tickformat=".0%",
        tickfont=FONT,
        title=dict(text="probability", font=FONT),
    )
    fig.update_yaxes(autorange="reversed", tickfont=FONT)
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        hoverlabel=HOVER,
        plot_bgcolor="white",
        font=FONT,
        showlegend=False,
    )
    return fig


def gallery_figure(images: np.ndarray, titles: Sequence[str], *, per_row: int = 6, cell: int = 190) -> go.Figure:
    """Gray images with a title each (e.g. true and predicted label), `per_row` a row."""
    count = len(images)
    rows = max(1, -(-count // per_row))
    layout = _image_grid(rows, per_row, h_spacing=0.02, v_spacing=0.3 / rows)
    data = [
        _gray(image, "pixel") | _axis_id(index // per_row, index % per_row, per_row)
        for index, image in enumerate(images)
    ]
    suffixes = [_suffix(index // per_row, index % per_row, per_row) for index in range(len(titles))]
    annotations = [
        _title(title, _centre(layout, f"xaxis{suffix}"), layout[f"yaxis{suffix}"]["domain"][1], dict(FONT, size=14))
        for title, suffix in zip(titles, suffixes)
    ]
    layout.update(
        annotations=annotations,
        height=rows * cell + 40,
        margin=dict(l=5, r=5, t=70, b=5),
        hoverlabel=HOVER,
        plot_bgcolor="white",
        font=FONT,
    )
    return go.Figure(data=data, layout=layout)


SMALL_SET = 500  # points: fewer (a run on the learner's own images) are drawn larger


def embedding_figure(
    coordinates: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    confidences: Sequence[str],
    indices: np.ndarray,
    class_names: Sequence[str],
    *,
    axis_titles: tuple[str, str] = ("1", "2"),
) -> go.Figure:
    """WebGL scatter of the points, one legend entry per true class (click it to hide the class); customdata is
    the test-image index.

    Hover: "#index true class<br>predicted class confidence". Each class is two traces, the points predicted
    right and the others, so only a mistake sends its predicted class name with it.
    """
    confidence_texts = np.asarray(confidences, dtype=object)
    data = []
    for class_index, name in enumerate(class_names):
        colour = CLASS_COLOURS[class_index % len(CLASS_COLOURS)]
        for right in (True, False):
            members = np.flatnonzero((labels == class_index) & ((predictions == class_index) == right))
            text = (
                confidence_texts[members]
                if right
                else [f"{class_names[p]} {c}" for p, c in zip(predictions[members], confidence_texts[members])]
            )
            data.append(
                dict(
                    type="scattergl",
                    x=coordinates[members, 0].astype(np.float32),
                    y=coordinates[members, 1].astype(np.float32),
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=right,
                    marker=dict(
                        size=6 if len(labels) > SMALL_SET else 11,
                        color=colour,
                        symbol=CLASS_SYMBOLS[class_index % len(CLASS_SYMBOLS)],
                        opacity=0.75,
                    ),
                    customdata=indices[members].astype(np.int32),
                    text=list(text),
                    hovertemplate=f"#%{{customdata}} {name}<br>predicted {name + ' ' if right else ''}%{{text}}"
                    "<extra></extra>",
                )
            )
    layout = dict(
        xaxis=dict(title=dict(text=axis_titles[0], font=FONT), tickfont=FONT, zeroline=False),
        yaxis=dict(title=dict(text=axis_titles[1], font=FONT), tickfont=FONT, zeroline=False),
        height=620,
        margin=dict(l=10, r=10, t=10, b=10),
        hoverlabel=HOVER,
        font=FONT,
        legend=dict(font=FONT, itemsizing="constant"),
        clickmode="event+select",
        plot_bgcolor="#fafafa",
    )
    return go.Figure(data=data, layout=layout)
