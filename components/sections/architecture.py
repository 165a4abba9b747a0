"""The Architecture page's sections: the builder, the totals, the tensor shapes, the layer table, the shares and
the comparison with last week's dense network; the Week 3 tour shows the comparison and the course CNN's shapes.

The figures are built once per design (keyed by its shapes and numbers) and shared read-only.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator  # internal API, written against Streamlit 1.67.0

from components.charts.alt import figure_alt, shape_flow_alt
from components.charts.architecture import comparison_figure, flow_figure, layer_share_figure, shift_figure
from components.framework.links import update_query_params
from components.framework.memo import freeze
from components.framework.phone import on_phone
from components.framework.query_state import BUILDER_CHOICES, config_from_link, config_link
from components.framework.session_keys import ARCHITECTURE_CONFIG, SHAPE_FLOW, architecture_widget
from components.notebooks import notebook_button
from components.presentation import presenting
from components.resources import dense_model_card, model_card, shift_test
from components.sections.training import default_spec
from components.sections.training_runs import file_slug
from models.design.analysis import (
    DENSE_BASELINE,
    LayerRow,
    fitting_stages,
    format_bytes,
    format_count,
    largest_share,
    layer_table_for_config,
    parameter_sharing,
    table_records,
    totals,
)
from models.design.card import ModelFileError
from models.design.config import COURSE_CNN, CNNConfig, ConfigError, shape_text
from models.design.keras_code import keras_code
from models.design.receptive_field import field_labels
from models.training.export import recipe_text

WIDGET_KEYS = {field: architecture_widget(field) for field in BUILDER_CHOICES}
CHART_CONFIG = {"displayModeBar": False}


def set_builder(config: CNNConfig) -> None:
    for field, key in WIDGET_KEYS.items():
        st.session_state[key] = getattr(config, field)


def square(size: int) -> str:
    return f"{size}x{size}"


def builder_section() -> CNNConfig:
    """Sidebar widgets, first filled from the link, else from this session's last build, else the course CNN."""
    if any(key not in st.session_state for key in WIDGET_KEYS.values()):
        base = CNNConfig.from_dict(st.session_state.get(ARCHITECTURE_CONFIG, COURSE_CNN.to_dict()))
        linked, notices = config_from_link(st.query_params.to_dict(), base)
        for notice in notices:
            st.warning(notice, icon=":material/link_off:")
        set_builder(linked)
    with st.expander("Build a CNN", icon=":material/tune:") if presenting() else st.sidebar:  # sidebar is shut
        if not presenting():
            st.header("Build a CNN")
        st.select_slider(
            "Conv blocks (conv, then pool)", BUILDER_CHOICES["conv_blocks"], key=WIDGET_KEYS["conv_blocks"]
        )
        st.select_slider("Filters per conv layer", BUILDER_CHOICES["filters"], key=WIDGET_KEYS["filters"])
        st.radio(
            "Kernel size",
            BUILDER_CHOICES["kernel_size"],
            format_func=square,
            horizontal=True,
            key=WIDGET_KEYS["kernel_size"],
        )
        st.radio("Padding", BUILDER_CHOICES["padding"], horizontal=True, key=WIDGET_KEYS["padding"])
        st.radio("Pooling", BUILDER_CHOICES["pooling"], horizontal=True, key=WIDGET_KEYS["pooling"])
        st.radio(
            "Pool size",
            BUILDER_CHOICES["pool_size"],
            format_func=square,
            horizontal=True,
            key=WIDGET_KEYS["pool_size"],
            disabled=st.session_state[WIDGET_KEYS["pooling"]] == "none",
        )
        st.select_slider("Dense units (0: none)", BUILDER_CHOICES["dense_units"], key=WIDGET_KEYS["dense_units"])
        st.button("Reset to the course CNN", on_click=set_builder, args=(COURSE_CNN,), width="stretch")
        st.caption("The address bar keeps these choices: copy it to share this network.")
    config = CNNConfig(**{field: st.session_state[key] for field, key in WIDGET_KEYS.items()})
    update_query_params(config_link(config))
    return config


def collapse_section(config: CNNConfig, error: ConfigError) -> None:
    st.error(f"**This network cannot be built.** {error}.")
    fits = " -> ".join(shape_text(stage.shape) for stage in fitting_stages(config))
    st.markdown(
        f"What still fits: {fits}. Then the feature map is too small for the next layer. "
        "Use fewer blocks, a smaller kernel, 'same' padding or no pooling."
    )


