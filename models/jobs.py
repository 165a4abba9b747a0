"""Background training for the Training page: jobs in daemon threads, a process-wide cap and queue.

Pure Python + Keras (no Streamlit). A `TrainingJob` runs `models.train.train` in its own thread and
keeps its progress behind a lock; the page reads `job.progress()` snapshots. A `JobRegistry` lets at
most `max_jobs` jobs train at once (env `CNN_LAB_MAX_JOBS`, default 1) and queues the rest in order.
A job nobody watches (no heartbeat and no live session for `orphan_after` seconds) stops itself.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import logging
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import keras
import numpy as np

from components.filters import KERNELS
from models.config import COURSE_CNN, CNNConfig, ConfigError, plan
from models.data import Arrays
from models.train import OPTIMIZERS, FilterSnapshots, TrainConfig, evaluate, train

MAX_JOBS_ENV = "CNN_LAB_MAX_JOBS"
ORPHAN_SECONDS = 30.0
CURVE_POINTS_PER_EPOCH = 200
MAX_CURVE_POINTS = 20_000
STOPPED_BY_REQUEST = "stopped by request"  # models.train.ProgressCallback's reason

Status = Literal["queued", "running", "evaluating", "finished", "stopped", "failed"]
CurvePoint = tuple[float, float, float]  # (epochs done, smoothed loss, smoothed accuracy)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- hand-picked first layer


@functools.cache
def hand_picked_kernels() -> tuple[tuple[str, ...], np.ndarray]:
    """The classic 3x3 kernels of components.filters (duplicates dropped), plus each direction-sensitive
    one turned by 180 degrees (the same detector facing the other way); each scaled to L2 norm 1 so no
    kernel dominates by size alone. Returns (names, kernels of shape (3, 3, 1, n)) for a Conv2D layer."""
    names: list[str] = []
    bank: list[np.ndarray] = []

    def add(name: str, weights: np.ndarray) -> None:
        unit = weights / np.linalg.norm(weights)
        if not any(np.allclose(unit, known) for known in bank):
            names.append(name)
            bank.append(unit)

    classic = [(k.name, k.weights.astype(np.float64)) for k in KERNELS.values() if k.weights.shape == (3, 3)]
    for name, weights in classic:
        add(name, weights)
    for name, weights in classic:
        turned = weights[::-1, ::-1]
        if not np.allclose(turned, weights):
            add(f"{name}, turned 180\u00b0", turned)
    kernels = np.stack(bank, axis=-1)[:, :, np.newaxis, :].astype(np.float32)
    kernels.setflags(write=False)
    return tuple(names), kernels


# ---------------------------------------------------------------- what to train


@dataclass(frozen=True)
class RunSpec:
    """One run: the model (None = the dense baseline), the recipe, and the slice of the training set.

    The first `train_images` training images are used; the last `validation_split` of them validate.
    """

    architecture: CNNConfig | None = COURSE_CNN
    hand_picked: bool = False  # first conv layer = hand_picked_kernels(), frozen
    recipe: TrainConfig = TrainConfig()
    train_images: int = 20_000
    validation_split: float = 0.1
    lr_decay: float = 1.0  # learning rate multiplied by this after every epoch
    preset: str = ""  # a named recipe, put in front of the run's title

    @property
    def validation_images(self) -> int:
        return round(self.train_images * self.validation_split)

    def model_label(self) -> str:
        """'course CNN', 'dense baseline', or the differences from the course CNN."""
        if self.architecture is None:
            return "dense baseline"
        changes = architecture_changes(self.architecture)
        if self.hand_picked:
            changes.append("hand-picked conv1")
        return "course CNN" if not changes else "CNN with " + ", ".join(changes)

    def title(self) -> str:
        """'course CNN, 5 epochs'; 'Fast recipe: CNN with 32 filters, same padding, 4 epochs'."""
        label = f"{self.preset}: {self.model_label()}" if self.preset else self.model_label()
        return f"{label}, {self.recipe.epochs} epoch{'s' * (self.recipe.epochs != 1)}"

    def check(self, available_images: int) -> None:
        """Raise ValueError (ConfigError for the model) with a clear message for settings that cannot train."""
        if not 100 <= self.train_images <= available_images:
            raise ValueError(f"Training-set size must be 100-{available_images:,} images, got {self.train_images:,}.")
        if not 0.0 <= self.validation_split <= 0.5:
            raise ValueError(f"Validation split must be 0-0.5, got {self.validation_split}.")
        if not 1 <= self.recipe.epochs <= 100:
            raise ValueError(f"Epochs must be 1-100, got {self.recipe.epochs}.")
        if not 1 <= self.recipe.batch_size <= 4096:
            raise ValueError(f"Batch size must be 1-4096, got {self.recipe.batch_size}.")
        if not 0.0 < self.recipe.learning_rate <= 1.0 or not 0.0 < self.lr_decay <= 1.0:
            raise ValueError("Learning rate and its per-epoch decay must be in (0, 1].")
        if self.recipe.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.recipe.optimizer!r}; choose one of {sorted(OPTIMIZERS)}.")
        if self.architecture is not None:
            plan(self.architecture)
        if self.hand_picked:
            names, _ = hand_picked_kernels()
            arch = self.architecture
            if arch is None or arch.conv_blocks < 1 or arch.kernel_size != 3 or arch.filters != len(names):
                raise ConfigError(f"A hand-picked first layer holds the {len(names)} classic 3x3 kernels: "
                                  f"it needs a CNN with 3x3 kernels and {len(names)} filters.")

    def build_model(self) -> keras.Model:
        """A fresh, uncompiled model (seeded by the recipe's seed)."""
        from models.zoo import build_cnn, course_dnn

        keras.utils.set_random_seed(self.recipe.seed)
        if self.architecture is None:
            return course_dnn()
        model = build_cnn(self.architecture)
        if self.hand_picked:
            conv1 = model.get_layer("conv1")
            _, kernels = hand_picked_kernels()
            conv1.set_weights([kernels, np.zeros(kernels.shape[-1], np.float32)])
            conv1.trainable = False
        return model

    def to_dict(self) -> dict:
        """The run's settings as plain values (for the runs table and the model's record)."""
        return {
            "model": self.model_label(),
            "architecture": None if self.architecture is None else self.architecture.to_dict(),
            "first_layer": "hand-picked, frozen" if self.hand_picked else "learned",
            "train_images": self.train_images - self.validation_images,
            "validation_images": self.validation_images,
            **asdict(self.recipe),
            "lr_decay": self.lr_decay,
        }


def architecture_changes(config: CNNConfig) -> list[str]:
    """How a config differs from the course CNN, in words: ['32 filters', '1 conv layer']."""
    base = COURSE_CNN
    changes = []
    if config.conv_blocks != base.conv_blocks:
        blocks = config.conv_blocks
        changes.append("no conv layers" if blocks == 0 else f"{blocks} conv layer{'s' * (blocks != 1)}")
    if config.conv_blocks and config.filters != base.filters:
        changes.append(f"{config.filters} filters")
    if config.conv_blocks and config.kernel_size != base.kernel_size:
        changes.append(f"{config.kernel_size}x{config.kernel_size} kernels")
    if config.conv_blocks and config.padding != base.padding:
        changes.append(f"{config.padding} padding")
    if config.conv_blocks and config.pooling != base.pooling:
        changes.append("no pooling" if config.pooling == "none" else f"{config.pooling} pooling")
    if config.conv_blocks and config.pooling != "none" and config.pool_size != base.pool_size:
        changes.append(f"{config.pool_size}x{config.pool_size} pools")
    if config.dense_units != base.dense_units:
        changes.append(f"dense {config.dense_units}")
    if config.dropout != base.dropout:
        changes.append(f"dropout {config.dropout:g}")
    return changes


# ---------------------------------------------------------------- presets


@dataclass(frozen=True)
class Preset:
    """A one-click course experiment: one or more runs built from the page's data settings."""

    title: str
    description: str
    runs: Callable[[RunSpec], list[RunSpec]]


def _variants(base: RunSpec, configs: list[CNNConfig | None], **changes) -> list[RunSpec]:
    return [replace(base, architecture=config, hand_picked=False, **changes) for config in configs]


def _hand_picked_pair(base: RunSpec) -> list[RunSpec]:
    config = replace(COURSE_CNN, filters=len(hand_picked_kernels()[0]))
    return [replace(base, architecture=config, hand_picked=picked) for picked in (True, False)]


FAST_RECIPE = TrainConfig(epochs=4, batch_size=128, learning_rate=3e-3)
FAST_ARCHITECTURE = replace(COURSE_CNN, filters=32, padding="same")
FAST_LR_DECAY = 0.6

PRESETS: dict[str, Preset] = {
    preset.title: preset
    for preset in [
        Preset("16 vs 32 vs 64 filters", "The course CNN with 16, 32 and 64 filters per conv layer: three runs.",
               lambda base: _variants(base, [replace(COURSE_CNN, filters=f) for f in (16, 32, 64)])),
        Preset("One vs two conv layers", "The course CNN with one conv + pool block, then with two.",
               lambda base: _variants(base, [replace(COURSE_CNN, conv_blocks=b) for b in (1, 2)])),
        Preset("No conv layers", "The dense baseline (Flatten -> Dense 128 -> Dense 10) beside the course CNN.",
               lambda base: _variants(base, [None, COURSE_CNN])),
        Preset("More epochs: overfitting", "The course CNN for 20 epochs on 10,000 images (20% validate): "
               "training accuracy keeps rising, validation stalls, and the gap is overfitting.",
               lambda base: _variants(base, [COURSE_CNN], train_images=10_000,
                                      validation_split=0.2, recipe=replace(base.recipe, epochs=20,
                                                                           stop_at_accuracy=None))),
        Preset("Hand-picked vs learned", "A 16-filter CNN whose first layer is fixed (frozen) to 16 classic kernels "
               "(Sobel, blur, Laplacian...) beside the same CNN learning its own first layer.", _hand_picked_pair),
        Preset("Fast", "32 filters with 'same' padding, batch 128, Adam 0.003 shrinking 40% per epoch, all 60,000 "
               "images, 4 epochs: passes 0.90 test accuracy in well under half the course recipe's time "
               "(benchmarks/training_page_speed.py).",
               lambda base: [RunSpec(architecture=FAST_ARCHITECTURE, recipe=replace(FAST_RECIPE, seed=base.recipe.seed),
                                     train_images=60_000, validation_split=0.0, lr_decay=FAST_LR_DECAY,
                                     preset="Fast recipe")]),
    ]
}


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class FilterTimeline:
    """First-layer kernels (T, k, k, F) and one sample's first-layer feature maps (T, H, W, F):
    index 0 is the initialisation, index t the end of epoch t."""

    kernels: np.ndarray
    feature_maps: np.ndarray
    sample: np.ndarray  # (28, 28) uint8
    sample_label: int


class TimelineRecorder(FilterSnapshots):
    """FilterSnapshots that also keeps the first layer's output for one fixed sample image."""

    def __init__(self, sample: np.ndarray, label: int, layer_name: str = "conv1") -> None:
        super().__init__(layer_name)
        self.sample, self.label = sample, label
        self.maps: list[np.ndarray] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.maps = [self.feature_maps()]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.maps.append(self.feature_maps())

    def feature_maps(self) -> np.ndarray:
        image = (self.sample.astype(np.float32) / 255.0)[np.newaxis, :, :, np.newaxis]
        return np.asarray(self.model.get_layer(self.layer_name)(image))[0]

    def timeline(self) -> FilterTimeline:
        return FilterTimeline(np.stack(self.kernels)[:, :, :, 0, :], np.stack(self.maps), self.sample, self.label)


@dataclass
class TrainingRun:
    """A finished (or stopped) run, kept in the session for comparison and for the Inspect page."""

    name: str
    config: dict
    model: keras.Model
    history: dict[str, list[float]]
    test_accuracy: float | None
    seconds: float
    test_loss: float | None = None
    stop_reason: str | None = None
    batch_curve: tuple[CurvePoint, ...] = field(default=(), repr=False)
    timeline: FilterTimeline | None = field(default=None, repr=False)
    group: int = 0  # runs started by one click share a group

    def history_csv(self) -> str:
        """Per-epoch history as CSV: epoch, then every logged metric."""
        keys = list(self.history)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        for epoch in range(max((len(v) for v in self.history.values()), default=0)):
            writer.writerow([epoch + 1, *(_cell(self.history[k], epoch) for k in keys)])
        return out.getvalue()

    def keras_bytes(self) -> bytes:
        """The trained model as a .keras archive (loads with keras.models.load_model(..., safe_mode=True))."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            self.model.save(path)
            return path.read_bytes()


def _cell(values: list[float], index: int) -> str:
    return repr(values[index]) if index < len(values) else ""


def comparison_rows(runs: list[TrainingRun]) -> list[dict]:
    """One row per run for the comparison table."""
    rows = []
    for run in runs:
        history, config = run.history, run.config
        rows.append({
            "run": run.name,
            "test acc": run.test_accuracy,
            "val acc": _last(history.get("val_accuracy")),
            "train acc": _last(history.get("accuracy")),
            "epochs": len(history.get("loss", [])),
            "seconds": round(run.seconds, 1),
            "parameters": config.get("parameters"),
            "batch": config["batch_size"],
            "optimizer": f"{config['optimizer']} {config['learning_rate']:g}"
                         + (f" x{config['lr_decay']:g}/epoch" if config["lr_decay"] != 1 else ""),
            "train images": config["train_images"],
            "ended": run.stop_reason or "all epochs",
        })
    return rows


def _last(values: list[float] | None) -> float | None:
    return values[-1] if values else None


# ---------------------------------------------------------------- live progress


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

    @property
    def fraction(self) -> float:
        """Share of all training batches done, 0-1."""
        total = self.epochs * self.steps
        return min(1.0, (self.epoch * self.steps + self.batch) / total) if total else 0.0


class _Smoother:
    """Per-batch loss/accuracy from Keras's running epoch means, exponentially smoothed (bias-corrected)."""

    def __init__(self, steps: int) -> None:
        self.beta = 1.0 - 1.0 / max(10, steps // 50)
        self.loss = self.accuracy = 0.0
        self.weight = 0.0
        self.seen = 0
        self.totals = (0.0, 0.0)

    def add(self, batch: int, seen: int, loss_mean: float, accuracy_mean: float) -> tuple[float, float]:
        """`seen` images so far in this epoch; Keras restarts its running means at batch 0."""
        if batch == 0:
            self.seen, self.totals = 0, (0.0, 0.0)
        count = seen - self.seen
        loss_total, accuracy_total = loss_mean * seen, accuracy_mean * seen
        batch_loss = (loss_total - self.totals[0]) / count
        batch_accuracy = (accuracy_total - self.totals[1]) / count
        self.seen, self.totals = seen, (loss_total, accuracy_total)
        self.loss = self.beta * self.loss + (1 - self.beta) * batch_loss
        self.accuracy = self.beta * self.accuracy + (1 - self.beta) * batch_accuracy
        self.weight = self.beta * self.weight + (1 - self.beta)
        return self.loss / self.weight, self.accuracy / self.weight


_job_ids = itertools.count(1)


class TrainingJob:
    """One run of `models.train.train` in a daemon thread; all methods are safe from any thread."""

    def __init__(
        self,
        spec: RunSpec,
        name: str,
        data: Arrays,
        *,
        group: int = 0,
        sample_index: int = 0,
        orphan_after: float = ORPHAN_SECONDS,
        keepalive: Callable[[], bool] | None = None,
        callbacks: list[keras.callbacks.Callback] | None = None,
    ) -> None:
        (x_train, _), (x_test, y_test) = data
        spec.check(len(x_train))
        self.id = next(_job_ids)
        self.spec, self.name, self.group = spec, name, group
        self.data = data
        self.sample, self.sample_label = x_test[sample_index], int(y_test[sample_index])
        self.orphan_after, self.keepalive = orphan_after, keepalive
        self.extra_callbacks = list(callbacks or [])  # e.g. a benchmark's timer
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.run: TrainingRun | None = None
        self.registry: JobRegistry | None = None
        self._lock = threading.Lock()
        self._status: Status = "queued"
        self._message = ""
        self._abandoned = False
        self._last_seen = time.monotonic()
        n_train = spec.train_images - spec.validation_images
        self._images, self._steps = n_train, math.ceil(n_train / spec.recipe.batch_size)
        self._smoother = _Smoother(self._steps)
        self._record_every = max(1, self._steps // CURVE_POINTS_PER_EPOCH)
        self._curve: deque[CurvePoint] = deque(maxlen=MAX_CURVE_POINTS)
        self._history: dict[str, list[float]] = {}
        self._epoch = self._batch = 0
        self._rate = 0.0
        self._started = self._ended = self._epoch_clock = 0.0

    # -- page side

    def progress(self) -> JobProgress:
        registry = self.registry
        position = registry.position(self) if registry is not None else 0
        running = registry.running() if registry is not None else 0
        with self._lock:
            done_images = (self._epoch * self._steps + self._batch) * self.spec.recipe.batch_size
            left = max(0, self.spec.recipe.epochs * self._steps * self.spec.recipe.batch_size - done_images)
            eta = left / self._rate if self._rate > 0 and self._status == "running" else None
            return JobProgress(
                status=self._status, queue_position=position, jobs_running=running,
                epoch=self._epoch, epochs=self.spec.recipe.epochs, batch=self._batch, steps=self._steps,
                images_per_second=self._rate, eta_seconds=eta,
                elapsed=(self._ended or time.perf_counter()) - self._started if self._started else 0.0,
                batch_curve=tuple(self._curve), history={k: list(v) for k, v in self._history.items()},
                message=self._message,
            )

    def heartbeat(self) -> None:
        """Someone is watching: keeps the job from being stopped as abandoned."""
        self._last_seen = time.monotonic()

    def stop(self) -> None:
        """Stop after the current batch (or leave the queue), keeping the weights so far."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done; True if it is."""
        return self.finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    # -- worker side

    def abandoned(self) -> bool:
        """True, and the job stops, once nobody has shown interest for `orphan_after` seconds.

        Interest is a `heartbeat()` or, when the heartbeats are late, a True answer from `keepalive`.
        """
        if self._abandoned:
            return True
        now = time.monotonic()
        if now - self._last_seen <= self.orphan_after:
            return False
        if self.keepalive is not None and self.keepalive():
            self._last_seen = now
            return False
        self._abandoned = True
        self._set(message=f"Stopped: nobody watched this run for {self.orphan_after:g} s (browser closed?).")
        self.stop_event.set()
        return True

    def _set(self, status: Status | None = None, message: str | None = None) -> None:
        with self._lock:
            if status is not None:
                self._status = status
            if message is not None:
                self._message = message

    def _on_batch(self, epoch: int, batch: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        seen = min((batch + 1) * self.spec.recipe.batch_size, self._images)
        loss, accuracy = self._smoother.add(batch, seen, logs.get("loss", 0.0), logs.get("accuracy", 0.0))
        with self._lock:
            self._epoch, self._batch = epoch, batch + 1
            if batch == 0:
                self._epoch_clock = now
            elif now > self._epoch_clock:
                self._rate = batch * self.spec.recipe.batch_size / (now - self._epoch_clock)
            if (batch + 1) % self._record_every == 0 or batch + 1 == self._steps:
                self._curve.append((epoch + (batch + 1) / self._steps, loss, accuracy))
        self.abandoned()

    def _on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        with self._lock:
            for key, value in logs.items():
                self._history.setdefault(key, []).append(value)

    def work(self) -> None:
        """The thread body: wait for a slot, train, evaluate, record. Never raises."""
        registry = self.registry
        try:
            if registry is not None and not registry.acquire(self):
                self._set("stopped", self._message or "Stopped before it started.")
                return
            self._set("running")
            self._started = time.perf_counter()
            self.run = self._train()
            stopped = self._abandoned or self.run.stop_reason == STOPPED_BY_REQUEST
            self._set("stopped" if stopped else "finished", self.run.stop_reason or "")
        except Exception as error:  # shown to the user as a message; the traceback goes to the server log
            log.exception("training job %s failed", self.name)
            self._set("failed", f"Training failed: {type(error).__name__}: {error}")
        finally:
            self._ended = time.perf_counter()
            if registry is not None:
                registry.release(self)
            self.finished.set()

    def _train(self) -> TrainingRun:
        spec = self.spec
        (x_train, y_train), (x_test, y_test) = self.data
        n_val, n_all = spec.validation_images, spec.train_images
        n_train = n_all - n_val
        model = spec.build_model()
        callbacks: list[keras.callbacks.Callback] = []
        recorder = None
        if spec.architecture is not None and spec.architecture.conv_blocks > 0:
            recorder = TimelineRecorder(self.sample, self.sample_label)
            callbacks.append(recorder)
        if spec.lr_decay != 1.0:
            rate, decay = spec.recipe.learning_rate, spec.lr_decay
            callbacks.append(keras.callbacks.LearningRateScheduler(lambda epoch, _: rate * decay**epoch))
        callbacks += self.extra_callbacks
        result = train(
            model, (x_train[:n_train], y_train[:n_train]), spec.recipe,
            validation_data=(x_train[n_train:n_all], y_train[n_train:n_all]) if n_val else None,
            on_batch=self._on_batch, on_epoch=self._on_epoch, stop_event=self.stop_event, callbacks=callbacks,
        )
        reason = self._message if self._abandoned else result.stop_reason
        test = None
        if not self._abandoned:  # nobody would see an abandoned run's test accuracy
            self._set("evaluating")
            test = evaluate(model, x_test, y_test)
        config = {**spec.to_dict(), "parameters": model.count_params()}
        return TrainingRun(
            name=self.name, config=config, model=model, history=result.history,
            test_accuracy=None if test is None else test["accuracy"], seconds=result.seconds,
            test_loss=None if test is None else test["loss"], stop_reason=reason,
            batch_curve=tuple(self._curve), timeline=recorder.timeline() if recorder else None, group=self.group,
        )


# ---------------------------------------------------------------- the process-wide registry


class JobRegistry:
    """At most `max_jobs` jobs train at once in this process; the others wait in submission order."""

    def __init__(self, max_jobs: int = 1) -> None:
        if max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
        self.max_jobs = max_jobs
        self._cond = threading.Condition()
        self._waiting: deque[TrainingJob] = deque()
        self._running: set[TrainingJob] = set()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> JobRegistry:
        """Cap from $CNN_LAB_MAX_JOBS (default 1)."""
        text = environ.get(MAX_JOBS_ENV, "1").strip()
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{MAX_JOBS_ENV} must be a whole number of at least 1, got {text!r}")
        return cls(int(text))

    def submit(self, job: TrainingJob) -> None:
        """Queue the job and start its thread; it trains when a slot is free and its turn comes."""
        with self._cond:
            job.registry = self
            self._waiting.append(job)
        threading.Thread(target=job.work, name=f"training-job-{job.id}", daemon=True).start()

    def acquire(self, job: TrainingJob) -> bool:
        """Wait (in the job's thread) for a slot; False if the job is stopped or abandoned while waiting."""
        while not (job.stop_event.is_set() or job.abandoned()):
            with self._cond:
                if self._waiting[0] is job and len(self._running) < self.max_jobs:
                    self._waiting.popleft()
                    self._running.add(job)
                    self._cond.notify_all()
                    return True
                self._cond.wait(timeout=0.2)
        with self._cond:
            self._waiting.remove(job)
            self._cond.notify_all()
        return False

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

