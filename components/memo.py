"""Results computed once per server and shared, read-only, by every session (Streamlit's resource cache)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")


@st.cache_resource(max_entries=128, show_spinner=False)
def once(key: str, question: tuple, _compute: Callable[[], T]) -> T:
    """`_compute()` the first time this key and question are asked, the same object afterwards.

    `key` names what the result is computed from (a model's cache key, an array's fingerprint) and `question`
    everything else it depends on, e.g. ("saliency", test image indices, class). Nothing hashes the inputs
    themselves, so a rerun pays a dictionary lookup. Callers must only read the result: a Plotly figure is fine,
    since st.plotly_chart copies what it sends.
    """
    return _compute()
