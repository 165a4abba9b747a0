"""The Training page's "Build it here" way to your own images (like Teachable Machine): name 2-10 classes, add
examples to each by drawing, by camera or from single image files, each shown after Predict's preprocessing,
then "Use this dataset" saves it for this learner exactly as an uploaded zip is saved (models.inputs.own_data).

Session state holds the class names and the examples as uint8 28x28 arrays (what the network trains on), so a
rerun, another page or hiding the builder loses nothing; only the last example's file is kept, for its steps.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from components.charts.alt import steps_alt
from components.charts.predict import steps_figure
from components.framework.learner import learner_token
from components.framework.memo import once
from components.framework.session_keys import (
    TRAINING_BUILDER_ADD,
    TRAINING_BUILDER_BRUSH,
    TRAINING_BUILDER_CAMERA,
    TRAINING_BUILDER_CLASS,
    TRAINING_BUILDER_COUNT,
    TRAINING_BUILDER_EXAMPLES,
    TRAINING_BUILDER_LAST,
    TRAINING_BUILDER_NAMES,
    TRAINING_BUILDER_NOTES,
    TRAINING_BUILDER_REMOVE,
    TRAINING_BUILDER_REMOVE_CHOICE,
    TRAINING_BUILDER_ROUND,
    TRAINING_BUILDER_SOURCE,
    TRAINING_BUILDER_STEPS,
    TRAINING_BUILDER_USE,
    TRAINING_OWN,
    training_builder_canvas,
    training_builder_class,
    training_builder_name,
    training_builder_upload,
)
from components.image_picker import UPLOAD_TYPES, upload_limit_bytes
from components.sections.predict import CHART_CONFIG, drawing
from components.training_jobs import run_store
from models.inputs import own_data as od
from models.inputs.images import ImageError, PixelBudget, UploadTooLarge
from models.inputs.preprocess import PreprocessError
from models.serving.quota import QuotaExceeded

WAYS = ("Upload a zip", "Build it here")
SOURCES = ("Draw", "Camera", "Upload")
DATASET_NAME = "my-dataset"
DEFAULT_CLASSES = 2
ZOOM = 3  # each 28x28 example drawn 84x84 pixels
DRAW_PROMPT = "Draw one example of the class with the mouse; fill the shape in, as Fashion-MNIST items are solid."


# ---------------------------------------------------------------- the state: names and examples, kept across reruns


def names() -> list[str]:
    """The MAX_CLASSES class names typed so far ("Class 1", ... until typed), kept while the widgets are hidden."""
    return st.session_state.setdefault(TRAINING_BUILDER_NAMES, [f"Class {n}" for n in range(1, od.MAX_CLASSES + 1)])


def examples() -> list[list[np.ndarray]]:
    """One list of uint8 28x28 examples per class slot (MAX_CLASSES slots, so fewer classes hide none for good)."""
    return st.session_state.setdefault(TRAINING_BUILDER_EXAMPLES, [[] for _ in range(od.MAX_CLASSES)])


def class_count() -> int:
    return int(st.session_state.get(TRAINING_BUILDER_COUNT, DEFAULT_CLASSES))


def keep_dataset(dataset: od.OwnDataset) -> None:
    """Save a dataset for this learner (models.inputs.own_data.DatasetStore) and put it in use for Train."""
    store = run_store()
    try:
        path = od.DatasetStore(store.root, store.quota).save(store.learner_folder(learner_token()), dataset)
    except QuotaExceeded as error:
        st.session_state[TRAINING_OWN] = {"error": str(error)}
        return
    st.session_state[TRAINING_OWN] = {"path": str(path), "skipped": list(dataset.skipped), "name": dataset.name}


def add_files(slot: int, files: list[tuple[str, bytes]]) -> None:
    """Each file through Predict's pipeline (models.inputs.own_data.prepare, as a zip's images) into the class's
    examples; what could not be added is kept in words for the page."""
    notes: list[str] = []
    kept = examples()
    if (problem := od.upload_problem([len(data) for _, data in files], upload_limit_bytes())) is not None:
        st.session_state[TRAINING_BUILDER_NOTES] = [problem]
        return
    budget = PixelBudget(od.MAX_PIXELS, od.MAX_UPLOAD_PIXELS)  # declared pixels, read before any file is decoded
    for number, (label, data) in enumerate(files):
        total = sum(len(images) for images in kept)
        if total >= od.MAX_IMAGES:
            notes.append(f"{label} was not added: the dataset already holds {od.MAX_IMAGES:,} images, the limit.")
            continue
        if len(data) > od.MAX_MEMBER_BYTES:
            notes.append(f"{label} was not added: one image may be at most {od.MAX_MEMBER_BYTES // 2**20} MB.")
            continue
        try:
            budget.charge(label, data)
            pixels = od.prepare(data).pixels
        except UploadTooLarge as error:
            left = len(files) - number
            notes.append(f"{error} {left} file{'s' * (left > 1)} not added.")
            break
        except (ImageError, PreprocessError) as error:
            notes.append(f"{label} was not added: {error}")
            continue
        kept[slot].append(pixels)
        st.session_state[TRAINING_BUILDER_LAST] = {"slot": slot, "label": label, "data": data}
    st.session_state[TRAINING_BUILDER_NOTES] = notes


def next_round() -> None:
    """A new, empty canvas and uploader for the next example."""
    st.session_state[TRAINING_BUILDER_ROUND] = st.session_state.get(TRAINING_BUILDER_ROUND, 0) + 1


def add_uploads() -> None:
    """The uploader's callback: add every file in it, then empty it."""
    key = training_builder_upload(st.session_state.get(TRAINING_BUILDER_ROUND, 0))
    files = st.session_state.get(key) or []
    if files:
        add_files(st.session_state[TRAINING_BUILDER_CLASS], [(repr(f.name), f.getvalue()) for f in files])
        next_round()


