"""One training job, run in a process of its own: `python -m models.networks.worker RUN_FOLDER`.

The web server never trains. It starts this module (see models.training.executors) with a lower CPU priority and a
TensorFlow thread limit, both applied here before TensorFlow is imported; it writes the job (one JSON line)
to stdin and reads progress events (JSON lines, see models.training.progress) from stdout. A line `{"stop": reason}`
on stdin, or stdin closing (the server went away), stops training after the current batch. The finished
run is written into RUN_FOLDER: `model.keras`, `arrays.npz` (batch curve, filter timeline) and, last,
`run.json`, so a folder without `run.json` is never a finished run. A run stopped before its first batch
trained keeps nothing heavy: no model, no arrays, no test pass, only `untrained.json` with the reason.

`run_job` is the same job for any executor: a Dask worker calls it too (models.training.executors.dask_cluster).
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

from models.design.config import NUM_CLASSES
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.own_data import TEST_SHARE, load_dataset, split
from models.training.job_protocol import (
    ARRAYS_FILE,
    EVALUATION_FILE,
    MODEL_FILE,
    NICE_ENV,
    RUN_FILE,
    STOPPED_BY_REQUEST,
    UNTRAINED_FILE,
    StopFlag,
    job_threads,
    limit_threads,
    write_json_atomically,
)
from models.training.progress import Event, ProgressReporter
from models.training.recipes import RunSpec, hand_picked_kernels, one_cycle_rates

Arrays = tuple[np.ndarray, np.ndarray]


def job_data(payload: dict, spec: RunSpec) -> tuple[Arrays, Arrays | None, Arrays, dict]:
    """(fitted, validation or None, test) images and labels for the job, and what the run records of its data.

    Fashion-MNIST: the first `train_images` training images, the last `validation_split` of them validate, the
    10,000 test images test. A learner's own images (`spec.dataset`): TEST_SHARE of each class held out for the
    test, then `validation_split` of the rest, stratified and seeded (models.inputs.own_data.split).
    """
    if not spec.dataset:
        from models.inputs.fashion_mnist import load_fashion_mnist

        (x_train, y_train), test = load_fashion_mnist()
        n_fit, n_all = spec.fitted_images, spec.train_images
        validation = (x_train[n_fit:n_all], y_train[n_fit:n_all]) if n_all > n_fit else None
        return (x_train[:n_fit], y_train[:n_fit]), validation, test, {"class_names": list(CLASS_NAMES)}
    own = load_dataset(payload.get("dataset") or {"path": spec.dataset})
    parts = split(own.labels, spec.validation_split, spec.recipe.seed)
    x, y = own.images, own.labels
    validation = (x[parts.validation], y[parts.validation]) if len(parts.validation) else None
    record = {
        "class_names": list(own.class_names),
        "dataset": f"your own images: {own.name}",
        "dataset_file": spec.dataset,
        "class_counts": list(own.counts),
        "train_images": len(parts.fit),
        "validation_images": len(parts.validation),
        "test_images": len(parts.test),
        "split": f"{TEST_SHARE:.0%} of each class held out for the test, then {spec.validation_split:.0%} of the "
        f"rest for validation; stratified, seed {spec.recipe.seed}",
    }
    return (x[parts.fit], y[parts.fit]), validation, (x[parts.test], y[parts.test]), record


def build_model(spec: RunSpec, classes: int = NUM_CLASSES):
    """A fresh, uncompiled model for `spec` with `classes` outputs (seeded by its recipe's seed)."""
    import keras

    from models.networks.zoo import build_cnn, course_dnn

    keras.utils.set_random_seed(spec.recipe.seed)
    if spec.architecture is None:
        return course_dnn(classes)
    model = build_cnn(spec.architecture, classes)
    if spec.hand_picked:
        conv1 = model.get_layer("conv1")
        _, kernels = hand_picked_kernels()
        conv1.set_weights([kernels, np.zeros(kernels.shape[-1], np.float32)])
        conv1.trainable = False
    return model


def schedule_callbacks(spec: RunSpec) -> list:
    """The learning-rate schedule of `spec` as Keras callbacks (none for a constant rate)."""
    import keras

    from models.networks.train import BatchLearningRates

    rate, steps = spec.recipe.learning_rate, spec.steps_per_epoch()
    if spec.one_cycle:
        return [BatchLearningRates(one_cycle_rates(steps * spec.recipe.epochs, rate), steps)]
    if spec.lr_decay != 1.0:
        decay = spec.lr_decay
        return [keras.callbacks.LearningRateScheduler(lambda epoch, _: rate * decay**epoch)]
    return []


def run_job(payload: dict, emit: Callable[[Event], None], stop: StopFlag, folder: Path) -> None:
    """Train the run `payload` describes, emitting progress, and write its files into `folder`."""
    from models.networks.train import evaluate, train

    spec = RunSpec.from_payload(payload["spec"])
    spec.check()
    fitted, validation, (x_test, y_test), data_record = job_data(payload, spec)
    sample_index = int(payload.get("sample_index", 0))
    if spec.dataset:  # the page's sample is a Fashion-MNIST test image: take the own test set's first instead
        sample_index = 0
    sample, sample_label = x_test[sample_index], int(y_test[sample_index])
    reporter = ProgressReporter(emit, images=len(fitted[0]), batch_size=spec.recipe.batch_size)
    model = build_model(spec, len(data_record["class_names"]))
    timeline = (
        timeline_callback(sample) if spec.architecture is not None and spec.architecture.conv_blocks > 0 else None
    )
    callbacks = [*([timeline] if timeline is not None else []), *schedule_callbacks(spec)]
    if stop.is_set():  # stopped while the worker started (TensorFlow, the data, the model): nothing to train
        nothing_trained(folder, stop.reason or STOPPED_BY_REQUEST, emit)
        return
    emit({"type": "status", "status": "running"})

    def on_batch(epoch: int, batch: int, logs: dict[str, float]) -> None:
        reporter.on_batch(epoch, batch, logs)
        if stop.is_set():  # train()'s callback ends training after this batch
            reporter.training_ended()

    result = train(
        model,
        fitted,
        spec.recipe,
        validation_data=validation,
        on_batch=on_batch,
        on_epoch=reporter.on_epoch,
        stop_event=stop,
        callbacks=callbacks,
    )
    stop_reason = stop.reason if stop.is_set() else result.stop_reason
    if reporter.batches == 0 and stop_reason:  # nothing was trained: no model, arrays or test pass to keep
        nothing_trained(folder, stop_reason, emit)
        return
    reporter.training_ended()
    test = evaluate(model, x_test, y_test)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    save_arrays(folder, reporter, timeline, sample, sample_label)
    save_evaluation(model, x_test, y_test, folder)
    config = {**spec.to_dict(), "parameters": model.count_params(), **data_record}
    write_json_atomically(folder / RUN_FILE, run_record(payload, spec, config, result, reporter, test, stop_reason))
    emit({"type": "done", "stop_reason": stop_reason})


def save_arrays(folder: Path, reporter: ProgressReporter, timeline, sample: np.ndarray, sample_label: int) -> None:
    """The run's curves per batch and, for a CNN, its first layer's kernels and the sample's maps per epoch."""
    arrays: dict[str, Any] = {"batch_curve": np.asarray(reporter.curve, np.float32).reshape(-1, 3)}
    if timeline is not None:
        arrays |= {
            "kernels": np.stack(timeline.kernels)[:, :, :, 0, :],
            "feature_maps": np.stack(timeline.maps),
            "sample": sample,
            "sample_label": np.asarray(sample_label),
        }
    np.savez_compressed(folder / ARRAYS_FILE, **arrays)


def timeline_callback(sample: np.ndarray):
    """A Keras callback keeping the first-layer kernels and `sample`'s first-layer maps at initialisation and after
    every epoch (`kernels`, `maps`)."""
    from models.networks.train import FilterSnapshots

    class Timeline(FilterSnapshots):
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

    return Timeline()


def run_record(
    payload: dict,
    spec: RunSpec,
    config: dict[str, Any],
    result,
    reporter: ProgressReporter,
    test: dict,
    stop_reason: str | None,
) -> dict[str, Any]:
    """The run's `run.json`: its name (saying the epochs actually trained), config, spec, history, timings, test
    result and why it stopped."""
    epochs_done = reporter.epochs_done
    label = payload.get("label")  # "Run 3": the saved name says the epochs actually trained
    return {
        "name": f"{label}: {spec.title(epochs_done)}" if label else payload["name"],
        "group": int(payload.get("group", 0)),
        "config": config,
        "spec": spec.to_payload(),  # the exact spec, rebuilt by TrainingRun.spec() (its notebook)
        "history": result.history,
        "epochs_done": epochs_done,
        "seconds": result.seconds,
        "epoch_seconds": reporter.epoch_seconds,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "stop_reason": stop_reason,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def nothing_trained(folder: Path, stop_reason: str, emit: Callable[[Event], None]) -> None:
    """A run stopped before its first batch: only `untrained.json` with the reason, no model, arrays or test pass."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomically(folder / UNTRAINED_FILE, {"stop_reason": stop_reason})
    emit({"type": "done", "stop_reason": stop_reason})


def save_evaluation(model, x_test: np.ndarray, y_test: np.ndarray, folder: Path) -> None:
    """Inspect's evaluation of the run (probabilities and embedding of every test image), made here once so the
    web server never runs the model over the test set for it."""
    from models.explain import inspection as ins
    from models.inputs.images import fingerprint

    try:
        result = ins.evaluate(model, x_test, y_test)
    except ins.InspectionError as error:  # a model Inspect cannot evaluate: it says so itself, nothing to keep
        print(f"no evaluation saved: {error}", file=sys.stderr)
        return
    ins.write_evaluation(folder / EVALUATION_FILE, result, ins.weights_key(model), fingerprint(x_test))


def main(argv: list[str]) -> int:
    """The local worker process: job from stdin, events to stdout, stop or EOF on stdin stops the run."""
    if len(argv) != 1:
        print(
            "usage: python -m models.networks.worker RUN_FOLDER  (the job comes as one JSON line on stdin)",
            file=sys.stderr,
        )
        return 2
    os.nice(int(os.environ.get(NICE_ENV, "10")))
    limit_threads(job_threads())
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
