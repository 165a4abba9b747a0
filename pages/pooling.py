"""Pooling: how max / average / min pooling shrinks a feature map, and what it keeps."""

import functools

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.image_picker import linked_image, sample_link
from components.links import read_page_link, update_query_params
from components.memo import once
from components.page import start_page
from components.query_state import Choice, Integer, Link, link_update
from components.resources import fashion_mnist, learned_filters
from models.card import ModelFileError
from models.config import COURSE_CNN, plan, shape_text
from models.convolution import convolve2d
from models.data import CLASS_NAMES
from models.images import fingerprint
from models.kernels import KERNELS
from models.pooling import (
    PoolError,
    busiest_window,
    compression,
    pool2d,
    poolable_times,
    shape_formula,
    shift_sensitivity,
)
from models.samples import FASHION_PREFIX, fashion_item, sample_names

PLOT_CONFIG = {"displayModeBar": False}
HALF_WIDTH = charts.FIGURE_WIDTH // 2  # a chart in one of two columns
PICTURE_NOTE = (
    f" Maps of more than {charts.HEATMAP_LIMIT:,} values are drawn as pictures at about the size they "
    "are shown (a pixel may average a block of the map); every number is computed at full size."
)
NO_FILTER = "None (pool the picture itself)"
DEFAULT_FILTER = "Sobel: vertical edges"  # a 3x3 conv + ReLU turns a 28x28 item into 26x26, as in the model
MODE_LABELS = {"max": "Max", "avg": "Average", "min": "Min (contrast)"}
KERNELS_3X3 = [name for name, kernel in KERNELS.items() if kernel.weights.shape == (3, 3)]
SETTINGS = ("size", "stride", "mode")  # the pooling settings a link keeps
LINK = {
    "sample": Choice(tuple(sample_names())),
    "size": Integer(1, 64, 2),
    "stride": Integer(1, 64, 2),
    "mode": Choice(tuple(MODE_LABELS), "max"),
}


def feature_map(image: np.ndarray, kernel: np.ndarray | None, relu: bool) -> np.ndarray:
    """The map that gets pooled, read-only: a copy of the picture, or the picture through a kernel (then ReLU)."""
    fmap = np.array(image, dtype=np.float32) if kernel is None else convolve2d(image, kernel)
    fmap = np.maximum(fmap, 0.0) if relu and kernel is not None else fmap
    fmap.setflags(write=False)
    return fmap


def pooling_key(pool: dict) -> tuple:
    """The settings of pool2d as a hashable part of a question to `once`."""
    return tuple(sorted(pool.items()))


# ---------------------------------------------------------------- input and settings


def choose_map(key: str, link: Link) -> tuple[np.ndarray | None, str, bool]:
    """The picture (None after an error), the filter applied before pooling and whether ReLU follows it."""
    picker, processing = st.columns([3, 2])
    with picker:
        picked = linked_image(key, link, default_sample=FASHION_PREFIX + "Ankle boot")
    with processing:
        filter_names = [NO_FILTER, *KERNELS]
        filter_name = st.selectbox(
            "Filter before pooling", filter_names, index=filter_names.index(DEFAULT_FILTER), key="pool_filter"
        )
        relu = st.checkbox(
            "ReLU after the filter (negative values become 0)",
            value=True,
            key="pool_relu",
            disabled=filter_name == NO_FILTER,
        )
        st.caption("Filter, then ReLU, then pooling: the order the course model uses.")
    return None if picked is None else picked.pixels, filter_name, relu


def choose_settings(link: Link) -> dict:
    """Kind, size, stride and padding: the keyword arguments of pool2d; the widgets open on the link's values."""
    mode_col, size_col, stride_col, padding_col = st.columns(4)
    modes = list(MODE_LABELS)
    mode = mode_col.radio("Kind", modes, index=modes.index(link["mode"]), format_func=MODE_LABELS.get, key="pool_mode")
    size = size_col.number_input(
        "Pool size (window side)", min_value=0, max_value=64, value=link["size"], key="pool_size"
    )
    stride = stride_col.number_input(
        "Stride (step between windows)",
        min_value=0,
        max_value=64,
        value=link["stride"],
        key="pool_stride",
        help="Keras's default stride is the pool size.",
    )
    padding = padding_col.radio(
        "Padding",
        ["valid", "same"],
        key="pool_padding",
        help="valid: only whole windows (sizes round down). same: windows may hang over "
        "the edge (sizes round up); missing cells are ignored.",
    )
    return dict(size=int(size), stride=int(stride), mode=mode, padding=padding)


