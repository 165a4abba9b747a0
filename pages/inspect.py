"""Inspect: feature maps, learned filters, test-set evaluation, explanations and embeddings of a trained CNN.

Each tab is a section in components/sections/inspect_*.py; what they share is in components/sections/inspect.py.
"""

import streamlit as st

from components.links import read_page_link, update_query_params
from components.page import start_page
from components.query_state import link_update
from components.sections.inspect import (
    LINK,
    TAB_SLUGS,
    TABS,
    Subject,
    choose_model,
    evaluation_set,
    forget_linked_images,
    keep_settings,
    open_link,
    own_test_notice,
)
from components.sections.inspect_embedding import embedding_tab
from components.sections.inspect_evaluation import evaluation_tab
from components.sections.inspect_filters import learned_filters_tab
from components.sections.inspect_maps import feature_maps_tab
from components.sections.inspect_why import why_tab
from components.sections.model_upload import upload_section
from components.session_keys import INSPECT_TAB

OTHER_TABS = {"filters": learned_filters_tab, "evaluation": evaluation_tab, "why": why_tab, "embedding": embedding_tab}


@st.fragment
def tab_section(slug: str, subject: Subject) -> None:
    """One tab's contents: its widgets rerun only this tab, and the address bar follows them."""
    if slug != "maps":
        OTHER_TABS[slug](subject)
        return
    shown = feature_maps_tab(subject)
    if not evaluation_set(subject).fashion:  # ?images= names Fashion-MNIST test images, not this run's
        shown = None
    update_query_params(link_update({"tab": slug, "images": None if shown is None else tuple(shown)}, LINK))


start_page(
    "Inspect",
    "What happens inside the trained network: the feature maps its filters produce, the filters themselves, "
    "where it goes wrong on the 10,000 test images, which pixels drive a prediction, and how its last hidden "
    "layer arranges the classes.",
)
link = read_page_link(LINK)
keep_settings()
if INSPECT_TAB not in st.session_state:  # the page has just been opened: the link sets the view
    open_link(link)
upload_section()
subject = choose_model()
test = own_test_notice(subject, "images" in link.linked)
if test is None:
    st.stop()
if not test.fashion and "images" in link.linked:
    forget_linked_images()
tabs = st.tabs(TABS, key=INSPECT_TAB, on_change="rerun")
for slug, tab in zip(TAB_SLUGS, tabs):
    if tab.open:
        with tab:
            tab_section(slug, subject)
        if slug != "maps":  # other tabs leave ?images= as it is
            update_query_params(link_update({"tab": slug}, LINK))
