"""The Pooling page's repeated pooling: the picture pooled again and again until no window fits."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.memo import once
from components.sections.pooling import PLOT_CONFIG, pooling_key
from components.session_keys import POOL_REPEATED, pool_times_key
from models.config import COURSE_CNN, plan, shape_text
from models.pooling import pool_repeatedly, poolable_times


def repeated_shapes(x: np.ndarray, times: int, pool: dict) -> str:
    """The shapes the repeated-pooling chart shows, '28x28 -> 14x14 -> 7x7': the map's, then each pooling's."""
    return " -> ".join(shape_text(m.shape[:2]) for m in [x, *pool_repeatedly(x, times, **pool)])


def course_poolings() -> str:
    """The course model's own poolings, '26x26 -> 13x13, then 11x11 -> 5x5' (from its layer plan)."""
    stages = plan(COURSE_CNN)
    return ", then ".join(
        f"{shape_text(before.shape[:2])} -> {shape_text(stage.shape[:2])}"
        for before, stage in zip(stages, stages[1:])
        if stage.kind == "MaxPooling2D"
    )


@st.fragment
def show_repeated(x: np.ndarray, pool: dict, key: str) -> None:
    st.header("6. Pool the picture again and again")
    most = poolable_times(x.shape[:2], pool["size"], pool["stride"], pool["padding"])
    times = st.slider("Times to pool", 1, most, min(3, most), key=pool_times_key(most)) if most > 1 else 1
    figure, shapes = once(
        key,
        ("repeated", times, pooling_key(pool)),
        lambda: (charts.repeated_figure(x, times, pool), repeated_shapes(x, times, pool)),
    )
    st.plotly_chart(figure, config=PLOT_CONFIG, key=POOL_REPEATED)
    limit = "" if most == 5 else f" These settings can pool this picture at most {most} time{'s' * (most > 1)}."
    st.caption(
        f"The picture itself (no filter), all scaled to the same size: {shapes}. Each pooling throws away "
        "detail; by 3x3 pixels most items are no longer recognisable. That is why the course model pools only "
        f"twice ({course_poolings()}).{limit}"
    )
