"""The start of every lab page: its title and intro, and the guard that runs it through app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager  # internal API, written against Streamlit 1.67.0
from streamlit.runtime.scriptrunner import get_script_run_ctx  # internal API, written against Streamlit 1.67.0

from components.framework.phone import on_phone
from components.framework.session_keys import APP_RAN, COMPACT_TITLE
from components.presentation import presenting


def start_page(title: str, intro: str = "", *, compact: bool = False) -> None:
    """Title and intro of a lab page (the intro is left out in presentation mode); also makes a first visit
    straight to a page URL use app.py. A `compact` title (the tour's, over each step's own heading) is drawn
    small in presentation mode.

    Until app.py has called st.navigation once, Streamlit treats the pages/ folder as old-style
    navigation and runs the page's file alone (no page config, no navigation, file names in the sidebar):
    PagesManager.uses_pages_directory is set when the server starts because pages/ exists, and only
    st.navigation clears it. While the flag is set, or when this session's runs have not been through
    app.py (its session-state mark), the page clears the flag and reruns, so the rerun goes through
    app.py. The flag alone is not enough: when several learners' first visits arrive at once, one of them
    clears it while the others' runs are already under way without app.py (they then drew pages without
    app.py's set-up, and read a pandas another thread was still importing).

    No public setting does this: Streamlit keeps the pages/ flag as "a relic of v1" (runtime/pages_manager.py),
    and its maintainers saw the same direct-URL switch back to v1 with a pages folder beside st.navigation
    (review of streamlit/streamlit#10276). Renaming pages/ would avoid it, but pages/ is this project's
    layout. tests/unit/test_page_guard.py checks the flag is still where this reads it, and the browser test
    `test_first_visit_straight_to_a_page_uses_the_app_navigation` that the guard works.
    """
    context = get_script_run_ctx()
    under_app = context is not None and Path(context.main_script_path).name == "app.py"  # not a page's own test
    if PagesManager.uses_pages_directory or under_app and not st.session_state.get(APP_RAN):
        PagesManager.uses_pages_directory = False
        st.rerun()
    if compact and presenting():
        st.container(key=COMPACT_TITLE).title(title, anchor=False)
    else:
        st.title(title)
    if intro and not presenting():  # on a projector the lecturer says it; the screen keeps the page's content
        with st.expander("About this page") if on_phone() else st.container():  # a phone: the content first
            st.markdown(intro)


def mark_app_run() -> None:
    """app.py's mark that this session's runs go through it (see start_page)."""
    st.session_state[APP_RAN] = True
