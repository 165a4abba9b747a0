"""Inspect, Why this prediction: one test image's class probabilities and its heat maps: saliency, SmoothGrad,
Grad-CAM and occlusion."""

from __future__ import annotations

import functools

import streamlit as st

from components.charts.alt import figure_alt, prediction_alt
from components.charts.inspect import GridColumn, attribution_text, image_grid_figure, probability_figure, why_text
from components.framework.memo import once
from components.framework.phone import grid_per_row
from components.framework.session_keys import (
    INSPECT_CLASS_TO_EXPLAIN,
    INSPECT_INDEX,
    INSPECT_OCCLUSION_FILL,
    INSPECT_OCCLUSION_PATCH,
    INSPECT_OCCLUSION_STRIDE,
    INSPECT_SMOOTHGRAD_NOISE,
    INSPECT_SMOOTHGRAD_SAMPLES,
)
from components.model_choice import EvaluationSet, Subject, clamp_index, evaluation_set
from components.sections.inspect import CHART_CONFIG, PREDICTED, explained
from models.explain import attribution as att
from models.explain import inspection as ins

FILL_LABELS = {"grey": "grey 0.5", "mean": "the image's mean"}
GRID_CELL = 140  # px: five columns across the page at 1280 px; presentation mode: the grid on the first screen


def why_section(subject: Subject) -> None:
    test = evaluation_set(subject)
    names = subject.class_names
    clamp_index(test, INSPECT_INDEX)
    if st.session_state[INSPECT_CLASS_TO_EXPLAIN] >= len(names):
        st.session_state[INSPECT_CLASS_TO_EXPLAIN] = PREDICTED
    layer = _last_conv_layer(subject.model)
    shape = (0, 0) if layer is None else tuple(subject.model.get_layer(layer).output.shape[1:3])
    st.markdown(why_text(layer, shape))
    chosen, classes, said = st.columns([1, 1, 2])
    index = chosen.number_input(test.index_label(), 0, test.size - 1, step=1, key=INSPECT_INDEX)
    explain = classes.selectbox(
        "Explain the score of",
        [PREDICTED, *range(len(names))],
        key=INSPECT_CLASS_TO_EXPLAIN,
        format_func=lambda c: "its predicted class" if c == PREDICTED else names[c],
    )
    class_index = None if explain == PREDICTED else explain
    heat = explained(subject, "saliency", [index], class_index)
    labelled = subject.fashion or bool(subject.dataset)  # its test images' labels are its classes
    said.markdown(verdict_text(heat.probabilities[0], int(heat.classes[0]), names, test, int(index), labelled))
    grid = st.container()
    _heat_settings()
    chart, notes = st.columns([1, 2])
    probabilities = heat.probabilities[0]
    chart.plotly_chart(
        once(
            subject.key,
            ("probabilities", int(index), class_index),
            functools.partial(probability_figure, probabilities, names, int(test.labels[index]) if labelled else None),
        ),
        config=CHART_CONFIG,
        alt=prediction_alt(probabilities, names),
    )
    _heat_grid(grid, notes, subject, int(index), class_index, layer, heat)


def _last_conv_layer(model) -> str | None:
    """The model's last conv layer, or None when it has none (Grad-CAM then has nothing to look at)."""
    try:
        return ins.last_conv_layer(model)
    except ins.InspectionError:
        return None


def verdict_text(
    probabilities, target: int, names: tuple[str, ...], test: EvaluationSet, index: int, labelled: bool
) -> str:
    """What the model says of test image `index`, right or wrong when its labels are the model's classes, and
    which class's score the heat maps explain."""
    predicted = int(probabilities.argmax())
    true = test.labels[index]
    if labelled:
        verdict = "right" if predicted == true else "wrong"
        return (
            f"True class **{names[true]}**; predicted **{names[predicted]}** "
            f"({probabilities[predicted]:.1%}): {verdict}. Heat maps for the score of **{names[target]}**:"
        )
    return (
        f"A Fashion-MNIST **{test.class_names[true]}**; this model, with its own {len(names)} classes, "
        f"says **{names[predicted]}** ({probabilities[predicted]:.1%}). Heat maps for the score of "
        f"**{names[target]}**:"
    )


