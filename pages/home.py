"""Home: what the lab teaches and the course model's journey."""

import streamlit as st

from components.catalog import CLASS, LESSONS, TOUR
from components.charts.alt import shape_flow_alt
from components.charts.common import FlowStep, shape_flow_figure
from components.framework.memo import once
from components.framework.page import start_page
from components.framework.session_keys import SHAPE_FLOW
from components.resources import model_card
from models.design.card import ModelFileError
from models.design.config import COURSE_CNN, plan

OPERATIONS = {
    "Conv2D": "conv 3x3<br>+ ReLU",
    "MaxPooling2D": "max pool<br>2x2",
    "Flatten": "flatten",
    "Dense": "dense<br>+ ReLU",
}

start_page(
    "CNN Lab",
    "**How a convolutional neural network sees a picture.** The course network classifies 28x28 "
    "Fashion-MNIST clothing images into 10 classes. Small 3x3 filters slide over the image and light "
    "up where they find a pattern; pooling keeps the strongest responses and quarters the map; dense "
    "layers turn the features into a class. The filters are **not chosen by hand**: they start random "
    "and are learned from the data.",
)

steps = list(
    FlowStep(stage.shape, "softmax" if stage.name == "output" else OPERATIONS.get(stage.kind, ""))
    for stage in plan(COURSE_CNN)
)
st.subheader("The course CNN, one image at a time")
flow_figure = once("home", ("course flow",), lambda: shape_flow_figure(steps))  # the same figure on every visit
st.plotly_chart(
    flow_figure,
    width="stretch",
    key=SHAPE_FLOW,
    config={"displayModeBar": False},
    alt=shape_flow_alt([step.shape for step in steps], [step.operation for step in steps]),
)
st.caption(
    "Drawn to one scale: a square's side is the feature map's height in pixels (stacked to show it has "
    "many channels); a bar's height is the square root of its number of values. "
    "28x28x1 -> 26x26x64 -> 13x13x64 -> 11x11x64 -> 5x5x64 -> 1600 -> 128 -> 10."
)

st.subheader("Lessons")
st.page_link(TOUR.path, label=f"**{TOUR.title}** (start here in class): {TOUR.blurb}", icon=TOUR.icon)
for lesson in LESSONS:
    st.page_link(lesson.path, label=f"**{lesson.title}**: {lesson.blurb}", icon=lesson.icon)
st.page_link(CLASS.path, label=f"**{CLASS.title}**: {CLASS.blurb}", icon=CLASS.icon)

st.subheader("The trained model in this lab")
try:
    card = model_card()
except ModelFileError as error:
    st.error(str(error))
else:
    left, middle, right = st.columns(3)
    left.metric("Test accuracy (10,000 images)", f"{card['test_accuracy']:.2%}")
    middle.metric("Parameters", f"{card['parameters']:,}")
    right.metric("Training", f"{card['epochs']} epochs, {card['training_seconds'] / 60:.0f} min")
    st.caption(
        f"Trained on {card['train_images']:,} images with `{card['command']}` "
        f"(TensorFlow {card['versions']['tensorflow']}, 2 CPU cores)."
    )
