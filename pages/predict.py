"""Predict: classify your own drawing or photo, with every preprocessing step shown."""

from __future__ import annotations

import functools
import time

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from components.charts.inspect import gallery_figure
from components.charts.predict import (
    DISPLAY_SIDE,
    HOVER_LIMIT,
    feature_map_figures,
    neighbours_caption,
    steps_figure,
    top_k_figure,
)
from components.image_picker import UPLOAD_TYPES, decode_upload
from components.memo import once
from components.page import start_page
from components.resources import fashion_mnist, shipped_model
from models import inspection as ins
from models.card import SHIPPED_MODEL
from models.data import CLASS_NAMES
from models.images import ImageError, fingerprint
from models.neighbours import INDEX_SIZE, NeighbourIndex, build_index, nearest
from models.preprocess import PreprocessError, photo_like, preprocess

CHART_CONFIG = {"displayModeBar": False}
SOURCES = ["Examples", "Draw", "Upload", "Camera"]
INVERT_LABELS = {"Auto": "auto", "On": "on", "Off": "off"}
EXAMPLE_SPOTS = [(20, 30), (60, 130), (30, 110), (70, 40), (15, 140), (50, 80)]  # (top, left) on the "photo"
NEIGHBOURS = 8
TOP_K = 5

start_page(
    "Predict",
    "Give the trained network your own picture. It only knows 28x28 grayscale items, light on black, "
    "filling the frame, so every picture is turned into one first; each step is shown below.",
)


@st.cache_resource(show_spinner=f"Embedding {INDEX_SIZE:,} training images (once per server)...")
def neighbour_index(model_key: str) -> NeighbourIndex:
    (x_train, y_train), _ = fashion_mnist()
    return build_index(shipped_model(), x_train, y_train)


@st.cache_data(show_spinner=False, max_entries=len(CLASS_NAMES))
def example_photo(class_index: int) -> tuple[np.ndarray, int]:
    """The first test image of a class as a 'photo': dark on light paper, enlarged, off-centre."""
    _, (x_test, y_test) = fashion_mnist()
    index = int(ins.first_of_class(y_test, class_index, 1)[0])
    spot = EXAMPLE_SPOTS[class_index % len(EXAMPLE_SPOTS)]
    return photo_like(x_test[index], position=spot, seed=index), index


def picture(source: str) -> tuple[np.ndarray, str] | None:
    """The chosen picture as float (H, W, 3) in [0, 1] and a caption; None (with a message) if there is none."""
    if source == "Examples":
        class_index = st.selectbox(
            "Example", range(len(CLASS_NAMES)), format_func=CLASS_NAMES.__getitem__, key="predict_example"
        )
        image, index = example_photo(class_index)
        return image, (
            f"Test image #{index} ({CLASS_NAMES[class_index]}) made to look like a photo: dark on light "
            "paper, enlarged, off-centre, unevenly lit, a little noise."
        )
    if source == "Draw":
        brush = st.slider("Brush size", 6, 40, 22, key="predict_brush")
        drawing = st_canvas(
            stroke_width=brush,
            stroke_color="#000000",
            background_color="#ffffff",
            height=280,
            width=280,
            return_image_data=True,
            key="predict_canvas",
        )
        data = drawing.image_bytes
        caption = "Your drawing. Fill the shape in: Fashion-MNIST items are solid silhouettes."
        if data is None:
            st.info("Draw an item with the mouse (a T-shirt, trousers, a bag ...); fill it in.", icon=":material/draw:")
            return None
    elif source == "Upload":
        file = st.file_uploader("Image file (PNG, JPEG, WebP, BMP, GIF, TIFF)", type=UPLOAD_TYPES, key="predict_upload")
        if file is None:
            st.info("Choose a photo of one clothing item on a plain background.", icon=":material/upload:")
            return None
        data, caption = file.getvalue(), f"Uploaded {file.name!r}."
    else:
        shot = st.camera_input("Take a snapshot of one item on a plain background", key="predict_camera")
        if shot is None:
            return None
        data, caption = shot.getvalue(), "Your snapshot."
    try:
        pixels, notes = decode_upload(data, False)
    except ImageError as error:
        st.error(str(error))
        return None
    return pixels, caption + (" " + "; ".join(notes) + "." if notes else "")


