"""Fooling a classifier: FGSM, its iterative version, and the smallest epsilon that changes the prediction.

FGSM (Goodfellow et al. 2015): x' = clip(x + epsilon * sign(d loss / d x), 0, 1), one step that moves every pixel by
epsilon in the direction that raises the loss. The iterative version (BIM, Kurakin et al. 2017; PGD without a random
start, Madry et al. 2018) takes `steps` steps of size alpha, each projected back into the epsilon ball around x
(every pixel within epsilon of its original value) and into [0, 1]. The loss is Keras's sparse categorical
cross-entropy of the label on the model's softmax output (Keras computes it from the softmax's logits, so a
confident 100% prediction still has a gradient).

Images are what the models take: float in [0, 1], one (28, 28) image or a batch (N, 28, 28), with or without a
last channel axis of 1; uint8 Fashion-MNIST images are scaled as `models.explain.inspection.model_input` does. Results
keep the shape they were given, as float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from models.explain.inspection import forward, model_input

Method = Literal["fgsm", "iterative"]
METHODS: tuple[Method, ...] = ("fgsm", "iterative")
DEFAULT_STEPS = 10  # iterative steps
STEP_SCALE = 2.5  # default alpha = STEP_SCALE * epsilon / steps (Madry et al.): the walk can cross the ball 2.5 times
FGSM_RESOLUTION = 0.001  # the smallest-epsilon grid for FGSM: 0.001, 0.002, ... 1
ITERATIVE_RESOLUTION = 0.002  # and for the iterative attack: 0.002, 0.004, ... ITERATIVE_MOST
ITERATIVE_MOST = 0.3
PREDICT_BATCH = 250  # images per forward pass (about 45 MB of the course CNN's conv1 activations)
FGSM_CHUNK = 250  # the FGSM search sends this many epsilons through the model at once
ITERATIVE_CHUNK = 25  # the iterative search runs this many attacks side by side


class AttackError(ValueError):
    """Parameters an attack cannot use; the message says which and why."""


# ---------------------------------------------------------------- checks


def _check_epsilon(epsilon: float) -> float:
    value = float(epsilon)
    if not 0.0 <= value <= 1.0:  # also False for NaN
        raise AttackError(f"epsilon must be between 0 and 1 (pixels are in [0, 1]), got {epsilon}.")
    return value


def check_model(model: keras.Model) -> None:
    """The attacks need a classifier of 28x28x1 images (every model of the lab); else AttackError says so."""
    inputs, outputs = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    if inputs != (28, 28, 1) or len(outputs) != 1:
        raise AttackError(
            f"Model {model.name!r} takes {inputs} and gives {outputs}: the attacks need a classifier of 28x28x1 images."
        )


def _inputs(image: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """(N, 28, 28, 1) float32 model input and the shape the image came in."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return model_input(array), array.shape
    if array.ndim not in (2, 3, 4) or (array.ndim == 4 and array.shape[-1] != 1):
        raise AttackError(f"Expected an image (28, 28) or a batch (N, 28, 28[, 1]), got shape {array.shape}.")
    pixels = array.astype(np.float32)
    if pixels.size == 0 or not np.isfinite(pixels).all() or pixels.min() < 0.0 or pixels.max() > 1.0:
        raise AttackError("Image pixels must be finite and in [0, 1], as the models take them.")
    batch = pixels.reshape((-1, *pixels.shape[-3:-1], 1) if array.ndim == 4 else (-1, *pixels.shape[-2:], 1))
    if batch.shape[1:3] != (28, 28):
        raise AttackError(f"Expected 28x28 images, got {batch.shape[1]}x{batch.shape[2]}.")
    return batch, array.shape


