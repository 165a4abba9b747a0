"""Phones: Streamlit does not tell the server how wide the browser is, so a phone is told by its user agent.

Browsers on phones put "Mobi" in their User-Agent header (Safari on iPhone, Chrome and Firefox on Android), the
test MDN recommends for mobile devices; tablets and desktop windows do not. Multi-panel charts then draw one panel
a row, so each stays readable at 390 px. A narrow desktop window or 200% zoom keeps the desktop panels.
"""

from __future__ import annotations

import streamlit as st

MOBILE_MARK = "Mobi"


def on_phone() -> bool:
    """Whether this session's browser is a phone (see the module docstring)."""
    return MOBILE_MARK in (st.context.headers.get("User-Agent") or "")
