"""The Pooling page's map and settings, and one pooling of it: its shapes and the map before and after.

The tour's Pooling step (`tour_section`) is built from the same sections.
"""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.charts.alt import figure_alt
from components.framework.links import set_values
from components.framework.memo import once
from components.framework.query_state import Choice, Integer, Link, link_update, read_link
from components.framework.session_keys import (
    POOL_FILTER,
    POOL_MODE,
    POOL_PADDING,
    POOL_RELU,
    POOL_SCALED,
    POOL_SIZE,
    POOL_STRIDE,
    POOL_TRUE_SIZE,
    TOUR_IMAGE,
)
from components.image_picker import linked_image, sample_link
from components.presentation import beside, presenting
from models.design.config import COURSE_CNN, plan, shape_text
from models.inputs.images import fingerprint
from models.inputs.samples import FASHION_PREFIX, sample_names
from models.ops.convolution import convolve2d
from models.ops.kernels import KERNELS
from models.ops.pooling import compression, pool2d, shape_formula

PLOT_CONFIG = {"displayModeBar": False}
HALF_WIDTH = charts.FIGURE_WIDTH // 2  # a chart in one of two columns
PICTURE_NOTE = (
    f" Maps of more than {charts.HEATMAP_LIMIT:,} values are drawn as pictures at about the size they "
    "are shown (a pixel may average a block of the map); every number is computed at full size."
)
NO_FILTER = "None (pool the picture itself)"
DEFAULT_FILTER = "Sobel: vertical edges"  # a 3x3 conv + ReLU turns a 28x28 item into 26x26, as in the model
MODE_LABELS = {"max": "Max", "avg": "Average", "min": "Min (contrast)"}
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


def map_key(image_key: str, filter_name: str, relu: bool, channel: str | None = None) -> str:
    """Names the feature map for `once`; with `channel` ("" for a grayscale map), the 2-D map the window and
    shift views use."""
    key = f"{image_key}:{filter_name}:{relu}"
    return key if channel is None else f"{key}:{channel}"


def settings_link(settings: dict) -> dict[str, str | None]:
    """The link parameters of these pooling settings (None for a default)."""
    return link_update({name: settings[name] for name in SETTINGS}, LINK)


def course_poolings() -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The course model's own poolings as (before, after) (height, width) pairs, from its layer plan."""
    stages = plan(COURSE_CNN)
    return [
        ((before.shape[0], before.shape[1]), (stage.shape[0], stage.shape[1]))
        for before, stage in zip(stages, stages[1:])
        if stage.kind == "MaxPooling2D"
    ]


def course_poolings_text() -> str:
    """'26x26 -> 13x13, then 11x11 -> 5x5': the course model's poolings."""
    return ", then ".join(f"{shape_text(before)} -> {shape_text(after)}" for before, after in course_poolings())


def intro() -> str:
    """The page's intro: what pooling does, with the course model's numbers named as the course model's."""
    (first_in, first_out), *rest = course_poolings()
    odd = next(((a, b) for a, b in rest if a[0] % 2), None)
    rounding = (
        ""
        if odd is None
        else " Odd sizes round down: the course model's second pooling turns "
        f"{shape_text(odd[0])} into {shape_text(odd[1])} (the last row and column are dropped)."
    )
    return (
        "Pooling shrinks a feature map by summarising each small window with one number. "
        "**In the course model, 2x2 max pooling keeps the largest of each 4 values: "
        f"{shape_text(first_in)} -> {shape_text(first_out)}, a quarter of the pixels.**{rounding} "
        "Sizes are height x width."
    )


# ---------------------------------------------------------------- input and settings


def choose_map(key: str, link: Link) -> tuple[np.ndarray | None, str, bool]:
    """The picture (None after an error), the filter applied before pooling and whether ReLU follows it."""
    picker, processing = st.columns([3, 2])
    with picker:
        picked = linked_image(key, link, default_sample=FASHION_PREFIX + "Ankle boot")
    with processing:
        filter_names = [NO_FILTER, *KERNELS]
        filter_name = st.selectbox(
            "Filter before pooling", filter_names, index=filter_names.index(DEFAULT_FILTER), key=POOL_FILTER
        )
        relu = st.checkbox(
            "ReLU after the filter",  # the whole label fits the narrow column of presentation mode
            value=True,
            help="ReLU makes negative values 0.",
            key=POOL_RELU,
            disabled=filter_name == NO_FILTER,
        )
        st.caption("Filter, then ReLU, then pooling: the order the course model uses.")
    return None if picked is None else picked.pixels, filter_name, relu


