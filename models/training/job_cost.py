"""What a training job costs before it starts: multiply-accumulates x images x epochs, in seconds of one core.

A training step costs about three forward passes (the forward pass, then the gradients of the activations and
of the weights); validation and the final test pass cost one each. `CORE_MACS_PER_SECOND` turns that work into
seconds: measured here as the default run (course CNN, 20,000 images x 5 epochs, batch 32) training in about
150 s on one core of these 2-core machines (`benchmarks/class_train.py --calibrate` measures it again). The
server's queue replaces it with the speed its own jobs reach (models.training.job_schedule). No TensorFlow here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from models.design.analysis import layer_table_for_config, totals
from models.design.config import CNNConfig
from models.training.recipes import RunSpec

TEST_IMAGES = 10_000  # the final evaluation on Fashion-MNIST's test set
DENSE_MACS = 28 * 28 * 128 + 128 * 10  # the dense baseline: Flatten -> Dense 128 -> Dense 10
BACKWARD_FACTOR = 3.0  # a training step: forward + activation gradients + weight gradients
CORE_MACS_PER_SECOND = 9.8e9  # measured: the default run's 1.47e12 MAC-units in about 150 s on one core
MAX_JOB_MINUTES_ENV = "CNN_LAB_MAX_JOB_MINUTES"
DEFAULT_MAX_JOB_MINUTES = 10.0


class JobTooLarge(ValueError):
    """A run over the server's cost cap; the message names what to shrink."""


def forward_macs(architecture: CNNConfig | None) -> int:
    """Multiply-accumulates of one image's forward pass (the dense baseline when `architecture` is None)."""
    return DENSE_MACS if architecture is None else totals(layer_table_for_config(architecture)).macs


def work_parts(spec: RunSpec) -> tuple[float, float, float]:
    """The run's work in multiply-accumulates: (training, validation every epoch, the final test pass)."""
    forward = forward_macs(spec.architecture)
    epochs = spec.recipe.epochs
    test_images = 0 if spec.dataset else TEST_IMAGES  # an own-images run tests on its small held-out split
    return (
        forward * BACKWARD_FACTOR * spec.fitted_images * epochs,
        forward * spec.validation_images * epochs,
        forward * test_images,
    )


def job_work(spec: RunSpec) -> float:
    """The run's whole work in multiply-accumulates."""
    return sum(work_parts(spec))


def core_seconds(spec: RunSpec, macs_per_second: float = CORE_MACS_PER_SECOND) -> float:
    """Seconds the run takes on one core at the given speed."""
    return job_work(spec) / macs_per_second


def max_job_seconds(environ: Mapping[str, str] = os.environ) -> float | None:
    """The cost cap in seconds of one core ($CNN_LAB_MAX_JOB_MINUTES, default 10; 0 = no cap)."""
    text = environ.get(MAX_JOB_MINUTES_ENV, "").strip()
    try:
        minutes = float(text) if text else DEFAULT_MAX_JOB_MINUTES
    except ValueError:
        raise ValueError(f"{MAX_JOB_MINUTES_ENV} must be a number of minutes, got {text!r}") from None
    if minutes < 0:
        raise ValueError(f"{MAX_JOB_MINUTES_ENV} must be 0 (no cap) or more, got {text!r}")
    return minutes * 60 if minutes else None


def check_cost(spec: RunSpec, cap_seconds: float | None) -> None:
    """Raise JobTooLarge, naming what to shrink, when the run would take longer than the cap on one core."""
    if cap_seconds is None:
        return
    seconds = core_seconds(spec)
    if seconds <= cap_seconds:
        return
    forward = forward_macs(spec.architecture)
    raise JobTooLarge(
        f"Not started: this run would train for about {minutes_text(seconds)} on one core of this server "
        f"({spec.train_images:,} images x {spec.recipe.epochs} epochs x {forward / 1e6:.2f} M multiply-accumulates "
        f"per image, about 3x that to train), over this server's limit of {minutes_text(cap_seconds)} per run. "
        "Use fewer images or epochs, or a smaller model (fewer filters, fewer or smaller dense units)."
    )


def minutes_text(seconds: float) -> str:
    """'40 s', '3 min', '25 min'."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
