"""The Predict page's sections: the picture (an example photo, a drawing, an upload or a snapshot), the
preprocessing switches, each step from picture to network input, the prediction, the feature maps of this
input and the training images it looks most like.

The network's numbers are computed apart from the drawing (`classify`); figures are built once per model key
and input fingerprint (components.framework.memo.once); the neighbour index is read from the file stored beside the
model (models.explain.neighbours): the web server never embeds the training images.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from components.charts.alt import all_maps_alt, figure_alt, pictures_alt, prediction_alt, steps_alt
from components.charts.inspect import gallery_figure
from components.charts.predict import (
    DISPLAY_SIDE,
    HOVER_LIMIT,
    feature_map_figures,
    neighbours_caption,
    steps_figure,
    top_k_figure,
)
from components.framework.memo import once
from components.framework.phone import grid_per_row, on_phone
from components.framework.session_keys import (
    PREDICT_BRUSH,
    PREDICT_CAMERA,
    PREDICT_CANVAS,
    PREDICT_CROP,
    PREDICT_DARKEN,
    PREDICT_EXAMPLE,
    PREDICT_FILTER,
    PREDICT_INVERT,
    PREDICT_LAYER,
    PREDICT_UPLOAD,
)
from components.image_picker import UPLOAD_TYPES, decode_upload
from components.resources import fashion_mnist
from components.training_jobs import run_store
from models.design.card import SHIPPED_MODEL
from models.explain.neighbours import (
    INDEX_SIZE,
    NEIGHBOURS_FILE,
    SHIPPED_NEIGHBOURS,
    NeighbourFileError,
    NeighbourIndex,
    build_apart,
    nearest,
    read_index,
)
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.images import ImageError, fingerprint
from models.inputs.preprocess import Invert, Preprocessed, PreprocessError, Step, photo_like, preprocess
from models.training.job_protocol import MODEL_FILE

CHART_CONFIG = {"displayModeBar": False}
SOURCES = ["Examples", "Draw", "Upload", "Camera"]
INVERT_LABELS: dict[str, Invert] = {"Auto": "auto", "On": "on", "Off": "off"}
EXAMPLE_SPOTS = [(20, 30), (60, 130), (30, 110), (70, 40), (15, 140), (50, 80)]  # (top, left) on the "photo"
NEIGHBOURS = 8
CANVAS_LABEL = "Drawing area, 280 x 280 pixels, for a mouse, finger or pen; by keyboard, choose another picture source."
DRAW_PROMPT = "Draw an item with the mouse (a T-shirt, trousers, a bag ...); fill it in."
TOP_K = 5


# ---------------------------------------------------------------- computed once, or apart from the drawing


def neighbour_files(model_key: str) -> tuple[Path, Path]:
    """(model file, neighbour index file) of the model `model_key` names (components.sections.inspect's Subject key)."""
    if model_key.startswith("run:"):
        folder = Path(model_key.removeprefix("run:"))
        return folder / MODEL_FILE, folder / NEIGHBOURS_FILE
    return SHIPPED_MODEL, SHIPPED_NEIGHBOURS


@st.cache_resource(show_spinner=False, max_entries=16)  # about 6 MB each, read in tens of ms
def neighbour_index(model_key: str, _model) -> NeighbourIndex:
    """The model's nearest-neighbour index, read from the file `make model` or `build_apart` stored;
    NeighbourFileError (not cached) when there is none that fits this model."""
    from models.explain.inspection import weights_key  # TensorFlow, as the page's model already is

    (x_train, y_train), _ = fashion_mnist()
    return read_index(neighbour_files(model_key)[1], weights_key(_model), x_train, y_train)


def stored_neighbour_index(model_key: str, model) -> NeighbourIndex | None:
    """The index of `model_key`; a learner's run or upload without one (or with a damaged one) has it built first in
    a child process with limits, while the page says so. None, after a message, when it cannot be."""
    try:
        return neighbour_index(model_key, model)
    except NeighbourFileError as missing:
        model_file, output = neighbour_files(model_key)
        try:
            with st.spinner(
                f"{missing} Embedding {INDEX_SIZE:,} training images in a separate process, once for this model..."
            ):
                build_apart(model_file, output, run_store().root)
            return neighbour_index(model_key, model)
        except NeighbourFileError as error:
            st.warning(f"The nearest training images cannot be shown for this model: {error}", icon=":material/error:")
            return None


@st.cache_data(show_spinner=False, max_entries=len(CLASS_NAMES))
def example_photo(class_index: int) -> tuple[np.ndarray, int]:
    """The first test image of a class as a 'photo': dark on light paper, enlarged, off-centre."""
    from models.explain.inspection import first_of_class  # TensorFlow: only the Predict page, which needs the model

    _, (x_test, y_test) = fashion_mnist()
    index = int(first_of_class(y_test, class_index, 1)[0])
    spot = EXAMPLE_SPOTS[class_index % len(EXAMPLE_SPOTS)]
    return photo_like(x_test[index], position=spot, seed=index), index


@dataclass(frozen=True, eq=False)
class Classification:
    """One network pass over an input: every layer output the page shows, and how long the pass took."""

    outputs: dict[str, np.ndarray]
    spatial: list[str]  # the layers with feature maps
    embedding: str  # the layer whose output finds the nearest training images
    output: str  # the softmax layer
    milliseconds: float

    @property
    def probabilities(self) -> np.ndarray:
        return self.outputs[self.output][0]

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())


