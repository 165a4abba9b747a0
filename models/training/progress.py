"""Training progress as small events (plain Python, no TensorFlow).

A worker turns Keras's per-batch running means into a smoothed curve and sends at most a few
`progress` events a second; the web server folds the events into a `JobProgress` snapshot for drawing.
Events are JSON-safe dicts, so the same ones travel over a pipe (local worker) or Dask (remote worker):

    {"type": "status", "status": "running" | "evaluating"}  (evaluating: no batch follows, sent right after the last)
    {"type": "progress", "epoch": e, "batch": b, "rate": images/s, "points": [[x, loss, accuracy], ...]}
    {"type": "epoch", "epoch": e, "seconds": s, "logs": {"loss": ..., "accuracy": ..., "val_loss": ...}}
    {"type": "done", "stop_reason": str | None}
    {"type": "error", "message": str}
"""

from __future__ import annotations

import time
from collections.abc import Callable

CURVE_POINTS_PER_EPOCH = 200
MAX_CURVE_POINTS = 20_000
EVENT_INTERVAL = 0.2  # seconds between progress events from a worker

Event = dict
CurvePoint = tuple[float, float, float]  # (epochs done, smoothed loss, smoothed accuracy)


class Smoother:
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


class ProgressReporter:
    """Worker side: Keras batch/epoch hooks in, throttled progress events out through `emit`."""

    def __init__(
        self, emit: Callable[[Event], None], *, images: int, batch_size: int, interval: float = EVENT_INTERVAL
    ) -> None:
        self.emit, self.images, self.batch_size, self.interval = emit, images, batch_size, interval
        self.steps = -(-images // batch_size)
        self.smoother = Smoother(self.steps)
        self.record_every = max(1, self.steps // CURVE_POINTS_PER_EPOCH)
        self.pending: list[list[float]] = []
        self.curve: list[CurvePoint] = []
        self.rate = 0.0
        self.epoch_clock = self.last_sent = 0.0
        self.epoch_seconds: list[float] = []  # wall time of each epoch, validation included
        self.epoch_ended = time.perf_counter()  # made just before training starts
        self.batches = 0  # batches trained so far, over all epochs
        self.ended = False  # said that no batch follows

    @property
    def epochs_done(self) -> float:
        """Epochs trained: batches done / batches per epoch (1.45 for a run stopped in its second epoch)."""
        return self.batches / self.steps

    def on_batch(self, epoch: int, batch: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        self.batches = epoch * self.steps + batch + 1
        seen = min((batch + 1) * self.batch_size, self.images)
        loss, accuracy = self.smoother.add(batch, seen, logs.get("loss", 0.0), logs.get("accuracy", 0.0))
        if batch == 0:
            self.epoch_clock = now
        elif now > self.epoch_clock:
            self.rate = batch * self.batch_size / (now - self.epoch_clock)
        last = batch + 1 == self.steps
        if (batch + 1) % self.record_every == 0 or last:
            point = (epoch + (batch + 1) / self.steps, loss, accuracy)
            self.pending.append(list(point))
            if len(self.curve) < MAX_CURVE_POINTS:
                self.curve.append(point)
        if last or now - self.last_sent >= self.interval:
            self.last_sent = now
            self.emit(
                {"type": "progress", "epoch": epoch, "batch": batch + 1, "rate": self.rate, "points": self.pending}
            )
            self.pending = []

    def training_ended(self) -> None:
        """Say once that no batch follows (status `evaluating`): right after the batch a Stop ends, so the learner
        sees it then, not after the closing validation pass of that epoch (0.9 s of a small run on a busy machine)."""
        if not self.ended:
            self.ended = True
            self.emit({"type": "status", "status": "evaluating"})

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        self.epoch_seconds.append(now - self.epoch_ended)
        self.epoch_ended = now
        self.emit({"type": "epoch", "epoch": epoch, "seconds": self.epoch_seconds[-1], "logs": dict(logs)})
