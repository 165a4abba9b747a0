"""The class's training queue on disk: one SQLite file that every server process of the machine shares.

`$CNN_LAB_DATA_DIR/queue.sqlite3` (WAL mode, so several processes read while one writes) holds:

- **jobs**: one row per distinct run (its settings' key, estimated seconds, state, which process trains it
  and that process's lease, a progress snapshot other processes draw, and the finished run's shared folder);
- **seats**: one row per learner who asked for it (identical settings from several learners train once);
- **learners**: when each learner's last job ended (the fair queue's "waited longest without a job").

Whichever process claims a job trains it; a process that stops renewing its lease (killed, crashed) has its
jobs put back in the queue by the others. Learners are stored as the hash that names their run folder,
never as their token. No TensorFlow here.
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from models.training.job_cost import CORE_MACS_PER_SECOND
from models.training.job_schedule import Planned, Training, Waiting, plan

DB_FILE = "queue.sqlite3"
LEASE_SECONDS = 20.0  # a training job whose process has not renewed its lease for this long is queued again
SPEED_SAMPLES = 16  # finished jobs whose measured speed the estimates follow
# Measured here for a job of the dense baseline on 5,000 images (quiet 2-core machine): about 6 s from the job's
# start to its first batch (a worker process importing TensorFlow, the data, the model) and about 4 s after its
# last (two passes over the 10,000 test images, saving); the server's own jobs replace both once one finishes.
DEFAULT_STARTUP, DEFAULT_TAIL = 6.0, 4.0
KEEP_ENDED_SECONDS = 7 * 86400

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    estimate REAL NOT NULL,
    train_work REAL NOT NULL DEFAULT 0,
    model_key TEXT NOT NULL DEFAULT '',
    passes REAL NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued',
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    owner TEXT,
    lease REAL,
    stop TEXT,
    message TEXT NOT NULL DEFAULT '',
    progress TEXT,
    remaining REAL,
    version INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    staging TEXT,
    startup REAL,
    train_seconds REAL,
    tail REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key, state);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
CREATE TABLE IF NOT EXISTS seats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job INTEGER NOT NULL REFERENCES jobs (id),
    learner TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    grp INTEGER NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL,
    orphan_after REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'waiting',
    run_id TEXT,
    outcome TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    collected INTEGER NOT NULL DEFAULT 0,
    ended REAL
);
CREATE INDEX IF NOT EXISTS seats_by_learner ON seats (learner, state);
CREATE INDEX IF NOT EXISTS seats_by_job ON seats (job);
CREATE TABLE IF NOT EXISTS learners (learner TEXT PRIMARY KEY, last_end REAL NOT NULL);
"""


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """A queue file made by an earlier release gets the columns added since (a server upgraded mid-term)."""
    for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", SCHEMA, re.S):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for line in body.strip().splitlines():
            definition = line.strip().rstrip(",")
            if definition.split()[0] not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")


class LimitReached(ValueError):
    """A learner asked for more jobs than one learner may have queued or training; the message says so."""


@dataclass(frozen=True)
class JobRow:
    id: int
    key: str
    payload: dict
    estimate: float  # seconds of one core by the cost model (models.training.job_cost), for the cost cap
    train_work: float  # multiply-accumulates of its training and validation (models.training.job_cost.work_parts)
    model_key: str  # the model and batch size: jobs with the same key train at the same images per second
    passes: float  # image passes of its training (validation images count a third: forward only)
    state: str  # queued, running, finished, stopped, failed
    created: float
    started: float | None
    ended: float | None
    owner: str | None
    stop: str | None
    message: str
    version: int
    result: str | None


@dataclass(frozen=True)
class SeatRow:
    id: int
    job: int
    learner: str
    name: str
    label: str
    group: int
    created: float
    seen: float
    orphan_after: float
    state: str  # waiting (its job has not ended), done (its run is saved), ended (no run), left (shared; left it)
    run_id: str | None
    outcome: str  # once not waiting: finished, stopped or failed
    message: str
    ended: float | None  # when it stopped waiting (the learner's wait ends here)


