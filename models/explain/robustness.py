"""Robustness curves: a model's accuracy on 1,000 test images as they are corrupted more and more.

The images are the first 100 test images of each class (1,000, class-balanced), as floats in [0, 1]. Four
corruptions, each at a few levels (level 0 is the clean images, evaluated once and shared by all four curves):
- Gaussian noise: sigma * N(0, 1) added to every pixel, then clipped to [0, 1];
- shift: moved s pixels right, left, down and up with zero fill (models.explain.shift_test.shift_images), the four
  accuracies averaged, as the Architecture page's translation test does;
- rotation: scipy.ndimage.rotate by +d and -d degrees (anticlockwise and clockwise as drawn; bilinear,
  the same size, zero fill), the two accuracies averaged;
- occlusion: a grey (0.5) square of side s pasted at one random position per image, wholly inside the image.
The randomness is per test image: image i's noise and square position come from
np.random.default_rng([SEED, i]) (first a 28x28 standard normal draw, then two uniforms), so a corrupted example
shown on the page is exactly what the curves measured. `python -m models.explain.robustness` computes the curves of both
shipped models once and writes models/robustness.json with their files' SHA-256 (as models.explain.shift_test does).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from scipy import ndimage

from models.design.card import DENSE_MODEL, SHIPPED_MODEL, ModelFileError
from models.explain.shift_test import DIRECTIONS, SHIFTS, sha256, shift_images, write_record
from models.inputs.fashion_mnist import load_fashion_mnist

ROBUSTNESS = SHIPPED_MODEL.with_name("robustness.json")
ROBUSTNESS_COMMAND = "python -m models.explain.robustness"
PER_CLASS = 100  # the first 100 test images of each class: 1,000 images
SEED = 0
GREY = 0.5  # the occluding square's value (pixels are in [0, 1]; the background is 0)
BATCH = 500  # images per model.predict batch
SUBSET = "the first 100 test images of each class (1,000 images)"

Progress = Callable[[int, int], None]  # (steps done, steps in all), after each step


class RobustnessError(ValueError):
    """The model cannot be tested here (e.g. it does not take 28x28x1 images to 10 scores); the message says why."""


@dataclass(frozen=True)
class Corruption:
    name: str  # the key in the curves
    title: str
    unit: str  # the x axis
    levels: tuple[float, ...]  # the first is 0: the clean images
    variants: int  # predictions per level (4 shift directions, 2 rotation directions, else 1)


CORRUPTIONS = (
    Corruption("noise", "Gaussian noise", "noise sigma (pixels 0-1)", (0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5), 1),
    Corruption("shift", "Shift", "pixels moved", tuple(SHIFTS), len(DIRECTIONS)),
    Corruption("rotation", "Rotation", "degrees turned", (0, 10, 20, 30, 45, 60, 90), 2),
    Corruption("occlusion", "Occlusion", "square side (pixels)", (0, 4, 8, 12, 16, 20), 1),
)
BY_NAME = {c.name: c for c in CORRUPTIONS}

Curves = dict[str, list[float]]  # corruption name -> accuracy at each of its levels


def subset_indices(labels: np.ndarray, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of the first `per_class` test images of each class, in index order."""
    chosen = [np.flatnonzero(labels == c)[:per_class] for c in range(int(labels.max()) + 1)]
    return np.sort(np.concatenate(chosen))


def as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) as floats in [0, 1], (N, 28, 28)."""
    return images.astype(np.float32) / 255.0


def random_draws(indices: np.ndarray, shape: tuple[int, int] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Per test image i, from np.random.default_rng([SEED, i]): a standard normal image (N, H, W) and two
    uniforms in [0, 1) (N, 2) that place the occluding square."""
    noise = np.empty((len(indices), *shape), np.float32)
    corners = np.empty((len(indices), 2))
    for n, index in enumerate(indices):
        rng = np.random.default_rng([SEED, int(index)])
        noise[n] = rng.standard_normal(shape, dtype=np.float32)
        corners[n] = rng.random(2)
    return noise, corners


