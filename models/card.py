"""The shipped model's files and model card, readable without TensorFlow."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np

SHIPPED_MODEL = Path(__file__).with_name("fashion_cnn.keras")
MODEL_CARD = SHIPPED_MODEL.with_suffix(".json")
FILTER_SNAPSHOTS = SHIPPED_MODEL.with_suffix(".filters.npz")
REBUILD_COMMAND = "python -m models.train --epochs 10 --output models/fashion_cnn.keras"
MAX_CONFIG_BYTES = 1_000_000  # the course CNN's config.json is about 6 kB
MAX_ARCHIVE_BYTES = 512 * 2**20  # unpacked; the shipped model is about 3 MB
_KERAS_MODULE = re.compile(r"keras(\.\w+)*")


class ModelFileError(RuntimeError):
    """A model file is missing or cannot be loaded; the message says how to rebuild it."""


def check_model_archive(path: Path) -> None:
    """Refuse, before Keras reads it, a file that is not a plain Keras 3 model archive.

    Raises ModelFileError for a non-zip, a damaged zip, a zip bomb or oversized config, unsafe member
    names, and a config that names a Lambda layer or any Python module outside Keras: safe mode must
    never run code from a model file, and a hostile config should be refused with a short message.
    """
    refused = f"Model file {path} could not be loaded"
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{refused}: a .keras file is a zip archive and this one is not (or is truncated).")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {member.filename for member in members}
            if "config.json" not in names:
                raise ModelFileError(f"{refused}: it has no config.json, so it is not a Keras 3 model archive.")
            unsafe = sorted(n for n in names if n.startswith(("/", "\\")) or ".." in Path(n).parts)
            if unsafe:
                raise ModelFileError(f"{refused}: it contains unsafe paths such as {unsafe[0]!r}.")
            unpacked = sum(member.file_size for member in members)
            if unpacked > MAX_ARCHIVE_BYTES:
                raise ModelFileError(
                    f"{refused}: it unpacks to {unpacked / 2**20:,.0f} MB, more than the "
                    f"{MAX_ARCHIVE_BYTES / 2**20:,.0f} MB limit."
                )
            config_size = archive.getinfo("config.json").file_size
            if config_size > MAX_CONFIG_BYTES:
                raise ModelFileError(
                    f"{refused}: its config.json is {config_size:,} bytes; a model description "
                    f"takes a few kilobytes (limit {MAX_CONFIG_BYTES:,})."
                )
            damaged = archive.testzip()
            if damaged is not None:
                raise ModelFileError(f"{refused}: {damaged} inside it is damaged (checksum mismatch).")
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ModelFileError(f"{refused}: the zip archive is damaged ({exc}).") from exc
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{refused}: its config.json is not valid JSON.") from exc
    _check_config_is_plain_keras(config, refused)


def _check_config_is_plain_keras(config: object, refused: str) -> None:
    """Walk the config (iteratively: hostile files nest deeply) for Lambda layers and non-Keras modules."""
    pending = [config]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            module, class_name = node.get("module"), node.get("class_name")
            if class_name == "Lambda":
                raise ModelFileError(
                    f"{refused}: it contains a Lambda layer (Python code), which safe mode refuses to run."
                )
            if module is not None and not (isinstance(module, str) and _KERAS_MODULE.fullmatch(module)):
                raise ModelFileError(
                    f"{refused}: it refers to the Python module {str(module)[:80]!r}; a model "
                    "file may only use Keras's own layers."
                )
            pending.extend(node.values())


def read_model_card(path: Path = MODEL_CARD) -> dict:
    """The model card written by `python -m models.train` (test accuracy, epochs, versions...)."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(
            f"Model card {path} is missing or unreadable ({exc}). Rebuild it with: {REBUILD_COMMAND}"
        ) from exc
    if not isinstance(card, dict) or "test_accuracy" not in card:
        raise ModelFileError(f"Model card {path} has no test accuracy. Rebuild it with: {REBUILD_COMMAND}")
    return card


def read_filter_snapshots(path: Path = FILTER_SNAPSHOTS) -> np.ndarray:
    """First-layer kernels at initialisation and after every epoch: (epochs + 1, 3, 3, 1, filters)."""
    try:
        with np.load(path) as archive:
            kernels = archive["conv1_kernels"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"Filter snapshots {path} are missing or unreadable ({exc}). Rebuild with: {REBUILD_COMMAND}"
        ) from exc
    if kernels.ndim != 5 or kernels.shape[0] < 2:
        raise ModelFileError(f"Filter snapshots {path} have shape {kernels.shape}. Rebuild with: {REBUILD_COMMAND}")
    return kernels