def totals_section(config: CNNConfig, rows: list[LayerRow]) -> None:
    mine, course = totals(rows), totals(layer_table_for_config(COURSE_CNN))
    changed = config != COURSE_CNN
    columns = st.columns(4)
    columns[0].metric(
        "Parameters",
        format_count(mine.params),
        f"{mine.params - course.params:+,} vs course CNN" if changed else None,
        delta_color="off",
    )
    columns[1].metric(
        "Multiply-accumulates per image",
        format_count(mine.macs),
        f"{mine.macs - course.macs:+,} vs course CNN" if changed else None,
        delta_color="off",
    )
    columns[2].metric("Weights in memory (float32)", format_bytes(mine.weight_bytes))
    columns[3].metric("Activations per image", format_bytes(mine.activation_bytes))


# Figures are built once per design and shared read-only (frozen: st.plotly_chart sends them without a copy).
@st.cache_resource(max_entries=200, show_spinner=False)
def cached_flow_figure(shapes: tuple, labels: tuple, narrow: bool = False) -> go.Figure:
    return freeze(flow_figure(shapes, labels, narrow=narrow))


@st.cache_resource(max_entries=200, show_spinner=False)
def cached_share_figure(
    names: tuple[str, ...], params: tuple[int, ...], macs: tuple[int, ...], stacked: bool = False
) -> go.Figure:
    return freeze(layer_share_figure(names, params, macs, stacked=stacked))


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_comparison_figure(
    names: tuple[str, ...], params: tuple[int, ...], macs: tuple[int, ...], stacked: bool = False
) -> go.Figure:
    return freeze(comparison_figure(names, params, macs, stacked=stacked))


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_shift_figure(
    shifts: tuple[int, ...], lines: tuple[tuple[str, tuple[float, ...]], ...], height: int
) -> go.Figure:
    return freeze(shift_figure(shifts, dict(lines), height=height))


def shapes_section(rows: list[LayerRow], *, narrow: bool = False) -> None:
    """The shape-flow diagram and its caption; `narrow`: drawn in a column, with one-line step labels."""
    st.subheader("The tensor at each stage, drawn to scale")
    figure = cached_flow_figure(tuple(r.output_shape for r in rows), tuple(r.step for r in rows), narrow)
    st.plotly_chart(
        figure,
        width="stretch",
        key=SHAPE_FLOW,
        config=CHART_CONFIG,
        alt=shape_flow_alt([r.output_shape for r in rows], [r.step for r in rows]),
    )
    st.caption(
        "A square's side is the feature map's height in pixels, stacked to show its channels; a bar's height is "
        "the square root of its number of values. With 'valid' padding a 3x3 filter trims one pixel each side, "
        "a 5x5 two, a 7x7 three; 'same' padding keeps the size. Pooling divides by its size and rounds down "
        "(2x2 halves). " + " -> ".join(shape_text(row.output_shape) for row in rows) + "."
    )


def code_section(config: CNNConfig) -> None:
    """The design as Keras code, and model.summary() as Keras prints it (the shipped course CNN's, from its card)."""
    code_tab, summary_tab = st.tabs(["Keras code", "model.summary()"])
    code_tab.code(keras_code(config), language="python", wrap_lines=True)  # no line hidden behind a scrollbar
    code_tab.caption("Running this code builds this network; the table below has every layer's numbers.")
    if not presenting():  # presentation mode shows no download buttons, so no words about one
        spec = default_spec(config)
        with code_tab:
            notebook_button(spec, title=f"My design: {spec.title()}", file_name=f"my-design-{file_slug(spec.title())}")
            st.caption("The notebook trains it with the Training page's default recipe: " + recipe_text(spec) + ".")
    if config != COURSE_CNN:
        summary_tab.markdown(
            "For this design, the table below lists what `model.summary()` prints (each layer, its output shape and "
            "parameters, and the total), computed here without TensorFlow. Reset to the course CNN to see the "
            "shipped model's own `model.summary()`."
        )
        return
    try:
        card = model_card()
    except ModelFileError as error:
        summary_tab.error(str(error))
        return
    summary_tab.code(card["summary"], language=None)
    summary_tab.caption(
        "What `model.summary()` prints for the shipped course CNN (models/fashion_cnn.keras, saved by its training "
        "command). Optimizer params: Adam keeps two running averages per weight (2 x 243,786) plus a step count "
        "and learning rate; they are saved with the model but are not part of the network."
    )