def _heat_settings() -> None:
    """The occlusion and SmoothGrad settings (read from session state by `occlusion_of` and `smoothgrad_of`)."""
    occlusion_settings, smooth_settings = st.columns(2)
    patch_box, stride_box = occlusion_settings.columns(2)
    patch_box.number_input("Occlusion patch (pixels)", min_value=1, step=1, key=INSPECT_OCCLUSION_PATCH)
    stride_box.number_input(
        "Occlusion stride (pixels)", min_value=1, max_value=28, step=1, key=INSPECT_OCCLUSION_STRIDE
    )
    occlusion_settings.radio(
        "Occlusion fill", att.FILLS, format_func=FILL_LABELS.__getitem__, horizontal=True, key=INSPECT_OCCLUSION_FILL
    )
    smooth_settings.slider(
        "SmoothGrad noise (sigma / range)", 0.0, 0.5, step=0.05, format="%.2f", key=INSPECT_SMOOTHGRAD_NOISE
    )
    smooth_settings.slider("SmoothGrad samples (noisy copies)", 1, 100, step=1, key=INSPECT_SMOOTHGRAD_SAMPLES)


def _heat_grid(grid, notes, subject: Subject, index: int, class_index: int | None, layer: str | None, heat) -> None:
    """The image beside its heat maps in `grid` (a method that fails says why below it), the notes beside the
    probabilities."""
    target = int(heat.classes[0])
    image = evaluation_set(subject).images[index : index + 1]
    columns = [GridColumn("input", image / 255.0, "image"), GridColumn("saliency", heat.maps, "heat")]
    problems, smooth, occlusion = [], None, None
    try:
        smooth = smoothgrad_of(subject, index, target)
        columns.append(GridColumn("SmoothGrad", smooth.map[None], "heat"))
    except ins.InspectionError as error:
        problems.append(f"SmoothGrad: {error}")
    if layer:
        cam = explained(subject, "grad_cam", [index], class_index, layer)
        columns.append(GridColumn(f"Grad-CAM ({cam.layer})", cam.maps, "heat"))
    try:
        occlusion = occlusion_of(subject, index, target)
        columns.append(GridColumn("occlusion", occlusion.pixel_map[None], "signed"))
    except ins.InspectionError as error:
        problems.append(f"Occlusion: {error}")
    titles = tuple(column.title for column in columns)
    settings = (
        smooth and (smooth.noise, smooth.samples),
        occlusion and (occlusion.patch, occlusion.stride, occlusion.fill),
    )
    per_row = grid_per_row()
    figure = once(
        subject.key,
        ("why-grid", int(index), target, titles, settings, per_row),
        functools.partial(image_grid_figure, image / 255.0, columns, cell=GRID_CELL, per_row=per_row),
    )
    grid.plotly_chart(figure, config=CHART_CONFIG, alt=figure_alt(figure, f"Test image {index}: {', '.join(titles)}"))
    for problem in problems:
        grid.error(problem)
    text = attribution_text(occlusion, smooth, subject.class_names[target])
    if text:
        notes.markdown(text)


def smoothgrad_of(subject: Subject, index: int, class_index: int) -> att.SmoothGrad:
    """SmoothGrad of test image `index` with the tab's noise and sample count, once per model and settings."""
    noise = round(float(st.session_state[INSPECT_SMOOTHGRAD_NOISE]), 4)
    samples = st.session_state[INSPECT_SMOOTHGRAD_SAMPLES]
    noise, samples = att.check_smoothgrad(noise, samples)
    x_test = evaluation_set(subject).images
    compute = functools.partial(att.smoothgrad, subject.model, x_test[index], class_index, noise=noise, samples=samples)
    with st.spinner(f"SmoothGrad: gradients of {samples} noisy copies..."):
        return once(subject.key, ("smoothgrad", index, class_index, noise, samples), compute)


def occlusion_of(subject: Subject, index: int, class_index: int) -> att.Occlusion:
    """The occlusion map of test image `index` with the tab's patch, stride and fill, once per model and settings."""
    x_test = evaluation_set(subject).images
    patch = st.session_state[INSPECT_OCCLUSION_PATCH]
    stride = st.session_state[INSPECT_OCCLUSION_STRIDE]
    fill = st.session_state[INSPECT_OCCLUSION_FILL]
    patch, stride = att.check_occlusion(x_test.shape[1:3], patch, stride, fill)
    positions = len(att.window_starts(x_test.shape[1], patch, stride)) * len(
        att.window_starts(x_test.shape[2], patch, stride)
    )
    compute = functools.partial(att.occlusion_map, subject.model, x_test[index], class_index, patch, stride, fill=fill)
    with st.spinner(f"Occlusion: predicting {positions} patched images..."):
        return once(subject.key, ("occlusion", index, class_index, patch, stride, fill), compute)
