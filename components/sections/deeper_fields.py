"""Deeper, fields tab (scaffold: replaced by its view)."""

from __future__ import annotations

import streamlit as st

from components.sections.inspect import Subject


def fields_tab(subject: Subject) -> None:
    st.write("fields", subject.key)
