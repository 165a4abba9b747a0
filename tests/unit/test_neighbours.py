"""Predict's nearest-neighbour index stored beside the model (models.explain.neighbours): checked against Keras, read
back, refused cleanly when missing, damaged or made from another model, and built in a child process for a model stored
before these files existed."""

import shutil

import keras
import numpy as np
import pytest

from models.design.card import SHIPPED_MODEL
from models.explain.inspection import weights_key
from models.explain.neighbours import (
    NEIGHBOURS_FILE,
    SHIPPED_NEIGHBOURS,
    NeighbourFileError,
    NeighbourIndex,
    build_apart,
    nearest,
    read_index,
    unit_rows,
    write_index,
)
from models.inputs.images import fingerprint
from models.training.job_protocol import NICE_ENV, THREADS_ENV

QUERIES = np.arange(0, 10_000, 125)  # 80 test images spread over the set


@pytest.fixture(scope="module")
def model():
    from models.networks.zoo import load_model_file

    return load_model_file()


@pytest.fixture(scope="module")
def shipped(model, fashion):
    (x_train, y_train), _ = fashion
    return read_index(SHIPPED_NEIGHBOURS, weights_key(model), x_train, y_train)


def keras_embedding(model, images: np.ndarray) -> np.ndarray:
    """The 128-unit dense layer's output, from a Keras sub-model of the loaded model (not models.explain.inspection)."""
    dense = keras.Model(model.inputs, model.get_layer("dense").output)
    return dense.predict(images[..., None].astype(np.float32) / 255.0, batch_size=500, verbose=0)


def test_the_shipped_index_finds_the_neighbours_keras_finds(model, fashion, shipped):
    (x_train, y_train), (x_test, _) = fashion
    assert shipped.layer == "dense" and shipped.unit_vectors.shape == (12_000, 128) and shipped.seconds > 0
    assert len(set(shipped.indices)) == 12_000 and np.array_equal(shipped.labels, y_train[shipped.indices])
    stored = keras_embedding(model, x_train[shipped.indices]).astype(np.float64)
    stored /= np.maximum(np.linalg.norm(stored, axis=1, keepdims=True), 1e-30)
    for query in keras_embedding(model, x_test[QUERIES]).astype(np.float64):
        similarity = stored @ (query / np.linalg.norm(query))
        expected = np.argsort(-similarity, kind="stable")[:8]
        found, shown = nearest(shipped, query, 8)
        np.testing.assert_allclose(shown, similarity[expected], atol=2e-5)  # the numbers the page prints (3 dp)
        ranks = np.searchsorted(shipped.indices, found)
        same = ranks == expected
        assert np.all(same | np.isclose(similarity[ranks], similarity[expected], atol=2e-5)), "only ties may differ"


def small_index() -> NeighbourIndex:
    rng = np.random.default_rng(5)
    indices = np.sort(rng.choice(100, 20, replace=False))
    return NeighbourIndex(indices, indices % 10, unit_rows(rng.normal(size=(20, 6))), "dense", 1.5)


def test_an_index_is_read_back_as_written_and_refused_when_it_does_not_fit(tmp_path):
    images = np.arange(100 * 4, dtype=np.uint8).reshape(100, 2, 2)
    labels = np.arange(100) % 10
    index = small_index()
    path = tmp_path / NEIGHBOURS_FILE
    with pytest.raises(NeighbourFileError, match="no stored neighbour index yet"):
        read_index(path, "w", images, labels)
    write_index(path, index, "w", fingerprint(images[index.indices]))
    assert [p.name for p in tmp_path.iterdir()] == [NEIGHBOURS_FILE]  # no partial file left
    back = read_index(path, "w", images, labels)
    assert np.array_equal(back.indices, index.indices) and np.array_equal(back.labels, index.labels)
    assert np.array_equal(back.unit_vectors, index.unit_vectors) and (back.layer, back.seconds) == ("dense", 1.5)
    assert not back.unit_vectors.flags.writeable
    with pytest.raises(NeighbourFileError, match="other weights"):
        read_index(path, "other", images, labels)
    changed = images.copy()
    changed[index.indices[3]] += 1
    with pytest.raises(NeighbourFileError, match="other training images"):
        read_index(path, "w", changed, labels)
    with pytest.raises(NeighbourFileError, match="other training images"):
        read_index(path, "w", images, (labels + 1) % 10)
    with pytest.raises(NeighbourFileError, match="do not fit together"):
        read_index(path, "w", images[:50], labels[:50])  # indices past the end
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], data[:100], b"", b"not a zip file at all"):
        path.write_bytes(damaged)
        with pytest.raises(NeighbourFileError, match="damaged"):
            read_index(path, "w", images, labels)


def test_a_model_stored_without_an_index_gets_one_from_a_child_process(tmp_path, monkeypatch, model, fashion, shipped):
    """A run saved before neighbour files existed: the index is built in a child with limits, never in this
    process, and equals the shipped one (same model, same images); a model file that cannot be loaded says why."""
    monkeypatch.setenv(NICE_ENV, "0")  # the test's own priority and both cores: the suite waits for it
    monkeypatch.setenv(THREADS_ENV, "2")
    (x_train, y_train), _ = fashion
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(SHIPPED_MODEL, folder / "model.keras")
    build_apart(folder / "model.keras", folder / NEIGHBOURS_FILE, tmp_path)
    built = read_index(folder / NEIGHBOURS_FILE, weights_key(model), x_train, y_train)
    assert np.array_equal(built.indices, shipped.indices)
    np.testing.assert_allclose(built.unit_vectors, shipped.unit_vectors, atol=1e-5)
    (folder / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(NeighbourFileError, match=r"Embedding the training images failed \(.*model.keras"):
        build_apart(folder / "model.keras", folder / "other.npz", tmp_path)
    assert not (folder / "other.npz").exists()


def neighbours_of_a_damaged_run(folder: str) -> None:
    """The Predict section's index for a run folder whose model file is damaged and which has no index."""
    from components.sections.predict import stored_neighbour_index
    from models.networks.zoo import load_model_file

    stored_neighbour_index(f"run:{folder}", load_model_file())


def test_the_page_says_why_when_a_runs_index_cannot_be_built(tmp_path):
    from streamlit.testing.v1 import AppTest

    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    app = AppTest.from_function(neighbours_of_a_damaged_run, args=(str(tmp_path),), default_timeout=240).run()
    assert not app.exception
    (warning,) = app.warning
    assert warning.value.startswith(
        "The nearest training images cannot be shown for this model: Embedding the training images failed ("
    )
    assert "is not (or is truncated)" in warning.value and not (tmp_path / NEIGHBOURS_FILE).exists()
