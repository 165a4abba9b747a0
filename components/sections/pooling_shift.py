"""The Pooling page's shift test: how much a move of 1 or 2 pixels changes the map, and the pooled map."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.memo import once
from components.sections.pooling import PICTURE_NOTE, PLOT_CONFIG, pooling_key
from components.session_keys import POOL_SHIFT_AFTER, POOL_SHIFT_BEFORE, POOL_SHIFT_DX, POOL_SHIFT_DY
from models.pooling import PoolError, pool2d, shift_sensitivity


@st.fragment
def show_shift_test(x2d: np.ndarray, pool: dict, key: str) -> None:
    st.header("5. Shift test: does a small move change the result?")
    dy_col, dx_col = st.columns(2)
    dy = dy_col.slider("Move down (pixels)", -2, 2, 0, key=POOL_SHIFT_DY)
    dx = dx_col.slider("Move right (pixels)", -2, 2, 1, key=POOL_SHIFT_DX)
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
    st.plotly_chart(before, config=PLOT_CONFIG, key=POOL_SHIFT_BEFORE)
    st.plotly_chart(after, config=PLOT_CONFIG, key=POOL_SHIFT_AFTER)
    st.caption(
        "Changed = sum of |shifted - original| / (sum of |original| + sum of |shifted|): 0% identical, "
        "100% no overlap. Within a window, the largest value can move and still be kept: shifts smaller than "
        "the window are absorbed best, while a shift by a whole stride just moves the pooled map one cell."
        + PICTURE_NOTE
        * charts.drawn_as_picture(x2d)
    )