def table_section(rows: list[LayerRow], config: CNNConfig) -> None:
    st.subheader("Every layer, with the arithmetic")
    st.table(table_records(rows, field_labels(config)))
    st.markdown(
        "**Parameters**: a conv filter has k×k×(input channels) weights plus one bias; a dense unit has one weight "
        "per input plus one bias. **Multiply-accumulates (MACs)**: a conv layer applies every filter at every "
        "output position, a dense layer multiplies every input by every unit's weight; pooling, flattening and "
        "biases add none. **Memory**: 4 bytes per number (float32); activations are each layer's output for one image. "
        "**Receptive field**: the square of input pixels one unit sees, r = r_prev + (k - 1) × j_prev, and the jump "
        "j = j_prev × stride between neighbouring units (the Deeper page's Receptive fields tab shows them)."
    )


def shares_section(rows: list[LayerRow]) -> None:
    params_top, params_share = largest_share(rows, "params")
    macs_top, macs_share = largest_share(rows, "macs")
    st.subheader("Where the parameters are, and where the compute is")
    weighted = [row for row in rows if row.params]
    figure = cached_share_figure(
        tuple(r.name for r in weighted), tuple(r.params for r in weighted), tuple(r.macs for r in weighted), on_phone()
    )
    st.plotly_chart(
        figure,
        width="stretch",
        config=CHART_CONFIG,
        alt=figure_alt(figure, "Parameters and multiply-accumulates per layer"),
    )
    st.markdown(
        f"**{params_top}** holds {params_share:.0%} of the parameters; "
        f"**{macs_top}** does {macs_share:.0%} of the multiply-accumulates."
    )


def comparison_section(*, evidence_first: bool = False) -> None:
    """The course CNN against the dense network: accuracies, cost, parameter sharing, the translation test.

    `evidence_first` (the tour on a projector): the accuracies beside the translation test come first, so the
    step's evidence is on the first screen."""
    try:
        cards: dict | None = {"dense": dense_model_card(), "cnn": model_card()}
    except ModelFileError as error:
        st.error(str(error))
        cards = None
    if evidence_first:
        accuracies, shift = st.columns([2, 3], gap="medium")
        if cards is not None:
            _accuracies_section(cards, accuracies, accuracies)
        with shift:
            _shift_test_section(height=240, explained=False)
    st.subheader("Why CNNs? The course CNN against last week's dense network")
    st.markdown(
        "The dense network: Flatten -> Dense 128 (ReLU) -> Dense 10 (softmax). Both were trained the same way "
        "(Adam 0.001, batch 32, 10 epochs, all 60,000 training images) and tested on the 10,000 test images."
    )
    dense_rows, cnn_rows = layer_table_for_config(DENSE_BASELINE), layer_table_for_config(COURSE_CNN)
    dense, cnn = totals(dense_rows), totals(cnn_rows)
    if cards is not None and not evidence_first:
        dense_place, cnn_place = st.columns(2)
        _accuracies_section(cards, dense_place, cnn_place)
    comparison = cached_comparison_figure(
        ("Dense network", "Course CNN"), (dense.params, cnn.params), (dense.macs, cnn.macs), on_phone()
    )
    st.plotly_chart(
        comparison,
        width="stretch",
        config=CHART_CONFIG,
        alt=figure_alt(comparison, "Dense network against course CNN: parameters, then multiply-accumulates"),
    )
    conv_params = sum(r.params for r in cnn_rows if r.kind == "Conv2D")
    conv_macs = sum(r.macs for r in cnn_rows if r.kind == "Conv2D")
    result = ""
    if cards is not None:
        errors = (1 - cards["dense"]["test_accuracy"], 1 - cards["cnn"]["test_accuracy"])
        result = (
            f"For that it gets {cards['cnn']['test_accuracy']:.1%} of the test images right against the dense "
            f"network's {cards['dense']['test_accuracy']:.1%}: {1 - errors[1] / errors[0]:.0%} fewer mistakes. "
        )
    st.markdown(
        f"The CNN has {cnn.params / dense.params:.1f}x the dense network's parameters but does "
        f"{cnn.macs / dense.macs:.0f}x its multiply-accumulates. {result}Its conv layers hold only "
        f"{conv_params:,} parameters ({conv_params / cnn.params:.0%}) yet do {conv_macs / cnn.macs:.0%} of the work: "
        "each small filter is reused at every position, so the network looks for the same pattern everywhere in "
        "the image. The dense network instead gives every unit its own weight for every pixel, so a pattern "
        "learned in one place is not known in another."
    )
    _sharing_section()
    if not evidence_first:
        _shift_test_section()


