"""Inspect, Embedding: the test images in the last hidden layer, projected to 2-D (PCA or t-SNE); click a point to
see the item."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from components.charts.alt import embedding_alt, pictures_alt
from components.charts.inspect import embedding_figure, gallery_figure, item_label, projection_text
from components.framework.memo import once
from components.framework.session_keys import INSPECT_EMBEDDING_WHY, INSPECT_PROJECTION, inspect_embedding_chart
from components.model_choice import Subject, evaluation_set, labelled_only
from components.sections.inspect import CHART_CONFIG, PROJECTIONS, evaluation, open_in_why
from components.training_jobs import run_store
from models.explain import inspection as ins

if TYPE_CHECKING:
    import keras

TSNE_FULL = 10_000  # Fashion-MNIST's test set; smaller (own) sets get a perplexity fitted to their size
TSNE_WAIT = (
    "Running t-SNE on all 10,000 test images: about two minutes on this server, once per model "
    "(the shipped model's layout is saved with it)..."
)
TSNE_WAIT_APART = (
    "Running t-SNE on all 10,000 test images in a separate process, once for this run (the shipped model's took "
    "about two minutes here); the layout is then stored with the run..."
)

# Projections are cached per model key (the shipped file and its time, or a saved run's folder), which names the
# weights the embedding came from; never per id(model), which a later model can reuse.


@st.cache_data(show_spinner="Projecting the embedding...", max_entries=8)
def pca_for(model_key: str, _embedding: np.ndarray) -> ins.Projection:
    return ins.pca(_embedding)


@st.cache_data(show_spinner=False, max_entries=8)
def saved_tsne_for(model_key: str, _model: keras.Model) -> ins.Projection | None:
    """The t-SNE layout shipped with the course model, if this model has its weights (else None)."""
    return ins.read_tsne_layout(ins.TSNE_LAYOUT, ins.weights_key(_model))


@st.cache_data(show_spinner=TSNE_WAIT, max_entries=4)
def tsne_for(model_key: str, _embedding: np.ndarray) -> ins.Projection:
    return ins.tsne(_embedding)


@st.cache_data(show_spinner="Running t-SNE on the run's own test images...", max_entries=8)
def small_tsne_for(model_key: str, _embedding: np.ndarray) -> ins.Projection:
    """t-SNE of a small test set (a run on the learner's own images), its perplexity fitted to the set's size."""
    return ins.tsne(_embedding, perplexity=ins.perplexity_for(len(_embedding)))


def run_tsne(subject: Subject, result: ins.Evaluation) -> ins.Projection | None:
    """A learner's run's layout, stored beside its model: made the first time in a limited child process (minutes
    of a core the web server must not spend), while the page says so. None, after a message, when it cannot be."""
    from models.serving.apart import ApartError

    weights = ins.weights_key(subject.model)
    output = Path(subject.key.removeprefix("run:")) / ins.TSNE_FILE
    layout = ins.read_tsne_layout(output, weights)
    if layout is not None and len(layout.coordinates) == len(result.labels):
        return layout
    try:
        with st.spinner(TSNE_WAIT_APART):
            return ins.tsne_apart(result.embedding, output, weights, run_store().root)
    except ApartError as error:
        st.warning(f"t-SNE cannot be shown for this model: {error} The PCA projection is shown instead.")
        return None


def tsne_projection(subject: Subject, result: ins.Evaluation) -> ins.Projection | None:
    """The saved layout when it fits this model and test set, a learner's run's own (run_tsne), else t-SNE computed
    now (once per model key); None when a run's cannot be made."""
    if len(result.labels) < TSNE_FULL:
        return small_tsne_for(subject.key, result.embedding)
    saved = saved_tsne_for(subject.key, subject.model)
    if saved is not None and len(saved.coordinates) == len(result.labels):
        return saved
    if subject.key.startswith("run:"):
        return run_tsne(subject, result)
    return tsne_for(subject.key, result.embedding)


def embedding_section(subject: Subject) -> None:
    if not labelled_only(subject, "The embedding, coloured by the test images' classes,"):
        return
    test = evaluation_set(subject)
    x_test, y_test, names = test.images, test.labels, test.class_names
    result = evaluation(subject)
    st.markdown(
        f"Every test image becomes {result.embedding.shape[1]} numbers in the `{result.embedding_layer}` layer, "
        "the last before the output. A 2-D projection shows which classes the network keeps apart and "
        "which it mixes. Hover for the item; click a point to see it."
    )
    method = st.radio(
        "Projection",
        PROJECTIONS,
        key=INSPECT_PROJECTION,
        horizontal=True,
        format_func=lambda label: label.replace("10,000", f"{test.size:,}"),
    )
    chosen = np.arange(len(result.labels))
    projection = None if method == PROJECTIONS[0] else tsne_projection(subject, result)
    if projection is None:  # PCA chosen, or a run's t-SNE could not be made (the page said why)
        method, projection = PROJECTIONS[0], pca_for(subject.key, result.embedding)
    axes, note = projection_text(projection, len(chosen))
    if projection.perplexity is not None and projection.perplexity < ins.TSNE_PERPLEXITY:
        note += (
            f" With only {test.size} images the perplexity is (N - 1) / 3 = {projection.perplexity:.2f} instead of "
            f"{ins.TSNE_PERPLEXITY:g}: scikit-learn needs fewer neighbours than images."
        )
    plot, item = st.columns([4, 1])
    with plot:
        figure = once(
            subject.key,
            ("projection", method),
            lambda: embedding_figure(
                projection.coordinates,
                result.labels[chosen],
                result.predictions[chosen],
                [f"{result.confidences[i]:.0%}" for i in chosen],
                chosen,
                names,
                axis_titles=axes,
            ),
        )
        event = st.plotly_chart(
            figure,
            key=inspect_embedding_chart(method),
            on_select="rerun",
            selection_mode="points",
            config=CHART_CONFIG,
            alt=embedding_alt(projection.coordinates, result.labels[chosen], names, method.split(":")[0]),
        )
        st.caption(note)
    points = event.selection.points if event else []
    with item:
        if not points:
            st.markdown("Click a point to see the item here.")
            return
        index = int(points[0]["customdata"])
        label = item_label(index, y_test, names, result)
        st.plotly_chart(
            gallery_figure(x_test[index : index + 1] / 255.0, [label], per_row=1, cell=230),
            config=CHART_CONFIG,
            alt=pictures_alt("the clicked test image", [label]),
        )
        if st.button("Why this prediction?", on_click=open_in_why, args=(index,), key=INSPECT_EMBEDDING_WHY):
            st.rerun()  # the tabs are outside this tab's fragment