def classify(model, pixels: np.ndarray) -> Classification:
    """Probabilities, feature maps and embedding of one network input, in one pass."""
    from models.explain.inspection import embedding_layer, layer_activations, spatial_layers  # TensorFlow, as above

    spatial = spatial_layers(model)
    embedding, output = embedding_layer(model), model.layers[-1].name
    start = time.perf_counter()
    outputs = layer_activations(model, pixels, [*spatial, embedding, output])
    return Classification(outputs, spatial, embedding, output, (time.perf_counter() - start) * 1000)


# ---------------------------------------------------------------- the picture and the switches


def picture(source: str) -> tuple[np.ndarray, str] | None:
    """The chosen picture as float (H, W, 3) in [0, 1] and a caption; None (with a message) if there is none."""
    if source == "Examples":
        class_index = st.selectbox(
            "Example", range(len(CLASS_NAMES)), format_func=CLASS_NAMES.__getitem__, key=PREDICT_EXAMPLE
        )
        image, index = example_photo(class_index)
        return image, (
            f"Test image #{index} ({CLASS_NAMES[class_index]}) made to look like a photo: dark on light "
            "paper, enlarged, off-centre, unevenly lit, a little noise."
        )
    if source == "Draw":
        data = drawing(PREDICT_BRUSH, PREDICT_CANVAS)
        caption = "Your drawing. Fill the shape in: Fashion-MNIST items are solid silhouettes."
        if data is None:
            return None
    elif source == "Upload":
        file = st.file_uploader("Image file (PNG, JPEG, WebP, BMP, GIF, TIFF)", type=UPLOAD_TYPES, key=PREDICT_UPLOAD)
        if file is None:
            st.info("Choose a photo of one clothing item on a plain background.", icon=":material/upload:")
            return None
        data, caption = file.getvalue(), f"Uploaded {file.name!r}."
    else:
        shot = st.camera_input("Take a snapshot of one item on a plain background", key=PREDICT_CAMERA)
        if shot is None:
            return None
        data, caption = shot.getvalue(), "Your snapshot."
    try:
        pixels, notes = decode_upload(data, False)
    except ImageError as error:
        st.error(str(error))
        return None
    return pixels, caption + (" " + "; ".join(notes) + "." if notes else "")


def drawing(brush_key: str, canvas_key: str, *, prompt: str = DRAW_PROMPT) -> bytes | None:
    """A brush-size slider and a 280x280 canvas (black on white); the drawing as PNG bytes, or None (with the
    prompt saying what to draw) while it is empty. The Deeper page's Fooling tab and the Training page's dataset
    builder draw one too, with their own keys."""
    # imported here: the canvas registers itself with a running Streamlit server, so importing it anywhere
    # else (a test, a plain interpreter) fails
    from streamlit_drawable_canvas import st_canvas

    brush = st.slider("Brush size", 6, 40, 22, key=brush_key)
    st.caption(CANVAS_LABEL)  # the canvas itself takes no accessible name (README, Accessibility)
    canvas = st_canvas(
        stroke_width=brush,
        stroke_color="#000000",
        background_color="#ffffff",
        height=280,
        width=280,
        return_image_data=True,
        key=canvas_key,
    )
    if canvas.image_bytes is None:
        st.info(prompt, icon=":material/draw:")
    return canvas.image_bytes


