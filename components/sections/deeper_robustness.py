"""Deeper, Robustness: accuracy on 1,000 test images under noise, shift, rotation and occlusion, for the chosen
model beside the shipped CNN and dense baseline; a test image at every level; the shift curve tied to pooling.

The shipped models' curves come from models/robustness.json when its SHA-256s match the model files (no compute);
any other curve (a learner's run, or a shipped model whose file changed) is computed on request with a progress
bar and kept per model key for every session.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import streamlit as st

from components.catalog import LESSONS
from components.charts import robustness as charts
from components.charts.alt import figure_alt
from components.framework.loading import Stopwatch, measured_text
from components.framework.memo import once
from components.framework.session_keys import DEEPER_ROBUSTNESS_ASKED, DEEPER_ROBUSTNESS_COMPUTE
from components.model_choice import EvaluationSet, Subject, evaluation_set, labelled_only, shipped_key
from components.resources import shift_test, shipped_model
from components.sections.deeper import choose_test_image
from models.design.card import DENSE_MODEL, SHIPPED_MODEL, ModelFileError
from models.explain import robustness as rb
from models.inputs.images import fingerprint

CHART_CONFIG = {"displayModeBar": False}
ROBUSTNESS_KIND = "robustness"  # what the server measures the time of (components.framework.loading.Stopwatch)
PER_CLASS = rb.PER_CLASS  # test images per class the curves use (tests set a smaller budget)
CNN, DENSE, RUN = "Shipped CNN", "Dense baseline (no convolution)", "This run"
WHOLE_SET = 0  # the budget of a run on the learner's own images: every image of its held-out test split
LOOK_FOR = {
    "noise": "random noise of this standard deviation on every pixel; training saw clean images only.",
    "shift": "moved right, left, down and up (averaged), the gap filled with black.",
    "rotation": "turned both ways (averaged); nothing in training was turned.",
    "occlusion": "a grey square at a random place hides part of the garment.",
}


@dataclass(frozen=True)
class Line:
    """One model's curves on the charts: its label, its cache key, how to get the model, and its curves if known."""

    label: str
    key: str
    load: functools.partial
    curves: rb.Curves | None


@st.cache_resource(show_spinner=False)
def _computed() -> dict[tuple[str, int], rb.Curves]:
    """Curves computed on this server, by (model key, images per class or WHOLE_SET); shared read-only by every
    session."""
    return {}


def budget(test: EvaluationSet) -> int:
    return PER_CLASS if test.fashion else WHOLE_SET


