"""What the web server and a training worker agree on (no TensorFlow): settings, file names, stopping.

A job's folder holds `model.keras`, `arrays.npz` and, written last, `run.json`: a folder without `run.json` is
never a finished run. The worker (models.networks.worker) writes it; the run store (models.training.runs) reads it.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

THREADS_ENV = "CNN_LAB_JOB_THREADS"
DASK_SCHEDULER_ENV = (
    "CNN_LAB_DASK_SCHEDULER"  # set: jobs train on that Dask cluster (models.training.executors.dask_cluster)
)
NICE_ENV = "CNN_LAB_JOB_NICE"
RUN_FILE, MODEL_FILE, ARRAYS_FILE = "run.json", "model.keras", "arrays.npz"
EVALUATION_FILE = "evaluation.npz"  # the run's pass over its test set (models.explain.inspection), made by the worker
STOPPED_BY_REQUEST = "stopped by request"  # models.networks.train.ProgressCallback's reason
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


class WorkerFailed(RuntimeError):
    """The job ended without a run; the message says why, in words for the learner."""


def whole_number(environ: Mapping[str, str], name: str) -> int | None:
    """A setting of at least 1 from the environment, None when unset; ValueError naming it otherwise (the one
    parser of the numeric settings: $CNN_LAB_MAX_JOBS, $CNN_LAB_JOB_THREADS)."""
    text = environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)


def job_threads(environ: Mapping[str, str] = os.environ) -> int:
    """A job's TensorFlow threads: $CNN_LAB_JOB_THREADS, 1 when unset; ValueError naming it when bad."""
    return whole_number(environ, THREADS_ENV) or 1


def limit_threads(threads: int) -> None:
    """TensorFlow's pools are sized at its first op and cannot shrink later (tensorflow#57812): call first."""
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a hidden temporary name beside `path`, then rename: a crash leaves the old file or none, never half
    a file, and two processes writing the same file never share a temporary name (models.serving.sweep removes
    leftovers)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def write_json_atomically(path: Path, value: dict) -> None:
    """`value` as JSON, written with write_atomically."""
    write_atomically(path, json.dumps(value).encode())
