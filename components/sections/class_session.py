"""The Class page: a lecturer starts (or resumes) a class and projects its code, QR code, live answers and
challenge board; a student joins by link or code, answers the current question, shares a run and leaves.

Every button's database call may fail (a wrong code, the database busy): its ClassError is shown where it was
pressed, and nothing is half done (each call is one transaction).
"""

from __future__ import annotations

import hmac

import streamlit as st

from components.classroom import act, class_button, client_address, join_link, local_time, qr_png, required_lecturer_key
from components.framework.learner import learner_token
from components.framework.session_keys import (
    CLASS_CSV,
    CLASS_END,
    CLASS_GOAL,
    CLASS_JOIN,
    CLASS_JOIN_CODE,
    CLASS_LEAVE,
    CLASS_LECTURER,
    CLASS_NICKNAME,
    CLASS_RESUME,
    CLASS_RESUME_CODE,
    CLASS_RESUME_KEY,
    CLASS_SET_GOAL,
    CLASS_SHARE,
    CLASS_SHARE_RUN,
    CLASS_START,
    CLASS_START_GOAL,
    CLASS_START_HOURS,
    CLASS_START_KEY,
)
from components.presentation import presenting
from components.sections.class_poll import (
    LIVE_SECONDS,
    WATCH_SECONDS,
    answer_box_section,
    live_tally_section,
    watch_class_section,
)
from components.sections.class_quiz import put_quiz_button, quiz_answer_box, quiz_projector
from components.teaching.tour import steps
from models.serving.classroom import (
    CLASS_HOURS,
    MAX_CLASS_HOURS,
    ClassError,
    ClassStore,
    Membership,
    SharedRun,
    class_hours,
    quiz_question,
    random_nickname,
)

GOAL_EXAMPLE = "Best test accuracy under 50,000 parameters"


def join_section(link_code: str) -> None:
    """A student's way in: the code (from ?join= or typed) and a nickname (a random one offered)."""
    st.header("Join a class")
    if CLASS_NICKNAME not in st.session_state:
        st.session_state[CLASS_NICKNAME] = random_nickname()
    if link_code and CLASS_JOIN_CODE not in st.session_state:
        st.session_state[CLASS_JOIN_CODE] = link_code
    st.text_input("Class code (on the projector)", key=CLASS_JOIN_CODE, max_chars=12, placeholder="for example K7QX2M")
    st.text_input(
        "Nickname (shown on the class board if you share a run; answers stay anonymous)",
        key=CLASS_NICKNAME,
        max_chars=200,
    )
    class_button("Join", "join", _join, key=CLASS_JOIN, icon=":material/login:", primary=True)


def _join(store: ClassStore) -> str:
    state = st.session_state
    membership = store.join(state[CLASS_JOIN_CODE], learner_token(), state[CLASS_NICKNAME], client=client_address())
    return f"You joined class {membership.code} as {membership.nickname}."


def start_section() -> None:
    """A lecturer's way in: start a new class, or resume one with its code and key."""
    with st.expander("For the lecturer: start or resume a class", expanded=not presenting()):
        if required_lecturer_key():
            st.text_input("This server's lecturer key", key=CLASS_START_KEY, type="password")
        st.text_input("Class challenge (optional)", key=CLASS_START_GOAL, placeholder=GOAL_EXAMPLE, max_chars=200)
        hours_input()
        class_button("Start a class", "start", _start, key=CLASS_START, icon=":material/school:", primary=True)
        st.caption("Closed the browser mid-class? Resume it here with its code and key.")
        st.text_input("Class code", key=CLASS_RESUME_CODE, max_chars=12)
        st.text_input("Lecturer key of that class", key=CLASS_RESUME_KEY, type="password", max_chars=40)
        class_button("Resume", "resume", _resume, key=CLASS_RESUME, icon=":material/restore:")


