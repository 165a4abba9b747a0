"""What the Deeper page's tabs share: its link, the test image several tabs look at, and the tab registry.

The model looked into is chosen as on Inspect (`components.model_choice.choose_model`, with this page's key), so
every view works on the shipped model and on any run the learner trained; results are cached per `Subject.key`.
"""

from __future__ import annotations

import streamlit as st

from components.framework.query_state import Choice, Integer, Link
from components.framework.session_keys import (
    DEEPER_CHANNELS_COL,
    DEEPER_CHANNELS_FILTER,
    DEEPER_CHANNELS_LAYER,
    DEEPER_CHANNELS_ROW,
    DEEPER_FEATURES_LAYER,
    DEEPER_FEATURES_UNIT,
    DEEPER_FEATURES_WEIGHTS,
    DEEPER_FIELDS_COL,
    DEEPER_FIELDS_FILTER,
    DEEPER_FIELDS_LAYER,
    DEEPER_FIELDS_ROW,
    DEEPER_FIELDS_UNIT,
    DEEPER_INDEX,
    DEEPER_MODEL,
    DEEPER_TAB,
    FOOLING_BRUSH,
    FOOLING_EPSILON,
    FOOLING_METHOD,
    FOOLING_SOURCE,
)
from components.model_choice import EvaluationSet, clamp_index
from components.tabbed_page import TabbedPage

TAB_SLUGS = {
    "channels": "Channel sum",
    "fields": "Receptive fields",
    "features": "What filters want",
    "fooling": "Fooling it",
    "robustness": "Robustness",
}  # ?tab= -> tab label
DEFAULT_IMAGE = 0  # test image 0, an ankle boot: the first of the course trio
# The tabs' settings, kept while their tab is closed (Streamlit forgets the state of widgets not drawn in a run).
KEPT = (
    DEEPER_CHANNELS_LAYER,
    DEEPER_CHANNELS_FILTER,
    DEEPER_CHANNELS_ROW,
    DEEPER_CHANNELS_COL,
    DEEPER_FIELDS_LAYER,
    DEEPER_FIELDS_ROW,
    DEEPER_FIELDS_COL,
    DEEPER_FIELDS_UNIT,
    DEEPER_FIELDS_FILTER,
    DEEPER_FEATURES_LAYER,
    DEEPER_FEATURES_WEIGHTS,
    DEEPER_FEATURES_UNIT,
    FOOLING_SOURCE,
    FOOLING_METHOD,
    FOOLING_EPSILON,
    FOOLING_BRUSH,
)
LINK = {"tab": Choice(tuple(TAB_SLUGS), "channels"), "image": Integer(0, 9_999, DEFAULT_IMAGE)}


def intro() -> str:
    return (
        "Beyond week 3: what the views of the other pages leave out. How a deeper filter sums over all 64 channels "
        "of the layer before, which input pixels each unit can see, the patterns filters respond to most, and how "
        "little it takes to fool the network."
    )


def open_link(link: Link) -> None:
    """Open the tab and the test image a link names."""
    st.session_state[DEEPER_TAB] = TAB_SLUGS[link["tab"]]
    st.session_state[DEEPER_INDEX] = link["image"]


def keep_settings() -> None:
    """The shared test image, and every setting a tab has had, keep their values while their tab is closed."""
    st.session_state[DEEPER_INDEX] = st.session_state.get(DEEPER_INDEX, DEFAULT_IMAGE)
    for key in KEPT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


IGNORED = "The link's image number (?image=) names a Fashion-MNIST test image, so it does not apply here."
PAGE = TabbedPage(LINK, TAB_SLUGS, DEEPER_TAB, DEEPER_MODEL, keep_settings, open_link, "image", IGNORED)


def choose_test_image(test: EvaluationSet, where=st) -> int:
    """The test image the Channel sum, Receptive fields, Fooling and Robustness tabs share, as a number box over the
    subject's test set (0-9999 for Fashion-MNIST's)."""
    clamp_index(test, DEEPER_INDEX)
    return int(where.number_input(test.index_label(), 0, test.size - 1, step=1, key=DEEPER_INDEX))
