"""Layer tables against Keras (count_params, output shapes, weights) and TensorFlow's op profiler (MACs)."""

import itertools
import re

import keras
import pytest
import tensorflow as tf
from keras import layers

from models.design.analysis import (
    DENSE_BASELINE,
    UnsupportedLayerError,
    fitting_stages,
    format_bytes,
    format_count,
    largest_share,
    layer_table,
    layer_table_for_config,
    parameter_sharing,
    sum_text,
    table_records,
    totals,
)
from models.design.config import COURSE_CNN, CNNConfig, ConfigError, plan, shape_text
from models.design.keras_code import keras_code
from models.networks.zoo import build_cnn, course_cnn, course_dnn


def _variants() -> list[CNNConfig]:
    """0-4 blocks x kernel 3/5/7 x valid/same x max/avg/none, with filters, pool size, dense units and dropout
    cycling through other values; the ones that collapse are tested separately."""
    configs = []
    grid = itertools.product(range(5), (3, 5, 7), ("valid", "same"), ("max", "avg", "none"))
    for index, (blocks, kernel, padding, pooling) in enumerate(grid):
        configs.append(
            CNNConfig(
                conv_blocks=blocks,
                kernel_size=kernel,
                padding=padding,
                pooling=pooling,
                filters=(8, 16, 32, 64)[index % 4],
                pool_size=(2, 2, 3)[index % 3],
                dense_units=(0, 64, 128)[index % 3],
                dropout=(0.0, 0.0, 0.25, 0.5)[index % 4],
            )
        )
    return configs


def _fits(config: CNNConfig) -> bool:
    try:
        plan(config)
    except ConfigError:
        return False
    return True


VARIANTS = _variants()
VALID = [c for c in VARIANTS if _fits(c)]
COLLAPSING = [c for c in VARIANTS if not _fits(c)]


def test_the_variants_cover_the_builder():
    def seen(field):
        return {getattr(c, field) for c in VALID}

    assert seen("conv_blocks") == {0, 1, 2, 3, 4} and seen("kernel_size") == {3, 5, 7}
    assert seen("padding") == {"valid", "same"} and seen("pooling") == {"max", "avg", "none"}
    assert seen("dense_units") == {0, 64, 128} and seen("pool_size") == {2, 3}
    assert seen("dropout") == {0.0, 0.25, 0.5} and len(COLLAPSING) >= 10


def test_course_cnn_rows_are_the_course_arithmetic():
    rows = layer_table_for_config(COURSE_CNN)
    assert [r.name for r in rows] == ["input", "conv1", "pool1", "conv2", "pool2", "flatten", "dense", "output"]
    assert [shape_text(r.output_shape) for r in rows] == [
        "28x28x1",
        "26x26x64",
        "13x13x64",
        "11x11x64",
        "5x5x64",
        "1600",
        "128",
        "10",
    ]
    by_name = {r.name: r for r in rows}
    assert by_name["conv1"].param_formula == "(3*3*1 + 1) * 64 = 640"
    assert by_name["conv2"].param_formula == "(3*3*64 + 1) * 64 = 36,928"
    assert by_name["dense"].param_formula == "1600*128 + 128 = 204,928"
    assert by_name["output"].param_formula == "128*10 + 10 = 1,290"
    assert by_name["conv1"].mac_formula == "26*26 * 3*3*1 * 64 = 389,376"
    assert by_name["conv2"].mac_formula == "11*11 * 3*3*64 * 64 = 4,460,544"
    assert by_name["conv1"].shape_rule.startswith("28 - 3 + 1 = 26: a 3x3 filter trims 1 pixel each side")
    assert by_name["pool2"].shape_rule.startswith("floor(11 / 2) = 5: pooling halves")
    assert by_name["flatten"].shape_rule.startswith("5*5*64 = 1,600")
    total = totals(rows)
    assert total.params == 243_786
    assert total.macs == 5_056_000  # ~5.06 M multiply-accumulates per image
    assert total.weight_bytes == 4 * 243_786
    assert total.activation_values == 784 + 43_264 + 10_816 + 7_744 + 1_600 + 1_600 + 128 + 10
    assert total.activation_bytes == 4 * total.activation_values
    assert sum_text(rows, "params") == "640 + 36,928 + 204,928 + 1,290 = 243,786"
    assert sum_text(rows, "macs") == "389,376 + 4,460,544 + 204,800 + 1,280 = 5,056,000"
    assert largest_share(rows, "params") == ("dense", pytest.approx(204_928 / 243_786))
    assert largest_share(rows, "macs") == ("conv2", pytest.approx(4_460_544 / 5_056_000))
    assert layer_table(course_cnn()) == rows


