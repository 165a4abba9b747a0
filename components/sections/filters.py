"""The Filters page's convolution: its link, stride, dilation and padding, the output's shape, the original and
filtered image.

The tour's Filter step (`tour_section`) is built from the same sections.
"""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts.alt import figure_alt, strongest_alt
from components.charts.filters import display_factor, response_figure, shown_side
from components.framework.links import set_values
from components.framework.memo import once
from components.framework.phone import on_phone
from components.framework.query_state import Choice, Integer, Link, link_update, read_link
from components.framework.session_keys import (
    FILTERS_DILATION,
    FILTERS_DOWNLOAD_NPY,
    FILTERS_DOWNLOAD_PNG,
    FILTERS_PADDING,
    FILTERS_QUIZ,
    FILTERS_STRIDE,
    TOUR_IMAGE,
)
from components.image_picker import PickedImage, image_picker, sample_link
from components.presentation import beside, presenting
from components.sections.filters_kernel import ChosenKernel, choose_kernel
from components.teaching.tour import TOUR_KERNEL
from models.design.config import COURSE_CNN
from models.inputs.images import fingerprint, to_npy_bytes, to_png_bytes
from models.inputs.samples import FASHION_PREFIX, sample_names
from models.ops.convolution import conv2d_summed, convolve2d, same_on_each_channel, shape_formula
from models.ops.geometry import PADDINGS, Padding, effective_window
from models.ops.kernels import KERNELS

# The filtered result keeps Plotly's zoom, pan and reset (to look closely at a large upload), nothing else: each
# button is a tab stop. On a phone the toolbar is hidden (components.presentation.BASE_CSS).
PLOTLY_CONFIG = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "toImage"],
}
STRIDES = (1, 2, 3)
DILATIONS = (1, 2, 3, 4)
LINK = {
    "sample": Choice(tuple(sample_names())),
    "kernel": Choice(tuple(KERNELS), "Sobel: vertical edges"),
    "filter": Integer(0, COURSE_CNN.filters - 1),
    "dilation": Integer(DILATIONS[0], DILATIONS[-1], 1),
}
KERAS_REFUSAL = "Keras's Conv2D refuses a stride above 1 together with a dilation above 1"


# ---------------------------------------------------------------- stride, dilation, padding and the output's shape


def dilation_link(link: Link) -> dict[str, str | None]:
    """?dilation= for the current dilation (the widget's, or the link's before the widget is drawn)."""
    return link_update({"dilation": st.session_state.get(FILTERS_DILATION, link["dilation"])}, LINK)


