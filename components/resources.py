"""What every session shares, loaded once per server: Fashion-MNIST, the shipped model, its card and filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from models.design.card import DENSE_CARD, ModelFileError, read_filter_snapshots, read_model_card, read_shift_test
from models.explain.learned_filters import FilterLabel, LearnedFilters, label_filters
from models.inputs.fashion_mnist import Arrays, DataError, load_fashion_mnist

if TYPE_CHECKING:
    import keras


@st.cache_resource(show_spinner="Loading Fashion-MNIST...")
def fashion_mnist_arrays() -> Arrays:
    """The real data set, loaded once per server (read-only arrays); raises DataError."""
    return load_fashion_mnist()


def fashion_mnist() -> Arrays:
    """The real data set, loaded once per server (read-only arrays); stops the page with a clear error."""
    try:
        return fashion_mnist_arrays()
    except DataError as error:
        st.error(str(error))
        st.stop()


@st.cache_resource(show_spinner="Loading the trained model...")
def _shipped_model() -> keras.Model:
    from models.networks.zoo import load_model_file  # imports TensorFlow: only pages that need the model call this

    return load_model_file()


def shipped_model() -> keras.Model:
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
def dense_model_card() -> dict:
    """The shipped dense baseline's card, models/fashion_dnn.json (raises ModelFileError)."""
    return read_model_card(DENSE_CARD)


@st.cache_data(show_spinner=False)
def shift_test() -> dict:
    """Both shipped models on the test images moved 0-6 pixels, models/shift_test.json (raises ModelFileError)."""
    return read_shift_test()


@st.cache_data(show_spinner=False)
def filter_snapshots():
    """The shipped model's first-layer kernels at initialisation and after each epoch (raises ModelFileError)."""
    return read_filter_snapshots()


@st.cache_data(show_spinner=False)
def learned_filters() -> tuple[LearnedFilters, list[FilterLabel]]:
    """The shipped model's first-layer filters over training, labelled by their trained pattern (raises
    ModelFileError)."""
    filters = LearnedFilters.from_snapshots(filter_snapshots())
    return filters, label_filters(filters.trained)
