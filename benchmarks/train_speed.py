"""Epoch time of the training core (tf.data, progress hooks, stop flag) / a plain model.fit.

Both train a fresh course CNN on the same real Fashion-MNIST subset in this process; epochs after the
first (which includes tracing) are timed, runs alternate to share the machine's noise. Target: <= 1.05.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from models.inputs.fashion_mnist import load_fashion_mnist, scale_images  # noqa: E402
from models.networks.train import TrainConfig, compile_model, train  # noqa: E402
from models.networks.zoo import course_cnn  # noqa: E402

IMAGES, EPOCHS, ROUNDS, BATCH = 12_000, 3, 2, 32


class EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def plain_fit(x, y) -> list[float]:
    keras.utils.set_random_seed(0)
    model = compile_model(course_cnn(), TrainConfig())
    timer = EpochTimer()
    model.fit(scale_images(x), y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0, callbacks=[timer])
    return timer.seconds[1:]


def core_fit(x, y) -> list[float]:
    timer, seen = EpochTimer(), []
    train(
        course_cnn(),
        (x, y),
        TrainConfig(epochs=EPOCHS, batch_size=BATCH),
        on_batch=lambda epoch, batch, logs: seen.append(logs["loss"]),
        stop_event=threading.Event(),
        callbacks=[timer],
    )
    return timer.seconds[1:]


def main() -> None:
    (x_train, y_train), _ = load_fashion_mnist()
    x, y = x_train[:IMAGES], y_train[:IMAGES]
    plain, core = [], []
    for _ in range(ROUNDS):
        plain += plain_fit(x, y)
        core += core_fit(x, y)
    print(f"{IMAGES} images, batch {BATCH}: plain model.fit epochs {[round(s, 2) for s in plain]} s")
    print(f"{IMAGES} images, batch {BATCH}: training core  epochs {[round(s, 2) for s in core]} s")
    print(f"ratio core / plain (best epoch): {min(core) / min(plain):.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
