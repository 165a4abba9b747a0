"""Hostile uploads (issue 25): a small .keras file whose config asks for a huge or a disallowed layer is refused from
its config.json alone, naming the layer and what was too big or not allowed, before Keras builds anything.

Each hostile file is the shipped model's archive with its config.json edited here (no large files in the repo).
The upload path runs in a subprocess with a 2.5 GB address-space limit, so a regression fails instead of
exhausting the machine.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from components.framework.query_state import BUILDER_CHOICES
from models.design.analysis import layer_table_for_config, totals
from models.design.card import DENSE_MODEL, SHIPPED_MODEL
from models.design.config import CNNConfig, ConfigError
from models.training.job_cost import DEFAULT_MAX_JOB_MINUTES, core_seconds
from models.training.recipes import RunSpec
from models.training.runs import RunStore
from models.uploaded.config_check import MAX_ACTIVATIONS, MAX_MACS, MAX_PARAMETERS, ConfigRefused, check_upload_config
from models.uploaded.store import (
    CPU_SECONDS_ENV,
    MEMORY_MB_ENV,
    WALL_SECONDS_ENV,
    UploadError,
    check_slot,
    store_upload,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = json.loads(zipfile.ZipFile(SHIPPED_MODEL).read("config.json"))
MEMORY_CAP = 2500 * 2**20  # the test's own subprocess: a layer built at 1.6 G parameters would need 6.4 GB


def rewrite(edit: Callable[[dict], None], source: Path = SHIPPED_MODEL) -> bytes:
    """The archive at `source` with its config.json changed by `edit` (weights untouched)."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as edited:
        for info in archive.infolist():
            data = archive.read(info.filename)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            edited.writestr(info.filename, data)
    return out.getvalue()


def layers(config: dict) -> list[dict]:
    return config["config"]["layers"]


def layer(config: dict, name: str) -> dict:
    return next(entry for entry in layers(config) if entry["config"]["name"] == name)


def dense_units(config: dict) -> None:
    layer(config, "dense")["config"]["units"] = 1_000_000


def conv_filters(config: dict) -> None:
    layer(config, "conv1")["config"]["filters"] = 200_000


def upsampling(config: dict) -> None:
    layers(config).insert(
        1,
        {
            "module": "keras.layers",
            "class_name": "UpSampling2D",
            "config": {"name": "grow", "size": [100, 100], "data_format": "channels_last"},
            "registered_name": None,
        },
    )


def transposed_conv(config: dict) -> None:
    layers(config).insert(
        1,
        {
            "module": "keras.layers",
            "class_name": "Conv2DTranspose",
            "config": {"name": "grow", "filters": 1, "kernel_size": [3, 3], "strides": [100, 100]},
            "registered_name": None,
        },
    )


def huge_input(config: dict) -> None:
    """Only allowed layers, 'same' padding: the maps are huge because the input claims to be."""
    layers(config)[0]["config"]["batch_shape"] = config["config"]["build_input_shape"] = [None, 1400, 1400, 1]
    config.pop("build_config", None)
    for entry in layers(config)[1:]:
        entry.pop("build_config", None)
        if entry["class_name"] == "Conv2D":
            entry["config"]["padding"] = "same"


def tfsm_layer(config: dict) -> None:
    layers(config).insert(
        1,
        {
            "module": "keras.layers",
            "class_name": "TFSMLayer",
            "config": {"name": "saved", "filepath": "/etc", "call_endpoint": "serve"},
            "registered_name": None,
        },
    )


def tfsm_in_settings(config: dict) -> None:
    layer(config, "dense")["config"]["kernel_initializer"] = {
        "module": "keras.layers",
        "class_name": "TFSMLayer",
        "config": {"filepath": "/etc"},
        "registered_name": None,
    }


def nested_disallowed(config: dict) -> None:
    """A Sequential inside the model holding a disallowed class."""
    dense = layer(config, "dense")
    inner = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "inner", "layers": [copy.deepcopy(dense), copy.deepcopy(dense)]},
        "registered_name": None,
    }
    inner["config"]["layers"][1]["class_name"] = "Conv2DTranspose"
    inner["config"]["layers"][1]["config"]["name"] = "hidden_grow"
    layers(config)[layers(config).index(dense)] = inner


