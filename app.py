"""CNN Lab: page config, the presentation-mode toggle, the learner cookie and st.navigation over the pages."""

import streamlit as st

from components.catalog import ALL_PAGES, HOME
from components.learner import remember_learner
from components.widgets import presentation_mode

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")
presentation_mode()
with st.sidebar:
    remember_learner()
pages = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p is HOME) for p in ALL_PAGES]
st.navigation(pages).run()
