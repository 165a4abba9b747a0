"""A run on a learner's own images for the Inspect and Deeper tests: 3 Fashion-MNIST classes x 20 real images in a
zip, the course CNN trained 1 epoch by the real worker process, saved in the store the app reads."""

from __future__ import annotations

import functools
import time

from components.training_jobs import run_store
from models.design.config import COURSE_CNN
from models.inputs import own_data as od
from models.training.executors import LocalProcessExecutor
from models.training.jobs import JobRegistry, TrainingJob
from models.training.recipes import RunSpec, TrainConfig
from models.training.runs import TrainingRun
from tests.support.image_files import real_members, zip_of

LEARNER = "own-inspect-learner"
SEED = 3  # not the default 0: the test split must follow the run's own seed
VALIDATION = 0.1


@functools.cache
def trained_own_run() -> tuple[od.OwnDataset, TrainingRun]:
    """The dataset and the finished run (trained once per test process)."""
    store = run_store()
    dataset = od.read_zip(zip_of(real_members()), "three classes")
    path = od.DatasetStore(store.root).save(store.learner_folder(LEARNER), dataset)
    parts = od.split(dataset.labels, VALIDATION, SEED)
    spec = RunSpec(
        architecture=COURSE_CNN,
        recipe=TrainConfig(epochs=1, batch_size=16, seed=SEED),
        train_images=parts.train_images,
        validation_split=VALIDATION,
        dataset=str(path),
    )
    registry = JobRegistry(LocalProcessExecutor(max_jobs=1, threads=1), store)
    job = TrainingJob(spec, "own", learner=LEARNER)
    registry.submit(job)
    deadline = time.monotonic() + 240
    while not job.wait(0.5):
        assert time.monotonic() < deadline, "the job did not end within 240 s"
        job.heartbeat()
    assert job.run is not None, job.progress().message
    return dataset, job.run
