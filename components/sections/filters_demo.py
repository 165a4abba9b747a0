"""The Filters page's small integer example: a 3x3 kernel slides over a 6x6 input, one multiply-accumulate at a
time (Step back / on, or Play: about one position a second, Pause to stop)."""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components.charts.alt import figure_alt
from components.charts.filters import demo_figure, number_text
from components.framework.memo import freeze
from components.framework.session_keys import (
    FILTERS_DEMO_BACK,
    FILTERS_DEMO_CHART,
    FILTERS_DEMO_NEXT,
    FILTERS_DEMO_PLAY,
    FILTERS_DEMO_PLAYING,
    FILTERS_DEMO_POSITION,
    FILTERS_DEMO_TICK,
)
from models.inputs.images import fingerprint
from models.ops.convolution import PixelStep, explain_pixel
from models.ops.kernels import KERNELS

# a vertical edge: dark (0-2) on the left, bright (8-9) on the right, with a little texture
DEMO_INPUT = np.array(
    [
        [1, 1, 1, 8, 8, 8],
        [1, 2, 1, 9, 8, 8],
        [0, 1, 1, 8, 9, 8],
        [1, 1, 2, 9, 8, 9],
        [1, 0, 1, 8, 8, 8],
        [1, 1, 1, 8, 9, 8],
    ],
    dtype=np.float32,
)
DEFAULT_KERNEL = "Sobel: vertical edges"
STEP_SECONDS = 1.0  # Play's pace


def demo_kernel(chosen: np.ndarray) -> tuple[np.ndarray, str]:
    """The chosen kernel when it is 3x3, else the default edge kernel; and a line saying which it is."""
    weights = np.asarray(chosen, dtype=np.float32)
    if weights.shape == (3, 3):
        return weights, "The kernel is the one chosen above."
    return KERNELS[DEFAULT_KERNEL].weights, (
        f"The kernel chosen above is {weights.shape[0]}x{weights.shape[1]}; this example uses the 3x3 "
        f"'{DEFAULT_KERNEL}' kernel."
    )


def output_cells(image: np.ndarray, kernel: np.ndarray) -> tuple[int, int]:
    """(rows, columns) of the 'valid' output: one per position where the whole kernel fits."""
    return image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1


def products_text(step: PixelStep) -> str:
    """The window's multiply-accumulate written out, row by row: '1×(-1) + 1×0 + 8×1 + ... = 28'."""

    def factor(value: float) -> str:
        text = number_text(value)
        return f"({text})" if value < 0 else text

    rows = [
        " + ".join(f"{factor(p)}×{factor(w)}" for p, w in zip(patch_row, kernel_row))
        for patch_row, kernel_row in zip(step.patch, step.kernel)
    ]
    return "  " + "\n+ ".join(rows) + f"\n= {number_text(step.total)}"


def slide_demo_section(chosen: np.ndarray) -> None:
    """The example under its heading; the Play fragment reruns itself each second only while playing."""
    st.subheader("A small example, one position at a time")
    weights, note = demo_kernel(chosen)
    if st.session_state.get(FILTERS_DEMO_PLAYING, False):
        _playing(weights, note)
    else:
        _paused(weights, note)


@st.fragment(run_every=STEP_SECONDS)
def _playing(weights: np.ndarray, note: str) -> None:
    _view(weights, note, playing=True)


@st.fragment
def _paused(weights: np.ndarray, note: str) -> None:
    _view(weights, note, playing=False)


@st.cache_resource(max_entries=256, show_spinner=False)
def demo_at(key: str, position: int, _weights: np.ndarray) -> tuple[PixelStep, go.Figure]:
    """The example at one position (`key`: the kernel's fingerprint): that window's step and the figure."""
    out_h, out_w = output_cells(DEMO_INPUT, _weights)
    steps = [explain_pixel(DEMO_INPUT, _weights, r, c) for r in range(out_h) for c in range(out_w)]
    output = np.full((out_h, out_w), np.nan)
    for index in range(position + 1):
        output[divmod(index, out_w)] = steps[index].total
    step = steps[position]
    return step, freeze(demo_figure(DEMO_INPUT, _weights, output, step, divmod(position, out_w)))


def _step(by: int, last: int) -> None:
    """Step back (-1) or on (+1), within 0..last (a button's callback: it runs before the rerun)."""
    state = st.session_state
    state[FILTERS_DEMO_POSITION] = int(np.clip(state.get(FILTERS_DEMO_POSITION, 0) + by, 0, last))


def _play_or_pause(last: int) -> None:
    """Play (from the start again once at the end) or Pause; the view then switches fragments."""
    state = st.session_state
    playing = not state.get(FILTERS_DEMO_PLAYING, False)
    state[FILTERS_DEMO_PLAYING] = playing
    if playing and state.get(FILTERS_DEMO_POSITION, 0) >= last:
        state[FILTERS_DEMO_POSITION] = 0
    state[FILTERS_DEMO_TICK] = time.monotonic()


def _view(weights: np.ndarray, note: str, *, playing: bool) -> None:
    state = st.session_state
    if playing != state.get(FILTERS_DEMO_PLAYING, False):  # Play or Pause was pressed, or it stopped at the end
        st.rerun()  # the whole page, so the other fragment (with or without its timer) takes over
    out_h, out_w = output_cells(DEMO_INPUT, weights)
    last = out_h * out_w - 1
    position = min(int(state.get(FILTERS_DEMO_POSITION, 0)), last)
    if playing and time.monotonic() - state.get(FILTERS_DEMO_TICK, 0.0) >= 0.9 * STEP_SECONDS:
        position = min(position + 1, last)
        state[FILTERS_DEMO_TICK] = time.monotonic()
    state[FILTERS_DEMO_POSITION] = position
    if playing and position == last:  # the last position is shown; the next tick switches to the paused view
        state[FILTERS_DEMO_PLAYING] = False
    back, on, play = st.columns(3)
    back.button(
        "Step back", key=FILTERS_DEMO_BACK, disabled=position == 0, on_click=_step, args=(-1, last), width="stretch"
    )
    on.button(
        "Step on", key=FILTERS_DEMO_NEXT, disabled=position == last, on_click=_step, args=(1, last), width="stretch"
    )
    play.button(
        "Pause" if playing else "Play",
        key=FILTERS_DEMO_PLAY,
        type="primary",
        on_click=_play_or_pause,
        args=(last,),
        width="stretch",
    )
    row, col = divmod(position, out_w)
    step, demo = demo_at(fingerprint(weights), position, weights)
    figure, words = st.columns([5, 2])
    figure.plotly_chart(
        demo,
        config={"displayModeBar": False},
        key=FILTERS_DEMO_CHART,
        alt=figure_alt(demo, f"The kernel's window at output row {row}, column {col}; the output so far"),
    )
    words.markdown(f"**Position {position + 1} of {last + 1}: output row {row}, column {col}**")
    words.code(products_text(step), language=None)
    st.caption(
        f"A {DEMO_INPUT.shape[0]}x{DEMO_INPUT.shape[1]} input of whole numbers with a vertical edge. {note} The "
        f"red square is the kernel's window: its 9 pixels times the 9 weights, added up, give one output pixel. "
        f"The kernel fits in {out_h}x{out_w} positions ('valid', stride 1), so the output is {out_h}x{out_w}."
    )
