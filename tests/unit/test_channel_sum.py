"""models.explain.channel_sum against Keras: the partial maps of one filter, summed with the bias, are the layer's
pre-activation; each partial map is that layer with every other channel's slice zeroed; each pixel's terms add up."""

import keras
import numpy as np
import pytest

from components.charts.channel_sum import clicked_pixel, sum_figure
from models.design.config import CNNConfig
from models.explain.channel_sum import InspectionError, channel_sum_layers, conv_partials, pixel_sum
from models.networks.zoo import build_cnn, course_dnn, load_model_file

TEST_IMAGES = (0, 23, 28, 4242)


@pytest.fixture(scope="module")
def shipped():
    return load_model_file()


@pytest.fixture(scope="module")
def zoo_model():
    """A freshly built (untrained) builder design with other channel counts: 3 conv blocks of 8 5x5 filters,
    'same' padding, so conv2 and conv3 both sum over 8 channels."""
    keras.utils.set_random_seed(3)
    return build_cnn(CNNConfig(conv_blocks=3, filters=8, kernel_size=5, padding="same"))


@pytest.fixture(scope="module")
def odd_model():
    """Stride 2 with 'same' padding, a grouped convolution, dilation and other activations: windows that hang over
    the padding, filters that read half the channels."""
    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(6, 3, activation="relu", name="first"),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", groups=2, activation="tanh", name="strided"),
            keras.layers.Conv2D(5, 3, dilation_rate=2, padding="same", name="dilated"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ],
        name="odd",
    )


def keras_layer_input(model, layer, image):
    """The maps `layer` reads for this uint8 image, from Keras."""
    return np.asarray(keras.Model(model.inputs[0], model.get_layer(layer).input)(image[None, ..., None] / 255.0))


def keras_pre_activation(model, layer, image, kernel=None, bias=None):
    """The layer's output before its activation, from a copy of the Keras layer with activation 'linear' (and,
    if given, other weights)."""
    conv = model.get_layer(layer)
    config = dict(conv.get_config(), activation="linear", name=f"{layer}_linear")
    linear = keras.layers.Conv2D.from_config(config)
    inputs = keras_layer_input(model, layer, image)
    linear.build(inputs.shape)
    weights = conv.get_weights()
    linear.set_weights([weights[0] if kernel is None else kernel, weights[1] if bias is None else bias])
    return np.asarray(linear(inputs))[0]


def keras_output(model, layer, image):
    return np.asarray(keras.Model(model.inputs[0], model.get_layer(layer).output)(image[None, ..., None] / 255.0))[0]


def check_contract(model, layer, image, filters):
    pre = keras_pre_activation(model, layer, image)
    out = keras_output(model, layer, image)
    for k in filters:
        parts = conv_partials(model, image, layer=layer, filter=k)
        assert parts.partials.shape == (parts.kernel.shape[2], *pre.shape[:2])
        summed = parts.partials.sum(axis=0, dtype=np.float64) + parts.bias
        np.testing.assert_allclose(summed, pre[..., k], rtol=0, atol=1e-5)
        np.testing.assert_allclose(parts.pre_activation, pre[..., k], rtol=0, atol=1e-5)
        np.testing.assert_allclose(parts.output, out[..., k], rtol=0, atol=1e-6)
        assert parts.bias == pytest.approx(float(model.get_layer(layer).get_weights()[1][k]))


@pytest.mark.parametrize("index", TEST_IMAGES)
def test_the_shipped_conv2_partials_sum_to_its_keras_pre_activation(shipped, fashion, index):
    assert channel_sum_layers(shipped) == ["conv2"]
    image = fashion[1][0][index]
    check_contract(shipped, "conv2", image, (0, 17, 40, 63))
    parts = conv_partials(shipped, image, filter=17)
    assert parts.partials.shape == (64, 11, 11) and parts.inputs.shape == (13, 13, 64)
    np.testing.assert_allclose(parts.inputs, keras_layer_input(shipped, "conv2", image)[0], atol=1e-7)  # pool1
    assert parts.activation == "ReLU"
    assert (parts.pre_activation < 0).any()  # ReLU has something to cut on these images


