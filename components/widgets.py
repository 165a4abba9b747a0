"""The one module of reusable Streamlit widgets shared by the pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from models.card import ModelFileError, read_filter_snapshots, read_model_card
from models.data import Arrays, DataError, load_fashion_mnist

if TYPE_CHECKING:
    import keras


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


@st.cache_resource(show_spinner="Loading Fashion-MNIST...")
def _fashion_mnist() -> Arrays:
    return load_fashion_mnist()


def fashion_mnist() -> Arrays:
    """The real data set, loaded once per server (read-only arrays); stops the page with a clear error."""
    try:
        return _fashion_mnist()
    except DataError as error:
        st.error(str(error))
        st.stop()


@st.cache_resource(show_spinner="Loading the trained model...")
def _shipped_model() -> "keras.Model":
    from models.zoo import load_model_file  # imports TensorFlow: only pages that need the model call this

    return load_model_file()


def shipped_model() -> "keras.Model":
    """The shipped course CNN, loaded once per server with safe_mode; stops the page with a clear error."""
    try:
        return _shipped_model()
    except ModelFileError as error:
        st.error(str(error))
        st.stop()


@st.cache_data(show_spinner=False)
def model_card() -> dict:
    """The shipped model's card (raises ModelFileError)."""
    return read_model_card()


@st.cache_data(show_spinner=False)
def filter_snapshots():
    """The shipped model's first-layer kernels at initialisation and after each epoch (raises ModelFileError)."""
    return read_filter_snapshots()
