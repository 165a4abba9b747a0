"""What the Inspect page's tabs share: the link, the settings kept while a tab is closed, and the results cached for
the model being inspected (chosen in components/model_choice.py).

Results are kept per model key (the shipped file and its time, or a saved run's folder) or per fingerprint of the
weights, never per id(model), which a later model can reuse; they are shared read-only by every session.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from components.framework.memo import once
from components.framework.query_state import Choice, Indices, Link
from components.framework.session_keys import (
    INSPECT_CELL_COUNT,
    INSPECT_CELL_FILTER,
    INSPECT_CLASS,
    INSPECT_CLASS_TO_EXPLAIN,
    INSPECT_COUNT,
    INSPECT_FILTER,
    INSPECT_INDEX,
    INSPECT_INDICES,
    INSPECT_MAP_IMAGE,
    INSPECT_MAP_LAYER,
    INSPECT_MAP_SCALE,
    INSPECT_MODEL,
    INSPECT_OCCLUSION_FILL,
    INSPECT_OCCLUSION_PATCH,
    INSPECT_OCCLUSION_STRIDE,
    INSPECT_PRED,
    INSPECT_PROJECTION,
    INSPECT_SMOOTHGRAD_NOISE,
    INSPECT_SMOOTHGRAD_SAMPLES,
    INSPECT_SOURCE,
    INSPECT_TAB,
    INSPECT_TRUE,
    INSPECT_WEIGHTS,
)
from components.model_choice import EvaluationSet, Subject, evaluation_set, fashion_evaluation_set
from components.tabbed_page import TabbedPage
from models.explain import inspection as ins
from models.inputs.images import fingerprint
from models.training.job_protocol import EVALUATION_FILE

if TYPE_CHECKING:
    import keras

CHART_CONFIG = {"displayModeBar": False}
TAB_SLUGS = {
    "maps": "Feature maps",
    "filters": "Learned filters",
    "evaluation": "Evaluation",
    "why": "Why this prediction",
    "embedding": "Embedding",
}  # ?tab= -> tab label
SOURCES = ["Course trio", "First images of a class", "By index"]
WEIGHTS = ["After training", "At initialisation (random)"]
PROJECTIONS = ["PCA: all 10,000 test images", "t-SNE: all 10,000 test images"]
PREDICTED = -1  # "explain the predicted class" in the class choice
# Widget values kept while their tab is closed (Streamlit forgets the state of widgets not drawn in a run).
DEFAULTS = {
    INSPECT_SOURCE: SOURCES[0],
    INSPECT_CLASS: 9,
    INSPECT_COUNT: 3,
    INSPECT_INDICES: "0, 23, 28",
    INSPECT_FILTER: 1,
    INSPECT_MAP_IMAGE: 0,
    INSPECT_MAP_LAYER: "conv1",
    INSPECT_MAP_SCALE: False,
    INSPECT_WEIGHTS: WEIGHTS[0],
    INSPECT_TRUE: 0,
    INSPECT_PRED: 6,
    INSPECT_CELL_COUNT: 4,
    INSPECT_CELL_FILTER: 1,
    INSPECT_INDEX: 23,
    INSPECT_CLASS_TO_EXPLAIN: PREDICTED,
    INSPECT_OCCLUSION_PATCH: 4,
    INSPECT_OCCLUSION_STRIDE: 2,
    INSPECT_OCCLUSION_FILL: "grey",
    INSPECT_SMOOTHGRAD_NOISE: 0.15,
    INSPECT_SMOOTHGRAD_SAMPLES: 25,
    INSPECT_PROJECTION: PROJECTIONS[0],
}

LINK = {"tab": Choice(tuple(TAB_SLUGS), "maps"), "images": Indices(10_000, 6, ins.COURSE_TRIO)}


def keep_settings() -> None:
    """Give every setting its default once, and keep the values while their tab is closed."""
    for key, value in DEFAULTS.items():
        st.session_state[key] = st.session_state.get(key, value)


def open_link(link: Link) -> None:
    """Open the tab and the test images a link names."""
    st.session_state[INSPECT_TAB] = TAB_SLUGS[link["tab"]]
    if "images" in link.linked:
        st.session_state[INSPECT_SOURCE] = SOURCES[2]
        st.session_state[INSPECT_INDICES] = ", ".join(str(i) for i in link["images"])


PAGE = TabbedPage(LINK, TAB_SLUGS, INSPECT_TAB, INSPECT_MODEL, keep_settings, open_link)


def open_in_why(index: int) -> None:
    """Button callback: explain this test image in the Why tab."""
    st.session_state[INSPECT_INDEX] = index
    st.session_state[INSPECT_TAB] = TAB_SLUGS["why"]


def forget_linked_images() -> None:
    """The link's Fashion-MNIST test image indices do not name a run's own test images: the Feature maps tab shows
    its first images of a class instead (the address bar then drops them)."""
    if st.session_state.get(INSPECT_SOURCE) == SOURCES[2]:
        st.session_state[INSPECT_SOURCE] = SOURCES[1]


# ---------------------------------------------------------------- cached results


@st.cache_resource(show_spinner="Evaluating the model on its test images...", max_entries=4)
def evaluation_for(model_key: str, _model: keras.Model, _images: np.ndarray, _labels: np.ndarray) -> ins.Evaluation:
    """One predict pass per model: predictions, confusion matrix, per-class metrics and the embedding; the pass
    saved beside the shipped model or in a run's folder by its worker when it fits (a class's first visits then
    wait for nothing, and the web process runs no model over the test set)."""
    path = (
        Path(model_key.removeprefix("run:")) / EVALUATION_FILE if model_key.startswith("run:") else ins.EVALUATION_FILE
    )
    saved = ins.read_evaluation(path, ins.weights_key(_model), fingerprint(_images))
    return saved if saved is not None else ins.evaluate(_model, _images, _labels)


def evaluation(subject: Subject) -> ins.Evaluation:
    """The subject's evaluation on its test set (cached per model key)."""
    test = evaluation_set(subject)
    return evaluation_for(subject.key, subject.model, test.images, test.labels)


def activations(model: keras.Model, indices, layers: list[str], test: EvaluationSet | None = None) -> dict:
    """`ins.layer_activations` of these images of `test` (Fashion-MNIST's test set if None), once per model weights
    and images (the tour passes a bare model)."""
    images = (test or fashion_evaluation_set()).images[list(indices)]
    return once(
        fingerprint(*model.get_weights()),
        ("maps", fingerprint(images), *layers),
        functools.partial(ins.layer_activations, model, images, layers),
    )


def explained(subject: Subject, method: str, indices, *args) -> ins.Explanation:
    """`ins.saliency` or `ins.grad_cam` (`method`) of these test images, once per model and arguments."""
    images = evaluation_set(subject).images[list(indices)]
    compute = functools.partial(getattr(ins, method), subject.model, images, *args)
    return once(subject.key, (method, tuple(map(int, indices)), *args), compute)


def filter_count(model: keras.Model, layers: list[str]) -> int:
    """Filters every conv and pooling layer has (the smallest channel count)."""
    return min(model.get_layer(name).output.shape[-1] for name in layers)
