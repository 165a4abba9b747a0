"""The Filters page's one output pixel, step by step: the pixels the kernel's taps read, the products and their sum."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator  # internal API, written against Streamlit 1.67.0

from components.charts.alt import figure_alt
from components.charts.filters import pixel_step_figure, window_figure
from components.framework.memo import freeze
from components.framework.session_keys import FILTERS_STEP_CHANNEL, FILTERS_STEP_PRODUCTS, filters_step_key
from models.inputs.images import fingerprint
from models.ops.convolution import PixelStep, explain_pixel
from models.ops.geometry import Padding


@st.cache_resource(max_entries=256, show_spinner=False)
def explained(
    key: str, channel: int | None, row: int, col: int, _image2d: np.ndarray, _kernel: np.ndarray, settings: tuple
) -> tuple[PixelStep, go.Figure, go.Figure]:
    """One output pixel's step and its two figures, kept per image and kernel (`key`), channel and position."""
    stride, padding, dilation = settings
    step = explain_pixel(_image2d, _kernel, row, col, stride=stride, padding=padding, dilation=dilation)
    return step, freeze(window_figure(_image2d, step)), freeze(pixel_step_figure(step))


@st.fragment
def step_through_section(
    pixels: np.ndarray,
    kernel: np.ndarray,
    raw: np.ndarray,
    stride: int,
    padding: Padding,
    dilation: int,
    key: str | None = None,
) -> None:
    """One output pixel: the patch under the kernel, the products and their sum; moving it reruns only this.

    `key` names the image, kernel and settings (the page's `filtered_key`; default: their fingerprint), under which
    the step and its figures are kept."""
    st.subheader("5. One output pixel, step by step")
    channel = None
    if pixels.ndim == 3:
        names = ("red", "green", "blue")
        label = "Channel (each channel alone, before the sum)"
        channel = names.index(st.radio(label, names, horizontal=True, key=FILTERS_STEP_CHANNEL))
    image2d = pixels if channel is None else pixels[:, :, channel]
    output = raw if channel is None else raw[:, :, channel]
    out_h, out_w = output.shape
    left, right = st.columns(2)
    row = position_slider(left, "Output row", out_h, filters_step_key("row", out_h))
    col = position_slider(right, "Output column", out_w, filters_step_key("col", out_w))
    name = key or fingerprint(pixels, kernel)
    step, window, products = explained(name, channel, row, col, image2d, kernel, (stride, padding, dilation))
    # A 5x5 or 7x7 kernel's numbers need the whole width: the window then sits above them.
    left, right = st.columns([1, 2]) if kernel.shape[0] <= 3 else (st.container(), st.container())
    left.plotly_chart(
        window,
        width="stretch",
        config={"displayModeBar": False},
        alt=figure_alt(window, f"The kernel's window over the image for output row {row}, column {col}"),
    )
    right.plotly_chart(
        products,
        width="stretch",
        key=FILTERS_STEP_PRODUCTS,
        config={"displayModeBar": False},
        alt=figure_alt(products, f"Window times kernel, summing to {step.total:.4f}"),
    )
    terms = " + ".join(
        f"{p:.3g}\u00d7{w:.3g}" if w >= 0 else f"{p:.3g}\u00d7({w:.3g})"
        for p, w in zip(step.patch.ravel(), kernel.ravel())
    )
    if kernel.size <= 9:
        st.markdown(f"`{terms}` = **{step.total:.4f}**")
    if channel is not None:
        sums = " + ".join(f"{value:.4f}" for value in raw[row, col])
        st.markdown(
            f"The sum of the {kernel.size} products on {names[channel]} is **{step.total:.4f}**, that channel's "
            f"value at row {row}, column {col} ({output[row, col]:.4f}) before the sum over channels. Conv2D's "
            f"output there adds red, green and blue: {sums} = **{raw[row, col].sum():.4f}**."
        )
        return
    st.markdown(
        f"The sum of the {kernel.size} products is **{step.total:.4f}**: exactly the filtered image's "
        f"value at row {row}, column {col} ({output[row, col]:.4f}). After ReLU: "
        f"{max(step.total, 0.0):.4f}. The window's top-left corner is at input row {step.top}, "
        f"column {step.left}"
        + (" (negative: it starts in the zero padding)." if min(step.top, step.left) < 0 else ".")
        + taps_text(step)
    )


def taps_text(step: PixelStep) -> str:
    """With dilation, which input rows and columns the taps read (empty at dilation 1)."""
    (d_h, d_w), (k_h, k_w) = step.dilation, step.kernel.shape
    if (d_h, d_w) == (1, 1):
        return ""
    rows = ", ".join(str(step.top + i * d_h) for i in range(k_h))
    cols = ", ".join(str(step.left + j * d_w) for j in range(k_w))
    return (
        f" At dilation {d_h} the taps sit {d_h} pixels apart: they read input rows {rows} and columns {cols} "
        f"(outlined on the image), a {step.span[0]}x{step.span[1]} window with the pixels between them skipped."
    )


def position_slider(container: DeltaGenerator, label: str, size: int, key: str) -> int:
    if size == 1:
        container.caption(f"{label}: 0 (the output has one)")
        return 0
    return container.slider(label, 0, size - 1, size // 2, key=key)
