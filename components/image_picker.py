"""The image picker the Filters and Pooling pages share: a sample, an upload or a camera snapshot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from components.framework.query_state import Link
from components.framework.session_keys import IMAGE_SOURCE, image_picker_key
from components.resources import fashion_mnist_arrays
from models.inputs.fashion_mnist import DataError
from models.inputs.images import ImageError, load_image_with_notes
from models.inputs.samples import is_fashion_sample, load_sample, sample_description, sample_names

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
IMAGE_SOURCES = ("Sample", "Upload", "Camera")
COLOUR_MODES = ("Grayscale", "RGB (3 colour channels)")
COLOUR_HELP = (
    "Filters: like Conv2D, one k x k x 3 kernel (the same k x k weights on each channel) adds the 3 channels into "
    "one output map. Pooling: each channel is pooled on its own and all 3 are kept, as Keras pooling does."
)


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


def upload_limit_bytes() -> int:
    """The server's upload limit (Streamlit's server.maxUploadSize, .streamlit/config.toml) in bytes: every limit
    the pages state for an upload is this one."""
    return int(st.get_option("server.maxUploadSize")) * 2**20


@st.cache_data(max_entries=32, show_spinner=False)
def sample_pixels(name: str, grayscale: bool) -> np.ndarray:
    """A bundled sample (see models.inputs.samples) in the chosen colour mode."""
    fashion = fashion_mnist_arrays()[1] if is_fashion_sample(name) else None
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
        key=image_picker_key(key, "source"),
        index=IMAGE_SOURCES.index(stored.source) if stored else 0,
    )
    grayscale = True
    if allow_rgb:
        mode = st.radio(
            "Colour",
            COLOUR_MODES,
            horizontal=True,
            help=COLOUR_HELP,
            key=image_picker_key(key, "mode"),
            index=0 if stored is None or stored.grayscale else 1,
        )
        grayscale = mode == COLOUR_MODES[0]
    choice = _choose(key, source, grayscale, stored, default_sample)
    if choice is None:
        return None
    try:
        if choice.data is None:
            pixels, notes = sample_pixels(choice.name, grayscale), tuple[str, ...]()
        else:
            pixels, notes = decode_upload(choice.data, grayscale)
    except (ImageError, DataError) as error:
        st.error(str(error))
        return None
    st.session_state[IMAGE_SOURCE] = choice
    if notes:
        st.info("; ".join(notes) + ".", icon=":material/info:")
    return PickedImage(pixels, choice.name, notes)


def linked_image(key: str, link: Link, **picker_options) -> PickedImage | None:
    """`image_picker`, opened on the link's ?sample= when the page has just been opened."""
    if "sample" in link.linked and f"{key}_source" not in st.session_state:
        stored = st.session_state.get(IMAGE_SOURCE)
        st.session_state[IMAGE_SOURCE] = ImageChoice("Sample", link["sample"], stored is None or stored.grayscale)
    return image_picker(key, **picker_options)


def sample_link(shown: bool) -> dict[str, str | None]:
    """?sample= for the image shown when it is a bundled sample; removed for an upload, a camera shot or none."""
    stored = st.session_state.get(IMAGE_SOURCE)
    return {"sample": stored.name if shown and stored is not None and stored.source == "Sample" else None}


def _choose(key: str, source: str, grayscale: bool, stored: ImageChoice | None, default: str) -> ImageChoice | None:
    if source == "Sample":
        names = sample_names()
        previous = stored.name if stored and stored.source == "Sample" and stored.name in names else default
        name = st.selectbox("Sample image", names, index=names.index(previous), key=image_picker_key(key, "sample"))
        st.caption(sample_description(name))
        return ImageChoice("Sample", name, grayscale)
    if source == "Upload":
        file = st.file_uploader(
            "Image file (PNG, JPEG, WebP, BMP, GIF, TIFF)", type=UPLOAD_TYPES, key=image_picker_key(key, "upload")
        )
        prompt = "Choose an image file."
    else:
        file = st.camera_input("Take a snapshot", key=image_picker_key(key, "camera"))
        prompt = "Take a snapshot with your camera."
    if file is not None:
        return ImageChoice(source, file.name, grayscale, file.getvalue())
    if stored is not None and stored.source == source and stored.data is not None:
        st.caption(f"Using the earlier image {stored.name!r}.")
        return ImageChoice(source, stored.name, grayscale, stored.data)
    st.info(prompt, icon=":material/upload:")
    return None
