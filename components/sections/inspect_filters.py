"""Inspect, Learned filters: the first conv layer's kernels grouped by the library kernel each resembles, and for
the shipped model the same kernels at initialisation."""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from components.charts.alt import figure_alt
from components.charts.inspect import kernel_gallery_figure, kernel_notes, kernels_caption
from components.framework.memo import once
from components.framework.session_keys import INSPECT_WEIGHTS
from components.model_choice import Subject
from components.resources import filter_snapshots
from components.sections.inspect import CHART_CONFIG, WEIGHTS
from models.design.card import ModelFileError
from models.explain import inspection as ins


def learned_filters_section(subject: Subject) -> None:
    try:
        trained = ins.first_layer_kernels(subject.model)
    except ins.InspectionError as error:
        st.info(str(error))
        return
    initial = _initial_kernels(subject, trained)
    count = trained.shape[0]
    rows, notes = _gallery_rows(subject, trained)
    options = WEIGHTS if initial is not None else WEIGHTS[:1]
    if st.session_state[INSPECT_WEIGHTS] not in options:
        st.session_state[INSPECT_WEIGHTS] = WEIGHTS[0]
    shown = st.segmented_control("Weights", options, key=INSPECT_WEIGHTS, required=True)
    kernels = initial if shown == WEIGHTS[1] and initial is not None else trained
    gallery = once(subject.key, ("kernels", shown), functools.partial(kernel_gallery_figure, kernels, rows, notes))
    st.plotly_chart(
        gallery,
        config=CHART_CONFIG,
        alt=figure_alt(gallery, f"The first layer's {count} kernels, {str(shown).lower()}"),
    )
    if initial is None:
        st.caption("Initial weights are saved only for the shipped model (models/fashion_cnn.filters.npz).")
        return
    grouped = {
        when: once(subject.key, ("groups", when), functools.partial(ins.group_kernels, weights))
        for when, weights in (("initial", initial), ("trained", trained))
    }
    scores = {when: np.abs([s for group in grouped[when] for s in group.scores]) for when in grouped}
    typical = [float(np.median(scores[when])) for when in grouped]
    close = [int((scores[when] > ins.MATCH_THRESHOLD).sum()) for when in grouped]
    epochs = len(filter_snapshots()) - 1  # read above: the initial kernels come from these snapshots
    st.caption(kernels_caption(initial, trained, epochs, typical, close, ins.MATCH_THRESHOLD))


def _initial_kernels(subject: Subject, trained: np.ndarray) -> np.ndarray | None:
    """The shipped model's first-layer kernels at initialisation, when its saved snapshots match its file; None for
    other models or, after a warning, when the snapshots are missing or do not match."""
    if not subject.key.startswith("shipped:"):
        return None
    try:
        snapshots = filter_snapshots()
    except ModelFileError as error:
        st.warning(str(error))
        return None
    if np.array_equal(ins.snapshot_kernels(snapshots[-1]), trained):
        return ins.snapshot_kernels(snapshots[0])
    st.warning("The saved filter snapshots do not match the model file, so the initial weights are hidden.")
    return None


def _gallery_rows(subject: Subject, trained: np.ndarray) -> tuple[list[tuple[str, tuple[int, ...]]], list[str]]:
    """The gallery's rows (3x3 kernels grouped by the classic kernel each resembles, others by number) and each
    kernel's note, after the text that explains them."""
    count, size = trained.shape[0], trained.shape[1]
    if size == 3:
        groups = once(subject.key, ("groups", "trained"), functools.partial(ins.group_kernels, trained))
        rows = [(group.name, group.indices) for group in groups]
        notes = kernel_notes(groups, count, ins.MATCH_THRESHOLD, ins.NO_MATCH)
        st.markdown(
            f"The first layer's {count} {size}x{size} kernels, grouped by the library kernel of the Filters page "
            "each resembles most (cosine similarity of the nine weights; a negative cosine means the inverted "
            f"pattern). A kernel is named only if its |cosine| beats {ins.MATCH_THRESHOLD:.2f}, which 95% of "
            "random initial filters stay below; the rest are 'no close classic kernel'. "
            "Hover a kernel for its weights. Blue is negative, red positive."
        )
    else:
        rows, notes = [("All filters", tuple(range(count)))], [""] * count
        st.markdown(f"The first layer's {count} {size}x{size} kernels, by filter number. Hover for the weights.")
    return rows, notes
