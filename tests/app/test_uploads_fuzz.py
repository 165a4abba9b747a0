"""The model uploader under fuzzing: mutated real .keras files and arbitrary bytes are stored or refused clearly.

Uploaded configs (issue 25): Sequential models of allowed and disallowed layers, of any size and nesting, are
judged from the config alone: within the caps (and then Keras builds the same number of parameters) or refused
naming the layer and what was too big or not allowed.

Reuses tests/app/test_bad_input.py's mutations (truncate, flip, insert, delete, overwrite the header). Every input
either becomes a run that loads and predicts probabilities, or raises UploadError with a message; nothing else
escapes, and nothing is left in the staging folder.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.framework.session_keys import INSPECT_UPLOAD, LEARNER
from models.design.card import SHIPPED_MODEL
from models.inputs.fashion_mnist import load_fashion_mnist, scale_images
from models.training.runs import RunStore
from models.uploaded.config_check import MAX_ACTIVATIONS, MAX_MACS, MAX_PARAMETERS, ConfigRefused, check_upload_config
from models.uploaded.store import UploadError, store_upload
from tests.app.test_bad_input import MUTATIONS, mutate
from tests.support.apptest import checked, open_page

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEED = SHIPPED_MODEL.read_bytes()
TEST = load_fashion_mnist()[1]
STORE = RunStore(Path(tempfile.mkdtemp(prefix="cnn-lab-byo-fuzz-")))
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_outcomes():
    yield
    print(f"\nmodel upload outcomes ({sum(OUTCOMES.values())} files tried): {dict(sorted(OUTCOMES.items()))}")


def try_upload(data: bytes) -> str:
    """Stored (its model predicts probabilities) or refused with a non-empty message; the staging folder stays empty."""
    try:
        run = store_upload(STORE, "fuzz", data, "fuzzed.keras", TEST)
    except UploadError as error:
        assert str(error).strip()
        outcome = "refused: " + str(error).split(":")[1].strip()[:40] if ":" in str(error) else "refused"
    else:
        probabilities = run.model(scale_images(TEST[0][:2]), training=False)
        np.testing.assert_allclose(np.asarray(probabilities).sum(axis=1), 1, atol=1e-3)
        STORE.remove("fuzz", run.run_id)
        outcome = "stored"
    assert list((STORE.root / "staging").iterdir()) == []
    OUTCOMES[outcome] += 1
    return outcome


@FUZZ
@given(st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutated_model_files_are_stored_or_refused_clearly(mutations):
    try_upload(mutate(SEED, mutations))


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_refused_clearly(data):
    assert try_upload(data) != "stored"


def test_the_uploader_survives_a_session_of_damaged_files_then_takes_a_good_one():
    app = open_page("pages/inspect.py", timeout=300, session={LEARNER: "byo-fuzz"})
    rng = np.random.default_rng(19)
    for number in range(6):
        cut = int(rng.integers(1, len(SEED)))
        data = mutate(SEED, [("truncate", cut / len(SEED))] if number % 2 else [("flip", cut / len(SEED), 0xFF)])
        app.file_uploader(key=INSPECT_UPLOAD).set_value((f"bad{number}.keras", data, "application/octet-stream"))
        checked(app.run())
        assert [e.value for e in app.error] or [s.value for s in app.success], number
        assert all(message.value.strip() for message in app.error)
    app.file_uploader(key=INSPECT_UPLOAD).set_value(("good.keras", SEED, "application/octet-stream"))
    checked(app.run())
    assert app.success and not app.error


# ---------------------------------------------------------------- uploaded configs (issue 25)


def conv(name: str, filters: int, kernel: int, padding: str) -> dict:
    config = {"name": name, "filters": filters, "kernel_size": [kernel, kernel], "padding": padding}
    return {"module": "keras.layers", "class_name": "Conv2D", "config": {**config, "activation": "relu"}}


def simple(kind: str, name: str, **config) -> dict:
    return {"module": "keras.layers", "class_name": kind, "config": {"name": name, **config}}


@st.composite
def uploaded_configs(draw) -> dict:
    """A Sequential model of the allowed layers (and now and then a disallowed one), of any size, nested 0-6 deep."""
    side = draw(st.sampled_from([28, 28, 28, 64, 1000]))
    layers: list[dict] = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {"name": "in", "batch_shape": [None, side, side, 1]},
        }
    ]
    for index in range(draw(st.integers(0, 4))):
        filters = draw(st.sampled_from([1, 8, 64, 512, 200_000]))
        layers.append(conv(f"c{index}", filters, draw(st.integers(1, 9)), draw(st.sampled_from(["valid", "same"]))))
        if draw(st.booleans()):
            layers.append(
                simple(draw(st.sampled_from(["MaxPooling2D", "AveragePooling2D"])), f"p{index}", pool_size=[2, 2])
            )
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["UpSampling2D", "Conv2DTranspose", "TFSMLayer", "Dropout", "BatchNormalization"]))
        layers.append(simple(kind, "odd", rate=0.5) if kind == "Dropout" else simple(kind, "odd"))
    layers.append(simple("Flatten", "flat"))
    for index in range(draw(st.integers(0, 3))):
        layers.append(simple("Dense", f"d{index}", units=draw(st.sampled_from([1, 16, 128, 4096, 1_000_000]))))
    layers.append(simple("Dense", "out", units=draw(st.integers(2, 12)), activation="softmax"))
    model = {"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    for depth in range(draw(st.integers(0, 6))):  # nest all but the input in further Sequential models
        inner = {"module": "keras", "class_name": "Sequential", "config": {"name": f"n{depth}", "layers": layers[1:]}}
        layers = [layers[0], inner]
        model = {"module": "keras", "class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    return model


BUILT = Counter[str]()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uploaded_configs())
def test_uploaded_configs_are_within_the_caps_or_refused_naming_why(config):
    """Either the config's cost is within every cap and (for small ones) equals what Keras builds, or the refusal
    names a layer or a limit; nothing else escapes."""
    try:
        budget = check_upload_config(config)
    except ConfigRefused as refused:
        message = str(refused)
        assert message.startswith(("layer '", "model '", "it nests models", "the model has more than"))
        assert any(
            word in message
            for word in (
                "parameters",
                "multiply-accumulates",
                "values",
                "not one of",
                "leaves no output",
                "nests",
                "layers",
            )
        )
        BUILT["refused"] += 1
        return
    assert budget.parameters <= MAX_PARAMETERS and budget.macs <= MAX_MACS and budget.activations <= MAX_ACTIVATIONS
    if budget.parameters <= 200_000 and BUILT["built"] < 12:  # what Keras builds from it: the same parameters
        import keras

        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        assert model.count_params() == budget.parameters
        BUILT["built"] += 1
