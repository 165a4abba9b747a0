"""Training core shared by the CLI and the training worker (`models.networks.worker`), and `python -m
models.networks.train`."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from models.inputs.fashion_mnist import load_fashion_mnist
from models.training.recipes import TrainConfig

BatchHook = Callable[[int, int, dict[str, float]], None]  # (epoch, batch, logs)
EpochHook = Callable[[int, dict[str, float]], None]  # (epoch, logs)


class StopSignal(Protocol):
    """A threading.Event or models.training.job_protocol.StopFlag: set when training should stop."""

    def is_set(self) -> bool: ...


MODEL_OUTPUTS = {"cnn": Path("models/fashion_cnn.keras"), "dense": Path("models/fashion_dnn.keras")}
OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}


def compile_model(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Compile for 10-class classification with integer labels."""
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {config.optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    model.compile(
        optimizer=OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def make_dataset(
    images: np.ndarray, labels: np.ndarray, *, batch_size: int, shuffle: bool, seed: int = 0
) -> tf.data.Dataset:
    """uint8 images stay uint8 in one tensor; batches are gathered by shuffled index and scaled to float32."""
    x = tf.constant(images)
    y = tf.constant(labels.astype(np.int32))
    indices = tf.data.Dataset.range(len(images))
    if shuffle:
        indices = indices.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)

    def gather(idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        batch = tf.cast(tf.gather(x, idx), tf.float32) / 255.0
        return batch[..., tf.newaxis], tf.gather(y, idx)

    return indices.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class ProgressCallback(keras.callbacks.Callback):
    """Reports every batch and epoch, honours a stop flag, and stops at a target accuracy."""

    def __init__(
        self,
        *,
        on_batch: BatchHook | None = None,
        on_epoch: EpochHook | None = None,
        stop_event: StopSignal | None = None,
        stop_at_accuracy: float | None = None,
        monitor: str = "accuracy",
    ) -> None:
        super().__init__()
        self.on_batch, self.on_epoch = on_batch, on_epoch
        self.stop_event = stop_event
        self.stop_at_accuracy, self.monitor = stop_at_accuracy, monitor
        self.epoch = 0
        self.stop_reason: str | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.on_batch is not None:
            self.on_batch(self.epoch, batch, {k: float(v) for k, v in (logs or {}).items()})
        if self.stop_event is not None and self.stop_event.is_set():
            self.stop_reason = "stopped by request"
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if self.on_epoch is not None:
            self.on_epoch(epoch, logs)
        reached = logs.get(self.monitor)
        if self.stop_at_accuracy is not None and reached is not None and reached >= self.stop_at_accuracy:
            self.stop_reason = f"{self.monitor} {reached:.4f} reached {self.stop_at_accuracy:.4f}"
            self.model.stop_training = True


class BatchLearningRates(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every batch to `rates[step]`, counting steps over all epochs
    (a schedule such as models.training.recipes.one_cycle_rates); the optimizer keeps a plain rate, so the saved model
    loads as any other."""

    def __init__(self, rates: np.ndarray, steps_per_epoch: int) -> None:
        super().__init__()
        self.rates, self.steps_per_epoch = [float(rate) for rate in rates], steps_per_epoch
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        step = min(self.epoch * self.steps_per_epoch + batch, len(self.rates) - 1)
        self.model.optimizer.learning_rate = self.rates[step]


@dataclass
class TrainResult:
    history: dict[str, list[float]]
    epochs_run: int
    seconds: float
    stop_reason: str | None = None


def train(
    model: keras.Model,
    train_data: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    *,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    on_batch: BatchHook | None = None,
    on_epoch: EpochHook | None = None,
    stop_event: StopSignal | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Compile and fit `model` on uint8 images; the hooks run in the training thread."""
    keras.utils.set_random_seed(config.seed)
    compile_model(model, config)
    progress = ProgressCallback(
        on_batch=on_batch,
        on_epoch=on_epoch,
        stop_event=stop_event,
        stop_at_accuracy=config.stop_at_accuracy,
        monitor=config.monitor,
    )
    extra = list(callbacks or [])
    early = None
    if config.early_stopping:
        if validation_data is None:
            raise ValueError("Early stopping watches the validation loss: it needs validation data.")
        early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        extra.append(early)
    dataset = make_dataset(*train_data, batch_size=config.batch_size, shuffle=True, seed=config.seed)
    validation = None
    if validation_data is not None:
        validation = make_dataset(*validation_data, batch_size=256, shuffle=False)
    start = time.perf_counter()
    history = model.fit(
        dataset,
        epochs=config.epochs,
        validation_data=validation,
        callbacks=[progress, *extra],
        shuffle=False,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    reason = progress.stop_reason
    if early is not None and early.best_weights is not None:  # Keras restores the best epoch's weights at the end
        restored = f"weights of epoch {early.best_epoch + 1} (lowest validation loss) restored"
        if early.stopped_epoch > 0 and reason is None:
            reason = f"early stopping after epoch {early.stopped_epoch + 1}: {restored}"
        elif reason is not None or len(logs.get("loss", [])) != early.best_epoch + 1:
            reason = f"{reason or 'all epochs'}; {restored}"
    return TrainResult(logs, len(logs.get("loss", [])), seconds, reason)


def evaluate(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Test loss and accuracy on uint8 images."""
    loss, accuracy = model.evaluate(make_dataset(images, labels, batch_size=256, shuffle=False), verbose=0)
    return {"loss": float(loss), "accuracy": float(accuracy)}


class FilterSnapshots(keras.callbacks.Callback):
    """Keeps the first conv layer's kernel at initialisation and after every epoch."""

    def __init__(self, layer_name: str = "conv1") -> None:
        super().__init__()
        self.layer_name = layer_name
        self.kernels: list[np.ndarray] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.kernels = [self.kernel()]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.kernels.append(self.kernel())

    def kernel(self) -> np.ndarray:
        return np.array(self.model.get_layer(self.layer_name).kernel.numpy())


class TerminalProgress:
    """A one-line progress bar for the CLI."""

    def __init__(self, epochs: int, steps: int, batch_size: int, stream=None) -> None:
        self.epochs, self.steps, self.batch_size = epochs, steps, batch_size
        self.stream = stream or sys.stderr
        self.epoch_start = time.perf_counter()

    def batch(self, epoch: int, batch: int, logs: dict[str, float]) -> None:
        done = batch + 1
        if batch == 0:
            self.epoch_start = time.perf_counter()
        if done % 25 and done != self.steps:
            return
        elapsed = time.perf_counter() - self.epoch_start
        rate = done * self.batch_size / max(elapsed, 1e-9)
        eta = (self.steps - done) * self.batch_size / max(rate, 1e-9)
        bar = "#" * (30 * done // self.steps)
        self.stream.write(
            f"\repoch {epoch + 1}/{self.epochs} [{bar:<30}] {done}/{self.steps} "
            f"loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f} "
            f"{rate:,.0f} img/s ETA {eta:4.0f}s "
        )
        self.stream.flush()

    def epoch(self, epoch: int, logs: dict[str, float]) -> None:
        extra = f" val_acc {logs['val_accuracy']:.4f}" if "val_accuracy" in logs else ""
        self.stream.write(f"\n  epoch {epoch + 1} done in {time.perf_counter() - self.epoch_start:.1f}s{extra}\n")


def summary_text(model: keras.Model) -> str:
    """`model.summary()` as Keras prints it (the model card keeps it, so pages show it without TensorFlow)."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, **_: lines.append(text))
    return "\n".join(lines)


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.networks.train",
        description="Train the course CNN (or its dense baseline) on Fashion-MNIST.",
    )
    parser.add_argument(
        "--model",
        choices=sorted(MODEL_OUTPUTS),
        default="cnn",
        help="cnn: the course CNN (models.networks.zoo.course_cnn); "
        "dense: last week's dense network (models.networks.zoo.course_dnn)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=60_000, help="use the first N training images")
    parser.add_argument("--stop-at-accuracy", type=float, default=None, help="stop when training accuracy reaches this")
    parser.add_argument(
        "--output", type=Path, default=None, help="default: models/fashion_cnn.keras or fashion_dnn.keras"
    )
    args = parser.parse_args(argv)
    output: Path = args.output or MODEL_OUTPUTS[args.model]

    from models.networks.zoo import course_cnn, course_dnn

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        stop_at_accuracy=args.stop_at_accuracy,
        seed=args.seed,
    )
    keras.utils.set_random_seed(args.seed)
    model = course_cnn() if args.model == "cnn" else course_dnn()
    steps = -(-len(x_train) // args.batch_size)
    bar = TerminalProgress(args.epochs, steps, args.batch_size)
    snapshots = [FilterSnapshots()] if args.model == "cnn" else []  # the dense network has no filters
    result = train(model, (x_train, y_train), config, on_batch=bar.batch, on_epoch=bar.epoch, callbacks=snapshots)
    test = evaluate(model, x_test, y_test)
    print(f"test accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f}, {result.seconds:.0f}s training")

    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    written = [output, output.with_suffix(".json")]
    if snapshots:
        np.savez_compressed(output.with_suffix(".filters.npz"), conv1_kernels=np.stack(snapshots[0].kernels))
        written.append(output.with_suffix(".filters.npz"))
    card = {
        "model": model.name,
        "parameters": model.count_params(),
        "test_accuracy": round(test["accuracy"], 4),
        "test_loss": round(test["loss"], 4),
        "epochs": result.epochs_run,
        "training_seconds": round(result.seconds, 1),
        "train_config": asdict(config),
        "train_images": len(x_train),
        "history": {k: [round(v, 4) for v in vals] for k, vals in result.history.items()},
        "summary": summary_text(model),
        "command": "python -m models.networks.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "versions": library_versions(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    output.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print("saved " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
