"""Corrupt and hostile .keras files: refused by models.networks.zoo.load_model_file with a short ModelFileError."""

from __future__ import annotations

import copy
import json
import struct
import zipfile
from pathlib import Path

import keras
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.design.card import DENSE_MODEL, MAX_ARCHIVE_BYTES, SHIPPED_MODEL, ModelFileError, check_model_archive
from models.networks.zoo import load_model_file

SHIPPED_BYTES = SHIPPED_MODEL.read_bytes()
with zipfile.ZipFile(SHIPPED_MODEL) as _shipped:
    MEMBERS = {name: _shipped.read(name) for name in _shipped.namelist()}
CONFIG = json.loads(MEMBERS["config.json"])


def archive(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def with_config(path: Path, config: dict | str) -> Path:
    text = config if isinstance(config, str) else json.dumps(config)
    return archive(path, {**MEMBERS, "config.json": text})


def with_first_layer(layer: dict) -> dict:
    config = copy.deepcopy(CONFIG)
    config["config"]["layers"][1] = layer
    return config


def with_activation(activation: dict) -> dict:
    config = copy.deepcopy(CONFIG)
    config["config"]["layers"][1]["config"]["activation"] = activation
    return config


def claiming_size(path: Path, size: int) -> Path:
    """A small archive whose central directory claims `size` unpacked bytes for its weights (a zip bomb's shape)."""
    data = bytearray(archive(path, MEMBERS).read_bytes())
    entry = data.find(b"PK\x01\x02")
    while entry != -1:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == b"model.weights.h5":
            struct.pack_into("<I", data, entry + 24, size)
        entry = data.find(b"PK\x01\x02", entry + 4)
    path.write_bytes(bytes(data))
    return path


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


MARKER = "cnn_lab_hostile_marker"
HOSTILE = {
    "not a zip": lambda p: written(p, b"MZ\x90\x00 this is an executable, not a model"),
    "empty file": lambda p: written(p, b""),
    "truncated zip": lambda p: written(p, SHIPPED_BYTES[: len(SHIPPED_BYTES) // 2]),
    "damaged weights": lambda p: written(
        p, SHIPPED_BYTES[:5000] + bytes([SHIPPED_BYTES[5000] ^ 0xFF]) + SHIPPED_BYTES[5001:]
    ),
    "no config": lambda p: archive(p, {"metadata.json": MEMBERS["metadata.json"]}),
    "path traversal": lambda p: archive(p, {**MEMBERS, "../../evil.py": "print('hi')"}),
    "zip bomb": lambda p: claiming_size(p, MAX_ARCHIVE_BYTES + 100 * 2**20),
    "huge config": lambda p: with_config(p, json.dumps(CONFIG) + " " * 2_000_000),
    "deeply nested config": lambda p: with_config(p, "[" * 200_000 + "]" * 200_000),
    "config not json": lambda p: with_config(p, "{'module': 'keras',"),
    "os.system layer": lambda p: with_config(
        p,
        with_first_layer(
            {
                "module": "os",
                "class_name": "system",
                "config": {"command": f"touch /tmp/{MARKER}"},
                "registered_name": None,
            }
        ),
    ),
    "builtins eval activation": lambda p: with_config(
        p,
        with_activation(
            {"module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"}
        ),
    ),
    "subprocess model": lambda p: with_config(p, {**CONFIG, "module": "subprocess", "class_name": "Popen"}),
    "module not a string": lambda p: with_config(p, with_first_layer({"module": ["os"], "class_name": "x"})),
}
REASONS = {
    "not a zip": "a .keras file is a zip archive",
    "empty file": "a .keras file is a zip archive",
    "truncated zip": "zip archive",
    "damaged weights": "damaged",
    "no config": "no config.json",
    "path traversal": "unsafe paths",
    "zip bomb": "unpacks to 612 MB, more than the 512 MB limit",
    "huge config": "config.json is 2,00",
    "deeply nested config": "not valid JSON",
    "config not json": "not valid JSON",
    "os.system layer": "the Python module 'os'",
    "builtins eval activation": "the Python module 'builtins'",
    "subprocess model": "the Python module 'subprocess'",
    "module not a string": "the Python module",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_model_files_are_refused_with_a_short_clear_message(tmp_path, case):
    path = HOSTILE[case](tmp_path / "model.keras")
    with pytest.raises(ModelFileError) as caught:
        load_model_file(path)
    message = str(caught.value)
    assert message.startswith(f"Model file {path} could not be loaded: "), message
    assert REASONS[case] in message and message.endswith("--output models/fashion_cnn.keras"), message
    assert len(message) < 400, message
    assert not Path("/tmp", MARKER).exists()


def test_a_lambda_layer_is_refused_before_keras_reads_it(tmp_path):
    path = tmp_path / "lambda.keras"
    inputs = keras.Input((28, 28, 1))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(path)
    with pytest.raises(ModelFileError, match="a Lambda layer \\(Python code\\), which safe mode refuses to run"):
        check_model_archive(path)
    with pytest.raises(ModelFileError, match="Lambda layer"):
        load_model_file(path)


def test_a_good_file_still_loads_after_hostile_ones(tmp_path):
    for case in ("truncated zip", "os.system layer", "huge config"):
        with pytest.raises(ModelFileError):
            load_model_file(HOSTILE[case](tmp_path / f"{case}.keras"))
    model = load_model_file(archive(tmp_path / "copy.keras", MEMBERS))
    assert model.count_params() == 243_786
    check_model_archive(SHIPPED_MODEL)


def test_models_saved_by_keras_pass_the_archive_check(tmp_path):
    from models.design.config import COURSE_CNN, CNNConfig
    from models.networks.zoo import build_cnn, course_dnn

    variant = CNNConfig(**{**COURSE_CNN.to_dict(), "pooling": "avg", "dense_units": 0})
    for name, model in (("dnn", course_dnn()), ("variant", build_cnn(variant))):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.save(tmp_path / f"{name}.keras")
        check_model_archive(tmp_path / f"{name}.keras")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, len(SHIPPED_BYTES) - 1), st.integers(1, 255), st.booleans())
def test_randomly_damaged_archives_are_refused_or_load(tmp_path_factory, position, flip, truncate):
    data = (
        SHIPPED_BYTES[:position]
        if truncate
        else (SHIPPED_BYTES[:position] + bytes([SHIPPED_BYTES[position] ^ flip]) + SHIPPED_BYTES[position + 1 :])
    )
    path = tmp_path_factory.mktemp("damaged") / "model.keras"
    path.write_bytes(data)
    try:
        model = load_model_file(path)
    except ModelFileError as error:
        assert "could not be loaded" in str(error) and len(str(error)) < 600
    else:
        assert model.count_params() == 243_786


@pytest.mark.parametrize("case", ["truncated zip", "os.system layer", "zip bomb"])
def test_a_hostile_dense_baseline_is_refused_with_its_own_rebuild_command(tmp_path, case):
    path = HOSTILE[case](tmp_path / DENSE_MODEL.name)
    with pytest.raises(ModelFileError) as caught:
        load_model_file(path)
    assert str(caught.value).endswith("--model dense --epochs 10 --output models/fashion_dnn.keras"), caught.value


def test_the_shipped_dense_baseline_passes_the_archive_check_and_loads_in_safe_mode():
    check_model_archive(DENSE_MODEL)
    assert load_model_file(DENSE_MODEL).count_params() == 101_770