def pooled_view(
    image: np.ndarray,
    filter_name: str,
    relu: bool,
    settings: dict,
    heading: str = "3. Before and after",
    image_key: str | None = None,
) -> np.ndarray | None:
    """Shapes and before/after of one pooling; returns the pooled feature map (None after showing an error).

    Maps and figures are kept (`once`) under the picture's fingerprint, `image_key` if the caller has it."""
    key = image_key or fingerprint(image)
    try:
        kernel = KERNELS[filter_name].weights if filter_name in KERNELS else None  # NO_FILTER: the picture itself
        fmap = once(key, ("map", filter_name, relu), functools.partial(feature_map, image, kernel, relu))
        pooled = once(
            key, ("pooled", filter_name, relu, pooling_key(settings)), functools.partial(pool2d, fmap, **settings)
        )
    except ValueError as error:  # PoolError, or a filter larger than a tiny picture
        st.error(str(error))
        return None
    show_shapes(fmap, pooled, settings)
    show_before_after(fmap, pooled, settings, heading, f"{key}:{filter_name}:{relu}")
    return fmap


# ---------------------------------------------------------------- sections that need a valid map and settings


def show_shapes(x: np.ndarray, pooled: np.ndarray, pool: dict) -> None:
    (h, w), (out_h, out_w) = x.shape[:2], pooled.shape[:2]
    stats = compression((h, w), (out_h, out_w))
    sentence = charts.pooling_sentence(
        (h, w), (out_h, out_w), size=pool["size"], stride=pool["stride"], mode=pool["mode"]
    )
    st.markdown(f"**{sentence}.**")
    left, middle, right = st.columns(3)
    left.metric("Input", f"{h}x{w}", f"{stats.input_pixels:,} pixels", delta_color="off", delta_arrow="off")
    middle.metric("Output", f"{out_h}x{out_w}", f"{stats.output_pixels:,} pixels", delta_color="off", delta_arrow="off")
    right.metric(
        "Compression",
        f"{stats.ratio:.2f} : 1",
        f"keeps {stats.fraction_kept:.1%}",
        delta_color="off",
        delta_arrow="off",
    )
    rows = shape_formula(h, pool["size"], pool["stride"], pool["padding"])
    cols = shape_formula(w, pool["size"], pool["stride"], pool["padding"])
    st.code(f"height and width: {rows}" if rows == cols else f"height: {rows}\nwidth:  {cols}", language=None)
    if x.ndim == 3:
        st.caption(f"Each of the {x.shape[2]} colour channels is pooled on its own; channels are never mixed.")


def show_before_after(x: np.ndarray, pooled: np.ndarray, pool: dict, heading: str, key: str) -> None:
    label = f"{MODE_LABELS[pool['mode']].split()[0]} pooled"
    panels = [
        charts.Panel(f"Input {shape_text(x.shape[:2])}", x),
        charts.Panel(f"{label} {shape_text(pooled.shape[:2])}", pooled),
    ]
    st.header(heading)
    true_size, scaled = st.columns(2)
    figures = once(
        key,
        ("before/after", pooling_key(pool)),
        lambda: [
            charts.maps_figure(panels, same_pixel_size=same, height=300, width=HALF_WIDTH) for same in (True, False)
        ],
    )
    true_size.plotly_chart(figures[0], config=PLOT_CONFIG, key="pool_true_size")
    true_size.caption(
        "True relative size: every pixel drawn the same size." + PICTURE_NOTE * charts.drawn_as_picture(x)
    )
    scaled.plotly_chart(figures[1], config=PLOT_CONFIG, key="pool_scaled")
    scaled.caption("Scaled up to the same size: each output pixel stands for one window.")


