"""A learner's .keras file judged from its config.json alone, before Keras builds anything (no TensorFlow).

Keras builds every layer a config names, at the size it names, before it reads a single weight: a 2.7 MB file
whose Dense layer says `units: 1_000_000` made the web process allocate 19 GB. So an uploaded model's config is
read here first (`models.design.card` has already checked the zip: its limits, Lambda layers, modules outside Keras):

- every layer's class must be on `ALLOWED_LAYERS`, the layers the lab's own models use and its pages know
  (an allow-list: `TFSMLayer`, which loads a SavedModel from a path, or `UpSampling2D` are refused by name);
  objects inside a layer's settings (initializers, regularizers, dtype policies) only from Keras's own modules;
- every layer's output shape, parameters and multiply-accumulates (MACs) per image are computed from the config
  (with `models.design.analysis`'s rules and `models.ops.geometry`'s window rule), and the model is refused, naming the
  layer, once it passes `MAX_PARAMETERS`, `MAX_MACS` or `MAX_ACTIVATIONS`;
- a `build_config` or tensor shape that disagrees with the shapes computed here is refused (Keras would build
  the layer at the size the file claims).

The caps, and why these numbers (tests/unit/test_upload_limits.py checks them against the builder's choices):
the largest model the Architecture builder makes that the server trains with the default run under its default
10-minute cost cap (models.training.job_cost) has 15.9 M parameters, 20.0 M MACs per image and 0.20 M activation values
per image (the builder's largest design of all: 0.70 M activation values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.design.analysis import BYTES_PER_VALUE, conv_counts, dense_row, flatten_row
from models.design.card import MAX_UPLOAD_UNPACKED
from models.design.config import AUGMENTATION_KINDS, shape_text
from models.ops.geometry import axis_plan, is_whole

# As many float32 weights as the upload's 100 MB unpacked limit can hold: a model with more cannot load anyway.
MAX_PARAMETERS = MAX_UPLOAD_UNPACKED // BYTES_PER_VALUE  # 26,214,400: 1.65x the builder's largest trainable model
# Evaluating the 10,000 test images then takes at most 5e11 MACs, about 51 s of one core (9.8e9 MACs/s,
# models.training.job_cost); 2.5x the builder's largest trainable model.
MAX_MACS = 50_000_000
# Every layer's output for one image, the input included: 8 MB per image, 256 images a batch (models.explain.inspection)
# at most 2 GB; 10x the builder's largest trainable model, 2.8x its largest design.
MAX_ACTIVATIONS = 2_000_000
MAX_LAYERS = 200  # in all, nested models' layers included
MAX_NESTING = 4  # a model inside a model inside a model ...

CONTAINERS = frozenset({"Sequential", "Functional"})
SHAPE_KEEPING = frozenset({"Dropout", "Activation", "ReLU", "Softmax", *AUGMENTATION_KINDS})
POOLING = frozenset({"MaxPooling2D", "AveragePooling2D"})
GLOBAL_POOLING = frozenset({"GlobalAveragePooling2D", "GlobalMaxPooling2D"})
ALLOWED_LAYERS = frozenset(
    {"InputLayer", "Conv2D", "Dense", "Flatten", "BatchNormalization", *POOLING, *GLOBAL_POOLING, *SHAPE_KEEPING}
    | CONTAINERS
)
# Objects inside a layer's settings: Keras's initializers, regularizers, constraints, activations, its float
# dtype policy, and the optimizer, loss and metrics of a compiled model.
SETTING_MODULES = frozenset(
    {
        "keras.initializers",
        "keras.regularizers",
        "keras.constraints",
        "keras.activations",
        "keras.optimizers",
        "keras.optimizers.schedules",
        "keras.losses",
        "keras.metrics",
    }
)
KERAS_OBJECTS = frozenset({"DTypePolicy", "FloatDTypePolicy"})  # module "keras" outside the layers
Shape = tuple[int, ...]


class ConfigRefused(ValueError):
    """A config the lab will not build; the message names the layer and what was too big or not allowed."""


@dataclass
class Budget:
    """What the model costs for one image, added up layer by layer; the caps are checked as it grows."""

    parameters: int = 0
    macs: int = 0
    activations: int = 0
    layers: int = 0

    def add(self, name: str, kind: str, out: Shape, parameters: int, macs: int) -> None:
        self.layers += 1
        if self.layers > MAX_LAYERS:
            raise ConfigRefused(f"the model has more than {MAX_LAYERS} layers; the lab takes at most {MAX_LAYERS}")
        values = math.prod(out)
        self.parameters += parameters
        self.macs += macs
        self.activations += values
        where = f"layer {name} ({kind}, output {shape_text(out)})"
        if self.parameters > MAX_PARAMETERS:
            raise ConfigRefused(
                f"{where} has {parameters:,} parameters, which brings the model to {self.parameters:,}; the lab "
                f"takes at most {MAX_PARAMETERS:,} (what its {MAX_UPLOAD_UNPACKED // 2**20} MB unpacked limit "
                "holds as float32 weights)"
            )
        if self.macs > MAX_MACS:
            raise ConfigRefused(
                f"{where} does {macs:,} multiply-accumulates per image, which brings the model to {self.macs:,}; "
                f"the lab takes at most {MAX_MACS:,} per image (it measures an upload on 10,000 test images)"
            )
        if self.activations > MAX_ACTIVATIONS:
            raise ConfigRefused(
                f"{where} outputs {values:,} values per image, which brings the model's layer outputs to "
                f"{self.activations:,}; the lab takes at most {MAX_ACTIVATIONS:,} values per image"
            )


def check_upload_config(config: object) -> Budget:
    """The model's cost for one image, or ConfigRefused naming the layer and what was too big or not allowed."""
    if not isinstance(config, dict) or config.get("class_name") not in CONTAINERS:
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ConfigRefused(f"its config.json describes a {str(kind)[:60]!r}, not a Sequential or Functional model")
    budget = Budget()
    _container(config, None, budget, depth=0)
    return budget


