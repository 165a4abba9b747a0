"""What each filter wants to see: activation maximisation and the training patches that excite a filter most.

- `maximise(model, target, units)`: gradient ascent from noise on the input (Erhan et al. 2009; Yosinski et al. 2015;
  keras-io "Visualizing what convnets learn"; Lucid), one image per unit, all units of a layer at once as one batch.
  Each image's objective is its own unit: a conv filter's mean activation over its map (the layer's output, after
  ReLU; while that mean is 0 its pre-ReLU mean, so a filter silent on the noise still has a gradient), or a class's
  logit (the output layer's value before softmax). The usual regularisers keep the picture natural: random jitter
  (the image rolled a pixel each step), a light Gaussian blur every few steps, an L2 pull towards mid-grey and a
  total-variation penalty; pixels stay in [0, 1], the model's input range.
- `top_patches(model, images, targets)`: one streaming pass over training images, keeping for every filter the 9
  images whose map has the largest maximum (ties: the lower image index), where that maximum sits, and the crop of
  the input that unit sees (its receptive field, `crop_window`, zero outside the image). For a class the crop is
  the whole image and the value its logit.
- `python -m models.explain.feature_vis` computes both for the shipped model, trained and at its initialisation (the
same
  seed rebuilds the initial weights; the saved conv1 snapshot confirms it), and writes models/fashion_cnn.features.npz
  keyed by the weights' fingerprint, so a changed model never shows stale pictures. `make model` runs it.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from models.design.card import SHIPPED_MODEL
from models.design.config import NUM_CLASSES
from models.design.receptive_field import Field, receptive_field
from models.explain.inspection import weights_key
from models.inputs.fashion_mnist import scale_images

OUTPUT = "output"  # the classes' target: the output layer's logits
TOP = 9  # training patches kept per filter
FEATURES_FILE = SHIPPED_MODEL.with_suffix(".features.npz")
Progress = Callable[[float, str], None]  # (fraction done 0-1, what is being done)


class FeatureError(ValueError):
    """A request the model cannot answer (no such layer, no conv layer); the message says why."""


# ---------------------------------------------------------------- targets and receptive fields


def conv_layers(model: keras.Model) -> list[str]:
    """The Conv2D layers' names, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def targets(model: keras.Model, most: int = 2) -> list[str]:
    """What the view offers: the first `most` conv layers (conv1, conv2 in the course CNN), then the classes."""
    return [*conv_layers(model)[:most], OUTPUT]


def _output_layer(model: keras.Model) -> keras.layers.Dense:
    layer = model.layers[-1]
    if not isinstance(layer, keras.layers.Dense):
        raise FeatureError(f"Model {model.name!r} does not end in a Dense layer, so it has no class scores.")
    return layer


def _target_layer(model: keras.Model, target: str) -> keras.layers.Layer:
    if target == OUTPUT:
        return _output_layer(model)
    try:
        layer = model.get_layer(target)
    except ValueError:
        raise FeatureError(f"Model {model.name!r} has no layer {target!r}.") from None
    if not isinstance(layer, keras.layers.Conv2D):
        raise FeatureError(f"Layer {target!r} is not a convolution layer.")
    return layer


def unit_count(model: keras.Model, target: str) -> int:
    """Filters of a conv layer, or classes of the output."""
    layer = _target_layer(model, target)
    return int(layer.filters if isinstance(layer, keras.layers.Conv2D) else layer.units)


def crop_window(model: keras.Model, target: str) -> Field:
    """The input pixels one unit of `target` sees: unit (i, j) sees rows start + i * jump ..+ size, same for
    columns (`models.design.receptive_field`). A class sees the whole image.

    Course CNN: conv1 3 pixels square (jump 1, start 0), conv2 8 (jump 2, start 0); the classes see all 28x28.
    """
    if target == OUTPUT:
        height, width = model.inputs[0].shape[1:3]
        return Field(int(max(height, width)), 1, 0)
    _target_layer(model, target)
    return Field(*receptive_field(model, target))


def crop(image: np.ndarray, window: Field, row: int, col: int) -> np.ndarray:
    """The (size, size) piece of a (H, W) image that unit (row, col) sees; pixels outside the image are 0."""
    top, left = window.start + row * window.jump, window.start + col * window.jump
    out = np.zeros((window.size, window.size), dtype=image.dtype)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + window.size, image.shape[0]), min(left + window.size, image.shape[1])
    if r1 > r0 and c1 > c0:
        out[r0 - top : r1 - top, c0 - left : c1 - left] = image[r0:r1, c0:c1]
    return out


