"""Plotly figures for the Filters page (no Streamlit here).

Big images are shown block-averaged to at most `DISPLAY_MAX_SIDE` pixels per side (the
page says so) while every number is computed at full working size. Filter outputs use
one diverging colour scale centred on 0 (blue negative, white zero, red positive),
shared by every panel of a figure, so equal colours mean equal values. Outputs of more
than `HOVER_LIMIT` values are sent as PNG pictures coloured here (hover gives the row and
column); smaller ones stay heatmaps whose hover gives every value.

Figures are built from plain dicts in one go: plotly's make_subplots/update_* calls
validate property by property and cost hundreds of milliseconds per rerun.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from components.charts.common import FONT, outline
from components.charts.pictures import colorize, picture_data_uri, tile
from models.inputs.images import to_display_uint8
from models.ops.convolution import PixelStep

DISPLAY_MAX_SIDE = 384  # about the size a panel of the 2 x 2 grid is drawn at
RGB_DISPLAY_MAX_SIDE = 384  # RGB shows six smaller panels
FIGURE_WIDTH = 900  # about the width of the main column in the wide layout, for sizing heights
DIVERGING = "RdBu_r"
GRAY = [[0.0, "black"], [1.0, "white"]]
GALLERY_COLUMNS = 8
DEMO_RED = "#d62728"  # the small example's window and the output cell it makes
HOVER_LIMIT = 64 * 64  # values per panel; larger outputs are drawn as pictures
WINDOW_COLOUR = "#e4572e"  # the step-by-step pixel's window and, with dilation, each tap it reads
TAP_FILL = "rgba(228, 87, 46, 0.35)"  # a pixel a dilated kernel's tap reads, tinted so the skipped ones stand apart
TITLE_PX = 15  # panel titles at the chart text size (components.presentation.CHART_TEXT_PX)
TWO_LINE_TITLE_MARGIN = 56  # px above the panels for a two-line title at TITLE_PX


# ---------------------------------------------------------------- arrays for display


def display_factor(shape: tuple[int, ...], max_side: int = DISPLAY_MAX_SIDE) -> int:
    """The whole-number block size that brings an image's long side down to `max_side` or less."""
    return max(1, math.ceil(max(shape[0], shape[1]) / max_side))


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks of an (H, W) or (H, W, C) array (edge blocks may be smaller)."""
    pixels = np.asarray(x, dtype=np.float32)
    if factor == 1:
        return pixels
    return np.ascontiguousarray(_axis_mean(_axis_mean(pixels, factor, 0), factor, 1))


def _axis_mean(x: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """Mean of runs of `factor` along one axis, as `factor` strided whole-array additions."""
    moved = np.moveaxis(x, axis, 0)
    length = moved.shape[0]
    sums = np.zeros((-(-length // factor),) + moved.shape[1:], dtype=np.float32)
    counts = np.zeros(sums.shape[0], dtype=np.float32)
    for offset in range(factor):
        part = moved[offset::factor]
        sums[: len(part)] += part
        counts[: len(part)] += 1
    sums /= counts.reshape((-1,) + (1,) * (sums.ndim - 1))
    return np.moveaxis(sums, 0, axis)


def thumbnail(x: np.ndarray, size: int = 200) -> np.ndarray:
    """uint8 picture of an output (stretched min..max) about `size` pixels on its long side.

    Small images are enlarged by repeating pixels (no smoothing), large ones block-averaged.
    """
    pixels = np.asarray(x, dtype=np.float32)
    long_side = max(pixels.shape[0], pixels.shape[1])
    if long_side > size:
        pixels = block_mean(pixels, display_factor(pixels.shape, size))
    repeat = max(1, size // max(pixels.shape[0], pixels.shape[1]))
    picture = to_display_uint8(pixels)
    return np.repeat(np.repeat(picture, repeat, axis=0), repeat, axis=1)


def _symmetric_limit(*arrays: np.ndarray) -> float:
    limit = max(float(np.max(np.abs(a))) for a in arrays)
    return limit if limit > 0 else 1.0


# ---------------------------------------------------------------- layout helpers

_AXIS_STYLE = dict(showgrid=False, zeroline=False, tickfont=dict(size=10), constrain="domain")


def _grid(rows: int, cols: int, titles: list[str] | None = None, *, h_gap: float = 0.06, v_gap: float = 0.1) -> dict:
    """Layout dict with one image-style axis pair per cell, numbered row by row from 1.

    Square pixels (scaleanchor), row 0 at the top, and each title just above its cell.
    """
    layout: dict = {"annotations": []}
    width, height = (1 - h_gap * (cols - 1)) / cols, (1 - v_gap * (rows - 1)) / rows
    for r in range(rows):
        for c in range(cols):
            n = r * cols + c + 1
            suffix = "" if n == 1 else str(n)
            left, top = c * (width + h_gap), 1 - r * (height + v_gap)
            layout[f"xaxis{suffix}"] = dict(_AXIS_STYLE, domain=_domain(left, left + width), anchor=f"y{suffix}")
            layout[f"yaxis{suffix}"] = dict(
                _AXIS_STYLE,
                domain=_domain(top - height, top),
                anchor=f"x{suffix}",
                scaleanchor=f"x{suffix}",
                autorange="reversed",
            )
            if titles:
                layout["annotations"].append(
                    dict(
                        text=titles[n - 1],
                        x=left + width / 2,
                        y=top,
                        xref="paper",
                        yref="paper",
                        xanchor="center",
                        yanchor="bottom",
                        showarrow=False,
                        font=dict(FONT, size=TITLE_PX),  # the chart text size: readable from the back
                    )
                )
    return layout


def _domain(start: float, end: float) -> list[float]:
    return [min(max(round(start, 6), 0.0), 1.0), min(max(round(end, 6), 0.0), 1.0)]


def _cell(n: int) -> dict:
    suffix = "" if n == 1 else str(n)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def _figure(data: list[dict], layout: dict, **extra: object) -> go.Figure:
    base = dict(font=FONT, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", paper_bgcolor="white")
    return go.Figure(data=data, layout={**base, **layout, **extra})


def _diverging_axis(limit: float, title: str, **colorbar: object) -> dict:
    return dict(
        colorscale=DIVERGING,
        cmin=-limit,
        cmax=limit,
        colorbar=dict(thickness=12, title=dict(text=title, side="top"), **colorbar),
    )


# ---------------------------------------------------------------- original vs filtered


def response_figure(original: np.ndarray, raw: np.ndarray, *, per_row: int | None = None) -> go.Figure:
    """Original beside the raw output, its ReLU and a min..max rescaled view; `per_row` panels a row (a phone: 1).

    Grayscale (2-D) images give a 2 x 2 grid (at most `DISPLAY_MAX_SIDE` pixels shown per
    side). RGB images (H, W, 3) give the colour composites on top (original, ReLU clipped
    at 1, rescaled) and each channel's raw output below (at most `RGB_DISPLAY_MAX_SIDE`).
    Raw and ReLU panels share one diverging colour scale centred on 0; every shown
    pixel is the mean of its block, ReLU applied before averaging.
    """
    original, raw = np.asarray(original, dtype=np.float32), np.asarray(raw, dtype=np.float32)
    max_side = shown_side(raw)
    in_factor, out_factor = display_factor(original.shape, max_side), display_factor(raw.shape, max_side)
    shown_in, shown_raw = block_mean(original, in_factor), block_mean(raw, out_factor)
    shown_relu = block_mean(np.maximum(raw, 0.0), out_factor)
    limit = _symmetric_limit(raw)
    original_trace = _image_trace(to_display_uint8(shown_in, rescale=False), in_factor)
    rescaled_trace = _image_trace(to_display_uint8(shown_raw), out_factor)
    if raw.ndim == 2:
        columns = per_row or 2
        layout = _grid(
            -(-4 // columns),
            columns,
            ["Original (input 0 to 1)", "Raw output", "After ReLU: max(0, x)", "Rescaled: min black, max white"],
        )
        data = [
            original_trace | _cell(1),
            _value_heatmap(shown_raw, out_factor, "raw", limit) | _cell(2),
            _value_heatmap(shown_relu, out_factor, "ReLU", limit) | _cell(3),
            rescaled_trace | _cell(4),
        ]
    else:
        columns = per_row or 3
        layout = _grid(
            -(-6 // columns),
            columns,
            [
                "Original (RGB)",
                "After ReLU (above 1 shown as 1)",
                "Rescaled: min black, max white",
                "Raw output: red channel",
                "Raw output: green channel",
                "Raw output: blue channel",
            ],
        )
        relu_trace = _image_trace(to_display_uint8(shown_relu, rescale=False), out_factor)
        data = [original_trace | _cell(1), relu_trace | _cell(2), rescaled_trace | _cell(3)]
        data += [
            _value_heatmap(shown_raw[:, :, c], out_factor, f"raw {name}", limit) | _cell(4 + c)
            for c, name in enumerate(("red", "green", "blue"))
        ]
    if not any(trace.get("coloraxis") for trace in data):  # every panel is a picture: keep the colour bar
        data.append(_scale_only_trace(limit) | _cell(len(data)))
    panel_width = min(360, (FIGURE_WIDTH - 100) / columns)
    rows = -(-len(layout["annotations"]) // columns)
    height = int(min(rows * (panel_width * raw.shape[0] / raw.shape[1] + 50) + 30, 450 * rows))
    return _figure(data, layout, height=height, coloraxis=_diverging_axis(limit, "output<br>value", len=0.6))


def shown_side(image: np.ndarray) -> int:
    """The most pixels per side `response_figure` shows for this (H, W) or (H, W, 3) output."""
    return DISPLAY_MAX_SIDE if np.ndim(image) == 2 else RGB_DISPLAY_MAX_SIDE


def _image_trace(picture: np.ndarray, factor: int) -> dict:
    return dict(
        type="image",
        source=picture_data_uri(picture),
        dx=factor,
        dy=factor,
        x0=(factor - 1) / 2,
        y0=(factor - 1) / 2,
        hovertemplate="row %{y}, col %{x}<extra></extra>",
    )


def _value_heatmap(values: np.ndarray, factor: int, name: str, limit: float) -> dict:
    """A panel on the shared diverging scale: a heatmap (hover gives each value) or, when large, a picture."""
    if values.size > HOVER_LIMIT:
        return _image_trace(colorize(values, DIVERGING, -limit, limit), factor)
    where = "block at row %{y}, col %{x}" if factor > 1 else "row %{y}, col %{x}"
    return dict(
        type="heatmap",
        z=values,
        x0=(factor - 1) / 2,
        dx=factor,
        y0=(factor - 1) / 2,
        dy=factor,
        coloraxis="coloraxis",
        name=name,
        hovertemplate=f"{where}<br>{name} %{{z:.3f}}<extra></extra>",
    )


def _scale_only_trace(limit: float) -> dict:
    """An invisible two-cell heatmap on the shared colour axis, so its colour bar shows beside pictures."""
    return dict(type="heatmap", z=[[-limit, limit]], coloraxis="coloraxis", opacity=0, hoverinfo="skip")


# ---------------------------------------------------------------- kernels


def _weight_text(values: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: f"{v:.3g}" if abs(v) >= 5e-4 or v == 0 else f"{v:.1e}", otypes=[object])(values)


def _annotated(
    values: np.ndarray, text: np.ndarray, colorscale: object, low: float, high: float, hover: str, font_size: int
) -> dict:
    return dict(
        type="heatmap",
        z=values,
        text=text,
        texttemplate="%{text}",
        textfont=dict(size=font_size),
        colorscale=colorscale,
        zmin=low,
        zmax=high,
        showscale=False,
        xgap=2,
        ygap=2,
        hovertemplate=hover + "<extra></extra>",
    )


def _cell_font(size: int) -> int:
    return 15 if size <= 3 else 11 if size <= 5 else 9  # 5x5: "0.00994" fits a cell a third of the page wide


def kernel_figure(kernel: np.ndarray) -> go.Figure:
    """The kernel's weights as coloured cells with the numbers written in them."""
    weights = np.asarray(kernel, dtype=np.float32)
    limit, size = _symmetric_limit(weights), weights.shape[0]
    trace = _annotated(
        weights, _weight_text(weights), DIVERGING, -limit, limit, "row %{y}, col %{x}: %{z:.4g}", _cell_font(size) + 1
    )
    layout = _grid(1, 1)
    layout["xaxis"].update(dtick=1)
    layout["yaxis"].update(dtick=1)
    side = 60 + 46 * max(size, 4)
    return _figure([trace], layout, height=side, width=side, margin=dict(l=30, r=10, t=10, b=10))