# ---------------------------------------------------------------- containers


def _container(node: dict, incoming: Shape | None, budget: Budget, depth: int) -> Shape:
    """A Sequential or Functional model (at the top, or used as a layer), given its input shape if it has one."""
    if depth > MAX_NESTING:
        raise ConfigRefused(f"it nests models more than {MAX_NESTING} deep")
    config = _dict(node.get("config"), "a model's settings")
    name = _name(config)
    _check_settings(_outside(node), f"model {name}")
    _check_settings({k: v for k, v in config.items() if k != "layers"}, f"model {name}")
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise ConfigRefused(f"model {name} has no list of layers")
    if node.get("class_name") == "Sequential":
        first, out = _sequential(name, layers, incoming, config, budget, depth)
    else:
        first, out = _functional(name, layers, incoming, config, budget, depth)
    _check_build(node, first, name)
    return out


def _sequential(
    name: str, layers: list, incoming: Shape | None, config: dict, budget: Budget, depth: int
) -> tuple[Shape, Shape]:
    """(input shape, output shape) of a Sequential model."""
    shape = first = incoming
    if shape is None and config.get("build_input_shape") is not None:
        shape = _declared_shape(config["build_input_shape"], f"model {name}'s input")
        budget.add(f"{name} input", "Input", shape, 0, 0)
    for layer in layers:
        layer = _dict(layer, f"a layer of model {name}")
        if layer.get("class_name") == "InputLayer":
            declared = _input_layer(layer)
            if shape is not None and declared != shape:
                raise ConfigRefused(
                    f"model {name}'s input layer says {shape_text(declared)} but it receives {shape_text(shape)}"
                )
            if shape is None:
                budget.add(_name(layer.get("config")), "Input", declared, 0, 0)
            shape = first = declared
            continue
        if shape is None:
            raise ConfigRefused(f"model {name} does not say the shape of its input")
        first = first or shape
        shape = _layer(layer, shape, budget, depth)
    if shape is None or first is None:
        raise ConfigRefused(f"model {name} has no layers")
    return first, shape


def _functional(
    name: str, layers: list, incoming: Shape | None, config: dict, budget: Budget, depth: int
) -> tuple[Shape, Shape]:
    """(input shape, output shape) of a Functional model: its layers in the order Keras writes them."""
    inputs, outputs = _endpoints(config.get("input_layers")), _endpoints(config.get("output_layers"))
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigRefused(
            f"model {name} has {len(inputs)} inputs and {len(outputs)} outputs; the lab takes one of each "
            "(28x28 grayscale images in, a probability per class out)"
        )
    produced: dict[tuple[str, int], Shape] = {}
    for layer in layers:
        layer = _dict(layer, f"a layer of model {name}")
        layer_name = _raw_name(layer.get("config"))
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ConfigRefused(f"layer {layer_name!r}'s connections are not a list")
        if layer.get("class_name") == "InputLayer":
            declared = _input_layer(layer)
            if incoming is not None and declared != incoming:
                raise ConfigRefused(
                    f"model {name}'s input layer says {shape_text(declared)} but it receives {shape_text(incoming)}"
                )
            if incoming is None:
                budget.add(layer_name, "Input", declared, 0, 0)
            produced[(layer_name, 0)] = declared
            continue
        for index, call in enumerate(nodes):
            history = _tensors(call, layer_name)
            if len(history) != 1:
                raise ConfigRefused(
                    f"layer {layer_name!r} takes {len(history)} inputs; the lab's layers take one each (no merges)"
                )
            source, node_index, shape = history[0]
            if (source, node_index) not in produced:
                raise ConfigRefused(
                    f"layer {layer_name!r} takes the output of {source!r}, which comes later or not at all"
                )
            if shape is not None and shape != produced[(source, node_index)]:
                raise ConfigRefused(
                    f"layer {layer_name!r}'s input is said to be {shape_text(shape)} but {source} outputs "
                    f"{shape_text(produced[(source, node_index)])}"
                )
            produced[(layer_name, index)] = _layer(layer, produced[(source, node_index)], budget, depth)
    if inputs[0] not in produced or outputs[0] not in produced:
        raise ConfigRefused(f"model {name}'s input or output is not one of its layers")
    return produced[inputs[0]], produced[outputs[0]]


