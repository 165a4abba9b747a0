"""Deeper, Channel sum: one filter of a deeper conv layer (conv2) taken apart channel by channel.

The learner picks a test image and a filter; the tab shows the layer's input maps, the filter's kernel slices, the
partial maps (each input map convolved with its own slice), their sum plus the bias and the activation. Clicking an
output pixel (or typing its row and column) shows which input channels drive it and its multiply-accumulates.
Every number comes from `models.explain.channel_sum`, which tests check against Keras.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from components.charts.alt import figure_alt
from components.charts.channel_sum import channel_grids_figure, clicked_pixel, contributions_figure, sum_figure
from components.framework.memo import once
from components.framework.session_keys import (
    DEEPER_CHANNELS_COL,
    DEEPER_CHANNELS_FILTER,
    DEEPER_CHANNELS_GRIDS,
    DEEPER_CHANNELS_LAYER,
    DEEPER_CHANNELS_ROW,
    DEEPER_CHANNELS_SUM,
)
from components.model_choice import Subject, evaluation_set
from components.presentation import beside
from components.sections.deeper import choose_test_image
from components.sections.inspect import CHART_CONFIG
from models.explain.channel_sum import (
    ConvPartials,
    InspectionError,
    PixelSum,
    channel_sum_layers,
    conv_partials,
    pixel_sum,
)

DOMINANT = 5  # "the 5 largest contributions give x% of ..."
LARGEST_TERMS = 8  # rows of the multiply-accumulate table


def select_pixel() -> None:
    """Chart click -> the row and column boxes."""
    points = st.session_state[DEEPER_CHANNELS_SUM]["selection"]["points"]
    if points:
        st.session_state[DEEPER_CHANNELS_ROW], st.session_state[DEEPER_CHANNELS_COL] = clicked_pixel(points[0])


def channels_section(subject: Subject) -> None:
    st.markdown(
        "conv1 reads one channel, the image. A deeper filter reads **every** channel of the layer before: it is a 3-D "
        "kernel, one slice (3x3 in the course CNN) per input channel. Each input map is convolved with its own slice "
        "(a *partial map*), the partial maps are added up, the bias is added, then the activation (ReLU). Look for "
        "the few channels that dominate a pixel."
    )
    try:
        layers = channel_sum_layers(subject.model)
    except InspectionError as error:
        st.info(str(error), icon=":material/info:")
        return
    test = evaluation_set(subject)
    x_test, y_test = test.images, test.labels
    controls, results = beside(1, 3)
    with controls:
        index = choose_test_image(test)
        layer, filter_index = choose_filter(subject, layers)
    parts = once(
        subject.key,
        ("channel_sum", index, layer, filter_index),
        functools.partial(conv_partials, subject.model, x_test[index], layer, filter_index),
    )
    row, col = chosen_pixel(parts)
    pixel = pixel_sum(parts, row, col)
    source = input_layer(subject, layer)
    with results:
        st.markdown(
            f"Test image {index} ({test.class_names[y_test[index]]}), {layer} filter {filter_index}: the same channel "
            f"sits in the same place in each grid. Green: the window of pixel ({row}, {col}) on every input map, and "
            "that pixel on every partial map. Kernels and partial maps: red positive, blue negative."
        )
        grids = once(
            subject.key,
            ("channel_sum_grids", index, layer, filter_index, row, col),
            functools.partial(
                channel_grids_figure,
                parts.inputs,
                parts.kernel,
                parts.partials,
                pixel.box,
                (row, col),
                input_layer=source,
                channels=parts.channels.tolist(),
            ),
        )
        st.plotly_chart(
            grids,
            key=DEEPER_CHANNELS_GRIDS,
            config=CHART_CONFIG,
            alt=figure_alt(grids, f"Each input channel's partial map for pixel ({row}, {col})"),
        )
    _sum_section(subject, parts, pixel, index)
    _pixel_section(subject, parts, pixel, index)


def choose_filter(subject: Subject, layers: list[str]) -> tuple[str, int]:
    """The layer (a box only when the model has several to choose from) and one of its filters."""
    if st.session_state.get(DEEPER_CHANNELS_LAYER) not in layers:
        st.session_state[DEEPER_CHANNELS_LAYER] = layers[0]
    if len(layers) > 1:
        layer = st.selectbox("Layer", layers, key=DEEPER_CHANNELS_LAYER)
    else:
        layer = layers[0]
    conv = subject.model.get_layer(layer)
    filters = int(conv.kernel.shape[3])
    st.session_state[DEEPER_CHANNELS_FILTER] = min(int(st.session_state.get(DEEPER_CHANNELS_FILTER, 0)), filters - 1)
    chosen = st.number_input(f"{layer} filter (0-{filters - 1})", 0, filters - 1, step=1, key=DEEPER_CHANNELS_FILTER)
    if len(layers) == 1:
        st.caption(f"{layer}: {filters} filters, each reading {int(conv.kernel.shape[2])} channels.")
    return layer, int(chosen)


def input_layer(subject: Subject, layer: str) -> str:
    """The name of the layer whose output `layer` reads (pool1 for conv2), or "input"."""
    names = [lay.name for lay in subject.model.layers]
    position = names.index(layer)
    return names[position - 1] if position > 0 else "input"


def chosen_pixel(parts: ConvPartials) -> tuple[int, int]:
    """The selected output pixel, kept inside this layer's output (the centre to start with)."""
    out_h, out_w = parts.partials.shape[1:]
    for key, size in ((DEEPER_CHANNELS_ROW, out_h), (DEEPER_CHANNELS_COL, out_w)):
        st.session_state[key] = min(max(int(st.session_state.get(key, size // 2)), 0), size - 1)
    return st.session_state[DEEPER_CHANNELS_ROW], st.session_state[DEEPER_CHANNELS_COL]


def _sum_section(subject: Subject, parts: ConvPartials, pixel: PixelSum, index: int) -> None:
    out_h, out_w = parts.partials.shape[1:]
    count = parts.partials.shape[0]
    st.subheader("The sum, then the activation")
    controls, results = beside(1, 3)
    with controls:
        st.markdown(
            f"Adding the {count} partial maps pixel by pixel and the bias ({parts.bias:+.4f}) gives the "
            f"pre-activation; {parts.activation} then gives {parts.layer}'s output. "
            "**Click a pixel** (or type its row and column)."
        )
        left, right = st.columns(2)
        left.number_input(f"Row (0-{out_h - 1})", 0, out_h - 1, step=1, key=DEEPER_CHANNELS_ROW)
        right.number_input(f"Column (0-{out_w - 1})", 0, out_w - 1, step=1, key=DEEPER_CHANNELS_COL)
    figure = once(
        subject.key,
        ("channel_sum_sum", index, parts.layer, parts.filter, pixel.row, pixel.col),
        functools.partial(
            sum_figure,
            parts.pre_activation,
            parts.output,
            (pixel.row, pixel.col),
            layer=parts.layer,
            activation=parts.activation,
            channels=count,
        ),
    )
    with results:
        st.plotly_chart(
            figure,
            key=DEEPER_CHANNELS_SUM,
            on_select=select_pixel,
            selection_mode="points",
            config=CHART_CONFIG,
            alt=figure_alt(figure, f"The sum of the {count} partial maps plus the bias, then {parts.activation}"),
        )


def _pixel_section(subject: Subject, parts: ConvPartials, pixel: PixelSum, index: int) -> None:
    count = pixel.contributions.size
    k_h, k_w = parts.kernel.shape[:2]
    st.subheader(f"Pixel ({pixel.row}, {pixel.col}): which channels drive it")
    strength = np.abs(pixel.contributions)
    top = np.argsort(-strength, kind="stable")[:DOMINANT]
    share = strength[top].sum() / strength.sum() if strength.sum() > 0 else 0.0
    named = ", ".join(str(parts.channels[c]) for c in top)
    st.markdown(
        f"Pre-activation **{pixel.total:+.4f}** = the {count} channels' contributions "
        f"({pixel.contributions.sum():+.4f}) + bias ({pixel.bias:+.4f}); after {parts.activation}: "
        f"**{pixel.output:.4f}**. The {DOMINANT} largest contributions (channels {named}) are {share:.0%} of "
        f"the total size of all {count}."
    )
    bars = once(
        subject.key,
        ("channel_sum_bars", index, parts.layer, parts.filter, pixel.row, pixel.col),
        functools.partial(contributions_figure, pixel.contributions, parts.channels.tolist(), pixel.bias, pixel.total),
    )
    st.plotly_chart(bars, config=CHART_CONFIG, alt=figure_alt(bars, "Each channel's contribution to the pixel"))
    zero = int(np.count_nonzero(pixel.window == 0))
    st.markdown(
        f"**{count} x {k_h * k_w} = {pixel.macs} multiply-accumulates** (input value x weight, all added up): "
        f"{zero} of them multiply an input of 0 (ReLU and pooling left those inputs dark), so they add nothing. "
        f"Their sum is {pixel.products.sum():+.4f}; with the bias, {pixel.total:+.4f}. The largest terms (row and "
        f"column inside the {k_h}x{k_w} slice):"
    )
    terms = pd.DataFrame(
        pixel.largest_terms(LARGEST_TERMS),
        columns=["channel", "row", "column", "input", "weight", "input x weight"],
    )
    terms["channel"] = parts.channels[terms["channel"].to_numpy()]
    signed = st.column_config.NumberColumn(format="%+.4f")
    st.dataframe(
        terms,
        hide_index=True,
        height="content",
        width="content",
        column_config={
            "input": st.column_config.NumberColumn(format="%.4f"),
            "weight": signed,
            "input x weight": signed,
        },
    )
