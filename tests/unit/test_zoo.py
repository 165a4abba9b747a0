import json

import keras
import numpy as np
import pytest

from models.design.card import DENSE_CARD, DENSE_MODEL, DENSE_REBUILD_COMMAND, read_model_card
from models.design.config import COURSE_CNN, CNNConfig, ConfigError, plan
from models.networks.zoo import SHIPPED_MODEL, ModelFileError, build_cnn, course_cnn, course_dnn, load_model_file

COURSE_SHAPES = [(26, 26, 64), (13, 13, 64), (11, 11, 64), (5, 5, 64), (1600,), (128,), (10,)]


def test_course_cnn_is_the_course_model():
    model = course_cnn()
    assert model.count_params() == 243_786
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == COURSE_SHAPES
    assert [layer.count_params() for layer in model.layers] == [640, 0, 36_928, 0, 0, 204_928, 1_290]
    assert model.layers[0].activation.__name__ == "relu"
    assert model.layers[-1].activation.__name__ == "softmax"


def test_course_dnn_is_the_dense_baseline():
    model = course_dnn()
    assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense", "Dense"]
    assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize(
    "config",
    [
        CNNConfig(),
        CNNConfig(conv_blocks=1, filters=16),
        CNNConfig(conv_blocks=3, filters=32, padding="same"),
        CNNConfig(conv_blocks=2, kernel_size=5, pooling="avg"),
        CNNConfig(conv_blocks=2, pooling="none", dense_units=0),
        CNNConfig(conv_blocks=0, dense_units=64, dropout=0.2),
        CNNConfig(conv_blocks=3, kernel_size=3, pool_size=3, padding="same"),
        CNNConfig(conv_blocks=1, kernel_size=7, pool_size=4, dense_units=32, dropout=0.5),
    ],
)
def test_planned_shapes_equal_keras(config):
    model = build_cnn(config)
    stages = plan(config)[1:]
    assert [layer.name for layer in model.layers] == [s.name for s in stages]
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == [s.shape for s in stages]


@pytest.mark.parametrize(
    "config, layer",
    [
        (CNNConfig(conv_blocks=4), "conv4"),
        (CNNConfig(conv_blocks=3, kernel_size=5), "conv3"),
        (CNNConfig(conv_blocks=1, kernel_size=29), "conv1"),
        (CNNConfig(conv_blocks=5, padding="same"), "pool5"),
    ],
)
def test_collapsing_configs_name_the_layer(config, layer):
    with pytest.raises(ConfigError, match=f"^{layer}: "):
        build_cnn(config)


def test_invalid_values_are_refused():
    with pytest.raises(ConfigError, match="dropout"):
        plan(CNNConfig(dropout=1.5))
    with pytest.raises(ConfigError, match="filters"):
        plan(CNNConfig(filters=0))


def test_config_round_trips_through_dict():
    assert CNNConfig.from_dict(COURSE_CNN.to_dict() | {"unknown": 1}) == COURSE_CNN


def test_shipped_model_loads_safely_and_reaches_091(fashion):
    _, (x_test, y_test) = fashion
    model = load_model_file()
    assert model.count_params() == 243_786
    probabilities = model.predict(x_test.astype(np.float32)[..., None] / 255.0, batch_size=1000, verbose=0)
    accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    assert accuracy >= 0.91
    card = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    assert abs(card["test_accuracy"] - accuracy) < 0.002
    assert card["parameters"] == 243_786 and card["command"].startswith("python -m models.networks.train")
    snapshots = np.load(SHIPPED_MODEL.with_suffix(".filters.npz"))["conv1_kernels"]
    assert snapshots.shape == (card["epochs"] + 1, 3, 3, 1, 64)
    assert np.allclose(snapshots[-1], model.get_layer("conv1").kernel.numpy())


def test_missing_model_file_gives_rebuild_command(tmp_path):
    with pytest.raises(ModelFileError, match="python -m models.networks.train"):
        load_model_file(tmp_path / "absent.keras")


@pytest.mark.parametrize("content", [b"", b"not a zip archive", SHIPPED_MODEL.read_bytes()[:20_000]])
def test_corrupt_model_file_gives_rebuild_command(tmp_path, content):
    path = tmp_path / "broken.keras"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="could not be loaded.*python -m models.networks.train"):
        load_model_file(path)


def test_unsafe_lambda_model_is_refused(tmp_path):
    path = tmp_path / "lambda.keras"
    inputs = keras.Input((28, 28, 1))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(path)
    with pytest.raises(ModelFileError, match="could not be loaded"):
        load_model_file(path)


def test_model_card_and_snapshots_read_without_tensorflow(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from models.design.card import read_model_card, read_filter_snapshots; "
        "card = read_model_card(); k = read_filter_snapshots(); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
        "print(card['test_accuracy'], k.shape)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=SHIPPED_MODEL.parents[1]
    ).stdout
    assert out.startswith("0.9")


def test_corrupt_model_card_and_snapshots_give_rebuild_command(tmp_path):
    from models.design.card import read_filter_snapshots, read_model_card

    (tmp_path / "card.json").write_text("{not json")
    (tmp_path / "f.npz").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="python -m models.networks.train"):
        read_model_card(tmp_path / "card.json")
    with pytest.raises(ModelFileError, match="python -m models.networks.train"):
        read_filter_snapshots(tmp_path / "f.npz")


def keras_summary(model: keras.Model) -> str:
    """model.summary() as Keras prints it, collected line by line."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, **_: lines.append(text))
    return "\n".join(lines)


def test_shipped_dense_baseline_loads_safely_with_the_cnns_recipe_and_a_true_card(fashion):
    _, (x_test, y_test) = fashion
    model = load_model_file(DENSE_MODEL)
    baseline = course_dnn()
    assert model.count_params() == baseline.count_params() == 101_770
    assert [(type(a).__name__, a.name) for a in model.layers] == [(type(b).__name__, b.name) for b in baseline.layers]
    probabilities = model.predict(x_test.astype(np.float32)[..., None] / 255.0, batch_size=1000, verbose=0)
    accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    card, cnn_card = read_model_card(DENSE_CARD), read_model_card()
    assert abs(card["test_accuracy"] - accuracy) < 0.002
    assert card["model"] == "course_dnn" and card["parameters"] == 101_770
    assert card["train_config"] == cnn_card["train_config"] and card["train_images"] == cnn_card["train_images"]
    assert card["command"] == DENSE_REBUILD_COMMAND
    assert cnn_card["test_accuracy"] - card["test_accuracy"] > 0.02  # the gap the Architecture page shows


@pytest.mark.parametrize("path", [SHIPPED_MODEL, DENSE_MODEL], ids=["cnn", "dense"])
def test_model_cards_keep_the_true_model_summary(path):
    assert read_model_card(path.with_suffix(".json"))["summary"] == keras_summary(load_model_file(path))


def test_a_missing_dense_model_names_its_own_rebuild_command(tmp_path):
    with pytest.raises(ModelFileError, match="--model dense"):
        load_model_file(tmp_path / "fashion_dnn.keras")
    with pytest.raises(ModelFileError, match="--model dense"):
        read_model_card(tmp_path / "fashion_dnn.json")
