"""The one module of reusable Streamlit widgets shared by the pages."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def start_page(title: str, intro: str = "") -> None:
    """Title and intro of a lab page; also makes a first visit straight to a page URL use app.py.

    Until app.py has called st.navigation once, Streamlit treats the pages/ folder as old-style
    navigation and would run this file alone (no page config, file names in the sidebar).
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.title(title)
    if intro:
        st.markdown(intro)
