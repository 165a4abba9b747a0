"""What to train, as plain values (no TensorFlow): the recipe, one run's spec, and the course experiments.

A `RunSpec` crosses process boundaries as a dict (`to_payload` / `from_payload`): the web server queues it,
a worker process (`models.networks.worker`) builds and trains the model it describes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from models.design.card import DENSE_CARD, MODEL_CARD, ModelFileError, read_model_card
from models.design.config import AUGMENTATIONS, COURSE_CNN, CNNConfig, ConfigError, plan
from models.ops.kernels import KERNELS

OPTIMIZER_NAMES = ("adam", "sgd", "rmsprop")
TRAIN_SET_SIZE = 60_000
EARLY_STOPPING_PATIENCE = 2


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the course recipe is adam, learning rate 0.001, batch 32."""

    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    stop_at_accuracy: float | None = None
    monitor: str = "accuracy"
    seed: int = 0
    early_stopping: bool = False  # keras.callbacks.EarlyStopping on val_loss, restore_best_weights=True
    patience: int = EARLY_STOPPING_PATIENCE  # epochs without a lower validation loss before it stops


@functools.cache
def hand_picked_kernels() -> tuple[tuple[str, ...], np.ndarray]:
    """The classic 3x3 kernels of models.ops.kernels (duplicates dropped), plus each direction-sensitive
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
    one_cycle: bool = False  # learning rate per batch: one_cycle_rates(), peaking at the recipe's rate
    preset: str = ""  # a named recipe, put in front of the run's title
    dataset: str = ""  # a learner's own images: the file models.inputs.own_data.DatasetStore saved; "" = Fashion-MNIST
    dataset_name: str = ""  # how the run names those images: "your 60 images of Bag, Sneaker, Trouser"

    @property
    def validation_images(self) -> int:
        return round(self.train_images * self.validation_split)

    @property
    def fitted_images(self) -> int:
        return self.train_images - self.validation_images

    def steps_per_epoch(self) -> int:
        return -(-self.fitted_images // self.recipe.batch_size)

    def model_label(self) -> str:
        """'course CNN', 'dense baseline', or the differences from the course CNN."""
        if self.architecture is None:
            return "dense baseline"
        changes = architecture_changes(self.architecture)
        if self.hand_picked:
            changes.append("hand-picked conv1")
        return "course CNN" if not changes else "CNN with " + ", ".join(changes)

    def title(self, epochs_done: float | None = None) -> str:
        """'course CNN, 5 epochs'; 'Fast recipe: CNN with 32 filters, same padding, 4 epochs'; a run that
        stopped early names the epochs it trained: 'course CNN, 1.45 of 3 epochs'."""
        label = f"{self.preset}: {self.model_label()}" if self.preset else self.model_label()
        if self.dataset:  # a run on the learner's own images says which, wherever its name is shown
            label += f" on {self.dataset_name or 'your own images'}"
        return f"{label}, {epoch_count(self.recipe.epochs, epochs_done)}"

    def check(self, available_images: int = TRAIN_SET_SIZE) -> None:
        """Raise ValueError (ConfigError for the model) with a clear message for settings that cannot train."""
        if not self.dataset and not 100 <= self.train_images <= available_images:
            raise ValueError(f"Training-set size must be 100-{available_images:,} images, got {self.train_images:,}.")
        if not 0.0 <= self.validation_split <= 0.5:
            raise ValueError(f"Validation split must be 0-0.5, got {self.validation_split}.")
        if not 1 <= self.recipe.epochs <= 100:
            raise ValueError(f"Epochs must be 1-100, got {self.recipe.epochs}.")
        if not 1 <= self.recipe.batch_size <= 4096:
            raise ValueError(f"Batch size must be 1-4096, got {self.recipe.batch_size}.")
        if not 0.0 < self.recipe.learning_rate <= 1.0 or not 0.0 < self.lr_decay <= 1.0:
            raise ValueError("Learning rate and its per-epoch decay must be in (0, 1].")
        if self.recipe.early_stopping and self.validation_images == 0:
            raise ValueError("Early stopping watches the validation loss: it needs a validation split above 0.")
        if not 1 <= self.recipe.patience <= 100:
            raise ValueError(f"Early-stopping patience must be 1-100 epochs, got {self.recipe.patience}.")
        if self.one_cycle and self.lr_decay != 1.0:
            raise ValueError("Choose one learning-rate schedule: a per-epoch decay or one-cycle, not both.")
        if self.recipe.optimizer not in OPTIMIZER_NAMES:
            raise ValueError(f"Unknown optimizer {self.recipe.optimizer!r}; choose one of {sorted(OPTIMIZER_NAMES)}.")
        if self.architecture is not None:
            plan(self.architecture)
        if self.hand_picked:
            names, _ = hand_picked_kernels()
            arch = self.architecture
            if arch is None or arch.conv_blocks < 1 or arch.kernel_size != 3 or arch.filters != len(names):
                raise ConfigError(
                    f"A hand-picked first layer holds the {len(names)} classic 3x3 kernels: "
                    f"it needs a CNN with 3x3 kernels and {len(names)} filters."
                )

    def to_dict(self) -> dict:
        """The run's settings as plain values (for the runs table and the model's record)."""
        return {
            "model": self.model_label(),
            "architecture": None if self.architecture is None else self.architecture.to_dict(),
            "first_layer": "hand-picked, frozen" if self.hand_picked else "learned",
            "train_images": self.fitted_images,
            "validation_images": self.validation_images,
            **asdict(self.recipe),
            "lr_decay": self.lr_decay,
            "dataset": "Fashion-MNIST" if not self.dataset else self.dataset_name or "your own images",
            "one_cycle": self.one_cycle,
        }

    def to_payload(self) -> dict:
        """Everything needed to rebuild this spec in another process (JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_payload(cls, values: dict) -> RunSpec:
        architecture = values.get("architecture")
        return cls(
            architecture=None if architecture is None else CNNConfig.from_dict(architecture),
            hand_picked=bool(values.get("hand_picked", False)),
            recipe=TrainConfig(**values.get("recipe", {})),
            train_images=int(values["train_images"]),
            validation_split=float(values["validation_split"]),
            lr_decay=float(values.get("lr_decay", 1.0)),
            one_cycle=bool(values.get("one_cycle", False)),
            preset=str(values.get("preset", "")),
            dataset=str(values.get("dataset", "")),
            dataset_name=str(values.get("dataset_name", "")),
        )


ONE_CYCLE_WARMUP = 0.2  # the share of all steps over which a one-cycle learning rate climbs


def one_cycle_rates(total_steps: int, peak: float, warmup: float = ONE_CYCLE_WARMUP) -> np.ndarray:
    """The learning rate of each of `total_steps` batches (float64): it climbs in a straight line to `peak` over
    the first `warmup` share of the steps, then falls in a straight line to almost 0: peak / n at the last of the
    n steps after the climb. (Smith's one-cycle policy, without its momentum cycle.)"""
    if total_steps < 1 or not 0.0 < warmup < 1.0:
        raise ValueError(
            f"A one-cycle schedule needs at least 1 step and a warm-up in (0, 1), got {total_steps}, {warmup}."
        )
    climb = max(1, round(warmup * total_steps))
    step = np.arange(total_steps, dtype=np.float64)
    rising = (step + 1) / climb
    falling = (total_steps - step) / max(1, total_steps - climb)
    return peak * np.minimum(np.minimum(rising, falling), 1.0)


def epoch_count(planned: int, done: float | None = None) -> str:
    """'3 epochs'; for a run that stopped early, the epochs it trained (rounded down): '1.45 of 3 epochs'."""
    epochs = f"{planned} epoch{'s' * (planned != 1)}"
    if done is None or done >= planned:
        return epochs
    return f"{math.floor(done * 100 + 1e-9) / 100:g} of {epochs}"


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
    if config.augmentations:
        changes.append(f"{'+'.join(config.augmentations)} augmentation")
    if config.dropout != base.dropout:
        changes.append(f"dropout {config.dropout:g}")
    if config.l2 != base.l2:
        changes.append(f"L2 {config.l2:g}")
    return changes


def regularisation_text(config: dict) -> str:
    """A run's fight against overfitting from its record's config: 'shift+rotation, dropout 0.5, L2 0.0001,
    early stop (patience 2)'; 'none'."""
    architecture = config.get("architecture") or {}
    parts = []
    augment = [name for name in AUGMENTATIONS if architecture.get(f"augment_{name}")]
    if augment:
        parts.append("+".join(augment))
    if architecture.get("dropout"):
        parts.append(f"dropout {architecture['dropout']:g}")
    if architecture.get("l2"):
        parts.append(f"L2 {architecture['l2']:g}")
    if config.get("early_stopping"):
        parts.append(f"early stop (patience {config.get('patience', EARLY_STOPPING_PATIENCE)})")
    return ", ".join(parts) or "none"


@dataclass(frozen=True)
class Preset:
    """A one-click course experiment: one or more runs built from the page's data settings."""

    title: str
    description: str
    runs: Callable[[RunSpec], list[RunSpec]]


def _variants(base: RunSpec, configs: list[CNNConfig | None], **changes) -> list[RunSpec]:
    return [replace(base, architecture=config, hand_picked=False, **changes) for config in configs]


def _hand_picked_description() -> str:
    """The 'Hand-picked vs learned' preset in words, its counts taken from hand_picked_kernels()."""
    names, _ = hand_picked_kernels()
    turned = sum("turned" in name for name in names)
    return (
        f"A {len(names)}-filter CNN whose first layer is fixed (frozen) to {len(names) - turned} classic kernels "
        f"(Sobel, blur, Laplacian...) and {turned} of them turned 180\u00b0, beside the same CNN learning its own "
        "first layer. A small run can show the opposite of the lesson: on a few thousand images and one epoch the "
        "hand-picked filters can win, since learned filters start random and have had little training; give both "
        "more images and epochs before drawing a conclusion."
    )


def _no_conv_description() -> str:
    """The 'No conv layers' preset in words: what a short run shows, and the shipped models' real gap (their cards)."""
    text = (
        "The dense baseline (Flatten -> Dense 128 -> Dense 10) beside the course CNN, with the settings above. On a "
        "few thousand images and one epoch they tie or the dense network wins: little data and training favour the "
        "smaller model."
    )
    try:
        cnn, dense = read_model_card(MODEL_CARD), read_model_card(DENSE_CARD)
    except ModelFileError:
        return text
    return (
        f"{text} On all {cnn['train_images']:,} images for {cnn['epochs']} epochs, the shipped CNN scores "
        f"{cnn['test_accuracy']:.2%} on the test images, the dense network {dense['test_accuracy']:.2%} "
        "(Architecture page)."
    )


def _hand_picked_pair(base: RunSpec) -> list[RunSpec]:
    config = replace(COURSE_CNN, filters=len(hand_picked_kernels()[0]))
    return [replace(base, architecture=config, hand_picked=picked) for picked in (True, False)]


FIGHT_EPOCHS = 8
FIGHT_DROPOUT = 0.5
FIGHT_AUGMENTED = replace(COURSE_CNN, augment_flip=True, augment_shift=True, augment_rotation=True, augment_zoom=True)


def fight_overfitting_runs(base: RunSpec) -> list[RunSpec]:
    """'Fight overfitting': the course CNN on 10,000 images (20% validate), with nothing, augmentation, dropout
    and both; the page's batch, optimizer, learning rate and seed, no early stopping (so every run trains
    FIGHT_EPOCHS epochs and the curves compare)."""
    recipe = replace(base.recipe, epochs=FIGHT_EPOCHS, stop_at_accuracy=None, early_stopping=False)
    configs: list[CNNConfig | None] = [
        COURSE_CNN,
        FIGHT_AUGMENTED,
        replace(COURSE_CNN, dropout=FIGHT_DROPOUT),
        replace(FIGHT_AUGMENTED, dropout=FIGHT_DROPOUT),
    ]
    return _variants(base, configs, train_images=10_000, validation_split=0.2, recipe=recipe, lr_decay=1.0)


FAST_RECIPE = TrainConfig(epochs=4, batch_size=256, learning_rate=2e-2)  # the one-cycle schedule's peak rate
FAST_ARCHITECTURE = replace(COURSE_CNN, filters=16, padding="same")

PRESETS: dict[str, Preset] = {
    preset.title: preset
    for preset in [
        Preset(
            "16 vs 32 vs 64 filters",
            "The course CNN with 16, 32 and 64 filters per conv layer: three runs.",
            lambda base: _variants(base, [replace(COURSE_CNN, filters=f) for f in (16, 32, 64)]),
        ),
        Preset(
            "One vs two conv layers",
            "The course CNN with one conv + pool block, then with two.",
            lambda base: _variants(base, [replace(COURSE_CNN, conv_blocks=b) for b in (1, 2)]),
        ),
        Preset(
            "No conv layers",
            _no_conv_description(),
            lambda base: _variants(base, [None, COURSE_CNN]),
        ),
        Preset(
            "More epochs: overfitting",
            "The course CNN for 20 epochs on 10,000 images (20% validate): "
            "training accuracy keeps rising, validation stalls, and the gap is overfitting.",
            lambda base: _variants(
                base,
                [COURSE_CNN],
                train_images=10_000,
                validation_split=0.2,
                recipe=replace(base.recipe, epochs=20, stop_at_accuracy=None),
            ),
        ),
        Preset(
            "Fight overfitting",
            f"The course CNN on 10,000 images (20% validate) for {FIGHT_EPOCHS} epochs, four times: with nothing, with "
            f"augmentation (shift, rotation, zoom, flip), with dropout {FIGHT_DROPOUT:g}, and with both. Compare each "
            "run's train-validation gap in the table, after the last epoch and at its best epoch.",
            fight_overfitting_runs,
        ),
        Preset(
            "Hand-picked vs learned",
            _hand_picked_description(),
            _hand_picked_pair,
        ),
        Preset(
            "Fast",
            "16 filters per conv layer instead of 64 ('same' padding), batch 256, all 60,000 images, 4 epochs, "
            "one-cycle learning rate: Adam's rate climbs to 0.02 over the first 20% of the steps, then falls in a "
            "straight line to almost 0. Faster because an image costs 0.67 M multiply-adds, not 5.06 M (an epoch "
            "takes a fifth of the time), and the high rate learns fast while the falling one settles the weights: "
            "0.90 test accuracy after 2-3 epochs, in about 0.2x the course recipe's time "
            "(benchmarks/training_page_speed.py).",
            lambda base: [
                RunSpec(
                    architecture=FAST_ARCHITECTURE,
                    recipe=replace(FAST_RECIPE, seed=base.recipe.seed),
                    train_images=60_000,
                    validation_split=0.0,
                    one_cycle=True,
                    preset="Fast recipe",
                )
            ],
        ),
    ]
}
