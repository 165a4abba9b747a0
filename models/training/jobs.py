"""Training jobs as the web server sees them: a fair class queue, runs trained once, live progress, Stop.

A `TrainingJob` is one learner's request (a seat on the class queue, models.training.job_board). Identical settings
asked for by several learners train once: each of them watches the same progress and gets their own copy of
the run. The `JobRegistry` (one per server process) lets at most `max_jobs` jobs train at once for the whole
machine (every process shares the queue's file), in the fair order of models.training.job_schedule, each learner
with at most one job training and a few waiting, each job under the server's cost cap. The process that
claims a job trains it through an executor (models.training.executors: worker processes here, or a Dask cluster)
from a thread that only waits: it forwards Stop, stops a job nobody watches, publishes progress for the
other processes, and moves the finished run into each of its learners' saved runs (models.training.runs).
The server never holds training data or a model being trained; no TensorFlow here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.serving.quota import QuotaExceeded
from models.training.executors import Execution, Executor, WorkerFailed, whole_number
from models.training.job_board import DB_FILE, JobBoard, JobRow, LimitReached, QueueView, SeatRow
from models.training.job_cost import check_cost, core_seconds, max_job_seconds, work_parts
from models.training.job_protocol import NOTHING_KEPT, STOPPED_BY_REQUEST, UNTRAINED_FILE
from models.training.progress import MAX_CURVE_POINTS, CurvePoint, Event
from models.training.recipes import PRESETS, RunSpec
from models.training.runs import RunStore, TrainingRun

ORPHAN_SECONDS = 30.0
POLL_SECONDS = 0.2
PUBLISH_SECONDS = 1.0  # how often a training process shares a job's progress with the others
TOUCH_SECONDS = 1.0  # how often a process writes that its learners still watch their jobs
VIEW_SECONDS = 0.5  # how long one plan of the queue serves every page of this process
LEARNER_JOBS_ENV = "CNN_LAB_LEARNER_JOBS"

Status = Literal["queued", "starting", "running", "evaluating", "finished", "stopped", "failed"]

log = logging.getLogger(__name__)


def default_learner_jobs() -> int:
    """Jobs one learner may have queued or training at once: one training and the rest of the largest
    one-click experiment waiting (Fight overfitting: four runs)."""
    return max(len(preset.runs(RunSpec())) for preset in PRESETS.values())


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
    eta_seconds: float | None  # seconds until the run is done (queued: its estimated start plus its length)
    elapsed: float
    batch_curve: tuple[CurvePoint, ...]
    history: dict[str, list[float]]
    message: str = ""
    epoch_seconds: tuple[float, ...] = ()  # wall time of each finished epoch
    starts_in: float | None = None  # queued: estimated seconds until it starts
    shared_with: int = 0  # other learners waiting for the same run (identical settings train once)

    @property
    def fraction(self) -> float:
        """Share of all training batches done, 0-1."""
        total = self.epochs * self.steps
        return min(1.0, (self.epoch * self.steps + self.batch) / total) if total else 0.0

    @property
    def epochs_done(self) -> float:
        """Epochs trained so far, e.g. 1.45."""
        return self.epoch + self.batch / self.steps if self.steps else 0.0


class TrainingJob:
    """One learner's request for a run; all methods are safe from any thread."""

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
        self.id = 0  # its seat on the class queue, once submitted
        self.job_id = 0
        self.how = ""  # "new", "shared" (someone asked for the same run first) or "trained" (copied at once)
        self.spec, self.name, self.learner, self.group = spec, name, learner, group
        self.sample_index = sample_index
        self.label = label  # "Run 3": the saved run is named "<label>: <spec title with the epochs trained>"
        self.orphan_after, self.keepalive = orphan_after, keepalive
        self.stop_event = threading.Event()  # this learner pressed Stop (or Cancel)
        self.registry: JobRegistry | None = None
        self._last_seen = time.monotonic()
        self._abandoned = False
        self._run: TrainingRun | None = None

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

    def key(self) -> str:
        """What makes two requests the same run: every setting, the seed included (training is seeded)."""
        identity = {"spec": self.spec.to_payload(), "sample_index": self.sample_index}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def seat_fields(self, store: RunStore) -> dict:
        """What the class queue keeps of this request (JobBoard.add_seat's arguments but the learner's limit)."""
        return {
            "learner": store.learner_key(self.learner),
            "key": self.key(),
            "payload": self.payload(),
            "estimate": core_seconds(self.spec),
            "train_work": sum(work_parts(self.spec)[:2]),
            "model_key": model_key(self.spec),
            "passes": image_passes(self.spec),
            "name": self.name,
            "label": self.label,
            "group": self.group,
            "orphan_after": self.orphan_after,
        }

    # -- page side

    def progress(self) -> JobProgress:
        if self.registry is None:
            steps = self.spec.steps_per_epoch()
            return JobProgress("queued", 0, 0, 0, self.spec.recipe.epochs, 0, steps, 0.0, None, 0.0, (), {})
        return self.registry.progress_of(self)

    def heartbeat(self) -> None:
        """Someone is watching: keeps the job from being stopped as abandoned."""
        self._last_seen = time.monotonic()
        if self.registry is not None:
            self.registry.watched(self)

    def stop(self, reason: str = STOPPED_BY_REQUEST) -> None:
        """Stop after the current batch (or leave the queue), keeping the weights so far. On a run other
        learners also wait for, this learner leaves it instead and it goes on for them."""
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        if self.registry is not None:
            self.registry.stop(self, reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done for this learner; True if it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    @property
    def done(self) -> bool:
        return self.registry is not None and self.registry.seat(self).state != "waiting"

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    @property
    def run(self) -> TrainingRun | None:
        """This learner's saved run, once the job is done with one."""
        if self._run is None and self.registry is not None:
            seat = self.registry.seat(self)
            if seat.run_id:
                self._run = self.registry.store.run(self.learner, seat.run_id)
        return self._run

    def abandoned(self) -> bool:
        """True once nobody has shown interest for `orphan_after` seconds: a `heartbeat()` or, when the
        heartbeats are late, a True answer from `keepalive`."""
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
        return True


class Runner:
    """A claimed job trained from this process: its worker's events folded into progress, shared on the board."""

    def __init__(self, registry: JobRegistry, row: JobRow) -> None:
        self.registry, self.row = registry, row
        self.spec = RunSpec.from_payload(row.payload["spec"])
        self.job_id = row.id
        self.stopping: str | None = None
        self._lock = threading.Lock()
        self._status: Status = "starting"
        self._message = ""
        self._steps = self.spec.steps_per_epoch()
        self._curve: deque[CurvePoint] = deque(maxlen=MAX_CURVE_POINTS)
        self._history: dict[str, list[float]] = {}
        self._epoch_seconds: list[float] = []
        self._epoch = self._batch = 0
        self._rate = 0.0
        self._started = time.perf_counter()
        self._running_at = self._evaluating_at = 0.0  # when the first batch began, when the test passes began
        self._ended = 0.0
        self._published = 0.0
        self._execution: Execution | None = None

    def apply(self, event: Event) -> None:
        """Fold one progress event from the worker into the job's state (called by the executor)."""
        kind = event.get("type")
        with self._lock:
            if kind == "status" and event.get("status") in ("running", "evaluating"):
                self._status = event["status"]
                if event["status"] == "running" and not self._running_at:
                    self._running_at = time.perf_counter()
                elif event["status"] == "evaluating" and not self._evaluating_at:
                    self._evaluating_at = time.perf_counter()
            elif kind == "progress":
                self._epoch, self._batch = int(event["epoch"]), int(event["batch"])
                self._rate = float(event.get("rate", 0.0))
                self._curve.extend(tuple(point) for point in event.get("points", ()))
            elif kind == "epoch":
                self._epoch_seconds.append(float(event.get("seconds", 0.0)))
                for key, value in dict(event.get("logs", {})).items():
                    self._history.setdefault(key, []).append(float(value))

    def snapshot(self) -> dict:
        """The job's progress as plain values (what other processes draw)."""
        with self._lock:
            return {
                "status": self._status,
                "epoch": self._epoch,
                "batch": self._batch,
                "rate": self._rate,
                "elapsed": (self._ended or time.perf_counter()) - self._started,
                "curve": [list(point) for point in self._curve],
                "history": {k: list(v) for k, v in self._history.items()},
                "epoch_seconds": list(self._epoch_seconds),
                "message": self._message,
            }

    def remaining(self) -> float:
        """Estimated seconds left: the server's measured start-up, training at its measured speed and tail while
        starting; then the training time so far scaled by the share of batches left; then the tail."""
        speed = self.registry.board.speed()
        now = time.perf_counter()
        with self._lock:
            total = self.spec.recipe.epochs * self._steps
            done = min(total, self._epoch * self._steps + self._batch)
            running_at, evaluating_at = self._running_at, self._evaluating_at
        if evaluating_at:
            return max(0.5, speed.tail - (now - evaluating_at))
        if not running_at:
            return max(0.0, speed.startup - (now - self._started)) + speed.training_seconds(self.row) + speed.tail
        trained = now - running_at
        if done / max(1, total) < 0.02:  # too early to extrapolate
            return max(0.0, speed.training_seconds(self.row) - trained) + speed.tail
        return trained * (total - done) / done + speed.tail

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.stopping is not None:
                return
            self.stopping = reason
            execution = self._execution
        if execution is not None:
            execution.stop(reason)

    def work(self) -> None:
        """Start the worker, watch it, give each learner their run. Never raises."""
        registry = self.registry
        staging = None
        try:
            staging = registry.store.staging_folder()
            registry.board.set_staging(self.job_id, str(staging))  # a run complete there survives this process
            execution = registry.executor.start(self.row.payload, self.apply, staging)
            with self._lock:
                self._execution = execution
                reason = self.stopping
            if reason is not None:
                execution.stop(reason)
            while not execution.wait(POLL_SECONDS):
                self._watch()
            if (staging / UNTRAINED_FILE).is_file():  # stopped before its first batch: no run to hand out
                self._nothing_kept(json.loads((staging / UNTRAINED_FILE).read_text()).get("stop_reason"))
                return
            shared = registry.store.share(staging, f"{self.job_id}-{uuid.uuid4().hex[:8]}")
            staging = None
            self._hand_out(shared)
        except WorkerFailed as error:
            self._fail(str(error))
            if staging is not None and (staging / "worker.log").is_file():
                tail = (staging / "worker.log").read_text(errors="replace")[-4000:]
                log.warning("training job %s failed: %s\nworker log (end):\n%s", self.job_id, error, tail)
        except Exception as error:  # shown to the user as a message; the traceback goes to the server log
            log.exception("training job %s failed", self.job_id)
            self._fail(f"Training failed: {type(error).__name__}: {error}")
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            registry.runner_done(self)

    def recover(self, staging: Path) -> None:
        """Hand out a run its training process finished before it died (found complete in its staging folder)."""
        try:
            with self._lock:
                self._status = "evaluating"
            self._hand_out(self.registry.store.share(staging, f"{self.job_id}-{uuid.uuid4().hex[:8]}"))
        except Exception as error:  # shown to the user as a message; the traceback goes to the server log
            log.exception("recovering training job %s failed", self.job_id)
            self._fail(f"Training failed: {type(error).__name__}: {error}")
        finally:
            self.registry.runner_done(self)

    def _watch(self) -> None:
        """Each poll: forward a Stop from any process, stop a job nobody watches, share the progress."""
        board = self.registry.board
        if self.stopping is None:
            reason = board.stop_reason(self.job_id) or self.registry.orphaned(board.seats_of(self.job_id, "waiting"))
            if reason:
                with self._lock:
                    self._message = reason if reason != STOPPED_BY_REQUEST else ""
                self.stop(reason)
        if time.perf_counter() - self._published >= PUBLISH_SECONDS:
            self._published = time.perf_counter()
            board.publish(self.job_id, self.snapshot(), self.remaining())

    def _hand_out(self, shared) -> None:
        """Each learner still waiting gets their own copy of the run; a finished run stays shared for later."""
        registry, board = self.registry, self.registry.board
        run = TrainingRun.read(shared)
        stopped = self.stopping is not None
        outcome: Status = "stopped" if stopped else "finished"
        message = run.stop_reason or ""
        with self._lock:
            self._status, self._message, self._ended = outcome, message, time.perf_counter()
        board.publish(self.job_id, self.snapshot(), 0.0)
        seats = board.seats_of(self.job_id, "waiting")
        for seat in seats:
            name = f"{seat.label}: {run.spec().title(run.epochs_done)}" if seat.label else seat.name
            try:
                run_id = registry.store.adopt(
                    seat.learner, shared, name=name, group=seat.group, shared_with=len(seats) if len(seats) > 1 else 0
                )
            except QuotaExceeded as error:  # this learner's disk quota (or the server's): the others still get theirs
                board.end_seat(seat.id, str(error), "failed")
                continue
            board.seat_done(seat.id, run_id, outcome, message)
        keep = not stopped
        board.finish(self.job_id, outcome, message, str(shared) if keep else None, None if stopped else self.timing())
        if not keep:
            shutil.rmtree(shared, ignore_errors=True)
        registry.prune_shared()

    def timing(self) -> tuple[float, float, float] | None:
        """(start-up, training, tail) seconds of a job that trained to its end, for the server's speed."""
        with self._lock:
            running_at, evaluating_at, ended = self._running_at, self._evaluating_at, self._ended
        if not (running_at and evaluating_at and ended):
            return None
        return running_at - self._started, evaluating_at - running_at, ended - evaluating_at

    def _nothing_kept(self, reason: str | None) -> None:
        """The job stopped before it trained a batch: its learners are told so (and why), and nothing is saved."""
        board = self.registry.board
        message = NOTHING_KEPT if reason in (None, STOPPED_BY_REQUEST) else f"{NOTHING_KEPT[:-1]} ({reason})."
        with self._lock:
            self._status, self._message, self._ended = "stopped", message, time.perf_counter()
        board.publish(self.job_id, self.snapshot(), 0.0)
        for seat in board.seats_of(self.job_id, "waiting"):
            board.end_seat(seat.id, message, "stopped")
        board.finish(self.job_id, "stopped", message)

    def _fail(self, message: str) -> None:
        with self._lock:
            self._status, self._message, self._ended = "failed", message, time.perf_counter()
        try:
            self.registry.board.publish(self.job_id, self.snapshot(), 0.0)
        finally:
            self.registry.board.finish(self.job_id, "failed", message)


def model_key(spec: RunSpec) -> str:
    """What sets a job's images per second: the model (its layers, augmentation, frozen filters) and the batch."""
    identity = {
        "architecture": None if spec.architecture is None else spec.architecture.to_dict(),
        "hand_picked": spec.hand_picked,
        "batch": spec.recipe.batch_size,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def image_passes(spec: RunSpec) -> float:
    """A job's training work in image passes: every fitted image each epoch, validation images a third (forward
    only, no gradients)."""
    return spec.recipe.epochs * (spec.fitted_images + spec.validation_images / 3)


def complete_run(folder: str) -> bool:
    """Whether a staging folder holds a whole run (the worker writes its record last)."""
    try:
        TrainingRun.read(Path(folder))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return False
    return True


class JobRegistry:
    """This process's door to the class queue: submit, watch and stop jobs; train the ones it claims."""

    def __init__(
        self,
        executor: Executor,
        store: RunStore,
        max_jobs: int | None = None,
        *,
        learner_jobs: int | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.executor, self.store = executor, store
        self.max_jobs = max_jobs or executor.max_jobs
        if self.max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {self.max_jobs}")
        self.learner_jobs = learner_jobs or whole_number(environ, LEARNER_JOBS_ENV) or default_learner_jobs()
        self.cost_cap = max_job_seconds(environ)
        self.board = JobBoard(store.root / DB_FILE)
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.connected: Callable[[str], bool] | None = None  # is a learner's token connected to this process?
        self._lock = threading.Lock()
        self._views: dict[int, TrainingJob] = {}  # seat id -> this process's object for it
        self._runners: dict[int, Runner] = {}  # job id -> the jobs this process trains
        self._watched: set[int] = set()
        self._view: tuple[float, QueueView] | None = None
        self._view_generation = 0  # bumped by every change, so a plan read before it is never cached after it
        self._snapshots: dict[int, tuple[int, dict]] = {}
        self._dispatcher: threading.Thread | None = None
        if self.board.active_jobs():  # a restart: take over what the previous process left
            self._ensure_dispatcher()

    # -- asking

    def check(self, specs: list[RunSpec], learner: str) -> None:
        """Raise LimitReached or JobTooLarge (ValueErrors with a message) if these runs cannot be queued."""
        for spec in specs:
            check_cost(spec, self.cost_cap)
        active = self.board.active_seats(self.store.learner_key(learner))
        if active + len(specs) > self.learner_jobs:
            extra = f" This experiment trains {len(specs)} runs." if len(specs) > 1 else ""
            raise LimitReached(
                f"Not started: you would have {active + len(specs)} runs queued or training, and each learner may "
                f"have at most {self.learner_jobs} at once on this server (one training, the rest waiting), so that "
                f"everyone in the class gets a turn.{extra} Wait for a run to finish, or cancel one."
            )

    def submit(self, job: TrainingJob) -> None:
        """Queue the job (or join the same run another learner asked for); it trains when its turn comes."""
        check_cost(job.spec, self.cost_cap)
        seat, row, how = self.board.add_seat(**job.seat_fields(self.store), max_active=self.learner_jobs)
        job.id, job.job_id, job.how, job.registry = seat.id, row.id, how, self
        with self._lock:
            self._views[seat.id] = job
            self._forget_view()
        if how == "trained":
            self._copy_finished(job, seat, row)
        self._ensure_dispatcher()

    def _copy_finished(self, job: TrainingJob, seat: SeatRow, row: JobRow) -> None:
        """The run was trained here before with the same settings: the learner's copy, at once."""
        try:
            source = Path(row.result or "")
            run = TrainingRun.read(source)
            name = f"{seat.label}: {run.spec().title(run.epochs_done)}" if seat.label else seat.name
            run_id = self.store.adopt(seat.learner, source, name=name, group=seat.group, shared_with=2)
            self.board.seat_done(seat.id, run_id, "finished", run.stop_reason or "")
        except QuotaExceeded as error:  # the shared run is fine: only this learner's copy does not fit
            self.board.end_seat(seat.id, str(error), "failed")
        except (OSError, ValueError, KeyError) as error:
            log.warning("copying shared run of job %s failed: %s", row.id, error)
            self.board.forget_result(row.id)
            self.board.end_seat(seat.id, "The same run trained earlier is gone; start it again.", "failed")

    # -- watching

    def seat(self, job: TrainingJob) -> SeatRow:
        return self.board.seat(job.id)

    def waited(self, job: TrainingJob) -> float | None:
        """Seconds from this learner's request to its job's end (start-up, queue, training and the test
        measurement: what the learner waited), None while it has not ended."""
        seat = self.board.seat(job.id)
        return None if seat.ended is None else max(0.0, seat.ended - seat.created)

    def jobs_for(self, learner: str) -> list[TrainingJob]:
        """The learner's jobs that are queued or training, oldest first (also ones asked for on another
        process of this server, e.g. before a refresh landed here)."""
        seats = self.board.learner_seats(self.store.learner_key(learner), ended=False)
        if seats:
            self._ensure_dispatcher()
        return [self._view_of(seat, learner) for seat in seats]

    def collect(self, learner: str) -> list[TrainingJob]:
        """The learner's ended jobs, taken off the queue's list (their runs are in the store)."""
        seats = self.board.learner_seats(self.store.learner_key(learner), ended=True)
        ended = [self._view_of(seat, learner) for seat in seats]
        self.board.collected([seat.id for seat in seats])
        with self._lock:
            for seat in seats:
                self._views.pop(seat.id, None)
        return ended

    def _view_of(self, seat: SeatRow, learner: str) -> TrainingJob:
        with self._lock:
            job = self._views.get(seat.id)
        if job is not None:
            return job
        row = self.board.job(seat.job)
        connected = self.connected
        job = TrainingJob(
            RunSpec.from_payload(row.payload["spec"]),
            seat.name,
            learner=learner,
            group=seat.group,
            sample_index=int(row.payload.get("sample_index", 0)),
            label=seat.label,
            orphan_after=seat.orphan_after,
            keepalive=None if connected is None else (lambda: connected(learner)),
        )
        job.id, job.job_id, job.registry = seat.id, seat.job, self
        with self._lock:
            return self._views.setdefault(seat.id, job)

    def watched(self, job: TrainingJob) -> None:
        with self._lock:
            self._watched.add(job.id)

    def view(self) -> QueueView:
        """The queue's plan, recomputed at most every VIEW_SECONDS for all of this process's pages."""
        now = time.monotonic()
        with self._lock:
            cached, generation = self._view, self._view_generation
        if cached is not None and now - cached[0] < VIEW_SECONDS:
            return cached[1]
        view = self.board.view(slots=self.max_jobs)
        with self._lock:
            if generation == self._view_generation:
                self._view = (now, view)
        return view

    def _forget_view(self) -> None:
        """Drop the cached plan (the caller holds self._lock)."""
        self._view = None
        self._view_generation += 1

    def running(self) -> int:
        return self.view().running

    def waiting(self) -> int:
        return self.view().waiting

    def position(self, job: TrainingJob) -> int:
        """1-based place in the queue, 0 if the job is not waiting."""
        planned = self.view().planned.get(job.job_id)
        return planned.place if planned is not None and not job.done else 0

    def progress_of(self, job: TrainingJob) -> JobProgress:
        seat = self.board.seat(job.id)
        row = self.board.job(seat.job)
        shared_with = max(0, len(self.board.seats_of(seat.job, "waiting")) - (seat.state == "waiting"))
        steps, epochs = job.spec.steps_per_epoch(), job.spec.recipe.epochs
        if seat.state == "waiting" and row.state == "queued":
            view = self.view()
            planned = view.planned.get(row.id)
            return JobProgress(
                "queued",
                planned.place if planned else 0,
                view.running,
                0,
                epochs,
                0,
                steps,
                0.0,
                planned.end if planned else None,
                0.0,
                (),
                {},
                message=row.message,
                starts_in=planned.start if planned else None,
                shared_with=shared_with,
            )
        data = self._snapshot(row)
        status: Status = data.get("status", "starting") if seat.state == "waiting" else seat.outcome  # type: ignore[assignment]
        if status not in ("starting", "running", "evaluating", "finished", "stopped", "failed"):
            status = "stopped"
        epoch, batch, rate = int(data.get("epoch", 0)), int(data.get("batch", 0)), float(data.get("rate", 0.0))
        done_images = (epoch * steps + batch) * job.spec.recipe.batch_size
        left = max(0, epochs * steps * job.spec.recipe.batch_size - done_images)
        return JobProgress(
            status=status,
            queue_position=0,
            jobs_running=self.view().running,
            epoch=epoch,
            epochs=epochs,
            batch=batch,
            steps=steps,
            images_per_second=rate,
            eta_seconds=left / rate if rate > 0 and status == "running" else None,
            elapsed=float(data.get("elapsed", 0.0)),
            batch_curve=tuple((float(x), float(loss), float(acc)) for x, loss, acc in data.get("curve", ())),
            history={k: list(v) for k, v in dict(data.get("history", {})).items()},
            message=seat.message if seat.state != "waiting" else str(data.get("message", "")),
            epoch_seconds=tuple(data.get("epoch_seconds", ())),
            shared_with=shared_with,
        )

    def _snapshot(self, row: JobRow) -> dict:
        """A job's progress: from its runner when this process trains it, else as its process published it."""
        with self._lock:
            runner = self._runners.get(row.id)
        if runner is not None:
            return runner.snapshot()
        version, text = self.board.progress(row.id)
        with self._lock:
            cached = self._snapshots.get(row.id)
        if cached is not None and cached[0] == version:
            return cached[1]
        data = json.loads(text) if text else {}
        with self._lock:
            self._snapshots[row.id] = (version, data)
        return data

    # -- stopping

    def stop(self, job: TrainingJob, reason: str) -> None:
        with self._lock:
            runner = self._runners.get(job.job_id)
            self._forget_view()
        alone = [seat.id for seat in self.board.seats_of(job.job_id, "waiting")] == [job.id]
        if runner is not None and alone:  # trained here for this learner alone: stop at once
            runner.stop(reason)
        if self.board.leave_or_stop(job.id, reason) == "stopping" and runner is not None:
            runner.stop(reason)

    def orphaned(self, seats: list[SeatRow]) -> str | None:
        """The orphan message when nobody watches any of these seats (empty: nobody waits), else None."""
        if not seats:
            return None
        now = time.time()
        for seat in seats:
            if now - seat.seen <= seat.orphan_after:
                return None
            with self._lock:
                job = self._views.get(seat.id)
            if job is not None and not job.abandoned():
                return None
        longest = max(seats, key=lambda seat: seat.orphan_after)
        return f"Stopped: nobody watched this run for {longest.orphan_after:g} s (browser closed?)."

    # -- the process's own loop: claim, train, keep the queue clean

    def _ensure_dispatcher(self) -> None:
        with self._lock:
            if self._dispatcher is not None and self._dispatcher.is_alive():
                return
            self._dispatcher = threading.Thread(target=self._dispatch, name="training-queue", daemon=True)
            self._dispatcher.start()

    def _dispatch(self) -> None:
        """Until the queue is empty: renew leases, record who watches, drop unwatched waits, claim jobs."""
        last_touch = last_sweep = 0.0
        while True:
            try:
                now = time.monotonic()
                with self._lock:
                    training = bool(self._runners)
                if training:
                    self.board.renew(self.owner)
                if now - last_touch >= TOUCH_SECONDS:
                    last_touch = now
                    self._touch()
                if now - last_sweep >= TOUCH_SECONDS:
                    last_sweep = now
                    self._sweep_queue()
                    self._recover_lost()
                self._claim()
                with self._lock:
                    training = bool(self._runners)
                if not training and self.board.active_jobs() == 0:
                    with self._lock:
                        self._dispatcher = None
                    return
            except Exception:  # the queue's loop must outlive a locked or damaged database: log, retry
                log.exception("training queue loop failed; retrying")
            time.sleep(POLL_SECONDS)

    def _touch(self) -> None:
        """Write that this process's learners still watch: heartbeats, or a session of theirs is connected."""
        with self._lock:
            watched, self._watched = self._watched, set()
            views = [job for job in self._views.values()]
        alive = [job.id for job in views if job.id in watched or (job.keepalive is not None and not job.abandoned())]
        live_seats = [seat for seat in alive if self.board.seat(seat).state == "waiting"]
        self.board.touch(live_seats)

    def _sweep_queue(self) -> None:
        """A queued seat nobody watches leaves the queue; a queued job nobody waits for any more goes."""
        now = time.time()
        for job_id in self.board.queued_jobs():
            for seat in self.board.seats_of(job_id, "waiting"):
                if now - seat.seen <= seat.orphan_after:
                    continue
                with self._lock:
                    view = self._views.get(seat.id)
                if view is None or view.abandoned():
                    self.board.end_seat(seat.id, f"Stopped: nobody watched this run for {seat.orphan_after:g} s.")
            if self.board.drop_if_unwatched(job_id):
                with self._lock:
                    self._forget_view()

    def _recover_lost(self) -> None:
        """Jobs of a process that died: a run it had finished is handed out here; the others go back in line."""
        for job_id in self.board.requeue_lost(self.owner, complete_run):
            row = self.board.job(job_id)
            runner = Runner(self, row)
            with self._lock:
                self._runners[job_id] = runner
            staging = Path(self.board.staging_of(job_id) or "")
            threading.Thread(target=runner.recover, args=(staging,), name=f"recover-job-{job_id}", daemon=True).start()

    def _claim(self) -> None:
        while True:
            row = self.board.claim(self.owner, slots=self.max_jobs)
            if row is None:
                return
            runner = Runner(self, row)
            with self._lock:
                self._runners[row.id] = runner
                self._forget_view()
            threading.Thread(target=runner.work, name=f"training-job-{row.id}", daemon=True).start()

    def runner_done(self, runner: Runner) -> None:
        with self._lock:
            self._runners.pop(runner.job_id, None)
            self._forget_view()

    def prune_shared(self) -> None:
        """Finished runs kept for sharing go after the runs' own lifetime (learners keep their copies)."""
        prune_shared(self.board, self.store)


def prune_shared(board: JobBoard, store: RunStore) -> int:
    """Remove the queue's shared results older than the runs' lifetime (also from models.serving.sweep); how many."""
    results = board.results_older_than(time.time() - store.max_age_days * 86400)
    for job_id, folder in results:
        shutil.rmtree(folder, ignore_errors=True)
        board.forget_result(job_id)
    return len(results)


__all__ = ["JobProgress", "JobRegistry", "LimitReached", "TrainingJob"]