def _endpoints(value: object) -> list[tuple[str, int]]:
    """Functional's input_layers/output_layers: ['name', 0, 0] or a list of them."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigRefused("a Functional model does not name its input and output layers")
    found = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and is_whole(item[1])):
            raise ConfigRefused("a Functional model names its input or output layers in a form Keras does not write")
        found.append((item[0], int(item[1])))
    return found


def _tensors(call: object, layer: str) -> list[tuple[str, int, Shape | None]]:
    """The Keras tensors a layer call takes: (source layer, its node, the shape the file gives or None)."""
    found: list[tuple[str, int, Shape | None]] = []
    pending = [call]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            if item.get("class_name") == "__keras_tensor__":
                config = _dict(item.get("config"), f"layer {layer}'s input")
                history = config.get("keras_history")
                if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)):
                    raise ConfigRefused(f"layer {layer}'s input does not say which layer it comes from")
                if not is_whole(history[1]):
                    raise ConfigRefused(f"layer {layer}'s input does not say which layer it comes from")
                shape = config.get("shape")
                found.append((history[0], int(history[1]), None if shape is None else _declared_shape(shape, layer)))
            else:
                pending.extend(item.values())
    return found


# ---------------------------------------------------------------- layers


def _layer(node: dict, shape: Shape, budget: Budget, depth: int) -> Shape:
    """One layer given its input shape: checked, added to the budget, its output shape returned."""
    kind = node.get("class_name")
    config = _dict(node.get("config"), "a layer's settings")
    name = _name(config)
    if not isinstance(kind, str) or kind not in ALLOWED_LAYERS:
        what = "TFSMLayer (it loads a TensorFlow SavedModel from a path)" if kind == "TFSMLayer" else repr(kind)[:80]
        raise ConfigRefused(
            f"layer {name} is a {what}, not one of the layers the lab allows ({', '.join(sorted(ALLOWED_LAYERS))})"
        )
    if node.get("registered_name") not in (None, kind):
        raise ConfigRefused(f"layer {name} is registered as {str(node.get('registered_name'))[:60]!r}, not Keras's own")
    if kind in CONTAINERS:
        return _container(node, shape, budget, depth + 1)
    _check_settings([config, _outside(node)], f"layer {name}")
    _check_build(node, shape, name)
    out, parameters, macs = _cost(kind, name, config, shape)
    if min(out, default=1) < 1:
        raise ConfigRefused(f"layer {name} ({kind}) leaves no output: {shape_text(shape)} becomes {shape_text(out)}")
    budget.add(name, kind, out, parameters, macs)
    return out


def _cost(kind: str, name: str, config: dict, shape: Shape) -> tuple[Shape, int, int]:
    """(output shape, parameters, MACs per image) of one layer from its settings and input shape."""
    if kind in SHAPE_KEEPING:
        return shape, 0, 0
    if kind == "Flatten":
        return flatten_row(name, shape).output_shape, 0, 0
    if kind == "Dense":
        units = _whole(config.get("units"), name, "units")
        row = dense_row(name, shape[-1], units, "", use_bias=bool(config.get("use_bias", True)))
        return (*shape[:-1], units), row.params, row.macs * math.prod(shape[:-1])
    if kind == "BatchNormalization":
        if config.get("renorm"):
            raise ConfigRefused(f"layer {name}: batch renormalisation is not allowed")
        axis = config.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if not is_whole(axis) or not -len(shape) <= axis < len(shape):
            raise ConfigRefused(f"layer {name}: axis {axis!r} is not an axis of its {shape_text(shape)} input")
        per_channel = 2 + bool(config.get("center", True)) + bool(config.get("scale", True))
        return shape, shape[axis] * per_channel, 0
    _require_images(name, kind, config, shape)
    height, width, channels = shape
    if kind in GLOBAL_POOLING:
        return ((1, 1, channels) if config.get("keepdims") else (channels,)), 0, 0
    padding = config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise ConfigRefused(f"layer {name}: padding {str(padding)[:20]!r} (only 'valid' or 'same')")
    if kind in POOLING:
        window = _pair(config.get("pool_size", 2), name, "pool_size")
        strides = window if config.get("strides") is None else _pair(config["strides"], name, "strides")
        dilation = (1, 1)
        filters = channels
    else:  # Conv2D
        filters = _whole(config.get("filters"), name, "filters")
        window = _pair(config.get("kernel_size"), name, "kernel_size")
        strides = _pair(config.get("strides", 1), name, "strides")
        dilation = _pair(config.get("dilation_rate", 1), name, "dilation_rate")
        if config.get("groups", 1) != 1:
            raise ConfigRefused(f"layer {name}: grouped convolutions (groups={config.get('groups')!r}) are not allowed")
    rows, columns = (
        axis_plan(length, size, stride, padding, rate).out
        for length, size, stride, rate in zip((height, width), window, strides, dilation)
    )
    if kind in POOLING:
        return (rows, columns, channels), 0, 0
    parameters, macs = conv_counts(
        window[0] * window[1],
        channels,
        filters,
        max(rows, 0) * max(columns, 0),
        use_bias=bool(config.get("use_bias", True)),
    )
    return (rows, columns, filters), parameters, macs


def _require_images(name: str, kind: str, config: dict, shape: Shape) -> None:
    if len(shape) != 3:
        raise ConfigRefused(f"layer {name} ({kind}) needs height x width x channels maps, not {shape_text(shape)}")
    if config.get("data_format") not in (None, "channels_last"):
        raise ConfigRefused(f"layer {name}: data_format {str(config.get('data_format'))[:30]!r} (only channels_last)")


def _input_layer(node: dict) -> Shape:
    config = _dict(node.get("config"), "an input layer's settings")
    _check_settings(config, f"input layer {_name(config)}")
    declared = config.get("batch_shape", config.get("batch_input_shape"))
    if declared is None:
        raise ConfigRefused(f"input layer {_name(config)} does not say its shape")
    return _declared_shape(declared, f"input layer {_name(config)}")


def _check_build(node: dict, shape: Shape | None, name: str) -> None:
    """Keras builds a layer at its build_config's input shape: it must be the shape computed here."""
    build = node.get("build_config")
    if not isinstance(build, dict) or build.get("input_shape") is None or shape is None:
        return
    declared = _declared_shape(build["input_shape"], f"layer {name}'s build_config")
    if declared != shape:
        raise ConfigRefused(
            f"layer {name}'s build_config says its input is {shape_text(declared)}, but it receives {shape_text(shape)}"
        )


