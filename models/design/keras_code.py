"""The Keras code of a builder design, as text (no TensorFlow): a short list of layers after keras.Input, the
way the keras-io examples read. Running it builds the model models.networks.zoo.build_cnn(config) builds."""

from __future__ import annotations

from models.design.config import INPUT_SHAPE, NUM_CLASSES, ROTATION_FACTOR, SHIFT_FACTOR, ZOOM_FACTOR, CNNConfig, plan

AUGMENTATION_CODE = {
    "flip": 'layers.RandomFlip("horizontal", name="flip"),',
    "shift": f'layers.RandomTranslation({SHIFT_FACTOR}, {SHIFT_FACTOR}, fill_mode="constant", name="shift"),',
    "rotation": f'layers.RandomRotation({ROTATION_FACTOR}, fill_mode="constant", name="rotation"),',
    "zoom": f'layers.RandomZoom({ZOOM_FACTOR}, fill_mode="constant", name="zoom"),',
}


def keras_code(config: CNNConfig, classes: int = NUM_CLASSES) -> str:
    """Python source defining `model`, layer by layer, with the layer names of the table and `classes` output units
    (Fashion-MNIST's 10, or a learner's own classes); ConfigError if the design collapses."""
    k, p = config.kernel_size, config.pool_size
    padding = f', padding="{config.padding}"' if config.padding != "valid" else ""
    decay = f", kernel_regularizer=regularizers.L2({config.l2!r})" if config.l2 else ""
    lines = [f"keras.Input(shape={INPUT_SHAPE}),"]
    for stage in plan(config)[1:]:
        name = f'name="{stage.name}"{decay}'
        if stage.name in config.augmentations:
            line = AUGMENTATION_CODE[stage.name]
        elif stage.kind == "Conv2D":
            line = f'layers.Conv2D({config.filters}, kernel_size=({k}, {k}){padding}, activation="relu", {name}),'
        elif stage.kind in ("MaxPooling2D", "AveragePooling2D"):
            line = f'layers.{stage.kind}(pool_size=({p}, {p}), name="{stage.name}"),'
        elif stage.kind == "Flatten":
            line = f'layers.Flatten(name="{stage.name}"),'
        elif stage.kind == "Dropout":
            line = f'layers.Dropout({config.dropout:g}, name="{stage.name}"),'
        elif stage.name == "output":
            line = f'layers.Dense({classes}, activation="softmax", {name}),'
        else:
            line = f'layers.Dense({config.dense_units}, activation="relu", {name}),'
        lines.append(line)
    body = "\n".join(f"        {line}" for line in lines)
    imports = "layers, regularizers" if config.l2 else "layers"
    return f"import keras\nfrom keras import {imports}\n\nmodel = keras.Sequential(\n    [\n{body}\n    ]\n)\n"
