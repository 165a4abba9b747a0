"""Architecture: every layer's shape, parameters and multiply-accumulates, for the course CNN or a variant."""

import streamlit as st

from components.framework.page import start_page
from components.framework.session_keys import ARCHITECTURE_CONFIG, TRAIN_DESIGN_REQUEST
from components.sections.architecture import (
    builder,
    show_code,
    show_collapse,
    show_comparison,
    show_shapes,
    show_shares,
    show_table,
    show_totals,
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
config = builder()
try:
    rows = layer_table_for_config(config)
except ConfigError as error:
    show_collapse(config, error)
else:
    st.session_state[ARCHITECTURE_CONFIG] = config.to_dict()
    show_totals(config, rows)
    if st.button(
        "Train this network",
        icon=":material/model_training:",
        help="Open the Training page with this design selected as the model.",
    ):
        st.session_state[TRAIN_DESIGN_REQUEST] = True
        st.switch_page("pages/training.py")
    show_shapes(rows)
    show_code(config)
    show_table(rows, config)
    show_shares(rows)
show_comparison()
