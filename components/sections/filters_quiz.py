"""The Filters page's 'Guess first' quiz: which of three outputs does this kernel make?"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from components.charts.alt import strongest_alt
from components.charts.filters import block_mean, display_factor, thumbnail
from components.framework.session_keys import (
    FILTERS_QUIZ_ANSWERED,
    FILTERS_QUIZ_CHECK,
    FILTERS_QUIZ_NEW,
    FILTERS_QUIZ_ROUND,
    filters_quiz_guess_key,
)
from components.image_picker import PickedImage
from components.sections.class_poll import class_quiz_note
from components.sections.filters_kernel import ChosenKernel
from components.teaching.quiz import Question, make_question
from models.ops.convolution import convolve2d
from models.ops.kernels import KERNELS

QUIZ_SIDE = 128


def question_signature(weights: np.ndarray, pixels: np.ndarray, label: str, round_number: int) -> str:
    """Names one question: the kernel, the image and the round; its first hex digits seed the options' order."""
    return hashlib.sha1(
        weights.tobytes() + repr(pixels.shape).encode() + label.encode() + str(round_number).encode()
    ).hexdigest()


def quiz_options(
    pixels: np.ndarray, title: str, weights: np.ndarray, seed: int
) -> tuple[Question, dict[str, np.ndarray]]:
    """The question for a kernel on an image (its options drawn with `seed`) and every option's output."""
    small = block_mean(pixels, display_factor(pixels.shape, QUIZ_SIDE))
    target = convolve2d(small, weights, padding="same")
    candidates = {name: convolve2d(small, kernel.weights, padding="same") for name, kernel in KERNELS.items()}
    return make_question(title, target, candidates, seed=seed), {title: target, **candidates}


def question_text(question: Question) -> str:
    """What the quiz asks, naming the question's letters."""
    return (
        f"This kernel slides over the image. Which of the outputs ({', '.join(question.letters)}) "
        "does it produce? Outputs are rescaled so the smallest value is black and the largest white."
    )


def options_section(
    pixels: np.ndarray, label: str, question: Question, outputs: dict[str, np.ndarray], *, named: bool
) -> None:
    """The image and the question's outputs side by side, lettered (and named once `named`)."""
    columns = st.columns(len(question.options) + 1)
    columns[0].image(thumbnail(pixels), caption="The image", output_format="PNG", alt=f"The image: {label}")
    for column, letter, name in zip(columns[1:], question.letters, question.options):
        caption = f"{letter}: {name}" if named else letter
        column.image(
            thumbnail(outputs[name]),
            caption=caption,
            output_format="PNG",
            alt=strongest_alt(outputs[name], f"Output {caption}"),
        )


def quiz_section(picked: PickedImage, chosen: ChosenKernel) -> bool:
    """'Guess first': pick which of three outputs the kernel makes; True once the guess is checked."""
    st.subheader("Guess first")
    class_quiz_note()
    round_number = st.session_state.setdefault(FILTERS_QUIZ_ROUND, 0)
    signature = question_signature(chosen.weights, picked.pixels, picked.label, round_number)
    question, outputs = quiz_options(picked.pixels, chosen.title, chosen.weights, int(signature[:8], 16))
    answered = st.session_state.get(FILTERS_QUIZ_ANSWERED)
    checked = answered is not None and answered[0] == signature
    st.markdown(question_text(question))
    options_section(picked.pixels, picked.label, question, outputs, named=checked)
    guess = st.radio(
        "Your guess",
        question.letters,
        index=None,
        horizontal=True,
        key=filters_quiz_guess_key(signature),
        disabled=checked,
    )
    left, right = st.columns(2)
    left.button(
        "Check my guess",
        disabled=guess is None or checked,
        key=FILTERS_QUIZ_CHECK,
        type="primary",
        on_click=lambda: st.session_state.update({FILTERS_QUIZ_ANSWERED: (signature, guess)}),
    )
    right.button(
        "New question",
        key=FILTERS_QUIZ_NEW,
        on_click=lambda: st.session_state.update({FILTERS_QUIZ_ROUND: round_number + 1}),
    )
    if not checked or answered is None:
        return False
    correct = question.right_letter
    if question.is_right(answered[1]):
        st.success(f"Right: {correct} is the output of {chosen.title}.")
    else:
        st.error(
            f"Not quite: {answered[1]} came from {question.options[question.letters.index(answered[1])]}; "
            f"this kernel made {correct}."
        )
    return True
