"""Deeper: the views beyond week 3, on the shipped model or any run the learner trained.

Each tab is a section in components/sections/deeper_*.py; what they share is in components/sections/deeper.py.
"""

import streamlit as st

from components.framework.links import update_query_params
from components.framework.page import start_page
from components.framework.query_state import link_update
from components.framework.session_keys import DEEPER_INDEX
from components.model_choice import Subject, evaluation_set
from components.sections.deeper import LINK, PAGE, intro, keep_settings
from components.sections.deeper_channels import channels_section
from components.sections.deeper_features import features_section
from components.sections.deeper_fields import fields_section
from components.sections.deeper_fooling import fooling_section
from components.sections.deeper_robustness import robustness_section

VIEWS = {
    "channels": channels_section,
    "fields": fields_section,
    "features": features_section,
    "fooling": fooling_section,
    "robustness": robustness_section,
}


@st.fragment
def tab_section(slug: str, subject: Subject) -> None:
    """One tab's contents: its widgets rerun only this tab, and the address bar follows them."""
    keep_settings()  # a rerun of this fragment alone must keep the settings its tab does not draw
    VIEWS[slug](subject)
    image = st.session_state[DEEPER_INDEX] if evaluation_set(subject).fashion else None  # ?image= is Fashion-MNIST's
    update_query_params(link_update({"tab": slug, "image": image}, LINK))


start_page("Deeper", intro())
link = PAGE.open_link()
subject, _ = PAGE.choose(link)
PAGE.show_tabs(lambda slug: tab_section(slug, subject))
