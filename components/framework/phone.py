"""Phones: Streamlit does not tell the server how wide the browser is, so a phone is told by its user agent.

Browsers on phones put "Mobi" in their User-Agent header (Safari on iPhone, Chrome and Firefox on Android), the
test MDN recommends for mobile devices; tablets and desktop windows do not. Multi-panel charts then draw one panel
a row, so each stays readable at 390 px. A narrow desktop window or 200% zoom keeps the desktop panels, in boxes
that scroll sideways (components.presentation).
"""

from __future__ import annotations

import streamlit as st

MOBILE_MARK = "Mobi"
PHONE_GRID_COLUMNS = 2


def on_phone() -> bool:
    """Whether this session's browser is a phone (see the module docstring)."""
    return MOBILE_MARK in (st.context.headers.get("User-Agent") or "")


def grid_per_row() -> int | None:
    """Image-grid panels a row: two on a phone (about 165 px each at 390 px), else the grid's own layout."""
    return PHONE_GRID_COLUMNS if on_phone() else None
