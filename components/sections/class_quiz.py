"""The Filters quiz as a class poll: the lecturer puts a question to the class, everyone in it gets the same one
(a drawn image and a kernel fixed by the class's code and the question's number), answers it live with a letter,
and the projector shows the room's answers without names until the lecturer reveals which output the kernel made.

A guess is checked as the Filters page's quiz checks it (Question.is_right); answers are stored under
'filters-N' and count in the class's CSV like the tour's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from components.classroom import class_button
from components.framework.learner import learner_token
from components.framework.session_keys import CLASS_LECTURER, CLASS_QUIZ_CLOSE, CLASS_QUIZ_PUT, class_answer, class_send
from components.sections.class_poll import LIVE_SECONDS, _answers_section, reveal_button, room_counts
from components.sections.filters_quiz import options_section, question_text, quiz_options
from components.teaching.quiz import ClassQuiz, Question, class_quiz
from models.inputs.samples import load_sample
from models.ops.convolution import kernel_to_text
from models.ops.kernels import KERNELS
from models.serving.classroom import ClassError, ClassStore, quiz_question


@st.cache_data(max_entries=64, show_spinner=False)
def _question(code: str, number: int) -> tuple[ClassQuiz, np.ndarray, Question, dict[str, np.ndarray]]:
    """The class's question `number`: what it is, its image, its options and their outputs (made once per server)."""
    chosen = class_quiz(code, number)
    pixels = load_sample(chosen.image, grayscale=True)
    question, outputs = quiz_options(pixels, chosen.kernel, KERNELS[chosen.kernel].weights, chosen.seed)
    return chosen, pixels, question, outputs


def _question_section(code: str, number: int, *, named: bool) -> Question:
    """The question as everyone in the class sees it: the kernel, its weights, the image and the lettered outputs."""
    chosen, pixels, question, outputs = _question(code, number)
    st.markdown(f"**Filters quiz, question {number} (class {code}):** the kernel **{chosen.kernel}**")
    weights, text = st.columns([2, 3])
    weights.code(kernel_to_text(KERNELS[chosen.kernel].weights), language=None)
    text.markdown(question_text(question))
    options_section(pixels, chosen.image, question, outputs, named=named)
    return question


def right_text(code: str, number: int) -> str:
    chosen, _, question, _ = _question(code, number)
    return f"{question.right_letter} is the output of {chosen.kernel}."


# ---------------------------------------------------------------- the lecturer's side


def quiz_projector(store: ClassStore, code: str, key: str, number: int, is_open: bool) -> None:
    """The projector while a Filters quiz question is the class's poll: the question, the room's answers live,
    Reveal, the next question and the way back to the tour's question."""
    _question_section(code, number, named=False)
    st.fragment(quiz_tally, run_every=LIVE_SECONDS if is_open else None)(store, code, key, number)
    if is_open:
        next_question, back = st.columns(2)
        with next_question:
            class_button("Next Filters question", "quiz", _put_quiz, key=CLASS_QUIZ_PUT, icon=":material/quiz:")
        with back:
            class_button(
                "Back to the tour's question", "quiz-close", _close_quiz, key=CLASS_QUIZ_CLOSE, icon=":material/tour:"
            )


def put_quiz_button() -> None:
    """The lecturer's button that makes a Filters quiz question the class's poll."""
    class_button(
        "Put a Filters quiz question to the class", "quiz", _put_quiz, key=CLASS_QUIZ_PUT, icon=":material/quiz:"
    )


def quiz_tally(store: ClassStore, code: str, key: str, number: int) -> None:
    """Joined, answered, the letters given as bars (no names), and Reveal; once revealed, which output is right."""
    question = quiz_question(number)
    try:
        tally = store.tally(code, question)
        is_open = store.info(code).open
    except ClassError as error:
        st.error(str(error), icon=":material/error:")
        return
    room_counts(tally)
    _answers_section(tally, _question(code, number)[2].right_letter)
    if tally.revealed:
        st.success(right_text(code, number), icon=":material/lightbulb:")
    elif is_open:
        reveal_button(code, key, question)


def _put_quiz(store: ClassStore) -> str:
    code, key = st.session_state[CLASS_LECTURER]
    return f"Filters quiz question {store.put_quiz(code, key)} is the class's question now."


def _close_quiz(store: ClassStore) -> str:
    code, key = st.session_state[CLASS_LECTURER]
    store.close_quiz(code, key)
    return "Back to the tour's question."


# ---------------------------------------------------------------- a student's side


def quiz_answer_box(store: ClassStore, code: str, number: int) -> bool:
    """A student's guess at the class's question: sent, changed until the reveal, then marked right or wrong.
    Returns whether it has been revealed."""
    question_key = quiz_question(number)
    tally = store.tally(code, question_key)
    mine = store.my_answer(learner_token(), code, question_key)
    question = _question_section(code, number, named=tally.revealed)
    if tally.revealed:
        if mine is None:
            st.info("You did not answer this one.", icon=":material/info:")
        elif question.is_right(mine):
            st.success(f"Your answer {mine} is right.", icon=":material/check_circle:")
        else:
            st.warning(f"Your answer was {mine}.", icon=":material/cancel:")
        st.success(right_text(code, number), icon=":material/lightbulb:")
        return True
    st.radio("Your guess", question.letters, index=None, horizontal=True, key=class_answer(question_key))
    send = _send(code, number)
    class_button("Send my answer", "answer", send, key=class_send(question_key), icon=":material/send:", primary=True)
    if mine is not None:
        st.caption(f"Your answer: **{mine}**. You can change it until your lecturer reveals the answer.")
    return False


def _send(code: str, number: int) -> Callable[[ClassStore], str]:
    """The action of a student's Send button: check and store their guess at the class's question `number`."""

    def send(store: ClassStore) -> str:
        question = _question(code, number)[2]
        guess = st.session_state.get(class_answer(quiz_question(number)))
        if guess not in question.letters:
            raise ClassError(f"Pick one of the outputs ({', '.join(question.letters)}) first.")
        store.answer(learner_token(), quiz_question(number), guess, question.is_right(guess))
        return f"Sent: {guess}."

    return send