def measured_images(test: EvaluationSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images the curves use: PER_CLASS of each class of Fashion-MNIST's test set, or all of a run's own test
    split; (images, labels, their indices in the test set, which seed each image's noise and square)."""
    indices = rb.subset_indices(test.labels, PER_CLASS) if test.fashion else np.arange(test.size)
    return test.images[indices], test.labels[indices], indices


def _read_shipped() -> rb.ShippedCurves | str:
    """models/robustness.json checked against the model files, or the message saying why it cannot be used."""
    try:
        return rb.read_robustness(rb.ROBUSTNESS)
    except ModelFileError as error:
        return str(error)


def shipped_curves() -> rb.ShippedCurves | str:
    """The shipped curves, read again whenever the JSON or a model file changes (their modification times)."""
    stamps = [path.stat().st_mtime_ns if path.exists() else 0 for path in (rb.ROBUSTNESS, SHIPPED_MODEL, DENSE_MODEL)]
    return once(f"{rb.ROBUSTNESS}:{stamps}", ("shipped curves",), _read_shipped)


@st.cache_resource(show_spinner="Loading the dense baseline...")
def _dense_model():
    from models.networks.zoo import load_model_file

    return load_model_file(DENSE_MODEL)


def _model(subject: Subject):
    return subject.model


def images_words(test: EvaluationSet) -> str:
    if test.fashion:
        return f"{10 * PER_CLASS:,} test images ({PER_CLASS} of each class)"
    return f"{test.words} (all of them)"


def robustness_section(subject: Subject) -> None:
    test = evaluation_set(subject)
    st.markdown(
        f"How well does the network cope with images unlike its training images? Each curve is the accuracy on "
        f"{images_words(test)} as they are corrupted more and more; the first point is the clean images. A steep "
        "drop shows what the network relies on."
    )
    if not labelled_only(subject, "The Robustness tab"):
        return
    if not test.fashion:
        st.info(
            f"This run tells apart your own classes ({', '.join(test.class_names)}), so it is measured on its own test "
            "images, alone: the shipped CNN and dense baseline (and models/robustness.json) were measured on "
            "Fashion-MNIST's 10 classes, a different question, so their curves are not drawn beside it.",
            icon=":material/info:",
        )
    lines = chart_lines(subject) if test.fashion else own_lines(subject)
    if not lines:
        return
    missing = [line for line in lines if line.curves is None]
    if missing and not compute(missing, test):
        return
    lines = [
        Line(line.label, line.key, line.load, line.curves or _computed()[(line.key, budget(test))]) for line in lines
    ]
    _curves_section(lines, test)
    _shift_and_pooling_section(lines)


def own_lines(subject: Subject) -> list[Line]:
    """A run on the learner's own images: its own line only."""
    try:
        rb.check_model(subject.model, len(subject.class_names))
    except rb.RobustnessError as error:
        st.warning(str(error))
        return []
    return [Line(RUN, subject.key, functools.partial(_model, subject), _computed().get((subject.key, WHOLE_SET)))]


def chart_lines(subject: Subject) -> list[Line] | None:
    """The chosen model, then the shipped CNN and dense baseline for comparison, with the curves already known."""
    shipped = shipped_curves()
    if isinstance(shipped, str):
        st.info(f"{shipped} Until then this page computes them.")
        fresh: dict[str, rb.Curves] = {}
    else:
        fresh = shipped.fresh if PER_CLASS == rb.PER_CLASS else {}
        for key in shipped.stale:
            st.info(
                f"The shipped curves of {'the CNN' if key == 'cnn' else 'the dense baseline'} were computed from "
                f"another model file, so they are computed here instead. Save them again with: {rb.ROBUSTNESS_COMMAND}"
            )
    cnn_key, dense_key = shipped_key(), f"shipped:{DENSE_MODEL}:{DENSE_MODEL.stat().st_mtime_ns}"
    lines = []
    if subject.key != cnn_key:
        try:
            rb.check_model(subject.model)
        except rb.RobustnessError as error:
            st.warning(f"{error} Showing the shipped models only.")
        else:
            lines.append(Line(RUN, subject.key, functools.partial(_model, subject), known(subject.key)))
    lines.append(Line(CNN, cnn_key, functools.partial(shipped_model), fresh.get("cnn") or known(cnn_key)))
    lines.append(Line(DENSE, dense_key, functools.partial(_dense_model), fresh.get("dense") or known(dense_key)))
    return lines


def known(key: str) -> rb.Curves | None:
    return _computed().get((key, PER_CLASS))


def compute(missing: list[Line], test: EvaluationSet) -> bool:
    """The request to compute what is missing, then the computation with its progress; True once it is done."""
    names = ", ".join(line.label for line in missing)
    passes = rb.image_passes()
    images, labels, indices = measured_images(test)
    box = st.empty()
    with box.container():
        st.markdown(
            f"Not computed yet: **{names}**. Each model sees the {len(labels):,} test images {passes} times "
            "(clean, then every level and direction); a bar counts the levels measured, with the time so far."
            + measured_text(ROBUSTNESS_KIND, " per model")
        )
        st.button("Compute the robustness curves", key=DEEPER_ROBUSTNESS_COMPUTE, type="primary", on_click=ask)
    if not st.session_state.pop(DEEPER_ROBUSTNESS_ASKED, False):
        return False
    bar = box.progress(0.0, text="Starting...")
    watch = Stopwatch(ROBUSTNESS_KIND)
    for n, line in enumerate(missing):

        def report(done: int, total: int, n: int = n, label: str = line.label) -> None:
            bar.progress(
                (n * total + done) / (len(missing) * total),
                text=f"{label}: {done} of {total} levels measured{watch.so_far()}",
            )

        _computed()[(line.key, budget(test))] = rb.robustness_curves(
            line.load(), images, labels, indices, progress=report, classes=len(test.class_names)
        )
    box.empty()
    watch.done(len(missing))
    return True


def ask() -> None:
    """The button's request, kept in session state: a rerun before the tab is drawn must not lose the click."""
    st.session_state[DEEPER_ROBUSTNESS_ASKED] = True


def _curves_section(lines: list[Line], test: EvaluationSet) -> None:
    x_test = test.images
    question = tuple((line.label, line.key) for line in lines) + (budget(test),)
    box, legend = st.columns([1, 3], vertical_alignment="bottom")
    index = choose_test_image(test, box)
    legend.markdown(charts.legend_html([line.label for line in lines]), unsafe_allow_html=True)
    st.caption(f"Under each curve: test image {index} at each level, exactly as the curves corrupted their images.")
    strips = once(
        fingerprint(x_test[index]),
        ("robustness examples", index),
        functools.partial(example_strips, x_test, index),
    )
    cells = [cell for _ in range(2) for cell in st.columns(2, gap="large")]
    for cell, corruption in zip(cells, rb.CORRUPTIONS):
        cell.markdown(f"**{corruption.title}**: {LOOK_FOR[corruption.name]}")
        figure = once(
            lines[0].key,
            ("robustness curve", corruption.name, question),
            functools.partial(
                charts.curve_figure,
                corruption.title,
                corruption.unit,
                corruption.levels,
                [(line.label, line.curves[corruption.name]) for line in lines if line.curves],
            ),
        )
        cell.plotly_chart(
            figure,
            config=CHART_CONFIG,
            key=f"deeper_robustness_{corruption.name}",
            alt=figure_alt(figure, f"Test accuracy under {corruption.title.lower()} ({corruption.unit}) at each level"),
        )
        cell.image(
            strips[corruption.name],
            alt=f"The shared test image under {corruption.title.lower()} at levels "
            + ", ".join(f"{level:g}" for level in corruption.levels),
        )


def example_strips(x_test, index: int) -> dict[str, bytes]:
    corrupted = rb.examples(x_test[index], index)
    return {
        c.name: charts.example_strip(corrupted[c.name], [f"{level:g}" for level in c.levels]) for c in rb.CORRUPTIONS
    }


def _shift_and_pooling_section(lines: list[Line]) -> None:
    """The shift curve in numbers: how much tolerance to a move of 1 and 2 pixels convolution and pooling give."""
    by_label = {line.label: line.curves for line in lines if line.curves}
    levels = list(rb.BY_NAME["shift"].levels)
    one, two = levels.index(1), levels.index(2)

    def drop(curve: list[float], at: int) -> str:
        return f"{curve[at]:.1%} ({100 * (curve[at] - curve[0]):+.1f} points)"

    if CNN not in by_label:  # a run on the learner's own images, drawn alone
        run = by_label[RUN]["shift"]
        st.markdown(
            f"**Shift and pooling.** Moved 1 pixel, this run scores {drop(run, one)}; moved 2 pixels, "
            f"{drop(run, two)}; at {levels[-1]} pixels {run[-1]:.0%}. Its filters find an edge wherever it is, and "
            "max pooling (if the design has it) keeps the strongest response in each window, so a small move "
            f"changes the pooled maps little. With few test images each one is a large step of the curve."
        )
        return
    cnn, dense = by_label[CNN]["shift"], by_label[DENSE]["shift"]

    text = [
        f"**Shift and pooling.** Moved 1 pixel, the shipped CNN scores {drop(cnn, one)} and the dense baseline "
        f"{drop(dense, one)}; moved 2 pixels, {drop(cnn, two)} against {drop(dense, two)}."
    ]
    if RUN in by_label:
        run = by_label[RUN]["shift"]
        text.append(f"This run: {drop(run, one)} at 1 pixel, {drop(run, two)} at 2.")
    keeps_more = all(cnn[i] - cnn[0] > dense[i] - dense[0] for i in (one, two))
    text.append(
        ("So the CNN loses less. " if keeps_more else "")
        + "Its filters find an edge wherever it is, and 2x2 max pooling keeps the strongest response in each "
        "window, so a move of a pixel or two changes the pooled maps little; the dense network has one weight "
        f"per pixel. The tolerance is small: at {levels[-1]} pixels the CNN is down to {cnn[-1]:.0%}."
    )
    st.markdown(" ".join(text))
    try:
        record = shift_test()
        full_cnn, full_dense = record["models"]["cnn"]["mean"], record["models"]["dense"]["mean"]
        st.caption(
            f"On all {record['test_images']:,} test images (the Architecture page's translation test), CNN vs dense: "
            f"1 pixel {full_cnn[1]:.1%} vs {full_dense[1]:.1%}, 2 pixels {full_cnn[2]:.1%} vs {full_dense[2]:.1%}."
        )
    except ModelFileError:
        pass  # the Architecture page says what is wrong with that file
    pooling = next(page for page in LESSONS if page.url_path == "pooling")
    architecture = next(page for page in LESSONS if page.url_path == "architecture")
    left, right = st.columns(2)
    left.page_link(pooling.path, label="Pooling: the shift test on one feature map", icon=pooling.icon)
    right.page_link(architecture.path, label="Architecture: CNN vs dense network", icon=architecture.icon)
