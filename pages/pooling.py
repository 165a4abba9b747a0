"""Pooling: how max / average / min pooling shrinks a feature map, and what it keeps."""

import streamlit as st

from components.framework.links import read_page_link, update_query_params
from components.framework.page import start_page
from components.framework.session_keys import POOLING_IMAGE
from components.image_picker import sample_link
from components.presentation import beside
from components.sections.pooling import LINK, choose_map, choose_settings, intro, map_key, pooled_section, settings_link
from components.sections.pooling_course import course_walk_section
from components.sections.pooling_repeated import repeated_section
from components.sections.pooling_shift import shift_test_section
from components.sections.pooling_windows import channel_of, windows_section
from models.inputs.images import fingerprint

start_page("Pooling", intro())
link = read_page_link(LINK)
controls, results = beside(1, 1)
with controls:
    st.header("1. The map to pool")
    image, filter_name, relu = choose_map(POOLING_IMAGE, link)
    st.header("2. Pooling settings")
    settings = choose_settings(link)
update_query_params({**sample_link(image is not None), **settings_link(settings)})
if image is not None:
    image_key = fingerprint(image)
    with results:
        fmap = pooled_section(image, filter_name, relu, settings, image_key=image_key)
    if fmap is not None:
        map2d, channel = channel_of(fmap)
        windows_section(map2d, settings, map_key(image_key, filter_name, relu, channel))
        shift_test_section(map2d, settings, map_key(image_key, filter_name, relu, channel))
        repeated_section(image, settings, image_key)
course_walk_section()
