"""What the Inspect page's tabs share: the link, the settings kept while a tab is closed, the model being inspected
and the results cached for it.

Results are kept per model key (the shipped file and its time, or a saved run's folder) or per fingerprint of the
weights, never per id(model), which a later model can reuse; they are shared read-only by every session.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from components.memo import once
from components.presentation import presenting
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
from models.design.card import SHIPPED_MODEL, ModelFileError
from models.explain import inspection as ins
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.images import fingerprint
from models.inputs.own_data import DatasetError, held_out_test, load_dataset
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


# ---------------------------------------------------------------- model choice and cached results


@dataclass(frozen=True, eq=False)
class Subject:
    """The model being inspected, the key its cached results are stored under, and the names of its classes."""

    key: str
    model: keras.Model
    class_names: tuple[str, ...] = CLASS_NAMES
    dataset: str = ""  # a run on the learner's own images: its dataset file (models.inputs.own_data.DatasetStore)
    seed: int = 0  # that run's seed, which drew its test split

    @property
    def fashion(self) -> bool:
        """Whether it classifies Fashion-MNIST's 10 classes, so the test set's labels are its answers."""
        return self.class_names == CLASS_NAMES


UPLOAD_HINT = "Runs you train on the Training page and models you upload ([Inspect](inspect), *Use your own model*)"
UPLOAD_HINT_HERE = "Runs you train on the Training page and models you upload (*Use your own model*, above)"


def labelled_only(subject: Subject, view: str) -> bool:
    """True when the subject's test images are labelled with its own classes (a Fashion-MNIST classifier, or a run on
    the learner's own images); otherwise (an uploaded model of other classes) a plain message why `view` needs that."""
    if subject.fashion or subject.dataset:
        return True
    st.info(
        f"{view} needs a classifier of Fashion-MNIST's 10 classes, as it compares the answers with the test "
        f"images' labels; this model predicts {len(subject.class_names)} classes "
        f"({', '.join(subject.class_names[:4])}{', ...' if len(subject.class_names) > 4 else ''}).",
        icon=":material/info:",
    )
    return False


@dataclass(frozen=True, eq=False)
class EvaluationSet:
    """The labelled images a subject is judged on: Fashion-MNIST's 10,000 test images, or for a run on the learner's
    own images its held-out test split. Images uint8 (N, 28, 28) as Fashion-MNIST stores them; arrays read-only."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    fashion: bool  # True: Fashion-MNIST's test set (the ?images= links and the shipped files refer to it)

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def words(self) -> str:
        """'the 10,000 test images' or 'its 12 held-out test images'."""
        return f"the {self.size:,} test images" if self.fashion else f"its {self.size:,} held-out test images"

    def index_label(self, most: int | None = None) -> str:
        """A number box's label: 'Test image index (0-9999)', with 'up to 6' for a list."""
        extra = f", up to {most}" if most else ""
        return f"Test image {'indices' if most else 'index'} (0-{self.size - 1}{extra})"


def evaluation_set(subject: Subject) -> EvaluationSet:
    """The images and labels `subject` is judged on (cached per subject key); DatasetError if a run's dataset file is
    gone."""
    if subject.dataset:
        return _own_evaluation_set(subject.key, subject.dataset, subject.seed)
    (_, _), (x_test, y_test) = fashion_mnist()
    return _fashion_evaluation_set(x_test, y_test)


def fashion_evaluation_set() -> EvaluationSet:
    (_, _), (x_test, y_test) = fashion_mnist()
    return _fashion_evaluation_set(x_test, y_test)


@st.cache_resource(show_spinner=False, max_entries=1)
def _fashion_evaluation_set(_images: np.ndarray, _labels: np.ndarray) -> EvaluationSet:
    return EvaluationSet(_images, _labels, CLASS_NAMES, fashion=True)


@st.cache_resource(show_spinner="Reading the run's own test images...", max_entries=8)
def _own_evaluation_set(model_key: str, path: str, seed: int) -> EvaluationSet:
    """The run's held-out test split, drawn again from its dataset file and seed exactly as its training job did."""
    dataset = load_dataset({"path": path})
    held = held_out_test(dataset.labels, seed)
    images, labels = dataset.images[held], dataset.labels[held]
    images.setflags(write=False)
    labels.setflags(write=False)
    return EvaluationSet(images, labels, dataset.class_names, fashion=False)


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
        if not presenting():  # on a projector the first screen keeps the page's control and result
            st.caption(f"Model: {shipped_label}. {hint} appear here too.")
        choice = 0
    else:
        choice = st.selectbox("Model", range(len(labels)), format_func=labels.__getitem__, key=key)
        if key != INSPECT_MODEL:
            st.caption(f"{UPLOAD_HINT} are listed here.")
    if choice == 0:
        return Subject(shipped_key(), shipped_model())
    run = runs[choice - 1]
    dataset = str(run.config.get("dataset_file") or "")
    return Subject(f"run:{run.folder}", run.model, run.class_names, dataset, int(run.config.get("seed", 0)))


LINKED_IMAGES = "The link's image numbers (?images=) name Fashion-MNIST test images, so they do not apply here."


def own_test_notice(subject: Subject, linked: bool, ignored: str = LINKED_IMAGES) -> EvaluationSet | None:
    """For a run on the learner's own images, say what it is judged on (and, when the link named test images, the
    sentence `ignored`); None, after an error message, when its test images cannot be read."""
    try:
        test = evaluation_set(subject)
    except DatasetError as error:
        st.error(f"{error} Its learned filters can still be looked at on the Filters page.")
        return None
    if not test.fashion:
        st.info(
            f"This run was trained on your own images ({', '.join(test.class_names)}): every tab looks at "
            f"{test.words}, numbered 0-{test.size - 1}." + f" {ignored}" * linked,
            icon=":material/info:",
        )
    return test


def forget_linked_images() -> None:
    """The link's Fashion-MNIST test image indices do not name a run's own test images: the Feature maps tab shows
    its first images of a class instead (the address bar then drops them)."""
    if st.session_state.get(INSPECT_SOURCE) == SOURCES[2]:
        st.session_state[INSPECT_SOURCE] = SOURCES[1]


def shipped_key() -> str:
    """The shipped model's cache key: its file and the file's modification time."""
    return f"shipped:{SHIPPED_MODEL}:{SHIPPED_MODEL.stat().st_mtime_ns}"


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


def clamp_choices(test: EvaluationSet, *keys: str) -> None:
    """Keep the class choices `keys` (session values) within this test set's classes: a run on 3 classes after
    the shipped model's 10."""
    for key in keys:
        if st.session_state.get(key, 0) >= len(test.class_names):
            st.session_state[key] = 0


def clamp_index(test: EvaluationSet, key: str) -> None:
    """Keep the test image index in session state `key` within this test set."""
    if st.session_state.get(key, 0) >= test.size:
        st.session_state[key] = 0


def filter_count(model: keras.Model, layers: list[str]) -> int:
    """Filters every conv and pooling layer has (the smallest channel count)."""
    return min(model.get_layer(name).output.shape[-1] for name in layers)
