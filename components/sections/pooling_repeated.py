"""The Pooling page's repeated pooling: the picture pooled again and again until no window fits."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.memo import once
from components.sections.pooling import PLOT_CONFIG, pooling_key
from components.session_keys import POOL_REPEATED, pool_times_key
from models.pooling import poolable_times


@st.fragment
def show_repeated(x: np.ndarray, pool: dict, key: str) -> None:
    st.header("6. Pool the picture again and again")
    most = poolable_times(x.shape[:2], pool["size"], pool["stride"], pool["padding"])
    times = st.slider("Times to pool", 1, most, min(3, most), key=pool_times_key(most)) if most > 1 else 1
    st.plotly_chart(
        once(key, ("repeated", times, pooling_key(pool)), functools.partial(charts.repeated_figure, x, times, pool)),
        config=PLOT_CONFIG,
        key=POOL_REPEATED,
    )
    limit = "" if most == 5 else f" These settings can pool this picture at most {most} time{'s' * (most > 1)}."
    st.caption(
        "The picture itself (no filter), all scaled to the same size. Each pooling throws away detail; "
        "by 3x3 pixels most items "
        f"are no longer recognisable. That is why the model pools only twice (28 -> 13 -> 5).{limit}"
    )
