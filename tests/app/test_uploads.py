"""Bring your own model: a learner's .keras file is checked, stored as a run and used by every page, or refused.

The uploaded models are real: a small CNN with its own layer names and 5 classes, trained for one epoch on 2,000
Fashion-MNIST training images of classes 0-4 and saved with model.save, and the shipped model's file. The numbers
are compared with Keras's own (model.predict, count_params, the layer's weights).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import pytest

from components.framework.session_keys import (
    DEEPER_MODEL,
    DEEPER_TAB,
    FILTERS_KERNEL_SOURCE,
    FILTERS_LEARNED_INDEX,
    FILTERS_LEARNED_NETWORK,
    INSPECT_MAP_LAYER,
    INSPECT_MODEL,
    INSPECT_TAB,
    INSPECT_UPLOAD,
    LEARNER,
    PREDICT_LAYER,
    PREDICT_MODEL,
)
from models.design.analysis import layer_table
from models.design.card import SHIPPED_MODEL
from models.explain import inspection as ins
from models.inputs.fashion_mnist import CLASS_NAMES, scale_images
from models.inputs.images import fingerprint
from models.training.job_protocol import EVALUATION_FILE
from models.training.runs import RunStore
from models.uploaded.store import UploadError, store_upload
from tests.support.apptest import checked, figures, open_page, plotly_array
from tests.unit.test_upload_limits import dense_units, rewrite, tfsm_layer

LAYERS = ["edges", "shrink", "parts", "flat", "hidden", "five"]


def five_class_cnn() -> keras.Model:
    """A small CNN unlike the course's: a 5x5 first layer, other names, 5 classes."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 5, activation="relu", name="edges"),
            keras.layers.MaxPooling2D(2, name="shrink"),
            keras.layers.Conv2D(12, 3, activation="relu", name="parts"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(5, activation="softmax", name="five"),
        ],
        name="five_class",
    )


@pytest.fixture(scope="module")
def five(fashion, tmp_path_factory) -> tuple[keras.Model, bytes]:
    """The 5-class CNN trained one epoch on 2,000 real training images of classes 0-4, and its saved file."""
    (x_train, y_train), _ = fashion
    keep = np.flatnonzero(y_train < 5)[:2000]
    keras.utils.set_random_seed(0)
    model = five_class_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(scale_images(x_train[keep]), y_train[keep], epochs=1, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("five") / "five.keras"
    model.save(path)
    return keras.models.load_model(path, safe_mode=True), path.read_bytes()


def saved(model: keras.Model, tmp_path: Path, name: str = "model.keras") -> bytes:
    path = tmp_path / name
    model.save(path)
    return path.read_bytes()


def colour_cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def regression() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])


def sigmoid_outputs() -> keras.Model:
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="sigmoid")]
    )


def lambda_model(tmp_path: Path) -> bytes:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    return saved(keras.Model(inputs, outputs), tmp_path, "lambda.keras")


def zip_bomb() -> bytes:
    """The shipped archive with its weights' central-directory entry claiming 2 GB unpacked."""
    import struct

    data = bytearray(SHIPPED_MODEL.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while entry != -1:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == b"model.weights.h5":
            struct.pack_into("<I", data, entry + 24, 2 * 2**30)
        entry = data.find(b"PK\x01\x02", entry + 4)
    return bytes(data)


def h5_file(tmp_path: Path) -> bytes:
    """A legacy HDF5 model file, as a learner might rename it to .keras."""
    path = tmp_path / "legacy.h5"
    keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    ).save(path)
    return path.read_bytes()


