"""Inspect, Evaluation: accuracy on the 10,000 test images, a clickable confusion matrix with per-class metrics,
the images of one cell (with saliency, Grad-CAM and feature maps) and the most confident mistakes."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from components.charts.alt import figure_alt, pictures_alt
from components.charts.inspect import (
    GridColumn,
    clicked_cell,
    confusion_figure,
    gallery_figure,
    image_grid_figure,
    item_label,
)
from components.framework.memo import once
from components.framework.phone import grid_per_row
from components.framework.session_keys import (
    INSPECT_CELL_COUNT,
    INSPECT_CELL_FILTER,
    INSPECT_CONFUSION,
    INSPECT_PRED,
    INSPECT_TRUE,
)
from components.model_choice import EvaluationSet, Subject, clamp_choices, evaluation_set, labelled_only
from components.sections.inspect import CHART_CONFIG, activations, evaluation, explained, filter_count, open_in_why
from models.explain import inspection as ins
from models.inputs.own_data import TEST_SHARE


def select_confusion_cell(classes: int) -> None:
    """Chart click -> the (true, predicted) select boxes."""
    points = st.session_state[INSPECT_CONFUSION]["selection"]["points"]
    if points:
        st.session_state[INSPECT_TRUE], st.session_state[INSPECT_PRED] = clicked_cell(points[0], classes)


def evaluation_section(subject: Subject) -> None:
    if not labelled_only(subject, "The evaluation"):
        return
    test = evaluation_set(subject)
    result = evaluation(subject)
    clamp_choices(test, INSPECT_TRUE, INSPECT_PRED)
    if not test.fashion:
        st.markdown(
            f"This run is judged on {test.words}: {TEST_SHARE:.0%} of each class of your zip, held out before "
            "training and never trained on (the same images, drawn again from its dataset and seed)."
        )
    left, middle, right = st.columns(3)
    left.metric("Test accuracy", f"{result.accuracy:.2%}")
    middle.metric("Mistakes", f"{result.mistakes:,} of {len(result.labels):,}")
    right.metric(
        "Prediction pass",
        f"{result.seconds:.1f} s",
        help=f"One predict pass over {test.words} that also returns the hidden-layer outputs; cached until the "
        "model changes."
        + (
            " For the shipped model it was saved beside the model file, and this is how long it took then."
            if result.saved
            else ""
        ),
    )
    confusion_chart(subject, test, result)  # the main column's width: each cell has room for a 4-digit count
    class_table(test, result)
    _cell_section(subject, test, result)
    _mistakes_section(subject, test, result)


def confusion_chart(subject: Subject, test: EvaluationSet, result: ins.Evaluation) -> None:
    st.markdown(
        "**Confusion matrix**: rows are the true class, columns the prediction. "
        "Click a cell (or choose below) to see those images."
    )
    selected = (st.session_state[INSPECT_TRUE], st.session_state[INSPECT_PRED])
    confusion = once(
        subject.key,
        ("confusion", selected),
        functools.partial(confusion_figure, result.confusion, test.class_names, selected),
    )
    st.plotly_chart(
        confusion,
        key=INSPECT_CONFUSION,
        on_select=functools.partial(select_confusion_cell, len(test.class_names)),
        selection_mode="points",
        config=CHART_CONFIG,
        alt=figure_alt(
            confusion, "Confusion matrix: rows the true class, columns the prediction, counts of test images"
        ),
    )


def class_table(test: EvaluationSet, result: ins.Evaluation) -> None:
    st.markdown(
        "**Per class**: precision = right among those predicted as the class; recall = found among "
        "those truly of the class; F1 = their harmonic mean."
    )
    metrics = result.metrics
    frame = pd.DataFrame(
        {
            "class": test.class_names,
            "precision": metrics.precision,
            "recall": metrics.recall,
            "F1": metrics.f1,
            "test images": metrics.support,
        }
    )
    number = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(
        frame,
        hide_index=True,
        height="content",
        column_config={"precision": number, "recall": number, "F1": number},
    )
    worst = int(metrics.f1.argmin())
    names = test.class_names
    st.markdown(f"Hardest class: **{names[worst]}** (F1 {metrics.f1[worst]:.3f}).")


def _cell_section(subject: Subject, test: EvaluationSet, result: ins.Evaluation) -> None:
    """The images of one (true, predicted) cell, the most confident first."""
    model = subject.model
    names = test.class_names
    st.subheader("Images of one cell")
    left, middle, right, last = st.columns(4)
    true_class = left.selectbox("True class", range(len(names)), format_func=names.__getitem__, key=INSPECT_TRUE)
    predicted = middle.selectbox("Predicted as", range(len(names)), format_func=names.__getitem__, key=INSPECT_PRED)
    found = ins.cell_images(result, true_class, predicted)
    if found.size == 0:
        st.info(f"No {names[true_class]} test image is predicted as {names[predicted]}.")
        return
    show = right.slider("Images shown", 1, min(8, found.size), key=INSPECT_CELL_COUNT) if found.size > 1 else 1
    show = min(show, found.size)
    layers = ins.spatial_layers(model)
    channels = filter_count(model, layers) if layers else 1
    st.session_state[INSPECT_CELL_FILTER] = min(st.session_state[INSPECT_CELL_FILTER], channels - 1)
    number = last.number_input(
        "Filter for the feature maps", 0, channels - 1, step=1, key=INSPECT_CELL_FILTER, disabled=not layers
    )
    verdict = "correctly classified" if true_class == predicted else f"predicted as {names[predicted]}"
    shown = "it is" if found.size == 1 else f"the {show} most confident are"
    st.markdown(
        f"**{found.size:,}** {names[true_class]} test image{'s' * (found.size > 1)} "
        f"{'are' if found.size > 1 else 'is'} {verdict}; {shown} shown with saliency and Grad-CAM "
        f"for the predicted class, and the feature maps of filter {number}."
    )
    drill_down(subject, test, found[:show], layers, number, result)
    pick = st.selectbox("Look at one closely", found[:show], format_func=lambda i: f"test image #{i}")
    if st.button("Open it in Why this prediction", on_click=open_in_why, args=(int(pick),)):
        st.rerun()  # the tabs are outside this tab's fragment: the whole page opens the other tab


def drill_down(
    subject: Subject, test: EvaluationSet, indices: np.ndarray, layers: list[str], number: int, result: ins.Evaluation
) -> None:
    labels = [item_label(int(i), test.labels, test.class_names, result) for i in indices]
    titles = ["input", "saliency", *(["Grad-CAM", *layers] if layers else [])]
    per_row = grid_per_row()
    figure = once(  # the model (key) decides the test set and its evaluation
        subject.key,
        ("cell images", tuple(map(int, indices)), tuple(layers), number, per_row),
        functools.partial(_cell_figure, subject, test, indices, layers, number, labels, per_row),
    )
    st.plotly_chart(figure, config=CHART_CONFIG, alt=pictures_alt(f"each with its {', '.join(titles)}", labels))


def _cell_figure(
    subject: Subject,
    test: EvaluationSet,
    indices: np.ndarray,
    layers: list[str],
    number: int,
    labels: list[str],
    per_row: int | None,
):
    """The images with their saliency, Grad-CAM and the feature maps of filter `number` in `layers`."""
    images = test.images[indices]
    columns = [
        GridColumn("input", images / 255.0, "image"),
        GridColumn("saliency", explained(subject, "saliency", indices).maps, "heat"),
    ]
    if layers:
        columns.append(GridColumn("Grad-CAM", explained(subject, "grad_cam", indices).maps, "heat"))
        outputs = activations(subject.model, indices, layers, test)
        columns += [GridColumn(name, outputs[name][..., number]) for name in layers]
    return image_grid_figure(images / 255.0, columns, labels, cell=140, per_row=per_row)


def _mistakes_section(subject: Subject, test: EvaluationSet, result: ins.Evaluation) -> None:
    names = test.class_names
    st.subheader("Most confident mistakes")
    worst = ins.most_confident_mistakes(result, 12)
    if worst.size == 0:
        st.info(f"No mistakes: every one of {test.words} is classified correctly.")
        return
    titles = [
        f"#{i} {names[result.labels[i]]}<br>→ {names[result.predictions[i]]} {result.confidences[i]:.1%}" for i in worst
    ]
    per_row = grid_per_row() or 6
    st.plotly_chart(
        once(
            subject.key,
            ("mistakes", per_row),
            functools.partial(gallery_figure, test.images[worst] / 255.0, titles, per_row=per_row),
        ),
        config=CHART_CONFIG,
        alt=pictures_alt("the most confident mistakes: true class, then the prediction and its probability", titles),
    )
    st.caption("True class, then → the prediction and its probability. Would you have labelled them the same way?")
