"""The Pooling page's course model: one Fashion-MNIST item through its two conv -> ReLU -> max pool blocks."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components.charts import pooling as charts
from components.charts.alt import figure_alt
from components.framework.memo import once
from components.framework.session_keys import WALK_FILTER, WALK_ITEM, WALK_KERNEL, WALK_MAPS
from components.resources import fashion_mnist, learned_filters
from components.sections.pooling import PLOT_CONFIG
from models.design.card import ModelFileError
from models.design.config import COURSE_CNN, plan, shape_text
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.samples import fashion_item
from models.ops.convolution import convolve2d
from models.ops.kernels import KERNELS
from models.ops.pooling import pool2d

KERNELS_3X3 = [name for name, kernel in KERNELS.items() if kernel.weights.shape == (3, 3)]


@st.fragment
def course_walk_section() -> None:
    st.header("7. One item through the course model")
    stages = plan(COURSE_CNN)
    spatial = [stage.shape for stage in stages if len(stage.shape) == 3]
    channels = spatial[1][2]
    st.markdown(
        "The course CNN: "
        + " -> ".join(shape_text(s) for s in spatial)
        + ". Here one Fashion-MNIST item follows one channel through the course model's conv -> ReLU -> "
        "2x2 max pool, twice."
    )
    try:
        filters, labels = learned_filters()
    except (ModelFileError, ValueError) as error:
        st.error(str(error))
        return
    best = max(range(filters.count), key=lambda i: abs(labels[i].cosine))
    item_col, first_col, second_col = st.columns([2, 3, 2])
    (_, _), (images, labels_data) = fashion_mnist()
    name = item_col.selectbox("Item", CLASS_NAMES, index=CLASS_NAMES.index("Sneaker"), key=WALK_ITEM)
    index = first_col.selectbox(
        "First conv: learned filter of the shipped model",
        range(filters.count),
        index=best,
        key=WALK_FILTER,
        format_func=lambda i: labels[i].short,
    )
    second = second_col.selectbox(
        "Second conv: hand-made 3x3 kernel",
        KERNELS_3X3,
        index=KERNELS_3X3.index("Sobel: horizontal edges"),
        key=WALK_KERNEL,
    )

    def walk() -> go.Figure:
        item = fashion_item(images, labels_data, name)
        conv1 = np.maximum(convolve2d(item, filters.trained[index]), 0.0)
        pool1 = pool2d(conv1)
        conv2 = np.maximum(convolve2d(pool1, KERNELS[second].weights), 0.0)
        pool2 = pool2d(conv2)
        maps = [
            ("input", item),
            ("conv + ReLU", conv1),
            ("max pool", pool1),
            ("conv + ReLU", conv2),
            ("max pool", pool2),
        ]
        panels = [
            charts.Panel(f"{shape_text(m.shape)}<br>{what}", m, value_range=charts.value_range(m)) for what, m in maps
        ]
        return charts.maps_figure(panels, same_pixel_size=True, height=300)

    # The maps and the figure are kept per item and kernels (the shipped model's filters do not change).
    walked = once("course walk", (name, index, second), walk)
    st.plotly_chart(
        walked,
        config=PLOT_CONFIG,
        key=WALK_MAPS,
        alt=figure_alt(walked, f"One {name} through conv, ReLU and pooling twice: 28x28, 26x26, 13x13, 11x11, 5x5"),
    )
    st.caption(
        f"True relative size. First conv: the trained 3x3 weights of filter #{index} of {len(labels)} from the shipped "
        "model (its bias is left out; \u2248 names the most similar hand-made kernel and the cosine similarity of "
        f"their weights). Second conv: the real model mixes all {channels} maps with learned 3x3x{channels} "
        f"kernels; here the hand-made '{second}' kernel on this one map shows the same shape change. "
        "Each map has its own grey scale (white = its largest value)."
    )
