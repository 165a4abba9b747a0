"""A class on one server, without a browser: N learners as websocket clients of one served app.

Every learner is a ``benchmarks/ws_client.py`` session (its own Streamlit session, sending every widget value
as the browser does). For ``--rounds`` rounds each one opens Filters and picks a kernel, opens Pooling and sets
a pool size and a stride, opens Architecture and changes the builder (filters per layer, dense units), opens
Inspect and types a filter number. Each learner picks its own values (different pool size / stride pairs,
builder designs and filter numbers in every round; kernels repeat only past 14 learners), and every rerun's
reply must show that learner's choice: the kernel's caption, the pooling sentence and Output metric Keras's
shape rule gives for its input, the parameter count of its design, the "Filter N of each layer" caption.
A **leak** is a reply showing another learner's choice instead; an **error** is an exception element, a
failed or timed-out rerun, or a reply showing neither.

``--train``: one more session opens Training, picks 5,000 images and the most epochs, clicks Train and watches
the live progress fragment as the browser does (a fragment rerun per ``run_every`` tick) while the learners
click; it presses Stop at the end. ``--pause 1-3`` waits a random 1-3 s before each click (a class working
at its own pace); without it learners click back to back.

Prints latency percentiles (p50 / p90 / p99 / max, from sending the rerun to ``script_finished``) per action,
per page and overall, the bytes per rerun, errors and leaks, against the targets: 8 learners + 1 training job
p90 <= 1 s and p99 <= 2 s; 30 learners pausing p90 <= 1.5 s; 0 errors, 0 leaks. Exit code 1 on errors or
leaks (not on missed latency targets).

``--storm``: an **arrival storm**, a class arriving at once. The N learners connect within ``--spread`` seconds
(default 3) as new sessions (an HTTP GET of the page first, whose cookies they keep and send with the websocket),
each opens Home, then for ``--rounds`` rounds visits Filters, Pooling, Architecture and Inspect by *links*: a new
``page_name`` with a new query string (``?kernel=``, ``?size=&stride=``, ``?filters=&dense=&padding=``,
``?tab=``; README "Sharing a view"), one every 1-3 s (``--pause``). Every reply must show that learner's
link: the kernel's caption, the pooling sentence and Output metric, the design's parameter count, a sentence only
the linked Inspect tab writes; errors and leaks as above. ``--new-sessions K`` instead opens K new sessions one
after another (Home only) and prints the median first-page cost. Before either, ``--warm K`` sessions (default 1:
the teacher's) visit the same pages, so the figures are a new session's, not a cold server's.

**The server**: by default one served exactly as ``make run`` serves it (``python -m streamlit run app.py`` in the
repository root with the environment as it is: ``.streamlit/config.toml`` and ``STREAMLIT_*`` variables decide; only
port, address and headless are given); ``--serve tests`` serves as the tests do (tests/support/browser.py, file watcher
off); ``--url URL`` uses a running server (e.g. ``make serve``: nginx in front of several replicas, where each
learner's cookies keep it on one replica).

Besides the latency table (per page, overall, and the first page of each new session separately) it prints page
runs per second, the load average (at the start and end, and the highest sampled each second) and the memory of
every server process (RSS now, highest sampled, VmHWM from /proc/PID/status, and their total) against 1 GB each:
the process it started and its children, or with ``--url`` the ``--pids`` given, else every process running
``streamlit run`` on this machine. Storm targets: 30 learners p90 <= 1 s with ``make run``, 100 learners
p90 <= 2 s with the stack (``make serve``).

Usage: python benchmarks/load_ws.py [--url URL [--pids PID,...] | --serve make-run|tests] [--learners 8]
       [--rounds 3] [--pause 1-3] [--train] [--storm [--spread 3] [--warm 1]] [--new-sessions K]
       e.g. ``--learners 8 --train``, ``--learners 30 --pause 1-3``, ``--storm --learners 30 --rounds 2``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.memory import BUDGET_MB, command_of, descendants, status_mb  # noqa: E402
from benchmarks.ws_client import ClientError, RunResult, Session  # noqa: E402
from models.design.analysis import format_count, layer_table_for_config, totals  # noqa: E402
from models.design.config import COURSE_CNN, CNNConfig  # noqa: E402
from models.ops.kernels import KERNELS  # noqa: E402
from models.ops.pooling import output_shape  # noqa: E402

KERNEL_NAMES = list(KERNELS)
POOL_PAIRS = [(size, stride) for size in range(2, 10) for stride in range(1, size + 1)]  # 44 (size, stride)
FILTERS = (8, 16, 32, 64, 128)
DENSE = (0, 32, 64, 128, 256)
DESIGNS = [(f, d) for f in FILTERS for d in DENSE]  # 25 builder designs
STORM_DESIGNS = [(f, d, p) for f in FILTERS for d in DENSE for p in ("valid", "same")]  # 50, linked
INSPECT_TABS = {  # ?tab= -> a sentence only that tab writes (one tab is drawn at a time)
    "maps": "each makes one **feature map**",
    "filters": "kernels, grouped by the library kernel",
    "evaluation": "**Confusion matrix**",
    "why": "For one test image: the probability of each class",
    "embedding": "A 2-D projection shows which classes",
}
TARGETS = {"make run": (30, 1.0), "the stack (make serve)": (100, 2.0)}  # learners, storm p90 seconds
TRAIN_IMAGES, TRAIN_EPOCHS = "5,000", 30.0


def percentile(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def design_params(filters: int, dense: int, padding: str = "valid") -> str:
    config = CNNConfig(**{**COURSE_CNN.to_dict(), "filters": filters, "dense_units": dense, "padding": padding})
    return format_count(totals(layer_table_for_config(config)).params)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sizes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    training: list[str] = field(default_factory=list)
    by_round: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    traces: dict[str, list[str]] = field(default_factory=dict)  # first stack trace of each exception message
    first: list[float] = field(default_factory=list)  # each session's first page: what a new session costs
    connects: list[float] = field(default_factory=list)  # the HTTP GETs and the websocket handshake


class Learner:
    def __init__(self, number: int, url: str, args, stats: Stats, everyone: list[Learner]) -> None:
        self.number, self.url, self.args, self.stats, self.everyone = number, url, args, stats, everyone
        self.random = random.Random(1000 + number)
        self.session = Session(url, timeout=args.timeout, name=f"learner{number}")
        self.choices: dict[str, object] = {}
        self.round_number = 0
        self.first_run = True

    # the choices of this learner in a round
    def kernel(self, r: int) -> str:
        return KERNEL_NAMES[(self.number + r) % len(KERNEL_NAMES)]

    def pool(self, r: int) -> tuple[int, int]:
        return POOL_PAIRS[(self.number + 11 * r) % len(POOL_PAIRS)]

    def design(self, r: int) -> tuple[int, int]:
        return DESIGNS[(self.number + 7 * r) % len(DESIGNS)]

    def filter_number(self, r: int) -> int:
        return (self.number + 17 * r) % 64

    async def pause(self) -> None:
        low, high = self.args.pause
        if high > 0:
            await asyncio.sleep(self.random.uniform(low, high))

    async def act(self, name: str, action, pause: bool = True) -> RunResult | None:
        if pause:
            await self.pause()
        try:
            run = await action()
        except (ClientError, KeyError, ValueError) as error:
            self.stats.errors.append(f"learner {self.number}: {name}: {error!r}"[:300])
            return None
        self.stats.latencies[name].append(run.seconds)
        self.stats.sizes[name].append(run.bytes)
        self.stats.by_round[self.round_number].append(run.seconds)
        if self.first_run:
            self.stats.first.append(run.seconds)
            self.first_run = False
        if self.args.verbose:
            print(
                f"[load] learner {self.number} {name}: {run.seconds:.2f} s {run.bytes / 1024:.0f} KB",
                file=sys.stderr,
                flush=True,
            )
        if run.exceptions:
            self.stats.errors.append(f"learner {self.number}: {name}: exception {run.exceptions[0][:200]}")
            self.stats.traces.setdefault(run.exceptions[0][:200], run.traces[0] if run.traces else [])
        return run

    def judge_kernel(self, kernel: str, run: RunResult) -> None:
        """The Filters reply must explain this learner's kernel; naming another learner's is a leak."""
        text = run.text()
        others = [
            o.number
            for o in self.everyone
            if o is not self
            and o.choices.get("kernel") not in (None, kernel)
            and KERNELS[o.choices["kernel"]].explanation in text
        ]
        self.judge("Filters: kernel", KERNELS[kernel].explanation in text, others)

    def judge(self, name: str, own: bool, others: list[int]) -> None:
        if own and not others:
            return
        if others:
            self.stats.leaks.append(
                f"learner {self.number}: {name}: the reply shows the choice of learner(s) "
                f"{sorted(set(others))[:5]}" + ("" if own else " instead of its own")
            )
        else:
            self.stats.errors.append(f"learner {self.number}: {name}: the reply does not show its own choice")

    async def round(self, r: int) -> None:
        s = self.session
        # Filters: the library kernel; its caption is the kernel's explanation.
        if await self.act("open Filters", lambda: s.visit("filters")):
            kernel = self.kernel(r)
            self.choices["kernel"] = kernel
            run = await self.act("Filters: pick a kernel", lambda: s.set("filters_library", kernel))
            if run:
                self.judge_kernel(kernel, run)
        # Pooling: size, then stride; the sentence names both, the Output metric follows Keras's rule.
        if await self.act("open Pooling", lambda: s.visit("pooling")):
            size, stride = self.pool(r)
            self.choices["pool"] = (size, stride)
            run = await self.act("Pooling: pool size", lambda: s.set("pool_size", size))
            run = run and await self.act("Pooling: stride", lambda: s.set("pool_stride", stride))
            if run:
                self.judge(
                    "Pooling: size and stride",
                    self.pool_shown(run, size, stride),
                    [
                        o.number
                        for o in self.everyone
                        if o is not self
                        and o.choices.get("pool") not in (None, (size, stride))
                        and self.pool_shown(run, *o.choices["pool"])
                    ],
                )
        # Architecture: filters per layer and dense units; the Parameters metric is that design's count.
        if await self.act("open Architecture", lambda: s.visit("architecture")):
            filters, dense = self.design(r)
            self.choices["design"] = (filters, dense)
            run = await self.act("Architecture: filters per layer", lambda: s.set("architecture_filters", str(filters)))
            run = run and await self.act(
                "Architecture: dense units", lambda: s.set("architecture_dense_units", str(dense))
            )
            if run:
                shown = re.findall(r"^Parameters: (\S+)", run.text(), re.M)
                mine = design_params(filters, dense)
                others = [
                    o.number
                    for o in self.everyone
                    if o is not self
                    and o.choices.get("design") not in (None, (filters, dense))
                    and design_params(*o.choices["design"]) in shown
                    and design_params(*o.choices["design"]) != mine
                ]
                self.judge("Architecture: design", mine in shown, others)
        # Inspect: the filter number of the feature-map grid.
        if await self.act("open Inspect", lambda: s.visit("inspect")):
            number = self.filter_number(r)
            self.choices["filter"] = number
            run = await self.act("Inspect: filter number", lambda: s.set("inspect_filter", number))
            if run:
                shown = {int(n) for n in re.findall(r"Filter (\d+) of each layer", run.text())}
                others = [
                    o.number
                    for o in self.everyone
                    if o is not self and o.choices.get("filter") in shown and o.choices.get("filter") != number
                ]
                self.judge("Inspect: filter number", number in shown, others)

    @staticmethod
    def pool_shown(run: RunResult, size: int, stride: int) -> bool:
        text = run.text()
        found = re.search(r"^Input: (\d+)x(\d+)", text, re.M)
        output = re.search(r"^Output: (\d+)x(\d+)", text, re.M)
        if not found or not output:
            return False
        expected = output_shape(int(found[1]), int(found[2]), size, stride, "valid")
        step = "" if stride == size else f"(windows move {stride} pixel"
        return (
            f"{size}x{size} max pooling" in text
            and step in text
            and (int(output[1]), int(output[2])) == tuple(expected)
        )

    async def connect(self, page: str) -> bool:
        started = time.perf_counter()
        try:
            await self.session.connect(page)
        except Exception as error:  # noqa: BLE001 - a refused connection is an error to count, not a crash
            self.stats.errors.append(f"learner {self.number}: connect: {error!r}"[:300])
            return False
        self.stats.connects.append(time.perf_counter() - started)
        return True

    async def run(self) -> None:
        if not await self.connect("filters"):
            return
        try:
            for r in range(self.args.rounds):
                self.round_number = r
                await self.round(r)
        finally:
            await self.session.close()


class Trainer:
    """One more session: starts a long training run and watches its live fragment until told to stop."""

    def __init__(self, url: str, args, stats: Stats) -> None:
        self.session = Session(url, timeout=args.timeout, name="trainer")
        self.stats, self.args = stats, args
        self.stop = asyncio.Event()
        self.started = asyncio.Event()
        self.ticks: list[float] = []
        self.last_progress = ""

    async def run(self) -> None:
        s = self.session
        try:
            await s.connect()
            await s.visit("training")
            await s.set("training_images", TRAIN_IMAGES)
            await s.set("training_epochs", TRAIN_EPOCHS)
            run = await s.click("Train")
            if run.exceptions:
                raise ClientError(f"Train: {run.exceptions[0]}")
            deadline = time.perf_counter() + 300
            while not self.stop.is_set():
                if not s.auto_reruns:
                    raise ClientError("the Training page shows no live progress fragment after Train")
                fragment, interval = next(iter(s.auto_reruns.items()))
                await asyncio.sleep(interval)
                tick = await s.auto_rerun(fragment)
                self.ticks.append(tick.seconds)
                progress = [t for t in tick.texts if t.startswith("Epoch ")]
                if progress:
                    self.last_progress = progress[-1]
                    self.started.set()
                elif not self.started.is_set() and time.perf_counter() > deadline:
                    raise ClientError("training did not start within 300 s")
            await self.finish()
        except (ClientError, KeyError, ValueError, OSError) as error:
            self.stats.errors.append(f"trainer: {error!r}"[:300])
            self.started.set()
        finally:
            await s.close()

    async def finish(self) -> None:
        s = self.session
        stop = next((w for w in s.widgets.values() if w.kind == "button" and w.label == "Stop"), None)
        if stop is None:
            self.stats.errors.append("trainer: no Stop button at the end (did the run end early?)")
            return
        await s.click(stop.id)
        for _ in range(120):  # the job stops after the current batch; the page then moves it to the runs
            if not s.auto_reruns:
                break
            fragment, interval = next(iter(s.auto_reruns.items()))
            await asyncio.sleep(interval)
            await s.auto_rerun(fragment)
        self.stats.training.append(f"last progress: {self.last_progress!r}; stopped")


class StormLearner(Learner):
    """A learner of an arrival storm: a new session at its arrival time, Home, then every page by a link."""

    def tab(self, r: int) -> str:
        return list(INSPECT_TABS)[(self.number + 2 * r) % len(INSPECT_TABS)]

    def storm_design(self, r: int) -> tuple[int, int, str]:
        return STORM_DESIGNS[(self.number + 7 * r) % len(STORM_DESIGNS)]

    async def link(self, name: str, page: str, query: dict[str, object]) -> RunResult | None:
        """A page visit with new settings; None (an error counted) if it failed or ended on another page."""
        run = await self.act(name, lambda: self.session.follow_link(page, query))
        if run is not None and run.page != page:
            self.stats.errors.append(f"learner {self.number}: {name}: the run ended on page {run.page!r}")
            return None
        return run

    async def round(self, r: int) -> None:
        kernel = self.kernel(r)
        self.choices["kernel"] = kernel
        run = await self.link("Filters: link ?kernel=", "filters", {"kernel": kernel})
        if run:
            self.judge_kernel(kernel, run)
        size, stride = self.pool(r)
        self.choices["pool"] = (size, stride)
        run = await self.link("Pooling: link ?size=&stride=", "pooling", {"size": size, "stride": stride})
        if run:
            self.judge(
                "Pooling: size and stride",
                self.pool_shown(run, size, stride),
                [
                    o.number
                    for o in self.everyone
                    if o is not self
                    and o.choices.get("pool") not in (None, (size, stride))
                    and self.pool_shown(run, *o.choices["pool"])
                ],
            )
        design = self.storm_design(r)
        self.choices["design"] = design
        filters, dense, padding = design
        run = await self.link(
            "Architecture: link ?filters=&dense=&padding=",
            "architecture",
            {"filters": filters, "dense": dense, "padding": padding},
        )
        if run:
            shown = re.findall(r"^Parameters: (\S+)", run.text(), re.M)
            mine = design_params(*design)
            others = [
                o.number
                for o in self.everyone
                if o is not self
                and o.choices.get("design") not in (None, design)
                and design_params(*o.choices["design"]) in shown
                and design_params(*o.choices["design"]) != mine
            ]
            self.judge("Architecture: design", mine in shown, others)
        tab = self.tab(r)
        self.choices["tab"] = tab
        run = await self.link(f"Inspect: link ?tab={tab}", "inspect", {"tab": tab})
        if run:
            text = run.text()
            shown_tabs = {slug for slug, sentence in INSPECT_TABS.items() if sentence in text}
            others = [o.number for o in self.everyone if o is not self and o.choices.get("tab") in shown_tabs - {tab}]
            self.judge("Inspect: tab", tab in shown_tabs, others)

    async def run(self) -> None:
        await asyncio.sleep(self.args.spread * self.number / max(self.args.learners, 1))
        if not await self.connect(""):
            return
        try:
            home = await self.act("Home: new session", lambda: self.session.visit(""), pause=False)
            if home is not None and "CNN Lab" not in home.texts:
                self.stats.errors.append(f"learner {self.number}: Home: the reply has no 'CNN Lab' title")
            for r in range(self.args.rounds):
                self.round_number = r
                await self.round(r)
        finally:
            await self.session.close()


async def warm_up(url: str, args, stats: Stats) -> None:
    """The teacher's sessions before the class: Home, then every page the class will open, with its defaults."""
    for number in range(args.warm):
        started = time.perf_counter()
        try:
            async with Session(url, timeout=args.timeout, name=f"warm{number}") as session:
                runs = [await session.visit("")]
                for page in ("filters", "pooling", "architecture", "inspect"):
                    runs.append(await session.follow_link(page))
        except (ClientError, OSError) as error:
            stats.errors.append(f"warm-up {number}: {error!r}"[:300])
            continue
        problems = [e for run in runs for e in run.exceptions]
        if problems:
            stats.errors.append(f"warm-up {number}: exception {problems[0][:200]}")
        steps = ", ".join(f"{run.page or 'home'} {run.seconds:.2f} s" for run in runs)
        print(f"warm-up session {number}: {time.perf_counter() - started:.1f} s ({steps})", flush=True)


