"""Inspect, Feature maps: chosen test images through every conv and pooling layer, then all maps of one layer.

The Week 3 tour's last step shows this section with the shipped model (`tour_section`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import streamlit as st

from components.charts.alt import all_maps_alt, figure_alt
from components.charts.inspect import (
    GridColumn,
    all_maps_figure,
    channel_caption,
    channel_notes,
    image_grid_figure,
    item_label,
    prediction_labels,
)
from components.framework.links import set_values
from components.framework.memo import once
from components.framework.phone import grid_per_row
from components.framework.query_state import link_update
from components.framework.session_keys import (
    INSPECT_CLASS,
    INSPECT_COUNT,
    INSPECT_FILTER,
    INSPECT_INDICES,
    INSPECT_MAP_IMAGE,
    INSPECT_MAP_LAYER,
    INSPECT_MAP_SCALE,
    INSPECT_SOURCE,
)
from components.model_choice import EvaluationSet, Subject, clamp_choices, evaluation_set, shipped_key
from components.presentation import presenting
from components.resources import shipped_model
from components.sections.inspect import CHART_CONFIG, LINK, SOURCES, activations, filter_count, keep_settings
from models.explain import inspection as ins
from models.inputs.images import fingerprint

if TYPE_CHECKING:
    import keras
    import numpy as np
    import plotly.graph_objects as go


def feature_maps_section(subject: Subject) -> list[int] | None:
    """Feature maps of chosen test images, the map with one number in every layer, then all maps of one layer.

    Returns the test images shown, indices into the subject's test set (None after an error)."""
    model = subject.model
    test = evaluation_set(subject)
    x_test, y_test, names = test.images, test.labels, test.class_names
    layers = ins.spatial_layers(model)
    if not layers:
        st.info("This model has no convolution or pooling layers, so it makes no feature maps.")
        return None
    if not presenting():  # on a projector the lecturer says it, and the three rows fit the first screen
        st.markdown(
            "A conv layer has many filters; each makes one **feature map**. Pick some test images and a filter "
            "number: each row is an image, each column a layer's map with that number (bright = strong response). "
            "Items of one class often light up in similar places; a row labelled with another class is a mistake."
        )
    channels = filter_count(model, layers)
    st.session_state[INSPECT_FILTER] = min(st.session_state[INSPECT_FILTER], channels - 1)
    if presenting():  # on a projector the controls sit beside the grid, so its three rows fit the first screen
        controls, place = st.columns([1, 3], gap="medium")
        left = middle = right = controls
    else:
        left, middle, right = st.columns([2, 3, 1.2])
        place = st.container()
    try:
        indices = _chosen_images(_image_source(left, test), middle, test)
    except ins.InspectionError as error:
        st.error(str(error))
        return None
    number = right.number_input(
        "Filter number", 0, channels - 1, step=1, key=INSPECT_FILTER, help="CONVOLUTION_NUMBER in the course notebook"
    )
    outputs = activations(model, indices, [*layers, model.layers[-1].name], test)
    probabilities = outputs[model.layers[-1].name]
    labels, wrong = prediction_labels(indices, y_test, probabilities, names, subject.class_names)
    kinds = [(name, type(model.get_layer(name)).__name__) for name in layers]
    cell = 88 if presenting() else 150  # pixels per map: on a projector three rows fit the first screen
    per_row = grid_per_row()
    # Kept per model, test set, images, filter number and size: the labels and maps follow from them.
    question = (
        "maps grid",
        test.fashion,
        test.size,
        tuple(map(int, indices)),
        int(number),
        tuple(layers),
        cell,
        per_row,
    )
    grid = functools.partial(maps_grid_figure, x_test[indices], outputs, kinds, int(number), labels, cell, per_row)
    grid_figure = once(subject.key, question, grid)
    place.plotly_chart(
        grid_figure,
        config=CHART_CONFIG,
        alt=figure_alt(grid_figure, f"Filter {number}'s feature maps of each test image"),
    )
    place.caption(
        channel_caption([(name, kind, weights_shape(model.get_layer(name))) for name, kind in kinds], number)
        + grid_caption(names, subject.class_names, wrong)
    )
    _all_maps_section(model, test, indices, layers, outputs)
    return indices


def maps_grid_figure(
    images: np.ndarray,
    outputs: dict,
    kinds: list[tuple[str, str]],
    number: int,
    labels: list[str],
    cell: int,
    per_row: int | None = None,
) -> go.Figure:
    """The images (uint8) in the first column, then each layer's map `number` of each image, a row an image."""
    columns = [GridColumn("input 28x28", images / 255.0, "image")]
    columns += [
        GridColumn(f"{name} {outputs[name].shape[1]}x{outputs[name].shape[2]}<br>{note}", outputs[name][..., number])
        for (name, _), note in zip(kinds, channel_notes(kinds, number))
    ]
    return image_grid_figure(images / 255.0, columns, labels, cell=cell, per_row=per_row)


