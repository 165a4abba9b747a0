"""30 students press Train (issue 24): a class training at once on one served app, as websocket clients.

Each learner is a ``benchmarks/ws_client.py`` session with its own cookies (its own ``cnn_lab_learner`` token,
as a browser that visited before holds it, so its runs and jobs are its own). It opens Training by a link
(README "Sharing a view": ``/training?model=&images=&epochs=&batch=&seed=``), and the class presses Train
spread over ``--spread`` seconds (default 10), in learner order. Then every learner keeps watching exactly as
a browser does: a fragment rerun every ``run_every`` interval of the live fragment (``auto_rerun``), the full
rerun the fragment asks for with ``st.rerun`` when the learner's job list changes (ws_client follows the
chain to its end), until its run is finished (the job leaves the live list and the saved run's headline
"Test accuracy **...**" is on the page). It never stops polling: a job nobody watches for 30 s is stopped.

- ``--same`` (case a): everyone on the default settings (course CNN, 20,000 images, 5 epochs, batch 32, seed
  0). Identical runs train once, so every learner must have its run within 4 minutes of its click (target),
  named as its own ("Run 1: ...", the name its status line showed) and saying it was shared.
- ``--seeds`` (case b): every learner its own seed (1..N) on a small recipe (default: the dense baseline,
  5,000 images, 1 epoch: the smallest the link allows; the cost model's figure is printed). From the status
  lines under Train it records each learner's place in line and "ready in about" estimate right after Train
  and every ~10 s, and when the run really appeared: the fair queue's order (which learner's job trained
  when), the ETA error per learner (estimate / real remaining wait - 1) with its median and p90 (target:
  within 25%), and that no learner had more than one job training, nor the server more than its slots.
- ``--bad-input`` (alone or with a case): one more learner queues 4 runs (seeds 9000-9003), asks for a 5th
  (expects the per-learner limit message and no 5th job), and for a run over the cost cap (60,000 images x
  10 epochs: expects "Not started: this run would train for about ..."), then watches its 4 runs to the end,
  never more than one of them training.
- ``--calibrate``: one learner trains the default run; prints the multiply-accumulates per second it implies
  against ``models/training/job_cost.py``'s ``CORE_MACS_PER_SECOND``.

Errors (exit 1): an exception element anywhere, a failed rerun, a learner without its run, a run not named as
its job or (case a) not shared / (case b) shared, a refused Train that should have started, a limit not
enforced, two jobs of one learner training at once, more jobs training than slots, a fair-queue pick that was
not the learner who waited longest, a traceback in the server's log. Missed timing targets are reported, not
errors.

**The server**: by default one served as ``make run`` serves it (``benchmarks/load_ws.py``'s way: the config
file and ``STREAMLIT_*`` variables decide), with a throwaway ``CNN_LAB_DATA_DIR`` (a temp folder) so no earlier
run is shared into the measurement; its queue file is then read at the end for the order, the overlaps and
the speed. ``--url URL`` measures a running server (e.g. ``make serve``'s nginx: each learner keeps its own
cookies, so it stays on its replica); ``--data-dir`` then names its data folder to read the queue from
(else the order comes from the status lines alone). Printed: time from Train to the finished run (p50 / p90 /
max), the order, the ETA errors, the live fragment's rerun times, the load average (start, end, highest
sampled each second) and each server process's and each ``models.networks.worker``'s memory (RSS, VmHWM from /proc).

Usage: python benchmarks/class_train.py (--same | --seeds | --calibrate) [--bad-input] [--learners 30]
       [--spread 10] [--model dense --images 5000 --epochs 1 --batch 32] [--url URL [--data-dir DIR]
       [--pids PID,...]] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load_ws import Monitor, percentile, serve_as_make_run  # noqa: E402
from benchmarks.memory import BUDGET_MB  # noqa: E402
from benchmarks.ws_client import ClientError, RunResult, Session  # noqa: E402
from models.design.config import COURSE_CNN  # noqa: E402
from models.training.job_board import DB_FILE  # noqa: E402
from models.training.job_cost import CORE_MACS_PER_SECOND, core_seconds, job_work, max_job_seconds, minutes_text  # noqa: E402
from models.training.recipes import RunSpec, TrainConfig  # noqa: E402
from models.training.runs import DATA_DIR_ENV, RunStore  # noqa: E402

LEARNER_COOKIE = "cnn_lab_learner"  # components.framework.learner.COOKIE
SAME_TARGET = 240.0  # case a: every learner's run within 4 minutes of its click
ETA_TARGET = 0.25  # case b: "ready in about" within 25% of the real remaining wait
SAMPLE_EVERY = 10.0  # seconds between the recorded status samples of a learner
HEADLINE = "Test accuracy **"
SHARED = "Shared: other learners asked for exactly these settings"
LIMIT_TEXT = "each learner may have at most"
COST_TEXT = "Not started: this run would train for about"
NAMES = {-1: "bad", -2: "?", -3: "teacher"}  # learner numbers that are not the class's
PRIME_SEED = 9999  # --prime: the teacher's run before the class
BAD_SEEDS = range(9000, 9004)  # the bad-input learner's four runs; 9004 is the refused fifth
NAME = r"\*\*(?P<name>[^*]+)\*\*: "
QUEUED = re.compile(
    NAME + r"queued, number (?P<place>\d+) in line(?:, (?:(?P<next>next free slot)|starts in about (?P<start>[^,]+)), "
    r"ready in about (?P<ready>.+?))? \((?P<busy>\d+) of (?P<slots>\d+) training slots busy\)"
    r"(?: - shared: (?P<shared>\d+) other)?"
)
TRAINING = re.compile(
    NAME + r"epoch (?P<epoch>\d+) of (?P<epochs>\d+), batch [\d,]+/[\d,]+ - [\d,]+ images/s - ETA (?P<eta>.+?)"
    r"(?: - shared: (?P<shared>\d+) other.*)?$"
)
OTHER_STATES = {"starting (loading": "starting", "building the model": "building", "training done;": "evaluating"}
DURATION = re.compile(r"^(?:(\d+) min )?(\d+) s$")


def seconds_of(text: str | None) -> float | None:
    """'2 min 10 s' -> 130.0, '40 s' -> 40.0 (components.training_jobs.duration's format)."""
    found = DURATION.match((text or "").strip())
    return None if found is None else int(found[1] or 0) * 60 + int(found[2])


@dataclass
class Seen:
    """One status line under Train, as a learner saw it at time `t` (time.time())."""

    t: float
    name: str
    kind: str  # queued, starting, building, training, evaluating, unknown
    text: str
    place: int | None = None
    starts_in: float | None = None
    ready_in: float | None = None
    slots: int | None = None
    shared: int = 0
    eta: float | None = None  # while training: the ETA of its batches


def parse_status(text: str, t: float) -> Seen:
    if found := QUEUED.match(text):
        start = 0.0 if found["next"] else seconds_of(found["start"])
        return Seen(
            t,
            found["name"],
            "queued",
            text,
            place=int(found["place"]),
            starts_in=start,
            ready_in=seconds_of(found["ready"]),
            slots=int(found["slots"]),
            shared=int(found["shared"] or 0),
        )
    if found := TRAINING.match(text):
        return Seen(t, found["name"], "training", text, shared=int(found["shared"] or 0), eta=seconds_of(found["eta"]))
    name = re.match(NAME, text)
    kind = next((kind for start, kind in OTHER_STATES.items() if start in text), "unknown")
    return Seen(t, name["name"] if name else "", kind, text)


@dataclass(frozen=True)
class Recipe:
    """The settings a learner's link opens Training with."""

    model: str = "course"  # course | dense
    images: int = 20_000
    epochs: int = 5
    batch: int = 32
    seed: int = 0

    def query(self) -> dict[str, object]:
        return {
            "model": self.model,
            "images": self.images,
            "epochs": self.epochs,
            "batch": self.batch,
            "seed": self.seed,
        }

    def spec(self) -> RunSpec:
        """The RunSpec the page builds from these settings (validation split at the page's 0.1)."""
        return RunSpec(
            architecture=COURSE_CNN if self.model == "course" else None,
            recipe=TrainConfig(epochs=self.epochs, batch_size=self.batch, seed=self.seed),
            train_images=self.images,
            validation_split=0.1,
        )


@dataclass
class Shared:
    """What every learner writes into: errors, notes, the live fragment's rerun times."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)  # seconds of each live-fragment rerun (st.rerun chain included)
    full_reruns: int = 0  # ticks whose fragment asked for a full rerun (the job list changed)
    training_now: dict[str, tuple[float, float]] = field(default_factory=dict)  # "learner/job" -> seen training


class Learner:
    """One browser tab on Training: open by link, press Train at its time, watch until its runs are saved."""

    def __init__(
        self, number: int, url: str, recipe: Recipe, args, shared: Shared, expect_runs: int = 1, name: str = ""
    ) -> None:
        self.number, self.recipe, self.args, self.shared = number, recipe, args, shared
        self.label = name or f"learner {number}"
        self.token = secrets.token_urlsafe(32)
        self.key = RunStore.learner_key(self.token)
        self.session = Session(url, timeout=args.timeout, name=f"learner{number}", cookies={LEARNER_COOKIE: self.token})
        self.expect_runs = expect_runs
        self.seen: list[Seen] = []
        self.clicked: float | None = None  # time.time() when Train was sent
        self.click_done: float | None = None  # ... and when its reply had arrived
        self.started: float | None = None  # first status that was not "queued"
        self.finished: float | None = None  # the reply that showed the finished run
        self.job_names: set[str] = set()
        self.runs: list[str] = []
        self.headline = ""
        self.alerts: list[str] = []

    def error(self, text: str) -> None:
        self.shared.errors.append(f"{self.label}: {text}"[:400])

    def check(self, run: RunResult, what: str) -> None:
        for exception in run.exceptions:
            self.error(f"{what}: exception {exception[:250]}")

    def observe(self, run: RunResult | None = None) -> list[Seen]:
        """Read the page as it is now: the status lines, the saved runs, the headline, the alerts."""
        s, now = self.session, time.time()
        rows = [parse_status(p.text, now) for p in s.elements("progress")]
        self.seen += rows
        for row in rows:
            self.job_names.add(row.name)
            if row.kind != "queued":
                self.started = self.started or now
                first, _ = self.shared.training_now.get(f"{self.number}/{row.name}", (now, now))
                self.shared.training_now[f"{self.number}/{row.name}"] = (first, now)
        training = [row.name for row in rows if row.kind != "queued"]
        if len(training) > 1:
            self.error(f"{len(training)} of its jobs training at once: {training}")
        picker = next((w for w in s.widgets.values() if w.kind == "selectbox" and w.label == "Run"), None)
        self.runs = list(picker.options) if picker is not None else []
        self.headline = next((line for line in s.page_text().splitlines() if line.startswith(HEADLINE)), "")
        self.alerts = [alert.body for alert in s.elements("alert")]
        if not rows and len(self.runs) >= self.expect_runs and self.finished is None:
            self.finished = now
        return rows

    async def open(self) -> bool:
        try:
            await self.session.connect("training")
            run = await self.session.visit("training", self.recipe.query())
        except (ClientError, OSError) as error:
            self.error(f"open Training: {error!r}")
            return False
        self.check(run, "open Training")
        notices = [a for a in (alert.body for alert in self.session.elements("alert")) if "ignored" in a.lower()]
        if notices:
            self.error(f"the link was not taken as it is: {notices[0][:200]}")
        return True

    async def press_train(self, what: str = "Train") -> RunResult | None:
        button = next((w for w in self.session.widgets.values() if w.key == "training_train"), None)
        if button is None or button.disabled:
            self.error(f"{what}: the Train button is {'missing' if button is None else 'disabled'}")
            return None
        self.clicked = self.clicked or time.time()
        try:
            run = await self.session.click("training_train")
        except (ClientError, OSError) as error:
            self.error(f"{what}: {error!r}")
            return None
        self.click_done = self.click_done or time.time()
        self.check(run, what)
        self.observe(run)
        return run

    async def train(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        run = await self.press_train()
        if run is None:
            return
        refused = [a for a in self.alerts if a.startswith("Not started")]
        if refused:
            self.error(f"Train was refused: {refused[0][:250]}")
        elif not self.seen and self.finished is None:
            self.error("no status line under Train after the click")

    async def watch(self, deadline: float) -> None:
        """Poll the live fragment as the browser's timer does until the runs are saved (never give up early)."""
        s = self.session
        while self.finished is None:
            if time.time() > deadline:
                self.error(f"no finished run within {self.args.deadline:.0f} s of the start")
                return
            if not s.auto_reruns:
                self.error(f"no live fragment, yet {len(self.runs)} of {self.expect_runs} runs; alerts {self.alerts}")
                return
            fragment, interval = next(iter(s.auto_reruns.items()))
            await asyncio.sleep(interval)
            try:
                run = await s.auto_rerun(fragment)
            except (ClientError, OSError) as error:
                self.error(f"live tick: {error!r}")
                return
            self.shared.ticks.append(run.seconds)
            self.shared.full_reruns += run.runs > 1
            self.check(run, "live tick")
            self.observe(run)
        failed = [a for a in self.alerts if "failed" in a.lower() or a.startswith("Run ")]
        if failed:
            self.error(f"the page reports: {failed[0][:250]}")

    def judge(self, same: bool) -> None:
        """Its runs: there, named as its jobs, shared (case a) or not (different seeds)."""
        if self.finished is None:
            return
        strangers = [name for name in self.runs if name not in self.job_names]
        if strangers:
            self.error(f"runs not named as its jobs {sorted(self.job_names)}: {strangers}")
        if not self.headline:
            self.error("no 'Test accuracy' headline for its run")
        elif same and SHARED not in self.headline:
            self.error(f"its run does not say it was shared: {self.headline[:200]}")
        elif not same and SHARED in self.headline:
            self.error(f"its run (its own seed) says it was shared: {self.headline[:200]}")

    async def close(self) -> None:
        await self.session.close()


class BadInputLearner(Learner):
    """Four runs queued, then a fifth (the limit) and one over the cost cap (refused); its runs to the end."""

    def __init__(self, url: str, recipe: Recipe, args, shared: Shared) -> None:
        first = Recipe(**{**asdict(recipe), "seed": BAD_SEEDS[0]})
        super().__init__(-1, url, first, args, shared, len(BAD_SEEDS), name="bad-input learner")
        self.limit_checked = self.cost_checked = False

    async def set(self, key: str, value) -> None:
        try:
            run = await self.session.set(key, value)
        except (ClientError, OSError, KeyError, ValueError) as error:
            self.error(f"set {key}: {error!r}")
            return
        self.check(run, f"set {key}")
        self.observe(run)

    async def refused(self, what: str, expected: str) -> None:
        """Press Train and expect it refused with `expected` in an alert and no new job row."""
        before = len(self.session.elements("progress"))
        if await self.press_train(what) is None:
            return
        after = len(self.session.elements("progress"))
        shown = [a for a in self.alerts if expected in a]
        if not shown or after > before:
            self.error(f"{what}: not refused (job rows {before} -> {after}; alerts {self.alerts})")
        else:
            print(f"bad input: {what}: refused: {shown[0][:160]}...", flush=True)

    async def train(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        for number, seed in enumerate(BAD_SEEDS):
            if number:
                await self.set("training_seed", seed)
            await self.press_train(f"Train (run {number + 1} of {len(BAD_SEEDS)})")
            refused = [a for a in self.alerts if a.startswith("Not started")]
            if refused:
                self.error(f"run {number + 1} was refused: {refused[0][:200]}")
        active = len(self.session.elements("progress"))
        await self.set("training_seed", BAD_SEEDS[-1] + 1)
        if active == len(BAD_SEEDS):
            await self.refused("a 5th run", LIMIT_TEXT)
            self.limit_checked = True
        else:
            self.shared.notes.append(f"the 5th-run limit was not tried: only {active} of its runs were still active")
        await self.set("training_model", "Course CNN")
        await self.set("training_images", "60,000")
        await self.set("training_epochs", 10)
        await self.refused("the course CNN on 60,000 images x 10 epochs", COST_TEXT)
        self.cost_checked = True


# ---------------------------------------------------------------------- the queue's file, read afterwards


@dataclass
class JobRecord:
    id: int
    learners: list[int]  # learner numbers (NAMES: the bad-input learner, the teacher, someone else)
    state: str
    created: float
    started: float | None
    ended: float | None
    estimate: float
    seats: list[tuple[int, float]]  # (learner number, asked at)
    spec: RunSpec


def read_queue(path: Path, learners: list[Learner]) -> list[JobRecord]:
    numbers = {learner.key: learner.number for learner in learners}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        seats: dict[int, list[tuple[int, float]]] = {}
        for row in db.execute("SELECT job, learner, created FROM seats ORDER BY id"):
            seats.setdefault(row["job"], []).append((numbers.get(row["learner"], -2), row["created"]))
        return [
            JobRecord(
                row["id"],
                sorted({number for number, _ in seats.get(row["id"], [])}),
                row["state"],
                row["created"],
                row["started"],
                row["ended"],
                row["estimate"],
                seats.get(row["id"], []),
                RunSpec.from_payload(json.loads(row["payload"])["spec"]),
            )
            for row in db.execute("SELECT * FROM jobs ORDER BY id")
        ]
    finally:
        db.close()


def overlaps(intervals: list[tuple[float, float, object]]) -> int:
    """The most intervals open at one moment."""
    events = sorted([(start, 1) for start, _, _ in intervals] + [(end, -1) for _, end, _ in intervals])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def fair_pick_violations(jobs: list[JobRecord], margin: float = 0.5) -> list[str]:
    """Each claim must go to the job whose free learner waited longest (models.training.job_schedule's rule): waiting
    since asking or since their last job ended, whichever is later; learners with a job training skipped."""
    trained = sorted((j for j in jobs if j.started is not None), key=lambda j: j.started or 0.0)
    problems = []
    for job in trained:
        at = job.started or 0.0
        busy = {
            n for j in trained if j is not job and (j.started or 0) < at < (j.ended or float("inf")) for n in j.learners
        }
        last: dict[int, float] = {}
        for other in jobs:
            if other.ended is not None and other.ended <= at:
                for number in other.learners:
                    last[number] = max(last.get(number, 0.0), other.ended)
        best: tuple[float, float, int] | None = None
        for other in jobs:
            waiting = other.created <= at - margin and (other.started is None or other.started >= at)
            if not waiting or (other.ended is not None and other.ended < at):
                continue
            since = [max(asked, last.get(n, 0.0)) for n, asked in other.seats if n not in busy and asked <= at]
            if since:
                key = (min(since), other.created, other.id)
                best = key if best is None or key < best else best
        if best is not None and best[2] != job.id:
            problems.append(
                f"job {job.id} (learners {job.learners}) started at {at:.1f}, but job {best[2]} had waited longest"
            )
    return problems


# ---------------------------------------------------------------------- the class


@dataclass
class Cast:
    """Who takes part: the class, and maybe the teacher (--prime) and the bad-input learner."""

    learners: list[Learner]
    teacher: Learner | None = None
    bad: BadInputLearner | None = None

    @property
    def extras(self) -> list[Learner]:
        return [one for one in (self.teacher, self.bad) if one is not None]


async def run_class(args, cast: Cast, shared: Shared) -> float:
    """Open Training for everyone, press Train spread over args.spread s, watch to the end; t0 (time.time())."""
    deadline = time.time() + args.deadline

    async def one(learner: Learner, at: float) -> None:
        try:
            await learner.train(at)
            if learner.clicked is not None:
                await learner.watch(deadline)
        finally:
            await learner.close()

    if cast.teacher is not None:  # the teacher tries the recipe first: the server has measured its speed
        if await cast.teacher.open():
            await one(cast.teacher, time.time())
        print(f"teacher's run: {cast.teacher.runs} after {rel(cast.teacher.finished, cast.teacher.clicked or 0)} s")
    everyone = ([cast.bad] if cast.bad else []) + cast.learners
    opened = await everyone[0].open()  # the first visit warms the page up
    arrivals = [asyncio.create_task(learner.open()) for learner in everyone[1:]]
    if not all([opened, *await asyncio.gather(*arrivals)]):
        shared.notes.append("some learners could not open Training")
    t0 = time.time() + 1.0
    last = max(len(cast.learners) - 1, 1)
    tasks = [one(learner, t0 + args.spread * i / last) for i, learner in enumerate(cast.learners)]
    if cast.bad is not None:
        tasks.insert(0, one(cast.bad, t0))  # it asks first: its later runs must still not hold the class up
    await asyncio.gather(*tasks)
    return t0


# ---------------------------------------------------------------------- the report


def pct(values: list[float]) -> str:
    if not values:
        return "none"
    return f"p50 {percentile(values, 50):.1f} s, p90 {percentile(values, 90):.1f} s, max {max(values):.1f} s"


def eta_errors(learner: Learner) -> list[tuple[float, int, float, float, float, float]]:
    """(seconds after Train, place, estimate, real remaining, error, time) right after Train and every ~10 s."""
    if learner.finished is None or learner.click_done is None:
        return []
    queued = [s for s in learner.seen if s.kind == "queued" and s.ready_in is not None and s.t < learner.finished]
    samples, step = [], 0
    for seen in queued:
        after = seen.t - learner.click_done
        if after >= step * SAMPLE_EVERY - 0.01 and seen.ready_in is not None and seen.place is not None:
            real = learner.finished - seen.t
            samples.append((after, seen.place, seen.ready_in, real, seen.ready_in / real - 1, seen.t))
            step = int(after / SAMPLE_EVERY) + 1
    return samples


def report(args, t0: float, learners: list[Learner], extras: list[Learner], shared: Shared, jobs, server: str) -> dict:
    """Print the figures and checks; returns them for --json. `extras`: the teacher's and the bad-input learner."""
    print(f"\n{describe(args)}; server: {server}")
    everyone = learners + extras
    bad = [one for one in extras if isinstance(one, BadInputLearner)]
    waits = {
        learner.number: learner.finished - learner.clicked
        for learner in learners
        if learner.finished is not None and learner.clicked is not None
    }
    for learner in everyone:
        if (
            learner.clicked is not None
            and learner.finished is None
            and not any(e.startswith(f"{learner.label}:") for e in shared.errors)
        ):
            learner.error("no finished run")
        learner.judge(same=args.same)
    print(
        f"time from Train to the finished run on the page, {len(waits)} of {len(learners)} learners: "
        + pct(list(waits.values()))
    )
    if args.same:
        worst = max(waits.values(), default=float("nan"))
        print(
            f"target (case a): every learner within {SAME_TARGET:.0f} s: max {worst:.1f} s "
            f"(ratio {worst / SAME_TARGET:.2f}); {sum(w > SAME_TARGET for w in waits.values())} over"
        )
        shared_lines = [s.shared for learner in learners for s in learner.seen if s.shared]
        print(
            f"status lines saying 'shared: N other learners': {len(shared_lines)}, "
            f"N up to {max(shared_lines, default=0)}"
        )
    figures: dict = {"waits": waits}
    # the order, from the status lines (and from the queue's file when it can be read)
    rows = []
    for learner in sorted(learners + bad, key=lambda one: one.started or float("inf")):
        samples = eta_errors(learner)
        first = samples[0] if samples else None
        rows.append((learner, samples, first))
    if not args.same:
        print(
            "\nper learner (seconds from the first click; place and 'ready in about' right after Train, the real wait,"
        )
        print("the error estimate/real - 1; then the median |error| over the samples every ~10 s while queued):")
        print(
            f"{'learner':>8} {'click':>6} {'place':>5} {'ready in':>8} {'real':>6} {'error':>6} {'samples':>7} "
            f"{'med|err|':>8} {'start':>6} {'done':>6}  run"
        )
        for learner, samples, first in rows:
            name = NAMES.get(learner.number, str(learner.number))
            med = statistics.median(abs(s[4]) for s in samples) if samples else float("nan")
            print(
                f"{name:>8} {rel(learner.clicked, t0):>6} {first[1] if first else '-':>5} "
                f"{(f'{first[2]:.0f}' if first else '-'):>8} {(f'{first[3]:.0f}' if first else '-'):>6} "
                f"{(f'{first[4]:+.0%}' if first else '-'):>6} {len(samples):>7} {med:>8.0%} "
                f"{rel(learner.started, t0):>6} {rel(learner.finished, t0):>6}  {', '.join(learner.runs)[:60]}"
            )
        at_train = [abs(first[4]) for _, _, first in rows if first]
        pooled = [abs(s[4]) for _, samples, _ in rows for s in samples]
        starts = []
        for learner, _, _ in rows:
            queued = [s for s in learner.seen if s.kind == "queued" and s.starts_in is not None]
            if queued and learner.started is not None and learner.started - queued[0].t > 5:
                starts.append(abs((queued[0].starts_in or 0) / (learner.started - queued[0].t) - 1))
        ends = [one.finished for one in everyone if one.finished is not None]
        measured = [abs(s[4]) for _, samples, _ in rows for s in samples if ends and s[5] >= min(ends)]
        for what, values in (
            ("'ready in about' right after Train", at_train),
            ("every ~10-s sample while queued", pooled),
            ("samples once a job had finished (the server's speed measured)", measured),
        ):
            print(
                f"ETA error |estimate / real - 1|, {what}: median {percentile(values, 50):.0%}, "
                f"p90 {percentile(values, 90):.0%} ({len(values)}); target within {ETA_TARGET:.0%}: "
                f"p90 ratio {percentile(values, 90) / ETA_TARGET:.2f}"
            )
        print(
            "'starts in about' right after Train vs the real start (waits over 5 s): "
            f"median {percentile(starts, 50):.0%}, p90 {percentile(starts, 90):.0%} ({len(starts)} learners)"
        )
        figures.update(eta_at_train=at_train, eta_samples=pooled, eta_measured=measured, start_errors=starts)
        seen_order = [NAMES.get(one.number, str(one.number)) for one, _, _ in rows if one.started is not None]
        print("order the jobs were seen training (status lines): " + ", ".join(seen_order))
        slots = max((s.slots or 0 for learner in everyone for s in learner.seen), default=0)
        seen_overlap = overlaps([(a, b, key) for key, (a, b) in shared.training_now.items()])
        print(f"most jobs seen training at one moment: {seen_overlap} (slots: {slots})")
        if slots and seen_overlap > slots:
            shared.errors.append(f"{seen_overlap} jobs seen training at once on {slots} slot(s)")
    if jobs:
        queue_report(args, t0, jobs, shared, figures)
    ticks = shared.ticks
    print(
        f"live fragment reruns: {len(ticks)}, {pct(ticks)}; {shared.full_reruns} of them asked for a full rerun "
        "(the job list changed)"
    )
    figures["ticks"] = ticks
    return figures


def rel(when: float | None, t0: float) -> str:
    return "-" if when is None else f"{when - t0:.0f}"


def queue_report(args, t0: float, jobs: list[JobRecord], shared: Shared, figures: dict) -> None:
    trained = sorted((j for j in jobs if j.started is not None), key=lambda j: j.started or 0.0)
    print(f"\nthe queue's file: {len(jobs)} job(s), {len(trained)} trained")
    print("fair queue order (job: its learners, asked, started, ended: seconds from the first click):")
    for job in trained:
        who = ",".join(NAMES.get(n, str(n)) for n in job.learners)
        if len(job.learners) > 4:
            who = f"{len(job.learners)} learners"
        asked = min(a for _, a in job.seats) if job.seats else job.created
        print(
            f"   job {job.id:>3}: {who[:40]:>10}  asked {asked - t0:6.1f}  started {(job.started or 0) - t0:6.1f}  "
            f"ended {(job.ended or float('nan')) - t0:6.1f}  ({job.state}, {job.spec.title()}, "
            f"seed {job.spec.recipe.seed})"
        )
    figures["order"] = [
        {"job": j.id, "learners": j.learners, "started": (j.started or 0) - t0, "ended": (j.ended or 0) - t0}
        for j in trained
    ]
    ended = [(j.started or 0.0, j.ended or time.time(), j.id) for j in trained]
    most = overlaps(ended)
    print(f"most jobs training at one moment: {most} (CNN_LAB_MAX_JOBS: {args.max_jobs or 'the server default'})")
    if args.max_jobs and most > args.max_jobs:
        shared.errors.append(f"{most} jobs trained at once, over the {args.max_jobs} slot(s)")
    per_learner: dict[int, list[tuple[float, float, object]]] = {}
    for start, end, job_id in ended:
        for number in next(j for j in trained if j.id == job_id).learners:
            per_learner.setdefault(number, []).append((start, end, job_id))
    doubled = {n: overlaps(v) for n, v in per_learner.items() if overlaps(v) > 1}
    print(f"learners with more than one job training at once: {len(doubled)}")
    for number, count in doubled.items():
        shared.errors.append(f"learner {number}: {count} jobs trained at once")
    for problem in fair_pick_violations(jobs):
        shared.errors.append(f"fair queue: {problem}")
    if args.same:
        same = [j for j in jobs if j.spec == args.recipe.spec()]
        print(f"jobs for the class's settings: {len(same)} (expected 1: identical runs train once)")
        if len(same) != 1:
            shared.errors.append(f"identical runs did not train once: {len(jobs)} jobs")
    finished = [j for j in trained if j.state == "finished" and j.ended and j.started and j.estimate > 0]
    if finished:
        seconds = [(j.ended or 0) - (j.started or 0) for j in finished]
        speed = [job_work(j.spec) / s for j, s in zip(finished, seconds) if s > 0]
        ratio = [s / j.estimate for j, s in zip(finished, seconds)]
        print(
            f"jobs' own time (claim to end): median {statistics.median(seconds):.1f} s each; measured / cost model "
            f"{statistics.median(ratio):.2f}; implied speed {statistics.median(speed) / 1e9:.2f}e9 MACs/s "
            f"(models/training/job_cost.py CORE_MACS_PER_SECOND {CORE_MACS_PER_SECOND / 1e9:.1f}e9)"
        )
        figures.update(job_seconds=seconds, implied_macs_per_second=statistics.median(speed))


def describe(args) -> str:
    recipe = args.recipe
    spec = recipe.spec()
    what = (
        (
            f"case (a) --same: {args.learners} learners on the same settings"
            if args.same
            else f"case (b) --seeds: {args.learners} learners, seeds 1-{args.learners}"
        )
        if args.learners
        else "bad input only"
    )
    cap = max_job_seconds()
    return (
        f"class Train: {what}, {spec.title()} on {recipe.images:,} images, batch {recipe.batch} (cost model: "
        f"{core_seconds(spec):.1f} s of one core each, cap {minutes_text(cap) if cap else 'none'})"
        + (", plus the bad-input learner" if args.bad_input else "")
        + (", after the teacher's run of the same recipe (--prime)" if args.prime else "")
        + f"; Train pressed over {args.spread:g} s"
    )


# ---------------------------------------------------------------------- running it


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    case = parser.add_mutually_exclusive_group()
    case.add_argument("--same", action="store_true", help="case a: every learner on the default settings")
    case.add_argument("--seeds", action="store_true", help="case b: every learner its own seed, a small recipe")
    case.add_argument("--calibrate", action="store_true", help="one learner trains the default run: the speed")
    parser.add_argument("--bad-input", action="store_true", help="one more learner: a 5th run, a run over the cap")
    parser.add_argument("--learners", type=int, help="default 30 (0 with --bad-input alone)")
    parser.add_argument("--prime", action="store_true", help="the teacher trains the recipe once before the class")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the class presses Train")
    parser.add_argument("--model", choices=("course", "dense"), help="case b default dense; case a course")
    parser.add_argument("--images", type=int, choices=(5_000, 20_000, 60_000), help="case b default 5000")
    parser.add_argument("--epochs", type=int, help="case b default 1")
    parser.add_argument("--batch", type=int, choices=(16, 32, 64, 128, 256), default=32)
    parser.add_argument("--url", help="a running app, e.g. `make serve`'s proxy (default: serve one as make run)")
    parser.add_argument("--data-dir", help="with --url: the server's CNN_LAB_DATA_DIR, to read its queue")
    parser.add_argument("--pids", help="with --url: server processes to measure (default: every `streamlit run`)")
    parser.add_argument("--max-jobs", type=int, help="CNN_LAB_MAX_JOBS for the server started here (default: its own)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one rerun may take")
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds every learner may wait for its run")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if not (args.same or args.seeds or args.calibrate or args.bad_input):
        parser.error("choose --same, --seeds, --calibrate or --bad-input")
    if args.calibrate:
        args.same, args.learners = True, 1
    if args.learners is None:
        args.learners = 0 if args.bad_input and not (args.same or args.seeds) else 30
    small = not args.same
    args.recipe = Recipe(
        model=args.model or ("dense" if small else "course"),
        images=args.images or (5_000 if small else 20_000),
        epochs=args.epochs or (1 if small else 5),
        batch=args.batch,
    )
    return args


def make_cast(url: str, args, shared: Shared) -> Cast:
    def recipe(seed: int) -> Recipe:
        return Recipe(**{**asdict(args.recipe), "seed": seed})

    return Cast(
        [Learner(i, url, args.recipe if args.same else recipe(i + 1), args, shared) for i in range(args.learners)],
        Learner(-3, url, recipe(PRIME_SEED), args, shared, name="teacher") if args.prime else None,
        BadInputLearner(url, args.recipe, args, shared) if args.bad_input else None,
    )


def server_log_errors(log: Path | None) -> list[str]:
    if log is None or not log.is_file():
        return []
    text = log.read_text(errors="replace")
    return [line for line in text.splitlines() if line.startswith("Traceback") or " ERROR " in line]


def memory_report(monitor: Monitor) -> None:
    start, end = monitor.start_load, monitor.end_load
    print(
        f"load average (1 / 5 / 15 min): start {start[0]:.2f} {start[1]:.2f} {start[2]:.2f}, end {end[0]:.2f} "
        f"{end[1]:.2f} {end[2]:.2f}; 1-min highest sampled {max(monitor.loads, default=0):.2f} "
        f"({len(monitor.loads)} samples, one a second; 2 cores: above 2 something waited for a core)"
    )
    roots = set(monitor.roots or ())  # a child first seen between fork and exec still shows the server's command
    workers = [
        r for r in monitor.processes.values() if "models.networks.worker" in r.command or (roots and r.pid not in roots)
    ]
    servers = [r for r in monitor.processes.values() if r not in workers]
    print(f"memory (MB: RSS at the end / highest sampled / VmHWM; budget {BUDGET_MB} MB each):")
    for record in servers:
        print(
            f"   server pid {record.pid:<7} {record.rss:6.0f} / {record.rss_max:6.0f} / {record.hwm:6.0f}  "
            + record.command[:60]
        )
    if workers:
        hwm = [r.hwm for r in workers]
        print(
            f"   models.networks.worker: {len(workers)} processes seen, VmHWM median {statistics.median(hwm):.0f}, "
            f"max {max(hwm):.0f}; RSS highest sampled {max(r.rss_max for r in workers):.0f}"
        )
    print(f"   highest sampled sum of RSS: {monitor.total_max:.0f} MB")


def run(args) -> tuple[bool, dict]:
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    shared = Shared()
    with tempfile.TemporaryDirectory(prefix="class-train-") as scratch:
        if args.url:
            data_dir = Path(args.data_dir) if args.data_dir else None
            pids = [int(p) for p in args.pids.split(",")] if args.pids else None
            cast = make_cast(args.url, args, shared)
            with Monitor(pids) as monitor:
                t0 = asyncio.run(run_class(args, cast, shared))
            server, log = args.url, None
        else:
            data_dir = Path(scratch) / "data"
            env = {DATA_DIR_ENV: str(data_dir)}
            if args.max_jobs:
                env["CNN_LAB_MAX_JOBS"] = str(args.max_jobs)
            with (
                serve_as_make_run(extra_env=env, name="class_train") as (url, process),
                Monitor([process.pid]) as monitor,
            ):
                cast = make_cast(url, args, shared)
                t0 = asyncio.run(run_class(args, cast, shared))
                port = url.rsplit(":", 1)[1]
            server = f"served as `make run`, {DATA_DIR_ENV} a new temp folder"
            log = Path(tempfile.gettempdir()) / f"class_train-server-{port}.log"
        everyone = cast.learners + cast.extras
        jobs = read_queue(data_dir / DB_FILE, everyone) if data_dir and (data_dir / DB_FILE).is_file() else []
        figures = report(args, t0, cast.learners, cast.extras, shared, jobs, server)
    if (bad := cast.bad) is not None:
        print(
            f"bad input: 5th run {'refused' if bad.limit_checked else 'not tried'}, over-the-cap run checked: "
            f"{bad.cost_checked}; its runs: {len(bad.runs)} of {len(BAD_SEEDS)}"
        )
    for line in server_log_errors(log):
        shared.errors.append(f"server log: {line[:250]}")
    memory_report(monitor)
    for note in shared.notes:
        print(f"note: {note}")
    print(f"errors: {len(shared.errors)} (target 0)")
    for line in shared.errors[:40]:
        print(f"   {line}")
    figures.update(
        errors=shared.errors,
        notes=shared.notes,
        load_start=monitor.start_load,
        load_end=monitor.end_load,
        load_max=max(monitor.loads, default=0.0),
        processes=[vars(r) for r in monitor.processes.values()],
        learners=[
            {
                "number": learner.number,
                "clicked": rel(learner.clicked, t0),
                "finished": rel(learner.finished, t0),
                "runs": learner.runs,
                "headline": learner.headline,
                "seen": [asdict(s) for s in learner.seen],
            }
            for learner in everyone
        ],
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
    return not shared.errors, figures


def main() -> None:
    ok, _ = run(parse_args())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