def add_drawing() -> None:
    """Add's callback: the canvas's drawing as the click sent it (the canvas's state, read as st_canvas reads it),
    then a new, empty canvas."""
    from streamlit_drawable_canvas import CanvasResult  # registers itself with the running server (see drawing())

    state = st.session_state.get(training_builder_canvas(st.session_state.get(TRAINING_BUILDER_ROUND, 0))) or {}
    sent = state.get("drawing") or {}
    data = CanvasResult(sent.get("raw"), sent.get("data"), return_image_data=True).image_bytes
    if data is not None:
        add_files(st.session_state[TRAINING_BUILDER_CLASS], [("The drawing", data)])
        next_round()


def add_snapshot() -> None:
    """The camera's callback: a new snapshot is an example (clearing the photo adds nothing)."""
    shot = st.session_state.get(TRAINING_BUILDER_CAMERA)
    if shot is not None:
        add_files(st.session_state[TRAINING_BUILDER_CLASS], [("The snapshot", shot.getvalue())])


def remove_chosen() -> None:
    """Remove the chosen example numbers (1-based) from the chosen class."""
    slot = st.session_state[TRAINING_BUILDER_CLASS]
    gone = {number - 1 for number in st.session_state.get(TRAINING_BUILDER_REMOVE_CHOICE, [])}
    kept = examples()
    kept[slot] = [image for index, image in enumerate(kept[slot]) if index not in gone]
    st.session_state[TRAINING_BUILDER_REMOVE_CHOICE] = []
    last = st.session_state.get(TRAINING_BUILDER_LAST)
    if last is not None and last["slot"] == slot:
        st.session_state[TRAINING_BUILDER_LAST] = None  # its number may have gone


def use_dataset() -> None:
    """Use this dataset: built through models.inputs.own_data.from_examples (read_zip's limits and messages), saved."""
    keep_dataset(od.from_examples(names()[: class_count()], examples()[: class_count()], DATASET_NAME))


# ---------------------------------------------------------------- drawn once per example


