"""Training: train the course CNN (or a variant) in the background and watch it learn."""

import streamlit as st

from components.framework.links import read_page_link, update_query_params
from components.framework.page import start_page
from components.sections.training import LINK, settings_link, settings_section
from components.sections.training_runs import compare_section, run_section
from components.training_jobs import trained_runs

start_page(
    "Training",
    "Train the course CNN, a variant, or the dense baseline on real Fashion-MNIST and watch it learn. "
    "Training runs in a separate process, so the page stays responsive: you can leave it, refresh it or "
    "come back later. Finished runs are saved for this browser, for comparison and for the Inspect page.",
)
link = read_page_link(LINK)
settings_section(link)
update_query_params(settings_link())
runs = trained_runs()
if runs:
    compare_section(runs)
    run_section(runs)
else:
    st.info("No finished runs yet: press **Train** or a course experiment.", icon=":material/info:")
