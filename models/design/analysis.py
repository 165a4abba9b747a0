"""Layer tables: every layer's output shape, parameters, multiply-accumulates and memory, with the formulas.

`layer_table_for_config` works from a CNNConfig without TensorFlow (the Architecture page uses it);
`layer_table` reads a built Keras model and gives the same rows. Neither imports TensorFlow.

Multiply-accumulates (MACs) count the multiplications by learned weights for one image, each followed by
an addition: a conv layer does H_out*W_out*k*k*C_in*C_out, a dense layer inputs*units. Bias additions,
activations, pooling, flattening and dropout are not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from models.design.config import (
    AUGMENTATION_KINDS,
    AUGMENTATIONS,
    COURSE_CNN,
    CNNConfig,
    ConfigError,
    Stage,
    plan,
    shape_text,
)

BYTES_PER_VALUE = 4  # float32 weights and activations
DENSE_BASELINE = CNNConfig(conv_blocks=0, dense_units=128)  # the same layers as models.networks.zoo.course_dnn()

POOL_KINDS = {"MaxPooling2D": "max", "AveragePooling2D": "avg"}


class UnsupportedLayerError(ValueError):
    """A Keras layer (or layer setting) the layer table does not describe; the message names it."""


@dataclass(frozen=True)
class LayerRow:
    """One layer: its output (batch dimension omitted), its weights and work, and how each number arises."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    param_formula: str
    mac_formula: str
    shape_rule: str  # how the output shape follows from the input, in numbers and words
    step: str  # a short label for a diagram arrow; lines separated by "\n"

    @property
    def weight_bytes(self) -> int:
        return self.params * BYTES_PER_VALUE

    @property
    def activation_values(self) -> int:
        return math.prod(self.output_shape)

    @property
    def activation_bytes(self) -> int:
        return self.activation_values * BYTES_PER_VALUE


@dataclass(frozen=True)
class Totals:
    params: int
    macs: int
    weight_bytes: int
    activation_values: int  # all layer outputs for one image, the input included
    activation_bytes: int


# Rows for each kind of layer, from plain numbers.


def input_row(shape: tuple[int, ...]) -> LayerRow:
    return LayerRow("input", "Input", shape, 0, 0, "0", "0", f"the {shape_text(shape)} image", "")


def conv_counts(
    kernel_area: int, channels_in: int, filters: int, positions: int, *, use_bias: bool = True
) -> tuple[int, int]:
    """A Conv2D layer's (parameters, MACs per image): (k_h*k_w*C_in + bias) * C_out weights, each filter's
    k_h*k_w*C_in weights applied at every one of the `positions` (H_out*W_out) outputs."""
    weights_per_filter = kernel_area * channels_in
    return (weights_per_filter + use_bias) * filters, positions * weights_per_filter * filters


def conv_row(
    name: str,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    kernel: int,
    padding: str,
    *,
    use_bias: bool = True,
) -> LayerRow:
    """A stride-1 Conv2D with square kernels: one bias per filter when use_bias."""
    height, channels_in = in_shape[0], in_shape[2]
    out_height, out_width, filters = out_shape
    params, macs = conv_counts(kernel * kernel, channels_in, filters, out_height * out_width, use_bias=use_bias)
    per_filter = f"({kernel}*{kernel}*{channels_in} + 1)" if use_bias else f"{kernel}*{kernel}*{channels_in}"
    if padding == "same":
        rule = f"'same' padding {_edge_text(kernel, 'pads')}, so the size stays {height}"
        step = f"conv {kernel}x{kernel}\n'same':\nsize kept"
    else:
        rule = f"{height} - {kernel} + 1 = {out_height}: a {kernel}x{kernel} filter {_edge_text(kernel, 'trims')}"
        step = f"conv {kernel}x{kernel}\n{_edge_text(kernel, 'trims', short=True)}"
    return LayerRow(
        name,
        "Conv2D",
        out_shape,
        params,
        macs,
        f"{per_filter} * {filters} = {params:,}",
        f"{out_height}*{out_width} * {kernel}*{kernel}*{channels_in} * {filters} = {macs:,}",
        rule,
        step,
    )


def pool_row(name: str, mode: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], size: int) -> LayerRow:
    """Pooling with stride equal to its size and 'valid' padding (the Keras default)."""
    effect = "halves" if size == 2 else f"divides by {size}"
    kind = "MaxPooling2D" if mode == "max" else "AveragePooling2D"
    work = "the largest" if mode == "max" else "the average"
    return LayerRow(
        name,
        kind,
        out_shape,
        0,
        0,
        "0",
        "0",
        f"floor({in_shape[0]} / {size}) = {out_shape[0]}: pooling {effect} the size and rounds down, "
        f"keeping {work} of each {size}x{size} window",
        f"{mode} {size}x{size}\n{'halves' if size == 2 else f'÷{size}'},\nrounds\ndown",
    )


