"""The Filters page's kernel: a named one from the library, one typed by hand, or one the network learned."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import streamlit as st

from components.charts.filters import kernel_figure
from components.framework.memo import once
from components.framework.query_state import Link
from components.framework.session_keys import (
    FILTERS_GRID_SIZE,
    FILTERS_KERNEL_SOURCE,
    FILTERS_LEARNED_EPOCH,
    FILTERS_LEARNED_INDEX,
    FILTERS_LEARNED_NETWORK,
    FILTERS_LIBRARY,
    FILTERS_NORMALISE,
    filters_start_key,
    filters_text_key,
)
from components.resources import learned_filters
from components.sections.model_upload import upload_label
from components.training_jobs import learner_runs
from models.design.card import ModelFileError
from models.inputs.images import fingerprint
from models.ops.convolution import KernelError, kernel_to_text, normalise_kernel, parse_kernel, starting_kernels
from models.ops.kernels import KERNELS, most_similar_kernel
from models.training.runs import TrainingRun

KERNEL_SOURCES = ("Library", "Edit your own", "Learned by the network")
LEARNED = KERNEL_SOURCES[2]
GRID_SIZES = (3, 5, 7)
SHIPPED = "shipped"  # the Network choice of the shipped course CNN (the others are uploaded runs' ids)


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
    figure = once(fingerprint(weights), ("kernel figure",), functools.partial(kernel_figure, weights))
    st.plotly_chart(
        figure,
        width="content",
        config={"displayModeBar": False},
        alt=f"The kernel {title}: " + "; ".join(" ".join(f"{w:.3g}" for w in row) for row in weights) + ".",
    )
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
    """A first-layer filter of the shipped CNN (over its epochs) or of a model the learner uploaded."""
    uploaded = {run.run_id: run for run in learner_runs() if run.uploaded and run.config.get("first_conv")}
    if uploaded:
        options = [SHIPPED, *uploaded]
        if st.session_state.get(FILTERS_LEARNED_NETWORK) not in options:
            st.session_state[FILTERS_LEARNED_NETWORK] = SHIPPED
        network = st.selectbox(
            "Network",
            options,
            format_func=lambda k: "Shipped course CNN" if k == SHIPPED else upload_label(uploaded[k]),
            key=FILTERS_LEARNED_NETWORK,
        )
        if network != SHIPPED:
            return uploaded_kernel(uploaded[network], linked_filter)
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


def uploaded_kernel(run: TrainingRun, linked_filter: int) -> tuple[np.ndarray, str, int] | None:
    """One kernel of an uploaded model's first Conv2D layer, as saved when it was uploaded."""
    kernels, layer = run.first_conv_kernels, run.config["first_conv"]
    if kernels is None:
        st.error(f"{run.name}: its first-layer kernels were not saved.")
        return None
    if kernels.shape[0] != kernels.shape[1]:
        st.error(
            f"{run.name}: {layer}'s kernels are {kernels.shape[0]}x{kernels.shape[1]}; this page slides square "
            "kernels only."
        )
        return None
    count, size = kernels.shape[3], kernels.shape[0]
    if st.session_state.get(FILTERS_LEARNED_INDEX, 0) >= count:
        st.session_state[FILTERS_LEARNED_INDEX] = 0
    index = st.selectbox(
        f"Filter of {layer} ({count} filters, {size}x{size})",
        range(count),
        index=min(linked_filter, count - 1),
        format_func=lambda i: f"Filter {i}",
        key=FILTERS_LEARNED_INDEX,
    )
    st.caption(
        f"The weights of filter {index} of your model's layer {layer}, as uploaded (without the layer's bias)."
        " There is no training history to replay: the model was trained elsewhere."
    )
    return kernels[:, :, 0, index], f"{run.name}, {layer} filter {index}", index


def learned_chosen() -> bool:
    """Whether the kernel is one the shipped network learned (the page then shows the learned filters' section)."""
    return (
        st.session_state.get(FILTERS_KERNEL_SOURCE) == LEARNED
        and st.session_state.get(FILTERS_LEARNED_NETWORK, SHIPPED) == SHIPPED
    )
