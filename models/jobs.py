"""Training jobs as the web server sees them: a queue with a cap, live progress, Stop (no TensorFlow here).

A `TrainingJob` describes one run and holds its latest progress. The `JobRegistry` (one per server) starts
at most `max_jobs` jobs at once through an executor (models.executors: worker processes on this machine, or
a Dask cluster) and queues the rest in submission order. Each job has a thread here that only waits: it
forwards Stop to the worker, stops a job nobody watches, and when the worker is done moves the run's files
into the learner's saved runs (models.runs). The server never holds training data or a model being trained.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from models.executors import Execution, Executor, WorkerFailed
from models.job_protocol import STOPPED_BY_REQUEST
from models.progress import MAX_CURVE_POINTS, CurvePoint, Event
from models.recipes import RunSpec
from models.runs import RunStore, TrainingRun

ORPHAN_SECONDS = 30.0
POLL_SECONDS = 0.2
FORGET_SECONDS = 3600.0

Status = Literal["queued", "starting", "running", "evaluating", "finished", "stopped", "failed"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobProgress:
    """A consistent copy of a job's state for drawing."""

    status: Status
    queue_position: int  # 1 = next to start; 0 when not waiting
    jobs_running: int
    epoch: int  # 0-based epoch in progress (or last one)
    epochs: int
    batch: int  # batches done in this epoch
    steps: int  # batches per epoch
    images_per_second: float
    eta_seconds: float | None
    elapsed: float
    batch_curve: tuple[CurvePoint, ...]
    history: dict[str, list[float]]
    message: str = ""
    epoch_seconds: tuple[float, ...] = ()  # wall time of each finished epoch

    @property
    def fraction(self) -> float:
        """Share of all training batches done, 0-1."""
        total = self.epochs * self.steps
        return min(1.0, (self.epoch * self.steps + self.batch) / total) if total else 0.0

    @property
    def epochs_done(self) -> float:
        """Epochs trained so far, e.g. 1.45."""
        return self.epoch + self.batch / self.steps if self.steps else 0.0


_job_ids = itertools.count(1)