@pytest.mark.parametrize("config", VALID, ids=lambda c: "-".join(str(v) for v in c.to_dict().values()))
def test_rows_equal_what_keras_builds(config):
    model = build_cnn(config)
    rows = layer_table_for_config(config)
    assert rows[0].output_shape == tuple(model.layers[0].input.shape[1:]) == (28, 28, 1)
    assert [(r.name, r.kind) for r in rows[1:]] == [(layer.name, type(layer).__name__) for layer in model.layers]
    assert [r.output_shape for r in rows[1:]] == [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert [r.params for r in rows[1:]] == [layer.count_params() for layer in model.layers]
    assert totals(rows).params == model.count_params() == sum(w.numpy().size for w in model.trainable_weights)
    assert totals(rows).weight_bytes == sum(w.numpy().nbytes for w in model.weights)
    for row, layer in zip(rows[1:], model.layers):
        kernel_size = layer.kernel.numpy().size if layer.weights else 0
        positions = row.output_shape[0] * row.output_shape[1] if row.kind == "Conv2D" else 1
        assert row.macs == positions * kernel_size
        assert row.param_formula.endswith(f"= {row.params:,}") or row.params == 0
        assert row.mac_formula.endswith(f"= {row.macs:,}") or row.macs == 0
    assert layer_table(model) == rows


def _profiled_float_ops(model: keras.Model) -> dict[str, int]:
    """TensorFlow's float-op count of each layer's convolution or MatMul for one image."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    graph = tf.function(model).get_concrete_function(tf.TensorSpec((1, 28, 28, 1), tf.float32)).graph
    options = (
        option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
        .with_empty_output()
        .build()
    )
    ops = {}
    for node in model_analyzer.profile(graph=graph, options=options).children:
        match = re.search(r"/([a-z]+\d*)(?:_\d+)?/(?:convolution|MatMul)$", node.name)
        if match:
            ops[match.group(1)] = node.float_ops
    return ops


@pytest.mark.parametrize(
    "config",
    [
        COURSE_CNN,
        CNNConfig(conv_blocks=3, kernel_size=5, padding="same", filters=16),
        CNNConfig(conv_blocks=1, kernel_size=7, pooling="avg", pool_size=3, dense_units=64),
        DENSE_BASELINE,
    ],
)
def test_macs_are_half_of_tensorflows_multiply_and_add_count(config):
    weighted = {r.name: r.macs for r in layer_table_for_config(config) if r.macs}
    assert _profiled_float_ops(build_cnn(config)) == {name: 2 * macs for name, macs in weighted.items()}


@pytest.mark.parametrize("config", COLLAPSING, ids=lambda c: "-".join(str(v) for v in c.to_dict().values()))
def test_collapsing_configs_name_the_layer(config):
    with pytest.raises(ConfigError, match=r"^(conv|pool)\d: ") as error:
        layer_table_for_config(config)
    with pytest.raises(ConfigError, match=re.escape(str(error.value))):
        build_cnn(config)


def test_what_fits_before_a_collapse():
    config = CNNConfig(conv_blocks=4)
    with pytest.raises(ConfigError, match="^conv4: a 3x3 kernel does not fit in the 1x1 input"):
        layer_table_for_config(config)
    assert [shape_text(s.shape) for s in fitting_stages(config)] == [
        "28x28x1",
        "26x26x64",
        "13x13x64",
        "11x11x64",
        "5x5x64",
        "3x3x64",
        "1x1x64",
    ]
    assert [shape_text(s.shape) for s in fitting_stages(CNNConfig(conv_blocks=1, kernel_size=29))] == ["28x28x1"]


def test_dense_baseline_is_the_course_dnn():
    model = course_dnn()
    rows = layer_table_for_config(DENSE_BASELINE)
    assert layer_table(model) == rows
    assert [r.name for r in rows] == ["input", "flatten", "dense", "output"]
    assert rows[1].shape_rule == "28*28*1 = 784 values in one line"
    assert totals(rows).params == model.count_params() == 101_770
    assert totals(rows).macs == 784 * 128 + 128 * 10


def test_layer_table_reads_layers_without_bias():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(8, 5, use_bias=False, name="conv1"),
            layers.AveragePooling2D(3, name="pool1"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, use_bias=False, activation="softmax", name="output"),
        ]
    )
    rows = layer_table(model)
    assert [r.params for r in rows[1:]] == [layer.count_params() for layer in model.layers]
    assert rows[1].param_formula == "5*5*1 * 8 = 200"
    assert rows[2].shape_rule.startswith("floor(24 / 3) = 8: pooling divides by 3")
    assert rows[4].param_formula == "512*10 = 5,120"


@pytest.mark.parametrize(
    "layer, message",
    [
        (layers.Conv2D(8, 3, strides=2, name="strided"), r"^strided: strides \(2, 2\)"),
        (layers.Conv2D(8, (3, 5), name="wide"), r"^wide: a \(3, 5\) kernel"),
        (layers.MaxPooling2D(2, strides=1, name="overlap"), r"^overlap: strides \(1, 1\)"),
        (layers.BatchNormalization(name="norm"), r"^norm: BatchNormalization layers are not covered"),
    ],
)
def test_unsupported_layers_are_named(layer, message):
    model = keras.Sequential([keras.Input((28, 28, 1)), layer])
    with pytest.raises(UnsupportedLayerError, match=message):
        layer_table(model)


def test_table_records_show_times_signs_units_and_a_total():
    records = table_records(layer_table_for_config(COURSE_CNN))
    assert records[1] == {
        "Layer": "conv1",
        "Output": "26x26x64",
        "Shape rule": "28 - 3 + 1 = 26: a 3x3 filter trims 1 pixel each side",
        "Parameters": "(3×3×1 + 1) × 64 = 640",
        "MACs per image": "26×26 × 3×3×1 × 64 = 389,376",
        "Weights": "2.6 kB",
        "Activations": "173.1 kB",
    }
    assert records[-1]["Layer"] == "total" and records[-1]["Parameters"].endswith("= 243,786")
    assert records[-1]["Weights"] == "975.1 kB" and records[-1]["Activations"] == "263.8 kB"
    assert [format_bytes(n) for n in (40, 975_144, 8_441_088, 2 * 10**9)] == ["40 B", "975.1 kB", "8.4 MB", "2.0 GB"]
    assert [format_count(n) for n in (640, 5_056_000, 999_999_999, 3_164_802_304)] == [
        "640",
        "5,056,000",
        "999,999,999",
        "3.16 billion",
    ]


def test_parameter_sharing_against_a_keras_dense_layer_of_the_same_output():
    sharing = parameter_sharing(COURSE_CNN)
    dense = keras.Sequential([keras.Input((28 * 28,)), layers.Dense(26 * 26 * 64)])  # built, never trained
    conv1 = course_cnn().get_layer("conv1")
    assert sharing.dense_params == dense.count_params() == 33_962_240
    assert sharing.conv_params == conv1.count_params() == 640
    assert (sharing.input_shape, sharing.output_shape) == ((28, 28, 1), tuple(conv1.output.shape[1:]))
    assert sharing.dense_formula.endswith("= 784 * 43,264 + 43,264 = 33,962,240")
    assert round(sharing.ratio) == 53_066
    with pytest.raises(ConfigError, match="no conv layer"):
        parameter_sharing(DENSE_BASELINE)


@pytest.mark.parametrize("config", [COURSE_CNN, *VALID[::9]], ids=str)
def test_generated_keras_code_builds_what_build_cnn_builds(config):
    code = keras_code(config)
    assert "keras.Input(shape=(28, 28, 1))," in code
    namespace: dict = {}
    exec(code, namespace)  # the text the page shows, run as a learner would paste it
    model, expected = namespace["model"], build_cnn(config)
    assert model.count_params() == expected.count_params()
    assert [(type(a).__name__, a.name, tuple(a.output.shape)) for a in model.layers] == [
        (type(b).__name__, b.name, tuple(b.output.shape)) for b in expected.layers
    ]
