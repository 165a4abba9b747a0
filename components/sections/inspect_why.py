"""Inspect, Why this prediction: one test image's class probabilities, its saliency map and Grad-CAM."""

from __future__ import annotations

import functools

import streamlit as st

from components.charts.inspect import GridColumn, image_grid_figure, probability_figure, why_text
from components.memo import once
from components.resources import fashion_mnist
from components.sections.inspect import CHART_CONFIG, PREDICTED, Subject, explained
from components.session_keys import INSPECT_CLASS_TO_EXPLAIN, INSPECT_INDEX
from models import inspection as ins
from models.data import CLASS_NAMES


def why_tab(subject: Subject) -> None:
    (_, _), (x_test, y_test) = fashion_mnist()
    model = subject.model
    try:
        layer = ins.last_conv_layer(model)
    except ins.InspectionError:
        layer = None
    st.markdown(why_text(layer, (0, 0) if layer is None else tuple(model.get_layer(layer).output.shape[1:3])))
    left, right = st.columns([1, 2])
    index = left.number_input("Test image index (0-9999)", 0, len(y_test) - 1, step=1, key=INSPECT_INDEX)
    options = [PREDICTED, *range(len(CLASS_NAMES))]
    explain = left.selectbox(
        "Explain the score of",
        options,
        key=INSPECT_CLASS_TO_EXPLAIN,
        format_func=lambda c: "its predicted class" if c == PREDICTED else CLASS_NAMES[c],
    )
    image = x_test[index : index + 1]
    class_index = None if explain == PREDICTED else explain
    heat = explained(subject, "saliency", [index], class_index)
    probabilities = heat.probabilities[0]
    predicted = int(probabilities.argmax())
    verdict = "right" if predicted == y_test[index] else "wrong"
    left.markdown(
        f"True class **{CLASS_NAMES[y_test[index]]}**; predicted **{CLASS_NAMES[predicted]}** "
        f"({probabilities[predicted]:.1%}): {verdict}."
    )
    left.plotly_chart(
        once(
            subject.key,
            ("probabilities", int(index), class_index),
            functools.partial(probability_figure, probabilities, CLASS_NAMES, int(y_test[index])),
        ),
        config=CHART_CONFIG,
    )
    columns = [GridColumn("input", image / 255.0, "image"), GridColumn("saliency", heat.maps, "heat")]
    if layer:
        cam = explained(subject, "grad_cam", [index], class_index, layer)
        columns.append(GridColumn(f"Grad-CAM ({cam.layer})", cam.maps, "heat"))
    right.markdown(f"Heat maps for the score of **{CLASS_NAMES[int(heat.classes[0])]}**")
    right.plotly_chart(image_grid_figure(image / 255.0, columns, cell=250), config=CHART_CONFIG)
