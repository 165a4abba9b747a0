"""What the web server and a training worker agree on (no TensorFlow): settings, file names, stopping.

A job's folder holds `model.keras`, `arrays.npz` and, written last, `run.json`: a folder without `run.json` is
never a finished run. The worker (models.worker) writes it; the run store (models.runs) reads it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

THREADS_ENV = "CNN_LAB_JOB_THREADS"
NICE_ENV = "CNN_LAB_JOB_NICE"
RUN_FILE, MODEL_FILE, ARRAYS_FILE = "run.json", "model.keras", "arrays.npz"
EVALUATION_FILE = "evaluation.npz"  # the run's pass over its test set (models.inspection), made by the worker
STOPPED_BY_REQUEST = "stopped by request"  # models.train.ProgressCallback's reason
UNTRAINED_FILE = "untrained.json"  # written instead of a run when training stopped before its first batch
NOTHING_KEPT = "Stopped before it trained: nothing kept."


class StopFlag:
    """Set once, from any thread, with the reason the run will report."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str = STOPPED_BY_REQUEST) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


def limit_threads(threads: int) -> None:
    """TensorFlow's pools are sized at its first op and cannot shrink later (tensorflow#57812): call first."""
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_json_atomically(path: Path, value: dict) -> None:
    """Write to a temporary name, then rename: a crash leaves the old file or none, never half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value))
    os.replace(partial, path)
