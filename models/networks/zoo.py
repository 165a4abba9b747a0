"""The course models as short lists of Keras layers, and loading a saved model safely."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers, regularizers

from models.design.card import MAX_ARCHIVE_BYTES, SHIPPED_MODEL, ModelFileError, check_model_archive, rebuild_command
from models.design.config import (
    COURSE_CNN,
    INPUT_SHAPE,
    NUM_CLASSES,
    ROTATION_FACTOR,
    SHIFT_FACTOR,
    ZOOM_FACTOR,
    CNNConfig,
    plan,
)


def course_cnn() -> keras.Model:
    """The course's Fashion-MNIST CNN: 243,786 parameters."""
    return build_cnn(COURSE_CNN)


def course_dnn(classes: int = NUM_CLASSES) -> keras.Model:
    """The dense baseline of the week before: Flatten -> Dense 128 -> Dense 10 (or `classes`)."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dense(classes, activation="softmax", name="output"),
        ],
        name="course_dnn",
    )


def augmentation_layer(name: str, seed: int | None = None) -> layers.Layer:
    """One of models.design.config.AUGMENTATIONS as its Keras preprocessing layer (random while training, else the
    identity). Without a seed it draws from Keras's global seed (keras.utils.set_random_seed), as in training."""
    if name == "flip":
        return layers.RandomFlip("horizontal", seed=seed, name=name)
    if name == "shift":
        return layers.RandomTranslation(SHIFT_FACTOR, SHIFT_FACTOR, fill_mode="constant", seed=seed, name=name)
    if name == "rotation":
        return layers.RandomRotation(ROTATION_FACTOR, fill_mode="constant", seed=seed, name=name)
    if name == "zoom":
        return layers.RandomZoom(ZOOM_FACTOR, fill_mode="constant", seed=seed, name=name)
    raise ValueError(f"Unknown augmentation {name!r}.")


def build_cnn(config: CNNConfig, classes: int = NUM_CLASSES) -> keras.Model:
    """A CNN variant with `classes` outputs; raises models.design.config.ConfigError (naming the layer) if its shapes
    collapse.

    models.design.keras_code.keras_code(config, classes) prints the same model as code."""
    stages = plan(config)
    decay = {"kernel_regularizer": regularizers.L2(config.l2)} if config.l2 else {}
    model_layers: list[layers.Layer] = [keras.Input(INPUT_SHAPE)]
    for stage in stages[1:]:
        if stage.name in config.augmentations:
            model_layers.append(augmentation_layer(stage.name))
        elif stage.kind == "Conv2D":
            model_layers.append(
                layers.Conv2D(
                    config.filters,
                    config.kernel_size,
                    padding=config.padding,
                    activation="relu",
                    name=stage.name,
                    **decay,
                )
            )
        elif stage.kind == "MaxPooling2D":
            model_layers.append(layers.MaxPooling2D(config.pool_size, name=stage.name))
        elif stage.kind == "AveragePooling2D":
            model_layers.append(layers.AveragePooling2D(config.pool_size, name=stage.name))
        elif stage.kind == "Flatten":
            model_layers.append(layers.Flatten(name=stage.name))
        elif stage.name == "dense":
            model_layers.append(layers.Dense(config.dense_units, activation="relu", name=stage.name, **decay))
        elif stage.kind == "Dropout":
            model_layers.append(layers.Dropout(config.dropout, name=stage.name))
        elif stage.name == "output":
            model_layers.append(layers.Dense(classes, activation="softmax", name=stage.name, **decay))
    name = "course_cnn" if config == COURSE_CNN else "cnn_variant"
    return keras.Sequential(model_layers, name=name)


def load_model_file(
    path: Path | str = SHIPPED_MODEL, *, shown: str | None = None, max_unpacked: int = MAX_ARCHIVE_BYTES
) -> keras.Model:
    """Load a .keras file with safe_mode=True; ModelFileError with the rebuild command on failure.

    The archive is checked first (`models.design.card.check_model_archive`): hostile or damaged files are
    refused with a short message before Keras reads them. With `shown` (a learner's upload: its own name)
    the messages name that instead of the path and give no rebuild command.
    """
    path = Path(path)
    fix = "" if shown else f" Rebuild it with: {rebuild_command(path)}"
    if not path.is_file():
        raise ModelFileError(f"Model file {shown or path} is missing.{fix}")
    try:
        check_model_archive(path, shown=shown, max_unpacked=max_unpacked)
    except ModelFileError as exc:
        raise ModelFileError(f"{exc}{fix}") from exc
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as exc:  # Keras raises many types for corrupt archives
        detail = str(exc) if len(str(exc)) <= 300 else str(exc)[:300] + " ..."  # Keras may quote the whole config
        raise ModelFileError(
            f"Model file {shown or path} could not be loaded ({type(exc).__name__}: {detail}).{fix}"
        ) from exc
