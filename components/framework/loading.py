"""Waits that say what they wait for: TensorFlow's first import (once per server) named on the page, and the time
long computations took on this server, measured, for the next learner who asks."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time

import streamlit as st

from components.training_jobs import duration

TENSORFLOW_WAIT = "Loading TensorFlow for the model (once per server: pages that need it are quick after this)..."
TENSORFLOW_PAGES = frozenset(
    {"inspect", "predict", "deeper"}
)  # url paths of the pages whose sections import TensorFlow


WARM_ENV = "CNN_LAB_WARM"  # "1": each server process imports TensorFlow in the background on its first script run
_warming = threading.Lock()


def warm_in_background() -> None:
    """With CNN_LAB_WARM=1 (`make serve` sets it), start importing Keras and TensorFlow in a background thread.

    A replica then loads them before its learners open Inspect, Predict or Deeper: otherwise the first learners on
    each replica wait 5-15 s on Python's import lock while a class storms it (benchmarks/RESULTS.md). Idempotent.
    """
    if os.environ.get(WARM_ENV) != "1" or "keras" in sys.modules or not _warming.acquire(blocking=False):
        return
    threading.Thread(target=importlib.import_module, args=("keras",), name="cnn-lab-warm", daemon=True).start()


def _loaded(name: str) -> bool:
    """Imported and done: a module another thread is still importing is in sys.modules already."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def load_tensorflow() -> None:
    """Import Keras and TensorFlow with a notice naming the wait; nothing once they are loaded.

    Call it before importing a section that imports TensorFlow: that import would otherwise hold the page blank
    (or showing the previous step). The notice is drawn at once: `st.spinner` would appear only after 0.5 s.
    """
    if _loaded("keras"):
        return
    notice = st.empty()
    notice.info(TENSORFLOW_WAIT, icon=":material/hourglass_top:")
    import keras  # noqa: F401

    notice.empty()


@st.cache_resource
def _measured() -> dict[str, float]:
    """Seconds the last computation of each kind took on this server (shared by every session)."""
    return {}


def measured_text(kind: str, unit: str = "") -> str:
    """' The last one on this server took 1 min 51 s{unit}.', or '' before the first (no guess)."""
    seconds = _measured().get(kind)
    return "" if seconds is None else f" The last one on this server took {duration(seconds)}{unit}."


class Stopwatch:
    """One computation of a kind, timed on this server: `so_far()` for its progress lines, `done()` keeps its time
    for measured_text."""

    def __init__(self, kind: str) -> None:
        self.kind, self.started = kind, time.perf_counter()

    def so_far(self) -> str:
        return f" ({duration(time.perf_counter() - self.started)} so far)"

    def done(self, units: int = 1) -> None:
        """Keep the time it took, per unit (a model of several measured together)."""
        _measured()[self.kind] = (time.perf_counter() - self.started) / units
