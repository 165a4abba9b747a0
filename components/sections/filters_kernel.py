"""The Filters page's kernel: a named one from the library, one typed by hand, or one the network learned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from components.charts.filters import kernel_figure
from components.query_state import Link
from components.resources import learned_filters
from components.session_keys import (
    FILTERS_GRID_SIZE,
    FILTERS_KERNEL_SOURCE,
    FILTERS_LEARNED_EPOCH,
    FILTERS_LEARNED_INDEX,
    FILTERS_LIBRARY,
    FILTERS_NORMALISE,
    filters_start_key,
    filters_text_key,
)
from models.card import ModelFileError
from models.convolution import KernelError, kernel_to_text, normalise_kernel, parse_kernel, starting_kernels
from models.kernels import KERNELS, most_similar_kernel

KERNEL_SOURCES = ("Library", "Edit your own", "Learned by the network")
LEARNED = KERNEL_SOURCES[2]
GRID_SIZES = (3, 5, 7)


@dataclass(frozen=True, eq=False)
class ChosenKernel:
    weights: np.ndarray
    title: str
    query: dict[str, str | None]  # ?kernel= / ?filter= for a link to this choice


def choose_kernel(link: Link) -> ChosenKernel | None:
    """Kernel source, the kernel itself and optional normalisation; None after showing an error.

    The widgets open on the link's ?kernel= (a library kernel) or ?filter= (a learned filter).
    """
    learned = "filter" in link.linked
    source = st.radio("Kernel", KERNEL_SOURCES, index=2 if learned else 0, horizontal=True, key=FILTERS_KERNEL_SOURCE)
    if source == KERNEL_SOURCES[0]:
        names = list(KERNELS)
        name = st.selectbox("Named kernel", names, index=names.index(link["kernel"]), key=FILTERS_LIBRARY)
        st.caption(KERNELS[name].explanation)
        weights, title, query = KERNELS[name].weights, name, {"kernel": name, "filter": None}
    elif source == KERNEL_SOURCES[1]:
        edited = edited_kernel()
        if edited is None:
            return None
        weights, title = edited
        query = {"kernel": None, "filter": None}
    else:
        trained = learned_kernel(link["filter"] or 0)
        if trained is None:
            return None
        weights, title, index = trained
        query = {"kernel": None, "filter": str(index)}
    weights = np.asarray(weights, dtype=np.float32)
    if st.checkbox("Normalise: divide the weights by their sum", key=FILTERS_NORMALISE):
        total = float(weights.sum())
        normalised = normalise_kernel(weights)
        if np.isclose(total, 1.0):
            st.caption("The weights already sum to 1: normalising changes nothing.")
        elif np.array_equal(normalised, weights):
            st.caption(
                "The weights sum to 0 (a difference, as in edge detectors): there is nothing to divide by, "
                "so the kernel is unchanged."
            )
        else:
            st.caption(f"Every weight divided by their sum, {total:.4g}.")
            title += " (normalised)"
        weights = normalised
    st.caption(f"Weights sum to {float(weights.sum()):.4g}: 1 keeps the brightness, 0 leaves 0 on flat areas.")
    st.plotly_chart(kernel_figure(weights), width="content", config={"displayModeBar": False})
    return ChosenKernel(weights, title, query)


def edited_kernel() -> tuple[np.ndarray, str] | None:
    size = st.radio("Grid size", GRID_SIZES, format_func=lambda s: f"{s}x{s}", horizontal=True, key=FILTERS_GRID_SIZE)
    templates = starting_kernels(size)
    start = st.selectbox("Start from", list(templates), key=filters_start_key(size))
    text = st.text_area(
        "Weights: one row per line, numbers separated by spaces or commas (fractions like 1/9 work)",
        value=kernel_to_text(templates[start]),
        height=68 + 26 * size,
        key=filters_text_key(size, start),
    )
    try:
        weights = parse_kernel(text)
    except KernelError as error:
        st.error(str(error))
        return None
    return weights, f"Your {weights.shape[0]}x{weights.shape[0]} kernel"


def learned_kernel(linked_filter: int) -> tuple[np.ndarray, str, int] | None:
    try:
        filters, labels = learned_filters()
    except (ModelFileError, ValueError) as error:
        st.error(str(error))
        return None
    index = st.selectbox(
        "Filter of the first Conv2D layer",
        range(filters.count),
        index=min(linked_filter, filters.count - 1),
        format_func=lambda i: labels[i].brief("Filter "),
        key=FILTERS_LEARNED_INDEX,
    )
    epoch = st.select_slider(
        "Weights after epoch",
        range(filters.epochs + 1),
        value=filters.epochs,
        format_func=lambda e: "0 (random start)" if e == 0 else str(e),
        key=FILTERS_LEARNED_EPOCH,
    )
    weights = filters.history[epoch, index]
    when = "at initialisation" if epoch == 0 else f"after epoch {epoch}"
    try:
        match = most_similar_kernel(weights)
        st.caption(
            f"{when.capitalize()}: {match.text}; after training: {labels[index].text}. A kernel is named only if "
            "its |cosine| beats what 95% of random initial filters reach; a negative cosine is the inverted "
            "pattern. Weights only, without the layer's bias."
        )
    except ValueError as error:
        st.caption(str(error))
    return weights, f"Filter {index} {when}", index


def learned_chosen() -> bool:
    """Whether the kernel is one the network learned (the page then shows the learned filters' section)."""
    return st.session_state.get(FILTERS_KERNEL_SOURCE) == LEARNED
