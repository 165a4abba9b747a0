"""Filters: slide a small kernel over any image and see which features it emphasises."""

import streamlit as st

from components.framework.links import read_page_link, update_query_params
from components.framework.page import start_page
from components.framework.session_keys import FILTERS_IMAGE
from components.image_picker import linked_image, sample_link
from components.presentation import beside, presenting
from components.sections.filters import (
    LINK,
    convolution_settings,
    dilation_link,
    filtered,
    filtered_key,
    results_section,
)
from components.sections.filters_demo import slide_demo_section
from components.sections.filters_kernel import choose_kernel, learned_chosen
from components.sections.filters_learned import learned_section
from components.sections.filters_quiz import quiz_section
from components.sections.filters_step import step_through_section

start_page(
    "Filters",
    "A **convolution** slides a small grid of weights, the *kernel* or *filter*, over the image. At each "
    "position it multiplies the pixels under it by the weights and adds the products up: that sum is one "
    "output pixel. The weights decide what lights up: vertical lines, horizontal lines, outlines, or a blur. "
    "A CNN's first layer does exactly this with 64 filters that it **learns** from the data.",
)

link = read_page_link(LINK)
controls, results = beside()
with controls:  # in presentation mode, beside the results with the image and filter one above the other
    image_column, kernel_column = (controls, controls) if presenting() else st.columns(2, gap="large")
with image_column:
    st.subheader("1. Image")
    picked = linked_image(FILTERS_IMAGE, link)
with kernel_column:
    st.subheader("2. Filter")
    chosen = choose_kernel(link)
update_query_params(
    {**sample_link(picked is not None), **({} if chosen is None else chosen.query), **dilation_link(link)}
)
if picked is None or chosen is None:
    st.stop()

with controls:
    st.subheader("3. Stride, dilation and padding")
    stride, padding, dilation, quiz_mode = convolution_settings(link, chosen.weights.shape[0])
raw = filtered(picked, chosen, stride, padding, dilation)
if raw is None:
    st.stop()

if not quiz_mode or quiz_section(picked, chosen):
    key = filtered_key(picked, chosen, stride, padding, dilation)
    with results:
        results_section(picked, chosen, raw, key=key, stride=stride, padding=padding, dilation=dilation)
    step_through_section(picked.pixels, chosen.weights, raw, stride, padding, dilation, key)
    if learned_chosen():
        learned_section(picked, stride, padding, dilation)
slide_demo_section(chosen.weights)
