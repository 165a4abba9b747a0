"""The one module of reusable Streamlit widgets shared by the pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from components.presentation import PRESENT_PARAM, parse_flag, presentation_css
from components.query_state import Link, read_link
from components.session_keys import APP_RAN, IMAGE_SOURCE, PAGE_LINKS, PRESENTATION, PRESENTATION_TOGGLE
from models.card import ModelFileError, read_filter_snapshots, read_model_card
from models.data import Arrays, DataError, load_fashion_mnist
from models.images import ImageError, load_image_with_notes
from models.learned_filters import FilterLabel, LearnedFilters, label_filters
from models.samples import is_fashion_sample, load_sample, sample_description, sample_names

if TYPE_CHECKING:
    from collections.abc import Mapping

    import keras

    from components.query_state import Param


def start_page(title: str, intro: str = "") -> None:
    """Title and intro of a lab page; also makes a first visit straight to a page URL use app.py.

    Until app.py has called st.navigation once, Streamlit treats the pages/ folder as old-style
    navigation and runs the page's file alone (no page config, no navigation, file names in the sidebar):
    PagesManager.uses_pages_directory is set when the server starts because pages/ exists, and only
    st.navigation clears it. While the flag is set, or when this session's runs have not been through
    app.py (its session-state mark), the page clears the flag and reruns, so the rerun goes through
    app.py. The flag alone is not enough: when several learners' first visits arrive at once, one of them
    clears it while the others' runs are already under way without app.py (they then drew pages without
    app.py's set-up, and read a pandas another thread was still importing).
    """
    context = get_script_run_ctx()
    under_app = context is not None and Path(context.main_script_path).name == "app.py"  # not a page's own test
    if PagesManager.uses_pages_directory or under_app and not st.session_state.get(APP_RAN):
        PagesManager.uses_pages_directory = False
        st.rerun()
    st.title(title)
    if intro:
        st.markdown(intro)


def mark_app_run() -> None:
    """app.py's mark that this session's runs go through it (see start_page)."""
    st.session_state[APP_RAN] = True


def presentation_mode() -> bool:
    """The sidebar "Presentation mode" toggle (on every page), kept in session state and in the URL.

    `?present=1` / `?present=0` in the URL sets it. The mode lives under PRESENTATION, not in the
    toggle's own state, which Streamlit resets when the page changes. Streamlit also drops query
    parameters then, so the flag is written back on every page and a copied link keeps the mode; no
    other URL key is touched. When on, the projector stylesheet of components.presentation is added.
    """
    requested = parse_flag(st.query_params.get(PRESENT_PARAM))
    if requested is not None:
        st.session_state[PRESENTATION] = requested
    on = st.session_state.setdefault(PRESENTATION, False)
    st.session_state[PRESENTATION_TOGGLE] = on
    st.sidebar.toggle(
        "Presentation mode",
        key=PRESENTATION_TOGGLE,
        on_change=_toggle_presentation,
        help="For a projector: larger text, black on white, no download buttons or developer "
        "menus. A link with ?present=1 opens in this mode.",
    )
    _write_present_param(on)
    if on:
        st.html(f"<style>{presentation_css()}</style>")
    return on


def _toggle_presentation() -> None:
    st.session_state[PRESENTATION] = st.session_state[PRESENTATION_TOGGLE]
    _write_present_param(st.session_state[PRESENTATION])


def _write_present_param(on: bool) -> None:
    if on:
        if st.query_params.get(PRESENT_PARAM) != "1":
            st.query_params[PRESENT_PARAM] = "1"
    elif PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]


@st.cache_resource(show_spinner="Loading Fashion-MNIST...")
def _fashion_mnist() -> Arrays:
    return load_fashion_mnist()


def fashion_mnist() -> Arrays:
    """The real data set, loaded once per server (read-only arrays); stops the page with a clear error."""
    try:
        return _fashion_mnist()
    except DataError as error:
        st.error(str(error))
        st.stop()


@st.cache_resource(show_spinner="Loading the trained model...")
def _shipped_model() -> keras.Model:
    from models.zoo import load_model_file  # imports TensorFlow: only pages that need the model call this

    return load_model_file()


def shipped_model() -> keras.Model:
    """The shipped course CNN, loaded once per server with safe_mode; stops the page with a clear error."""
    try:
        return _shipped_model()
    except ModelFileError as error:
        st.error(str(error))
        st.stop()


@st.cache_data(show_spinner=False)
def model_card() -> dict:
    """The shipped model's card (raises ModelFileError)."""
    return read_model_card()


@st.cache_data(show_spinner=False)
def filter_snapshots():
    """The shipped model's first-layer kernels at initialisation and after each epoch (raises ModelFileError)."""
    return read_filter_snapshots()


@st.cache_data(show_spinner=False)
def learned_filters() -> tuple[LearnedFilters, list[FilterLabel]]:
    """The shipped model's first-layer filters over training, labelled by their trained pattern (raises
    ModelFileError)."""
    filters = LearnedFilters.from_snapshots(filter_snapshots())
    return filters, label_filters(filters.trained)


# ---------------------------------------------------------------- image picker

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
IMAGE_SOURCES = ("Sample", "Upload", "Camera")
COLOUR_MODES = ("Grayscale", "RGB (each channel filtered separately)")


