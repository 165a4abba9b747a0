"""One training job, run in a process of its own: `python -m models.worker RUN_FOLDER`.

The web server never trains. It starts this module (see models.executors) with a lower CPU priority and a
TensorFlow thread limit, both applied here before TensorFlow is imported; it writes the job (one JSON line)
to stdin and reads progress events (JSON lines, see models.progress) from stdout. A line `{"stop": reason}`
on stdin, or stdin closing (the server went away), stops training after the current batch. The finished
run is written into RUN_FOLDER: `model.keras`, `arrays.npz` (batch curve, filter timeline) and, last,
`run.json`, so a folder without `run.json` is never a finished run.

`run_job` is the same job for any executor: a Dask worker calls it too (models.dask_executor).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.job_protocol import (
    ARRAYS_FILE,
    MODEL_FILE,
    NICE_ENV,
    RUN_FILE,
    STOPPED_BY_REQUEST,
    THREADS_ENV,
    StopFlag,
    limit_threads,
    write_json_atomically,
)
from models.progress import Event, ProgressReporter
from models.recipes import RunSpec, hand_picked_kernels, one_cycle_rates


def build_model(spec: RunSpec):
    """A fresh, uncompiled model for `spec` (seeded by its recipe's seed)."""
    import keras

    from models.zoo import build_cnn, course_dnn

    keras.utils.set_random_seed(spec.recipe.seed)
    if spec.architecture is None:
        return course_dnn()
    model = build_cnn(spec.architecture)
    if spec.hand_picked:
        conv1 = model.get_layer("conv1")
        _, kernels = hand_picked_kernels()
        conv1.set_weights([kernels, np.zeros(kernels.shape[-1], np.float32)])
        conv1.trainable = False
    return model


def schedule_callbacks(spec: RunSpec) -> list:
    """The learning-rate schedule of `spec` as Keras callbacks (none for a constant rate)."""
    import keras

    from models.train import BatchLearningRates

    rate, steps = spec.recipe.learning_rate, spec.steps_per_epoch()
    if spec.one_cycle:
        return [BatchLearningRates(one_cycle_rates(steps * spec.recipe.epochs, rate), steps)]
    if spec.lr_decay != 1.0:
        decay = spec.lr_decay
        return [keras.callbacks.LearningRateScheduler(lambda epoch, _: rate * decay**epoch)]
    return []


def run_job(payload: dict, emit: Callable[[Event], None], stop: StopFlag, folder: Path) -> None:
    """Train the run `payload` describes, emitting progress, and write its files into `folder`."""
    import keras

    from models.data import load_fashion_mnist
    from models.train import FilterSnapshots, evaluate, train

    spec = RunSpec.from_payload(payload["spec"])
    spec.check()
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    sample_index = int(payload.get("sample_index", 0))
    sample, sample_label = x_test[sample_index], int(y_test[sample_index])
    n_fit, n_all = spec.fitted_images, spec.train_images
    reporter = ProgressReporter(emit, images=n_fit, batch_size=spec.recipe.batch_size)
    model = build_model(spec)

    class Timeline(FilterSnapshots):
        """First-layer kernels and the sample's first-layer maps at initialisation and after every epoch."""

        maps: list[np.ndarray]

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.maps = [self.feature_maps()]

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.maps.append(self.feature_maps())

        def feature_maps(self) -> np.ndarray:
            image = (sample.astype(np.float32) / 255.0)[np.newaxis, :, :, np.newaxis]
            return np.asarray(self.model.get_layer(self.layer_name)(image))[0]

    callbacks: list[keras.callbacks.Callback] = []
    timeline = None
    if spec.architecture is not None and spec.architecture.conv_blocks > 0:
        timeline = Timeline()
        callbacks.append(timeline)
    callbacks += schedule_callbacks(spec)
    emit({"type": "status", "status": "running"})
    result = train(
        model,
        (x_train[:n_fit], y_train[:n_fit]),
        spec.recipe,
        validation_data=(x_train[n_fit:n_all], y_train[n_fit:n_all]) if n_all > n_fit else None,
        on_batch=reporter.on_batch,
        on_epoch=reporter.on_epoch,
        stop_event=stop,
        callbacks=callbacks,
    )
    stop_reason = stop.reason if stop.is_set() else result.stop_reason
    emit({"type": "status", "status": "evaluating"})
    test = evaluate(model, x_test, y_test)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    arrays: dict[str, Any] = {"batch_curve": np.asarray(reporter.curve, np.float32).reshape(-1, 3)}
    if timeline is not None:
        arrays |= {
            "kernels": np.stack(timeline.kernels)[:, :, :, 0, :],
            "feature_maps": np.stack(timeline.maps),
            "sample": sample,
            "sample_label": np.asarray(sample_label),
        }
    np.savez_compressed(folder / ARRAYS_FILE, **arrays)
    epochs_done = reporter.epochs_done
    label = payload.get("label")  # "Run 3": the saved name says the epochs actually trained
    record = {
        "name": f"{label}: {spec.title(epochs_done)}" if label else payload["name"],
        "group": int(payload.get("group", 0)),
        "config": {**spec.to_dict(), "parameters": model.count_params()},
        "history": result.history,
        "epochs_done": epochs_done,
        "seconds": result.seconds,
        "epoch_seconds": reporter.epoch_seconds,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "stop_reason": stop_reason,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json_atomically(folder / RUN_FILE, record)
    emit({"type": "done", "stop_reason": stop_reason})


def main(argv: list[str]) -> int:
    """The local worker process: job from stdin, events to stdout, stop or EOF on stdin stops the run."""
    if len(argv) != 1:
        print("usage: python -m models.worker RUN_FOLDER  (the job comes as one JSON line on stdin)", file=sys.stderr)
        return 2
    os.nice(int(os.environ.get(NICE_ENV, "10")))
    limit_threads(int(os.environ.get(THREADS_ENV, "1")))
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to the log, not into the event stream
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            events.write(json.dumps(event) + "\n")

    payload = json.loads(sys.stdin.readline() or "null")
    if not isinstance(payload, dict):
        emit({"type": "error", "message": "The worker received no job."})
        return 2
    stop = StopFlag()

    def listen() -> None:
        for line in sys.stdin:
            try:
                stop.set(str(json.loads(line).get("stop") or STOPPED_BY_REQUEST))
            except (ValueError, AttributeError):
                continue
        stop.set("stopped: the web server went away")

    threading.Thread(target=listen, daemon=True).start()
    started = time.perf_counter()
    try:
        run_job(payload, emit, stop, Path(argv[0]))
    except Exception as error:  # the message reaches the learner; the traceback goes to the log
        import traceback

        traceback.print_exc()
        emit({"type": "error", "message": f"Training failed: {type(error).__name__}: {error}"})
        return 1
    print(f"job done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
