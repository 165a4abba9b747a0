"""Deeper, Receptive fields: the square of input pixels one unit can see, the recurrence that gives it, and the
unit's gradient with respect to the input, which is exactly zero outside that square.

The field is worked out from the model's layer settings (`models.design.receptive_field`, no TensorFlow); the gradient
is measured with tf.GradientTape (`models.explain.field_probe`). Both are cached per model key and question.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from components.charts.alt import strongest_alt
from components.charts.deeper_fields import clicked_unit, gradient_figure, image_figure, map_figure
from components.framework.memo import once
from components.framework.session_keys import (
    DEEPER_FIELDS_COL,
    DEEPER_FIELDS_FILTER,
    DEEPER_FIELDS_LAYER,
    DEEPER_FIELDS_MAP,
    DEEPER_FIELDS_ROW,
    DEEPER_FIELDS_SHOWN,
    DEEPER_FIELDS_UNIT,
    DEEPER_INDEX,
)
from components.model_choice import Subject, evaluation_set, shipped_key
from components.presentation import beside
from components.resources import shipped_model
from components.sections.deeper import choose_test_image, keep_settings
from components.sections.inspect import CHART_CONFIG
from models.design.receptive_field import FieldError, FieldStep, dropped_rows, field_steps, find_step, seen_span

if TYPE_CHECKING:
    from models.explain.field_probe import UnitGradient

UNIT_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "Dense", "GlobalAveragePooling2D", "GlobalMaxPooling2D")
Span = tuple[tuple[int, int], tuple[int, int]]  # (first row, last row), (first column, last column)


@dataclass(frozen=True)
class Probe:
    """What one unit of one layer sees: its layer, its place, and the input pixels of its field."""

    step: FieldStep
    shape: tuple[int, ...]  # the layer's output shape (no batch)
    unit: tuple[int, ...]  # (row, column, filter) or (index,)
    seen: Span  # inside the image
    field: Span  # the whole field, past the edge too
    image_shape: tuple[int, int]

    @property
    def clipped(self) -> bool:
        return self.seen != self.field


def fields_section(subject: Subject, *, intro: bool = True) -> None:
    """The tab: its intro (the tour's step says it in its own words), the unit chosen, its field and gradient."""
    if intro:
        st.markdown(
            "Each unit of a layer looks at a square of input pixels, its **receptive field**, which grows layer by "
            "layer: r = r_prev + (k - 1) × j_prev, where j (the jump) is how many input pixels apart neighbouring "
            "units are, j = j_prev × s. Pick a layer and a unit: the green square is every pixel its value depends on, "
            "and its gradient with respect to the input is exactly 0 outside it."
        )
    try:
        steps = once(subject.key, ("field steps",), functools.partial(field_steps, subject.model))
    except FieldError as error:
        st.info(f"This model's receptive fields cannot be worked out here: {error}.")
        return
    layers = [step for step in steps if step.kind in UNIT_KINDS]
    if not layers:
        st.info("This model has no convolution, pooling or dense layer, so it has no receptive field to show.")
        return
    controls, results = beside(2, 3)
    with controls:
        index = choose_test_image(evaluation_set(subject), st)
        probe = choose_unit(subject, steps, layers, index)
    with results:
        _probe_section(subject, steps, probe, index)
    _recurrence_section(steps, probe.step)


def tour_section() -> dict[str, str]:
    """The tour's "beyond week 3" step: this section on the shipped model, conv2 first; returns the page's link."""
    keep_settings()
    st.session_state.setdefault(DEEPER_FIELDS_LAYER, "conv2")
    fields_section(Subject(shipped_key(), shipped_model()), intro=False)
    return {"tab": "fields", "image": str(st.session_state[DEEPER_INDEX])}


def layer_label(step: FieldStep, shape: tuple[int, ...]) -> str:
    units = f"{shape[0]}x{shape[1]} units" if len(shape) == 3 else f"{shape[-1]} units"
    return f"{step.name} ({step.kind}, {units})"


def choose_unit(subject: Subject, steps: list[FieldStep], layers: list[FieldStep], index: int) -> Probe:
    """The layer, the unit (row and column, or index) and the filter; a new layer keeps the same spot."""
    shapes = {step.name: tuple(int(d) for d in subject.model.get_layer(step.name).output.shape[1:]) for step in layers}
    names = list(shapes)
    if st.session_state.get(DEEPER_FIELDS_LAYER) not in names:
        st.session_state[DEEPER_FIELDS_LAYER] = names[0]
    name = st.selectbox(
        "Layer", names, key=DEEPER_FIELDS_LAYER, format_func=lambda n: layer_label(find_step(steps, n), shapes[n])
    )
    step, shape = find_step(steps, name), shapes[name]
    image_shape = (steps_input_side(subject), steps_input_side(subject, axis=1))
    if len(shape) == 3:
        keep_spot(steps, step, shape)
        row_box, col_box, filter_box = st.columns(3)
        row = int(row_box.number_input("Row", 0, shape[0] - 1, step=1, key=DEEPER_FIELDS_ROW))
        col = int(col_box.number_input("Column", 0, shape[1] - 1, step=1, key=DEEPER_FIELDS_COL))
        _clamp(DEEPER_FIELDS_FILTER, shape[2] - 1, 0)
        channel = int(filter_box.number_input("Filter", 0, shape[2] - 1, step=1, key=DEEPER_FIELDS_FILTER))
        unit: tuple[int, ...] = (row, col, channel)
        spans = [seen_span(steps, step, i, axis) for axis, i in enumerate((row, col))]
        fields = (step.rows.span(row), step.cols.span(col))
    else:
        _clamp(DEEPER_FIELDS_UNIT, shape[-1] - 1, 0)
        unit = (int(st.number_input("Unit", 0, shape[-1] - 1, step=1, key=DEEPER_FIELDS_UNIT)),)
        spans = [seen_span(steps, step, 0, axis) for axis in range(2)]
        fields = (step.rows.span(0), step.cols.span(0))
    st.session_state[DEEPER_FIELDS_SHOWN] = name
    seen = ((spans[0][0], spans[0][1]), (spans[1][0], spans[1][1]))
    return Probe(step, shape, unit, seen, fields, image_shape)


def steps_input_side(subject: Subject, axis: int = 0) -> int:
    return int(subject.model.inputs[0].shape[1 + axis])


def _clamp(key: str, most: int, default: int) -> None:
    value = st.session_state.get(key, default)
    st.session_state[key] = min(max(int(value), 0), most)


def keep_spot(steps: list[FieldStep], step: FieldStep, shape: tuple[int, ...]) -> None:
    """Row and column in range; after a change of layer, the unit whose field is centred nearest the old one's."""
    shown = st.session_state.get(DEEPER_FIELDS_SHOWN)
    for key, axis, size in ((DEEPER_FIELDS_ROW, 0, shape[0]), (DEEPER_FIELDS_COL, 1, shape[1])):
        field = (step.rows, step.cols)[axis]
        if key not in st.session_state:
            st.session_state[key] = size // 2
        elif shown is not None and shown != step.name:
            old = find_step(steps, shown)
            old_field = (old.rows, old.cols)[axis]
            spot = old_field.start + st.session_state[key] * old_field.jump + (old_field.size - 1) / 2
            if old.spatial:
                st.session_state[key] = round((spot - field.start - (field.size - 1) / 2) / field.jump)
        _clamp(key, size - 1, size // 2)


def select_unit(cols: int) -> None:
    """A click on the layer's map (`cols` units wide) -> its row and column boxes."""
    points = st.session_state[DEEPER_FIELDS_MAP]["selection"]["points"]
    if points:
        st.session_state[DEEPER_FIELDS_ROW], st.session_state[DEEPER_FIELDS_COL] = clicked_unit(points[0], cols)


def layer_output(subject: Subject, index: int, layer: str) -> np.ndarray:
    """`layer`'s output for test image `index`, once per model."""
    from models.explain import inspection as ins

    x_test = evaluation_set(subject).images
    compute = functools.partial(ins.layer_activations, subject.model, x_test[[index]], [layer])
    return once(subject.key, ("layer output", index, layer), compute)[layer][0]


def span_text(span: tuple[int, int]) -> str:
    return f"{span[0]}-{span[1]}" if span[1] > span[0] else str(span[0])


def _probe_section(subject: Subject, steps: list[FieldStep], probe: Probe, index: int) -> None:
    from models.explain.field_probe import unit_gradient
    from models.explain.inspection import InspectionError

    image = evaluation_set(subject).images[index]
    name = probe.step.name
    try:
        measured = once(
            subject.key,
            ("unit gradient", index, name, probe.unit),
            functools.partial(unit_gradient, subject.model, image, name, probe.unit),
        )
    except InspectionError as error:
        st.warning(f"The gradient cannot be measured on this model: {error}")
        return
    (r0, r1), (c0, c1) = probe.seen
    height, width = r1 - r0 + 1, c1 - c0 + 1
    figures = st.columns(3 if probe.step.spatial else 2)
    if probe.step.spatial:
        with figures[0]:
            _unit_map(subject, probe, index)
    picture = once(
        subject.key,
        ("field image", index, probe.seen, probe.field),
        lambda: image_figure(image / 255.0, probe.seen, probe.field, f"Test image {index}: {height}x{width} seen"),
    )
    slope = once(
        subject.key,
        ("field gradient", index, name, probe.unit, probe.seen, probe.field),
        lambda: gradient_figure(measured.gradient, probe.seen, probe.field, "d unit / d pixel"),
    )
    figures[-2].plotly_chart(
        picture, config=CHART_CONFIG, alt=f"Test image {index} with the {height}x{width} square the unit sees"
    )
    figures[-1].plotly_chart(
        slope,
        config=CHART_CONFIG,
        alt=strongest_alt(measured.gradient, "The unit's gradient with respect to each pixel"),
    )
    st.markdown("\n\n".join(probe_text(steps, probe, measured)))


def _unit_map(subject: Subject, probe: Probe, index: int) -> None:
    """The probed layer's map of the unit's filter, the unit marked; a click picks another unit."""
    name, channel = probe.step.name, probe.unit[2]
    outputs = layer_output(subject, index, name)
    figure = once(
        subject.key,
        ("field map", index, name, probe.unit),
        lambda: map_figure(
            outputs[:, :, channel], (probe.unit[0], probe.unit[1]), f"{name}, filter {channel}: click a unit"
        ),
    )
    st.plotly_chart(
        figure,
        key=DEEPER_FIELDS_MAP,
        on_select=functools.partial(select_unit, probe.shape[1]),
        selection_mode="points",
        config=CHART_CONFIG,
        alt=strongest_alt(outputs[:, :, channel], f"{name}, filter {channel}, selected unit {probe.unit}"),
    )


def probe_text(steps: list[FieldStep], probe: Probe, measured: UnitGradient) -> list[str]:
    """What the probe found, a paragraph each: the square the unit sees and its gradient outside and inside it, then
    why the square is clipped, why rows reach no unit, or why gradients are 0, where that applies."""
    (r0, r1), (c0, c1) = probe.seen
    rows, cols = probe.seen
    height, width = r1 - r0 + 1, c1 - c0 + 1
    where = f"unit ({probe.unit[0]}, {probe.unit[1]}), filter {probe.unit[2]}" if len(probe.unit) == 3 else ""
    where = where or f"unit {probe.unit[0]} (every unit of a dense layer sees the same pixels)"
    inside = np.zeros(measured.gradient.shape, dtype=bool)
    inside[r0 : r1 + 1, c0 : c1 + 1] = True
    outside_top = float(np.abs(measured.gradient[~inside]).max()) if (~inside).any() else None
    inside_top = float(np.abs(measured.gradient[inside]).max())
    nonzero = int(np.count_nonzero(measured.gradient[inside]))
    value = "before ReLU" if measured.before_activation else "as the layer outputs it"
    lines = [
        f"**{probe.step.name}, {where}** sees input rows {span_text(rows)} and columns {span_text(cols)}: "
        f"{height}x{width} pixels (field size r = {probe.step.rows.size}, jump j = {probe.step.rows.jump}).",
        f"Its value ({value}) is {measured.value:.4g}. Largest |gradient| **outside** the square: "
        + ("**0 exactly**" if outside_top == 0 else f"{outside_top:.3g}" if outside_top is not None else "none")
        + (" (the square is the whole image)." if outside_top is None else ".")
        + f" Inside: {inside_top:.3g}, nonzero at {nonzero} of {inside.sum()} pixels.",
    ]
    if probe.clipped:
        lines.append(
            f"The field ({probe.step.rows.size}x{probe.step.cols.size}, dotted) reaches past the edge of the image "
            "(or of a layer's map): there a layer saw 'same' padding's zeros, not pixels, so the square is clipped."
        )
    if not probe.step.spatial and (height, width) != probe.image_shape:
        lines.append(
            f"Input rows or columns outside {span_text(rows)} x {span_text(cols)} reach no unit of this layer, and "
            "their gradient is 0: " + "; ".join(dropped_rows(steps[: steps.index(probe.step) + 1])) + "."
        )
    if nonzero == 0:
        lines.append(
            "This unit's gradient is 0 everywhere: every ReLU it depends on is off for this image (or max pooling "
            "picked a 0), so no pixel changes it a little. Pick a unit on the garment or another filter."
        )
    elif nonzero < inside.sum():
        lines.append(
            "Inside the square some gradients are 0 too: ReLUs that are off and max pooling's losing inputs pass "
            "no gradient. The square is what the unit *can* see; the gradient shows what it uses for this image."
        )
    return lines


def _recurrence_section(steps: list[FieldStep], chosen: FieldStep) -> None:
    st.markdown("**The recurrence, layer by layer** (r: field size, j: jump, start: first input row unit 0 sees)")
    records = []
    for step in steps[: steps.index(chosen) + 1]:
        records.append(
            {
                "Layer": step.name,
                "Type": step.kind,
                "Recurrence": step.text,
                "r": step.rows.size,
                "j": step.rows.jump,
                "start": step.rows.start,
            }
        )
    st.table(records)
