"""Deeper: the views beyond week 3, on the shipped model or any run the learner trained.

Each tab is a section in components/sections/deeper_*.py; what they share is in components/sections/deeper.py.
"""

import streamlit as st

from components.links import read_page_link, update_query_params
from components.page import start_page
from components.query_state import link_update
from components.sections.deeper import LINK, TAB_SLUGS, TABS, intro, keep_settings, open_link
from components.sections.deeper_channels import channels_tab
from components.sections.deeper_features import features_tab
from components.sections.deeper_fields import fields_tab
from components.sections.deeper_fooling import fooling_tab
from components.sections.deeper_robustness import robustness_tab
from components.sections.inspect import Subject, choose_model, evaluation_set, own_test_notice
from components.session_keys import DEEPER_INDEX, DEEPER_MODEL, DEEPER_TAB

VIEWS = {
    "channels": channels_tab,
    "fields": fields_tab,
    "features": features_tab,
    "fooling": fooling_tab,
    "robustness": robustness_tab,
}


@st.fragment
def tab_section(slug: str, subject: Subject) -> None:
    """One tab's contents: its widgets rerun only this tab, and the address bar follows them."""
    keep_settings()  # a rerun of this fragment alone must keep the settings its tab does not draw
    VIEWS[slug](subject)
    image = st.session_state[DEEPER_INDEX] if evaluation_set(subject).fashion else None  # ?image= is Fashion-MNIST's
    update_query_params(link_update({"tab": slug, "image": image}, LINK))


start_page("Deeper", intro())
link = read_page_link(LINK)
keep_settings()
if DEEPER_TAB not in st.session_state:  # the page has just been opened: the link sets the view
    open_link(link)
subject = choose_model(DEEPER_MODEL)
IGNORED = "The link's image number (?image=) names a Fashion-MNIST test image, so it does not apply here."
if own_test_notice(subject, "image" in link.linked, IGNORED) is None:
    st.stop()
tabs = st.tabs(TABS, key=DEEPER_TAB, on_change="rerun")
for slug, tab in zip(TAB_SLUGS, tabs):
    if tab.open:
        with tab:
            tab_section(slug, subject)