def show_steps(steps, figure) -> None:
    st.plotly_chart(figure, config=CHART_CONFIG)
    st.markdown("\n".join(f"{number}. **{step.title}**: {step.note}" for number, step in enumerate(steps, start=1)))
    st.caption(
        f"Steps larger than {DISPLAY_SIDE} pixels are drawn reduced; hover a gray step of up to "
        f"{HOVER_LIMIT:,} pixels (such as the 28x28 network input) for its values."
    )


@st.fragment
def feature_maps(prepared, outputs: dict, spatial: list[str]) -> None:
    """Section 3: its filter and layer controls rerun only this section."""
    st.subheader("3. Feature maps of this input")
    channels = min(outputs[name].shape[-1] for name in spatial)
    controls, maps = st.columns([1, 3])
    number = controls.number_input("Filter number", 0, channels - 1, 1, step=1, key="predict_filter")
    layer = controls.radio("Layer for all maps", spatial, key="predict_layer")
    for figure in feature_map_figures(prepared.network_input, outputs, spatial, number, layer):
        maps.plotly_chart(figure, config=CHART_CONFIG)
    controls.caption(f"Top: filter {number} after each layer. Below: all {outputs[layer].shape[-1]} maps of {layer}.")


# ---------------------------------------------------------------- page

(x_train, y_train), _ = fashion_mnist()
model = shipped_model()
source = st.radio("Picture", SOURCES, horizontal=True, key="predict_source")
left, right = st.columns([3, 2])
with left:
    chosen = picture(source)
with right:
    st.markdown("**Try the steps that matter**")
    invert = st.segmented_control(
        "Invert",
        list(INVERT_LABELS),
        default="Auto",
        required=True,
        key="predict_invert",
        help="Auto inverts when the background is light.",
    )
    crop = st.toggle("Crop to the object", value=True, key="predict_crop")
    darken = st.toggle(
        "Background to black",
        value=True,
        key="predict_darken",
        help="After inverting, pull a dark-gray background down to 0, as in the training images.",
    )
    st.caption(
        "Switch one off and watch the prediction change: the network only ever saw light items filling a black square."
    )
if chosen is None:
    st.stop()
image, caption = chosen
left.caption(caption)

start = time.perf_counter()
try:
    prepared = preprocess(image, invert=INVERT_LABELS[invert], crop=crop, darken=darken)
except PreprocessError as error:
    st.error(str(error))
    st.stop()
prepare_ms = (time.perf_counter() - start) * 1000

st.subheader("1. From picture to network input")
settings = (fingerprint(image), INVERT_LABELS[invert], crop, darken)  # figures are built once per picture and input
show_steps(prepared.steps, once("steps", settings, functools.partial(steps_figure, prepared.steps)))

spatial = ins.spatial_layers(model)
embedding_name, output_name = ins.embedding_layer(model), model.layers[-1].name
start = time.perf_counter()
outputs = ins.layer_activations(model, prepared.pixels, [*spatial, embedding_name, output_name])
network_ms = (time.perf_counter() - start) * 1000
probabilities = outputs[output_name][0]
model_key, input_key = f"{SHIPPED_MODEL}:{SHIPPED_MODEL.stat().st_mtime_ns}", fingerprint(prepared.pixels)
predicted = int(probabilities.argmax())

st.subheader("2. Prediction")
chart, verdict = st.columns([3, 2])
chart.plotly_chart(
    once(model_key, ("top", input_key), functools.partial(top_k_figure, probabilities, CLASS_NAMES, TOP_K)),
    config=CHART_CONFIG,
)
verdict.markdown(f"The network says **{CLASS_NAMES[predicted]}** with probability **{probabilities[predicted]:.1%}**.")
verdict.caption(
    f"Top {TOP_K} of the 10 softmax outputs. Preprocessing took {prepare_ms:.0f} ms; one network "
    f"pass for probabilities, feature maps and embedding {network_ms:.0f} ms."
)

feature_maps(prepared, outputs, spatial)

st.subheader("4. Looks most like these training images")
index = neighbour_index(model_key)
found, similarity = nearest(index, outputs[embedding_name][0], NEIGHBOURS)
titles = [f"{CLASS_NAMES[y_train[i]]}<br>#{i} · {s:.3f}" for i, s in zip(found, similarity)]
st.plotly_chart(
    once(
        model_key,
        ("neighbours", input_key),
        functools.partial(gallery_figure, x_train[found] / 255.0, titles, per_row=NEIGHBOURS, cell=170),
    ),
    config=CHART_CONFIG,
)
st.caption(
    neighbours_caption(index, NEIGHBOURS, int(sum(y_train[i] == predicted for i in found)), CLASS_NAMES[predicted])
)
