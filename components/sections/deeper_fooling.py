"""Deeper, Fooling it: FGSM and its iterative version on a test image or the learner's drawing, with an epsilon
slider; the original, the perturbation amplified and the adversarial image; the class probabilities before and
after; the smallest epsilon that changes the answer.

The attacks are `models.explain.adversarial`'s. Results and figures are cached per model key, image, method and epsilon
(`attacked`), the smallest-epsilon search per model key, image and method (`flip_for`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components.charts.alt import prediction_alt
from components.charts.fooling import attack_figure, bars_figure, perturbation_caption, perturbation_title
from components.framework.memo import once
from components.framework.session_keys import (
    FOOLING_BRUSH,
    FOOLING_CANVAS,
    FOOLING_EPSILON,
    FOOLING_METHOD,
    FOOLING_SOURCE,
)
from components.image_picker import decode_upload
from components.model_choice import Subject, evaluation_set, labelled_only
from components.presentation import beside, presenting
from components.sections.deeper import choose_test_image
from components.sections.inspect import CHART_CONFIG
from components.sections.predict import drawing
from models.explain import adversarial as adv
from models.inputs.images import ImageError, fingerprint
from models.inputs.preprocess import PreprocessError, preprocess

SOURCES = ("A test image", "Your drawing")
METHOD_LABELS: dict[adv.Method, str] = {
    "fgsm": "FGSM (one step)",
    "iterative": f"Iterative ({adv.DEFAULT_STEPS} steps)",
}
EPSILON_MOST = adv.ITERATIVE_MOST  # the slider's range: 0 to 0.3 in steps of 0.001
EPSILON_STEP = 0.001
DEFAULT_EPSILON = 0.03


@dataclass(frozen=True, eq=False)
class Picture:
    """The image attacked: uint8 (28, 28), the label the attack pushes away from, and whether it is the truth."""

    key: str  # what cached results are stored under
    pixels: np.ndarray
    label: int
    true_class: int | None  # None for a drawing: its label is the network's own answer
    note: str


@dataclass(frozen=True, eq=False)
class Attacked:
    """One attack's result and its figures."""

    adversarial: np.ndarray  # (28, 28) float32 in [0, 1]
    after: np.ndarray  # class probabilities of the adversarial image
    largest_change: float  # max |adversarial - original|
    figure: go.Figure  # original, perturbation, adversarial
    bars: go.Figure  # probabilities after


def intro() -> str:
    return (
        "**FGSM** (fast gradient sign method) moves every pixel by at most **ε**, each in the direction that raises "
        "the network's loss for the right answer (the sign of the loss's gradient). The image looks the same to us, "
        "yet the answer can change. The **iterative** version takes "
        f"{adv.DEFAULT_STEPS} smaller steps of {adv.STEP_SCALE:g}ε/{adv.DEFAULT_STEPS}, finding the direction again "
        "after each, and keeps every pixel within ε of the original: it usually needs a smaller ε."
    )


@st.cache_resource(max_entries=256, show_spinner=False)
def attacked(
    model_key: str,
    image_key: str,
    method: adv.Method,
    epsilon: float,
    label: int,
    true_class: int | None,
    names: tuple[str, ...],
    _model,
    _pixels: np.ndarray,
) -> Attacked:
    """The attack at this epsilon, once per model, image, method and epsilon (shared read-only by all sessions)."""
    adversarial = adv.attack(_model, _pixels, label, epsilon, method)
    after = adv.probabilities(_model, adversarial)[0]
    original = _pixels / np.float32(255.0)
    titles = ("original", perturbation_title(epsilon), "adversarial")
    return Attacked(
        adversarial,
        after,
        float(np.abs(adversarial - original).max()),
        attack_figure(original, adversarial, epsilon, titles),
        bars_figure(after, names, true_class),
    )


@st.cache_resource(
    max_entries=64, show_spinner="Trying every ε on a fine grid for the smallest that changes the answer..."
)
def flip_for(model_key: str, image_key: str, method: adv.Method, label: int, _model, _pixels: np.ndarray) -> adv.Flip:
    """`adv.smallest_flip` with its default grid, once per model, image and method."""
    return adv.smallest_flip(_model, _pixels, label, method)


def drawn_picture(subject: Subject) -> Picture | None:
    """The learner's drawing as a 28x28 network input (the Predict page's canvas and preprocessing), or None."""
    data = drawing(FOOLING_BRUSH, FOOLING_CANVAS)
    if data is None:
        return None
    try:
        pixels = preprocess(decode_upload(data, False)[0]).pixels
    except (ImageError, PreprocessError) as error:
        st.error(str(error))
        return None
    key = fingerprint(pixels)
    clean = once(subject.key, ("fooling-clean", key), functools.partial(adv.probabilities, subject.model, pixels))
    label = int(clean[0].argmax())
    note = (
        f"Your drawing, preprocessed as on the Predict page. It has no true class, so the attack pushes away from "
        f"the network's own answer, **{subject.class_names[label]}**."
    )
    return Picture(key, pixels, label, None, note)


