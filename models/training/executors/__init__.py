"""Where training jobs run: one small interface, two implementations (no TensorFlow in this package).

- `LocalProcessExecutor` (the default): each job is a `python -m models.training.worker` process on this machine,
  started with a lower CPU priority (nice) and a TensorFlow thread limit, so reruns keep a core.
- `models.training.executors.dask_cluster.DaskExecutor`, chosen when `$CNN_LAB_DASK_SCHEDULER` is set: jobs run on the
  workers of a Dask `distributed` cluster.

An executor's `start` returns an `Execution`: it forwards the job's progress events (models.training.progress) to
`emit` from a thread of its own, and `wait()` returns True once the run's files are in the folder it was
given, or raises `WorkerFailed` carrying a message for the learner.

Public API: `executor_from_environment`, the interface (`Executor`, `Execution`, base.py), `LocalProcessExecutor`
(local.py) and `WorkerFailed`; `DaskExecutor` is imported from dask_cluster.py, only when a scheduler is named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from models.training.executors.base import Execution, Executor
from models.training.executors.local import LocalProcessExecutor
from models.training.job_protocol import DASK_SCHEDULER_ENV, THREADS_ENV, WorkerFailed, whole_number

MAX_JOBS_ENV = "CNN_LAB_MAX_JOBS"

__all__ = ["Execution", "Executor", "LocalProcessExecutor", "WorkerFailed", "executor_from_environment"]


def executor_from_environment(environ: Mapping[str, str] = os.environ) -> Executor:
    """Dask when $CNN_LAB_DASK_SCHEDULER names a scheduler, else worker processes on this machine.

    $CNN_LAB_MAX_JOBS caps the jobs training at once; $CNN_LAB_JOB_THREADS sets a local job's threads.
    """
    max_jobs = whole_number(environ, MAX_JOBS_ENV)
    address = environ.get(DASK_SCHEDULER_ENV, "").strip()
    if address:
        from models.training.executors.dask_cluster import DaskExecutor

        return DaskExecutor.from_environment(address, environ, max_jobs=max_jobs)
    return LocalProcessExecutor(max_jobs=max_jobs, threads=whole_number(environ, THREADS_ENV))
