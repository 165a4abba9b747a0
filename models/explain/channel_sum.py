"""One filter of a deeper convolution layer taken apart: a partial map per input channel, whose sum plus the bias is
the layer's pre-activation output (TensorFlow).

conv1 reads the one-channel image; every later Conv2D reads all the channels of the layer before, so each of its
filters is a 3-D kernel (kh, kw, C_in): one kh x kw slice per input channel. Partial map c is input channel c
cross-correlated with slice c, with the layer's own stride, padding and dilation; `tf.nn.depthwise_conv2d` computes
all C_in of them in one op. Their sum over the channels plus the bias is what the layer computes before its
activation (ReLU in the course CNN).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from models.explain.inspection import InspectionError, model_input
from models.ops.geometry import axis_plan

CONV_KINDS = ("Conv2D",)


@dataclass(frozen=True, eq=False)
class ConvPartials:
    """Filter `filter` of conv layer `layer` on one image, channel by channel.

    `inputs` (H_in, W_in, C_in) are the maps the filter reads (the layer's input: pool1's output for conv2),
    `kernel` (kh, kw, C_in) its weights, `partials` (C_in, H_out, W_out) each channel convolved with its own slice,
    `output` (H_out, W_out) the layer's output after its activation. For a grouped convolution `channels` names the
    layer-input channels this filter reads (all of them otherwise), in the order of `inputs`' last axis.
    """

    layer: str
    filter: int
    inputs: np.ndarray
    kernel: np.ndarray
    partials: np.ndarray
    bias: float
    output: np.ndarray
    channels: np.ndarray
    strides: tuple[int, int]
    padding: str
    dilation: tuple[int, int]
    activation: str

    @property
    def pre_activation(self) -> np.ndarray:
        """(H_out, W_out): the sum of the partial maps plus the bias (summed in float64, returned as float32)."""
        return (self.partials.sum(axis=0, dtype=np.float64) + self.bias).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PixelSum:
    """Output pixel (`row`, `col`) of a `ConvPartials`: each input channel's contribution and its kh x kw terms.

    `window` (C_in, kh, kw) holds the input values under the kernel (0 where the window lies in the padding),
    `weights` (C_in, kh, kw) the kernel's slices, `products` = window * weights: the C_in * kh * kw
    multiply-accumulates. `contributions` (C_in,) sums them per channel (= the partial maps at this pixel); `total`
    = their sum + `bias` (the pre-activation), `output` the value after the activation. `box` (top, left, bottom,
    right) is the window's extent on the input maps (outside them where it lies in the padding).
    """

    row: int
    col: int
    box: tuple[int, int, int, int]
    window: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    contributions: np.ndarray
    bias: float
    total: float
    output: float

    @property
    def macs(self) -> int:
        return int(self.products.size)

    def largest_terms(self, count: int = 8) -> list[tuple[int, int, int, float, float, float]]:
        """The `count` products largest in size: (channel, kernel row, kernel column, input, weight, product)."""
        order = np.argsort(-np.abs(self.products), axis=None, kind="stable")[:count]
        return [
            (
                int(c),
                int(i),
                int(j),
                float(self.window[c, i, j]),
                float(self.weights[c, i, j]),
                float(self.products[c, i, j]),
            )
            for c, i, j in zip(*np.unravel_index(order, self.products.shape))
        ]


def channel_sum_layers(model: keras.Model) -> list[str]:
    """The Conv2D layers whose filters each read more than one input channel (conv2 in the course CNN), in order;
    InspectionError, saying what the view needs, when the model has none."""
    names = [
        layer.name
        for layer in model.layers
        if type(layer).__name__ in CONV_KINDS and layer.data_format == "channels_last" and layer.kernel.shape[2] > 1
    ]
    if names:
        return names
    convs = [layer.name for layer in model.layers if type(layer).__name__ in CONV_KINDS]
    if not convs:
        seen = "it has no convolution layer"
    elif len(convs) == 1:
        seen = f"its only convolution layer, {convs[0]}, reads the one-channel image"
    else:
        seen = f"its convolution layers ({', '.join(convs)}) each read one channel"
    raise InspectionError(
        f"Model {model.name!r} has no convolution layer that sums over several channels: {seen}. The channel sum "
        "needs a second convolution layer (a design with 2 or more conv blocks on the Architecture page)."
    )


def _checked_layer(model: keras.Model, layer: str) -> keras.layers.Conv2D:
    candidates = channel_sum_layers(model)
    if layer not in candidates:
        raise InspectionError(
            f"Layer {layer!r} is not a convolution layer over several channels in model {model.name!r}; "
            f"choose one of: {', '.join(candidates)}."
        )
    return model.get_layer(layer)


def conv_partials(model: keras.Model, image: np.ndarray, layer: str = "conv2", filter: int = 0) -> ConvPartials:
    """Filter `filter` of conv layer `layer` on one uint8 (28, 28) image, as a partial map per input channel.

    `partials.sum(axis=0) + bias` equals the layer's pre-activation output (to float32 rounding); InspectionError
    names the problem when the model has no such layer or the filter does not exist.
    """
    conv = _checked_layer(model, layer)
    kernel, bias = conv.kernel.numpy(), (conv.bias.numpy() if conv.use_bias else None)
    filters = kernel.shape[3]
    if not 0 <= filter < filters:
        raise InspectionError(f"Layer {layer!r} has {filters} filters (0-{filters - 1}); there is no filter {filter}.")
    pixels = model_input(image)
    inputs, output = keras.Model(model.inputs[0], [conv.input, conv.output])(pixels, training=False)
    per_group = kernel.shape[2]
    group = filter // (filters // conv.groups)
    channels = np.arange(group * per_group, (group + 1) * per_group)
    read = tf.gather(inputs, channels, axis=-1)
    strides, dilation = tuple(int(s) for s in conv.strides), tuple(int(d) for d in conv.dilation_rate)
    partials = tf.nn.depthwise_conv2d(
        read,
        kernel[:, :, :, filter : filter + 1],
        strides=(1, *strides, 1),
        padding=conv.padding.upper(),
        dilations=dilation,
    )
    return ConvPartials(
        layer=layer,
        filter=int(filter),
        inputs=np.asarray(read[0]),
        kernel=np.ascontiguousarray(kernel[:, :, :, filter]),
        partials=np.ascontiguousarray(np.moveaxis(np.asarray(partials[0]), -1, 0)),
        bias=float(bias[filter]) if bias is not None else 0.0,
        output=np.asarray(output[0, :, :, filter]),
        channels=channels,
        strides=(strides[0], strides[1]),
        padding=conv.padding,
        dilation=(dilation[0], dilation[1]),
        activation=activation_name(conv.activation),
    )


def activation_name(activation: object) -> str:
    """How the page names a layer's activation: "ReLU" for relu, otherwise Keras's own name ("linear", "tanh")."""
    name = keras.activations.serialize(activation) if callable(activation) else activation
    name = name if isinstance(name, str) else str(getattr(activation, "__name__", activation))
    return {"relu": "ReLU"}.get(name, name)


def pixel_sum(parts: ConvPartials, row: int, col: int) -> PixelSum:
    """How output pixel (`row`, `col`) of `parts` is computed: the input window of every channel under its slice."""
    out_h, out_w = parts.partials.shape[1:]
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise InspectionError(f"Pixel ({row}, {col}) is outside the {out_h} x {out_w} output of {parts.layer}.")
    height, width, _ = parts.inputs.shape
    k_h, k_w, _ = parts.kernel.shape
    (s_h, s_w), (d_h, d_w) = parts.strides, parts.dilation
    top = row * s_h - axis_plan(height, (k_h - 1) * d_h + 1, s_h, parts.padding).before
    left = col * s_w - axis_plan(width, (k_w - 1) * d_w + 1, s_w, parts.padding).before
    rows = top + d_h * np.arange(k_h)[:, None]
    cols = left + d_w * np.arange(k_w)[None, :]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    under = parts.inputs[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]  # (kh, kw, C_in)
    window = np.moveaxis(np.where(inside[:, :, None], under, 0.0), -1, 0).astype(np.float64)
    weights = np.moveaxis(parts.kernel, -1, 0).astype(np.float64)
    products = window * weights
    contributions = products.sum(axis=(1, 2))
    return PixelSum(
        row=int(row),
        col=int(col),
        box=(int(top), int(left), int(rows[-1, 0]), int(cols[0, -1])),
        window=window,
        weights=weights,
        products=products,
        contributions=contributions,
        bias=parts.bias,
        total=float(contributions.sum() + parts.bias),
        output=float(parts.output[row, col]),
    )