@st.cache_data(max_entries=4 * od.MAX_IMAGES, show_spinner=False)
def thumbnail(pixels: bytes) -> bytes:
    """A 28x28 example enlarged ZOOM times (nearest neighbour, so every pixel stays visible) as a small PNG."""
    image = Image.fromarray(np.frombuffer(pixels, np.uint8).reshape(28, 28))
    buffer = io.BytesIO()
    image.resize((28 * ZOOM, 28 * ZOOM), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- the section


def _name_section() -> list[str]:
    """How many classes and their names, with a message for each problem; the names shown."""
    typed = names()
    st.session_state.setdefault(TRAINING_BUILDER_COUNT, DEFAULT_CLASSES)
    count = st.columns(5)[0].number_input("Classes", od.MIN_CLASSES, od.MAX_CLASSES, key=TRAINING_BUILDER_COUNT)
    columns = st.columns(5)
    for slot in range(count):
        key = training_builder_name(slot)
        st.session_state.setdefault(key, typed[slot])
        typed[slot] = columns[slot % 5].text_input(f"Class {slot + 1}", key=key, max_chars=2 * od.MAX_NAME_CHARS)
    for problem in od.class_name_problems(typed[:count]):
        st.error(problem, icon=":material/error:")
    hidden = sum(len(images) for images in examples()[count:])
    if hidden:
        st.caption(f"{hidden} examples of classes beyond {count} are kept but left out until you name them again.")
    return typed[:count]


def _add_section(slot: int, name: str) -> None:
    """Add examples to the chosen class: a drawing (Predict's canvas), a camera snapshot or image files."""
    source = st.segmented_control(
        "Add examples by", SOURCES, default=SOURCES[0], required=True, key=TRAINING_BUILDER_SOURCE
    )
    round_ = st.session_state.get(TRAINING_BUILDER_ROUND, 0)
    if source == "Draw":
        data = drawing(TRAINING_BUILDER_BRUSH, training_builder_canvas(round_), prompt=DRAW_PROMPT)
        st.button(
            f"Add this drawing to {name}",
            key=TRAINING_BUILDER_ADD,
            icon=":material/add:",
            disabled=data is None,
            on_click=add_drawing,
        )
    elif source == "Camera":
        st.camera_input(f"Each snapshot is added to {name}", key=TRAINING_BUILDER_CAMERA, on_change=add_snapshot)
    else:
        st.file_uploader(
            f"Image files for {name} (each one example)",
            type=UPLOAD_TYPES,
            accept_multiple_files=True,
            key=training_builder_upload(round_),
            on_change=add_uploads,
        )
    for note in st.session_state.get(TRAINING_BUILDER_NOTES, []):
        st.error(note, icon=":material/error:")


def _examples_section(slot: int, name: str) -> None:
    """The chosen class's examples as the network will see them, numbered, with Remove."""
    shown = examples()[slot]
    if not shown:
        st.info(f"No examples of {name} yet: add some on the left.", icon=":material/info:")
        return
    st.image(
        [thumbnail(image.tobytes()) for image in shown],
        caption=[str(n) for n in range(1, len(shown) + 1)],
        output_format="PNG",
        alt=[f"Example {n} of {name}, 28x28 as the network sees it" for n in range(1, len(shown) + 1)],
    )
    row = st.columns([3, 2], vertical_alignment="bottom")
    row[0].multiselect("Examples to remove", range(1, len(shown) + 1), key=TRAINING_BUILDER_REMOVE_CHOICE)
    row[1].button(
        "Remove",
        key=TRAINING_BUILDER_REMOVE,
        width="stretch",
        icon=":material/delete:",
        disabled=not st.session_state.get(TRAINING_BUILDER_REMOVE_CHOICE),
        on_click=remove_chosen,
    )


def _steps_section() -> None:
    """Every preprocessing step of the last example added (its file is the only one kept), on request."""
    last = st.session_state.get(TRAINING_BUILDER_LAST)
    if last is None or not st.toggle("Show every step for the last example added", key=TRAINING_BUILDER_STEPS):
        return
    digest = hashlib.sha256(last["data"]).hexdigest()[:32]
    steps = once("builder-steps", (digest,), lambda: od.prepare(last["data"]).steps)
    st.plotly_chart(
        once("builder-steps-figure", (digest,), functools.partial(steps_figure, steps)),
        config=CHART_CONFIG,
        alt=steps_alt([step.title for step in steps], [step.image.shape for step in steps]),
    )
    st.markdown("\n".join(f"{number}. **{step.title}**: {step.note}" for number, step in enumerate(steps, start=1)))


def _counts_section(shown_names: list[str]) -> None:
    """Each class's examples against the minimum."""
    kept = examples()
    columns = st.columns(min(len(shown_names), 5))
    for slot, name in enumerate(shown_names):
        count = len(kept[slot])
        columns[slot % 5].progress(
            min(count / od.MIN_PER_CLASS, 1.0),
            text=f"{name or f'Class {slot + 1}'}: {count} of at least {od.MIN_PER_CLASS}",
        )


def _use_section(shown_names: list[str]) -> None:
    """Use this dataset, off with the reason until it is valid (the same checks as an uploaded zip)."""
    try:
        dataset = od.from_examples(shown_names, examples()[: len(shown_names)], DATASET_NAME)
    except od.DatasetError as error:
        reason: str | None = str(error)
        dataset = None
    else:
        reason = None
    in_use = str((st.session_state.get(TRAINING_OWN) or {}).get("path", ""))
    current = dataset is not None and Path(in_use).stem == dataset.digest
    st.button(
        "Use this dataset",
        key=TRAINING_BUILDER_USE,
        type="primary",
        icon=":material/check:",
        disabled=dataset is None or current,
        on_click=use_dataset,
    )
    if reason is not None:
        st.caption(f"Use this dataset is off: {reason}")
    elif current:
        st.caption("These examples are the dataset Train uses now (below).")
    elif in_use:
        st.caption("Your examples differ from the dataset Train uses now: press Use this dataset to train on them.")


def chosen_class(shown_names: list[str]) -> int:
    """The class examples are added to, chosen by its name and count. A radio's value is its label, so a new label
    (a count or a name changed) is a new radio, opened on the class kept in TRAINING_BUILDER_CLASS."""
    kept = examples()
    labels = [f"{name or f'Class {slot + 1}'} ({len(kept[slot])})" for slot, name in enumerate(shown_names)]
    chosen = st.session_state.get(TRAINING_BUILDER_CLASS, 0)
    chosen = chosen if 0 <= chosen < len(labels) else 0
    slot = st.radio(
        "Add examples to",
        range(len(labels)),
        index=chosen,
        format_func=labels.__getitem__,
        horizontal=True,
        key=training_builder_class("\n".join(labels)),
    )
    st.session_state[TRAINING_BUILDER_CLASS] = slot
    return slot


def builder_section() -> None:
    """Name the classes, add examples to each, see them after Predict's preprocessing, then use the dataset."""
    st.caption(
        f"Name {od.MIN_CLASSES}-{od.MAX_CLASSES} classes, then give each at least {od.MIN_PER_CLASS} examples "
        f"(at most {od.MAX_IMAGES:,} in all). Every example goes through Predict's steps (grayscale, crop to the item, "
        "pad to a square, 28x28, invert a light background) and is kept as the 28x28 image the network will see. "
        f"Image files: at most {od.MAX_UPLOAD_FILES} an upload and {upload_limit_bytes() // 2**20} MB together, "
        f"{od.MAX_PIXELS / 1e6:g} megapixels each and {od.MAX_UPLOAD_PIXELS / 1e6:g} in all."
    )
    shown_names = _name_section()
    slot = chosen_class(shown_names)
    name = shown_names[slot] or f"Class {slot + 1}"
    left, right = st.columns([2, 3], gap="medium")
    with left:
        _add_section(slot, name)
    with right:
        _examples_section(slot, name)
    _steps_section()
    _counts_section(shown_names)
    _use_section(shown_names)