def refusals(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    """Each file the lab cannot use, and (part of) the message that says why."""
    shipped = SHIPPED_MODEL.read_bytes()
    return {
        "32x32x3 model": (
            saved(colour_cnn(), tmp_path, "colour.keras"),
            "The model expects 32x32x3 colour (RGB) images (input shape (None, 32, 32, 3)); this lab feeds 28x28 "
            "grayscale Fashion-MNIST images",
        ),
        "regression model": (
            saved(regression(), tmp_path, "regression.keras"),
            "The model outputs one number per image (a regression or a single score); the lab needs a probability "
            "for each of 2 or more classes",
        ),
        "sigmoid outputs": (saved(sigmoid_outputs(), tmp_path, "sigmoid.keras"), "is not a softmax"),
        "Lambda layer": (lambda_model(tmp_path), "a Lambda layer (Python code), which safe mode refuses to run"),
        "zip bomb": (zip_bomb(), "unpacks to 2,048 MB, more than the 100 MB limit"),
        "random bytes": (np.random.default_rng(0).bytes(4096), "a .keras file is a zip archive and this one is not"),
        "truncated file": (shipped[: len(shipped) // 2], "a .keras file is a zip archive and this one is not"),
        ".h5 renamed .keras": (h5_file(tmp_path), "a .keras file is a zip archive and this one is not"),
        "too large": (b"PK" + bytes(21 * 2**20), "The file is 21.0 MB; the limit is 20 MB"),
        "Dense 1,000,000 units": (rewrite(dense_units), "layer 'dense' (Dense, output 1000000) has 1,601,000,000"),
        "TFSMLayer": (rewrite(tfsm_layer), "layer 'saved' is a TFSMLayer (it loads a TensorFlow SavedModel"),
    }


# ---------------------------------------------------------------- models.uploaded.store


@pytest.mark.training
def test_the_five_class_cnn_is_stored_with_its_layers_classes_table_and_kernels(five, fashion, tmp_path):
    model, data = five
    store = RunStore(tmp_path / "runs")
    run = store_upload(store, "learner", data, "five.keras", fashion[1])
    assert store.runs("learner")[0] == [run] or [r.run_id for r in store.runs("learner")[0]] == [run.run_id]
    assert run.uploaded and run.name == "Uploaded: five" and run.history == {} and run.test_accuracy is None
    assert run.class_names == ("class 0", "class 1", "class 2", "class 3", "class 4")
    assert run.config["first_conv"] == "edges" and run.config["parameters"] == model.count_params()
    architecture = run.architecture()
    assert architecture["rows"] == json.loads(json.dumps([asdict(row) for row in layer_table(model)]))
    assert [row["name"] for row in architecture["rows"]] == ["input", *LAYERS]
    assert [row["params"] for row in architecture["rows"][1:]] == [layer.count_params() for layer in model.layers]
    assert sum(row["params"] for row in architecture["rows"]) == model.count_params()
    assert "edges (Conv2D)" in architecture["summary"] and "five (Dense)" in architecture["summary"]
    np.testing.assert_array_equal(run.first_conv_kernels, model.get_layer("edges").get_weights()[0])
    assert run.first_conv_kernels.shape == (5, 5, 1, 8)
    reloaded = run.model  # the stored file loads in safe mode and computes what the upload does
    x = scale_images(fashion[1][0][:16])
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_the_shipped_file_uploaded_gets_fashion_mnist_names_and_its_measured_test_accuracy(fashion, tmp_path):
    (_, _), (x_test, y_test) = fashion
    run = store_upload(RunStore(tmp_path), "learner", SHIPPED_MODEL.read_bytes(), "fashion_cnn.keras", fashion[1])
    model = keras.models.load_model(SHIPPED_MODEL, safe_mode=True)
    expected = float(np.mean(model.predict(scale_images(x_test), verbose=0).argmax(axis=1) == y_test))
    assert run.test_accuracy == pytest.approx(expected, abs=1e-4)
    assert run.test_accuracy == pytest.approx(0.9111, abs=1e-4)  # the shipped card's number
    assert run.class_names == CLASS_NAMES and run.config["parameters"] == 243_786
    assert run.architecture()["rows"] == json.loads(json.dumps([asdict(row) for row in layer_table(model)]))
    # Inspect's evaluation was made by the checking process and is kept with the run, keyed to its weights
    saved = ins.read_evaluation(run.folder / EVALUATION_FILE, ins.weights_key(run.model), fingerprint(x_test))
    assert saved is not None and saved.saved and saved.probabilities.shape == (10_000, 10)
    assert float(np.mean(saved.predictions == y_test)) == run.test_accuracy


def test_a_functional_model_with_a_batch_norm_layer_is_stored_and_the_table_names_what_it_cannot_describe(
    fashion, tmp_path
):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, name="c")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(keras.layers.GlobalAveragePooling2D()(x))
    run = store_upload(RunStore(tmp_path), "l", saved(keras.Model(inputs, outputs), tmp_path), "f.keras", fashion[1])
    assert run.class_names == ("class 0", "class 1")
    assert run.architecture()["rows"] is None
    assert run.architecture()["unsupported"] == "bn: BatchNormalization layers are not covered by the layer table"


def test_every_refusal_says_why_and_leaves_nothing_behind(fashion, tmp_path):
    store = RunStore(tmp_path / "runs")
    for case, (data, reason) in refusals(tmp_path).items():
        with pytest.raises(UploadError) as refused:
            store_upload(store, "learner", data, f"{case}.keras", fashion[1])
        assert reason in str(refused.value), (case, str(refused.value))
        assert "models.networks.train" not in str(refused.value) and str(tmp_path) not in str(refused.value), case
    assert store.runs("learner") == ([], [])
    assert list((tmp_path / "runs" / "staging").iterdir()) == []


# ---------------------------------------------------------------- the pages (AppTest)


def upload(app, name: str, data: bytes):
    app.file_uploader(key=INSPECT_UPLOAD).set_value((name, data, "application/octet-stream"))
    return checked(app.run())


@pytest.mark.training
def test_the_uploaded_cnn_works_on_inspect_deeper_predict_architecture_and_filters(five, fashion):
    model, data = five
    app = open_page("pages/inspect.py", timeout=300, session={LEARNER: "byo-pages"})
    assert "Use your own model (.keras)" in [e.label for e in app.expander]
    limits = " ".join(c.value for c in app.caption)
    assert "at most 26,214,400 parameters, 50 million multiply-accumulates per image and 2,000,000" in limits
    assert "4,096 MB of memory, 240 s of processor time and 480 s in all" in limits
    upload(app, "five.keras", data)
    assert [s.value for s in app.success] == [
        "Stored as **Uploaded: five (5 classes)**, 20,385 parameters. It is now the model below, and in the model "
        "choice of Deeper and Predict, on Architecture and in Filters' learned filters (edges)."
    ]
    assert app.selectbox(key=INSPECT_MODEL).value == 1
    assert app.selectbox(key=INSPECT_MODEL).options[1] == "Uploaded: five (5 classes)"
    assert app.radio(key=INSPECT_MAP_LAYER).options == ["edges", "shrink", "parts"]
    assert any("edges 24x24" in json.dumps(figure) for figure in figures(app))

    app.session_state[INSPECT_TAB] = "Why this prediction"
    checked(app.run())
    assert any("Grad-CAM (parts)" in json.dumps(figure) for figure in figures(app))
    bars = next(f for f in figures(app) if f["data"][0].get("orientation") == "h")
    assert list(plotly_array(bars["data"][0]["y"])) == [f"class {i}" for i in range(5)]
    app.session_state[INSPECT_TAB] = "Evaluation"
    checked(app.run())
    assert "needs a classifier of Fashion-MNIST's 10 classes" in app.info[0].value
    assert "this model predicts 5 classes (class 0, class 1, class 2, class 3, ...)" in app.info[0].value

    app.switch_page("pages/deeper.py")
    app.session_state[DEEPER_TAB] = "Channel sum"
    checked(app.run())
    assert app.selectbox(key=DEEPER_MODEL).options[1] == "Uploaded: five (5 classes)"
    app.selectbox(key=DEEPER_MODEL).set_value(1)
    checked(app.run())
    assert "parts" in " ".join(str(s.options) for s in app.selectbox) + " ".join(m.value for m in app.markdown)

    app.switch_page("pages/predict.py")
    checked(app.run())
    app.selectbox(key=PREDICT_MODEL).set_value(1)
    checked(app.run())
    assert app.radio(key=PREDICT_LAYER).options == ["edges", "shrink", "parts"]
    said = next(m.value for m in app.markdown if m.value.startswith("The network says"))
    assert said.startswith("The network says **class ")
    assert "must pick one of its 5 classes" in " ".join(m.value for m in app.markdown)

    app.switch_page("pages/architecture.py")
    checked(app.run())
    assert app.expander[0].label == "Your own model: layers, shapes and arithmetic"
    table = app.table[0].value
    assert list(table["Layer"]) == ["input", *LAYERS, "total"]
    assert table["Parameters"].iloc[-1].endswith(f"= {model.count_params():,}")
    assert "five_class**: 6 layers, 20,385 parameters" in " ".join(m.value for m in app.markdown)
    assert any("edges (Conv2D)" in c.value for c in app.code)

    app.switch_page("pages/filters.py")
    checked(app.run())
    app.radio(key=FILTERS_KERNEL_SOURCE).set_value("Learned by the network")
    checked(app.run())
    network = app.selectbox(key=FILTERS_LEARNED_NETWORK)
    network.set_value(network.options[1])
    checked(app.run())
    app.selectbox(key=FILTERS_LEARNED_INDEX).set_value(3)
    checked(app.run())
    assert app.selectbox(key=FILTERS_LEARNED_INDEX).options == [f"Filter {i}" for i in range(8)]
    kernel = model.get_layer("edges").get_weights()[0][:, :, 0, 3]
    shown = [plotly_array(f["data"][0]["z"]) for f in figures(app) if f["data"] and "z" in f["data"][0]]
    assert any(z.shape == (5, 5) and np.allclose(z, kernel, atol=1e-6) for z in shown)
    assert "6. The network learns its filters" not in [s.value for s in app.subheader]  # the shipped CNN's story


def test_the_shipped_file_uploaded_is_named_with_its_test_accuracy_and_refusals_are_errors(fashion, tmp_path):
    app = open_page("pages/inspect.py", timeout=300, session={LEARNER: "byo-refusals"})
    for case, (data, reason) in refusals(tmp_path).items():
        upload(app, f"{case}.keras", data)
        assert len(app.error) == 1 and reason in app.error[0].value, (case, [e.value for e in app.error])
        assert not app.success
    assert not [s for s in app.selectbox if s.key == INSPECT_MODEL]  # nothing stored: the shipped model only
    upload(app, "fashion_cnn.keras", SHIPPED_MODEL.read_bytes())
    assert app.selectbox(key=INSPECT_MODEL).options[1] == (
        "Uploaded: fashion_cnn, 91.11% test accuracy on Fashion-MNIST"
    )
    app.session_state[INSPECT_TAB] = "Evaluation"
    checked(app.run())
    assert not app.info and "91.11%" in " ".join(m.value for m in app.metric)
    assert zipfile.is_zipfile(SHIPPED_MODEL)  # the shipped file itself is untouched
