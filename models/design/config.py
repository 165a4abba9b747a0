"""CNN variant configs and their tensor shapes, computed without TensorFlow."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from models.ops.geometry import axis_plan

INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
NUM_CLASSES = 10


class ConfigError(ValueError):
    """A config that cannot be built; the message names the layer and the reason."""


@dataclass(frozen=True)
class CNNConfig:
    """A Conv -> Pool stack followed by Dense layers; the defaults are the course CNN."""

    conv_blocks: int = 2
    filters: int = 64
    kernel_size: int = 3
    padding: Literal["valid", "same"] = "valid"
    pooling: Literal["max", "avg", "none"] = "max"
    pool_size: int = 2
    dense_units: int = 128
    dropout: float = 0.0  # Dropout rate after the hidden dense layer (training only)
    l2: float = 0.0  # L2 weight decay: l2 * sum(w**2) of every Conv2D and Dense kernel added to the loss
    augment_flip: bool = False  # RandomFlip("horizontal") before conv1 (training only)
    augment_shift: bool = False  # RandomTranslation(SHIFT_FACTOR, SHIFT_FACTOR)
    augment_rotation: bool = False  # RandomRotation(ROTATION_FACTOR)
    augment_zoom: bool = False  # RandomZoom(ZOOM_FACTOR)

    @property
    def augmentations(self) -> tuple[str, ...]:
        """The augmentation layers switched on, in the order the model applies them: ('flip', 'shift', ...)."""
        return tuple(name for name in AUGMENTATIONS if getattr(self, f"augment_{name}"))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> CNNConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


COURSE_CNN = CNNConfig()

# Data augmentation: Keras preprocessing layers at the front of the model, random while training, the identity at
# inference. Strengths (Keras factors): shift up to 10% of the height and width (2.8 pixels) each way, rotation up to
# 0.05 of a full turn (18 degrees) each way, zoom up to 10% in or out; a flip mirrors half the images left-right.
# Pixels moved in from outside are black (fill_mode="constant", 0), Fashion-MNIST's background.
SHIFT_FACTOR = 0.1
ROTATION_FACTOR = 0.05
ZOOM_FACTOR = 0.1
AUGMENTATIONS: dict[str, tuple[str, str]] = {  # name -> (Keras layer, what it does in words)
    "flip": ("RandomFlip", "mirror left-right (half the images)"),
    "shift": ("RandomTranslation", f"shift up to {SHIFT_FACTOR:.0%} ({SHIFT_FACTOR * 28:g} px) each way"),
    "rotation": ("RandomRotation", f"rotate up to {ROTATION_FACTOR * 360:g}\u00b0 each way"),
    "zoom": ("RandomZoom", f"zoom up to {ZOOM_FACTOR:.0%} in or out"),
}
AUGMENTATION_KINDS = frozenset(kind for kind, _ in AUGMENTATIONS.values())
L2_MAX = 0.1


@dataclass(frozen=True)
class Stage:
    """One layer of a planned model and the shape of the tensor it outputs (batch dim omitted)."""

    name: str
    kind: str
    shape: tuple[int, ...]


def validate(config: CNNConfig) -> None:
    """Raise ConfigError for values no layer accepts."""
    checks = [
        (0 <= config.conv_blocks <= 6, f"conv_blocks must be 0-6, got {config.conv_blocks}"),
        (config.filters >= 1, f"filters must be at least 1, got {config.filters}"),
        (config.kernel_size >= 1, f"kernel_size must be at least 1, got {config.kernel_size}"),
        (config.padding in ("valid", "same"), f"padding must be 'valid' or 'same', got {config.padding!r}"),
        (config.pooling in ("max", "avg", "none"), f"pooling must be 'max', 'avg' or 'none', got {config.pooling!r}"),
        (config.pool_size >= 1, f"pool_size must be at least 1, got {config.pool_size}"),
        (config.dense_units >= 0, f"dense_units must be 0 or more, got {config.dense_units}"),
        (0.0 <= config.dropout < 1.0, f"dropout must be in [0, 1), got {config.dropout}"),
        (0.0 <= config.l2 <= L2_MAX, f"l2 must be in [0, {L2_MAX:g}], got {config.l2}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def plan(config: CNNConfig = COURSE_CNN) -> list[Stage]:
    """Every layer's output shape, as Keras will build it; ConfigError if a layer collapses."""
    validate(config)
    height, width, channels = INPUT_SHAPE
    stages = [Stage("input", "Input", INPUT_SHAPE)]
    stages += [Stage(name, AUGMENTATIONS[name][0], INPUT_SHAPE) for name in config.augmentations]
    k = config.kernel_size
    for block in range(1, config.conv_blocks + 1):
        name = f"conv{block}"
        if config.padding == "valid" and k > height:
            raise ConfigError(
                f"{name}: a {k}x{k} kernel does not fit in the {height}x{width} input "
                f"({height} - {k} + 1 = {height - k + 1} pixels)"
            )
        height, width = axis_plan(height, k, 1, config.padding).out, axis_plan(width, k, 1, config.padding).out
        channels = config.filters
        stages.append(Stage(name, "Conv2D", (height, width, channels)))
        if config.pooling != "none":
            name = f"pool{block}"
            p = config.pool_size
            if p > height:
                raise ConfigError(
                    f"{name}: a {p}x{p} pool does not fit in the {height}x{width} input "
                    f"(floor(({height} - {p}) / {p}) + 1 = 0)"
                )
            height, width = axis_plan(height, p, p).out, axis_plan(width, p, p).out
            kind = "MaxPooling2D" if config.pooling == "max" else "AveragePooling2D"
            stages.append(Stage(name, kind, (height, width, channels)))
    stages.append(Stage("flatten", "Flatten", (height * width * channels,)))
    if config.dense_units:
        stages.append(Stage("dense", "Dense", (config.dense_units,)))
        if config.dropout:
            stages.append(Stage("dropout", "Dropout", (config.dense_units,)))
    stages.append(Stage("output", "Dense", (NUM_CLASSES,)))
    return stages


def shape_text(shape: tuple[int, ...]) -> str:
    """(26, 26, 64) -> '26x26x64'."""
    return "x".join(str(d) for d in shape)