def switches() -> tuple[Invert, bool, bool]:
    """The preprocessing steps a learner can switch: (invert: auto/on/off, crop, background to black)."""
    st.markdown("**Try the steps that matter**")
    invert = st.segmented_control(
        "Invert",
        list(INVERT_LABELS),
        default="Auto",
        required=True,
        key=PREDICT_INVERT,
        help="Auto inverts when the background is light.",
    )
    crop = st.toggle("Crop to the object", value=True, key=PREDICT_CROP)
    darken = st.toggle(
        "Background to black",
        value=True,
        key=PREDICT_DARKEN,
        help="After inverting, pull a dark-gray background down to 0, as in the training images.",
    )
    st.caption(
        "Switch one off and watch the prediction change: the network only ever saw light items filling a black square."
    )
    return INVERT_LABELS[invert], crop, darken


# ---------------------------------------------------------------- 1. to 4.


def network_input(image: np.ndarray, invert: Invert, crop: bool, darken: bool) -> tuple[Preprocessed, float]:
    """The picture turned into the network's input, and the milliseconds it took; a picture that cannot be
    turned into one stops the page with the reason."""
    start = time.perf_counter()
    try:
        prepared = preprocess(image, invert=invert, crop=crop, darken=darken)
    except PreprocessError as error:
        st.error(str(error))
        st.stop()
    return prepared, (time.perf_counter() - start) * 1000


def steps_section(steps: Sequence[Step], settings: tuple) -> None:
    """1.: every step from picture to network input (the figure built once per picture and settings)."""
    st.subheader("1. From picture to network input")
    phone = on_phone()  # folded on a phone, so 2. Prediction follows soon; two steps a row, titles apart
    with st.expander("Every step, pictured and explained") if phone else st.container():
        st.plotly_chart(
            once("steps", (*settings, phone), functools.partial(steps_figure, steps, per_row=2 if phone else 4)),
            config=CHART_CONFIG,
            alt=steps_alt([step.title for step in steps], [step.image.shape for step in steps]),
        )
        st.markdown("\n".join(f"{number}. **{step.title}**: {step.note}" for number, step in enumerate(steps, start=1)))
        st.caption(
            f"Steps larger than {DISPLAY_SIDE} pixels are drawn reduced; hover a gray step of up to "
            f"{HOVER_LIMIT:,} pixels (such as the 28x28 network input) for its values."
        )


def forced_choice_note(name: str, total: float, classes: int) -> str:
    """What a confident answer means: the network must pick one of its classes, whatever the picture."""
    return (
        f"The network must pick one of its {classes} classes: its outputs add up to {total:.0%}, with no 'none of "
        "these'. On a picture unlike Fashion-MNIST items (a rectangle, a face), a confident answer only means "
        f"nearer {name} than the other {classes - 1} classes, not that it is a {name.lower()}."
    )


def prediction_section(
    result: Classification,
    model_key: str,
    input_key: str,
    prepare_ms: float,
    class_names: tuple[str, ...] = CLASS_NAMES,
) -> None:
    """2.: the top classes (named as the model's dataset names them), and the verdict with the time each part took."""
    st.subheader("2. Prediction")
    probabilities, predicted = result.probabilities, result.predicted
    top = min(TOP_K, len(class_names))
    chart, verdict = st.columns([3, 2])
    chart.plotly_chart(
        once(model_key, ("top", input_key), functools.partial(top_k_figure, probabilities, class_names, top)),
        config=CHART_CONFIG,
        alt=prediction_alt(probabilities, class_names),
    )
    verdict.markdown(
        f"The network says **{class_names[predicted]}** with probability **{probabilities[predicted]:.1%}**."
    )
    verdict.markdown(forced_choice_note(class_names[predicted], float(probabilities.sum()), len(class_names)))
    verdict.caption(
        f"Top {top} of the {len(class_names)} softmax outputs. Preprocessing took {prepare_ms:.0f} ms; one network "
        f"pass for probabilities, feature maps and embedding {result.milliseconds:.0f} ms."
    )