def _accuracies_section(cards: dict, dense_place: DeltaGenerator, cnn_place: DeltaGenerator) -> None:
    """Both networks' test accuracies (two columns, or one container twice)."""
    gap = cards["cnn"]["test_accuracy"] - cards["dense"]["test_accuracy"]
    dense_place.metric("Dense network: test accuracy", f"{cards['dense']['test_accuracy']:.2%}")
    cnn_place.metric(
        "Course CNN: test accuracy",
        f"{cards['cnn']['test_accuracy']:.2%}",
        f"{100 * gap:+.2f} points",
        delta_color="normal",
    )


def _sharing_section() -> None:
    sharing = parameter_sharing(COURSE_CNN)
    st.markdown(
        f"**Parameter sharing, in numbers.** {sharing.name} turns the {shape_text(sharing.input_shape)} image "
        f"into {shape_text(sharing.output_shape)} with {sharing.conv_params:,} parameters. A Dense layer making "
        f"the same {shape_text(sharing.output_shape)} output from the same input would need "
        f"{sharing.dense_formula.replace('*', '×')} parameters: {sharing.ratio:,.0f}x as many, "
        f"{format_bytes(4 * sharing.dense_params)} of float32 weights for one layer."
    )


def _shift_test_section(*, height: int = 340, explained: bool = True) -> None:
    """The translation test's chart and numbers; `explained`: with the paragraph on why the CNN holds up."""
    st.markdown("**The translation test**: the same test images moved a few pixels (the gap filled with black).")
    try:
        record = shift_test()
    except ModelFileError as error:
        st.error(str(error))
        return
    shifts, models = record["shifts"], record["models"]
    figure = cached_shift_figure(
        tuple(shifts),
        (("Course CNN", tuple(models["cnn"]["mean"])), ("Dense network", tuple(models["dense"]["mean"]))),
        height,
    )
    st.plotly_chart(
        figure,
        width="stretch",
        config=CHART_CONFIG,
        alt=figure_alt(figure, "Test accuracy of both networks at each shift in pixels"),
    )
    st.caption(shift_caption(record))
    if explained:
        st.markdown(
            "The CNN holds up better: its filters find an edge or a corner wherever it is. Neither is immune: after "
            "pooling, the CNN's Dense layers still read where a pattern was found, and no training image was moved."
        )


def shift_caption(record: dict) -> str:
    """One line with the numbers of the translation test: unmoved, 2 pixels and the largest shift."""
    shifts, cnn, dense = record["shifts"], record["models"]["cnn"]["mean"], record["models"]["dense"]["mean"]
    points = [i for i, s in enumerate(shifts) if s in (0, 2, max(shifts))]
    parts = [f"{'unmoved' if shifts[i] == 0 else f'{shifts[i]} px'} {cnn[i]:.1%} vs {dense[i]:.1%}" for i in points]
    return (
        f"Accuracy on all {record['test_images']:,} test images, CNN vs dense network, each image moved right, "
        f"left, down and up (averaged): {'; '.join(parts)}."
    )


# ---------------------------------------------------------------- the Week 3 tour's views


def tour_why_section() -> dict[str, str]:
    """The tour's 'Why CNNs?' step: the comparison; the Architecture page needs no link parameters for it."""
    comparison_section(evidence_first=presenting())
    return {}


def tour_model_section() -> dict[str, str]:
    """The tour's model step: the course CNN's shapes and layer table (the Architecture page's default)."""
    rows = layer_table_for_config(COURSE_CNN)
    if presenting():  # one projector screen: the diagram beside each layer's output and parameters
        diagram, parameters = st.columns([3, 2], gap="medium")
        with diagram:
            shapes_section(rows, narrow=True)
        parameters.table(
            [{"Layer": r["Layer"], "Output": r["Output"], "Parameters": r["Parameters"]} for r in table_records(rows)]
        )
    else:
        shapes_section(rows)
    table_section(rows, COURSE_CNN)
    return {}
