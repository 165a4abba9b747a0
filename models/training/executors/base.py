"""What an executor is: `start` a job, get an `Execution` to stop and wait on (no TensorFlow in this module)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from models.training.progress import Event


class Execution(Protocol):
    def stop(self, reason: str) -> None:
        """Ask the job to stop after its current batch; it still writes the run so far."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s: False while the job runs; True once its run is in the folder; raise
        WorkerFailed if it ended without one."""


class Executor(Protocol):
    name: str  # for the page: "this server" or "the Dask cluster at ..."
    max_jobs: int  # how many jobs train at once

    def start(self, payload: dict, emit: Callable[[Event], None], folder: Path) -> Execution:
        """Start one job (models.training.worker.run_job's payload); its run goes into `folder`."""