def _declared_shape(value: object, where: str) -> Shape:
    """A shape the file writes with its batch dimension first ([null, 28, 28, 1]): the rest, each a whole number."""
    if not isinstance(value, list) or not 2 <= len(value) <= 4 or value[0] is not None:
        raise ConfigRefused(f"{where}: {str(value)[:60]} is not a batch of images or vectors")
    dims = value[1:]
    if not all(is_whole(d) and 1 <= d <= MAX_ACTIVATIONS for d in dims):
        raise ConfigRefused(f"{where}: the shape {str(value)[:60]} has a size left open, below 1 or too large")
    return tuple(int(d) for d in dims)


def _check_settings(value: object, where: str) -> None:
    """Objects Keras will make from a layer's settings: Keras's own initializers, regularizers, ... only."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            kind, module = item.get("class_name"), item.get("module")
            if kind is not None and kind != "__keras_tensor__":
                ok = module in SETTING_MODULES or (module == "keras" and kind in KERAS_OBJECTS)
                if not ok or item.get("registered_name") not in (None, kind):
                    raise ConfigRefused(
                        f"{where}'s settings name a {str(kind)[:60]!r} from {str(module)[:40]!r}, which the lab "
                        "does not allow there"
                    )
            pending.extend(item.values())


def _outside(node: dict) -> dict:
    """A layer's or model's entry without what names its own class and its settings."""
    return {k: v for k, v in node.items() if k not in ("module", "class_name", "registered_name", "config")}


def _dict(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigRefused(f"{what} is not a JSON object")
    return value


def _raw_name(config: object) -> str:
    name = config.get("name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else ""


def _name(config: object) -> str:
    """A layer's name for a message: quoted, at most 60 characters."""
    name = _raw_name(config)
    return repr(name[:60]) if name else "(unnamed)"


def _whole(value: object, name: str, setting: str) -> int:
    if not is_whole(value) or value < 1:
        raise ConfigRefused(f"layer {name}: {setting} {str(value)[:30]!r} is not a whole number of at least 1")
    return int(value)


def _pair(value: object, name: str, setting: str) -> tuple[int, int]:
    items = value if isinstance(value, list) else [value, value]
    if len(items) != 2:
        raise ConfigRefused(f"layer {name}: {setting} {str(value)[:30]} is not one or two whole numbers")
    first, second = (_whole(item, name, setting) for item in items)
    return first, second