def hours_input() -> None:
    """The class's length, 1 to 12 hours, starting at this server's $CNN_LAB_CLASS_HOURS (a bad value: its message,
    and CLASS_HOURS)."""
    try:
        default = class_hours()
    except ValueError as error:
        st.error(f"{error}. Classes last {CLASS_HOURS} h unless you choose below.", icon=":material/error:")
        default = CLASS_HOURS
    st.number_input(
        "Class length (hours)",
        min_value=1,
        max_value=MAX_CLASS_HOURS,
        value=default,
        step=1,
        key=CLASS_START_HOURS,
        help=f"Students can join until then (1 to {MAX_CLASS_HOURS} h); you can end the class sooner.",
    )


def _start(store: ClassStore) -> None:
    needed = required_lecturer_key()
    given = st.session_state.get(CLASS_START_KEY, "").strip()
    if needed and not hmac.compare_digest(given.encode(), needed.encode()):  # bytes: any characters compare
        raise ClassError("That is not this server's lecturer key: ask whoever runs the server.")
    hours = st.session_state.get(CLASS_START_HOURS, CLASS_HOURS)
    code, key = store.start(goal=st.session_state.get(CLASS_START_GOAL, ""), hours=hours)
    st.session_state[CLASS_LECTURER] = (code, key)


def _resume(store: ClassStore) -> None:
    key = st.session_state.get(CLASS_RESUME_KEY, "").strip()
    info = store.resume(st.session_state.get(CLASS_RESUME_CODE, ""), key)
    st.session_state[CLASS_LECTURER] = (info.code, key)


def projector_section(store: ClassStore, code: str, key: str) -> None:
    """The lecturer's screen: how to join (code, link, QR), the current question live, the board, the controls."""
    info = store.info(code)
    link = join_link(code)
    how, live = st.columns([2, 3], gap="large")
    with how:
        st.markdown(f"## Join: **{code}**")
        st.image(
            qr_png(link),
            width=360,
            alt=f"QR code of the join link {link}: scan it with a phone camera to join class {code}.",
        )
        st.markdown(f"Or open **{link.split('://', 1)[-1]}**")
        if info.open:
            st.caption(f"The class ends at {local_time(info.expires)} (or when you end it).")
    with live:
        if not info.open:
            st.warning("This class has ended: its answers and board are frozen.", icon=":material/lock:")
        number = store.quiz(code)
        if number:
            quiz_projector(store, code, key, number, info.open)
        else:
            tour_poll(store, code, key, info.step, info.open)
    st.fragment(_board_section, run_every=LIVE_SECONDS * 2.5 if info.open else None)(store, code)
    _lecturer_controls_section(store, code, key, info.open, info.goal)


def tour_poll(store: ClassStore, code: str, key: str, step: int, is_open: bool) -> None:
    """The projector while the tour's question is the class's poll: the step's question and the room's answers."""
    tour = steps()
    index = min(max(step, 0), len(tour) - 1)
    st.markdown(f"**Tour step {index + 1} of {len(tour)}: {tour[index].title}**")
    st.markdown(tour[index].question)
    st.fragment(live_tally_section, run_every=LIVE_SECONDS if is_open else None)(store, code, key, tour[index])
    st.page_link("pages/tour.py", label="Go to the tour (the class follows your step)", icon=":material/tour:")
    if is_open:
        put_quiz_button()


def _lecturer_controls_section(store: ClassStore, code: str, key: str, is_open: bool, goal: str) -> None:
    """The challenge goal, End, the CSV download, the lecturer's key and leaving this view."""
    with st.expander("Lecturer controls (open them off the projector: they show your key)"):
        st.warning(
            f"Your lecturer key is below. Note it: with the code {code} it resumes this class from another "
            "browser (a refresh or a closed tab starts a new session). The server keeps only its hash.",
            icon=":material/key:",
        )
        st.code(key, language=None)  # verbatim: Markdown would eat a key's underscores
        if is_open:
            if CLASS_GOAL not in st.session_state:
                st.session_state[CLASS_GOAL] = goal
            st.text_input("Class challenge", key=CLASS_GOAL, placeholder=GOAL_EXAMPLE, max_chars=200)
            class_button("Set the challenge", "goal", _set_goal, key=CLASS_SET_GOAL, icon=":material/flag:")
            class_button("End the class", "end", _end, key=CLASS_END, icon=":material/stop_circle:")
        st.download_button(
            "Download answers and board (CSV)",
            store.answers_csv(code, key),
            file_name=f"class-{code}.csv",
            mime="text/csv",
            key=CLASS_CSV,
            icon=":material/download:",
            on_click="ignore",
        )
        st.button(
            "Leave this class view", icon=":material/logout:", on_click=st.session_state.pop, args=(CLASS_LECTURER,)
        )


