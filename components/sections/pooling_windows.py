"""The Pooling page's windows: which cells each pooling window covers, and the one number it keeps."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.charts.alt import figure_alt
from components.framework.memo import once
from components.framework.session_keys import POOL_CHANNEL, POOL_WINDOWS, pool_window_key
from components.sections.pooling import PLOT_CONFIG, pooling_key
from models.ops.pooling import busiest_window, pool2d


def channel_of(x: np.ndarray) -> tuple[np.ndarray, str]:
    """The 2-D map the window and shift views use (the map itself, or one colour channel) and the channel."""
    if x.ndim == 2:
        return x, ""
    names = ["Red", "Green", "Blue"]
    channel = st.radio("Colour channel for the window and shift views", names, horizontal=True, key=POOL_CHANNEL)
    return x[..., names.index(channel)], channel


@st.fragment
def windows_section(x2d: np.ndarray, pool: dict, key: str) -> None:
    """`key` names the map (`once` keeps what these views compute from it)."""
    st.header("4. Inside the windows")
    geometry = {name: pool[name] for name in ("size", "stride", "padding")}
    out_shape, busiest = once(
        key, ("busiest", pooling_key(geometry)), functools.partial(busiest_window, x2d, **geometry)
    )
    row_col, col_col = st.columns(2)
    row, col = (
        column.slider(f"Window {axis} (output {axis})", 0, count - 1, int(start), key=pool_window_key(axis, out_shape))
        if count > 1
        else 0
        for column, axis, count, start in (
            (row_col, "row", out_shape[0], busiest[0]),
            (col_col, "column", out_shape[1], busiest[1]),
        )
    )
    view = charts.window_view(out_shape, (row, col), pool["size"], pool["stride"])
    pooled = once(key, ("pooled", pooling_key(pool)), functools.partial(pool2d, x2d, **pool))
    windows = once(
        key,
        ("windows", view, pooling_key(pool)),
        functools.partial(charts.window_grid_figure, x2d, view, **pool, pooled=pooled),
    )
    st.plotly_chart(
        windows,
        config=PLOT_CONFIG,
        key=POOL_WINDOWS,
        alt=figure_alt(windows, f"Pooling window at output row {row}, column {col}, and the pooled map"),
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