async def new_sessions(url: str, args, stats: Stats) -> None:
    """`--new-sessions K`: K new sessions one after another, each opening Home alone (the first-page cost)."""
    for number in range(args.new_sessions):
        await asyncio.sleep(1.0)  # the previous session's end settles
        session = Session(url, timeout=args.timeout, name=f"new{number}")
        try:
            started = time.perf_counter()
            await session.connect("")
            stats.connects.append(time.perf_counter() - started)
            run = await session.visit("")
        except (ClientError, OSError) as error:
            stats.errors.append(f"session {number}: {error!r}"[:300])
            continue
        finally:
            await session.close()
        stats.first.append(run.seconds)
        stats.latencies["Home: new session"].append(run.seconds)
        stats.sizes["Home: new session"].append(run.bytes)
        if run.exceptions:
            stats.errors.append(f"session {number}: exception {run.exceptions[0][:200]}")
        print(f"new session {number}: Home {run.seconds:.3f} s", flush=True)


# ---------------------------------------------------------------------- the machine while it runs


def streamlit_pids() -> list[int]:
    """Every process on this machine running `streamlit run` (as separate arguments: not a shell around one)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        command = command_of(int(entry.name))
        if any(part.endswith(b"streamlit") and following == b"run" for part, following in zip(command, command[1:])):
            found.append(int(entry.name))
    return sorted(pid for pid in found if pid != os.getpid())


@dataclass
class ProcessMemory:
    pid: int
    command: str
    where: str  # its working directory
    rss: float = 0.0  # MB, the last reading
    rss_max: float = 0.0  # MB, the highest sampled
    hwm: float = 0.0  # MB, VmHWM: the kernel's peak RSS over the process's life


class Monitor:
    """Each second in a thread: the load average and the memory of the server processes (and their children)."""

    def __init__(self, pids: list[int] | None, interval: float = 1.0) -> None:
        self.roots, self.interval = pids, interval  # None: every `streamlit run` on the machine
        self.start_load = os.getloadavg()
        self.end_load = self.start_load
        self.loads: list[float] = []
        self.processes: dict[int, ProcessMemory] = {}
        self.total, self.total_max = 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="monitor")

    def sample(self) -> None:
        self.loads.append(os.getloadavg()[0])
        roots = streamlit_pids() if self.roots is None else self.roots
        total = 0.0
        for pid in sorted({p for root in roots for p in descendants(root)}):
            reading = status_mb(pid)
            if reading is None:
                continue
            record = self.processes.get(pid)
            if record is None:
                command = " ".join(part.decode(errors="replace") for part in command_of(pid))
                try:
                    where = os.readlink(f"/proc/{pid}/cwd")
                except OSError:
                    where = "?"
                record = self.processes[pid] = ProcessMemory(pid, command, where)
            record.rss = reading["VmRSS"]
            record.rss_max = max(record.rss_max, record.rss)
            record.hwm = max(record.hwm, reading["VmHWM"])
            total += record.rss
        self.total, self.total_max = total, max(self.total_max, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Monitor:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        self.end_load = os.getloadavg()

    def report(self) -> bool:
        """Print the load and each process's memory; whether every process stayed within the 1 GB budget."""
        start, end = self.start_load, self.end_load
        print(
            f"load average (1 / 5 / 15 min): start {start[0]:.2f} {start[1]:.2f} {start[2]:.2f}, "
            f"end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}; 1-min max sampled {max(self.loads, default=0):.2f} "
            f"({len(self.loads)} samples, one a second; 2 cores: above 2 the run waited for a core)"
        )
        print(f"server processes (MB: RSS at the end / highest sampled / VmHWM; target each <= {BUDGET_MB} MB):")
        within = True
        for record in self.processes.values():
            peak = max(record.rss_max, record.hwm)
            within = within and peak <= BUDGET_MB
            print(
                f"   pid {record.pid:<7} {record.rss:6.0f} / {record.rss_max:6.0f} / {record.hwm:6.0f}  "
                f"peak {peak / BUDGET_MB:.2f} of 1 GB  {record.command[:70]}  (in {record.where})"
            )
        if not self.processes:
            print("   none found (give --pids)")
        hwm_sum = sum(r.hwm for r in self.processes.values())
        print(
            f"   total   {self.total:6.0f} / {self.total_max:6.0f} / {hwm_sum:6.0f}  "
            f"({len(self.processes)} processes; highest sampled sum of RSS; sum of VmHWM)"
        )
        return within


