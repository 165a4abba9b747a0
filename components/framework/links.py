"""A page's settings in the address bar: read them (naming what was ignored) and write them back."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx  # internal API, written against Streamlit 1.67.0

from components.framework.query_state import Link, Param, read_link
from components.framework.session_keys import PAGE_LINKS

SAMPLE_PARAM = "sample"  # ?sample= names the image, which IMAGE_SOURCE keeps for Filters and Pooling alike


def read_page_link(schema: Mapping[str, Param]) -> Link:
    """This page's settings from the address bar; each value ignored is named in a warning.

    Streamlit drops the parameters when the learner changes page, so a page opened without any of its own
    (from the sidebar, say) gets the ones it last wrote: it reopens as it was left.
    """
    params = st.query_params.to_dict()
    if not schema.keys() & params.keys():
        params |= st.session_state.get(PAGE_LINKS, {}).get(_page_id(), {})
    link = read_link(params, schema)
    for notice in link.notices:
        st.warning(notice, icon=":material/link_off:")
    return link


def update_query_params(values: Mapping[str, str | None]) -> None:
    """Set these query parameters, deleting those given None; every other parameter (e.g. ?present) stays.

    The page's values are also remembered for `read_page_link`, except the image, which IMAGE_SOURCE keeps
    for both pages that show it.
    """
    for key, value in values.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value
    remembered = {key: value for key, value in values.items() if value is not None and key != SAMPLE_PARAM}
    st.session_state.setdefault(PAGE_LINKS, {})[_page_id()] = remembered


def _page_id() -> str:
    context = get_script_run_ctx()
    return context.page_script_hash if context is not None else ""


def set_values(query: Mapping[str, str | None]) -> dict[str, str]:
    """The link parameters that are set (None means "the page's default"), e.g. for a link to the full page."""
    return {name: value for name, value in query.items() if value is not None}
