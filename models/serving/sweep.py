"""The periodic sweep of the data folder: `python -m models.serving.sweep [DATA_DIR]` (for cron), or `Sweeper`, a daemon
thread each server process starts once (components.training_jobs) that sweeps every hour.

It removes what is past its age even when its learner never comes back: learners' runs older than
`max_age_days` (and beyond `max_runs`), their datasets older than that (a dataset saved again is touched, so one
in use stays), empty learner and dataset folders, staging folders older than a day, and the class queue's shared
results older than the runs' lifetime (models.training.jobs.prune_shared), and class sessions a week past their end
(models.serving.classroom). Safe from several processes at once: one sweeps
while the others skip (an flock on `sweep.lock`), and every removal tolerates a file another process removed first.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from models.serving.classroom import DB_FILE as CLASS_DB_FILE
from models.serving.classroom import URL_ENV, ClassStore
from models.training.job_board import DB_FILE, JobBoard
from models.training.runs import RUN_ID, RunStore

SWEEP_SECONDS = 3600.0  # how often each server process sweeps
EMPTY_GRACE = 3600.0  # an empty learner folder younger than this is left alone (a run may be moving in)
LOCK_FILE = "sweep.lock"

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    runs: int = 0
    datasets: int = 0
    folders: int = 0
    shared: int = 0
    classes: int = 0
    skipped: bool = False  # another process was sweeping

    def text(self) -> str:
        if self.skipped:
            return "another process is sweeping: skipped"
        return (
            f"removed {self.runs} runs, {self.datasets} datasets, {self.folders} empty folders, "
            f"{self.shared} shared results, {self.classes} class sessions"
        )


def _count_runs(folder: Path) -> int:
    try:
        return sum(1 for p in folder.iterdir() if RUN_ID.fullmatch(p.name))
    except FileNotFoundError:
        return 0


def _remove_empty(folder: Path, now: float) -> int:
    """Remove `folder` if it is empty and was not changed for EMPTY_GRACE seconds; 1 if removed."""
    try:
        if now - folder.stat().st_mtime < EMPTY_GRACE:
            return 0
        folder.rmdir()  # refuses a folder that is not empty (a run moved in meanwhile)
    except OSError:
        return 0
    return 1


def sweep(store: RunStore, board: JobBoard | None = None, *, now: float | None = None) -> SweepReport:
    """One sweep of the store's data folder (and the queue's shared results when `board` is given)."""
    report = SweepReport()
    with open(store.root / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report.skipped = True
            return report
        try:
            _sweep(store, board, report, time.time() if now is None else now)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return report


def _sweep(store: RunStore, board: JobBoard | None, report: SweepReport, now: float) -> None:
    cutoff = now - store.max_age_days * 86400
    for learner in _folders(store.root / "learners"):
        before = _count_runs(learner)
        store.prune_key(learner.name)
        report.runs += before - _count_runs(learner)
        report.folders += _remove_empty(learner, now)
    for learner in _folders(store.root / "datasets"):
        for path in list(learner.glob("*.npz")) + list(learner.glob(".*.partial")):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    report.datasets += path.suffix == ".npz"
            except FileNotFoundError:
                continue
        report.folders += _remove_empty(learner, now)
    store.remove_old_staging()
    if board is not None:
        from models.training.jobs import prune_shared

        report.shared += prune_shared(board, store)
    classes = class_store(store.root)
    if classes is not None:
        report.classes += classes.sweep(now=now)


def class_store(root: Path, environ=os.environ) -> ClassStore | None:
    """The class sessions' store to sweep: the database $CNN_LAB_DATABASE_URL names, or the data folder's SQLite
    file if one was made (None otherwise: sweeping makes no database)."""
    if environ.get(URL_ENV, "").strip():
        return ClassStore.from_environment(environ)
    if (root / CLASS_DB_FILE).exists():
        return ClassStore(f"sqlite:///{root / CLASS_DB_FILE}")
    return None


def _folders(parent: Path) -> list[Path]:
    try:
        return [p for p in parent.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []


class Sweeper:
    """A daemon thread that sweeps the data folder every `seconds` (the first sweep at once)."""

    def __init__(self, store: RunStore, *, seconds: float = SWEEP_SECONDS) -> None:
        self.store, self.seconds = store, seconds
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="data-folder-sweep", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                queue = self.store.root / DB_FILE
                report = sweep(self.store, JobBoard(queue) if queue.exists() else None)
                log.info("data folder sweep: %s", report.text())
            except Exception:  # a sweep that fails is tried again next time; the server goes on
                log.exception("data folder sweep failed")
            if self.done.wait(self.seconds):
                return


def main(argv: list[str]) -> int:
    """`python -m models.serving.sweep [DATA_DIR]`: one sweep, for cron; DATA_DIR defaults to $CNN_LAB_DATA_DIR."""
    if len(argv) > 1:
        print("usage: python -m models.serving.sweep [DATA_DIR]", file=sys.stderr)
        return 2
    store = RunStore(Path(argv[0]).expanduser()) if argv else RunStore.from_environment(os.environ)
    board = JobBoard(store.root / DB_FILE) if (store.root / DB_FILE).exists() else None
    report = sweep(store, board)
    print(f"{store.root}: {report.text()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
