"""Saved runs on disk: one learner cannot see another's, writes are atomic, storage is bounded, damage is skipped."""

import json
import os
import shutil
import time

import numpy as np
import pytest

from models.design.card import SHIPPED_MODEL
from models.training.runs import RunStore, TrainingRun


def staged(store: RunStore, name: str, *, accuracy: float = 0.5) -> "os.PathLike":
    """A staging folder holding a complete run, as a worker leaves it."""
    folder = store.staging_folder()
    shutil.copy(SHIPPED_MODEL, folder / "model.keras")
    curve = np.array([[0.5, 1.2, 0.6], [1.0, 0.9, 0.7]], np.float32)
    np.savez_compressed(folder / "arrays.npz", batch_curve=curve)
    record = {
        "name": name,
        "group": 1,
        "config": {"batch_size": 32},
        "history": {"loss": [0.9], "accuracy": [0.7]},
        "seconds": 2.5,
        "test_accuracy": accuracy,
        "test_loss": 0.8,
        "stop_reason": None,
    }
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_a_committed_run_reads_back_whole_and_only_for_its_learner(tmp_path):
    store = RunStore(tmp_path)
    run = store.commit("alice-token", staged(store, "Run 1: course CNN, 1 epoch", accuracy=0.75))
    assert isinstance(run, TrainingRun) and run.name == "Run 1: course CNN, 1 epoch" and run.test_accuracy == 0.75
    assert run.batch_curve == (
        (0.5, pytest.approx(1.2), pytest.approx(0.6)),
        (1.0, pytest.approx(0.9), pytest.approx(0.7)),
    )
    assert run.keras_bytes() == SHIPPED_MODEL.read_bytes() and run.timeline is None
    assert [r.name for r in store.runs("alice-token")[0]] == [run.name]
    assert store.runs("bob-token") == ([], [])
    assert "alice-token" not in str(run.folder)  # the folder is named by a hash, never by the token itself
    assert not list((tmp_path / "staging").iterdir())  # moved, not copied


def test_a_new_store_on_the_same_folder_sees_the_runs_as_after_a_server_restart(tmp_path):
    first = RunStore(tmp_path)
    first.commit("alice-token", staged(first, "kept"))
    assert [r.name for r in RunStore(tmp_path).runs("alice-token")[0]] == ["kept"]


def test_an_incomplete_job_folder_is_refused_and_leaves_the_saved_runs_as_they_were(tmp_path):
    store = RunStore(tmp_path)
    store.commit("alice-token", staged(store, "good"))
    half = staged(store, "half written")
    (half / "run.json").unlink()  # the worker died before its last write
    with pytest.raises(FileNotFoundError):
        store.commit("alice-token", half)
    assert [r.name for r in store.runs("alice-token")[0]] == ["good"]


def test_a_damaged_run_folder_is_skipped_with_a_notice(tmp_path):
    store = RunStore(tmp_path)
    good = store.commit("alice-token", staged(store, "good"))
    bad = store.commit("alice-token", staged(store, "to be damaged"))
    (bad.folder / "run.json").write_text("{not json")
    runs, notices = store.runs("alice-token")
    assert [r.name for r in runs] == [good.name]
    assert len(notices) == 1 and notices[0].startswith(f"A saved run ({bad.run_id}) could not be read and is skipped")


def test_a_truncated_arrays_file_is_skipped_with_a_notice(tmp_path):
    """A disk that filled up mid-write leaves a cut-off arrays.npz: that run is named and skipped, the rest listed."""
    store = RunStore(tmp_path)
    good = store.commit("alice-token", staged(store, "good"))
    bad = store.commit("alice-token", staged(store, "cut off"))
    arrays = bad.folder / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    runs, notices = store.runs("alice-token")
    assert [r.name for r in runs] == [good.name]
    assert len(notices) == 1 and "BadZipFile" in notices[0] and bad.run_id in notices[0]


def test_each_learner_keeps_only_the_newest_runs_and_none_older_than_the_limit(tmp_path):
    store = RunStore(tmp_path, max_runs=3, max_age_days=7)
    for index in range(5):
        store.commit("alice-token", staged(store, f"run {index}"))
    assert [r.name for r in store.runs("alice-token")[0]] == ["run 2", "run 3", "run 4"]
    oldest = store.runs("alice-token")[0][0].folder
    week_ago = time.time() - 8 * 86400
    os.utime(oldest, (week_ago, week_ago))
    store.prune("alice-token")
    assert [r.name for r in store.runs("alice-token")[0]] == ["run 3", "run 4"]


def test_remove_deletes_only_that_learners_run(tmp_path):
    store = RunStore(tmp_path)
    alice = store.commit("alice-token", staged(store, "alice's"))
    bob = store.commit("bob-token", staged(store, "bob's"))
    store.remove("bob-token", alice.run_id)  # bob cannot remove alice's run, even knowing its id
    store.remove("alice-token", "../" + bob.folder.parent.name)  # nor can a path leave the learner's folder
    assert [r.name for r in store.runs("alice-token")[0]] == ["alice's"]
    assert [r.name for r in store.runs("bob-token")[0]] == ["bob's"]
    store.remove("alice-token", alice.run_id)
    assert store.runs("alice-token") == ([], [])


def test_stale_staging_folders_are_cleared_when_the_server_starts(tmp_path):
    store = RunStore(tmp_path)
    stale, fresh = store.staging_folder(), store.staging_folder()
    day_ago = time.time() - 2 * 86400
    os.utime(stale, (day_ago, day_ago))
    RunStore(tmp_path)
    assert not stale.exists() and fresh.exists()
