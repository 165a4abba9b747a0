"""The Filters page's learned filters: the course network's 64 first-layer filters, how training shaped them."""

from __future__ import annotations

import streamlit as st

from components.charts.alt import figure_alt
from components.charts.filters import (
    block_mean,
    display_factor,
    epoch_strip_figure,
    gallery_figure,
    responses_grid_figure,
)
from components.framework.memo import once
from components.framework.session_keys import FILTERS_ALL_RESPONSES, FILTERS_LEARNED_EPOCH, FILTERS_LEARNED_INDEX
from components.image_picker import PickedImage
from components.resources import learned_filters
from models.explain.learned_filters import filter_responses
from models.inputs.images import fingerprint, luma
from models.ops.geometry import Padding
from models.ops.kernels import CHANCE_SAMPLES, CHANCE_THRESHOLD

RESPONSES_SIDE = 64
PLOTLY_CONFIG = {"displayModeBar": False}  # hover gives every value; a toolbar adds tab stops


@st.fragment
def learned_section(picked: PickedImage, stride: int, padding: Padding, dilation: int) -> None:
    """The gallery of learned filters; showing all 64 responses reruns only this section."""
    st.subheader("6. The network learns its filters")
    filters, labels = learned_filters()
    st.markdown(
        f"These are the {filters.count} 3x3 filters of the course network's first Conv2D layer. They were "
        "**not chosen by anyone**: they started as small random numbers and training on Fashion-MNIST "
        f"shaped them over {filters.epochs} epochs. {sum(label.match.close for label in labels)} of them ended up "
        "clearly closer to a classic kernel above than random filters get; the others match none of them."
    )
    strongest = max(labels, key=lambda label: abs(label.cosine))
    st.markdown(
        f"**The clearest match: filter {strongest.index} resembles {strongest.kernel_name}** (cosine "
        f"{strongest.cosine:+.2f} with its nine weights; 1 is the same pattern). Below, both grids share one colour "
        "scale: the random start is faint and patternless, training grew the patterns."
    )
    gallery = once(
        fingerprint(filters.history),
        ("gallery shared scale",),
        lambda: gallery_figure(
            filters.initial, filters.trained, [label.text for label in labels], epochs=filters.epochs
        ),
    )
    st.plotly_chart(
        gallery,
        width="stretch",
        config=PLOTLY_CONFIG,
        alt=f"The {filters.count} learned 3x3 filters at initialisation and after training; "
        + "; ".join(f"filter {label.text}" for label in labels if label.match.close)
        + ".",
    )
    st.caption(
        "Filter number = row label + column label (e.g. row 16, column +1 is filter 17). Both grids are coloured "
        "on one scale, the largest weight of either; hover a tile for its label and weights."
    )
    index = st.session_state.get(FILTERS_LEARNED_INDEX, 0)
    st.plotly_chart(
        once(
            fingerprint(filters.history),
            ("epoch strip", index),
            lambda: epoch_strip_figure(filters.history[:, index], title=f"Filter {index} epoch by epoch"),
        ),
        width="stretch",
        config={"displayModeBar": False},
        alt=f"Filter {index}'s 3x3 weights epoch by epoch; after epoch {filters.epochs}, row by row: "
        + "; ".join(" ".join(f"{w:.2f}" for w in row) for row in filters.history[-1, index])
        + ".",
    )
    best = sorted(labels, key=lambda label: -abs(label.cosine))
    with st.expander("Which classic kernel each learned filter resembles"):
        st.dataframe(
            {
                "filter": [label.index for label in best],
                "resembles": [label.kernel_name for label in best],
                "closest classic kernel": [label.match.best for label in best],
                "cosine": [round(label.cosine, 3) for label in best],
            },
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Cosine similarity of the nine weights: 1 is the same pattern, -1 the inverted pattern (e.g. "
            f"dark-to-light instead of light-to-dark). Chance: 95% of {CHANCE_SAMPLES:,} random Glorot-uniform "
            f"filters (the layer's initialisation) reach |cosine| at most {CHANCE_THRESHOLD:.2f} with their "
            "closest classic kernel, so only a filter above that is named; the rest say 'no close classic kernel'."
        )
    if st.toggle("Show all 64 responses to this image", key=FILTERS_ALL_RESPONSES):
        epoch = st.session_state.get(FILTERS_LEARNED_EPOCH, filters.epochs)
        gray = picked.pixels if picked.grayscale else luma(picked.pixels)
        small = block_mean(gray, display_factor(gray.shape, RESPONSES_SIDE))
        try:
            responses = filter_responses(
                small, filters.history[epoch], stride=stride, padding=padding, dilation=dilation
            )
        except ValueError as error:  # the copy reduced for display can be too thin for a 'valid' window
            st.info(f"On the copy reduced to {small.shape[0]} x {small.shape[1]} for this view: {error}")
            return
        grid = responses_grid_figure(responses)
        st.plotly_chart(
            grid,
            width="stretch",
            config=PLOTLY_CONFIG,
            alt=figure_alt(grid, f"All {len(responses)} filters' responses"),
        )
        reduced = "" if small.shape == gray.shape else f", on a copy reduced to {small.shape[0]} x {small.shape[1]}"
        st.caption(
            f"Each tile is one filter's raw response (weights after epoch {epoch}, no bias or ReLU{reduced}), "
            "coloured relative to its own largest |value| so weak responses show too. Numbering as in the "
            "gallery."
        )