def build_config_lies(config: dict) -> None:
    """Keras builds a layer at its build_config's shape: a million inputs to Dense(128)."""
    layer(config, "dense")["build_config"] = {"input_shape": [None, 1_000_000]}


def deep_nesting(config: dict) -> None:
    model = {"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": layers(config)}}
    for depth in range(6):
        model = {"module": "keras", "class_name": "Sequential", "config": {"name": f"m{depth}", "layers": [model]}}
    config["config"]["layers"] = [model]


HOSTILE: dict[str, tuple[Callable[[dict], None], str]] = {
    "Dense 1,000,000 units": (
        dense_units,
        "layer 'dense' (Dense, output 1000000) has 1,601,000,000 parameters, which brings the model to "
        f"1,601,037,568; the lab takes at most {MAX_PARAMETERS:,}",
    ),
    "Conv2D 200,000 filters": (
        conv_filters,
        "layer 'conv1' (Conv2D, output 26x26x200000) does 1,216,800,000 multiply-accumulates per image",
    ),
    "UpSampling2D": (upsampling, "layer 'grow' is a 'UpSampling2D', not one of the layers the lab allows"),
    "Conv2DTranspose": (transposed_conv, "layer 'grow' is a 'Conv2DTranspose', not one of the layers the lab allows"),
    "huge input maps": (huge_input, "layer 'conv1' (Conv2D, output 1400x1400x64) does"),
    "TFSMLayer": (tfsm_layer, "layer 'saved' is a TFSMLayer (it loads a TensorFlow SavedModel from a path)"),
    "TFSMLayer in settings": (tfsm_in_settings, "layer 'dense''s settings name a 'TFSMLayer' from 'keras.layers'"),
    "nested disallowed": (nested_disallowed, "layer 'hidden_grow' is a 'Conv2DTranspose', not one of the layers"),
    "build_config lies": (
        build_config_lies,
        "layer 'dense''s build_config says its input is 1000000, but it receives 1600",
    ),
    "deep nesting": (deep_nesting, "it nests models more than 4 deep"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_config_is_refused_naming_the_layer_and_what(case):
    edit, reason = HOSTILE[case]
    config = copy.deepcopy(SHIPPED_CONFIG)
    edit(config)
    with pytest.raises(ConfigRefused) as refused:
        check_upload_config(config)
    assert reason in str(refused.value)


def test_the_shipped_models_cost_what_the_layer_table_says():
    for path, config in ((SHIPPED_MODEL, CNNConfig()), (DENSE_MODEL, CNNConfig(conv_blocks=0))):
        budget = check_upload_config(json.loads(zipfile.ZipFile(path).read("config.json")))
        expected = totals(layer_table_for_config(config))
        assert (budget.parameters, budget.macs) == (expected.params, expected.macs)
        assert budget.activations == expected.activation_values


def builder_designs():
    for combo in itertools.product(*BUILDER_CHOICES.values()):
        config = CNNConfig(**dict(zip(BUILDER_CHOICES, combo)))
        try:
            yield config, totals(layer_table_for_config(config))
        except ConfigError:
            continue


def test_the_caps_leave_a_margin_above_the_builders_largest_trainable_model():
    """Every builder design the server trains with the default run under its default cost cap fits twice over
    (parameters 1.5 times: the cap is what the upload's unpacked limit holds)."""
    cap = DEFAULT_MAX_JOB_MINUTES * 60
    trainable = [t for config, t in builder_designs() if core_seconds(RunSpec(architecture=config)) <= cap]
    assert 2 * max(t.macs for t in trainable) <= MAX_MACS
    assert 1.5 * max(t.params for t in trainable) <= MAX_PARAMETERS
    assert 2 * max(t.activation_values for t in builder_designs_totals()) <= MAX_ACTIVATIONS


def builder_designs_totals():
    return [t for _, t in builder_designs()]


UPLOAD = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    from pathlib import Path
    import numpy as np
    from models.training.runs import RunStore
    from models.uploaded.store import UploadError, store_upload
    test = (np.zeros((16, 28, 28), np.uint8), np.zeros(16, np.int64))
    try:
        store_upload(RunStore(Path(sys.argv[2])), "learner", Path(sys.argv[1]).read_bytes(), "hostile.keras", test)
    except UploadError as error:
        print("REFUSED", error)
    """
)


@pytest.mark.parametrize("case", ["Dense 1,000,000 units", "Conv2D 200,000 filters", "TFSMLayer", "build_config lies"])
def test_the_upload_path_refuses_the_hostile_file_within_a_memory_cap(case, tmp_path):
    edit, reason = HOSTILE[case]
    path = tmp_path / "hostile.keras"
    path.write_bytes(rewrite(edit))
    done = subprocess.run(
        [sys.executable, "-c", UPLOAD.format(cap=MEMORY_CAP), str(path), str(tmp_path / "runs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("REFUSED Model file 'hostile.keras' was refused before loading: ")
    assert reason in done.stdout
    assert list((tmp_path / "runs" / "staging").iterdir()) == []


GOOD = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    from pathlib import Path
    from models.inputs.fashion_mnist import load_fashion_mnist
    from models.training.runs import RunStore
    from models.uploaded.store import store_upload
    from models.design.card import SHIPPED_MODEL
    run = store_upload(RunStore(Path(sys.argv[1])), "learner", SHIPPED_MODEL.read_bytes(), "cnn.keras",
                       load_fashion_mnist()[1])
    print(run.test_accuracy, sorted(p.name for p in run.folder.iterdir()), "tensorflow" in sys.modules)
    """
)


def test_a_good_file_is_tested_in_a_child_and_the_capped_web_side_never_loads_tensorflow(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", GOOD.format(cap=MEMORY_CAP), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "0.9111", done.stdout
    assert done.stdout.strip().endswith(
        "['architecture.json', 'arrays.npz', 'evaluation.npz', 'model.keras', 'run.json'] False"
    )


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        (MEMORY_MB_ENV, "700", "is too large to run here: it needed more than the 700 MB of memory a model may use."),
        (CPU_SECONDS_ENV, "2", "is too large to run here: it needed more than 2 s of processor time (the limit)."),
        (WALL_SECONDS_ENV, "2", "is too large to run here: loading and testing it took more than 2 s (the limit)"),
    ],
)
def test_a_check_that_runs_out_of_memory_or_time_says_so(setting, value, reason, tmp_path, monkeypatch, fashion):
    monkeypatch.setenv(setting, value)
    store = RunStore(tmp_path)
    with pytest.raises(UploadError) as refused:
        store_upload(store, "learner", SHIPPED_MODEL.read_bytes(), "cnn.keras", fashion[1])
    assert str(refused.value) == f"Model file 'cnn.keras' {reason}" or reason in str(refused.value)
    assert "Traceback" not in str(refused.value)
    assert store.runs("learner") == ([], []) and list((tmp_path / "staging").iterdir()) == []