def _set_goal(store: ClassStore) -> str:
    code, key = st.session_state[CLASS_LECTURER]
    store.set_goal(code, key, st.session_state[CLASS_GOAL])
    return "Challenge set."


def _end(store: ClassStore) -> str:
    code, key = st.session_state[CLASS_LECTURER]
    store.end(code, key)
    return f"Class {code} ended: its answers and board are frozen."


def _board_section(store: ClassStore, code: str) -> None:
    """The class challenge: its goal and the runs students chose to share, best accuracy first."""
    try:
        goal, runs = store.info(code).goal, store.board(code)
    except ClassError as error:
        st.error(str(error), icon=":material/error:")
        return
    st.subheader(f"Class challenge: {goal}" if goal else "Class board")
    if not runs:
        st.caption("No runs shared yet: a student shares a finished run from this page.")
        return
    st.dataframe(
        [
            {
                "nickname": run.nickname,
                "design": run.design,
                "parameters": run.params,
                "test accuracy": None if run.accuracy is None else round(run.accuracy, 4),
                "seconds": round(run.seconds, 1),
            }
            for run in runs
        ],
        hide_index=True,
        width="stretch",
    )


def student_section(store: ClassStore, membership: Membership) -> None:
    """A joined student: the class's current question, sharing a run, the board, leaving."""
    info = store.info(membership.code)
    st.markdown(f"You are in class **{membership.code}** as **{membership.nickname}**.")
    if not info.open:
        st.warning("This class has ended: its answers and board are frozen.", icon=":material/lock:")
    tour = steps()
    index = min(max(info.step, 0), len(tour) - 1)
    number = store.quiz(membership.code)
    if number:
        quiz_answer_box(store, membership.code, number)
        question = quiz_question(number)
    else:
        st.subheader(f"Step {index + 1}: {tour[index].title}")
        answer_box_section(store, membership.code, tour[index])
        question = tour[index].key
    if info.open:
        st.fragment(watch_class_section, run_every=WATCH_SECONDS)(store, membership.code, question, index, number)
    st.page_link("pages/tour.py", label="Follow the lecturer in the tour", icon=":material/tour:")
    if info.open:
        _share_section()
    _board_section(store, membership.code)
    st.button("Leave the class", key=CLASS_LEAVE, icon=":material/logout:", on_click=act, args=("join", _leave))


def _leave(store: ClassStore) -> str:
    store.leave(learner_token())
    return "You left the class."


def _share_section() -> None:
    """Share one of this learner's finished runs (its summary only) to the class board."""
    from components.training_jobs import trained_runs

    runs = {run.run_id: run for run in reversed(trained_runs()) if run.test_accuracy is not None}
    if not runs:
        st.caption("Finish a training run (Training page) to share it on the class board.")
        return
    st.selectbox(
        "Share a finished run to the board", list(runs), format_func=lambda i: runs[i].name, key=CLASS_SHARE_RUN
    )
    class_button("Share", "share", _share, key=CLASS_SHARE, icon=":material/share:")


def _share(store: ClassStore) -> str:
    from components.training_jobs import trained_runs

    run = next((r for r in trained_runs() if r.run_id == st.session_state.get(CLASS_SHARE_RUN)), None)
    if run is None or run.test_accuracy is None:
        raise ClassError("That run is no longer saved: pick another.")
    summary = SharedRun("", run.name, int(run.config.get("parameters") or 0), run.test_accuracy, run.seconds)
    store.share(learner_token(), run.run_id, summary)
    return "Shared: your run's summary is on the class board."
