"""The tour's "Predict first" questions as class polls, and "follow me": the parts the tour and the Class page share.

In a class, a student's tour question becomes an answer box (checked like the tour's answers, changeable until the
reveal) and their tour follows the lecturer's step; the lecturer's tour stores its step for the class and shows the
room's answers live with a Reveal button. Outside a class the tour is unchanged. (The Filters quiz as a class poll
is components.sections.class_quiz.)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import streamlit as st

from components.classroom import class_button, class_pulse, class_store, lecturing, my_class
from components.framework.learner import learner_token
from components.framework.session_keys import (
    CLASS_BACK,
    CLASS_FOLLOWED,
    CLASS_REVEAL,
    TOUR_STEP,
    class_answer,
    class_revealed,
    class_send,
)
from components.teaching.polls import AnswerError, answer_text, expected_answers, is_right, read_answer
from components.teaching.tour import Step
from models.serving.classroom import ClassError, ClassStore, Tally

LIVE_SECONDS = 2.0  # the projector's counts refresh this often
# A student's "has the lecturer moved or revealed?" check: every student's page reruns a fragment this often, so a
# room of 100 costs the server 100 / WATCH_SECONDS fragment runs a second (benchmarks/class_poll.py measures it).
WATCH_SECONDS = 5.0
SHOWN_ANSWERS = 6  # the most common answers drawn as bars; the rest are counted together


def follow_lecturer() -> None:
    """Before the tour reads its step: a student's tour moves to the lecturer's step when the lecturer moved."""
    store = class_store(quiet=True)
    if store is None or lecturing():
        return
    try:
        membership = my_class(store)
        step = store.info(membership.code).step if membership else None
    except ClassError:
        return  # the tour goes on alone; class_question says what is wrong
    if step is not None and st.session_state.get(CLASS_FOLLOWED) != step:
        st.session_state[CLASS_FOLLOWED] = st.session_state[TOUR_STEP] = step


def class_question_section(step: Step, index: int) -> bool:
    """The step's question as a poll when this browser is in a class (True), else nothing (False)."""
    store = class_store(quiet=True)
    if store is None:
        return False
    try:
        lecturer = lecturing()
        if lecturer:
            code, key = lecturer
            info = store.info(code)
            if info.open and info.step != index:
                store.set_step(code, key, index)  # the lecturer's tour leads: joined students follow
            st.markdown(f"**Predict first (class {code}):** {step.question}")
            st.fragment(live_tally_section, run_every=LIVE_SECONDS)(store, code, key, step)
            return True
        membership = my_class(store)
        if membership is None:
            return False
        lecturer_step = store.info(membership.code).step
        if lecturer_step != index:
            st.button(
                f"Back to the lecturer's step ({lecturer_step + 1})",
                icon=":material/my_location:",
                key=CLASS_BACK,
                on_click=_go_to,
                args=(lecturer_step,),
            )
        answer_box_section(store, membership.code, step)
        st.fragment(watch_class_section, run_every=WATCH_SECONDS)(store, membership.code, step.key, lecturer_step, None)
    except ClassError as error:
        st.error(str(error), icon=":material/error:")
        return False
    return True


def class_quiz_note() -> None:
    """On the Filters quiz: a student whose lecturer put a Filters quiz question to their class is shown where."""
    store = class_store(quiet=True)
    if store is None or lecturing():
        return
    try:
        membership = my_class(store)
        number = store.quiz(membership.code) if membership else 0
    except ClassError:
        return  # the quiz goes on alone
    if number:
        st.info(
            f"Your class has a Filters quiz question ({number}): the same for everyone, answered on the Class page.",
            icon=":material/school:",
        )
        st.page_link("pages/class.py", label="Answer it on the Class page", icon=":material/school:")


def _go_to(index: int) -> None:
    st.session_state[TOUR_STEP] = index


