"""The shipped model's files and model card, readable without TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SHIPPED_MODEL = Path(__file__).with_name("fashion_cnn.keras")
MODEL_CARD = SHIPPED_MODEL.with_suffix(".json")
FILTER_SNAPSHOTS = SHIPPED_MODEL.with_suffix(".filters.npz")
REBUILD_COMMAND = "python -m models.train --epochs 10 --output models/fashion_cnn.keras"


class ModelFileError(RuntimeError):
    """A model file is missing or cannot be loaded; the message says how to rebuild it."""


def read_model_card(path: Path = MODEL_CARD) -> dict:
    """The model card written by `python -m models.train` (test accuracy, epochs, versions...)."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"Model card {path} is missing or unreadable ({exc}). Rebuild it with: {REBUILD_COMMAND}") from exc
    if not isinstance(card, dict) or "test_accuracy" not in card:
        raise ModelFileError(f"Model card {path} has no test accuracy. Rebuild it with: {REBUILD_COMMAND}")
    return card


def read_filter_snapshots(path: Path = FILTER_SNAPSHOTS) -> np.ndarray:
    """First-layer kernels at initialisation and after every epoch: (epochs + 1, 3, 3, 1, filters)."""
    try:
        with np.load(path) as archive:
            kernels = archive["conv1_kernels"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"Filter snapshots {path} are missing or unreadable ({exc}). Rebuild with: {REBUILD_COMMAND}") from exc
    if kernels.ndim != 5 or kernels.shape[0] < 2:
        raise ModelFileError(f"Filter snapshots {path} have shape {kernels.shape}. Rebuild with: {REBUILD_COMMAND}")
    return kernels