# ---------------------------------------------------------------------- the server


def config_file_watcher() -> str:
    """What `make run` would use for server.fileWatcherType and runOnSave: environment, then config.toml."""
    try:
        server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()).get("server", {})
    except (OSError, tomllib.TOMLDecodeError):
        server = {}
    watcher = os.environ.get("STREAMLIT_SERVER_FILE_WATCHER_TYPE") or server.get("fileWatcherType", "auto (default)")
    on_save = os.environ.get("STREAMLIT_SERVER_RUN_ON_SAVE") or server.get("runOnSave", "false (default)")
    return f"fileWatcherType {watcher}, runOnSave {on_save}"


@contextmanager
def serve_as_make_run(
    timeout: float = 120.0, *, extra_env: dict[str, str] | None = None, name: str = "load_ws"
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m streamlit run app.py` as `make run` starts it: only port, address and headless on the command
    line, the environment untouched, so .streamlit/config.toml and STREAMLIT_* variables decide the rest
    (`extra_env` adds variables, e.g. a throwaway CNN_LAB_DATA_DIR; `name` names the log file)."""
    from tests.support.browser import free_port, stop_process, wait_healthy

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    log_path = Path(tempfile.gettempdir()) / f"{name}-server-{port}.log"
    extra = "".join(f"{key}={value} " for key, value in (extra_env or {}).items())
    print(
        f"serving as `make run`: {extra}{' '.join(command[1:])} ({config_file_watcher()}); log {log_path}", flush=True
    )
    base = f"http://127.0.0.1:{port}"
    env = None if extra_env is None else {**os.environ, **extra_env}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started = time.perf_counter()
        try:
            wait_healthy(base, process, started + timeout, log_path=log_path)
            yield base, process
        finally:
            stop_process(process)


def row(name: str, values: list[float], sizes: list[int] | None = None) -> str:
    kb = f" {statistics.median(sizes) / 1024:7.0f}" if sizes else ""
    return (
        f"{name:44} {len(values):4} {percentile(values, 50):6.2f} {percentile(values, 90):6.2f} "
        f"{percentile(values, 99):6.2f} {max(values, default=float('nan')):6.2f}{kb}"
    )


def describe(args, trainer: Trainer | None) -> str:
    if args.new_sessions:
        return f"{args.new_sessions} new sessions one after another, each opening Home"
    if args.storm:
        return (
            f"arrival storm: {args.learners} learners arriving over {args.spread:g} s, Home then {args.rounds} "
            f"round(s) of links to Filters, Pooling, Architecture, Inspect, {args.pause[0]:g}-{args.pause[1]:g} s apart"
        )
    return (
        f"{args.learners} learners x {args.rounds} rounds"
        + (
            f", pausing {args.pause[0]:g}-{args.pause[1]:g} s before each click"
            if args.pause[1]
            else ", clicking back to back"
        )
        + (", with one training job running" if trainer else "")
    )


def report(stats: Stats, args, wall: float, cpu: float, trainer: Trainer | None, server: str) -> bool:
    print(f"\n{describe(args, trainer)}; server: {server}: {wall:.0f} s wall, client process CPU {cpu:.0f} s")
    header = f"{'action':44} {'n':>4} {'p50 s':>6} {'p90 s':>6} {'p99 s':>6} {'max s':>6} {'med KB':>7}"
    print(header)
    print("-" * len(header))
    pages = defaultdict(list)
    everything = []
    for name, values in stats.latencies.items():
        page = name.split(":")[0].replace("open ", "")
        pages[page] += values
        everything += values
        print(row(name, values, stats.sizes[name]))
    print("-" * len(header))
    for page, values in pages.items():
        print(row("page " + page, values))
    all_sizes = [b for sizes in stats.sizes.values() for b in sizes]
    p50, p90, p99 = (percentile(everything, q) for q in (50, 90, 99))
    print(row("overall", everything, all_sizes))
    print(row("  first page of each new session", stats.first))
    print(row("  connecting (GET page + health, websocket)", stats.connects))
    later = [v for r, values in stats.by_round.items() if r > 0 for v in values]
    if later:
        print(row("  round 1" + ("" if args.warm else " (cold server)"), stats.by_round.get(0, [])))
        print(row("  rounds 2+ (warm caches)", later))
    print(f"page runs per second: {len(everything) / wall if wall else 0:.1f} ({len(everything)} in {wall:.0f} s)")
    if trainer is not None:
        ticks = trainer.ticks
        print(
            f"training job: live progress fragment {len(ticks)} ticks, p50 {percentile(ticks, 50):.2f} s, "
            f"p90 {percentile(ticks, 90):.2f} s; {'; '.join(stats.training) or 'not finished'}"
        )
    if args.new_sessions:
        values = stats.first
        print(
            f"first page of a new session: median {percentile(values, 50):.3f} s, "
            f"min {min(values, default=float('nan')):.3f} s, max {max(values, default=float('nan')):.3f} s"
        )
    elif args.storm:
        for where, (learners, limit) in TARGETS.items():
            print(
                f"target (storm, {learners} learners, {where}): p90 <= {limit:g} s: "
                f"p90 {p90:.2f} s with {args.learners} learners (ratio {p90 / limit:.2f})"
            )
    elif args.pause[1]:
        print(f"target (learners pausing): p90 <= 1.5 s: p90 {p90:.2f} s, ratio {p90 / 1.5:.2f}")
    else:
        print(
            f"target (back to back{' + training' if trainer else ''}): p90 <= 1 s and p99 <= 2 s: "
            f"p90 {p90:.2f} s (ratio {p90:.2f}), p99 {p99:.2f} s (ratio {p99 / 2:.2f})"
        )
    print(f"errors: {len(stats.errors)}; leaks: {len(stats.leaks)} (targets 0 and 0)")
    kinds = Counter(
        re.sub(r"^(learner \d+|trainer|warm-up \d+|session \d+): ", "", line) for line in stats.errors + stats.leaks
    )
    for line, count in kinds.most_common(12):
        print(f"   {count:3} x {line}")
    for message, trace in stats.traces.items():
        print(f"   first stack trace of {message[:80]!r}:")
        for line in trace[-8:]:
            print("      " + line.strip().replace("\n", " | ")[:220])
    return not stats.errors and not stats.leaks


async def class_session(url: str, args) -> tuple[Stats, Trainer | None, float, float]:
    stats = Stats()
    if args.warm:
        await warm_up(url, args, stats)
    trainer = Trainer(url, args, stats) if args.train else None
    trainer_task = None
    if trainer:
        trainer_task = asyncio.create_task(trainer.run())
        await asyncio.wait_for(trainer.started.wait(), args.timeout + 300)
        print(f"training started: {trainer.last_progress!r}", file=sys.stderr, flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    if args.new_sessions:
        await new_sessions(url, args, stats)
    else:
        kind = StormLearner if args.storm else Learner
        learners: list[Learner] = []
        learners += [kind(i, url, args, stats, learners) for i in range(args.learners)]
        await asyncio.gather(*(learner.run() for learner in learners))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if trainer:
        trainer.stop.set()
        await trainer_task
    return stats, trainer, wall, cpu


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app, e.g. `make serve`'s proxy (default: serve one, see --serve)")
    parser.add_argument(
        "--serve",
        choices=("make-run", "tests"),
        default="make-run",
        help="without --url: serve as `make run` does (config file and environment decide; default) or as the "
        "tests do (tests/support/browser.py: --server.fileWatcherType none)",
    )
    parser.add_argument(
        "--pids",
        help="with --url: the server processes to measure, comma separated "
        "(default: every `streamlit run` process on this machine)",
    )
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pause", help="seconds to wait before each click or link: 0 or a range like 1-3 (default 0; storm 1-3)"
    )
    parser.add_argument("--storm", action="store_true", help="an arrival storm: new sessions following links")
    parser.add_argument("--spread", type=float, default=3.0, help="storm: seconds over which the learners arrive")
    parser.add_argument(
        "--warm",
        type=int,
        help="sessions visiting every page before the class (default 1 with --storm or --new-sessions, else 0)",
    )
    parser.add_argument("--new-sessions", type=int, default=0, help="K new sessions one after another, Home only")
    parser.add_argument("--train", action="store_true", help="run one training job during the test")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one rerun may take")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    low, _, high = (args.pause or ("1-3" if args.storm else "0")).partition("-")
    args.pause = (float(low), float(high or low))
    if args.warm is None:
        args.warm = 1 if args.storm or args.new_sessions else 0
    return args


def run(args) -> bool:
    """Serve (or use --url), run the class with the monitor sampling, print the report; whether it was clean."""
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    if args.url:
        pids = [int(p) for p in args.pids.split(",")] if args.pids else None
        with Monitor(pids) as monitor:
            stats, trainer, wall, cpu = asyncio.run(class_session(args.url, args))
        server = args.url
    elif args.serve == "tests":
        from tests.support.browser import streamlit_server

        with streamlit_server(timeout=120) as served, Monitor([served.process.pid]) as monitor:
            stats, trainer, wall, cpu = asyncio.run(class_session(served.url, args))
        server = "served as the tests do (--server.fileWatcherType none)"
    else:
        with serve_as_make_run() as (url, process), Monitor([process.pid]) as monitor:
            stats, trainer, wall, cpu = asyncio.run(class_session(url, args))
        server = f"served as `make run` ({config_file_watcher()})"
    ok = report(stats, args, wall, cpu, trainer, server)
    within = monitor.report()
    print(f"memory: {'every process within' if within else 'OVER'} the {BUDGET_MB} MB budget (not an exit condition)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "learners": args.learners,
                    "rounds": args.rounds,
                    "pause": args.pause,
                    "storm": args.storm,
                    "spread": args.spread,
                    "new_sessions": args.new_sessions,
                    "server": server,
                    "train": args.train,
                    "latencies": stats.latencies,
                    "sizes": stats.sizes,
                    "first_page": stats.first,
                    "connects": stats.connects,
                    "errors": stats.errors,
                    "leaks": stats.leaks,
                    "traces": stats.traces,
                    "by_round": stats.by_round,
                    "training_ticks": trainer.ticks if trainer else [],
                    "wall": wall,
                    "client_cpu": cpu,
                    "load_start": monitor.start_load,
                    "load_end": monitor.end_load,
                    "load_samples": monitor.loads,
                    "processes": [vars(record) for record in monitor.processes.values()],
                    "memory_total_max": monitor.total_max,
                },
                indent=1,
            )
        )
    return ok


def main() -> None:
    sys.exit(0 if run(parse_args()) else 1)


if __name__ == "__main__":
    main()