def variants(name: str, level: float, images: np.ndarray, noise: np.ndarray, corners: np.ndarray) -> list[np.ndarray]:
    """The float images (N, H, W) corrupted by `name` at `level`: one array per direction whose accuracies are
    averaged (shift: right, left, down, up; rotation: anticlockwise, clockwise), or one."""
    if level == 0:
        return [images]
    if name == "noise":
        return [np.clip(images + np.float32(level) * noise, 0.0, 1.0)]
    if name == "shift":
        s = int(level)
        return [shift_images(images, rows * s, columns * s) for rows, columns in DIRECTIONS.values()]
    if name == "rotation":
        return [
            ndimage.rotate(images, angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
            for angle in (level, -level)
        ]
    if name == "occlusion":
        return [occlude(images, int(level), corners)]
    raise RobustnessError(f"Unknown corruption {name!r}; choose from {', '.join(BY_NAME)}.")


def occlude(images: np.ndarray, side: int, corners: np.ndarray) -> np.ndarray:
    """Each image with a GREY square of `side` pixels, its top-left corner at floor(u * (size - side + 1))."""
    height, width = images.shape[1:3]
    if not 0 < side <= min(height, width):
        raise RobustnessError(f"The square's side must be 1-{min(height, width)} pixels, not {side}.")
    tops = np.floor(corners[:, 0] * (height - side + 1)).astype(int)
    lefts = np.floor(corners[:, 1] * (width - side + 1)).astype(int)
    rows, columns = np.arange(height), np.arange(width)
    inside_rows = (rows[None, :] >= tops[:, None]) & (rows[None, :] < tops[:, None] + side)
    inside_columns = (columns[None, :] >= lefts[:, None]) & (columns[None, :] < lefts[:, None] + side)
    square = inside_rows[:, :, None] & inside_columns[:, None, :]
    return np.where(square, np.float32(GREY), images)


def check_model(model: keras.Model, classes: int = 10) -> None:
    """RobustnessError unless the model maps (28, 28, 1) images to `classes` class scores (Fashion-MNIST's 10, or a
    run on the learner's own images: its own)."""
    shape_in, shape_out = tuple(model.input_shape), tuple(model.output_shape)
    if shape_in[1:] != (28, 28, 1) or shape_out[1:] != (classes,):
        raise RobustnessError(
            f"The robustness curves need a model from 28x28x1 images to {classes} class scores; this one takes "
            f"{shape_in[1:]} to {shape_out[1:]}."
        )


def image_passes(corruptions: tuple[Corruption, ...] = CORRUPTIONS) -> int:
    """How many times each test image goes through the model: clean once, then every variant of every other level."""
    return 1 + sum(c.variants * (len(c.levels) - 1) for c in corruptions)


def progress_steps(corruptions: tuple[Corruption, ...] = CORRUPTIONS) -> int:
    """The clean images, then each level after the first of each corruption."""
    return 1 + sum(len(c.levels) - 1 for c in corruptions)


def robustness_curves(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    *,
    corruptions: tuple[Corruption, ...] = CORRUPTIONS,
    progress: Progress | None = None,
    classes: int = 10,
) -> Curves:
    """Accuracy at every level of every corruption, for uint8 test images (N, 28, 28) with these test `indices`
    (which seed each image's noise and square). The clean accuracy is computed once and begins each curve. One
    model.predict per level (all its directions in one array, BATCH images a batch), `progress` told after each."""
    check_model(model, classes)
    x = as_inputs(images)
    noise, corners = random_draws(indices, x.shape[1:3])
    steps, done = progress_steps(corruptions), 0

    def measured(batches: list[np.ndarray]) -> float:
        nonlocal done
        value = float(np.mean(correct_share(model, batches, labels)))
        done += 1
        if progress is not None:
            progress(done, steps)
        return value

    clean = measured([x])
    return {
        c.name: [clean] + [measured(variants(c.name, level, x, noise, corners)) for level in c.levels[1:]]
        for c in corruptions
    }


def correct_share(model: keras.Model, batches: list[np.ndarray], labels: np.ndarray) -> list[float]:
    """The accuracy on each of these same-sized image arrays, from one model.predict over all of them."""
    if not batches:
        return []
    scores = model.predict(np.concatenate(batches)[..., np.newaxis], batch_size=BATCH, verbose=0)
    predicted = np.argmax(scores, axis=1).reshape(len(batches), len(labels))
    return [float(np.mean(row == labels)) for row in predicted]


def examples(image: np.ndarray, index: int) -> dict[str, list[np.ndarray]]:
    """One uint8 test image (28, 28) corrupted at every level of each corruption, as the curves corrupted it
    (the first variant: shifted right, turned anticlockwise): floats in [0, 1]."""
    x = as_inputs(image[np.newaxis])
    noise, corners = random_draws(np.array([index]), x.shape[1:3])
    return {c.name: [variants(c.name, level, x, noise, corners)[0][0] for level in c.levels] for c in CORRUPTIONS}


@dataclass(frozen=True)
class ShippedCurves:
    """The curves in models/robustness.json of the shipped models whose files they were computed from, by key
    ('cnn', 'dense'), and the keys whose file has changed since (their numbers are not returned)."""

    fresh: dict[str, Curves]
    stale: tuple[str, ...]


SHIPPED_FILES = {"cnn": SHIPPED_MODEL, "dense": DENSE_MODEL}


def read_robustness(path: Path = ROBUSTNESS, files: dict[str, Path] = SHIPPED_FILES) -> ShippedCurves:
    """The shipped curves, each only if its model file's SHA-256 is the one it was computed from.
    ModelFileError if the file is missing or unreadable, or was computed at other levels or on other images."""
    try:
        record = json.loads(Path(path).read_text())
        levels = {name: tuple(spec["levels"]) for name, spec in record["corruptions"].items()}
        if levels != {c.name: c.levels for c in CORRUPTIONS} or record["subset"] != SUBSET:
            raise ValueError("its levels or test images are not the ones this version measures")
        fresh, stale = {}, []
        for key, model_path in files.items():
            entry = record["models"][key]
            curves = {name: [float(a) for a in entry["accuracy"][name]] for name in levels}
            if any(len(curves[name]) != len(levels[name]) for name in levels):
                raise ValueError(f"{key}: a curve has the wrong number of points")
            if entry["sha256"] == sha256(model_path):
                fresh[key] = curves
            else:
                stale.append(key)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(
            f"The robustness curves {path} are missing or unreadable ({exc}). Compute them with: {ROBUSTNESS_COMMAND}"
        ) from exc
    return ShippedCurves(fresh, tuple(stale))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=ROBUSTNESS_COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROBUSTNESS)
    args = parser.parse_args(argv)

    from models.networks.zoo import load_model_file

    _, (x_test, y_test) = load_fashion_mnist()
    indices = subset_indices(y_test)
    start = time.perf_counter()
    models = {}
    for key, path in SHIPPED_FILES.items():
        began = time.perf_counter()
        curves = robustness_curves(load_model_file(path), x_test[indices], y_test[indices], indices)
        models[key] = {"file": path.name, "sha256": sha256(path), "accuracy": curves}
        print(f"{key} ({time.perf_counter() - began:.1f} s):")
        for c in CORRUPTIONS:
            print(f"  {c.name}: " + ", ".join(f"{level:g} {a:.3f}" for level, a in zip(c.levels, curves[c.name])))
    record = {
        "subset": SUBSET,
        "test_images": len(indices),
        "seed": SEED,
        "grey": GREY,
        "corruptions": {c.name: {"title": c.title, "unit": c.unit, "levels": list(c.levels)} for c in CORRUPTIONS},
        "models": models,
    }
    write_record(args.output, record, ROBUSTNESS_COMMAND, start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