def flatten_row(name: str, in_shape: tuple[int, ...]) -> LayerRow:
    values = math.prod(in_shape)
    product = "*".join(str(d) for d in in_shape)
    rule = f"{product} = {values:,} values in one line" if len(in_shape) > 1 else f"{values:,} values, unchanged"
    return LayerRow(name, "Flatten", (values,), 0, 0, "0", "0", rule, "flatten")


def dense_row(name: str, inputs: int, units: int, activation: str, *, use_bias: bool = True) -> LayerRow:
    params = inputs * units + units * use_bias
    formula = f"{inputs}*{units} + {units} = {params:,}" if use_bias else f"{inputs}*{units} = {params:,}"
    macs = inputs * units
    step = f"dense {units}" + ("\nsoftmax" if activation == "softmax" else "")
    return LayerRow(
        name,
        "Dense",
        (units,),
        params,
        macs,
        formula,
        f"{inputs}*{units} = {macs:,}",
        f"{units} units ({activation}), each fed by all {inputs:,} inputs",
        step,
    )


def dropout_row(name: str, shape: tuple[int, ...], rate: float) -> LayerRow:
    return LayerRow(
        name,
        "Dropout",
        shape,
        0,
        0,
        "0",
        "0",
        f"unchanged; drops {rate:.0%} of values while training only",
        f"dropout\n{rate:.0%}",
    )


def augmentation_row(name: str, kind: str, shape: tuple[int, ...]) -> LayerRow:
    """A data-augmentation layer (models.design.config.AUGMENTATIONS): random while training, the identity at
    inference."""
    what = next((text for kind_, text in AUGMENTATIONS.values() if kind_ == kind), "random change")
    return LayerRow(name, kind, shape, 0, 0, "0", "0", f"unchanged shape; {what}, while training only", name)


def _edge_text(kernel: int, verb: str, *, short: bool = False) -> str:
    """How many pixels a k x k filter trims ('valid') or 'same' padding pads: (k - 1) in all."""
    if kernel == 1:
        return "size kept" if short else "keeps the size"
    if kernel % 2:
        side = (kernel - 1) // 2
        return f"{verb} {side} px\neach side" if short else f"{verb} {side} pixel{'s' * (side > 1)} each side"
    return f"{verb} {kernel - 1} px" if short else f"{verb} {kernel - 1} pixels in all"


# Tables.


def layer_table_for_config(config: CNNConfig = COURSE_CNN) -> list[LayerRow]:
    """The table of the model build_cnn(config) makes, without TensorFlow; ConfigError naming a collapsing layer."""
    stages = plan(config)
    rows = [input_row(stages[0].shape)]
    for previous, stage in zip(stages, stages[1:]):
        if stage.kind in AUGMENTATION_KINDS:
            rows.append(augmentation_row(stage.name, stage.kind, stage.shape))
        elif stage.kind == "Conv2D":
            rows.append(conv_row(stage.name, previous.shape, stage.shape, config.kernel_size, config.padding))
        elif stage.kind in POOL_KINDS:
            rows.append(pool_row(stage.name, POOL_KINDS[stage.kind], previous.shape, stage.shape, config.pool_size))
        elif stage.kind == "Flatten":
            rows.append(flatten_row(stage.name, previous.shape))
        elif stage.kind == "Dropout":
            rows.append(dropout_row(stage.name, stage.shape, config.dropout))
        else:
            activation = "softmax" if stage.name == "output" else "relu"
            rows.append(dense_row(stage.name, previous.shape[0], stage.shape[0], activation))
    return rows


def layer_table(model: Any) -> list[LayerRow]:
    """The table of a built Keras Sequential model of Conv2D, pooling, Flatten, Dense and Dropout layers.

    Reads each layer's settings and Keras's own input/output shapes; UnsupportedLayerError otherwise.
    """
    rows = [input_row(_shape(model.inputs[0]))]
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":  # a functional model's input: the input row above
            continue
        _require(layer, not isinstance(layer.input, (list, tuple)), "a layer with several inputs")
        in_shape, out_shape = _shape(layer.input), _shape(layer.output)
        if kind == "Conv2D":
            kernel = layer.kernel_size[0]
            _require(layer, layer.kernel_size == (kernel, kernel), f"a {layer.kernel_size} kernel (only square)")
            _require(layer, tuple(layer.strides) == (1, 1), f"strides {layer.strides}")
            _require(layer, tuple(layer.dilation_rate) == (1, 1), f"dilation {layer.dilation_rate}")
            _require(layer, layer.groups == 1, f"groups={layer.groups}")
            _require(layer, layer.data_format == "channels_last", f"data_format {layer.data_format!r}")
            rows.append(conv_row(layer.name, in_shape, out_shape, kernel, layer.padding, use_bias=layer.use_bias))
        elif kind in POOL_KINDS:
            size = layer.pool_size[0]
            _require(layer, tuple(layer.pool_size) == (size, size), f"a {layer.pool_size} pool (only square)")
            _require(layer, tuple(layer.strides) == (size, size), f"strides {layer.strides} (only equal to the pool)")
            _require(layer, layer.padding == "valid", f"padding {layer.padding!r}")
            rows.append(pool_row(layer.name, POOL_KINDS[kind], in_shape, out_shape, size))
        elif kind == "Flatten":
            rows.append(flatten_row(layer.name, in_shape))
        elif kind == "Dense":
            _require(layer, len(in_shape) == 1, f"a {shape_text(in_shape)} input (only flat inputs)")
            rows.append(
                dense_row(layer.name, in_shape[0], layer.units, layer.activation.__name__, use_bias=layer.use_bias)
            )
        elif kind == "Dropout":
            rows.append(dropout_row(layer.name, out_shape, layer.rate))
        elif kind in AUGMENTATION_KINDS:
            rows.append(augmentation_row(layer.name, kind, out_shape))
        else:
            raise UnsupportedLayerError(f"{layer.name}: {kind} layers are not covered by the layer table")
    return rows


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])


