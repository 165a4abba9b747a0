"""models.serving.quota and its checks before every write (runs moved in, shared runs adopted, datasets saved), with
small limits set through the constructor or the environment; nothing large is written."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from models.design.card import SHIPPED_MODEL
from models.inputs import own_data as od
from models.serving.quota import DiskQuota, QuotaExceeded, folder_bytes
from models.training.jobs import JobRegistry, TrainingJob
from models.training.recipes import RunSpec, TrainConfig
from models.training.runs import RunStore
from tests.unit.test_runs import staged

MB = 2**20


def run_size(tmp_path) -> int:
    probe = RunStore(tmp_path / "probe")
    return folder_bytes(staged(probe, "probe"))


def store_with(tmp_path, *, learner_runs: float, total_runs: float = 1000.0) -> tuple[RunStore, int]:
    """A store whose learner quota holds `learner_runs` of the test's runs and whose disk holds `total_runs`."""
    size = run_size(tmp_path)
    root = tmp_path / "data"
    quota = DiskQuota(root, learner_bytes=int(learner_runs * size), total_bytes=int(total_runs * size))
    return RunStore(root, quota=quota), size


def names(store: RunStore, token: str) -> list[str]:
    return [run.name for run in store.runs(token)[0]]


def test_the_quotas_come_from_the_environment_in_megabytes(tmp_path):
    quota = DiskQuota.from_environment(tmp_path, {})
    assert (quota.learner_bytes, quota.total_bytes) == (800 * MB, 5000 * MB)
    quota = DiskQuota.from_environment(tmp_path, {"CNN_LAB_LEARNER_MB": "1.5", "CNN_LAB_DISK_MB": "20"})
    assert (quota.learner_bytes, quota.total_bytes) == (int(1.5 * MB), 20 * MB)
    with pytest.raises(ValueError, match="CNN_LAB_DISK_MB"):
        DiskQuota.from_environment(tmp_path, {"CNN_LAB_DISK_MB": "0"})
    monkey_root = tmp_path / "env"
    assert RunStore(monkey_root).quota.learner_bytes == 800 * MB


def test_a_learner_over_their_quota_loses_their_oldest_runs_first(tmp_path):
    store, _ = store_with(tmp_path, learner_runs=2.5)
    for index in range(4):
        store.commit("alice", staged(store, f"run {index}"))
    assert names(store, "alice") == ["run 2", "run 3"]
    assert store.quota.learner_usage(store.learner_key("alice")) <= store.quota.learner_bytes


def test_a_run_that_cannot_fit_is_refused_with_the_learners_figures_and_its_folder_removed(tmp_path):
    store, size = store_with(tmp_path, learner_runs=0.5)
    folder = staged(store, "too big")
    with pytest.raises(QuotaExceeded, match=r"The run was not saved: .* your runs and datasets use 0 of your \d+ MB"):
        store.commit("alice", folder)
    assert not folder.exists() and store.runs("alice") == ([], [])


def test_a_full_server_disk_refuses_with_its_own_message_and_removes_nothing(tmp_path):
    store, _ = store_with(tmp_path, learner_runs=10, total_runs=2.5)
    store.commit("alice", staged(store, "a1"))
    store.commit("bob", staged(store, "b1"))
    with pytest.raises(QuotaExceeded, match="the server's disk for runs is full"):
        store.commit("carol", staged(store, "c1"))
    assert names(store, "alice") == ["a1"] and names(store, "bob") == ["b1"]


def test_an_adopted_shared_run_costs_the_server_no_new_bytes_but_counts_for_each_learner(tmp_path):
    store, _ = store_with(tmp_path, learner_runs=1.5, total_runs=2.5)
    shared = store.share(staged(store, "shared"), "1-abc")
    for learner in ("alice", "bob", "carol"):  # hard links: the disk holds one copy
        store.adopt(store.learner_key(learner), shared, name="copy", group=1, shared_with=3)
    assert all(names(store, learner) == ["copy"] for learner in ("alice", "bob", "carol"))
    store.adopt(store.learner_key("alice"), shared, name="again", group=2, shared_with=0)
    assert names(store, "alice") == ["again"]  # her older copy made room


def test_a_dataset_over_the_quota_is_not_written(tmp_path):
    rng = np.random.default_rng(0)
    dataset = od.OwnDataset(
        name="noise",
        images=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        labels=np.repeat(np.arange(2), 20),
        class_names=("a", "b"),
        files=tuple(f"{'ab'[i // 20]}/{i}.png" for i in range(40)),
    )
    size = len(od.save_npz(dataset))
    learner = tmp_path / "learners" / "abc"
    small = od.DatasetStore(tmp_path, DiskQuota(tmp_path, learner_bytes=size - 1, total_bytes=10 * MB))
    with pytest.raises(QuotaExceeded, match=r"The dataset was not saved: .*Delete a run on the Training page"):
        small.save(learner, dataset)
    assert not (tmp_path / "datasets").exists()
    roomy = od.DatasetStore(tmp_path, DiskQuota(tmp_path, learner_bytes=size, total_bytes=10 * MB))
    assert roomy.save(learner, dataset).is_file()


class FinishesWhenReleased:
    """An executor whose job leaves a complete run (as tests.unit.test_runs.staged writes it) once released."""

    max_jobs = 1

    def __init__(self) -> None:
        self.release = threading.Event()
        self.folder: Path | None = None

    def start(self, payload, emit, folder):
        self.folder = folder
        return self

    def stop(self, reason):
        self.release.set()

    def wait(self, timeout=None):
        if not self.release.wait(timeout):
            return False
        assert self.folder is not None
        shutil.copy(SHIPPED_MODEL, self.folder / "model.keras")
        np.savez_compressed(self.folder / "arrays.npz", batch_curve=np.zeros((1, 3), np.float32))
        record = {"name": "run", "config": {"batch_size": 32}, "history": {}, "seconds": 1.0, "test_accuracy": 0.5}
        (self.folder / "run.json").write_text(json.dumps(record))
        return True


@pytest.mark.training
def test_a_shared_run_reaches_the_learners_with_room_and_tells_the_one_without(tmp_path):
    size = run_size(tmp_path)
    root = tmp_path / "data"
    store = RunStore(root, quota=DiskQuota(root, learner_bytes=int(1.5 * size), total_bytes=1000 * size))
    bob = root / "datasets" / store.learner_key("bob")
    bob.mkdir(parents=True)
    (bob / "big.npz").write_bytes(b"\0" * size)  # bob's datasets leave no room for a run
    executor = FinishesWhenReleased()
    registry = JobRegistry(executor, store)
    settings = RunSpec(architecture=None, recipe=TrainConfig(epochs=1), train_images=1024)
    alice_job, bob_job = TrainingJob(settings, "a", learner="alice"), TrainingJob(settings, "b", learner="bob")
    registry.submit(alice_job)
    registry.submit(bob_job)  # the same settings: one run trained for both
    executor.release.set()
    assert alice_job.wait(30) and bob_job.wait(30)
    assert alice_job.run is not None and [r.name for r in store.runs("alice")[0]] == ["a"]
    assert bob_job.run is None and store.runs("bob") == ([], [])
    assert bob_job.progress().message.startswith("The run was not saved: it needs")
    assert "Delete a run on the Training page" in bob_job.progress().message
