"""The Pooling page's repeated pooling: the picture pooled again and again until no window fits."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components.charts import pooling as charts
from components.charts.alt import figure_alt
from components.framework.memo import once
from components.framework.session_keys import POOL_REPEATED, pool_times_key
from components.sections.pooling import PLOT_CONFIG, course_poolings_text, pooling_key
from models.design.config import shape_text
from models.ops.pooling import compression, pool_repeatedly, poolable_times, repeated_window


def repeated_shapes(x: np.ndarray, times: int, pool: dict) -> str:
    """The shapes the repeated-pooling chart shows, '28x28 -> 14x14 -> 7x7': the map's, then each pooling's."""
    return " -> ".join(shape_text(m.shape[:2]) for m in [x, *pool_repeatedly(x, times, **pool)])


def repeated_caption(x: np.ndarray, times: int, pool: dict, shapes: str, most: int) -> str:
    """What the repeated-pooling chart shows, every size and count from this map and these settings."""
    last = shapes.split(" -> ")[-1]
    last_shape = tuple(int(n) for n in last.split("x"))
    kept = compression(x.shape[:2], last_shape).fraction_kept
    block = repeated_window(pool["size"], pool["stride"], times)
    limit = "" if most == 5 else f" These settings can pool this picture at most {most} time{'s' * (most > 1)}."
    return (
        f"The picture itself (no filter), all scaled to the same size: {shapes} (height x width). "
        f"Each pooling throws away detail: after {times} pooling{'s' * (times > 1)}, {kept:.1%} of the "
        f"{shape_text(x.shape[:2])} pixels remain, each summarising a window of up to {block}x{block} pixels of the "
        f"picture. The course model pools only twice ({course_poolings_text()}).{limit}"
    )


@st.fragment
def repeated_section(x: np.ndarray, pool: dict, key: str) -> None:
    st.header("6. Pool the picture again and again")
    most = poolable_times(x.shape[:2], pool["size"], pool["stride"], pool["padding"])
    times = st.slider("Times to pool", 1, most, min(3, most), key=pool_times_key(most)) if most > 1 else 1
    figure, shapes = once(
        key,
        ("repeated", times, pooling_key(pool)),
        lambda: (charts.repeated_figure(x, times, pool), repeated_shapes(x, times, pool)),
    )
    st.plotly_chart(
        figure, config=PLOT_CONFIG, key=POOL_REPEATED, alt=figure_alt(figure, f"The map pooled {times} times")
    )
    st.caption(repeated_caption(x, times, pool, shapes, most))
