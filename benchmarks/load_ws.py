"""A class on one server, without a browser: N learners as websocket clients of one served app.

Every learner is a ``benchmarks/ws_client.py`` session (its own Streamlit session, sending every widget value
as the browser does). For ``--rounds`` rounds each one opens Filters and picks a kernel, opens Pooling and sets
a pool size and a stride, opens Architecture and changes the builder (filters per layer, dense units), opens
Inspect and types a filter number. Each learner picks its own values (different pool size / stride pairs,
builder designs and filter numbers in every round; kernels repeat only past 14 learners), and every rerun's
reply must show that learner's choice: the kernel's caption, the pooling sentence and Output metric Keras's
shape rule gives for its input, the parameter count of its design, the "Filter N after each layer" caption.
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

Usage: python benchmarks/load_ws.py [--url URL] [--learners 8] [--rounds 3] [--pause 1-3] [--train]
       e.g. ``--learners 8 --train`` and ``--learners 30 --pause 1-3``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ws_client import ClientError, RunResult, Session  # noqa: E402
from models.analysis import format_count, layer_table_for_config, totals  # noqa: E402
from models.config import COURSE_CNN, CNNConfig  # noqa: E402
from models.kernels import KERNELS  # noqa: E402
from models.pooling import output_shape  # noqa: E402

KERNEL_NAMES = list(KERNELS)
POOL_PAIRS = [(size, stride) for size in range(2, 10) for stride in range(1, size + 1)]  # 44 (size, stride)
FILTERS = (8, 16, 32, 64, 128)
DENSE = (0, 32, 64, 128, 256)
DESIGNS = [(f, d) for f in FILTERS for d in DENSE]  # 25 builder designs
TRAIN_IMAGES, TRAIN_EPOCHS = "5,000", 30.0


def percentile(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def design_params(filters: int, dense: int) -> str:
    config = CNNConfig(**{**COURSE_CNN.to_dict(), "filters": filters, "dense_units": dense})
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


class Learner:
    def __init__(self, number: int, url: str, args, stats: Stats, everyone: list[Learner]) -> None:
        self.number, self.url, self.args, self.stats, self.everyone = number, url, args, stats, everyone
        self.random = random.Random(1000 + number)
        self.session = Session(url, timeout=args.timeout, name=f"learner{number}")
        self.choices: dict[str, object] = {}
        self.round_number = 0

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

    async def act(self, name: str, action) -> RunResult | None:
        await self.pause()
        try:
            run = await action()
        except (ClientError, KeyError, ValueError) as error:
            self.stats.errors.append(f"learner {self.number}: {name}: {error!r}"[:300])
            return None
        self.stats.latencies[name].append(run.seconds)
        self.stats.sizes[name].append(run.bytes)
        self.stats.by_round[self.round_number].append(run.seconds)
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
                text = run.text()
                others = [
                    o.number
                    for o in self.everyone
                    if o is not self
                    and o.choices.get("kernel") not in (None, kernel)
                    and KERNELS[o.choices["kernel"]].explanation in text
                ]
                self.judge("Filters: kernel", KERNELS[kernel].explanation in text, others)
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
                shown = {int(n) for n in re.findall(r"Filter (\d+) after each layer", run.text())}
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

    async def run(self) -> None:
        try:
            await self.session.connect()
        except Exception as error:  # noqa: BLE001 - a refused connection is an error to count, not a crash
            self.stats.errors.append(f"learner {self.number}: connect: {error!r}")
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


def report(stats: Stats, args, wall: float, cpu: float, trainer: Trainer | None) -> bool:
    print(
        f"\n{args.learners} learners x {args.rounds} rounds"
        + (
            f", pausing {args.pause[0]:g}-{args.pause[1]:g} s before each click"
            if args.pause[1]
            else ", clicking back to back"
        )
        + (", with one training job running" if trainer else "")
        + f": {wall:.0f} s wall, client process CPU {cpu:.0f} s"
    )
    header = f"{'action':34} {'n':>4} {'p50 s':>6} {'p90 s':>6} {'p99 s':>6} {'max s':>6} {'med KB':>7}"
    print(header)
    print("-" * len(header))
    pages = defaultdict(list)
    everything = []
    for name, values in stats.latencies.items():
        page = name.split(":")[0].replace("open ", "")
        pages[page] += values
        everything += values
        print(
            f"{name:34} {len(values):4} {percentile(values, 50):6.2f} {percentile(values, 90):6.2f} "
            f"{percentile(values, 99):6.2f} {max(values):6.2f} {statistics.median(stats.sizes[name]) / 1024:7.0f}"
        )
    print("-" * len(header))
    for page, values in pages.items():
        print(
            f"{'page ' + page:34} {len(values):4} {percentile(values, 50):6.2f} {percentile(values, 90):6.2f} "
            f"{percentile(values, 99):6.2f} {max(values):6.2f}"
        )
    all_sizes = [b for sizes in stats.sizes.values() for b in sizes]
    p50, p90, p99 = (percentile(everything, q) for q in (50, 90, 99))
    print(
        f"{'overall':34} {len(everything):4} {p50:6.2f} {p90:6.2f} {p99:6.2f} {max(everything, default=0):6.2f} "
        f"{statistics.median(all_sizes) / 1024 if all_sizes else 0:7.0f}"
    )
    later = [v for r, values in stats.by_round.items() if r > 0 for v in values]
    if later:
        first = stats.by_round.get(0, [])
        print(
            f"{'  round 1 (cold server)':34} {len(first):4} {percentile(first, 50):6.2f} "
            f"{percentile(first, 90):6.2f} {percentile(first, 99):6.2f} {max(first, default=0):6.2f}"
        )
        print(
            f"{'  rounds 2+ (warm caches)':34} {len(later):4} {percentile(later, 50):6.2f} "
            f"{percentile(later, 90):6.2f} {percentile(later, 99):6.2f} {max(later):6.2f}"
        )
    if trainer is not None:
        ticks = trainer.ticks
        print(
            f"training job: live progress fragment {len(ticks)} ticks, p50 {percentile(ticks, 50):.2f} s, "
            f"p90 {percentile(ticks, 90):.2f} s; {'; '.join(stats.training) or 'not finished'}"
        )
    if args.pause[1]:
        print(f"target (learners pausing): p90 <= 1.5 s: p90 {p90:.2f} s, ratio {p90 / 1.5:.2f}")
    else:
        print(
            f"target (back to back{' + training' if trainer else ''}): p90 <= 1 s and p99 <= 2 s: "
            f"p90 {p90:.2f} s (ratio {p90:.2f}), p99 {p99:.2f} s (ratio {p99 / 2:.2f})"
        )
    print(f"errors: {len(stats.errors)}; leaks: {len(stats.leaks)} (targets 0 and 0)")
    kinds = Counter(re.sub(r"^(learner \d+|trainer): ", "", line) for line in stats.errors + stats.leaks)
    for line, count in kinds.most_common(12):
        print(f"   {count:3} x {line}")
    for message, trace in stats.traces.items():
        print(f"   first stack trace of {message[:80]!r}:")
        for line in trace[-8:]:
            print("      " + line.strip().replace("\n", " | ")[:220])
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return not stats.errors and not stats.leaks


async def class_session(url: str, args) -> tuple[Stats, Trainer | None, float, float]:
    stats = Stats()
    trainer = Trainer(url, args, stats) if args.train else None
    trainer_task = None
    if trainer:
        trainer_task = asyncio.create_task(trainer.run())
        await asyncio.wait_for(trainer.started.wait(), args.timeout + 300)
        print(f"training started: {trainer.last_progress!r}", file=sys.stderr, flush=True)
    learners: list[Learner] = []
    learners += [Learner(i, url, args, stats, learners) for i in range(args.learners)]
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(learner.run() for learner in learners))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if trainer:
        trainer.stop.set()
        await trainer_task
    return stats, trainer, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: serve one with tests/browser.py)")
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", default="0", help="seconds to wait before each click: 0 or a range like 1-3")
    parser.add_argument("--train", action="store_true", help="run one training job during the test")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one rerun may take")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    low, _, high = args.pause.partition("-")
    args.pause = (float(low), float(high or low))
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.url:
        stats, trainer, wall, cpu = asyncio.run(class_session(args.url, args))
    else:
        from tests.browser import streamlit_server

        with streamlit_server(timeout=120) as server:
            stats, trainer, wall, cpu = asyncio.run(class_session(server.url, args))
    ok = report(stats, args, wall, cpu, trainer)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "learners": args.learners,
                    "rounds": args.rounds,
                    "pause": args.pause,
                    "train": args.train,
                    "latencies": stats.latencies,
                    "sizes": stats.sizes,
                    "errors": stats.errors,
                    "leaks": stats.leaks,
                    "traces": stats.traces,
                    "by_round": stats.by_round,
                    "training_ticks": trainer.ticks if trainer else [],
                    "wall": wall,
                    "client_cpu": cpu,
                    "load_start": load,
                    "load_end": os.getloadavg(),
                },
                indent=1,
            )
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
