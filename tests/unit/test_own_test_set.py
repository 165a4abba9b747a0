"""The test set a run on a learner's own images is judged on: its held-out split drawn again from the stored
dataset and seed, checked against the split the worker used (models.inputs.own_data.split with the run's settings) and
against the worker's own test accuracy; and t-SNE's perplexity on such small sets (scikit-learn's rule)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import TSNE

from components.model_choice import Subject, evaluation_set
from models.explain import inspection as ins
from models.inputs import own_data as od
from models.inputs.fashion_mnist import CLASS_NAMES
from tests.support.own_run import SEED, VALIDATION, trained_own_run


@pytest.fixture(scope="module")
def trained():
    return trained_own_run()


@pytest.mark.parametrize("seed", [0, 3, 41])
@pytest.mark.parametrize("validation", [0.0, 0.1, 0.25, 0.5])
def test_the_held_out_test_does_not_depend_on_the_validation_split(seed, validation):
    labels = np.repeat(np.arange(4), [10, 13, 25, 12])
    assert np.array_equal(od.held_out_test(labels, seed), od.split(labels, validation, seed).test)


@pytest.mark.training
def test_the_runs_test_set_is_the_split_its_worker_held_out(trained):
    dataset, run = trained
    subject = Subject(f"run:{run.folder}", run.model, run.class_names, run.config["dataset_file"], run.config["seed"])
    test = evaluation_set(subject)
    worker = od.split(dataset.labels, VALIDATION, SEED)  # the call models.networks.worker.job_data makes for this run
    assert not test.fashion and test.class_names == ("Bag", "Sneaker", "Trouser") == run.class_names
    assert np.array_equal(test.images, dataset.images[worker.test])
    assert np.array_equal(test.labels, dataset.labels[worker.test])
    assert test.size == run.config["test_images"] == 12
    assert np.bincount(test.labels).tolist() == [4, 4, 4]
    assert not set(worker.test) & (set(worker.fit) | set(worker.validation))
    other_seed = od.held_out_test(dataset.labels, SEED + 1)
    assert not np.array_equal(other_seed, worker.test)  # the seed matters, so reading it from the run matters
    images = test.images.astype(np.float32)[..., None] / 255.0
    predicted = np.asarray(run.model(images)).argmax(axis=1)  # Keras's forward pass on the recomputed split
    assert run.test_accuracy == pytest.approx(float(np.mean(predicted == test.labels)), abs=1e-6)
    assert evaluation_set(subject) is test  # cached per subject key


@pytest.mark.training
def test_a_missing_dataset_file_is_a_clear_error(trained, tmp_path):
    _, run = trained
    gone = Subject("run:gone", run.model, run.class_names, str(tmp_path / "gone.npz"), SEED)
    with pytest.raises(od.DatasetError, match="missing; upload the zip again"):
        evaluation_set(gone)


def test_the_shipped_model_and_fashion_runs_keep_fashion_mnists_test_images(fashion):
    from components.model_choice import shipped_key
    from components.resources import shipped_model

    test = evaluation_set(Subject(shipped_key(), shipped_model()))
    assert test.fashion and test.class_names == CLASS_NAMES and test.size == 10_000
    assert np.array_equal(test.images, fashion[1][0]) and np.array_equal(test.labels, fashion[1][1])
    assert test.index_label() == "Test image index (0-9999)"


def test_tsne_perplexity_fits_a_small_test_set():
    points = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"must be less than n_samples \(12\)"):
        TSNE(perplexity=ins.TSNE_PERPLEXITY).fit_transform(points)  # scikit-learn's own check
    assert ins.perplexity_for(12) == pytest.approx(11 / 3)
    assert ins.perplexity_for(10_000) == ins.TSNE_PERPLEXITY == ins.perplexity_for(91)
    layout = ins.tsne(points, perplexity=ins.perplexity_for(12))
    reference = TSNE(
        n_components=2,
        perplexity=11 / 3,
        max_iter=ins.TSNE_ITERATIONS,
        init="pca",
        learning_rate="auto",
        method="barnes_hut",
        random_state=0,
    ).fit_transform(points)
    np.testing.assert_allclose(layout.coordinates, reference, rtol=1e-5, atol=1e-5)