@st.fragment
def show_windows(x2d: np.ndarray, pool: dict, key: str) -> None:
    """`key` names the map (`once` keeps what these views compute from it)."""
    st.header("4. Inside the windows")
    geometry = {name: pool[name] for name in ("size", "stride", "padding")}
    out_shape, busiest = once(
        key, ("busiest", pooling_key(geometry)), functools.partial(busiest_window, x2d, **geometry)
    )
    shape_key = f"{out_shape[0]}x{out_shape[1]}"
    row_col, col_col = st.columns(2)
    row, col = (
        column.slider(f"Window {axis} (output {axis})", 0, count - 1, int(start), key=f"pool_window_{axis}_{shape_key}")
        if count > 1
        else 0
        for column, axis, count, start in (
            (row_col, "row", out_shape[0], busiest[0]),
            (col_col, "column", out_shape[1], busiest[1]),
        )
    )
    view = charts.window_view(out_shape, (row, col), pool["size"], pool["stride"])
    pooled = once(key, ("pooled", pooling_key(pool)), functools.partial(pool2d, x2d, **pool))
    st.plotly_chart(
        once(
            key,
            ("windows", view, pooling_key(pool)),
            functools.partial(charts.window_grid_figure, x2d, view, **pool, pooled=pooled),
        ),
        config=PLOT_CONFIG,
        key="pool_windows",
    )
    kept = charts.MODE_WORDS[pool["mode"]]
    winner_note = (
        ""
        if pool["mode"] == "avg"
        else (f" Orange: the pixel each window keeps (the {kept}; on a tie the first, as in TensorFlow).")
    )
    overlap = (
        " Windows overlap because the stride is smaller than the pool size." if (pool["stride"] < pool["size"]) else ""
    )
    st.caption(
        f"Blue squares: pooling windows. Red: the window written out below.{winner_note}{overlap} "
        "The sliders start at the window whose values differ most."
    )
    equation = charts.window_equation(x2d, (row, col), **pool, pooled=pooled)
    st.markdown(f"**Window at output row {row}, column {col}:**")
    st.code(equation, language=None)


@st.fragment
def show_shift_test(x2d: np.ndarray, pool: dict, key: str) -> None:
    st.header("5. Shift test: does a small move change the result?")
    dy_col, dx_col = st.columns(2)
    dy = dy_col.slider("Move down (pixels)", -2, 2, 0, key="pool_shift_dy")
    dx = dx_col.slider("Move right (pixels)", -2, 2, 1, key="pool_shift_dx")
    if (dy, dx) == (0, 0):
        st.info("Move the map by 1 or 2 pixels to compare.")
        return
    try:
        pooled = once(key, ("pooled", pooling_key(pool)), functools.partial(pool2d, x2d, **pool))
        stats, after = once(
            key,
            ("shift", dy, dx, pooling_key(pool)),
            lambda: (shift_sensitivity(x2d, (dy, dx), **pool), charts.shift_figure(x2d, (dy, dx), pool, pooled=pooled)),
        )
        before = once(key, ("shifted map", dy, dx), functools.partial(charts.shift_figure, x2d, (dy, dx)))
    except PoolError as error:  # a shift as large as a tiny map
        st.warning(str(error))
        return
    unpooled_col, pooled_col = st.columns(2)
    unpooled_col.metric(
        "Feature map changed",
        f"{stats.unpooled_relative_change:.0%}",
        f"{stats.unpooled_unchanged:.0%} of pixels identical",
        delta_color="off",
        delta_arrow="off",
    )
    pooled_col.metric(
        "Pooled map changed",
        f"{stats.pooled_relative_change:.0%}",
        f"{stats.pooled_unchanged:.0%} of cells identical",
        delta_color="off",
        delta_arrow="off",
    )
    st.plotly_chart(before, config=PLOT_CONFIG, key="pool_shift_before")
    st.plotly_chart(after, config=PLOT_CONFIG, key="pool_shift_after")
    st.caption(
        "Changed = sum of |shifted - original| / (sum of |original| + sum of |shifted|): 0% identical, "
        "100% no overlap. Within a window, the largest value can move and still be kept: shifts smaller than "
        "the window are absorbed best, while a shift by a whole stride just moves the pooled map one cell."
        + PICTURE_NOTE
        * charts.drawn_as_picture(x2d)
    )


@st.fragment
def show_repeated(x: np.ndarray, pool: dict, key: str) -> None:
    st.header("6. Pool the picture again and again")
    most = poolable_times(x.shape[:2], pool["size"], pool["stride"], pool["padding"])
    times = st.slider("Times to pool", 1, most, min(3, most), key=f"pool_times_{most}") if most > 1 else 1
    st.plotly_chart(
        once(key, ("repeated", times, pooling_key(pool)), functools.partial(charts.repeated_figure, x, times, pool)),
        config=PLOT_CONFIG,
        key="pool_repeated",
    )
    limit = "" if most == 5 else f" These settings can pool this picture at most {most} time{'s' * (most > 1)}."
    st.caption(
        "The picture itself (no filter), all scaled to the same size. Each pooling throws away detail; "
        "by 3x3 pixels most items "
        f"are no longer recognisable. That is why the model pools only twice (28 -> 13 -> 5).{limit}"
    )