# ---------------------------------------------------------------- the target's values, written with Keras layers


def _linear_twin(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The same layer with the same weights and no activation: its pre-activation (for the output, the logits)."""
    twin = type(layer).from_config({**layer.get_config(), "activation": "linear", "name": f"{layer.name}_linear"})
    twin.build(layer.input.shape)
    twin.set_weights(layer.get_weights())
    return twin


class _Target:
    """x -> the target layer's pre-activation z (and its activation function): conv maps (B, H, W, C) or logits."""

    def __init__(self, model: keras.Model, target: str) -> None:
        layer = _target_layer(model, target)
        self.front = keras.Model(model.inputs[0], layer.input)
        self.twin = _linear_twin(layer)
        self.activation = layer.activation if target != OUTPUT else keras.activations.linear
        self.is_map = target != OUTPUT

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.twin(self.front(x, training=False))


# ---------------------------------------------------------------- activation maximisation


@dataclass(frozen=True)
class AscentSettings:
    """Gradient ascent on the input. Each step: roll by up to `jitter` pixels, the objective's gradient scaled to
    unit L2 norm per image, minus `l2` * (x - 0.5) and `tv` * the total variation's gradient, times
    `learning_rate`; clip to [0, 1]; every `blur_every` steps a Gaussian blur of `blur_sigma` pixels."""

    steps: int = 256
    learning_rate: float = 1.0
    jitter: int = 1
    blur_every: int = 4
    blur_sigma: float = 0.5
    l2: float = 0.02
    tv: float = 0.002
    noise: float = 0.1  # the start: mid-grey plus Gaussian noise of this standard deviation
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Synthetic:
    """One image per unit (N, 28, 28) uint8, and each unit's objective on it and on the starting noise (`start`,
    float (N, 28, 28); not saved to the file)."""

    images: np.ndarray
    units: np.ndarray
    objective: np.ndarray
    start_objective: np.ndarray
    start: np.ndarray | None = None


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(2 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g).astype(np.float32)[:, :, None, None]


def _objective(target: _Target, x: tf.Tensor, units: tf.Tensor) -> tf.Tensor:
    """(B,): image b's objective for unit units[b]."""
    z = target(x)
    if not target.is_map:
        return tf.gather(z, units, axis=1, batch_dims=1)
    channel = tf.gather(tf.transpose(z, [0, 3, 1, 2]), units, axis=1, batch_dims=1)  # (B, H, W)
    active = tf.reduce_mean(target.activation(channel), axis=[1, 2])
    return tf.where(active > 0, active, tf.reduce_mean(channel, axis=[1, 2]))


def maximise(
    model: keras.Model,
    target: str,
    units: Sequence[int] | None = None,
    settings: AscentSettings = AscentSettings(),
    progress: Progress | None = None,
    batch: int = 64,
) -> Synthetic:
    """The input each unit of `target` (a conv layer's name, or OUTPUT for the classes) responds to most."""
    chosen = np.arange(unit_count(model, target)) if units is None else np.asarray(units, dtype=np.int32)
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= unit_count(model, target):
        raise FeatureError(f"Units must be 0-{unit_count(model, target) - 1}, got {list(chosen)}.")
    objective_of = _Target(model, target)
    height, width = (int(d) for d in model.inputs[0].shape[1:3])
    rng = np.random.default_rng(settings.seed)
    blur = tf.constant(_gaussian_kernel(settings.blur_sigma))
    radius = blur.shape[0] // 2
    pad = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
    shifts = rng.integers(-settings.jitter, settings.jitter + 1, size=(settings.steps, 2))

    @tf.function(reduce_retracing=True)
    def step(x: tf.Tensor, units: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            moved = tf.roll(x, shift, axis=[1, 2])
            gain = tf.reduce_sum(_objective(objective_of, moved, units))
            tv = tf.reduce_sum(tf.image.total_variation(x))
        g = tape.gradient(gain, x)
        g = g / (tf.norm(tf.reshape(g, [tf.shape(g)[0], -1]), axis=1)[:, None, None, None] + 1e-8)
        g -= settings.tv * tape.gradient(tv, x) + settings.l2 * (x - 0.5)
        return tf.clip_by_value(x + settings.learning_rate * g, 0.0, 1.0)

    images, final, start, noises = [], [], [], []
    for first in range(0, len(chosen), batch):
        units_now = tf.constant(chosen[first : first + batch], tf.int32)
        noise = rng.normal(0.5, settings.noise, size=(len(units_now), height, width, 1))
        x = tf.constant(np.clip(noise, 0, 1).astype(np.float32))
        noises.append(np.asarray(x)[..., 0])
        start.append(np.asarray(_objective(objective_of, x, units_now)))
        for i in range(settings.steps):
            x = step(x, units_now, tf.constant(shifts[i], tf.int32))
            if settings.blur_every and (i + 1) % settings.blur_every == 0 and i + 1 < settings.steps:
                x = tf.nn.conv2d(tf.pad(x, pad, "SYMMETRIC"), blur, 1, "VALID")
            if progress is not None and (i % 16 == 15 or i + 1 == settings.steps):
                done = (first + len(units_now) * (i + 1) / settings.steps) / len(chosen)
                progress(done, f"{target}: gradient ascent, step {i + 1} of {settings.steps}")
        pixels = np.rint(np.asarray(x)[..., 0] * 255).astype(np.uint8)
        images.append(pixels)
        final.append(np.asarray(_objective(objective_of, tf.constant(scale_images(pixels)), units_now)))
    return Synthetic(
        np.concatenate(images), chosen, np.concatenate(final), np.concatenate(start), np.concatenate(noises)
    )


# ---------------------------------------------------------------- the training patches that excite each unit most


@dataclass(frozen=True, eq=False)
class TopPatches:
    """Per unit the `TOP` training images with the largest peak (value desc, then index asc): (F, TOP) values,
    image indices, the peak's (row, col) in the map (F, TOP, 2) and the crop it sees (F, TOP, size, size) uint8."""

    values: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    crops: np.ndarray
    window: Field


def _peaks_model(model: keras.Model, names: Sequence[str]) -> Callable[[tf.Tensor], list[tf.Tensor]]:
    """x -> per target (B, C) peak values and (B, C) flat positions of the peak (the first, row-major, if tied).
    A conv layer's peak is its output map's maximum (after ReLU); the classes' value is the logit."""
    outputs = [model.layers[-1].input if name == OUTPUT else model.get_layer(name).output for name in names]
    body = keras.Model(model.inputs[0], outputs)
    logits = _linear_twin(_output_layer(model)) if OUTPUT in names else None

    @tf.function(reduce_retracing=True)
    def peaks(x: tf.Tensor) -> list[tf.Tensor]:
        results = body(x, training=False)
        results = results if isinstance(results, (list, tuple)) else [results]
        found = []
        for name, value in zip(names, results):
            if name == OUTPUT and logits is not None:
                scores = logits(value)
                found += [scores, tf.zeros_like(scores, tf.int32)]
                continue
            flat = tf.reshape(value, [tf.shape(value)[0], -1, value.shape[-1]])
            best = tf.reduce_max(flat, axis=1)
            where = tf.range(tf.shape(flat)[1])[None, :, None]
            first = tf.reduce_min(tf.where(flat == best[:, None, :], where, tf.int32.max), axis=1)
            found += [best, first]
        return found

    return peaks


def top_patches(
    model: keras.Model,
    images: np.ndarray,
    names: Sequence[str],
    *,
    batch: int = 250,
    progress: Progress | None = None,
) -> dict[str, TopPatches]:
    """For each target in `names`, the `TOP` images of `images` (uint8 (N, 28, 28)) that excite each unit most."""
    names = list(names)
    for name in names:
        _target_layer(model, name)
    if len(images) < TOP:
        raise FeatureError(f"Need at least {TOP} images, got {len(images)}.")
    peaks = _peaks_model(model, names)
    best: dict[str, tuple[np.ndarray, ...]] = {}
    for first in range(0, len(images), batch):
        found = peaks(tf.constant(scale_images(images[first : first + batch])))
        for k, name in enumerate(names):
            values, positions = np.asarray(found[2 * k]), np.asarray(found[2 * k + 1])
            indices = np.broadcast_to(np.arange(first, first + len(values))[:, None], values.shape)
            if name in best:  # earlier images first, so a stable sort breaks ties by the lower index
                old_values, old_indices, old_positions = best[name]
                values = np.concatenate([old_values, values])
                indices = np.concatenate([old_indices, indices])
                positions = np.concatenate([old_positions, positions])
            order = np.argsort(-values, axis=0, kind="stable")[:TOP]
            best[name] = tuple(np.take_along_axis(a, order, axis=0) for a in (values, indices, positions))
        if progress is not None:
            stop = min(first + batch, len(images))
            progress(stop / len(images), f"strongest training patches: {stop:,} of {len(images):,} images")
    found_patches = {}
    for name in names:
        values, indices, positions = (a.T.copy() for a in best[name])  # (F, TOP)
        window = crop_window(model, name)
        if name == OUTPUT:
            rows = np.zeros_like(positions)
            crops = np.asarray(images)[indices]
            cells = np.stack([rows, rows], axis=-1)
        else:
            map_width = int(model.get_layer(name).output.shape[2])
            cells = np.stack([positions // map_width, positions % map_width], axis=-1)
            crops = np.stack(
                [
                    np.stack([crop(images[i], window, r, c) for i, (r, c) in zip(row_i, row_c)])
                    for row_i, row_c in zip(indices, cells)
                ]
            )
        found_patches[name] = TopPatches(values.astype(np.float32), indices.astype(np.int32), cells, crops, window)
    return found_patches


# ---------------------------------------------------------------- one model's pictures, saved and read back


@dataclass(frozen=True, eq=False)
class TargetFeatures:
    """One target's synthetic images, its units' top training patches and each synthetic image's peak value."""

    synthetic: Synthetic
    patches: TopPatches
    synthetic_peaks: np.ndarray  # (F,) the unit's peak (as in `patches.values`) on its own synthetic image


@dataclass(frozen=True)
class Budget:
    """How much work one model's pictures take: ascent steps and the first `images` training images."""

    steps: int = AscentSettings.steps
    images: int = 60_000


def features(
    model: keras.Model,
    train_images: np.ndarray,
    budget: Budget = Budget(),
    progress: Progress | None = None,
    settings: AscentSettings | None = None,
) -> dict[str, TargetFeatures]:
    """Everything the view shows for one model: per target of `targets(model)`."""
    names = targets(model)
    settings = settings or AscentSettings(steps=budget.steps)
    report: Progress = progress or (lambda done, text: None)
    shares = [0.25] * (len(names) - 1) + [0.1]  # the conv layers' ascent costs most, the classes' little
    patches_share = 1.0 - sum(shares)
    synthetic, begun = {}, 0.0

    def part(start: float, share: float) -> Progress:
        return lambda done, text: report(start + share * done, text)

    for name, share in zip(names, shares):
        synthetic[name] = maximise(model, name, settings=settings, progress=part(begun, share))
        begun += share
    images = np.asarray(train_images[: budget.images])
    patches = top_patches(model, images, names, progress=part(begun, patches_share))
    result = {}
    for name in names:
        own = _peaks_model(model, [name])(tf.constant(scale_images(synthetic[name].images)))
        peaks = np.asarray(own[0])[np.arange(len(synthetic[name].units)), synthetic[name].units]
        result[name] = TargetFeatures(synthetic[name], patches[name], peaks.astype(np.float32))
    return result


_FIELDS = ("images", "units", "objective", "start_objective", "values", "indices", "positions", "crops", "peaks")


def write_features(
    path: Path,
    trained: dict[str, TargetFeatures],
    initial: dict[str, TargetFeatures] | None,
    weights: str,
    budget: Budget,
    settings: AscentSettings,
) -> None:
    """Save one model's pictures (uint8) and numbers with its weights' fingerprint."""
    arrays: dict[str, np.ndarray] = {"weights": np.array(weights), "targets": np.array(list(trained))}
    arrays["budget"] = np.array([budget.steps, budget.images])
    arrays["settings"] = np.array(list(asdict(settings).values()), dtype=np.float64)
    for state, found in (("trained", trained), ("initial", initial)):
        for name, item in (found or {}).items():
            values = (
                item.synthetic.images,
                item.synthetic.units,
                item.synthetic.objective,
                item.synthetic.start_objective,
                item.patches.values,
                item.patches.indices,
                item.patches.positions.astype(np.int16),
                item.patches.crops,
                item.synthetic_peaks,
            )
            for field, value in zip(_FIELDS, values):
                arrays[f"{state}.{name}.{field}"] = value
            window = item.patches.window
            arrays[f"{state}.{name}.window"] = np.array([window.size, window.jump, window.start])
    np.savez_compressed(path, allow_pickle=False, **arrays)


@dataclass(frozen=True, eq=False)
class SavedFeatures:
    trained: dict[str, TargetFeatures]
    initial: dict[str, TargetFeatures] | None
    budget: Budget


def read_features(path: Path, weights: str) -> SavedFeatures | None:
    """The pictures saved at `path` if they were made from a model with these weights; None if missing, unreadable
    or made from other weights."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["weights"]) != weights:
                return None
            names = [str(n) for n in saved["targets"]]
            steps, images = (int(v) for v in saved["budget"])
            states: dict[str, dict[str, TargetFeatures] | None] = {}
            for state in ("trained", "initial"):
                if f"{state}.{names[0]}.images" not in saved.files:
                    states[state] = None
                    continue
                found: dict[str, TargetFeatures] = {}
                states[state] = found
                for name in names:
                    a = {field: saved[f"{state}.{name}.{field}"] for field in _FIELDS}
                    window = Field(*(int(v) for v in saved[f"{state}.{name}.window"]))
                    found[name] = TargetFeatures(
                        Synthetic(a["images"], a["units"], a["objective"], a["start_objective"]),
                        TopPatches(a["values"], a["indices"], a["positions"].astype(np.int64), a["crops"], window),
                        a["peaks"],
                    )
            trained = states["trained"]
            return None if trained is None else SavedFeatures(trained, states["initial"], Budget(steps, images))
    except (OSError, KeyError, ValueError):
        return None


# ---------------------------------------------------------------- the weights at initialisation

_SEEDING = threading.Lock()  # keras.utils.set_random_seed sets process-wide state


def rebuild_initial(build: Callable[[], keras.Model], seed: int, conv1_initial: np.ndarray) -> keras.Model | None:
    """The model as it was before training: `build()` after keras.utils.set_random_seed(seed), as training does.
    Returned only if its first conv kernel equals the saved initial one `conv1_initial` (k, k, 1, F) exactly,
    else None (another Keras version or seed would draw other weights)."""
    with _SEEDING:
        keras.utils.set_random_seed(seed)
        model = build()
    names = conv_layers(model)
    if not names:
        return None
    kernel = model.get_layer(names[0]).get_weights()[0]
    saved = np.asarray(conv1_initial)
    if saved.shape != kernel.shape or not np.array_equal(saved, kernel):
        return None
    return model


def shipped_initial() -> keras.Model | None:
    """The shipped course CNN at initialisation, or None if the saved snapshot says the rebuild differs."""
    from models.design.card import read_filter_snapshots, read_model_card
    from models.networks.zoo import course_cnn

    seed = int(read_model_card()["train_config"]["seed"])
    return rebuild_initial(course_cnn, seed, read_filter_snapshots()[0])


def run_initial(config: dict, conv1_initial: np.ndarray) -> keras.Model | None:
    """A learner's run at initialisation from its saved settings (architecture, first layer, seed), checked against
    its saved conv1 kernels at initialisation (k, k, F); None for runs without a conv layer or if they differ."""
    from models.design.config import CNNConfig
    from models.networks.worker import build_model
    from models.training.recipes import RunSpec, TrainConfig

    if config.get("architecture") is None:
        return None
    spec = RunSpec(
        architecture=CNNConfig.from_dict(config["architecture"]),
        hand_picked=config.get("first_layer") == "hand-picked, frozen",
        recipe=TrainConfig(seed=int(config.get("seed", 0))),
    )
    kernels = np.asarray(conv1_initial)
    classes = len(config.get("class_names") or ()) or NUM_CLASSES  # a run on the learner's own images: its classes
    return rebuild_initial(lambda: build_model(spec, classes), spec.recipe.seed, kernels[:, :, None, :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.explain.feature_vis",
        description="Compute what each filter wants to see for the shipped model (trained and at initialisation).",
    )
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="the .keras file (default: the shipped one)")
    parser.add_argument("--steps", type=int, default=Budget.steps, help="gradient-ascent steps")
    parser.add_argument("--images", type=int, default=Budget.images, help="use the first N training images")
    args = parser.parse_args(argv)

    from models.inputs.fashion_mnist import load_fashion_mnist
    from models.networks.zoo import load_model_file

    start = time.perf_counter()
    model = load_model_file(args.model)
    (x_train, _), _ = load_fashion_mnist()
    budget = Budget(args.steps, args.images)
    settings = AscentSettings(steps=args.steps)

    def report(done: float, text: str) -> None:
        print(f"\r{done:6.1%} {text:<70}", end="", flush=True)

    trained = features(model, x_train, budget, report, settings)
    print()
    initial_model = shipped_initial() if args.model == SHIPPED_MODEL else None
    initial = None
    if initial_model is None:
        print("initial weights: not rebuilt (not the shipped model, or the rebuild differs from the saved snapshot)")
    else:
        initial = features(initial_model, x_train, budget, report, settings)
        print()
    output = args.model.with_suffix(".features.npz")
    write_features(output, trained, initial, weights_key(model), budget, settings)
    print(
        f"feature pictures of {', '.join(trained)} in {time.perf_counter() - start:.0f} s "
        f"({args.steps} ascent steps, {budget.images:,} training images); saved {output} "
        f"({output.stat().st_size / 1024:.0f} KB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