def _job(row: sqlite3.Row) -> JobRow:
    return JobRow(
        id=row["id"],
        key=row["key"],
        payload=json.loads(row["payload"]),
        estimate=row["estimate"],
        train_work=row["train_work"],
        model_key=row["model_key"],
        passes=row["passes"],
        state=row["state"],
        created=row["created"],
        started=row["started"],
        ended=row["ended"],
        owner=row["owner"],
        stop=row["stop"],
        message=row["message"],
        version=row["version"],
        result=row["result"],
    )


def _seat(row: sqlite3.Row) -> SeatRow:
    return SeatRow(
        id=row["id"],
        job=row["job"],
        learner=row["learner"],
        name=row["name"],
        label=row["label"],
        group=row["grp"],
        created=row["created"],
        seen=row["seen"],
        orphan_after=row["orphan_after"],
        state=row["state"],
        run_id=row["run_id"],
        outcome=row["outcome"],
        message=row["message"],
        ended=row["ended"],
    )


@dataclass(frozen=True)
class QueueView:
    """The queue at one moment: the plan of the waiting jobs, how many train, and the server's speed factor."""

    planned: dict[int, Planned]
    running: int
    waiting: int
    speed: Speed


@dataclass(frozen=True)
class Speed:
    """How fast this server trains, from its last finished jobs (the defaults until one has finished here): the
    seconds every job costs before its first batch (a process, TensorFlow, the data, the model) and after its last
    (the test passes, saving), and the image passes per second of each model (and batch size) measured here.
    A model not measured yet is estimated from its multiply-accumulates (models.training.job_cost)."""

    startup: float = DEFAULT_STARTUP
    tail: float = DEFAULT_TAIL
    rates: tuple[tuple[str, float], ...] = ()  # (model key, image passes per second)
    jobs: int = 0  # finished jobs measured

    def training_seconds(self, job: JobRow) -> float:
        rate = dict(self.rates).get(job.model_key)
        return job.passes / rate if rate else job.train_work / CORE_MACS_PER_SECOND

    def seconds(self, job: JobRow) -> float:
        """A whole job's expected wall time."""
        return self.startup + self.training_seconds(job) + self.tail