def channel_of(x: np.ndarray) -> tuple[np.ndarray, str]:
    """The 2-D map the window and shift views use (the map itself, or one colour channel) and the channel."""
    if x.ndim == 2:
        return x, ""
    names = ["Red", "Green", "Blue"]
    channel = st.radio("Colour channel for the window and shift views", names, horizontal=True, key="pool_channel")
    return x[..., names.index(channel)], channel


# ---------------------------------------------------------------- the course model's shapes


@st.fragment
def show_course_walk() -> None:
    st.header("7. One item through the course model")
    stages = plan(COURSE_CNN)
    spatial = [stage.shape for stage in stages if len(stage.shape) == 3]
    channels = spatial[1][2]
    st.markdown(
        "The course CNN: "
        + " -> ".join(shape_text(s) for s in spatial)
        + ". Here one item follows one channel through conv -> ReLU -> 2x2 max pool, twice."
    )
    try:
        filters, labels = learned_filters()
    except (ModelFileError, ValueError) as error:
        st.error(str(error))
        return
    best = max(range(filters.count), key=lambda i: abs(labels[i].cosine))
    item_col, first_col, second_col = st.columns([2, 3, 2])
    (_, _), (images, labels_data) = fashion_mnist()
    name = item_col.selectbox("Item", CLASS_NAMES, index=CLASS_NAMES.index("Sneaker"), key="walk_item")
    index = first_col.selectbox(
        "First conv: learned filter of the shipped model",
        range(filters.count),
        index=best,
        key="walk_filter",
        format_func=lambda i: f"#{i} \u2248 {labels[i].kernel_name} ({labels[i].cosine:+.2f})",
    )
    second = second_col.selectbox(
        "Second conv: hand-made 3x3 kernel",
        KERNELS_3X3,
        index=KERNELS_3X3.index("Sobel: horizontal edges"),
        key="walk_kernel",
    )
    item = fashion_item(images, labels_data, name)
    conv1 = np.maximum(convolve2d(item, filters.trained[index]), 0.0)
    pool1 = pool2d(conv1)
    conv2 = np.maximum(convolve2d(pool1, KERNELS[second].weights), 0.0)
    pool2 = pool2d(conv2)
    maps = [("input", item), ("conv + ReLU", conv1), ("max pool", pool1), ("conv + ReLU", conv2), ("max pool", pool2)]
    panels = [
        charts.Panel(f"{shape_text(m.shape)}<br>{what}", m, value_range=charts.value_range(m)) for what, m in maps
    ]
    st.plotly_chart(
        once(
            "course walk",
            (name, index, second),
            functools.partial(charts.maps_figure, panels, same_pixel_size=True, height=300),
        ),
        config=PLOT_CONFIG,
        key="walk_maps",
    )
    st.caption(
        f"True relative size. First conv: the trained 3x3 weights of filter #{index} of {len(labels)} from the shipped "
        "model (its bias is left out; \u2248 names the most similar hand-made kernel and the cosine similarity of "
        f"their weights). Second conv: the real model mixes all {channels} maps with learned 3x3x{channels} "
        f"kernels; here the hand-made '{second}' kernel on this one map shows the same shape change. "
        "Each map has its own grey scale (white = its largest value)."
    )


if __name__ == "__main__":
    start_page(
        "Pooling",
        "Pooling shrinks a feature map by summarising each small window with one number. "
        "**2x2 max pooling keeps the largest of each 4 values: 26x26 -> 13x13, a quarter of the pixels.** "
        "Odd sizes round down: 11x11 -> 5x5 (the last row and column are dropped).",
    )
    link = read_page_link(LINK)
    st.header("1. The map to pool")
    image, filter_name, relu = choose_map("pooling", link)
    st.header("2. Pooling settings")
    settings = choose_settings(link)
    pooling_link = link_update({name: settings[name] for name in SETTINGS}, LINK)
    update_query_params({**sample_link(image is not None), **pooling_link})
    if image is not None:
        image_key = fingerprint(image)
        fmap = pooled_view(image, filter_name, relu, settings, image_key=image_key)
        if fmap is not None:
            map2d, channel = channel_of(fmap)
            show_windows(map2d, settings, f"{image_key}:{filter_name}:{relu}:{channel}")
            show_shift_test(map2d, settings, f"{image_key}:{filter_name}:{relu}:{channel}")
            show_repeated(image, settings, image_key)
    show_course_walk()
