"""One unit's gradient with respect to the input image (TensorFlow): the measured side of a receptive field.

`unit_gradient` runs a Sequential model's layers one by one under tf.GradientTape up to the chosen layer and
differentiates one unit of it. A Conv2D or Dense unit is taken before its activation (a ReLU that is off would
make the whole gradient zero); a pooling unit is what the layer outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from models.explain.inspection import InspectionError, model_input

WITH_ACTIVATION = ("Conv2D", "Dense")


@dataclass(frozen=True, eq=False)
class UnitGradient:
    """d unit / d input pixel (28, 28), the unit's value, and whether that value is before the activation."""

    gradient: np.ndarray
    value: float
    before_activation: bool


def _linear_copy(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The same layer with its weights but no activation: its output is the pre-activation."""
    config = {**layer.get_config(), "activation": "linear", "name": f"{layer.name}_before_activation"}
    copy = type(layer).from_config(config)
    copy.build(layer.input.shape)
    copy.set_weights(layer.get_weights())
    return copy


def unit_gradient(model: keras.Model, image: np.ndarray, layer: str, unit: tuple[int, ...]) -> UnitGradient:
    """Gradient of one unit of `layer` w.r.t. a uint8 (28, 28) image: `unit` is (row, column, channel) for a
    layer that outputs maps, (index,) for a vector. InspectionError for another model, layer or unit."""
    if not isinstance(model, keras.Sequential):
        raise InspectionError(f"Model {model.name!r} is not a Sequential model; gradients need one.")
    names = [item.name for item in model.layers]
    if layer not in names:
        raise InspectionError(f"Model {model.name!r} has no layer {layer!r}.")
    *before, target = model.layers[: names.index(layer) + 1]
    shape = tuple(int(d) for d in target.output.shape[1:])
    if len(unit) != len(shape) or not all(0 <= u < size for u, size in zip(unit, shape)):
        raise InspectionError(f"Layer {layer!r} outputs {shape}; there is no unit {unit}.")
    linear = type(target).__name__ in WITH_ACTIVATION and target.get_config().get("activation") != "linear"
    last = _linear_copy(target) if linear else target
    pixels = tf.constant(model_input(image))
    with tf.GradientTape() as tape:
        tape.watch(pixels)
        tensor = pixels
        for item in before:
            tensor = item(tensor, training=False)
        output = last(tensor, training=False)
        value = output[(0, *unit)]
    gradient = tape.gradient(value, pixels)
    return UnitGradient(np.asarray(gradient)[0, :, :, 0], float(value), linear)