def _require(layer: Any, ok: bool, setting: str) -> None:
    if not ok:
        raise UnsupportedLayerError(f"{layer.name}: {setting} is not covered by the layer table")


def totals(rows: list[LayerRow]) -> Totals:
    return Totals(
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        weight_bytes=sum(r.weight_bytes for r in rows),
        activation_values=sum(r.activation_values for r in rows),
        activation_bytes=sum(r.activation_bytes for r in rows),
    )


def sum_text(rows: list[LayerRow], field: str) -> str:
    """The total of `field` ('params' or 'macs') as a sum: '640 + 36,928 + 204,928 + 1,290 = 243,786'."""
    values = [getattr(r, field) for r in rows if getattr(r, field)]
    return f"{' + '.join(f'{v:,}' for v in values)} = {sum(values):,}"


def largest_share(rows: list[LayerRow], field: str) -> tuple[str, float]:
    """The layer with the most `field` ('params' or 'macs') and its share of the total."""
    top = max(rows, key=lambda r: getattr(r, field))
    return top.name, getattr(top, field) / sum(getattr(r, field) for r in rows)


def fitting_stages(config: CNNConfig) -> list[Stage]:
    """For a config that collapses: the conv/pool stages of the most blocks that still fit (input first)."""
    for blocks in range(config.conv_blocks - 1, -1, -1):
        try:
            stages = plan(replace(config, conv_blocks=blocks))
        except ConfigError:
            continue
        return [s for s in stages if len(s.shape) == 3]
    return []


def table_records(rows: list[LayerRow], fields: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The rows as text columns for display, with x for multiplication, and a total row; with `fields`
    (models.design.receptive_field.field_labels of the same design) a receptive-field column after the output shape."""
    records = [
        {
            "Layer": r.name,
            "Output": shape_text(r.output_shape),
            **({"Receptive field": fields.get(r.name, "")} if fields is not None else {}),
            "Shape rule": _times(r.shape_rule),
            "Parameters": _times(r.param_formula),
            "MACs per image": _times(r.mac_formula),
            "Weights": format_bytes(r.weight_bytes),
            "Activations": format_bytes(r.activation_bytes),
        }
        for r in rows
    ]
    total = totals(rows)
    records.append(
        {
            "Layer": "total",
            "Output": "",
            **({"Receptive field": ""} if fields is not None else {}),
            "Shape rule": "",
            "Parameters": sum_text(rows, "params"),
            "MACs per image": sum_text(rows, "macs"),
            "Weights": format_bytes(total.weight_bytes),
            "Activations": format_bytes(total.activation_bytes),
        }
    )
    return records


def _times(formula: str) -> str:
    return formula.replace("*", "×")


def format_count(count: int) -> str:
    """Exact with thousands separators below a billion: 5,056,000; then 3.16 billion."""
    return f"{count:,}" if count < 10**9 else f"{count / 10**9:.2f} billion"


def format_bytes(count: int) -> str:
    """Decimal units: 975,144 -> '975.1 kB'."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


@dataclass(frozen=True)
class SharingCost:
    """A conv layer against a Dense layer mapping the same input to the same output (no weights shared)."""

    name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    conv_params: int
    dense_params: int
    dense_formula: str

    @property
    def ratio(self) -> float:
        return self.dense_params / self.conv_params


def parameter_sharing(config: CNNConfig = COURSE_CNN) -> SharingCost:
    """The first conv layer's parameters against a Dense layer from the same (flattened) input to the same
    (flattened) output: inputs * outputs weights + one bias per output. ConfigError if there is no conv layer."""
    rows = layer_table_for_config(config)
    conv = next((row for row in rows if row.kind == "Conv2D"), None)
    if conv is None:
        raise ConfigError("parameter sharing: this network has no conv layer")
    in_shape = rows[rows.index(conv) - 1].output_shape
    inputs, outputs = math.prod(in_shape), math.prod(conv.output_shape)
    params = inputs * outputs + outputs
    formula = (
        f"{'*'.join(map(str, in_shape))} inputs * {'*'.join(map(str, conv.output_shape))} outputs + "
        f"{outputs:,} biases = {inputs:,} * {outputs:,} + {outputs:,} = {params:,}"
    )
    return SharingCost(conv.name, in_shape, conv.output_shape, conv.params, params, formula)
