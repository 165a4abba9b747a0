"""Predict: classify your own drawing or photo, with every preprocessing step shown."""

import streamlit as st

from components.framework.page import start_page
from components.framework.session_keys import PREDICT_MODEL, PREDICT_SOURCE
from components.model_choice import choose_model
from components.presentation import presenting
from components.resources import fashion_mnist
from components.sections.predict import (
    SOURCES,
    classified,
    feature_maps_section,
    neighbours_section,
    network_input,
    picture,
    prediction_section,
    steps_section,
    switches,
    verdict_section,
)
from models.inputs.images import fingerprint

start_page(
    "Predict",
    "Give the trained network your own picture. It only knows 28x28 grayscale items, light on black, "
    "filling the frame, so every picture is turned into one first; each step is shown below.",
)
fashion_mnist()  # loaded (or its error shown) before any widget, as the neighbours need it
subject = choose_model(PREDICT_MODEL)
source = st.radio("Picture", SOURCES, horizontal=True, key=PREDICT_SOURCE)
left, right = st.columns([3, 2])
with left:
    chosen = picture(source)
with right:
    invert, crop, darken = switches()
if chosen is None:
    st.stop()
image, caption = chosen
left.caption(caption)

prepared, prepare_ms = network_input(image, invert, crop, darken)
steps_section(prepared.steps, (fingerprint(image), invert, crop, darken))  # figures: once per picture and input
input_key = fingerprint(prepared.pixels)
result = classified(subject.model, subject.key, prepared.pixels, input_key)
if presenting():  # on a projector the answer sits beside the picture, on the first screen
    with right:
        verdict_section(result, subject.class_names)
prediction_section(result, subject.key, input_key, prepare_ms, subject.class_names)
feature_maps_section(prepared, result.outputs, result.spatial, f"{subject.key}:{input_key}")
neighbours_section(result, subject.model, subject.key, input_key, subject.class_names)