def test_each_partial_map_is_the_layer_with_only_that_channels_slice(shipped, fashion):
    image = fashion[1][0][23]
    kernel, bias = shipped.get_layer("conv2").get_weights()
    parts = conv_partials(shipped, image, filter=9)
    for channel in (0, 31, 63):
        alone = np.zeros_like(kernel)
        alone[:, :, channel, :] = kernel[:, :, channel, :]
        single = keras_pre_activation(shipped, "conv2", image, kernel=alone, bias=np.zeros_like(bias))
        np.testing.assert_allclose(parts.partials[channel], single[..., 9], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(parts.kernel, kernel[:, :, :, 9])


def test_a_freshly_built_zoo_model_with_other_channel_counts(zoo_model, fashion):
    assert channel_sum_layers(zoo_model) == ["conv2", "conv3"]
    for layer in ("conv2", "conv3"):
        for index in TEST_IMAGES[:2]:
            check_contract(zoo_model, layer, fashion[1][0][index], range(8))
    assert conv_partials(zoo_model, fashion[1][0][0], "conv3", 7).partials.shape == (8, 7, 7)


def test_strided_grouped_and_dilated_layers(odd_model, fashion):
    assert channel_sum_layers(odd_model) == ["strided", "dilated"]
    image = fashion[1][0][28]
    check_contract(odd_model, "strided", image, range(4))
    check_contract(odd_model, "dilated", image, range(5))
    np.testing.assert_array_equal(conv_partials(odd_model, image, "strided", 1).channels, [0, 1, 2])
    np.testing.assert_array_equal(conv_partials(odd_model, image, "strided", 3).channels, [3, 4, 5])


@pytest.mark.parametrize(
    ("model_name", "layer", "k", "pixels"),
    [
        ("shipped", "conv2", 5, [(0, 0), (5, 5), (10, 10), (3, 8)]),
        ("odd", "strided", 2, [(0, 0), (6, 6), (0, 6), (3, 2)]),  # 13x13 input, stride 2 'same': windows in padding
        ("odd", "dilated", 4, [(0, 0), (6, 6), (1, 5)]),
    ],
)
def test_a_pixels_contributions_and_terms_add_up_to_the_keras_pre_activation(
    shipped, odd_model, fashion, model_name, layer, k, pixels
):
    model = shipped if model_name == "shipped" else odd_model
    image = fashion[1][0][0]
    pre = keras_pre_activation(model, layer, image)[..., k]
    out = keras_output(model, layer, image)[..., k]
    kernel, bias = model.get_layer(layer).get_weights()
    parts = conv_partials(model, image, layer=layer, filter=k)
    channels = parts.channels
    for row, col in pixels:
        pixel = pixel_sum(parts, row, col)
        assert pixel.total == pytest.approx(float(pre[row, col]), abs=1e-5)
        assert pixel.products.sum() + bias[k] == pytest.approx(float(pre[row, col]), abs=1e-5)
        assert pixel.output == pytest.approx(float(out[row, col]), abs=1e-6)
        assert pixel.macs == kernel.shape[0] * kernel.shape[1] * channels.size
        for channel in (0, channels.size - 1):  # a channel's contribution: the layer with only its slice, no bias
            alone = np.zeros_like(kernel)
            alone[:, :, channel, k] = kernel[:, :, channel, k]
            single = keras_pre_activation(model, layer, image, kernel=alone, bias=np.zeros_like(bias))
            assert pixel.contributions[channel] == pytest.approx(float(single[row, col, k]), abs=1e-6)
        largest = pixel.largest_terms(3)
        assert [abs(t[5]) for t in largest] == sorted((abs(t[5]) for t in largest), reverse=True)
        assert abs(largest[0][5]) == pytest.approx(np.abs(pixel.products).max())
        c, i, j, value, weight, product = largest[0]
        assert weight == pytest.approx(float(kernel[i, j, c, k])) and product == pytest.approx(value * weight)


def test_a_valid_window_is_the_keras_input_under_the_kernel(shipped, fashion):
    image = fashion[1][0][23]
    inputs = keras_layer_input(shipped, "conv2", image)[0]
    pixel = pixel_sum(conv_partials(shipped, image, filter=0), 4, 7)
    np.testing.assert_allclose(pixel.window, np.moveaxis(inputs[4:7, 7:10, :], -1, 0), atol=1e-7)
    assert pixel.box == (4, 7, 6, 9)


def test_models_without_a_summing_conv_layer_and_bad_requests_get_clear_messages(shipped, fashion):
    image = fashion[1][0][0]
    with pytest.raises(InspectionError, match="no convolution layer that sums over several channels: it has no "):
        channel_sum_layers(course_dnn())
    one_conv = build_cnn(CNNConfig(conv_blocks=1))
    with pytest.raises(InspectionError, match="its only convolution layer, conv1, reads the one-channel image"):
        conv_partials(one_conv, image, layer="conv1")
    with pytest.raises(InspectionError, match="Layer 'conv1' is not a convolution layer over several channels"):
        conv_partials(shipped, image, layer="conv1")
    with pytest.raises(InspectionError, match=r"has 64 filters \(0-63\); there is no filter 64"):
        conv_partials(shipped, image, filter=64)
    with pytest.raises(InspectionError, match=r"Pixel \(11, 0\) is outside the 11 x 11 output of conv2"):
        pixel_sum(conv_partials(shipped, image), 11, 0)


def test_a_click_on_the_sum_selects_the_pixel_under_it(shipped, fashion):
    parts = conv_partials(shipped, fashion[1][0][0], filter=3)
    figure = sum_figure(parts.pre_activation, parts.output, (2, 9), layer="conv2", activation="ReLU", channels=64)
    markers = [trace for trace in figure.data if trace.type == "scatter"]
    assert len(markers) == 2
    for trace in markers:
        for point in (0, 13, 120):
            row, col = clicked_pixel({"x": trace.x[point], "y": trace.y[point], "point_index": point})
            assert (row, col) == divmod(point, 11)
            assert trace.customdata[point] == pytest.approx(
                float((parts.pre_activation if trace.xaxis == "x" else parts.output)[row, col])
            )
    box = figure.layout.shapes[0]
    assert (box.x0 + box.x1) / 2 == 9 and (box.y0 + box.y1) / 2 == 2
