"""The Training page's "Your own images" data source: upload a zip of class folders (or build the dataset here,
components.sections.training_dataset_builder), see every class after Predict's preprocessing, its counts and the
limits, download it back; Train then uses it (models.inputs.own_data)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from components.framework.session_keys import TRAINING_DATA, TRAINING_OWN, TRAINING_OWN_WAY, TRAINING_UPLOAD
from components.image_picker import upload_limit_bytes
from components.sections import training_dataset_builder as builder
from models.inputs import own_data as od

SOURCES = ("Fashion-MNIST", "Your own images")
PREVIEW = 10  # images shown per class
ZOOM = 3  # each 28x28 image drawn 84x84 pixels
NAMED = 4  # classes a run's name lists by name


@st.cache_resource(max_entries=16)
def stored(path: str) -> od.OwnDataset:
    """A saved dataset, read once per server (read-only, shared)."""
    return od.load_dataset({"path": path})


@st.cache_data(max_entries=16, show_spinner=False)
def preview_png(path: str, label: int) -> bytes:
    """The first PREVIEW images of one class, side by side, enlarged (nearest neighbour) as one small PNG."""
    dataset = stored(path)
    images = dataset.images[dataset.labels == label][:PREVIEW]
    row = np.concatenate([np.pad(image, 1, constant_values=90) for image in images], axis=1)
    buffer = io.BytesIO()
    Image.fromarray(row).resize((row.shape[1] * ZOOM, row.shape[0] * ZOOM), Image.Resampling.NEAREST).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


@st.cache_data(max_entries=4, show_spinner=False)
def zip_bytes(path: str) -> bytes:
    return od.to_zip(stored(path))


def zip_name(dataset: od.OwnDataset) -> str:
    """The dataset zip's file name, the same from the data source and from a run's Download tab (the run's
    notebook reads this file)."""
    return f"{dataset.name}-28x28.zip"


def quota_text() -> str:
    """The learner's disk quota in words (models.serving.quota), for the limits caption."""
    store = builder.run_store()
    return (
        f"Your runs and datasets may use up to {store.quota.learner_bytes / 2**20:,.0f} MB on this server (your "
        f"oldest runs make room for a new one); runs and datasets go after {store.max_age_days:g} days."
    )


def own_images_chosen() -> bool:
    return st.session_state.get(TRAINING_DATA) == SOURCES[1]


def chosen_dataset() -> str:
    """The saved file of the learner's uploaded dataset when "Your own images" is chosen, else ""."""
    kept = st.session_state.get(TRAINING_OWN) or {}
    return str(kept.get("path", "")) if own_images_chosen() else ""


def dataset_name(path: str) -> str:
    """How a run names the dataset: 'your 60 images of Bag, Sneaker, Trouser' (the first NAMED classes, then how many
    more)."""
    data = stored(path)
    names = ", ".join(data.class_names[:NAMED])
    more = len(data.class_names) - NAMED
    return f"your {len(data.labels):,} images of {names}" + (f" and {more} more classes" if more > 0 else "")


def train_images(path: str, validation_split: float, seed: int) -> int:
    """Fitted plus validation images of the dataset (its test share held out): RunSpec.train_images."""
    return od.split(stored(path).labels, validation_split, seed).train_images


def read_upload() -> None:
    """Uploader callback: read the zip once, save it for this learner, keep its path or the error."""
    upload = st.session_state.get(TRAINING_UPLOAD)
    if upload is None:
        st.session_state[TRAINING_OWN] = None
        return
    try:
        dataset = od.read_zip(upload.getvalue(), Path(upload.name).stem, max_bytes=upload_limit_bytes())
    except od.DatasetError as error:
        st.session_state[TRAINING_OWN] = {"error": str(error)}
        return
    builder.keep_dataset(dataset)


def data_source_section() -> None:
    """The data source choice; for your own images a zip's uploader or the builder, the limits, then the dataset in
    use: each class's preview and counts, and its zip."""
    choice = st.radio("Data", SOURCES, horizontal=True, key=TRAINING_DATA)
    if choice != SOURCES[1]:
        return
    way = st.radio("Your own images", builder.WAYS, horizontal=True, key=TRAINING_OWN_WAY)
    kept = st.session_state.get(TRAINING_OWN) or {}
    if way == builder.WAYS[1]:
        with st.container(border=True):
            builder.builder_section()
        if "error" in kept:
            st.error(kept["error"], icon=":material/error:")
            return
        if "path" not in kept:
            st.info(
                "Press **Use this dataset** to train on your examples. Train stays off until then.",
                icon=":material/info:",
            )
            return
    else:
        st.file_uploader(
            "A .zip of class folders (class_name/image.png or .jpg)",
            type=["zip"],
            key=TRAINING_UPLOAD,
            on_change=read_upload,
            help="Zip one folder per class; each folder's name is the class name.",
        )
        st.caption("Limits: " + od.limits_text(upload_limit_bytes()) + " " + quota_text())
        if "error" in kept:
            st.error(kept["error"], icon=":material/error:")
            return
        if "path" not in kept:
            st.info("Upload a zip to train on your own images. Train stays off until then.", icon=":material/info:")
            return
    try:
        dataset = stored(kept["path"])
    except od.DatasetError as error:
        st.error(str(error), icon=":material/error:")
        return
    for note in kept.get("skipped", []):
        st.warning(note, icon=":material/warning:")
    counts = dataset.counts
    st.markdown(
        f"**{dataset.name}**: {len(dataset.labels):,} images in {len(counts)} classes. Each went through Predict's "
        "steps (grayscale, crop to the item, pad to a square, 28x28, invert a light background); below is what the "
        "network will see, the first "
        f"{PREVIEW} of each class."
    )
    for label, name in enumerate(dataset.class_names):
        st.image(
            preview_png(kept["path"], label),
            caption=f"{name}: {counts[label]} images",
            output_format="PNG",
            alt=f"The first {min(PREVIEW, counts[label])} {name} images at 28x28, as the network sees them",
        )
    st.download_button(
        "Download the dataset as a zip (28x28 PNGs as trained on)",
        zip_bytes(kept["path"]),
        file_name=zip_name(dataset),
        mime="application/zip",
        icon=":material/download:",
    )
