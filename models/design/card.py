"""The shipped models' files and model cards (the course CNN and its dense baseline), and the translation test's
numbers, readable without TensorFlow."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from models import SHIPPED

SHIPPED_MODEL = SHIPPED / "fashion_cnn.keras"
MODEL_CARD = SHIPPED_MODEL.with_suffix(".json")
FILTER_SNAPSHOTS = SHIPPED_MODEL.with_suffix(".filters.npz")
REBUILD_COMMAND = "python -m models.networks.train --epochs 10 --output models/fashion_cnn.keras"
DENSE_MODEL = SHIPPED_MODEL.with_name("fashion_dnn.keras")  # models.networks.zoo.course_dnn(), the same recipe and data
DENSE_CARD = DENSE_MODEL.with_suffix(".json")
DENSE_REBUILD_COMMAND = "python -m models.networks.train --model dense --epochs 10 --output models/fashion_dnn.keras"
SHIFT_TEST = SHIPPED_MODEL.with_name("shift_test.json")  # both shipped models on shifted test images
SHIFT_TEST_COMMAND = "python -m models.explain.shift_test"
MAX_CONFIG_BYTES = 1_000_000  # the course CNN's config.json is about 6 kB
MAX_ARCHIVE_BYTES = 512 * 2**20  # unpacked; the shipped model is about 3 MB
MAX_UPLOAD_BYTES = 20 * 2**20  # a learner's own .keras file (models.uploaded.store); the shipped one is about 3 MB
MAX_UPLOAD_UNPACKED = 100 * 2**20  # ... and unpacked: about 25 million float32 weights
_KERAS_MODULE = re.compile(r"keras(\.\w+)*")


class ModelFileError(RuntimeError):
    """A model file is missing or cannot be loaded; the message says how to rebuild it."""


def rebuild_command(path: Path | str) -> str:
    """The command that writes a shipped model file (or its card) again: the dense one's for fashion_dnn.*."""
    return DENSE_REBUILD_COMMAND if Path(path).stem.split(".")[0] == DENSE_MODEL.stem else REBUILD_COMMAND


def check_model_archive(path: Path, *, shown: str | None = None, max_unpacked: int = MAX_ARCHIVE_BYTES) -> object:
    """Refuse, before Keras reads it, a file that is not a plain Keras 3 model archive.

    Raises ModelFileError for a non-zip, a damaged zip, a zip bomb or oversized config, unsafe member
    names, and a config that names a Lambda layer or any Python module outside Keras: safe mode must
    never run code from a model file, and a hostile config should be refused with a short message.
    `shown` names the file in the messages (an upload's own name rather than where it was saved).
    Returns the parsed config.json (models.uploaded.config_check judges an upload's from it).
    """
    refused = f"Model file {shown or path} could not be loaded"
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
            if unpacked > max_unpacked:
                raise ModelFileError(
                    f"{refused}: it unpacks to {unpacked / 2**20:,.0f} MB, more than the "
                    f"{max_unpacked / 2**20:,.0f} MB limit."
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
    return config


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
    """The model card written by `python -m models.networks.train` (test accuracy, epochs, versions...)."""
    command = rebuild_command(path)
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"Model card {path} is missing or unreadable ({exc}). Rebuild it with: {command}") from exc
    if not isinstance(card, dict) or "test_accuracy" not in card:
        raise ModelFileError(f"Model card {path} has no test accuracy. Rebuild it with: {command}")
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


def read_shift_test(path: Path = SHIFT_TEST) -> dict:
    """The translation test written by `python -m models.explain.shift_test`: for 'cnn' and 'dense', the accuracy on the
    test images moved 0-6 pixels ('mean' over right, left, down, up, and each direction). ModelFileError if
    the file is missing or was computed from other model files than the shipped ones."""
    try:
        record = json.loads(Path(path).read_text())
        models = record["models"]
        for key, model_path in (("cnn", SHIPPED_MODEL), ("dense", DENSE_MODEL)):
            if len(models[key]["mean"]) != len(record["shifts"]):
                raise ValueError(f"{key}: {len(models[key]['mean'])} accuracies for {len(record['shifts'])} shifts")
            if models[key]["sha256"] != hashlib.sha256(model_path.read_bytes()).hexdigest():
                raise ModelFileError(
                    f"The translation test in {path} was computed from another {model_path.name}. "
                    f"Compute it again with: {SHIFT_TEST_COMMAND}"
                )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            f"The translation test {path} is missing or unreadable ({exc}). Compute it with: {SHIFT_TEST_COMMAND}"
        ) from exc
    return record
