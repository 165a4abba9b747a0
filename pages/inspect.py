"""Inspect: feature maps, learned filters, test-set evaluation, explanations and embeddings of a trained CNN."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from components.charts.inspect import (
    GridColumn,
    all_maps_figure,
    clicked_cell,
    confusion_figure,
    embedding_figure,
    gallery_figure,
    image_grid_figure,
    item_label,
    kernel_gallery_figure,
    kernel_notes,
    kernels_caption,
    prediction_labels,
    probability_figure,
    projection_text,
    why_text,
)
from components.links import read_page_link, update_query_params
from components.memo import once
from components.page import start_page
from components.query_state import Choice, Indices, Link, link_update
from components.resources import fashion_mnist, filter_snapshots, model_card, shipped_model
from components.training_jobs import learner_runs
from models import inspection as ins
from models.card import SHIPPED_MODEL, ModelFileError
from models.data import CLASS_NAMES
from models.images import fingerprint

if TYPE_CHECKING:
    import keras

CHART_CONFIG = {"displayModeBar": False}
TAB_SLUGS = {
    "maps": "Feature maps",
    "filters": "Learned filters",
    "evaluation": "Evaluation",
    "why": "Why this prediction",
    "embedding": "Embedding",
}  # ?tab= -> tab label
TABS = list(TAB_SLUGS.values())
SOURCES = ["Course trio", "First images of a class", "By index"]
WEIGHTS = ["After training", "At initialisation (random)"]
PROJECTIONS = ["PCA: all 10,000 test images", "t-SNE: 1,000 test images"]
TSNE_SIZE = 1_000
PREDICTED = -1  # "explain the predicted class" in the class choice
# Widget values kept while their tab is closed (Streamlit forgets the state of widgets not drawn in a run).
DEFAULTS = {
    "inspect_source": SOURCES[0],
    "inspect_class": 9,
    "inspect_count": 3,
    "inspect_indices": "0, 23, 28",
    "inspect_filter": 1,
    "inspect_map_image": 0,
    "inspect_map_layer": "conv1",
    "inspect_map_scale": False,
    "inspect_weights": WEIGHTS[0],
    "inspect_true": 0,
    "inspect_pred": 6,
    "inspect_cell_count": 4,
    "inspect_cell_filter": 1,
    "inspect_index": 23,
    "inspect_class_to_explain": PREDICTED,
    "inspect_projection": PROJECTIONS[0],
}

LINK = {"tab": Choice(tuple(TAB_SLUGS), "maps"), "images": Indices(10_000, 6, ins.COURSE_TRIO)}


def keep_settings() -> None:
    """Give every setting its default once, and keep the values while their tab is closed."""
    for key, value in DEFAULTS.items():
        st.session_state[key] = st.session_state.get(key, value)


def open_link(link: Link) -> None:
    """Open the tab and the test images a link names."""
    st.session_state["inspect_tab"] = TAB_SLUGS[link["tab"]]
    if "images" in link.linked:
        st.session_state["inspect_source"] = SOURCES[2]
        st.session_state["inspect_indices"] = ", ".join(str(i) for i in link["images"])


def class_name(index: int) -> str:
    return CLASS_NAMES[index]


# ---------------------------------------------------------------- model choice and cached results


def choose_model() -> tuple[str, keras.Model]:
    """The shipped model or a Training-page run: (cache key, Keras model)."""
    runs = learner_runs()
    try:
        shipped_label = f"Shipped course CNN ({model_card()['test_accuracy']:.2%} test accuracy)"
    except ModelFileError:
        shipped_label = "Shipped course CNN"
    labels = [shipped_label]
    for run in runs:
        accuracy = f", {run.test_accuracy:.2%} test accuracy" if run.test_accuracy is not None else ""
        labels.append(f"Training run: {run.name}{accuracy}")
    if st.session_state.get("inspect_model", 0) >= len(labels):
        st.session_state["inspect_model"] = 0
    if len(labels) == 1:
        st.caption(f"Model: {shipped_label}. Runs you train on the Training page appear here too.")
        choice = 0
    else:
        choice = st.selectbox("Model", range(len(labels)), format_func=labels.__getitem__, key="inspect_model")
    if choice == 0:
        return f"shipped:{SHIPPED_MODEL}:{SHIPPED_MODEL.stat().st_mtime_ns}", shipped_model()
    run = runs[choice - 1]
    return f"run:{run.folder}", run.model


# Results are kept per model key (the shipped file and its time, or a saved run's folder: never id(model), which a
# later model can reuse) and shared read-only by every session; `once` keeps outputs, heat maps and figures.


@st.cache_resource(show_spinner="Evaluating the model on the 10,000 test images...", max_entries=4)
def evaluation_for(model_key: str, _model, _images: np.ndarray, _labels: np.ndarray) -> tuple[ins.Evaluation, str]:
    """One predict pass per model, and the fingerprint of its embedding (the key of its projections)."""
    result = ins.evaluate(_model, _images, _labels)
    return result, fingerprint(result.embedding)


@st.cache_data(show_spinner="Projecting the embedding...", max_entries=8)
def pca_for(embedding_key: str, _embedding: np.ndarray) -> ins.Projection:
    return ins.pca(_embedding)


@st.cache_data(show_spinner="Running t-SNE on 1,000 test images (a few seconds, once per model)...", max_entries=4)
def tsne_for(embedding_key: str, size: int, _embedding: np.ndarray) -> tuple[np.ndarray, ins.Projection]:
    chosen = ins.subset(len(_embedding), size)
    return chosen, ins.tsne(_embedding[chosen])


@dataclass(frozen=True, eq=False)
class Subject:
    """The model being inspected and the key its cached results are stored under."""

    key: str
    model: keras.Model


def activations(model: keras.Model, indices, layers: list[str]) -> dict:
    """`ins.layer_activations` of these test images, once per model weights (the tour passes a bare model)."""
    (_, _), (x_test, _) = fashion_mnist()
    return once(
        fingerprint(*model.get_weights()),
        ("maps", tuple(map(int, indices)), *layers),
        functools.partial(ins.layer_activations, model, x_test[indices], layers),
    )


def explained(subject: Subject, method: str, indices, *args) -> ins.Explanation:
    """`ins.saliency` or `ins.grad_cam` (`method`) of these test images, once per model and arguments."""
    (_, _), (x_test, _) = fashion_mnist()
    compute = functools.partial(getattr(ins, method), subject.model, x_test[list(indices)], *args)
    return once(subject.key, (method, tuple(map(int, indices)), *args), compute)


def filter_count(model: keras.Model, layers: list[str]) -> int:
    """Filters every conv and pooling layer has (the smallest channel count)."""
    return min(model.get_layer(name).output.shape[-1] for name in layers)


# ---------------------------------------------------------------- tabs


def feature_maps_tab(model: keras.Model) -> list[int] | None:
    """Feature maps of chosen test images, one filter through every layer, then all maps of one layer.

    Returns the test images shown (None after an error)."""
    (_, _), (x_test, y_test) = fashion_mnist()
    layers = ins.spatial_layers(model)
    if not layers:
        st.info("This model has no convolution or pooling layers, so it makes no feature maps.")
        return None
    st.markdown(
        "A conv layer has many filters; each makes one **feature map**. Pick some test images and one filter: "
        "each row is an image, each column a layer (bright = strong response). Items of one class light up "
        "the same places."
    )
    channels = filter_count(model, layers)
    st.session_state["inspect_filter"] = min(st.session_state["inspect_filter"], channels - 1)
    left, middle, right = st.columns([2, 3, 1.2])
    source = left.radio("Images", SOURCES, key="inspect_source")
    try:
        if source == "Course trio":
            indices = list(ins.COURSE_TRIO)
            middle.markdown(
                f"As in the course notebook: test images {', '.join(map(str, indices))}, three ankle boots."
            )
        elif source == "First images of a class":
            chosen = middle.selectbox("Class", range(len(CLASS_NAMES)), format_func=class_name, key="inspect_class")
            count = middle.slider("How many", 2, 6, key="inspect_count")
            indices = list(ins.first_of_class(y_test, chosen, count))
        else:
            text = middle.text_input("Test image indices (0-9999, up to 6)", key="inspect_indices")
            indices = ins.parse_indices(text, len(y_test))
    except ins.InspectionError as error:
        st.error(str(error))
        return None
    number = right.number_input(
        "Filter number", 0, channels - 1, step=1, key="inspect_filter", help="CONVOLUTION_NUMBER in the course notebook"
    )
    outputs = activations(model, indices, [*layers, model.layers[-1].name])
    probabilities = outputs[model.layers[-1].name]
    labels, wrong = prediction_labels(indices, y_test, probabilities, CLASS_NAMES)
    columns = [GridColumn("input 28x28", x_test[indices] / 255.0, "image")]
    columns += [
        GridColumn(f"{name} {outputs[name].shape[1]}x{outputs[name].shape[2]}", outputs[name][..., number])
        for name in layers
    ]
    st.plotly_chart(image_grid_figure(x_test[indices] / 255.0, columns, labels), config=CHART_CONFIG)
    st.caption(
        f"Filter {number} after each layer. One colour range per column; hover for values. "
        "Row labels: test index, true class → predicted class and its probability."
        + (
            f" Misclassified: {', '.join(wrong)}; compare {'its' if len(wrong) == 1 else 'their'} maps with the others."
            if wrong
            else ""
        )
    )

    st.subheader(f"All {channels} feature maps of one layer")
    left, right = st.columns([1, 3])
    if st.session_state["inspect_map_image"] >= len(indices):
        st.session_state["inspect_map_image"] = 0
    if st.session_state["inspect_map_layer"] not in layers:
        st.session_state["inspect_map_layer"] = layers[0]
    position = left.radio(
        "Image",
        range(len(indices)),
        key="inspect_map_image",
        format_func=lambda k: item_label(indices[k], y_test, CLASS_NAMES),
    )
    layer = left.radio("Layer", layers, key="inspect_map_layer")
    per_map = left.toggle("Own colour range per map", key="inspect_map_scale")
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
    )
    return indices


def learned_filters_tab(subject: Subject) -> None:
    try:
        trained = ins.first_layer_kernels(subject.model)
    except ins.InspectionError as error:
        st.info(str(error))
        return
    initial = None
    if subject.key.startswith("shipped:"):
        try:
            snapshots = filter_snapshots()
        except ModelFileError as error:
            st.warning(str(error))
        else:
            if np.array_equal(ins.snapshot_kernels(snapshots[-1]), trained):
                initial = ins.snapshot_kernels(snapshots[0])
            else:
                st.warning("The saved filter snapshots do not match the model file, so the initial weights are hidden.")
    count, size = trained.shape[0], trained.shape[1]
    if size == 3:
        groups = once(subject.key, ("groups", "trained"), functools.partial(ins.group_kernels, trained))
        rows, notes = [(group.name, group.indices) for group in groups], kernel_notes(groups, count)
        st.markdown(
            f"The first layer's {count} {size}x{size} kernels, grouped by the library kernel of the Filters page "
            f"each resembles most (cosine similarity of the weights after removing their mean; a negative "
            f"cosine means the inverted pattern; below {ins.MATCH_THRESHOLD} counts as no close match). "
            "Hover a kernel for its weights. Blue is negative, red positive."
        )
    else:
        rows, notes = [("All filters", tuple(range(count)))], [""] * count
        st.markdown(f"The first layer's {count} {size}x{size} kernels, by filter number. Hover for the weights.")
    options = WEIGHTS if initial is not None else WEIGHTS[:1]
    if st.session_state["inspect_weights"] not in options:
        st.session_state["inspect_weights"] = WEIGHTS[0]
    shown = st.segmented_control("Weights", options, key="inspect_weights", required=True)
    kernels = initial if shown == WEIGHTS[1] else trained
    gallery = once(subject.key, ("kernels", shown), functools.partial(kernel_gallery_figure, kernels, rows, notes))
    st.plotly_chart(gallery, config=CHART_CONFIG)
    if initial is None:
        st.caption("Initial weights are saved only for the shipped model (models/fashion_cnn.filters.npz).")
        return
    groups = {
        when: once(subject.key, ("groups", when), functools.partial(ins.group_kernels, kernels))
        for when, kernels in (("initial", initial), ("trained", trained))
    }
    typical = [float(np.median([abs(s) for group in groups[when] for s in group.scores])) for when in groups]
    st.caption(kernels_caption(initial, trained, len(snapshots) - 1, typical))


def select_confusion_cell() -> None:
    """Chart click -> the (true, predicted) select boxes."""
    points = st.session_state["inspect_confusion"]["selection"]["points"]
    if points:
        st.session_state["inspect_true"], st.session_state["inspect_pred"] = clicked_cell(points[0], len(CLASS_NAMES))


def open_in_why(index: int) -> None:
    st.session_state["inspect_index"] = index
    st.session_state["inspect_tab"] = "Why this prediction"


def evaluation_tab(subject: Subject) -> None:
    (_, _), (x_test, y_test) = fashion_mnist()
    model, result = subject.model, evaluation_for(subject.key, subject.model, x_test, y_test)[0]
    metrics = ins.class_metrics(result.confusion)
    left, middle, right = st.columns(3)
    left.metric("Test accuracy", f"{result.accuracy:.2%}")
    middle.metric("Mistakes", f"{result.mistakes:,} of {len(result.labels):,}")
    right.metric(
        "Prediction pass",
        f"{result.seconds:.1f} s",
        help="One predict pass over the 10,000 test "
        "images that also returns the hidden-layer outputs; cached until the model changes.",
    )
    chart, table = st.columns([3, 2])
    with chart:
        st.markdown(
            "**Confusion matrix**: rows are the true class, columns the prediction. "
            "Click a cell (or choose below) to see those images."
        )
        selected = (st.session_state["inspect_true"], st.session_state["inspect_pred"])
        confusion = once(
            subject.key,
            ("confusion", selected),
            functools.partial(confusion_figure, result.confusion, CLASS_NAMES, selected),
        )
        st.plotly_chart(
            confusion,
            key="inspect_confusion",
            on_select=select_confusion_cell,
            selection_mode="points",
            config=CHART_CONFIG,
        )
    with table:
        st.markdown(
            "**Per class**: precision = right among those predicted as the class; recall = found among "
            "those truly of the class; F1 = their harmonic mean."
        )
        frame = pd.DataFrame(
            {
                "class": CLASS_NAMES,
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
        st.markdown(f"Hardest class: **{CLASS_NAMES[worst]}** (F1 {metrics.f1[worst]:.3f}).")

    st.subheader("Images of one cell")
    left, middle, right, last = st.columns(4)
    true_class = left.selectbox("True class", range(len(CLASS_NAMES)), format_func=class_name, key="inspect_true")
    predicted = middle.selectbox("Predicted as", range(len(CLASS_NAMES)), format_func=class_name, key="inspect_pred")
    found = ins.cell_images(result, true_class, predicted)
    if found.size == 0:
        st.info(f"No {CLASS_NAMES[true_class]} test image is predicted as {CLASS_NAMES[predicted]}.")
    else:
        show = right.slider("Images shown", 1, min(8, found.size), key="inspect_cell_count") if found.size > 1 else 1
        show = min(show, found.size)
        layers = ins.spatial_layers(model)
        channels = filter_count(model, layers) if layers else 1
        st.session_state["inspect_cell_filter"] = min(st.session_state["inspect_cell_filter"], channels - 1)
        number = last.number_input(
            "Filter for the feature maps", 0, channels - 1, step=1, key="inspect_cell_filter", disabled=not layers
        )
        verdict = "correctly classified" if true_class == predicted else f"predicted as {CLASS_NAMES[predicted]}"
        shown = "it is" if found.size == 1 else f"the {show} most confident are"
        st.markdown(
            f"**{found.size:,}** {CLASS_NAMES[true_class]} test image{'s' * (found.size > 1)} "
            f"{'are' if found.size > 1 else 'is'} {verdict}; {shown} shown with saliency and Grad-CAM "
            f"for the predicted class, and the feature maps of filter {number}."
        )
        drill_down(subject, found[:show], layers, number, result)
        pick = st.selectbox("Look at one closely", found[:show], format_func=lambda i: f"test image #{i}")
        if st.button("Open it in Why this prediction", on_click=open_in_why, args=(int(pick),)):
            st.rerun()  # the tabs are outside this tab's fragment: the whole page opens the other tab

    st.subheader("Most confident mistakes")
    worst = ins.most_confident_mistakes(result, 12)
    titles = [
        f"#{i} {CLASS_NAMES[result.labels[i]]}<br>→ {CLASS_NAMES[result.predictions[i]]} {result.confidences[i]:.1%}"
        for i in worst
    ]
    st.plotly_chart(
        once(subject.key, ("mistakes",), functools.partial(gallery_figure, x_test[worst] / 255.0, titles)),
        config=CHART_CONFIG,
    )
    st.caption("True class, then → the prediction and its probability. Would you have labelled them the same way?")


def drill_down(subject: Subject, indices: np.ndarray, layers: list[str], number: int, result: ins.Evaluation) -> None:
    (_, _), (x_test, y_test) = fashion_mnist()
    images = x_test[indices]
    columns = [
        GridColumn("input", images / 255.0, "image"),
        GridColumn("saliency", explained(subject, "saliency", indices).maps, "heat"),
    ]
    if layers:
        columns.append(GridColumn("Grad-CAM", explained(subject, "grad_cam", indices).maps, "heat"))
        outputs = activations(subject.model, indices, layers)
        columns += [GridColumn(name, outputs[name][..., number]) for name in layers]
    labels = [item_label(int(i), y_test, CLASS_NAMES, result) for i in indices]
    st.plotly_chart(image_grid_figure(images / 255.0, columns, labels, cell=140), config=CHART_CONFIG)


def why_tab(subject: Subject) -> None:
    (_, _), (x_test, y_test) = fashion_mnist()
    model = subject.model
    try:
        layer = ins.last_conv_layer(model)
    except ins.InspectionError:
        layer = None
    st.markdown(why_text(layer, layer and tuple(model.get_layer(layer).output.shape[1:3])))
    left, right = st.columns([1, 2])
    index = left.number_input("Test image index (0-9999)", 0, len(y_test) - 1, step=1, key="inspect_index")
    options = [PREDICTED, *range(len(CLASS_NAMES))]
    explain = left.selectbox(
        "Explain the score of",
        options,
        key="inspect_class_to_explain",
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


def embedding_tab(subject: Subject) -> None:
    (_, _), (x_test, y_test) = fashion_mnist()
    result, embedding_key = evaluation_for(subject.key, subject.model, x_test, y_test)
    st.markdown(
        f"Every test image becomes {result.embedding.shape[1]} numbers in the `{result.embedding_layer}` layer, "
        "the last before the output. A 2-D projection shows which classes the network keeps apart and "
        "which it mixes. Hover for the item; click a point to see it."
    )
    method = st.radio("Projection", PROJECTIONS, key="inspect_projection", horizontal=True)
    if method == PROJECTIONS[0]:
        chosen, projection = np.arange(len(result.labels)), pca_for(embedding_key, result.embedding)
    else:
        chosen, projection = tsne_for(embedding_key, TSNE_SIZE, result.embedding)
    axes, note = projection_text(projection, len(chosen))
    plot, item = st.columns([4, 1])
    with plot:
        figure = once(
            embedding_key,
            ("projection", method),
            lambda: embedding_figure(
                projection.coordinates,
                result.labels[chosen],
                result.predictions[chosen],
                [f"{result.confidences[i]:.0%}" for i in chosen],
                chosen,
                CLASS_NAMES,
                axis_titles=axes,
            ),
        )
        event = st.plotly_chart(
            figure,
            key=f"inspect_embedding_{method[:3]}",
            on_select="rerun",
            selection_mode="points",
            config=CHART_CONFIG,
        )
        st.caption(note)
    points = event.selection.points if event else []
    with item:
        if not points:
            st.markdown("Click a point to see the item here.")
            return
        index = int(points[0]["customdata"])
        label = item_label(index, y_test, CLASS_NAMES, result)
        st.plotly_chart(
            gallery_figure(x_test[index : index + 1] / 255.0, [label], per_row=1, cell=230), config=CHART_CONFIG
        )
        if st.button("Why this prediction?", on_click=open_in_why, args=(index,), key="inspect_embedding_why"):
            st.rerun()  # the tabs are outside this tab's fragment


@st.fragment
def tab_section(slug: str, subject: Subject) -> None:
    """One tab's contents: its widgets rerun only this tab, and the address bar follows them."""
    if slug != "maps":
        {"filters": learned_filters_tab, "evaluation": evaluation_tab, "why": why_tab, "embedding": embedding_tab}[
            slug
        ](subject)
        return
    shown = feature_maps_tab(subject.model)
    update_query_params(link_update({"tab": slug, "images": None if shown is None else tuple(shown)}, LINK))


if __name__ == "__main__":
    start_page(
        "Inspect",
        "What happens inside the trained network: the feature maps its filters produce, the filters themselves, "
        "where it goes wrong on the 10,000 test images, which pixels drive a prediction, and how its last hidden "
        "layer arranges the classes.",
    )
    link = read_page_link(LINK)
    keep_settings()
    if "inspect_tab" not in st.session_state:  # the page has just been opened: the link sets the view
        open_link(link)
    subject = Subject(*choose_model())
    tabs = st.tabs(TABS, key="inspect_tab", on_change="rerun")
    for slug, tab in zip(TAB_SLUGS, tabs):
        if tab.open:
            with tab:
                tab_section(slug, subject)
            if slug != "maps":  # other tabs leave ?images= as it is
                update_query_params(link_update({"tab": slug}, LINK))