def choose_settings(link: Link) -> dict:
    """Kind, size, stride and padding: the keyword arguments of pool2d; the widgets open on the link's values."""
    mode_col, size_col, stride_col, padding_col = st.columns(4)
    modes = list(MODE_LABELS)
    mode = mode_col.radio("Kind", modes, index=modes.index(link["mode"]), format_func=MODE_LABELS.get, key=POOL_MODE)
    size = size_col.number_input(
        "Pool size (window side)", min_value=0, max_value=64, value=link["size"], key=POOL_SIZE
    )
    stride = stride_col.number_input(
        "Stride (step between windows)",
        min_value=0,
        max_value=64,
        value=link["stride"],
        key=POOL_STRIDE,
        help="Keras's default stride is the pool size.",
    )
    padding = padding_col.radio(
        "Padding",
        ["valid", "same"],
        key=POOL_PADDING,
        help="valid: only whole windows (sizes round down). same: windows may hang over "
        "the edge (sizes round up); missing cells are ignored.",
    )
    return dict(size=int(size), stride=int(stride), mode=mode, padding=padding)


def pooled_section(
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
    if presenting():  # on a projector the pictures come first: the pooled map on the first screen
        _before_after_section(fmap, pooled, settings, heading, map_key(key, filter_name, relu))
        _shapes_section(fmap, pooled, settings)
    else:
        _shapes_section(fmap, pooled, settings)
        _before_after_section(fmap, pooled, settings, heading, map_key(key, filter_name, relu))
    return fmap


# ---------------------------------------------------------------- sections that need a valid map and settings


def _shapes_section(x: np.ndarray, pooled: np.ndarray, pool: dict) -> None:
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
        f"{stats.ratio:.2f}:1",
        f"keeps {stats.fraction_kept:.1%}",
        delta_color="off",
        delta_arrow="off",
    )
    rows = shape_formula(h, pool["size"], pool["stride"], pool["padding"])
    cols = shape_formula(w, pool["size"], pool["stride"], pool["padding"])
    st.code(f"height and width: {rows}" if rows == cols else f"height: {rows}\nwidth:  {cols}", language=None)
    if x.ndim == 3:
        st.caption(f"Each of the {x.shape[2]} colour channels is pooled on its own; channels are never mixed.")


def _before_after_section(x: np.ndarray, pooled: np.ndarray, pool: dict, heading: str, key: str) -> None:
    label = f"{MODE_LABELS[pool['mode']].split()[0]} pooled"
    panels = [
        charts.Panel(f"Input<br>{shape_text(x.shape[:2])}", x),
        charts.Panel(f"{label}<br>{shape_text(pooled.shape[:2])}", pooled),
    ]  # two short lines: a label fits over a small map's slot in a half-width column
    if heading:
        st.header(heading)
    true_size, scaled = st.columns(2)
    figures = once(
        key,
        ("before/after", pooling_key(pool)),
        lambda: [
            charts.maps_figure(panels, same_pixel_size=same, height=300, width=HALF_WIDTH) for same in (True, False)
        ],
    )
    true_size.plotly_chart(
        figures[0], config=PLOT_CONFIG, key=POOL_TRUE_SIZE, alt=figure_alt(figures[0], f"{heading}, true relative size")
    )
    true_size.caption(
        "True relative size: every pixel drawn the same size." + PICTURE_NOTE * charts.drawn_as_picture(x)
    )
    scaled.plotly_chart(
        figures[1], config=PLOT_CONFIG, key=POOL_SCALED, alt=figure_alt(figures[1], f"{heading}, scaled to one size")
    )
    scaled.caption("Scaled up to the same size: each output pixel stands for one window.")


# ---------------------------------------------------------------- the Week 3 tour's Pooling step


def tour_section() -> dict[str, str]:
    """The tour's picture, filter and pooling settings, before and after; returns this view's link parameters."""
    link = read_link({}, LINK)
    controls, results = beside(1, 1)
    with controls:
        image, filter_name, relu = choose_map(TOUR_IMAGE, link)
        settings = choose_settings(link)
    if image is None:
        return {}
    with results:
        pooled_section(image, filter_name, relu, settings, heading="" if presenting() else "Before and after")
    return set_values({**sample_link(True), **settings_link(settings)})
