"""A training job's pace on this machine right now, for bounds that scale with it (a niced worker beside busy
processes trains many times slower than on a quiet machine; a claim like "Stop ends training within a second" is
about the product, so its bound grows by the batches the machine makes the worker slow down)."""

from __future__ import annotations

import time


def batches_done(job) -> int:
    progress = job.progress()
    return progress.epoch * progress.steps + progress.batch


def seconds_per_batch(job, batches: int = 5, timeout: float = 300.0) -> float:
    """Wall seconds per batch over the next `batches` batches the job reports (timed from a reported batch)."""
    deadline = time.monotonic() + timeout
    first = batches_done(job)
    while batches_done(job) == first:  # start the clock at an update, not between two
        assert time.monotonic() < deadline, "the job reported no batch"
        time.sleep(0.005)
    start, began = time.monotonic(), batches_done(job)
    while batches_done(job) < began + batches:
        assert time.monotonic() < deadline, f"the job did not train {batches} batches in {timeout:g} s"
        time.sleep(0.005)
    return (time.monotonic() - start) / (batches_done(job) - began)
