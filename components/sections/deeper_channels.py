"""Deeper, channels tab (scaffold: replaced by its view)."""

from __future__ import annotations

import streamlit as st

from components.sections.deeper import choose_test_image
from components.sections.inspect import Subject


def channels_tab(subject: Subject) -> None:
    st.write("channels", subject.key, choose_test_image())