def scaled_per_tile(arrays: np.ndarray) -> np.ndarray:
    """Divide each (h, w) array of (n, h, w) by its largest |value| (all-zero arrays stay 0)."""
    arrays = np.asarray(arrays, dtype=np.float32)
    peaks = np.abs(arrays).reshape(len(arrays), -1).max(axis=1)
    return arrays / np.where(peaks > 0, peaks, 1.0)[:, None, None]


def _tile_ticks(layout: dict, n: int, shape: tuple[int, int], count: int, columns: int) -> None:
    """Tick each tile column "+c" and each tile row with its first index: index = row label + column label."""
    height, width = shape
    rows = -(-count // columns)
    suffix = "" if n == 1 else str(n)
    layout[f"xaxis{suffix}"].update(
        tickvals=[c * (width + 1) + (width - 1) / 2 for c in range(columns)], ticktext=[f"+{c}" for c in range(columns)]
    )
    layout[f"yaxis{suffix}"].update(
        tickvals=[r * (height + 1) + (height - 1) / 2 for r in range(rows)],
        ticktext=[str(r * columns) for r in range(rows)],
    )


def _weight_hover(kernels: np.ndarray, labels: list[str]) -> np.ndarray:
    text = np.empty(kernels.shape, dtype=object)
    for index, weights in enumerate(kernels):
        text[index] = np.vectorize(lambda w, label=labels[index]: f"{label}<br>weight {w:.3f}", otypes=[object])(
            weights
        )
    return text


def gallery_figure(initial: np.ndarray, trained: np.ndarray, labels: list[str], *, epochs: int) -> go.Figure:
    """All first-layer filters at initialisation beside after training (8 per row).

    Both grids share one colour scale, the largest |weight| of either, so a weight looks the same size in both:
    the small random start stays faint beside the patterns training grew (hover gives each weight).
    """
    count, k = trained.shape[0], trained.shape[1]
    largest = float(max(np.abs(initial).max(), np.abs(trained).max())) or 1.0
    layout = _grid(
        1,
        2,
        [
            f"At initialisation (random, |w| \u2264 {np.abs(initial).max():.2f})",
            f"After {epochs} epochs of training (|w| \u2264 {np.abs(trained).max():.2f})",
        ],
        h_gap=0.1,
    )
    init_labels = [f"Filter {i} at initialisation" for i in range(count)]
    data = []
    for n, (kernels, names) in enumerate([(initial, init_labels), (trained, labels)], start=1):
        data.append(
            dict(
                type="heatmap",
                z=tile(kernels / largest, GALLERY_COLUMNS),
                text=tile(_weight_hover(kernels, names), GALLERY_COLUMNS, fill=""),
                coloraxis="coloraxis",
                hoverongaps=False,
                hovertemplate="%{text}<extra></extra>",
            )
            | _cell(n)
        )
        _tile_ticks(layout, n, (k, k), count, GALLERY_COLUMNS)
    return _figure(data, layout, height=470, coloraxis=_diverging_axis(1.0, f"weight /<br>{largest:.2f}", len=0.8))


def epoch_strip_figure(history: np.ndarray, *, title: str) -> go.Figure:
    """One filter's weights at initialisation and after each epoch, left to right, on one colour scale."""
    count, k = history.shape[0], history.shape[1]
    labels = ["initialisation", *(f"after epoch {e}" for e in range(1, count))]
    layout = _grid(1, 1)
    layout["xaxis"].update(
        tickvals=[e * (k + 1) + (k - 1) / 2 for e in range(count)],
        ticktext=["init", *(str(e) for e in range(1, count))],
        title=dict(text="epoch"),
    )
    layout["yaxis"].update(showticklabels=False)
    trace = dict(
        type="heatmap",
        z=tile(history, count),
        text=tile(_weight_hover(history, labels), count, fill=""),
        coloraxis="coloraxis",
        hoverongaps=False,
        hovertemplate="%{text}<extra></extra>",
    )
    return _figure(
        [trace],
        layout,
        height=230,
        margin=dict(l=10, r=10, t=40, b=40),
        title=dict(text=title, font=dict(FONT, size=TITLE_PX)),
        coloraxis=_diverging_axis(_symmetric_limit(history), "weight"),
    )


def responses_grid_figure(responses: np.ndarray, *, columns: int = GALLERY_COLUMNS) -> go.Figure:
    """Every filter's response to one image, tiled with gaps, each relative to its own largest |value|.

    The tiles are one picture; an invisible heatmap with one cell per tile gives each tile's filter on hover.
    """
    count, height, width = responses.shape
    tiled = tile(scaled_per_tile(responses), columns)
    rows = -(-count // columns)
    owners = np.full(rows * columns, np.nan)
    owners[:count] = np.arange(count)
    layout = _grid(1, 1)
    _tile_ticks(layout, 1, (height, width), count, columns)
    picture = dict(
        type="image",
        source=picture_data_uri(colorize(tiled, DIVERGING, -1.0, 1.0, gap=(255, 255, 255))),
        hoverinfo="skip",
    )
    tiles = dict(
        type="heatmap",
        z=owners.reshape(rows, columns),
        x0=(width - 1) / 2,
        dx=width + 1,
        y0=(height - 1) / 2,
        dy=height + 1,
        coloraxis="coloraxis",
        opacity=0,
        hoverongaps=False,
        hovertemplate="filter %{z}<extra></extra>",
    )
    return _figure(
        [picture, tiles],
        layout,
        height=int(min(820, 60 + (FIGURE_WIDTH - 120) * tiled.shape[0] / tiled.shape[1])),
        coloraxis=_diverging_axis(1.0, "value /<br>largest"),
    )


# ---------------------------------------------------------------- one output pixel


def pixel_step_figure(step: PixelStep) -> go.Figure:
    """Input patch x kernel = element-wise products, as three annotated grids."""
    size = step.kernel.shape[0]
    font = _cell_font(size)
    patch_text = np.where(step.inside, _weight_text(step.patch), "pad 0")
    kernel_limit, product_limit = _symmetric_limit(step.kernel), _symmetric_limit(step.products)
    patch_title = "Input patch" if step.dilation == (1, 1) else "Pixels at the taps"
    titles = [patch_title, "\u00d7 kernel", f"= products<br>(sum {step.total:.4g})"]  # two lines: fits a narrow panel
    layout = _grid(1, 3, titles, h_gap=0.05)
    for n in (1, 2, 3):
        suffix = "" if n == 1 else str(n)
        layout[f"xaxis{suffix}"].update(showticklabels=False, ticks="")
        layout[f"yaxis{suffix}"].update(showticklabels=False, ticks="")
    data = [
        _annotated(step.patch, patch_text, GRAY, 0.0, 1.0, "pixel %{z:.4g}", font) | _cell(1),
        _annotated(
            step.kernel, _weight_text(step.kernel), DIVERGING, -kernel_limit, kernel_limit, "weight %{z:.4g}", font
        )
        | _cell(2),
        _annotated(
            step.products,
            _weight_text(step.products),
            DIVERGING,
            -product_limit,
            product_limit,
            "product %{z:.4g}",
            font,
        )
        | _cell(3),
    ]
    return _figure(data, layout, height=300, margin=dict(l=10, r=10, t=TWO_LINE_TITLE_MARGIN, b=10))


def window_figure(image2d: np.ndarray, step: PixelStep, *, context: int | None = None) -> go.Figure:
    """The neighbourhood of the kernel window on the image (`context` pixels around it: 12, or 5 with dilation so
    the taps show large enough), with the window outlined; with dilation, the window dotted and each pixel a tap
    reads outlined on its own."""
    pixels = np.asarray(image2d, dtype=np.float32)
    height, width = pixels.shape
    span_h, span_w = step.span
    dilated = step.dilation != (1, 1)
    context = (5 if dilated else 12) if context is None else context
    top, left = max(0, step.top - context), max(0, step.left - context)
    bottom, right = min(height, step.top + span_h + context), min(width, step.left + span_w + context)
    trace = dict(
        type="heatmap",
        z=pixels[top:bottom, left:right],
        x0=left,
        y0=top,
        colorscale=GRAY,
        zmin=0,
        zmax=1,
        showscale=False,
        hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
    )
    layout = _grid(1, 1)
    layout["xaxis"].update(range=[min(left, step.left) - 0.5, max(right, step.left + span_w) - 0.5])
    layout["yaxis"].update(range=[max(bottom, step.top + span_h) - 0.5, min(top, step.top) - 0.5], autorange=False)
    window = dict(
        type="rect",
        x0=step.left - 0.5,
        x1=step.left + span_w - 0.5,
        y0=step.top - 0.5,
        y1=step.top + span_h - 0.5,
        line=dict(color=WINDOW_COLOUR, width=2 if dilated else 3, dash="dot" if dilated else "solid"),
    )
    (d_h, d_w), (k_h, k_w) = step.dilation, step.kernel.shape
    corners = [(step.left + j * d_w - 0.5, step.top + i * d_h - 0.5) for i in range(k_h) for j in range(k_w)]
    taps = [outline(x, y, x + 1, y + 1, WINDOW_COLOUR, 2) | {"fillcolor": TAP_FILL} for x, y in corners]
    title = f"Where the {k_h * k_w} taps sit ({d_h} apart)" if dilated else "Where the window sits"
    return _figure(
        [trace],
        layout,
        height=300,
        shapes=[window, *(taps if dilated else [])],
        title=dict(text=title, font=dict(FONT, size=TITLE_PX)),
    )


# ---------------------------------------------------------------- the small integer example (Play / Step)


def number_text(value: float) -> str:
    """A weight, pixel or product as the small example writes it: 3, -2, 0.11."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.2f}"


def demo_figure(
    image: np.ndarray, kernel: np.ndarray, output: np.ndarray, step: PixelStep, cell: tuple[int, int]
) -> go.Figure:
    """The small example at one position: the input with the kernel's window (red), the kernel, the window's
    products, and the output so far (NaN cells not computed yet, the current one outlined)."""
    products = step.products
    filled = np.where(np.isnan(output), "", np.vectorize(number_text)(np.nan_to_num(output)))
    panels = [
        ("Input", image, np.vectorize(number_text)(image), GRAY),
        ("Kernel", kernel, np.vectorize(number_text)(kernel), DIVERGING),
        ("Pixel × weight", products, np.vectorize(number_text)(products), DIVERGING),
        ("Output", output, filled, DIVERGING),
    ]
    widths = [p[1].shape[1] for p in panels]
    gap = 0.04
    total = sum(widths)
    data: list[dict] = []
    shapes: list[dict] = []
    annotations: list[dict] = []
    layout: dict[str, object] = {}
    start = 0.0
    for n, (title, values, text, scale) in enumerate(panels, start=1):
        end = start + (1 - gap * (len(panels) - 1)) * values.shape[1] / total
        suffix = "" if n == 1 else str(n)
        limit = max(float(np.nanmax(np.abs(values))) if not np.all(np.isnan(values)) else 1.0, 1e-9)
        zrange = (float(image.min()), float(image.max())) if scale is GRAY else (-limit, limit)
        data.append(
            dict(
                type="heatmap",
                z=values,
                text=text,
                texttemplate="%{text}",
                textfont=dict(FONT, size=18),
                colorscale=scale,
                zmin=zrange[0],
                zmax=zrange[1],
                showscale=False,
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=f"{title}<br>row %{{y}}, column %{{x}}: %{{text}}<extra></extra>",
                xgap=2,
                ygap=2,
            )
        )
        axis = dict(visible=False, fixedrange=True, constrain="domain")
        layout[f"xaxis{suffix}"] = axis | dict(domain=[start, min(end, 1.0)], anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = axis | dict(
            domain=[0.0, 1.0], anchor=f"x{suffix}", autorange="reversed", scaleanchor=f"x{suffix}"
        )
        annotations.append(
            dict(
                text=f"<b>{title}</b><br>{values.shape[0]}x{values.shape[1]}",
                x=(start + end) / 2,
                y=1.0,
                xref="paper",
                yref="paper",
                yanchor="bottom",
                showarrow=False,
                font=FONT,
            )
        )
        start = end + gap
    k_h, k_w = kernel.shape
    shapes.append(outline(step.left - 0.5, step.top - 0.5, step.left + k_w - 0.5, step.top + k_h - 0.5, DEMO_RED, 4))
    shapes.append(outline(cell[1] - 0.5, cell[0] - 0.5, cell[1] + 0.5, cell[0] + 0.5, DEMO_RED, 4, "4"))
    layout |= dict(
        annotations=annotations,
        shapes=shapes,
        height=300,
        margin=dict(l=5, r=5, t=60, b=5),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
    )
    return go.Figure(data=data, layout=layout)