def _labels(model: keras.Model, label: int | np.ndarray, count: int) -> np.ndarray:
    check_model(model)
    classes = int(model.outputs[0].shape[-1])
    labels = np.asarray(label)
    if labels.dtype.kind not in "iu":
        raise AttackError(f"The label must be a class number, got {label!r}.")
    labels = np.broadcast_to(labels.astype(np.int64), (count,)) if labels.ndim == 0 else labels.astype(np.int64)
    if labels.shape != (count,):
        raise AttackError(f"{count} images but {labels.size} labels.")
    if labels.min() < 0 or labels.max() >= classes:
        raise AttackError(f"The label must be a class 0-{classes - 1}, got {label!r}.")
    return labels


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise AttackError(f"steps must be a whole number of at least 1, got {steps!r}.")
    return int(steps)


# ---------------------------------------------------------------- the attacks


def loss_gradient(model: keras.Model, pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """d loss / d x for (N, 28, 28, 1) inputs: each image's own loss (the sum's gradient, images are independent)."""
    tensor = tf.constant(pixels)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        losses = keras.losses.sparse_categorical_crossentropy(tf.constant(labels), model(tensor, training=False))
        total = tf.reduce_sum(losses)
    return np.asarray(tape.gradient(total, tensor))


def fgsm(model: keras.Model, image: np.ndarray, label: int | np.ndarray, epsilon: float) -> np.ndarray:
    """clip(x + epsilon * sign(d loss / d x), 0, 1): every pixel moves by epsilon (or stops at 0 or 1) the way
    that raises the loss of `label` (one class, or one per image of a batch)."""
    epsilon = _check_epsilon(epsilon)
    pixels, shape = _inputs(image)
    labels = _labels(model, label, len(pixels))
    step = np.float32(epsilon) * np.sign(loss_gradient(model, pixels, labels))
    return np.clip(pixels + step, 0.0, 1.0).reshape(shape)


def _iterate(
    model: keras.Model, pixels: np.ndarray, labels: np.ndarray, epsilons: np.ndarray, alphas: np.ndarray, steps: int
) -> np.ndarray:
    """The iterative attack on (N, 28, 28, 1) inputs, each with its own epsilon and alpha (N,)."""
    radius, size = epsilons.reshape(-1, 1, 1, 1), alphas.reshape(-1, 1, 1, 1)
    low, high = np.maximum(pixels - radius, 0.0), np.minimum(pixels + radius, 1.0)
    adversarial = pixels.copy()
    for _ in range(steps):
        moved = adversarial + size * np.sign(loss_gradient(model, adversarial, labels))
        adversarial = np.clip(moved, low, high)  # back into the epsilon ball and [0, 1]
    return adversarial


def default_alpha(epsilon: float, steps: int = DEFAULT_STEPS) -> float:
    """The iterative attack's step size unless one is given: 2.5 * epsilon / steps."""
    return STEP_SCALE * float(epsilon) / steps


def iterative(
    model: keras.Model,
    image: np.ndarray,
    label: int | np.ndarray,
    epsilon: float,
    *,
    steps: int = DEFAULT_STEPS,
    alpha: float | None = None,
) -> np.ndarray:
    """`steps` FGSM steps of size `alpha` (default 2.5 * epsilon / steps), each followed by clipping every pixel to
    within epsilon of the original and to [0, 1]. With one step and alpha = epsilon it is FGSM."""
    epsilon, steps = _check_epsilon(epsilon), _check_steps(steps)
    alpha = default_alpha(epsilon, steps) if alpha is None else float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise AttackError(f"alpha (the step size) must be between 0 and 1, got {alpha}.")
    pixels, shape = _inputs(image)
    labels = _labels(model, label, len(pixels))
    count = len(pixels)
    adversarial = _iterate(
        model, pixels, labels, np.full(count, epsilon, np.float32), np.full(count, alpha, np.float32), steps
    )
    return adversarial.reshape(shape)


def attack(
    model: keras.Model, image: np.ndarray, label: int | np.ndarray, epsilon: float, method: Method = "fgsm"
) -> np.ndarray:
    """`fgsm` or `iterative` (its defaults) by name."""
    if method not in METHODS:
        raise AttackError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    return fgsm(model, image, label, epsilon) if method == "fgsm" else iterative(model, image, label, epsilon)


def probabilities(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """The model's softmax outputs (N, classes) for an image or batch in any form the attacks take
    (`models.explain.inspection.forward`: the numbers `model.predict` gives, without its fixed cost)."""
    pixels, _ = _inputs(image)
    return forward(model, pixels, PREDICT_BATCH)


# ---------------------------------------------------------------- the smallest epsilon that flips the prediction


@dataclass(frozen=True, eq=False)
class Flip:
    """The smallest epsilon on a grid (resolution, 2 * resolution, ... most) whose attack changes the prediction."""

    method: Method
    resolution: float
    most: float
    original: int  # the prediction on the image itself
    epsilon: float | None  # None: no epsilon on the grid changes it
    below: float | None  # one grid step below it (0: the image itself), where the prediction is still `original`
    becomes: int | None  # the prediction at `epsilon`
    confidence: float | None  # its probability there


def smallest_flip(
    model: keras.Model,
    image: np.ndarray,
    label: int,
    method: Method = "fgsm",
    *,
    resolution: float | None = None,
    most: float | None = None,
) -> Flip:
    """Attack one image at every epsilon of the grid resolution, 2 * resolution, ... most, and return the first whose
    adversarial image the model predicts differently from the image itself. Defaults: FGSM 0.001 up to 1, iterative
    0.002 up to 0.3.

    Batched: FGSM's sign is computed once and a whole chunk of adversarial images (FGSM_CHUNK epsilons) goes through
    the model at once; the iterative attacks of a chunk (ITERATIVE_CHUNK epsilons) run side by side. Chunks go from
    the smallest epsilons up and the search stops after the first chunk with a flip: the same answer as the whole
    grid at once, at a fraction of the cost for the usual image (the first chunk, 0.001-0.25 or 0.002-0.05, holds it).
    """
    if method not in METHODS:
        raise AttackError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    resolution = (FGSM_RESOLUTION if method == "fgsm" else ITERATIVE_RESOLUTION) if resolution is None else resolution
    most = (1.0 if method == "fgsm" else ITERATIVE_MOST) if most is None else most
    if not 0.0 < resolution <= _check_epsilon(most):
        raise AttackError(f"The grid's resolution must be above 0 and at most {most}, got {resolution}.")
    pixels, _ = _inputs(image)
    if len(pixels) != 1:
        raise AttackError(f"smallest_flip takes one image, got {len(pixels)}.")
    labels = _labels(model, label, 1)
    count = int(np.floor(most / resolution + 1e-9))
    grid = [k * resolution for k in range(1, count + 1)]  # as the caller would pass them to `fgsm` / `iterative`
    original = int(probabilities(model, pixels)[0].argmax())
    sign = np.sign(loss_gradient(model, pixels, labels)) if method == "fgsm" else None
    chunk = FGSM_CHUNK if method == "fgsm" else ITERATIVE_CHUNK
    for start in range(0, count, chunk):
        part = grid[start : start + chunk]
        epsilons = np.array(part, dtype=np.float32)
        if sign is not None:
            batch = np.clip(pixels + epsilons.reshape(-1, 1, 1, 1) * sign, 0.0, 1.0)
        else:
            alphas = np.array([default_alpha(e) for e in part], dtype=np.float32)
            repeated = np.repeat(pixels, len(part), axis=0)
            batch = _iterate(model, repeated, np.repeat(labels, len(part)), epsilons, alphas, DEFAULT_STEPS)
        outputs = probabilities(model, batch)
        flipped = np.flatnonzero(outputs.argmax(axis=1) != original)
        if flipped.size:
            first = start + int(flipped[0])
            scores = outputs[int(flipped[0])]
            becomes = int(scores.argmax())
            below = grid[first - 1] if first else 0.0
            return Flip(method, resolution, most, original, grid[first], below, becomes, float(scores[becomes]))
    return Flip(method, resolution, most, original, None, None, None, None)
