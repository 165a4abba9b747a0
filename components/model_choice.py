"""Which model a page looks into: the shipped CNN, a Training-page run or an uploaded model (`choose_model`), and the
labelled test images it is judged on (`evaluation_set`). Inspect, Deeper and Predict choose their model here; results
are cached per `Subject.key` (the shipped file and its time, or a run's folder), never per id(model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from components.framework.session_keys import INSPECT_MODEL
from components.presentation import presenting
from components.resources import fashion_mnist, model_card, shipped_model
from components.sections.model_upload import upload_label
from components.training_jobs import learner_runs
from models.design.card import SHIPPED_MODEL, ModelFileError
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.own_data import DatasetError, held_out_test, load_dataset

if TYPE_CHECKING:
    import keras


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


def shipped_key() -> str:
    """The shipped model's cache key: its file and the file's modification time."""
    return f"shipped:{SHIPPED_MODEL}:{SHIPPED_MODEL.stat().st_mtime_ns}"


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
