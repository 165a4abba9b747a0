"""models.serving.sweep: what is past its age goes even when its learner never comes back; aged with os.utime."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import numpy as np

from models.inputs import own_data as od
from models.serving.sweep import LOCK_FILE, Sweeper, sweep
from models.training.job_board import DB_FILE, JobBoard
from models.training.jobs import prune_shared
from models.training.runs import RunStore
from tests.conftest import ROOT
from tests.unit.test_runs import staged

DAY = 86400


def age(path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def small_dataset(name: str) -> od.OwnDataset:
    rng = np.random.default_rng(len(name))
    return od.OwnDataset(
        name=name,
        images=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        labels=np.repeat(np.arange(2), 10),
        class_names=("a", "b"),
        files=tuple(f"x/{i}.png" for i in range(20)),
    )


def test_a_sweep_removes_what_is_past_its_age_and_keeps_the_rest(tmp_path):
    store = RunStore(tmp_path, max_age_days=7)
    old = store.commit("gone-learner", staged(store, "old"))  # a learner who cleared their cookies
    kept = store.commit("active", staged(store, "recent"))
    age(old.folder, 8)
    datasets = od.DatasetStore(tmp_path)
    stale = datasets.save(store.learner_folder("gone-learner"), small_dataset("stale"))
    fresh = datasets.save(store.learner_folder("active"), small_dataset("fresh"))
    age(stale, 8)
    empty = tmp_path / "learners" / "0123456789abcdef0123456789abcdef"
    empty.mkdir()
    age(empty, 1)
    young_empty = tmp_path / "learners" / "fedcba9876543210fedcba9876543210"
    young_empty.mkdir()  # a run may be moving in: left alone
    staging = store.staging_folder()
    age(staging, 2)
    report = sweep(store, now=time.time())
    assert (report.runs, report.datasets, report.skipped) == (1, 1, False)
    assert not old.folder.exists() and kept.folder.exists()
    assert not stale.exists() and fresh.exists()
    assert not empty.exists() and young_empty.exists() and not staging.exists()
    gone = store.learner_folder("gone-learner")
    assert gone.is_dir() and not any(gone.iterdir())  # just emptied: left for the next sweep, an hour on
    age(gone, 1)
    assert sweep(store).folders >= 1 and not gone.exists()
    assert [run.name for run in store.runs("active")[0]] == ["recent"]
    assert "removed 1 runs, 1 datasets" in report.text()


def test_saving_a_dataset_again_keeps_it_from_the_sweep(tmp_path):
    store = RunStore(tmp_path)
    datasets = od.DatasetStore(tmp_path)
    path = datasets.save(store.learner_folder("a"), small_dataset("x"))
    age(path, 8)
    datasets.save(store.learner_folder("a"), small_dataset("x"))
    sweep(store)
    assert path.is_file()


def test_shared_results_past_their_age_go_with_the_sweep(tmp_path):
    store = RunStore(tmp_path, max_age_days=7)
    board = JobBoard(tmp_path / DB_FILE)
    shared = store.share(staged(store, "shared"), "1-abc")
    seat, row, _ = board.add_seat(
        learner="k",
        key="key",
        payload={},
        estimate=1.0,
        train_work=0.0,
        model_key="",
        passes=0.0,
        name="n",
        label="",
        group=0,
        orphan_after=60,
        max_active=4,
    )
    board.finish(row.id, "finished", "", str(shared))
    assert prune_shared(board, store) == 0 and shared.exists()
    with board._write() as db:
        db.execute("UPDATE jobs SET ended = ? WHERE id = ?", (time.time() - 8 * DAY, row.id))
    assert sweep(store, board).shared == 1 and not shared.exists()


def test_one_process_sweeps_while_another_holds_the_lock(tmp_path):
    store = RunStore(tmp_path)
    with open(tmp_path / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert sweep(store).skipped
    assert not sweep(store).skipped


def test_the_daemon_sweeps_at_once_and_the_cli_sweeps_a_folder(tmp_path):
    store = RunStore(tmp_path / "a", max_age_days=7)
    run = store.commit("gone", staged(store, "old"))
    age(run.folder, 8)
    sweeper = Sweeper(store, seconds=3600)
    deadline = time.monotonic() + 20
    while run.folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sweeper.done.set()
    assert not run.folder.exists()
    other = RunStore(tmp_path / "b")
    old = other.commit("gone", staged(other, "old"))
    age(old.folder, 8)
    out = subprocess.run(
        [sys.executable, "-m", "models.serving.sweep", str(tmp_path / "b")], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "removed 1 runs" in out.stdout and not old.folder.exists()
