"""Architecture: every layer's shape, parameters and multiply-accumulates, for the course CNN or a variant."""

import streamlit as st

from components.framework.page import start_page
from components.framework.session_keys import ARCHITECTURE_CONFIG, TRAIN_DESIGN_REQUEST
from components.sections.architecture import (
    builder_section,
    code_section,
    collapse_section,
    comparison_section,
    shapes_section,
    shares_section,
    table_section,
    totals_section,
)
from components.sections.architecture_uploaded import uploaded_section
from models.design.analysis import layer_table_for_config
from models.design.config import ConfigError

start_page(
    "Architecture",
    "How many numbers does each layer learn, and how much arithmetic does it do for one image? "
    "Change the network in the sidebar: the shapes, the table and the charts follow at once.",
)
uploaded_section()
config = builder_section()
try:
    rows = layer_table_for_config(config)
except ConfigError as error:
    collapse_section(config, error)
else:
    st.session_state[ARCHITECTURE_CONFIG] = config.to_dict()
    totals_section(config, rows)
    if st.button(
        "Train this network",
        icon=":material/model_training:",
        help="Open the Training page with this design selected as the model.",
    ):
        st.session_state[TRAIN_DESIGN_REQUEST] = True
        st.switch_page("pages/training.py")
    shapes_section(rows)
    code_section(config)
    table_section(rows, config)
    shares_section(rows)
comparison_section()
