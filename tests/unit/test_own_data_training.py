"""Training on a learner's own images with the job system: a real worker process, 1 epoch on 60 real images."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from models.design.config import COURSE_CNN
from models.inputs import own_data as od
from models.training.executors import LocalProcessExecutor
from models.training.jobs import JobRegistry, TrainingJob
from models.training.recipes import RunSpec, TrainConfig
from models.training.runs import RunStore
from tests.conftest import DONE
from tests.support.image_files import real_members, zip_of

pytestmark = pytest.mark.training  # trains networks: not in `make test-fast` (pytest.ini)

TINY_CNN = replace(COURSE_CNN, filters=8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    store = RunStore(root / "data")
    dataset = od.read_zip(zip_of(real_members()), "three classes")
    path = od.DatasetStore(store.root).save(store.learner_folder("learner-a"), dataset)
    parts = od.split(dataset.labels, 0.1, 0)
    spec = RunSpec(
        architecture=TINY_CNN,
        recipe=TrainConfig(epochs=1, batch_size=16),
        train_images=parts.train_images,
        validation_split=0.1,
        dataset=str(path),
    )
    registry = JobRegistry(LocalProcessExecutor(max_jobs=1, threads=1), store)
    job = TrainingJob(spec, "own", learner="learner-a", keepalive=lambda: True)  # watched, as a page does
    registry.submit(job)
    assert job.wait(DONE), f"the job did not end within {DONE:g} s"
    assert job.run is not None, job.progress().message
    return dataset, parts, job.run, path


def test_the_run_records_its_class_names_dataset_and_split(trained):
    dataset, parts, run, path = trained
    assert run.class_names == ("Bag", "Sneaker", "Trouser")
    config = run.config
    assert config["class_counts"] == [20, 20, 20] and config["dataset_file"] == str(path)
    assert (config["train_images"], config["validation_images"], config["test_images"]) == (43, 5, 12)
    assert "20% of each class held out for the test" in config["split"] and "stratified, seed 0" in config["split"]
    assert json.loads((run.folder / "run.json").read_text())["config"]["class_names"] == list(run.class_names)


def test_the_model_has_one_output_per_class_and_its_test_accuracy_is_on_the_held_out_images(trained):
    dataset, parts, run, _ = trained
    model = run.model
    assert model.outputs[0].shape[-1] == 3
    images = dataset.images[parts.test].astype(np.float32)[..., None] / 255.0
    predicted = np.asarray(model(images)).argmax(axis=1)  # Keras's forward pass, written out here
    assert run.test_accuracy == pytest.approx(float(np.mean(predicted == dataset.labels[parts.test])), abs=1e-6)


def test_a_dask_job_carries_the_dataset_and_needs_no_disk(trained, tmp_path):
    """What models.training.executors.dask_cluster sends: the npz bytes inside the payload; the worker reads no file."""
    from models.networks.worker import run_job

    dataset, _, run, path = trained
    shipped = od.ship({"path": str(path)}) | {"path": str(tmp_path / "not-on-this-machine.npz")}
    spec = RunSpec.from_payload({**RunSpec().to_payload(), **{"train_images": 48, "validation_split": 0.1}})
    spec = replace(spec, architecture=TINY_CNN, recipe=TrainConfig(epochs=1, batch_size=32), dataset=shipped["path"])
    events = []
    run_job({"spec": spec.to_payload(), "name": "dask", "dataset": shipped}, events.append, _Never(), tmp_path / "r")
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["config"]["class_names"] == list(dataset.class_names)
    assert events[-1]["type"] == "done"


class _Never:
    reason = None

    def is_set(self) -> bool:
        return False