def chosen_test_image(subject: Subject, where) -> Picture:
    test = evaluation_set(subject)
    index = choose_test_image(test, where)
    label = int(test.labels[index])
    return Picture(
        f"test:{index}",
        test.images[index],
        label,
        label,
        f"Test image #{index}, true class **{test.class_names[label]}**.",
    )


def set_epsilon(value: float) -> None:
    st.session_state[FOOLING_EPSILON] = value


def flip_text(flip: adv.Flip, method: adv.Method, names: tuple[str, ...]) -> str:
    name = METHOD_LABELS[method].split(" (")[0]
    grid = f"{name}, ε tried in steps of {flip.resolution:g} up to {flip.most:g}"
    if flip.epsilon is None or flip.becomes is None or flip.confidence is None:
        return (
            f"**Smallest ε that changes the answer** ({grid}): none; it says **{names[flip.original]}** at every one."
        )
    return (
        f"**Smallest ε that changes the answer** ({grid}): **{flip.epsilon:.3f}**, then "
        f"**{names[flip.becomes]}** ({flip.confidence:.1%}) instead of **{names[flip.original]}**; "
        f"at {flip.below:.3f} still {names[flip.original]}."
    )


def fooling_section(subject: Subject) -> None:
    st.markdown(intro())
    if not labelled_only(subject, "The Fooling tab"):
        return
    try:
        adv.check_model(subject.model)
    except adv.AttackError as error:
        st.error(str(error))
        return
    controls, results = beside(2, 3)
    picked, settings = (controls, controls) if presenting() else controls.columns(2)
    with picked:
        source = st.radio("Image", SOURCES, horizontal=True, key=FOOLING_SOURCE)
        picture = chosen_test_image(subject, st) if source == SOURCES[0] else drawn_picture(subject)
    with settings:
        method, epsilon = _attack_settings()
    if picture is None:
        return
    try:
        before, result, flip = _attack(subject, picture, method, epsilon)
    except adv.AttackError as error:
        st.error(str(error))
        return
    names = subject.class_names
    original, now = int(before.argmax()), int(result.after.argmax())
    with settings:
        changed = f"changes to {names[now]}" if now != original else f"stays {names[now]}"
        st.markdown(f"At ε = {epsilon:.3f} the answer **{changed}**.")
        st.markdown(flip_text(flip, method, names))
        if flip.epsilon is not None and flip.epsilon <= EPSILON_MOST:
            st.button(f"Set ε to {flip.epsilon:.3f}", on_click=set_epsilon, args=(flip.epsilon,))
    with picked:
        st.markdown(picture.note)
        if picture.true_class is not None and original != picture.true_class:
            st.info(
                f"The network already gets this image wrong: it says {names[original]}. The attack still pushes "
                f"away from {names[picture.true_class]}; the smallest ε is where it changes its wrong answer."
            )
    with results:
        _before_and_after(subject, picture, epsilon, before, result)


def _attack_settings() -> tuple[adv.Method, float]:
    """The attack and its ε, as the learner set them."""
    method = st.radio(
        "Attack", list(METHOD_LABELS), format_func=METHOD_LABELS.__getitem__, horizontal=True, key=FOOLING_METHOD
    )
    epsilon = st.slider(
        "ε: the most any pixel may move (pixels run from 0 to 1)",
        0.0,
        EPSILON_MOST,
        DEFAULT_EPSILON,
        EPSILON_STEP,
        format="%.3f",
        key=FOOLING_EPSILON,
    )
    return method, epsilon


def _attack(subject: Subject, picture: Picture, method: adv.Method, epsilon: float):
    """(probabilities before, the attack at `epsilon`, the smallest ε that flips the answer), each once per model
    and picture; AttackError when the model cannot be attacked."""
    model = subject.model
    before = once(
        subject.key, ("fooling-clean", picture.key), functools.partial(adv.probabilities, model, picture.pixels)
    )[0]
    result = attacked(
        subject.key,
        picture.key,
        method,
        float(epsilon),
        picture.label,
        picture.true_class,
        subject.class_names,
        model,
        picture.pixels,
    )
    flip = flip_for(subject.key, picture.key, method, picture.label, model, picture.pixels)
    return before, result, flip


def _before_and_after(subject: Subject, picture: Picture, epsilon: float, before, result) -> None:
    """The attack's picture row, then the probabilities before and after it side by side."""
    names = subject.class_names
    original, now = int(before.argmax()), int(result.after.argmax())
    st.plotly_chart(
        result.figure,
        config=CHART_CONFIG,
        alt=f"The image, the perturbation at ε = {epsilon:.3f} amplified, and the attacked image, now {names[now]}.",
    )
    st.caption(perturbation_caption(epsilon, result.largest_change))
    first, second = st.columns(2)
    first.markdown(f"**Before**: {names[original]} {before[original]:.1%}")
    first.plotly_chart(
        once(
            subject.key,
            ("fooling-bars", picture.key),
            functools.partial(bars_figure, before, names, picture.true_class),
        ),
        config=CHART_CONFIG,
        alt="Before the attack. " + prediction_alt(before, names),
    )
    second.markdown(f"**After**: {names[now]} {result.after[now]:.1%}")
    second.plotly_chart(
        result.bars, config=CHART_CONFIG, alt="After the attack. " + prediction_alt(result.after, names)
    )