def _image_source(where, test: EvaluationSet) -> str:
    """Where the images come from: the course trio (Fashion-MNIST's test set only), a class's first, or by index."""
    sources = SOURCES if test.fashion else SOURCES[1:]  # the course trio are Fashion-MNIST test images
    if st.session_state[INSPECT_SOURCE] not in sources:
        st.session_state[INSPECT_SOURCE] = sources[0]
    clamp_choices(test, INSPECT_CLASS)
    return where.radio("Images", sources, key=INSPECT_SOURCE)


def _chosen_images(source: str, where, test: EvaluationSet) -> list[int]:
    """The test images `source` names, with its controls in `where`; InspectionError for indices it cannot read."""
    if source == "Course trio":
        indices = list(ins.COURSE_TRIO)
        where.markdown(f"As in the course notebook: test images {', '.join(map(str, indices))}, three ankle boots.")
        return indices
    if source == "First images of a class":
        names = test.class_names
        chosen = where.selectbox("Class", range(len(names)), format_func=names.__getitem__, key=INSPECT_CLASS)
        count = where.slider("How many", 2, 6, key=INSPECT_COUNT)
        return list(ins.first_of_class(test.labels, chosen, count))
    text = where.text_input(test.index_label(6), key=INSPECT_INDICES)
    return ins.parse_indices(text, len(test.labels))


def grid_caption(names: tuple[str, ...], model_names: tuple[str, ...], wrong: list[str]) -> str:
    """The grid caption after its layers' note: the colour range, what a row label says (`names`: the test set's
    classes, `model_names`: the model's) and the misclassified rows."""
    return (
        " One colour range per column; hover for values. "
        + (
            "Row labels: test index, true class → predicted class and its probability."
            if names == model_names
            else "Row labels: test index, its Fashion-MNIST class → this model's answer among its own "
            f"{len(model_names)} classes and its probability."
        )
        + (
            f" Misclassified: {', '.join(wrong)}; compare {'its' if len(wrong) == 1 else 'their'} maps with the others."
            if wrong
            else ""
        )
    )


def weights_shape(layer: keras.layers.Layer) -> str:
    """A conv layer's weights per filter, e.g. "3x3x32" (k x k x input channels); "" for other layers."""
    kernel = getattr(layer, "kernel", None)
    return "" if kernel is None else "x".join(str(size) for size in kernel.shape[:3])


def _all_maps_section(
    model: keras.Model, test: EvaluationSet, indices: list[int], layers: list[str], outputs: dict
) -> None:
    """Every feature map of one layer for one of the shown images."""
    st.subheader(f"All {filter_count(model, layers)} feature maps of one layer")
    left, right = st.columns([1, 3])
    if st.session_state[INSPECT_MAP_IMAGE] >= len(indices):
        st.session_state[INSPECT_MAP_IMAGE] = 0
    if st.session_state[INSPECT_MAP_LAYER] not in layers:
        st.session_state[INSPECT_MAP_LAYER] = layers[0]
    position = left.radio(
        "Image",
        range(len(indices)),
        key=INSPECT_MAP_IMAGE,
        format_func=lambda k: item_label(indices[k], test.labels, test.class_names),
    )
    layer = left.radio("Layer", layers, key=INSPECT_MAP_LAYER)
    per_map = left.toggle("Own colour range per map", key=INSPECT_MAP_SCALE)
    maps = outputs[layer][position]
    left.caption(
        f"{layer}: {maps.shape[0]}x{maps.shape[1]} pixels x {maps.shape[2]} filters. "
        f"{int((maps.max(axis=(0, 1)) == 0).sum())} filters stay 0 (ReLU) on this image."
    )
    right.plotly_chart(
        once(
            fingerprint(maps),
            ("all maps", layer, per_map),  # not redrawn for a new filter number
            functools.partial(all_maps_figure, maps, layer, per_map=per_map),
        ),
        config=CHART_CONFIG,
        alt=all_maps_alt(maps, layer),
    )


def tour_section() -> dict[str, str]:
    """The Week 3 tour's feature-map step: this section with the shipped model; returns the full page's link."""
    keep_settings()
    shown = feature_maps_section(Subject(shipped_key(), shipped_model()))
    return {} if shown is None else set_values(link_update({"images": tuple(shown)}, LINK))
