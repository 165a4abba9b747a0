"""Receptive fields: which input pixels a unit of each layer can see, for a builder config or a Keras model.

Walking the layers from the input, each sliding window (kernel k, stride s, dilation d, Keras padding) changes
three numbers per axis:

    size   r = r_prev + (k_eff - 1) * j_prev      with k_eff = d * (k - 1) + 1, the dilated kernel's span
    jump   j = j_prev * s                         input pixels between neighbouring units
    start  a = a_prev - p_before * j_prev         input row of the first pixel unit 0 sees ('same' pads
                                                  p_before rows before the input, so a can go below 0)

so unit i of a layer sees input rows a + i * j to a + i * j + r - 1 (the image edge clips them). Flatten
followed by Dense is one window over the whole map (k = the map's size); element-wise layers (activations,
dropout, batch normalisation) and later Dense layers change nothing. With dilation the field has holes: r is
the span of the pixels a unit sees. Keras models are read through their layer configs (duck-typed), so this
module never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from models.design.config import AUGMENTATION_KINDS, CNNConfig, plan
from models.ops.geometry import axis_plan

ELEMENTWISE = frozenset(
    {
        "Activation",
        "BatchNormalization",
        "Dropout",
        "GaussianDropout",
        "GaussianNoise",
        "LeakyReLU",
        "ReLU",
        "Rescaling",
        "SpatialDropout2D",
    }
)
POOLS = frozenset({"MaxPooling2D", "AveragePooling2D"})
GLOBAL_POOLS = frozenset({"GlobalAveragePooling2D", "GlobalMaxPooling2D"})


class FieldError(ValueError):
    """A layer or model whose receptive field this module cannot work out; the message names it."""


class Field(NamedTuple):
    """Along one axis: a unit sees `size` input pixels, neighbours are `jump` apart, unit 0 starts at `start`."""

    size: int
    jump: int
    start: int

    def span(self, index: int) -> tuple[int, int]:
        """First and last input pixel unit `index` sees, before the image edge clips them."""
        first = self.start + index * self.jump
        return first, first + self.size - 1


@dataclass(frozen=True)
class Window:
    """One layer's sliding window along one axis; kernel 1, stride 1 for a layer that keeps each position."""

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    padding: str = "valid"
    length: int = 1  # the layer's input length along this axis (the 'same' padding depends on it)
    whole: bool = False  # a Dense layer after Flatten (or a global pool): one window over the whole map

    @property
    def span(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    @property
    def before(self) -> int:
        return axis_plan(self.length, self.span, self.stride, self.padding).before if self.padding == "same" else 0


@dataclass(frozen=True)
class FieldStep:
    """One layer: its windows (rows, columns), its receptive field per axis and the recurrence in numbers."""

    name: str
    kind: str
    windows: tuple[Window, Window]
    rows: Field
    cols: Field
    text: str  # the recurrence written out for this layer (rows; columns too when they differ)
    spatial: bool  # the layer outputs a map (rows and columns of units), not a vector

    @property
    def square(self) -> bool:
        return self.rows == self.cols


def next_field(previous: Field, window: Window) -> Field:
    """The recurrence for one layer along one axis."""
    return Field(
        previous.size + (window.span - 1) * previous.jump,
        previous.jump * window.stride,
        previous.start - window.before * previous.jump,
    )


def step_text(previous: Field, window: Window, field: Field) -> str:
    """'r = 3 + (2 - 1) x 1 = 4, j = 1 x 2 = 2, start 0' and the like."""
    if window.kernel == 1 and window.stride == 1:
        return f"r = {field.size}, j = {field.jump}, start {field.start} (unchanged: each unit sees one position)"
    kernel = str(window.kernel)
    if window.dilation > 1:
        kernel = f"{window.span} (dilation {window.dilation}: {window.dilation} x ({window.kernel} - 1) + 1)"
    size = f"r = {previous.size} + ({window.span} - 1) x {previous.jump} = {field.size}"
    if window.whole:
        return f"one window over the whole map (k = {kernel}): {size}"
    start = f"start {field.start}"
    if window.before:
        pads = f"'same' pads {window.before}"
        start = f"start = {previous.start} - {window.before} x {previous.jump} = {field.start} ({pads})"
    return f"k = {kernel}, s = {window.stride}: {size}, j = {previous.jump} x {window.stride} = {field.jump}, {start}"


def _pair(value: Any, name: str, setting: str) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise FieldError(f"{name}: {setting} {value!r} is not a pair of rows and columns")
    return int(items[0]), int(items[1])


def _steps(layers: list[tuple[str, str, tuple[Window, Window], bool]]) -> list[FieldStep]:
    rows = cols = Field(1, 1, 0)
    steps = [FieldStep("input", "Input", (Window(), Window()), rows, cols, "r = 1, j = 1, start 0: one pixel", True)]
    for name, kind, (row_window, col_window), spatial in layers:
        new_rows, new_cols = next_field(rows, row_window), next_field(cols, col_window)
        text = step_text(rows, row_window, new_rows)
        if (new_rows, row_window) != (new_cols, col_window):
            text = f"rows: {text}; columns: {step_text(cols, col_window, new_cols)}"
        steps.append(FieldStep(name, kind, (row_window, col_window), new_rows, new_cols, text, spatial))
        rows, cols = new_rows, new_cols
    return steps


def _config_layers(config: CNNConfig) -> list[tuple[str, str, tuple[Window, Window], bool]]:
    layers = []
    stages = plan(config)
    flattened = False
    for previous, stage in zip(stages, stages[1:]):
        length = previous.shape[0]
        if stage.kind == "Conv2D":
            window = Window(config.kernel_size, 1, 1, config.padding, length)
        elif stage.kind in POOLS:
            window = Window(config.pool_size, config.pool_size, 1, "valid", length)
        elif stage.kind == "Flatten":
            flattened = True
            layers.append((stage.name, stage.kind, (Window(), Window()), False))
            continue
        elif stage.kind == "Dense" and flattened:
            map_size = stages[stages.index(previous) - 1].shape[0]  # the map Flatten flattened
            window = Window(map_size, map_size, 1, "valid", map_size, whole=True)
            flattened = False
        else:
            window = Window()
        layers.append((stage.name, stage.kind, (window, window), len(stage.shape) == 3))
    return layers


def _keras_layers(model: Any) -> list[tuple[str, str, tuple[Window, Window], bool]]:
    layers = []
    flattened: tuple[int, int] | None = None  # the map a Flatten layer flattened, until the Dense layer after it
    for layer in model.layers:
        kind, name = type(layer).__name__, layer.name
        if kind == "InputLayer":
            continue
        in_shape = tuple(layer.input.shape[1:])
        out_spatial = len(layer.output.shape) == 4
        config = layer.get_config()
        if config.get("data_format", "channels_last") != "channels_last":
            raise FieldError(f"{name}: data_format {config['data_format']!r} (only channels_last)")
        if kind == "Conv2D" or kind in POOLS:
            if len(in_shape) != 3:
                raise FieldError(f"{name}: a {kind} layer on an input of shape {in_shape}")
            kernel = _pair(config.get("kernel_size") or config["pool_size"], name, "kernel")
            stride = _pair(config.get("strides") or kernel, name, "strides")
            dilation = _pair(config.get("dilation_rate", 1), name, "dilation_rate")
            padding = str(config.get("padding", "valid")).lower()
            if padding not in ("valid", "same"):
                raise FieldError(f"{name}: padding {padding!r} (only 'valid' or 'same')")
            row_window, col_window = (
                Window(kernel[a], stride[a], dilation[a], padding, int(in_shape[a])) for a in range(2)
            )
            windows = (row_window, col_window)
        elif kind == "Flatten":
            if len(in_shape) == 3:
                flattened = (int(in_shape[0]), int(in_shape[1]))
            windows = (Window(), Window())
        elif kind in GLOBAL_POOLS or (kind == "Dense" and flattened is not None):
            rows, cols = flattened if flattened is not None else (int(in_shape[0]), int(in_shape[1]))
            windows = (Window(rows, rows, 1, "valid", rows, True), Window(cols, cols, 1, "valid", cols, True))
            flattened = None
        elif (
            kind in ELEMENTWISE or kind in AUGMENTATION_KINDS or kind == "Dense"
        ):  # augmentation: identity at inference
            windows = (Window(), Window())
        else:
            raise FieldError(f"{name}: the receptive field of a {kind} layer is not worked out here")
        layers.append((name, kind, windows, out_spatial))
    return layers


def field_steps(config_or_model: CNNConfig | Any) -> list[FieldStep]:
    """Every layer's receptive field with the recurrence written out, input first.

    `config_or_model` is a models.design.config.CNNConfig (the Architecture builder's design) or a built Keras
    Sequential model of Conv2D, pooling, Flatten, Dense and element-wise layers. FieldError (or the config's
    ConfigError) names a layer that cannot be worked out.
    """
    if isinstance(config_or_model, CNNConfig):
        return _steps(_config_layers(config_or_model))
    if not hasattr(config_or_model, "layers"):
        raise FieldError(f"expected a CNNConfig or a Keras model, got {type(config_or_model).__name__}")
    return _steps(_keras_layers(config_or_model))


def find_step(steps: list[FieldStep], layer: str) -> FieldStep:
    for step in steps:
        if step.name == layer:
            return step
    raise FieldError(f"no layer {layer!r}; the layers are {', '.join(step.name for step in steps)}")


def receptive_field(config_or_model: CNNConfig | Any, layer: str) -> tuple[int, int, int]:
    """(size, jump, start offset) of `layer`'s units: the square of input pixels each one sees, the input pixels
    between neighbouring units, and the first input row (and column) unit 0 sees (below 0 with 'same' padding).

    For the course CNN: conv1 (3, 1, 0), pool1 (4, 2, 0), conv2 (8, 2, 0), pool2 (10, 4, 0), dense (26, 20, 0).
    FieldError for a layer whose field is not square (use `field_steps`, which gives rows and columns).
    """
    step = find_step(field_steps(config_or_model), layer)
    if not step.square:
        raise FieldError(f"{layer}: rows {tuple(step.rows)} and columns {tuple(step.cols)} differ")
    return tuple(step.rows)  # type: ignore[return-value]


def field_labels(config_or_model: CNNConfig | Any) -> dict[str, str]:
    """Each layer's receptive field for a table column: '8x8, jump 2', '5x5, jump 1, from -2' ('same' padding
    starts the field before the image), '26x26, whole map' for a Dense layer after Flatten."""
    labels = {}
    for step in field_steps(config_or_model):
        size = f"{step.rows.size}x{step.cols.size}"
        if not step.spatial and step.kind != "Input":
            labels[step.name] = f"{size}, whole map" if step.windows[0].whole else size
            continue
        jump = step.rows.jump if step.rows.jump == step.cols.jump else f"{step.rows.jump}x{step.cols.jump}"
        start = step.rows.start if step.rows.start == step.cols.start else f"({step.rows.start}, {step.cols.start})"
        labels[step.name] = f"{size}, jump {jump}" + (f", from {start}" if start != 0 else "")
    return labels


def dropped_rows(steps: list[FieldStep]) -> list[str]:
    """The layers whose 'valid' windows leave the last rows or columns of their input unused, in words, e.g.
    'pool2: 2x2 windows with stride 2 fit 11 rows 5 times, floor((11 - 2) / 2) + 1 = 5, and leave 1 out'."""
    notes = []
    for step in steps:
        for axis, window in zip(("rows", "columns"), step.windows):
            if window.whole or window.padding != "valid" or window.length <= 1:
                continue
            out = axis_plan(window.length, window.span, window.stride).out
            left = window.length - ((out - 1) * window.stride + window.span)
            if left > 0:
                notes.append(
                    f"{step.name}: windows of {window.span} with stride {window.stride} fit {window.length} {axis} "
                    f"{out} times, floor(({window.length} - {window.span}) / {window.stride}) + 1 = {out}, "
                    f"and leave the last {left} out"
                )
    return notes


def seen_span(steps: list[FieldStep], step: FieldStep, index: int, axis: int = 0) -> tuple[int, int, bool]:
    """(first, last, clipped): the input pixels unit `index` of `step` really sees along `axis` (0 rows, 1 columns),
    and whether that is less than its field `(size, jump, start)` says. The field counts the padding too: where a
    window of this or an earlier layer reaches past the edge of its input ('same' padding, or an image edge), it
    saw zeros, not pixels, so the span is worked out through the real units of every layer below.
    """
    first, last = _real_span(steps, steps.index(step), index, axis)
    return first, last, (first, last) != (step.rows, step.cols)[axis].span(index)


def _real_span(steps: list[FieldStep], position: int, index: int, axis: int) -> tuple[int, int]:
    if position == 0:
        return index, index
    window = steps[position].windows[axis]
    if window.kernel == 1 and window.stride == 1 and not window.whole:
        return _real_span(steps, position - 1, index, axis)
    origin = index * window.stride - window.before
    taps = [origin + t * window.dilation for t in range(window.kernel)]
    inside = [tap for tap in taps if 0 <= tap < window.length]
    if not inside:
        raise FieldError(f"{steps[position].name}: unit {index} sees only padding")
    return _real_span(steps, position - 1, inside[0], axis)[0], _real_span(steps, position - 1, inside[-1], axis)[1]
