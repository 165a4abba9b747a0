"""CNN Lab: page config, the presentation-mode toggle, the learner cookie and st.navigation over the pages.

pandas is imported here, before any page runs, because Streamlit imports it lazily on a page's first table and
reads it from sys.modules elsewhere: when several learners' first runs did that at once, some saw a partially
initialised module (AttributeError: 'pandas' has no attribute 'Series'). An import statement waits for the module.
"""

import pandas  # noqa: F401  (see above)
import streamlit as st

from components.catalog import ALL_PAGES, HOME
from components.framework.heap import collect_now_and_then, freeze_after_imports
from components.framework.learner import remember_learner
from components.framework.loading import TENSORFLOW_PAGES, load_tensorflow, warm_in_background
from components.framework.memo import reuse_frozen_json
from components.framework.nodelay import send_without_delay
from components.framework.page import mark_app_run
from components.framework.server_hooks import keep_keras_session
from components.presentation import presentation_mode

keep_keras_session()
warm_in_background()  # with CNN_LAB_WARM=1 (make serve): TensorFlow loads before a learner asks for it
reuse_frozen_json()  # once per server: a cached figure's JSON is encoded once, not on every run
send_without_delay()  # once per server: learners' websockets send each message at once (no delayed-ACK waits)
freeze_after_imports()  # what the server has imported stays out of every later gc.collect()
collect_now_and_then()  # a full collection at most every 10 s per server, not after every run (config.toml)
st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")
mark_app_run()
presentation_mode()
with st.sidebar:
    remember_learner()
pages = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p is HOME) for p in ALL_PAGES]
page = st.navigation(pages)
st.set_page_config(page_title="CNN Lab" if page.title == HOME.title else f"{page.title} - CNN Lab")  # the tab's name
if page.url_path in TENSORFLOW_PAGES:
    load_tensorflow()  # the page's imports load TensorFlow: a notice names the wait instead of a blank page
page.run()