def test_checks_take_turns_across_processes_and_a_long_wait_says_the_server_is_busy(tmp_path):
    held = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    try:
        assert held.stdout is not None and held.stdout.readline().strip() == "holding"  # another server process
        with pytest.raises(UploadError, match="checking other learners' models"), check_slot(tmp_path, 0.5):
            pass
    finally:
        held.communicate("done\n", timeout=30)
    with check_slot(tmp_path, 0.5):  # free again
        pass


HOLD = """
import sys
from pathlib import Path
from models.uploaded.store import check_slot
with check_slot(Path(sys.argv[1]), 5):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_functional_models_saved_by_keras_are_judged_through_their_nested_models(tmp_path):
    import keras

    def config_of(model) -> dict:
        model.save(tmp_path / "m.keras")
        return json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))

    inner = keras.Sequential([keras.Input((26, 26, 4)), keras.layers.BatchNormalization(name="bn")], name="inner")
    inputs = keras.Input((28, 28, 1))
    x = inner(keras.layers.Conv2D(4, 3, name="c")(inputs))
    x = keras.layers.Dense(8, name="per_pixel")(keras.layers.GlobalAveragePooling2D(keepdims=True)(x))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    good = keras.Model(inputs, outputs)
    budget = check_upload_config(config_of(good))
    assert budget.parameters == good.count_params()

    grow = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.UpSampling2D(4, name="grow")], name="inner")
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(grow(inputs)))
    with pytest.raises(ConfigRefused, match="layer 'grow' is a 'UpSampling2D', not one of the layers"):
        check_upload_config(config_of(keras.Model(inputs, outputs)))
