"""Waits that say what they wait for: TensorFlow's first import (3 s or more, once per server) named on the page."""

from __future__ import annotations

import sys

import streamlit as st

TENSORFLOW_WAIT = "Loading TensorFlow for the model (once per server, about 3 s)..."
TENSORFLOW_PAGES = frozenset(
    {"inspect", "predict", "deeper"}
)  # url paths of the pages whose sections import TensorFlow


def load_tensorflow() -> None:
    """Import Keras and TensorFlow with a notice naming the wait; nothing once they are loaded.

    Call it before importing a section that imports TensorFlow: that import would otherwise hold the page blank
    (or showing the previous step). The notice is drawn at once: `st.spinner` would appear only after 0.5 s.
    """
    if "keras" in sys.modules:
        return
    notice = st.empty()
    notice.info(TENSORFLOW_WAIT, icon=":material/hourglass_top:")
    import keras  # noqa: F401

    notice.empty()