def watch_class_section(store: ClassStore, code: str, question: str, lecturer_step: int, quiz: int | None) -> None:
    """A student's check every WATCH_SECONDS: the whole page reruns when the lecturer moved, revealed `question`
    or (unless `quiz` is None: the tour) put another Filters quiz question than `quiz` to the class."""
    try:
        step, put, revealed = class_pulse(store.url, code, question)
    except ClassError:
        return  # tried again in WATCH_SECONDS
    moved = step != lecturer_step or quiz is not None and put != quiz
    if moved or revealed != st.session_state.get(class_revealed(question), False):
        st.session_state[class_revealed(question)] = revealed
        st.rerun(scope="app")


def answer_box_section(store: ClassStore, code: str, step: Step) -> None:
    """A student's answer to the step's question: sent, changed until the reveal, then marked right or wrong."""
    token = learner_token()
    tally = store.tally(code, step.key)
    st.session_state[class_revealed(step.key)] = tally.revealed
    mine = store.my_answer(token, code, step.key)
    st.markdown(f"**Predict first (class {code}):** {step.question}")
    if tally.revealed:
        right = mine is not None and is_right(read_answer(mine), expected_answers()[step.key])
        if mine is None:
            st.info("You did not answer this one.", icon=":material/info:")
        elif right:
            st.success(f"Your answer {mine} is right.", icon=":material/check_circle:")
        else:
            st.warning(f"Your answer was {mine}.", icon=":material/cancel:")
        st.success(step.answer, icon=":material/lightbulb:")
        return
    st.text_input(
        "Your answer",
        placeholder="numbers in the order asked, such as 3x3 or 1,000",
        max_chars=40,
        key=class_answer(step.key),
    )
    class_button(
        "Send my answer", "answer", _send(step.key), key=class_send(step.key), icon=":material/send:", primary=True
    )
    if mine is not None:
        st.caption(f"Your answer: **{mine}**. You can change it until your lecturer reveals the answer.")


def _send(question: str) -> Callable[[ClassStore], str]:
    """The action of a student's Send button: read, check and store their answer to `question`."""

    def send(store: ClassStore) -> str:
        try:
            numbers = read_answer(st.session_state.get(class_answer(question), ""))
        except AnswerError as error:
            raise ClassError(str(error)) from None
        store.answer(learner_token(), question, answer_text(numbers), is_right(numbers, expected_answers()[question]))
        return f"Sent: {answer_text(numbers)}."

    return send


def live_tally_section(store: ClassStore, code: str, key: str, step: Step) -> None:
    """The projector's view of one question: joined, answered, the answers as bars (no names), and Reveal."""
    try:
        tally = store.tally(code, step.key)
        info = store.info(code)
    except ClassError as error:
        st.error(str(error), icon=":material/error:")
        return
    room_counts(tally)
    _answers_section(tally, answer_text(expected_answers()[step.key]))
    if tally.revealed:
        st.success(step.answer, icon=":material/lightbulb:")
    elif info.open:
        reveal_button(code, key, step.key)


def room_counts(tally: Tally) -> None:
    """How many joined and how many of them answered, side by side."""
    joined, answered = st.columns(2)
    joined.metric("Joined", tally.joined)
    answered.metric("Answered", f"{tally.answered} of {tally.joined}")


def reveal_button(code: str, key: str, question: str) -> None:
    """The lecturer's Reveal for one question."""
    reveal = partial(_reveal, code, key, question)
    class_button("Reveal the answer", "reveal", reveal, key=CLASS_REVEAL, icon=":material/visibility:", primary=True)


def _reveal(code: str, key: str, question: str, store: ClassStore) -> None:
    store.reveal(code, key, question)


def _answers_section(tally: Tally, right: str) -> None:
    """The answers given, most common first, as labelled bars; the `right` one marked once revealed."""
    if not tally.answered:
        st.caption("No answers yet.")
        return
    counts = list(tally.counts.items())
    shown, rest = counts[:SHOWN_ANSWERS], sum(n for _, n in counts[SHOWN_ANSWERS:])
    for answer, count in shown + ([("other answers", rest)] if rest else []):
        mark = " (right)" if tally.revealed and answer == right else ""
        st.progress(count / tally.answered, text=f"{answer}{mark}: {count} ({count / tally.answered:.0%})")
    if tally.revealed:
        st.caption(f"{tally.correct} of {tally.answered} right.")
