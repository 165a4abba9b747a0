"""The class session's plumbing for pages: the shared store, who this browser is in a class, the join link and
its QR code, and the server's lecturer key.

The store is one per process and database (models.serving.classroom.ClassStore); a database that cannot be opened is a
message on the page, tried again on the next run. A lecturer's class is bound to their browser session (its code
and key in session state); a student's membership is stored under a hash of their learner token.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import segno
import streamlit as st

from components.framework.learner import learner_token
from components.framework.session_keys import CLASS_LECTURER, CLASS_MESSAGE
from models.serving.classroom import ClassError, ClassStore, Membership, database_url

LECTURER_KEY_ENV = "CNN_LAB_LECTURER_KEY"
LECTURER_KEY_SECRET = "lecturer_key"
FALLBACK_ORIGIN = "http://localhost:8501"  # outside a browser (tests) there is no page address to build on
PULSE_SECONDS = 1.0  # how stale a student's "has the lecturer moved or revealed?" check may be
QR_SCALE = 10  # pixels per QR module: a join link's code is 33 modules + border, about 370 px


@st.cache_resource(show_spinner=False)
def _store(url: str) -> ClassStore:
    return ClassStore(url)


def class_store(*, quiet: bool = False) -> ClassStore | None:
    """The class database of this server, or None after showing why it cannot be opened (unless `quiet`: the
    tour goes on without classes)."""
    try:
        return _store(database_url())
    except (ClassError, OSError) as error:
        if not quiet:
            st.error(f"Classes are not available right now: {error}", icon=":material/error:")
        return None


@st.cache_data(ttl=PULSE_SECONDS, show_spinner=False, max_entries=1000)
def class_pulse(url: str, code: str, question: str) -> tuple[int, int, bool]:
    """(the lecturer's step, the Filters quiz question put to the class or 0, whether `question` is revealed), read
    at most once per PULSE_SECONDS per class and question by this process: a room of students checking every few
    seconds costs the database one query."""
    return _store(url).pulse(code, question)


def lecturing() -> tuple[str, str] | None:
    """(code, key) of the class this browser session leads, or None."""
    return st.session_state.get(CLASS_LECTURER)


def my_class(store: ClassStore) -> Membership | None:
    """The class this learner has joined (any of their browsers), or None."""
    return store.membership(learner_token())


def required_lecturer_key() -> str:
    """The key this server asks for before a class starts: $CNN_LAB_LECTURER_KEY or the `lecturer_key` secret
    ('' when neither is set: anyone may start a class)."""
    key = os.environ.get(LECTURER_KEY_ENV, "").strip()
    if key:
        return key
    try:
        return str(st.secrets.get(LECTURER_KEY_SECRET, "")).strip()
    except FileNotFoundError:  # no secrets file
        return ""


def join_link(code: str) -> str:
    """The address students open to join: this server's Class page with ?join=CODE."""
    url = st.context.url
    if not url:
        return f"{FALLBACK_ORIGIN}/class?join={code}"
    parts = urlsplit(url)
    base = parts.path.rstrip("/").rsplit("/", 1)[0] if parts.path.rstrip("/").endswith("/class") else ""
    return f"{parts.scheme}://{parts.netloc}{base}/class?join={code}"


def client_address() -> str:
    """This browser's address, for the limit on wrong join codes: the connection's, or behind the lab's own proxy on
    this machine (scripts/serve.py) the address that proxy saw (the last X-Forwarded-For entry); '' when unknown."""
    address = st.context.ip_address
    if isinstance(address, str) and address:  # (a test harness may give a stand-in object)
        return address
    forwarded = st.context.headers.get("X-Forwarded-For", "")
    return forwarded.rsplit(",", 1)[-1].strip()


def local_time(stamp: float) -> str:
    """A moment as the clock time in the browser's time zone ('14:30'), in UTC when the browser does not say."""
    try:
        zone = ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(stamp, zone).strftime("%H:%M")


def qr_png(link: str) -> bytes:
    """The link as a QR code (PNG, dark on white, error correction M)."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=QR_SCALE, border=3)
    return out.getvalue()


def act(place: str, action: Callable[[ClassStore], str | None]) -> None:
    """A class button's on_click: run `action` on the store; its outcome (the text it returns, or the ClassError
    it raises) is shown at `place` on this run (show_outcome)."""
    try:
        done = action(_store(database_url()))
    except (ClassError, OSError) as error:
        st.session_state[CLASS_MESSAGE] = (place, "error", str(error))
    else:
        st.session_state[CLASS_MESSAGE] = (place, "success", done) if done else None


def class_button(
    label: str, place: str, action: Callable[[ClassStore], str | None], *, key: str, icon: str, primary: bool = False
) -> None:
    """A class button: pressed, it runs `action` on the store (act), and its outcome shows right under it."""
    st.button(label, key=key, type="primary" if primary else "secondary", icon=icon, on_click=act, args=(place, action))
    show_outcome(place)


def show_outcome(place: str) -> None:
    """The outcome of the last class button pressed at `place`, once."""
    outcome = st.session_state.get(CLASS_MESSAGE)
    if not outcome or outcome[0] != place:
        return
    del st.session_state[CLASS_MESSAGE]
    if outcome[1] == "success":
        st.success(outcome[2], icon=":material/check_circle:")
    else:
        st.error(outcome[2], icon=":material/error:")
