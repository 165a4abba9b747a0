"""Deeper, fooling tab (scaffold: replaced by its view)."""

from __future__ import annotations

import streamlit as st

from components.sections.inspect import Subject


def fooling_tab(subject: Subject) -> None:
    st.write("fooling", subject.key)
