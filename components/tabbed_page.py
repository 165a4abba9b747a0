"""The skeleton Inspect and Deeper share: a page of tabs over one chosen model, whose link names the open tab.

A page declares its `TabbedPage`, then calls `open_link` (the link read, settings kept, the linked tab opened on a
first visit), `choose` (the model and the test set it is judged on) and `show_tabs` (only the open tab is drawn).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import streamlit as st

from components.framework.links import read_page_link
from components.framework.query_state import Link, Param
from components.model_choice import LINKED_IMAGES, EvaluationSet, Subject, choose_model, own_test_notice


@dataclass(frozen=True)
class TabbedPage:
    """A tabbed page's link, its tabs (?tab= slug -> label), the session keys of the open tab and the model choice,
    and its own steps for keeping settings and opening what a link names."""

    link: Mapping[str, Param]
    tab_slugs: Mapping[str, str]
    tab_key: str
    model_key: str
    keep_settings: Callable[[], None]
    open_linked: Callable[[Link], None]
    images_parameter: str = "images"  # the link parameter naming Fashion-MNIST test images
    ignored: str = LINKED_IMAGES  # what a run on the learner's own images says of that parameter

    def open_link(self) -> Link:
        """Read the page's link, keep every setting, and on a first visit open the tab and images it names."""
        link = read_page_link(self.link)
        self.keep_settings()
        if self.tab_key not in st.session_state:  # the page has just been opened: the link sets the view
            self.open_linked(link)
        return link

    def choose(self, link: Link) -> tuple[Subject, EvaluationSet]:
        """The model chosen and its test set; stops the page after a message when that test set cannot be read."""
        subject = choose_model(self.model_key)
        test = own_test_notice(subject, self.images_parameter in link.linked, self.ignored)
        if test is None:
            st.stop()
        return subject, test

    def show_tabs(self, show: Callable[[str], None]) -> None:
        """The tabs, with `show(slug)` drawing the open one only (a closed tab costs nothing)."""
        tabs = st.tabs(list(self.tab_slugs.values()), key=self.tab_key, on_change="rerun")
        for slug, tab in zip(self.tab_slugs, tabs):
            if tab.open:
                with tab:
                    show(slug)