class JobBoard:
    """The shared queue; every method is one short transaction, safe from any thread of any process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self._db()
        db.executescript(SCHEMA)
        _add_missing_columns(db)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- asking for a run

    def add_seat(
        self,
        *,
        learner: str,
        key: str,
        payload: dict,
        estimate: float,
        train_work: float,
        model_key: str,
        passes: float,
        name: str,
        label: str,
        group: int,
        orphan_after: float,
        max_active: int,
        shareable: bool = True,
    ) -> tuple[SeatRow, JobRow, str]:
        """A seat for the learner on the job with these settings: how is "new", "shared" (queued or training
        for others) or "trained" (finished here before: the run only needs copying). LimitReached beyond
        `max_active` queued or training seats."""
        now = time.time()
        with self._write() as db:
            active = db.execute(
                "SELECT COUNT(*) FROM seats WHERE learner = ? AND state = 'waiting'", (learner,)
            ).fetchone()[0]
            if active >= max_active:
                raise LimitReached(limit_message(active, max_active))
            existing = None
            if shareable:
                for row in db.execute(
                    "SELECT * FROM jobs WHERE key = ? AND ((state IN ('queued', 'running') AND stop IS NULL) "
                    "OR (state = 'finished' AND result IS NOT NULL)) ORDER BY state = 'finished', id DESC",
                    (key,),
                ):
                    mine = db.execute(
                        "SELECT 1 FROM seats WHERE job = ? AND learner = ? AND state = 'waiting'", (row["id"], learner)
                    ).fetchone()
                    if mine is None and (row["state"] != "finished" or Path(row["result"]).is_dir()):
                        existing = row
                        break
            if existing is None:
                job_id = db.execute(
                    "INSERT INTO jobs (key, payload, estimate, train_work, model_key, passes, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, json.dumps(payload), estimate, train_work, model_key, passes, now),
                ).lastrowid
                how = "new"
            else:
                job_id = existing["id"]
                how = "trained" if existing["state"] == "finished" else "shared"
            seat_id = db.execute(
                "INSERT INTO seats (job, learner, name, label, grp, created, seen, orphan_after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, learner, name, label, group, now, now, orphan_after),
            ).lastrowid
            seat = _seat(db.execute("SELECT * FROM seats WHERE id = ?", (seat_id,)).fetchone())
            job = _job(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
        return seat, job, how

    def active_seats(self, learner: str) -> int:
        return (
            self._db()
            .execute("SELECT COUNT(*) FROM seats WHERE learner = ? AND state = 'waiting'", (learner,))
            .fetchone()[0]
        )

    # -- reading

    def job(self, job_id: int) -> JobRow:
        return _job(self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def seat(self, seat_id: int) -> SeatRow:
        return _seat(self._db().execute("SELECT * FROM seats WHERE id = ?", (seat_id,)).fetchone())

    def seats_of(self, job_id: int, state: str | None = None) -> list[SeatRow]:
        query = "SELECT * FROM seats WHERE job = ?" + (" AND state = ?" if state else "") + " ORDER BY id"
        return [_seat(row) for row in self._db().execute(query, (job_id, state) if state else (job_id,))]

    def learner_seats(self, learner: str, *, ended: bool) -> list[SeatRow]:
        """The learner's waiting seats, or (ended=True) their ended seats not yet collected, oldest first."""
        query = (
            "SELECT * FROM seats WHERE learner = ? AND state != 'waiting' AND collected = 0 ORDER BY id"
            if ended
            else "SELECT * FROM seats WHERE learner = ? AND state = 'waiting' ORDER BY id"
        )
        return [_seat(row) for row in self._db().execute(query, (learner,))]

    def progress(self, job_id: int) -> tuple[int, str | None]:
        """(version, JSON snapshot) of a job's progress as its training process last published it."""
        row = self._db().execute("SELECT version, progress FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["version"], row["progress"]

    def active_jobs(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]

    def view(self, *, slots: int) -> QueueView:
        """The plan of the queue now: each waiting job's place, start and end."""
        return self._view(self._db(), slots, time.time())

    def _view(self, db: sqlite3.Connection, slots: int, now: float) -> QueueView:
        speed = self._speed(db)
        rows = db.execute("SELECT * FROM jobs WHERE state IN ('queued', 'running')").fetchall()
        jobs = [_job(row) for row in rows]
        measured = {row["id"]: row["remaining"] for row in rows if row["remaining"] is not None}
        seats: dict[int, list[sqlite3.Row]] = {}
        for row in db.execute(
            "SELECT seats.job, seats.learner, seats.created FROM seats JOIN jobs ON jobs.id = seats.job "
            "WHERE seats.state = 'waiting' AND jobs.state IN ('queued', 'running')"
        ):
            seats.setdefault(row["job"], []).append(row)
        last = {row["learner"]: row["last_end"] for row in db.execute("SELECT * FROM learners")}
        waiting = [
            Waiting(
                job.id,
                job.created,
                speed.seconds(job),
                tuple((r["learner"], r["created"]) for r in seats[job.id]),
            )
            for job in jobs
            if job.state == "queued" and job.id in seats
        ]
        training = [
            Training(
                job.id,
                tuple(r["learner"] for r in seats.get(job.id, ())),
                measured.get(job.id, max(0.0, speed.seconds(job) - (now - (job.started or now)))),
            )
            for job in jobs
            if job.state == "running"
        ]
        planned = plan(waiting, training, last, slots=slots, now=now)
        return QueueView({p.job: p for p in planned}, len(training), len(waiting), speed)

    def speed(self) -> Speed:
        return self._speed(self._db())

    def _speed(self, db: sqlite3.Connection) -> Speed:
        rows = db.execute(
            "SELECT model_key, passes, startup, train_seconds, tail FROM jobs WHERE state = 'finished' "
            "AND stop IS NULL AND train_seconds > 0 AND passes > 0 ORDER BY ended DESC LIMIT ?",
            (SPEED_SAMPLES,),
        ).fetchall()
        if not rows:
            return Speed()
        rates: dict[str, list[float]] = {}
        for row in rows:
            rates.setdefault(row["model_key"], []).append(row["passes"] / row["train_seconds"])
        return Speed(
            statistics.median(row["startup"] for row in rows),
            statistics.median(row["tail"] for row in rows),
            tuple((key, statistics.median(values)) for key, values in rates.items()),
            len(rows),
        )

    # -- the process that trains

    def claim(self, owner: str, *, slots: int) -> JobRow | None:
        """Take the job the fair queue starts now, if a slot is free, for `owner` to train."""
        now = time.time()
        with self._write() as db:
            view = self._view(db, slots, now)
            first = min(view.planned.values(), key=lambda p: p.place, default=None)
            if first is None or first.start > 0 or view.running >= slots:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', owner = ?, lease = ?, started = ?, version = version + 1, "
                "progress = NULL WHERE id = ?",
                (owner, now, now, first.job),
            )
            return _job(db.execute("SELECT * FROM jobs WHERE id = ?", (first.job,)).fetchone())

    def renew(self, owner: str) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET lease = ? WHERE owner = ? AND state = 'running'", (time.time(), owner))

    def requeue_lost(
        self, owner: str, finished: Callable[[str], bool], lease_seconds: float = LEASE_SECONDS
    ) -> list[int]:
        """Jobs whose training process stopped renewing its lease (it died): back in the queue, except those
        whose run was already complete in its staging folder (`finished`), which `owner` takes over to hand out."""
        cutoff = time.time() - lease_seconds
        taken = []
        with self._write() as db:
            rows = db.execute(
                "SELECT id, staging FROM jobs WHERE state = 'running' AND lease < ?", (cutoff,)
            ).fetchall()
            for row in rows:
                if row["staging"] and finished(row["staging"]):
                    db.execute("UPDATE jobs SET owner = ?, lease = ? WHERE id = ?", (owner, time.time(), row["id"]))
                    taken.append(row["id"])
                    continue
                db.execute(
                    "UPDATE jobs SET state = 'queued', owner = NULL, lease = NULL, started = NULL, progress = NULL, "
                    "remaining = NULL, staging = NULL, version = version + 1, message = ? WHERE id = ?",
                    ("The server process that trained it stopped; it starts again from the beginning.", row["id"]),
                )
        return taken

    def staging_of(self, job_id: int) -> str | None:
        return self._db().execute("SELECT staging FROM jobs WHERE id = ?", (job_id,)).fetchone()["staging"]

    def set_staging(self, job_id: int, folder: str) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET staging = ? WHERE id = ?", (folder, job_id))

    def publish(self, job_id: int, snapshot: dict, remaining: float | None) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET progress = ?, remaining = ?, version = version + 1 WHERE id = ?",
                (json.dumps(snapshot), remaining, job_id),
            )

    def stop_reason(self, job_id: int) -> str | None:
        return self._db().execute("SELECT stop FROM jobs WHERE id = ?", (job_id,)).fetchone()["stop"]

    def finish(
        self,
        job_id: int,
        state: str,
        message: str,
        result: str | None = None,
        timing: tuple[float, float, float] | None = None,
    ) -> None:
        """End the job, with its measured (startup, training, tail) seconds when it trained to the end; its
        learners' waiting ends now (the fair queue counts from here)."""
        now = time.time()
        startup, train_seconds, tail = timing or (None, None, None)
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = ?, message = ?, result = ?, ended = ?, owner = NULL, version = version + 1, "
                "startup = ?, train_seconds = ?, tail = ? WHERE id = ?",
                (state, message, result, now, startup, train_seconds, tail, job_id),
            )
            for row in db.execute("SELECT DISTINCT learner FROM seats WHERE job = ?", (job_id,)).fetchall():
                db.execute(
                    "INSERT INTO learners (learner, last_end) VALUES (?, ?) "
                    "ON CONFLICT (learner) DO UPDATE SET last_end = excluded.last_end",
                    (row["learner"], now),
                )
            db.execute(
                "UPDATE seats SET state = 'ended', outcome = ?, message = ?, ended = ? "
                "WHERE job = ? AND state = 'waiting'",
                ("failed" if state == "failed" else "stopped", message, now, job_id),
            )
            old = now - KEEP_ENDED_SECONDS
            db.execute("DELETE FROM seats WHERE state != 'waiting' AND created < ?", (old,))
            db.execute("DELETE FROM jobs WHERE state NOT IN ('queued', 'running') AND ended < ?", (old,))

    def forget_result(self, job_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET result = NULL WHERE id = ?", (job_id,))

    def results_older_than(self, cutoff: float) -> list[tuple[int, str]]:
        rows = (
            self._db()
            .execute("SELECT id, result FROM jobs WHERE result IS NOT NULL AND ended < ?", (cutoff,))
            .fetchall()
        )
        return [(row["id"], row["result"]) for row in rows]

    # -- seats

    def seat_done(self, seat_id: int, run_id: str, outcome: str, message: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE seats SET state = 'done', run_id = ?, outcome = ?, message = ?, ended = ? WHERE id = ?",
                (run_id, outcome, message, time.time(), seat_id),
            )

    def end_seat(self, seat_id: int, message: str, outcome: str = "stopped") -> None:
        """A seat that ends without a run (cancelled, unwatched in the queue, a copy that failed)."""
        with self._write() as db:
            db.execute(
                "UPDATE seats SET state = 'ended', outcome = ?, message = ?, ended = ? "
                "WHERE id = ? AND state = 'waiting'",
                (outcome, message, time.time(), seat_id),
            )

    def leave_or_stop(self, seat_id: int, reason: str) -> str:
        """The learner's Stop: "left" when others still wait for the run (it goes on for them), "cancelled" when
        it was queued for them alone, else "stopping" (the job stops after its current batch)."""
        with self._write() as db:
            seat = db.execute("SELECT * FROM seats WHERE id = ?", (seat_id,)).fetchone()
            if seat is None or seat["state"] != "waiting":
                return "ended"
            job = db.execute("SELECT * FROM jobs WHERE id = ?", (seat["job"],)).fetchone()
            others = db.execute(
                "SELECT COUNT(*) FROM seats WHERE job = ? AND state = 'waiting' AND id != ?", (job["id"], seat_id)
            ).fetchone()[0]
            if others:
                db.execute(
                    "UPDATE seats SET state = 'left', outcome = 'stopped', message = ?, ended = ? WHERE id = ?",
                    (left_message(others, job["state"] == "running"), time.time(), seat_id),
                )
                return "left"
            if job["state"] == "queued":
                message = "Stopped before it started."
                db.execute(
                    "UPDATE seats SET state = 'ended', outcome = 'stopped', message = ?, ended = ? WHERE id = ?",
                    (message, time.time(), seat_id),
                )
                db.execute(
                    "UPDATE jobs SET state = 'stopped', message = ?, ended = ?, stop = ? WHERE id = ?",
                    (message, time.time(), reason, job["id"]),
                )
                return "cancelled"
            db.execute("UPDATE jobs SET stop = COALESCE(stop, ?) WHERE id = ?", (reason, job["id"]))
            return "stopping"

    def touch(self, seat_ids: list[int]) -> None:
        """Someone watches these seats (a page's heartbeat, or a connected session of their learner)."""
        if not seat_ids:
            return
        now = time.time()
        with self._write() as db:
            db.executemany("UPDATE seats SET seen = ? WHERE id = ?", [(now, seat) for seat in seat_ids])

    def collected(self, seat_ids: list[int]) -> None:
        with self._write() as db:
            db.executemany("UPDATE seats SET collected = 1 WHERE id = ?", [(seat,) for seat in seat_ids])

    def queued_jobs(self) -> list[int]:
        return [row["id"] for row in self._db().execute("SELECT id FROM jobs WHERE state = 'queued'")]

    def drop_if_unwatched(self, job_id: int) -> bool:
        """A queued job none of whose learners still wait leaves the queue; True if it did."""
        with self._write() as db:
            waiting = db.execute(
                "SELECT COUNT(*) FROM seats WHERE job = ? AND state = 'waiting'", (job_id,)
            ).fetchone()[0]
            if waiting:
                return False
            cursor = db.execute(
                "UPDATE jobs SET state = 'stopped', ended = ?, message = 'Nobody waits for it any more.' "
                "WHERE id = ? AND state = 'queued'",
                (time.time(), job_id),
            )
            return cursor.rowcount > 0


def limit_message(active: int, max_active: int) -> str:
    return (
        f"Not started: you already have {active} run(s) queued or training, and each learner may have at most "
        f"{max_active} at once on this server (one training, {max_active - 1} waiting), so that everyone in the "
        "class gets a turn. Wait for one to finish, or cancel one."
    )


def left_message(others: int, training: bool) -> str:
    learners = "learner" if others == 1 else "learners"
    where = "trains on" if training else "stays queued"
    return (
        f"You left this shared run: {others} other {learners} asked for the same settings, so it {where} for "
        "them and was not stopped. Start it again to get it back."
    )