def verdict_section(result: Classification, class_names: tuple[str, ...] = CLASS_NAMES) -> None:
    """The answer as one large number, for beside the picture on a projector: the class and its probability."""
    predicted = result.predicted
    st.metric(
        "The network says",
        class_names[predicted],
        f"probability {result.probabilities[predicted]:.1%}",
        delta_color="off",
        delta_arrow="off",
    )


def classified(model, model_key: str, pixels: np.ndarray, input_key: str) -> Classification:
    """`classify` once per model (`model_key`) and network input (`input_key`, its fingerprint): a page visit that
    shows the same picture again reads it, with the time the pass took then."""
    return once(model_key, ("classify", input_key), functools.partial(classify, model, pixels))


@st.fragment
def feature_maps_section(prepared: Preprocessed, outputs: dict, spatial: list[str], key: str | None = None) -> None:
    """3.: its filter and layer controls rerun only this section. `key` names the model and input (default: the
    input's and the maps' fingerprint), under which the figures are kept."""
    st.subheader("3. Feature maps of this input")
    if not spatial:
        st.info("This model has no convolution or pooling layers, so it makes no feature maps.")
        return
    channels = min(outputs[name].shape[-1] for name in spatial)
    if st.session_state.get(PREDICT_LAYER) not in (None, *spatial):  # another model's layer
        del st.session_state[PREDICT_LAYER]
    if st.session_state.get(PREDICT_FILTER, 0) > channels - 1:
        st.session_state[PREDICT_FILTER] = channels - 1
    controls, maps = st.columns([1, 3])
    number = controls.number_input("Filter number", 0, channels - 1, min(1, channels - 1), step=1, key=PREDICT_FILTER)
    layer = controls.radio("Layer for all maps", spatial, key=PREDICT_LAYER)
    per_row = grid_per_row()
    figures = once(
        key or fingerprint(prepared.network_input, *(outputs[name] for name in spatial)),
        ("feature maps", tuple(spatial), int(number), layer, per_row),
        functools.partial(feature_map_figures, prepared.network_input, outputs, spatial, number, layer, per_row),
    )
    alts = (
        figure_alt(figures[0], f"The input, then filter {number} after each layer"),
        all_maps_alt(outputs[layer][0], layer),
    )
    for figure, alt in zip(figures, alts):
        maps.plotly_chart(figure, config=CHART_CONFIG, alt=alt)
    controls.caption(f"Top: filter {number} after each layer. Below: all {outputs[layer].shape[-1]} maps of {layer}.")


def neighbours_section(
    result: Classification, model, model_key: str, input_key: str, names: Sequence[str] = CLASS_NAMES
) -> None:
    """4.: the training images whose embedding is nearest this input's (`names`: the model's classes)."""
    st.subheader("4. Looks most like these training images")
    if list(names) != list(CLASS_NAMES):
        st.info(
            f"This model has its own {len(names)} classes, not Fashion-MNIST's 10: its nearest training images are "
            "found only for Fashion-MNIST classifiers, whose answers can be checked against those images' labels.",
            icon=":material/info:",
        )
        return
    index = stored_neighbour_index(model_key, model)
    if index is None:
        return
    (x_train, y_train), _ = fashion_mnist()
    found, similarity = nearest(index, result.outputs[result.embedding][0], NEIGHBOURS)
    titles = [f"{CLASS_NAMES[y_train[i]]}<br>#{i} · {s:.3f}" for i, s in zip(found, similarity)]
    per_row = grid_per_row() or NEIGHBOURS // 2
    st.plotly_chart(
        once(
            model_key,
            ("neighbours", input_key, per_row),
            functools.partial(gallery_figure, x_train[found] / 255.0, titles, per_row=per_row, cell=170),
        ),
        config=CHART_CONFIG,
        alt=pictures_alt("the nearest training images: class, number and similarity", titles),
    )
    agree = int(sum(y_train[i] == result.predicted for i in found))
    st.caption(neighbours_caption(index, NEIGHBOURS, agree, CLASS_NAMES[result.predicted]))
