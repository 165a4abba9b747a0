"""Who the learner is: an unguessable token kept in a browser cookie, so their runs survive a refresh.

The token is made on a learner's first visit and stored in a cookie of this site only: `__Host-cnn_lab_learner`
(Secure) over HTTPS, `cnn_lab_learner` over plain HTTP (a laptop's localhost), for `$CNN_LAB_COOKIE_DAYS` days
(default 120, about a term). "Forget this browser" gives the browser a new token, for shared computers. A later
session of the same browser (refresh, reconnect, server restart) sends the cookie and gets the same token, hence
the same saved runs and running jobs. The token never appears in a link, so sharing a
link never shares runs. Outside a browser (AppTest) the token lives in session state only.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Mapping

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx  # internal API, written against Streamlit 1.67.0

from components.framework.session_keys import LEARNER

COOKIE = "cnn_lab_learner"
SECURE_COOKIE = f"__Host-{COOKIE}"  # HTTPS only: sent back only over HTTPS, to this host, for the whole site
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")
COOKIE_DAYS_ENV = "CNN_LAB_COOKIE_DAYS"
DEFAULT_COOKIE_DAYS = 120  # about a term: the next student on a lab computer next term starts afresh


def cookie_seconds(environ: Mapping[str, str] = os.environ) -> int:
    """How long the browser keeps the learner's cookie: $CNN_LAB_COOKIE_DAYS days (default 120)."""
    text = environ.get(COOKIE_DAYS_ENV, "").strip()
    if not text:
        return DEFAULT_COOKIE_DAYS * 86400
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{COOKIE_DAYS_ENV} must be a whole number of days of at least 1, got {text!r}")
    return int(text) * 86400


class LearnerSessions:
    """Which browser sessions belong to which learner (thread-safe; one per server)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, set[str]] = {}

    def add(self, token: str, session_id: str) -> None:
        with self._lock:
            self._sessions.setdefault(token, set()).add(session_id)

    def connected(self, token: str) -> bool:
        """True while any of the learner's sessions is connected to this server."""
        if not runtime.exists():
            return False
        server = runtime.get_instance()
        with self._lock:
            sessions = set(self._sessions.get(token, ()))
        alive = {s for s in sessions if server.is_active_session(s)}
        with self._lock:
            self._sessions[token] = alive | (self._sessions.get(token, set()) - sessions)
        return bool(alive)


@st.cache_resource
def learner_sessions() -> LearnerSessions:
    return LearnerSessions()


def learner_token() -> str:
    """This learner's token: from session state, else the browser's cookie, else a new one (set as cookie)."""
    token = st.session_state.get(LEARNER)
    if not token:
        cookie = _cookie_token(_browser_cookies() or {})
        token = cookie if TOKEN_PATTERN.fullmatch(cookie) else secrets.token_urlsafe(32)
        st.session_state[LEARNER] = token
    context = get_script_run_ctx()
    if context is not None:
        learner_sessions().add(token, context.session_id)
    return token


def _cookie_token(cookies: Mapping[str, str]) -> str:
    return cookies.get(SECURE_COOKIE) or cookies.get(COOKIE) or ""


def remember_learner() -> None:
    """Write the token into the browser's cookie (every run: a cheap, invisible element); over HTTPS as a
    `__Host-` cookie marked Secure."""
    token = learner_token()
    cookies = _browser_cookies()
    if cookies is not None and _cookie_token(cookies) != token:
        st.html(
            "<script>(() => { const secure = location.protocol === 'https:';"
            f" document.cookie = (secure ? '{SECURE_COOKIE}' : '{COOKIE}') + '={token}; path=/; "
            f"max-age={cookie_seconds()}; SameSite=Strict' + (secure ? '; Secure' : ''); }})();</script>",
            unsafe_allow_javascript=True,
        )


def forget_browser() -> None:
    """Button callback for shared computers: this browser gets a new token, so it no longer shows the runs
    of whoever used it before (they stay on the server until they expire)."""
    st.session_state[LEARNER] = secrets.token_urlsafe(32)


def _browser_cookies() -> dict[str, str] | None:
    """The cookies the browser sent when it connected; None outside a served app (AppTest, bare scripts)."""
    if not runtime.exists():
        return None
    cookies = st.context.cookies
    return cookies.to_dict() if isinstance(cookies, Mapping) else None
