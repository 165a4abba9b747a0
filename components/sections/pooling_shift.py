"""The Pooling page's shift test: how much a move of 1 or 2 pixels changes the map, and the pooled map."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.charts.alt import figure_alt
from components.framework.memo import once
from components.framework.session_keys import POOL_SHIFT_AFTER, POOL_SHIFT_BEFORE, POOL_SHIFT_DX, POOL_SHIFT_DY
from components.sections.pooling import PICTURE_NOTE, PLOT_CONFIG, pooling_key
from models.ops.pooling import PoolError, ShiftStats, pool2d, shift_sensitivity


@st.fragment
def shift_test_section(x2d: np.ndarray, pool: dict, key: str) -> None:
    st.header("5. Shift test: does a small move change the result?")
    dy_col, dx_col = st.columns(2)
    dy = dy_col.slider("Move down (pixels)", -2, 2, 0, key=POOL_SHIFT_DY)
    dx = dx_col.slider("Move right (pixels)", -2, 2, 1, key=POOL_SHIFT_DX)
    if (dy, dx) == (0, 0):
        st.info("Move the map by 1 or 2 pixels to compare.")
        return
    try:
        pooled = once(key, ("pooled", pooling_key(pool)), functools.partial(pool2d, x2d, **pool))
        stats = once(key, ("shift", dy, dx, pooling_key(pool)), lambda: shift_sensitivity(x2d, (dy, dx), **pool))
        after = once(
            key,
            ("shifted pooled", dy, dx, pooling_key(pool)),
            lambda: charts.shift_figure(x2d, (dy, dx), pool, pooled=pooled, moved_cells=stats.moved_cells),
        )
        before = once(key, ("shifted map", dy, dx), functools.partial(charts.shift_figure, x2d, (dy, dx)))
    except PoolError as error:  # a shift as large as a tiny map
        st.warning(str(error))
        return
    columns = st.columns(3 if stats.moved_cells else 2)
    columns[0].metric("Feature map changed", f"{stats.unpooled_change:.0%}")
    columns[1].metric("Pooled map changed (same cells)", f"{stats.pooled_change:.0%}")
    if stats.moved_cells and stats.pooled_moved_change is not None:
        cy, cx = stats.moved_cells
        columns[2].metric(f"Pooled map changed (moved {cy:+d}, {cx:+d} cells)", f"{stats.pooled_moved_change:.0%}")
    st.plotly_chart(
        before,
        config=PLOT_CONFIG,
        key=POOL_SHIFT_BEFORE,
        alt=figure_alt(before, f"The map and the map moved {dy} down, {dx} right: {stats.unpooled_change:.0%} changed"),
    )
    st.plotly_chart(
        after,
        config=PLOT_CONFIG,
        key=POOL_SHIFT_AFTER,
        alt=figure_alt(after, f"Both pooled: {stats.pooled_change:.0%} of the pooled map changed"),
    )
    st.caption(shift_caption(stats, pool["stride"]) + PICTURE_NOTE * charts.drawn_as_picture(x2d))


def shift_caption(stats: ShiftStats, stride: int) -> str:
    """The shift test's caption: the one measure, and what these numbers show (each claim from `stats`)."""
    dy, dx = stats.shift
    measure = (
        "Changed = total |difference| / (total of both maps), the same measure for every map: 0% identical, "
        f"100% nothing in common. A move of ({dy:+d}, {dx:+d}) pixels changed the feature map "
        f"{stats.unpooled_change:.0%} and the pooled map, cell by cell in place, {stats.pooled_change:.0%}"
    )
    if stats.moved_cells is None or stats.pooled_moved_change is None:
        effect = "less" if stats.pooled_change < stats.unpooled_change else "not less"
        whole = dy % stride == 0 and dx % stride == 0
        why = (
            "pushes the pooled map out of view"
            if whole
            else f"is not a whole number of strides ({stride} pixels), so the pooled map does not simply move: "
            "the windows group the pixels differently"
        )
        return f"{measure}: {effect} than the map. This move {why}."
    cy, cx = stats.moved_cells
    return (
        f"{measure}. This move is a whole number of strides ({stride} pixels), so the pooled map moves by "
        f"({cy:+d}, {cx:+d}) cells: against the pooled original moved by that much it changed "
        f"{stats.pooled_moved_change:.0%} (0% = it only moved)."
    )
