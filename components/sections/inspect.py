"""What the Inspect page's tabs share: the link, the settings kept while a tab is closed, the model being inspected
and the results cached for it.

Results are kept per model key (the shipped file and its time, or a saved run's folder) or per fingerprint of the
weights, never per id(model), which a later model can reuse; they are shared read-only by every session.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from components.memo import once
from components.query_state import Choice, Indices, Link
from components.resources import fashion_mnist, model_card, shipped_model
from components.sections.model_upload import upload_label
from components.session_keys import (
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
from components.training_jobs import learner_runs
from models import inspection as ins
from models.card import SHIPPED_MODEL, ModelFileError
from models.data import CLASS_NAMES
from models.images import fingerprint

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
TABS = list(TAB_SLUGS.values())
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


def open_in_why(index: int) -> None:
    """Button callback: explain this test image in the Why tab."""
    st.session_state[INSPECT_INDEX] = index
    st.session_state[INSPECT_TAB] = TAB_SLUGS["why"]


def class_name(index: int) -> str:
    return CLASS_NAMES[index]


# ---------------------------------------------------------------- model choice and cached results


@dataclass(frozen=True, eq=False)
class Subject:
    """The model being inspected, the key its cached results are stored under, and the names of its classes."""

    key: str
    model: keras.Model
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def fashion(self) -> bool:
        """Whether it classifies Fashion-MNIST's 10 classes, so the test set's labels are its answers."""
        return self.class_names == CLASS_NAMES


UPLOAD_HINT = "Runs you train on the Training page and models you upload ([Inspect](inspect), *Use your own model*)"
UPLOAD_HINT_HERE = "Runs you train on the Training page and models you upload (*Use your own model*, above)"


def fashion_only(subject: Subject, view: str) -> bool:
    """True for a Fashion-MNIST classifier; otherwise a plain message that `view` needs one, and False."""
    if subject.fashion:
        return True
    st.info(
        f"{view} needs a classifier of Fashion-MNIST's 10 classes, as it compares the answers with the test "
        f"images' labels; this model predicts {len(subject.class_names)} classes "
        f"({', '.join(subject.class_names[:4])}{', ...' if len(subject.class_names) > 4 else ''}).",
        icon=":material/info:",
    )
    return False


def choose_model(key: str = INSPECT_MODEL) -> Subject:
    """The shipped model or a Training-page run, with its cache key; `key` is the page's model-choice widget."""
    runs = learner_runs()
    try:
        shipped_label = f"Shipped course CNN ({model_card()['test_accuracy']:.2%} test accuracy)"
    except ModelFileError:
        shipped_label = "Shipped course CNN"
    labels = [shipped_label]
    for run in runs:
        accuracy = f", {run.test_accuracy:.2%} test accuracy" if run.test_accuracy is not None else ""
        labels.append(upload_label(run) if run.uploaded else f"Training run: {run.name}{accuracy}")
    if st.session_state.get(key, 0) >= len(labels):
        st.session_state[key] = 0
    if len(labels) == 1:
        hint = UPLOAD_HINT_HERE if key == INSPECT_MODEL else UPLOAD_HINT
        st.caption(f"Model: {shipped_label}. {hint} appear here too.")
        choice = 0
    else:
        choice = st.selectbox("Model", range(len(labels)), format_func=labels.__getitem__, key=key)
        if key != INSPECT_MODEL:
            st.caption(f"{UPLOAD_HINT} are listed here.")
    if choice == 0:
        return Subject(shipped_key(), shipped_model())
    run = runs[choice - 1]
    return Subject(f"run:{run.folder}", run.model, run.class_names)


def shipped_key() -> str:
    """The shipped model's cache key: its file and the file's modification time."""
    return f"shipped:{SHIPPED_MODEL}:{SHIPPED_MODEL.stat().st_mtime_ns}"


@st.cache_resource(show_spinner="Evaluating the model on the 10,000 test images...", max_entries=4)
def evaluation_for(model_key: str, _model: keras.Model, _images: np.ndarray, _labels: np.ndarray) -> ins.Evaluation:
    """One predict pass per model: predictions, confusion matrix, per-class metrics and the embedding."""
    return ins.evaluate(_model, _images, _labels)


def evaluation(subject: Subject) -> ins.Evaluation:
    """The subject's evaluation on the 10,000 test images (cached per model key)."""
    (_, _), (x_test, y_test) = fashion_mnist()
    return evaluation_for(subject.key, subject.model, x_test, y_test)


def activations(model: keras.Model, indices, layers: list[str]) -> dict:
    """`ins.layer_activations` of these test images, once per model weights (the tour passes a bare model)."""
    (_, _), (x_test, _) = fashion_mnist()
    return once(
        fingerprint(*model.get_weights()),
        ("maps", tuple(map(int, indices)), *layers),
        functools.partial(ins.layer_activations, model, x_test[indices], layers),
    )


def explained(subject: Subject, method: str, indices, *args) -> ins.Explanation:
    """`ins.saliency` or `ins.grad_cam` (`method`) of these test images, once per model and arguments."""
    (_, _), (x_test, _) = fashion_mnist()
    compute = functools.partial(getattr(ins, method), subject.model, x_test[list(indices)], *args)
    return once(subject.key, (method, tuple(map(int, indices)), *args), compute)


def filter_count(model: keras.Model, layers: list[str]) -> int:
    """Filters every conv and pooling layer has (the smallest channel count)."""
    return min(model.get_layer(name).output.shape[-1] for name in layers)