@dataclass(frozen=True)
class ImageChoice:
    """What the learner picked; kept in session state so the Filters and Pooling pages share it."""

    source: str
    name: str
    grayscale: bool
    data: bytes | None = None


@dataclass(frozen=True, eq=False)
class PickedImage:
    """The decoded image: float32 in [0, 1], (H, W) in grayscale mode or (H, W, 3) in RGB mode."""

    pixels: np.ndarray
    label: str
    notes: tuple[str, ...]

    @property
    def grayscale(self) -> bool:
        return self.pixels.ndim == 2


@st.cache_data(max_entries=32, show_spinner=False)
def sample_pixels(name: str, grayscale: bool) -> np.ndarray:
    """A bundled sample (see models.samples) in the chosen colour mode."""
    fashion = _fashion_mnist()[1] if is_fashion_sample(name) else None
    return load_sample(name, grayscale=grayscale, fashion=fashion)


@st.cache_data(max_entries=8, show_spinner="Decoding the image ...")
def decode_upload(data: bytes, grayscale: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """`load_image_with_notes` on uploaded bytes; raises ImageError with a learner-facing message."""
    pixels, notes = load_image_with_notes(data, grayscale=grayscale)
    return pixels, tuple(notes)


def image_picker(key: str, *, default_sample: str = "Street scene", allow_rgb: bool = True) -> PickedImage | None:
    """Sample / upload / camera input plus colour mode; shows problems with st.error and returns None.

    The choice is remembered under session_keys.IMAGE_SOURCE, so another page calling
    `image_picker` starts from the same image (an earlier upload included).
    """
    stored = st.session_state.get(IMAGE_SOURCE)
    source = st.radio(
        "Image",
        IMAGE_SOURCES,
        horizontal=True,
        key=f"{key}_source",
        index=IMAGE_SOURCES.index(stored.source) if stored else 0,
    )
    grayscale = True
    if allow_rgb:
        mode = st.radio(
            "Colour",
            COLOUR_MODES,
            horizontal=True,
            key=f"{key}_mode",
            index=0 if stored is None or stored.grayscale else 1,
        )
        grayscale = mode == COLOUR_MODES[0]
    choice = _choose(key, source, grayscale, stored, default_sample)
    if choice is None:
        return None
    try:
        if choice.data is None:
            pixels, notes = sample_pixels(choice.name, grayscale), ()
        else:
            pixels, notes = decode_upload(choice.data, grayscale)
    except (ImageError, DataError) as error:
        st.error(str(error))
        return None
    st.session_state[IMAGE_SOURCE] = choice
    if notes:
        st.info("; ".join(notes) + ".", icon=":material/info:")
    return PickedImage(pixels, choice.name, notes)


def _choose(key: str, source: str, grayscale: bool, stored: ImageChoice | None, default: str) -> ImageChoice | None:
    if source == "Sample":
        names = sample_names()
        previous = stored.name if stored and stored.source == "Sample" and stored.name in names else default
        name = st.selectbox("Sample image", names, index=names.index(previous), key=f"{key}_sample")
        st.caption(sample_description(name))
        return ImageChoice("Sample", name, grayscale)
    if source == "Upload":
        file = st.file_uploader("Image file (PNG, JPEG, WebP, BMP, GIF, TIFF)", type=UPLOAD_TYPES, key=f"{key}_upload")
        prompt = "Choose an image file."
    else:
        file = st.camera_input("Take a snapshot", key=f"{key}_camera")
        prompt = "Take a snapshot with your camera."
    if file is not None:
        return ImageChoice(source, file.name, grayscale, file.getvalue())
    if stored is not None and stored.source == source and stored.data is not None:
        st.caption(f"Using the earlier image {stored.name!r}.")
        return ImageChoice(source, stored.name, grayscale, stored.data)
    st.info(prompt, icon=":material/upload:")
    return None


SAMPLE_PARAM = "sample"  # ?sample= names the image, which IMAGE_SOURCE keeps for Filters and Pooling alike


def read_page_link(schema: Mapping[str, Param]) -> Link:
    """This page's settings from the address bar; each value ignored is named in a warning.

    Streamlit drops the parameters when the learner changes page, so a page opened without any of its own
    (from the sidebar, say) gets the ones it last wrote: it reopens as it was left.
    """
    params = st.query_params.to_dict()
    if not schema.keys() & params.keys():
        params |= st.session_state.get(PAGE_LINKS, {}).get(_page_id(), {})
    link = read_link(params, schema)
    for notice in link.notices:
        st.warning(notice, icon=":material/link_off:")
    return link


def update_query_params(values: Mapping[str, str | None]) -> None:
    """Set these query parameters, deleting those given None; every other parameter (e.g. ?present) stays.

    The page's values are also remembered for `read_page_link`, except the image, which IMAGE_SOURCE keeps
    for both pages that show it.
    """
    for key, value in values.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value
    remembered = {key: value for key, value in values.items() if value is not None and key != SAMPLE_PARAM}
    st.session_state.setdefault(PAGE_LINKS, {})[_page_id()] = remembered


def _page_id() -> str:
    context = get_script_run_ctx()
    return context.page_script_hash if context is not None else ""
