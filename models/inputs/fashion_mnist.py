"""Fashion-MNIST from local IDX files (the ones Keras downloads), with clear errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
EXPECTED_SHAPES = {
    "x_train": (60_000, 28, 28),
    "y_train": (60_000,),
    "x_test": (10_000, 28, 28),
    "y_test": (10_000,),
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"  # what keras.datasets downloads
FIX_HINT = (
    "Install the Debian package `dataset-fashion-mnist` (apt-get install dataset-fashion-mnist), "
    "or set FASHION_MNIST_DIR to a folder holding the four Fashion-MNIST .gz files."
)

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataError(RuntimeError):
    """The Fashion-MNIST files are missing or unreadable; the message says which and how to fix it."""


def candidate_dirs() -> list[Path]:
    """Folders searched in order: $FASHION_MNIST_DIR, Keras's cache, the Debian package."""
    dirs = []
    if os.environ.get("FASHION_MNIST_DIR"):
        dirs.append(Path(os.environ["FASHION_MNIST_DIR"]))
    dirs.append(Path.home() / ".keras" / "datasets" / "fashion-mnist")
    dirs.append(DEBIAN_DIR)
    return dirs


def read_idx(path: Path, *, expected_shape: tuple[int, ...]) -> np.ndarray:
    """Read one gzip IDX file of unsigned bytes (magic 2049 labels / 2051 images) and check its shape."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"Cannot read {path}: {exc}. The file is truncated or corrupt. {FIX_HINT}") from exc
    if len(raw) < 8:
        raise DataError(f"{path} is too short to be an IDX file. {FIX_HINT}")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        raise DataError(f"{path} has magic number {magic}, not an IDX label (2049) or image (2051) file. {FIX_HINT}")
    ndim = magic - 2048
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if dims != expected_shape:
        raise DataError(f"{path} holds an array of shape {dims}, expected {expected_shape}. {FIX_HINT}")
    size = int(np.prod(dims))
    if len(raw) != header + size:
        raise DataError(f"{path} has {len(raw) - header} data bytes, expected {size}: truncated or corrupt. {FIX_HINT}")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.max() > 9:
        raise DataError(f"{path} holds labels above 9: not Fashion-MNIST labels. {FIX_HINT}")
    return array


def load_from_dir(folder: Path) -> Arrays:
    """Load the four files from one folder (read-only arrays)."""
    arrays = {key: read_idx(folder / name, expected_shape=EXPECTED_SHAPES[key]) for key, name in FILES.items()}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def find_data_dir() -> Path | None:
    """The first candidate folder holding all four files, if any."""
    for folder in candidate_dirs():
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    return None


def keras_download_dir() -> Path:
    """Where Keras's downloader keeps Fashion-MNIST, worked out as Keras does it but without importing Keras.

    $KERAS_HOME, else ~/.keras (/tmp/.keras when the home folder is read-only), then /datasets/fashion-mnist.
    """
    if "KERAS_HOME" in os.environ:
        base = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        base = Path.home() / ".keras" if os.access(Path.home(), os.W_OK) else Path("/tmp/.keras")
    if base.exists() and not os.access(base, os.W_OK):  # keras.utils.get_file then writes under /tmp
        base = Path("/tmp/.keras")
    return base / "datasets" / "fashion-mnist"


def find_local_copy() -> Path | None:
    """The folder load_fashion_mnist() reads without downloading: a searched folder, else Keras's download cache."""
    folder = find_data_dir()
    if folder is None and all((keras_download_dir() / name).is_file() for name in FILES.values()):
        folder = keras_download_dir()
    return folder


def load_fashion_mnist() -> Arrays:
    """Return ((x_train, y_train), (x_test, y_test)) as read-only uint8 arrays.

    Falls back to Keras's downloader only when no local copy exists.
    """
    folder = find_data_dir()
    if folder is not None:
        return load_from_dir(folder)
    searched = ", ".join(str(d) for d in candidate_dirs())
    try:
        from keras.utils import get_file

        paths = [
            Path(get_file(name, origin=KERAS_ORIGIN + name, cache_subdir="datasets/fashion-mnist"))
            for name in FILES.values()
        ]
    except Exception as exc:  # network errors differ by platform
        raise DataError(f"Fashion-MNIST not found in {searched} and the download failed ({exc}). {FIX_HINT}") from exc
    folder = paths[0].parent  # Keras's cache: ~/.keras, $KERAS_HOME or /tmp/.keras when home is read-only
    return load_from_dir(folder)


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the model's input."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def read_indices(text: str, count: int, most: int) -> tuple[int, ...]:
    """Image indices written as "0,23,28" (commas or spaces): 1 to `most` distinct whole numbers below `count`.

    Raises ValueError with the reason, e.g. "indices are whole numbers".
    """
    tokens = text.replace(",", " ").split()
    if not 1 <= len(tokens) <= most:
        raise ValueError(f"give 1 to {most} indices separated by commas")
    if not all(token.isdecimal() for token in tokens):  # what int() reads: not "²", which isdigit() lets by
        raise ValueError("indices are whole numbers")
    values = tuple(dict.fromkeys(int(token) for token in tokens))
    if max(values) >= count:
        raise ValueError(f"indices run from 0 to {count - 1}")
    return values