class TrainingJob:
    """One run, queued or training somewhere; all methods are safe from any thread."""

    def __init__(
        self,
        spec: RunSpec,
        name: str,
        *,
        learner: str,
        group: int = 0,
        sample_index: int = 0,
        label: str = "",
        orphan_after: float = ORPHAN_SECONDS,
        keepalive: Callable[[], bool] | None = None,
    ) -> None:
        spec.check()
        self.id = next(_job_ids)
        self.spec, self.name, self.learner, self.group = spec, name, learner, group
        self.sample_index = sample_index
        self.label = label  # "Run 3": the saved run is named "<label>: <spec title with the epochs trained>"
        self.orphan_after, self.keepalive = orphan_after, keepalive
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.run: TrainingRun | None = None
        self.registry: JobRegistry | None = None
        self._execution: Execution | None = None
        self._stop_reason = STOPPED_BY_REQUEST
        self._lock = threading.Lock()
        self._status: Status = "queued"
        self._message = ""
        self._abandoned = False
        self._last_seen = time.monotonic()
        self._steps = spec.steps_per_epoch()
        self._curve: deque[CurvePoint] = deque(maxlen=MAX_CURVE_POINTS)
        self._history: dict[str, list[float]] = {}
        self._epoch_seconds: list[float] = []
        self._epoch = self._batch = 0
        self._rate = 0.0
        self._started = self._ended = 0.0

    def payload(self) -> dict:
        """What a worker needs to train this job (JSON-safe)."""
        return {
            "spec": self.spec.to_payload(),
            "name": self.name,
            "label": self.label,
            "group": self.group,
            "sample_index": self.sample_index,
            **({"dataset": {"path": self.spec.dataset}} if self.spec.dataset else {}),
        }

    # -- page side

    def progress(self) -> JobProgress:
        registry = self.registry
        position = registry.position(self) if registry is not None else 0
        running = registry.running() if registry is not None else 0
        with self._lock:
            batch_size = self.spec.recipe.batch_size
            done_images = (self._epoch * self._steps + self._batch) * batch_size
            left = max(0, self.spec.recipe.epochs * self._steps * batch_size - done_images)
            eta = left / self._rate if self._rate > 0 and self._status == "running" else None
            return JobProgress(
                status=self._status,
                queue_position=position,
                jobs_running=running,
                epoch=self._epoch,
                epochs=self.spec.recipe.epochs,
                batch=self._batch,
                steps=self._steps,
                images_per_second=self._rate,
                eta_seconds=eta,
                elapsed=(self._ended or time.perf_counter()) - self._started if self._started else 0.0,
                batch_curve=tuple(self._curve),
                history={k: list(v) for k, v in self._history.items()},
                message=self._message,
                epoch_seconds=tuple(self._epoch_seconds),
            )

    def heartbeat(self) -> None:
        """Someone is watching: keeps the job from being stopped as abandoned."""
        self._last_seen = time.monotonic()

    def stop(self, reason: str = STOPPED_BY_REQUEST) -> None:
        """Stop after the current batch (or leave the queue), keeping the weights so far."""
        with self._lock:
            if self.stop_event.is_set():
                return
            self._stop_reason = reason
            self.stop_event.set()
            execution = self._execution
        if execution is not None:
            execution.stop(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done; True if it is."""
        return self.finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    # -- the job's own thread

    def abandoned(self) -> bool:
        """True, and the job stops, once nobody has shown interest for `orphan_after` seconds.

        Interest is a `heartbeat()` or, when the heartbeats are late, a True answer from `keepalive`.
        """
        if self._abandoned:
            return True
        now = time.monotonic()
        if now - self._last_seen <= self.orphan_after:
            return False
        try:
            connected = self.keepalive is not None and self.keepalive()
        except Exception:  # a liveness check that fails counts as "still connected": never stop a job by mistake
            log.exception("keepalive check of job %s failed", self.name)
            connected = True
        if connected:
            self._last_seen = now
            return False
        self._abandoned = True
        message = f"Stopped: nobody watched this run for {self.orphan_after:g} s (browser closed?)."
        self._set(message=message)
        self.stop(message)
        return True

    def apply(self, event: Event) -> None:
        """Fold one progress event from the worker into the job's state (called by the executor)."""
        kind = event.get("type")
        with self._lock:
            if kind == "status" and event.get("status") in ("running", "evaluating"):
                self._status = event["status"]
            elif kind == "progress":
                self._epoch, self._batch = int(event["epoch"]), int(event["batch"])
                self._rate = float(event.get("rate", 0.0))
                self._curve.extend(tuple(point) for point in event.get("points", ()))
            elif kind == "epoch":
                self._epoch_seconds.append(float(event.get("seconds", 0.0)))
                for key, value in dict(event.get("logs", {})).items():
                    self._history.setdefault(key, []).append(float(value))

    def _set(self, status: Status | None = None, message: str | None = None) -> None:
        with self._lock:
            if status is not None:
                self._status = status
            if message is not None:
                self._message = message

    def work(self, registry: JobRegistry) -> None:
        """Wait for a slot, start the worker, watch it, save its run. Never raises."""
        staging = None
        try:
            if not registry.acquire(self):
                self._set("stopped", self._message or "Stopped before it started.")
                return
            self._set("starting")
            self._started = time.perf_counter()
            staging = registry.store.staging_folder()
            execution = registry.executor.start(self.payload(), self.apply, staging)
            with self._lock:
                self._execution = execution
                stopping = self.stop_event.is_set()
            if stopping:
                execution.stop(self._stop_reason)
            while not execution.wait(POLL_SECONDS):
                self.abandoned()
            self.run = registry.store.commit(self.learner, staging)
            staging = None
            stopped = self.stop_event.is_set()
            self._set("stopped" if stopped else "finished", self.run.stop_reason or "")
        except WorkerFailed as error:
            self._set("failed", str(error))
            if staging is not None and (staging / "worker.log").is_file():
                tail = (staging / "worker.log").read_text(errors="replace")[-4000:]
                log.warning("training job %s failed: %s\nworker log (end):\n%s", self.name, error, tail)
        except Exception as error:  # shown to the user as a message; the traceback goes to the server log
            log.exception("training job %s failed", self.name)
            self._set("failed", f"Training failed: {type(error).__name__}: {error}")
        finally:
            self._ended = time.perf_counter()
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            registry.release(self)
            self.finished.set()


class JobRegistry:
    """At most `max_jobs` jobs train at once; the others wait in submission order. One per server."""

    def __init__(self, executor: Executor, store: RunStore, max_jobs: int | None = None) -> None:
        self.executor, self.store = executor, store
        self.max_jobs = max_jobs or executor.max_jobs
        if self.max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {self.max_jobs}")
        self._cond = threading.Condition()
        self._waiting: deque[TrainingJob] = deque()
        self._running: set[TrainingJob] = set()
        self._jobs: list[TrainingJob] = []  # every job not yet collected by its learner's page

    def submit(self, job: TrainingJob) -> None:
        """Queue the job and start its thread; it trains when a slot is free and its turn comes."""
        with self._cond:
            job.registry = self
            self._waiting.append(job)
            forgotten = time.perf_counter() - FORGET_SECONDS  # ended jobs whose page never came back
            self._jobs = [old for old in self._jobs if not (old.done and old._ended < forgotten)] + [job]
        threading.Thread(target=job.work, args=(self,), name=f"training-job-{job.id}", daemon=True).start()

    def jobs_for(self, learner: str) -> list[TrainingJob]:
        """The learner's jobs that are queued or training, in submission order."""
        with self._cond:
            return [job for job in self._jobs if job.learner == learner and not job.done]

    def collect(self, learner: str) -> list[TrainingJob]:
        """The learner's ended jobs, removed from the registry (their runs are in the store)."""
        with self._cond:
            ended = [job for job in self._jobs if job.learner == learner and job.done]
            self._jobs = [job for job in self._jobs if job not in ended]
        return ended

    def acquire(self, job: TrainingJob) -> bool:
        """Wait (in the job's thread) for a slot; False if the job is stopped or abandoned while waiting."""
        try:
            while not (job.stop_event.is_set() or job.abandoned()):
                with self._cond:
                    if self._waiting[0] is job and len(self._running) < self.max_jobs:
                        self._waiting.popleft()
                        self._running.add(job)
                        self._cond.notify_all()
                        return True
                    self._cond.wait(timeout=POLL_SECONDS)
            return False
        finally:
            with self._cond:  # a job leaving the queue for any reason never blocks the ones behind it
                if job in self._waiting:
                    self._waiting.remove(job)
                self._cond.notify_all()

    def release(self, job: TrainingJob) -> None:
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def position(self, job: TrainingJob) -> int:
        """1-based place in the queue, 0 if the job is not waiting."""
        with self._cond:
            for index, waiting in enumerate(self._waiting, 1):
                if waiting is job:
                    return index
            return 0

    def running(self) -> int:
        with self._cond:
            return len(self._running)

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)
