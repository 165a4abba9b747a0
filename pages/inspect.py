"""Inspect: feature maps, learned filters, test-set evaluation, explanations and embeddings of a trained CNN.

Each tab is a section in components/sections/inspect_*.py; what they share is in components/sections/inspect.py.
"""

import streamlit as st

from components.framework.links import update_query_params
from components.framework.page import start_page
from components.framework.query_state import link_update
from components.model_choice import Subject, evaluation_set
from components.sections.inspect import LINK, PAGE, forget_linked_images
from components.sections.inspect_embedding import embedding_section
from components.sections.inspect_evaluation import evaluation_section
from components.sections.inspect_filters import learned_filters_section
from components.sections.inspect_maps import feature_maps_section
from components.sections.inspect_why import why_section
from components.sections.model_upload import upload_section

OTHER_TABS = {
    "filters": learned_filters_section,
    "evaluation": evaluation_section,
    "why": why_section,
    "embedding": embedding_section,
}


@st.fragment
def tab_section(slug: str, subject: Subject) -> None:
    """One tab's contents: its widgets rerun only this tab, and the address bar follows them."""
    if slug != "maps":
        OTHER_TABS[slug](subject)
        return
    shown = feature_maps_section(subject)
    if not evaluation_set(subject).fashion:  # ?images= names Fashion-MNIST test images, not this run's
        shown = None
    update_query_params(link_update({"tab": slug, "images": None if shown is None else tuple(shown)}, LINK))


start_page(
    "Inspect",
    "What happens inside the trained network: the feature maps its filters produce, the filters themselves, "
    "where it goes wrong on the 10,000 test images, which pixels drive a prediction, and how its last hidden "
    "layer arranges the classes.",
)
link = PAGE.open_link()
upload_section()
subject, test = PAGE.choose(link)
if not test.fashion and "images" in link.linked:
    forget_linked_images()


def show_tab(slug: str) -> None:
    """The open tab; other tabs than Feature maps leave ?images= as it is."""
    tab_section(slug, subject)
    if slug != "maps":
        update_query_params(link_update({"tab": slug}, LINK))


PAGE.show_tabs(show_tab)