def convolution_settings(link: Link, kernel_size: int) -> tuple[int, Padding, int, bool]:
    """Stride, dilation and padding side by side, and whether to guess first (the quiz).

    Keras's Conv2D refuses stride > 1 with dilation > 1, so while one is above 1 the other is held at 1 and
    disabled, and a line says why. The dilation starts at the link's ?dilation=.
    """
    state = st.session_state
    state.setdefault(FILTERS_DILATION, link["dilation"])
    if state[FILTERS_DILATION] > 1 and state.get(FILTERS_STRIDE, 1) > 1:  # a link's dilation over a stride left set
        state[FILTERS_STRIDE] = 1
    dilated, strided = state[FILTERS_DILATION] > 1, state.get(FILTERS_STRIDE, 1) > 1
    stride_column, dilation_column, padding_column = st.columns(3)
    stride = stride_column.select_slider(
        "Stride",
        STRIDES,
        key=FILTERS_STRIDE,
        disabled=dilated,
        help="How many pixels the window moves from one output pixel to the next. "
        + ("Held at 1 while dilation is above 1 (Keras refuses both)." if dilated else ""),
    )
    dilation = dilation_column.select_slider(
        "Dilation",
        DILATIONS,
        key=FILTERS_DILATION,
        disabled=strided,
        help="How many pixels apart the kernel's taps are: 1 next to each other, 2 every other pixel "
        "(Keras: Conv2D(dilation_rate=d)). "
        + ("Held at 1 while stride is above 1 (Keras refuses both)." if strided else ""),
    )
    padding: Padding = padding_column.radio(
        "Padding",
        PADDINGS,
        horizontal=True,
        key=FILTERS_PADDING,
        help="valid: only positions where the kernel fits; same: zeros around the border "
        "so the output keeps the input size (with stride 1)",
    )
    span = effective_window(kernel_size, dilation)
    taps = kernel_size * kernel_size
    if dilation == 1:
        seen = (
            "Dilation spreads the kernel's taps apart: at dilation 2 a 3x3 kernel sees a 5x5 area with the same 9 "
            "weights, no new ones."
        )
    else:
        seen = (
            f"Dilation {dilation}: the {kernel_size}x{kernel_size} kernel's {taps} taps sit {dilation} pixels apart, "
            f"so it sees a {span}x{span} area ({dilation}\u00d7({kernel_size} - 1) + 1 = {span}) with the same "
            f"{taps} weights; the pixels between the taps are skipped."
        )
    if dilated:
        seen += f" Stride is held at 1: {KERAS_REFUSAL}. Set dilation to 1 to use a stride."
    elif strided:
        seen += f" Dilation is held at 1: {KERAS_REFUSAL}. Set stride to 1 to use dilation."
    st.caption(seen)
    quiz_mode = st.toggle(
        "Guess first (quiz)", key=FILTERS_QUIZ, help="See the image and kernel, pick the output, then see the result"
    )
    return stride, padding, dilation, quiz_mode


def filtered_key(picked: PickedImage, chosen: ChosenKernel, stride: int, padding: Padding, dilation: int) -> str:
    """What the filtered image is computed from, as a key for `once`."""
    return f"{fingerprint(picked.pixels)}:{fingerprint(chosen.weights)}:{stride}:{padding}:{dilation}"


def filtered(
    picked: PickedImage, chosen: ChosenKernel, stride: int, padding: Padding, dilation: int
) -> np.ndarray | None:
    """The filtered image (kept under `filtered_key`) after its shape arithmetic; None after showing an error."""
    height, width = picked.pixels.shape[:2]
    size = chosen.weights.shape[0]
    try:
        raw = once(
            filtered_key(picked, chosen, stride, padding, dilation),
            ("filtered",),
            functools.partial(
                convolve2d, picked.pixels, chosen.weights, stride=stride, padding=padding, dilation=dilation
            ),
        )
        formula = shape_formula(height, width, size, stride, padding, dilation)
    except ValueError as error:
        st.error(str(error))
        return None
    channels = (
        ""
        if picked.grayscale
        else (
            f" On this RGB image Conv2D uses one {size}x{size}x3 kernel (here the same {size}x{size} weights on each "
            "colour channel) and adds the 3 channels' results into one output map (plus the bias, 0 here), so "
            "the output has 1 channel."
        )
    )
    st.markdown(
        f"**Shape arithmetic** for this {height} x {width} (height x width) image, a {size}x{size} kernel, "
        f"stride {stride} and dilation {dilation}: out = floor((H + P - d(k - 1) - 1) / stride) + 1, where "
        "d(k - 1) + 1 is the window the taps span and P the zeros added (valid: none; same: as many as make out = "
        f"ceil(H / stride)).{channels}"
    )
    st.code(formula, language=None, wrap_lines=True)  # the whole rule in view, however wide
    return raw


# ---------------------------------------------------------------- the original and filtered image


def download_stem(label: str, title: str) -> str:
    """The download files' name without extension: the image's name and the kernel's, safe for a file name."""
    return f"{label.rsplit('.', 1)[0]}-{title}".replace(" ", "_").replace(":", "").replace("/", "-")


def results_section(
    picked: PickedImage,
    chosen: ChosenKernel,
    raw: np.ndarray,
    heading: str = "4. Original and filtered",
    key: str | None = None,
    *,
    stride: int = 1,
    padding: Padding = "valid",
    dilation: int = 1,
) -> None:
    """The image and its filtered output; `key` names them (default: their fingerprint) to keep the figure.

    For an RGB image `raw` holds the kernel's result on each channel alone; the output shown is Conv2D's: one
    k x k x 3 kernel (the same weights on each channel) summed over the channels, at this stride, padding and
    dilation."""
    st.subheader(heading)
    name = key or fingerprint(picked.pixels, raw)
    channels = raw
    if raw.ndim == 3:
        kernel = same_on_each_channel(chosen.weights, raw.shape[2])
        raw = once(
            name,
            ("summed",),
            functools.partial(conv2d_summed, picked.pixels, kernel, stride=stride, padding=padding, dilation=dilation),
        )
    per_row = 1 if on_phone() else None
    figure = once(name, ("response", per_row), functools.partial(response_figure, picked.pixels, raw, per_row=per_row))
    st.plotly_chart(
        figure, width="stretch", config=PLOTLY_CONFIG, alt=strongest_alt(raw, "The filtered map (raw output)")
    )
    notes = [
        f"Raw output from {raw.min():.3f} to {raw.max():.3f}. Raw and ReLU panels share one colour scale: white is "
        "0, blue negative, red positive. ReLU keeps the positive part, as a Conv2D layer with activation='relu' "
        "does. The rescaled panel stretches min..max to black..white, for display only."
    ]
    if channels.ndim == 3:
        notes.insert(
            0,
            f"Conv2D's output: one {chosen.weights.shape[0]}x{chosen.weights.shape[0]}x3 kernel (the same weights "
            "on red, green and blue) summed over the 3 channels into one map, bias 0.",
        )
    factor = display_factor(raw.shape, shown_side(raw))
    if factor > 1:
        notes.append(
            f"Shown at 1/{factor} size (each screen pixel averages a {factor}x{factor} block); "
            f"computed at the full {raw.shape[0]} x {raw.shape[1]} (height x width)."
        )
    st.caption(" ".join(notes))
    if channels.ndim == 3:
        with st.expander("Each channel alone, before the sum"):
            alone = once(
                name,
                ("channels", per_row),
                functools.partial(response_figure, picked.pixels, channels, per_row=per_row),
            )
            st.plotly_chart(
                alone, width="stretch", config=PLOTLY_CONFIG, alt=figure_alt(alone, "The kernel on each channel alone")
            )
            st.caption(
                "The kernel on red, green and blue alone (raw panels share one colour scale). Conv2D adds these "
                "three maps pixel by pixel: that sum is the output above."
            )
    stem = download_stem(picked.label, chosen.title)
    left, right = st.columns(2)
    left.download_button(
        "Download the filtered image (PNG, rescaled)",
        functools.partial(to_png_bytes, raw),
        file_name=f"{stem}.png",
        mime="image/png",
        on_click="ignore",
        key=FILTERS_DOWNLOAD_PNG,
    )
    right.download_button(
        "Download the raw values (NumPy .npy)",
        functools.partial(to_npy_bytes, raw),
        file_name=f"{stem}.npy",
        mime="application/octet-stream",
        on_click="ignore",
        key=FILTERS_DOWNLOAD_NPY,
    )


# ---------------------------------------------------------------- the Week 3 tour's Filter step


def tour_section() -> dict[str, str]:
    """A Fashion-MNIST item through the tour's kernel; returns the link parameters of this view on the page."""
    controls, results = beside()
    with controls:  # beside the results in presentation mode, the picture's and kernel's widgets one above the other
        left, right = (controls, controls) if presenting() else st.columns(2, gap="large")
    with left:
        picked = image_picker(TOUR_IMAGE, default_sample=FASHION_PREFIX + "Ankle boot", allow_rgb=False)
    with right:
        chosen = choose_kernel(read_link({"kernel": TOUR_KERNEL}, LINK))
    if picked is None or chosen is None:
        return {}
    raw = convolve2d(picked.pixels, chosen.weights)
    with results:
        results_section(picked, chosen, raw, heading="Original and filtered")
    return set_values({**sample_link(True), **chosen.query})
