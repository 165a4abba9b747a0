"""A hostile class (issue 25, "Measured, not hoped"): 30 learners work while one attacker tries every hostile input.

The learners are ``load_ws.py``'s storm learners (websocket sessions arriving within 3 s, then following links to
Filters, Pooling, Architecture and Inspect with their own settings, 1-3 s apart, every reply checked). The same
class runs twice on a fresh server each time (served as `make run` serves it, a throwaway ``CNN_LAB_DATA_DIR``),
with the same learners and seeds: once alone, once with ONE attacker session (its own learner cookie) that

- uploads each hostile model on Inspect's "Use your own model (.keras)": the 1,000,000-unit Dense file, a
  200,000-filter Conv2D, an UpSampling2D blow-up, a TFSMLayer (the shipped archive with its config.json edited,
  ``tests/unit/test_upload_limits.py``'s builders);
- uploads a PNG whose header declares 30000x30000 pixels on Filters' image upload;
- hand-edits links with garbage holding Markdown and HTML (Filters, Pooling, Architecture, Training);
- starts runs past its limits: four small runs, then a 5th; then the course CNN on 60,000 images x 10 epochs by
  the link ``/training?model=course&images=60000&epochs=10`` (over the cost cap);
- uploads the zip of 2,000 PNGs each declaring 16 megapixels on Training's "Your own images"
  (``benchmarks/hostile_uploads.py``'s builder).

Prints the learners' p50 / p90 / p99 with and without the attacker (target: p90 with <= 1.5x without; also
over the seconds the attacks ran, against the same seconds of the run alone), the
learners' errors (target 0: an exception element, a failed rerun, a reply not showing their choice), for every
attack whether it was refused with its message, the seconds until that message appeared (target <= 30 s each) and
whether an exception element or a traceback (server log) appeared; that the server still answers its health check
at the end; the streamlit process's VmHWM in both runs (target: rise with the attacker < 300 MB) and the load
averages. Exit 1 if the server died, a learner had errors or an attack was not refused with a message (not on
timing or memory targets).

Usage: python benchmarks/hostile_class.py [--learners 30] [--rounds 5] [--attacks dense,link-filters,...]
       [--only-attacker] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import load_ws  # noqa: E402
from benchmarks.hostile_uploads import hostile_zip  # noqa: E402
from benchmarks.ws_client import ClientError, RunResult, Session  # noqa: E402

LEARNER_COOKIE = "cnn_lab_learner"  # components.framework.learner.COOKIE
P90_RATIO_TARGET = 1.5
MESSAGE_TARGET = 30.0  # seconds from an attack to its refusal on screen
MEMORY_TARGET_MB = 300.0
LIMIT_TEXT = "each learner may have at most"
COST_TEXT = "Not started: this run would train for about"
IGNORED = "was ignored"
GARBAGE = {  # page -> a hand-edited link's query: Markdown, HTML, LaTeX, a URL, absurd numbers
    "filters": {"kernel": "**Sharpen**<script>alert(1)</script>[x](http://evil.example)"},
    "pooling": {"size": "<img src=x onerror=alert(1)>", "stride": "$$\\infty$$"},
    "architecture": {"filters": "1e309", "dense": "`rm -rf`", "padding": "<b>same</b>"},
    "training": {"images": "-5 :smile:", "epochs": "NaN", "model": "![x](http://evil.example/x.png)"},
}
FIRST_RUN = {"model": "dense", "images": 5000, "epochs": 1}  # a small run, four of them, then the 5th
OVER_CAP = {"model": "course", "images": 60000, "epochs": 10}


@dataclass
class Attack:
    name: str
    refused: bool = False
    message: str = ""
    seconds: float = float("nan")  # from the attack's start to the reply showing the message
    exceptions: list[str] = field(default_factory=list)
    problem: str = ""


def model_file(edit_name: str) -> bytes:
    from tests.unit import test_upload_limits as limits

    return limits.rewrite(getattr(limits, edit_name))


def huge_png(side: int = 30_000) -> bytes:
    from tests.support.image_files import header_only_png

    return header_only_png(side, side)


def alerts(session: Session) -> list[str]:
    return [alert.body for alert in session.elements("alert")]


class Attacker:
    """One session trying every hostile input in turn, each judged by what the page shows next."""

    def __init__(self, url: str, timeout: float, names: list[str] | None, pause: float = 1.0) -> None:
        self.session = Session(url, timeout=timeout, name="attacker", cookies={LEARNER_COOKIE: secrets.token_hex(16)})
        self.pause = pause
        self.attacks: list[Attack] = []
        self.window = (0.0, 0.0)  # time.time() when the attacks began and ended
        every = self.plan()
        self.plan_names = [name for name in every if names is None or name in names]
        unknown = set(names or ()) - set(every)
        if unknown:
            raise ValueError(f"unknown attacks {sorted(unknown)}; there are {list(every)}")
        self.every = every

    def plan(self) -> dict[str, Callable[[Attack], Awaitable[None]]]:
        return {
            "dense": lambda a: self.upload_model(a, "dense_units", "dense1m.keras"),
            "conv": lambda a: self.upload_model(a, "conv_filters", "conv200k.keras"),
            "upsampling": lambda a: self.upload_model(a, "upsampling", "upsampling.keras"),
            "tfsm": lambda a: self.upload_model(a, "tfsm_layer", "tfsm.keras"),
            "png": self.upload_png,
            **{f"link-{page}": (lambda a, p=page: self.link(a, p)) for page in GARBAGE},
            "fifth-run": self.fifth_run,
            "cost-cap": self.cost_cap,
            "zip": self.upload_zip,
        }

    # ------------------------------------------------------------------ judging one step

    def judge(self, attack: Attack, run: RunResult, started: float, expected: str | None, before: list[str]) -> None:
        """Refused if an alert holding `expected` (None: any new error alert) is on the page after `run`."""
        attack.seconds = time.perf_counter() - started
        attack.exceptions += run.exceptions
        now = alerts(self.session)
        shown = [a for a in now if (expected in a if expected else a not in before)]
        if shown:
            attack.refused, attack.message = True, shown[0]
        else:
            attack.problem = f"no refusal shown; alerts on the page: {[a[:120] for a in now]}"

    async def upload_model(self, attack: Attack, edit: str, file_name: str) -> None:
        data = model_file(edit)
        s = self.session
        await s.follow_link("inspect")
        before = alerts(s)
        started = time.perf_counter()
        run = await s.upload("inspect_upload", file_name, data)
        self.judge(attack, run, started, None, before)
        if attack.refused and attack.message.startswith("Stored as"):
            attack.refused, attack.problem = False, f"ACCEPTED: {attack.message[:200]}"

    async def upload_png(self, attack: Attack) -> None:
        s = self.session
        await s.follow_link("filters")
        await s.set("filters_source", "Upload")
        before = alerts(s)
        started = time.perf_counter()
        run = await s.upload("filters_upload", "huge.png", huge_png(), "image/png")
        self.judge(attack, run, started, None, before)

    async def link(self, attack: Attack, page: str) -> None:
        await self.session.follow_link("home")
        started = time.perf_counter()
        run = await self.session.follow_link(page, GARBAGE[page])
        self.judge(attack, run, started, IGNORED, [])
        text = self.session.page_text()
        raw = [value for value in GARBAGE[page].values() if re.search(r"[<>*`$\[!:]", value) and value in text]
        if raw:
            attack.refused = False
            attack.problem = f"the value {raw[0]!r} is on the page unescaped"
        notices = [a for a in alerts(self.session) if IGNORED in a]
        if len(notices) < len(GARBAGE[page]):
            attack.problem += f" only {len(notices)} of {len(GARBAGE[page])} values named as ignored"

    async def open_training(self, query: dict[str, object]) -> None:
        """A link to Training from another page (a page reads its link when it is opened)."""
        await self.session.follow_link("home")
        await self.session.follow_link("training", query)

    async def train(self, query: dict[str, object]) -> RunResult:
        s = self.session
        await self.open_training(query)
        button = s.widget("training_train", "button")
        if button.disabled:
            raise ClientError(f"Train is disabled after the link {query}; alerts {alerts(s)}")
        return await s.click("training_train")

    async def fifth_run(self, attack: Attack) -> None:
        for seed in range(9000, 9004):
            run = await self.train({**FIRST_RUN, "seed": seed})
            attack.exceptions += run.exceptions
            if any(a.startswith("Not started") for a in alerts(self.session)):
                attack.problem = f"run {seed - 8999} of 4 was refused: {alerts(self.session)}"
                return
        await self.open_training({**FIRST_RUN, "seed": 9004})
        started = time.perf_counter()
        run = await self.session.click("training_train")
        self.judge(attack, run, started, LIMIT_TEXT, [])

    async def cost_cap(self, attack: Attack) -> None:
        await self.open_training(OVER_CAP)
        started = time.perf_counter()
        run = await self.session.click("training_train")
        self.judge(attack, run, started, COST_TEXT, [])

    async def upload_zip(self, attack: Attack) -> None:
        s = self.session
        data = await asyncio.to_thread(hostile_zip, 2000, 4000)
        await s.follow_link("training")
        await s.set("training_data", "Your own images")
        before = alerts(s)
        started = time.perf_counter()
        run = await s.upload("training_upload", "hostile.zip", data, "application/zip")
        self.judge(attack, run, started, None, before)

    # ------------------------------------------------------------------ the whole attack

    async def run(self) -> None:
        try:
            await self.session.connect("inspect")
            await self.session.visit("inspect")
        except (ClientError, OSError) as error:
            self.attacks.append(Attack("connect", problem=repr(error)))
            return
        try:
            for name in self.plan_names:
                attack = Attack(name)
                self.attacks.append(attack)
                try:
                    await self.every[name](attack)
                except (TimeoutError, ClientError, KeyError, ValueError, OSError) as error:
                    attack.problem = f"{type(error).__name__}: {str(error)[:300]}"
                print(
                    f"[attack] {name}: {'refused' if attack.refused else 'NOT REFUSED'} in {attack.seconds:.2f} s: "
                    f"{(attack.message or attack.problem)[:150]!r}",
                    file=sys.stderr,
                    flush=True,
                )
                await asyncio.sleep(self.pause)
        finally:
            await self.session.close()


@dataclass
class ClassStats(load_ws.Stats):
    timed: list[tuple[float, float]] = field(default_factory=list)  # (time.time() sent, seconds) of each rerun
    window: tuple[float, float] = (0.0, 0.0)  # time.time() when the attacks began and ended


class TimedLearner(load_ws.StormLearner):
    """A storm learner that also keeps when each rerun was sent (time.time()) with its seconds."""

    def __init__(self, number: int, url: str, args, stats: ClassStats, everyone: list[load_ws.Learner]) -> None:
        super().__init__(number, url, args, stats, everyone)
        self.timed = stats.timed

    async def act(self, name: str, action, pause: bool = True) -> RunResult | None:
        run = await super().act(name, action, pause)
        if run is not None:
            self.timed.append((run.started_at, run.seconds))
        return run


async def hostile_class(url: str, args, attack_names: list[str] | None) -> tuple[ClassStats, list[Attack], float]:
    """The core: `args.learners` storm learners, plus the attacker unless `attack_names` is an empty list;
    the learners' stats, the attacks and the wall seconds of the class."""
    stats = ClassStats()
    if args.warm:
        await load_ws.warm_up(url, args, stats)
    learners: list[load_ws.Learner] = []
    learners += [TimedLearner(i, url, args, stats, learners) for i in range(args.learners)]
    attacker = Attacker(url, args.timeout, attack_names) if attack_names != [] else None
    started = time.perf_counter()

    async def attack() -> None:
        if attacker is not None:
            await asyncio.sleep(args.spread)  # the class has arrived
            attacker.window = (time.time(), time.time())
            await attacker.run()
            attacker.window = (attacker.window[0], time.time())

    await asyncio.gather(attack(), *(learner.run() for learner in learners))
    stats.window = attacker.window if attacker else (0.0, 0.0)
    return stats, attacker.attacks if attacker else [], time.perf_counter() - started


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Phase:
    name: str
    latencies: list[float]
    timed: list[tuple[float, float]]  # (seconds since the class began, rerun seconds)
    window: tuple[float, float]  # the attacks, in seconds since the class began
    errors: list[str]
    leaks: list[str]
    attacks: list[Attack]
    wall: float
    alive: bool
    web_hwm_mb: float
    web_rss_max_mb: float
    children_hwm_max_mb: float
    load_start: tuple[float, ...]
    load_end: tuple[float, ...]
    load_max: float
    log_tracebacks: list[str]


def run_phase(args, attack_names: list[str] | None, name: str) -> Phase:
    with tempfile.TemporaryDirectory(prefix="hostile-class-") as scratch:
        env = {"CNN_LAB_DATA_DIR": scratch}
        with (
            load_ws.serve_as_make_run(extra_env=env, name="hostile_class") as (url, process),
            load_ws.Monitor([process.pid]) as monitor,
        ):
            stats, attacks, wall = asyncio.run(hostile_class(url, args, attack_names))
            alive = process.poll() is None and healthy(url)
            port = url.rsplit(":", 1)[1]
    log = Path(tempfile.gettempdir()) / f"hostile_class-server-{port}.log"
    text = log.read_text(errors="replace") if log.is_file() else ""
    tracebacks = [line for line in text.splitlines() if line.startswith("Traceback") or " ERROR " in line]
    web = monitor.processes.get(process.pid)
    t0 = min((t for t, _ in stats.timed), default=0.0)
    window = (max(0.0, stats.window[0] - t0), max(0.0, stats.window[1] - t0))
    children = [r.hwm for pid, r in monitor.processes.items() if pid != process.pid]
    return Phase(
        name,
        [v for values in stats.latencies.values() for v in values],
        [(t - t0, seconds) for t, seconds in stats.timed],
        window,
        stats.errors,
        stats.leaks,
        attacks,
        wall,
        alive,
        web.hwm if web else float("nan"),
        web.rss_max if web else float("nan"),
        max(children, default=0.0),
        monitor.start_load,
        monitor.end_load,
        max(monitor.loads, default=0.0),
        tracebacks,
    )


def pct(values: list[float]) -> str:
    p = load_ws.percentile
    return f"p50 {p(values, 50):.2f} s, p90 {p(values, 90):.2f} s, p99 {p(values, 99):.2f} s (n {len(values)})"


def report(phases: list[Phase]) -> bool:
    ok = True
    for phase in phases:
        s, e = phase.load_start, phase.load_end
        print(
            f"\n{phase.name}: {phase.wall:.0f} s; learners {pct(phase.latencies)}; errors {len(phase.errors)}, "
            f"leaks {len(phase.leaks)}; server alive at the end: {phase.alive}"
        )
        print(
            f"   web process VmHWM {phase.web_hwm_mb:.0f} MB (RSS highest sampled {phase.web_rss_max_mb:.0f} MB); "
            f"its children's highest VmHWM {phase.children_hwm_max_mb:.0f} MB"
        )
        print(
            f"   load average (1/5/15 min): start {s[0]:.2f} {s[1]:.2f} {s[2]:.2f}, end {e[0]:.2f} {e[1]:.2f} "
            f"{e[2]:.2f}, 1-min highest sampled {phase.load_max:.2f}"
        )
        for line in (phase.errors + phase.leaks)[:10]:
            print(f"   learner problem: {line[:200]}")
        for line in phase.log_tracebacks[:10]:
            print(f"   server log: {line[:200]}")
        ok = ok and phase.alive and not phase.errors and not phase.leaks
    attacked = next((p for p in phases if p.attacks), None)
    alone = next((p for p in phases if not p.attacks), None)
    if attacked is not None:
        print(f"\nattacks (target: each refused with a message within {MESSAGE_TARGET:g} s, no exception):")
        for attack in attacked.attacks:
            clean = not attack.exceptions
            ok = ok and attack.refused and clean
            print(
                f"   {attack.name:18} {'refused' if attack.refused else 'NOT REFUSED':11} {attack.seconds:6.2f} s "
                f"{'(within target)' if attack.seconds <= MESSAGE_TARGET else '(OVER 30 s)':16} "
                f"{'no exception' if clean else 'EXCEPTION ' + attack.exceptions[0][:100]}: "
                f"{(attack.message or attack.problem).replace(chr(10), ' ')[:160]!r}"
            )
            if attack.problem and attack.refused:
                print(f"      note: {attack.problem[:200]}")
        print(f"   server log tracebacks / ERROR lines during the attacked run: {len(attacked.log_tracebacks)}")
    if attacked is not None and alone is not None:
        with_p90 = load_ws.percentile(attacked.latencies, 90)
        without_p90 = load_ws.percentile(alone.latencies, 90)
        rise = attacked.web_hwm_mb - alone.web_hwm_mb
        print(
            f"\nlearners' p90 with the attacker {with_p90:.2f} s vs without {without_p90:.2f} s: ratio "
            f"{with_p90 / without_p90:.2f} (target <= {P90_RATIO_TARGET})"
        )
        start, end = attacked.window
        during = [seconds for t, seconds in attacked.timed if start <= t <= end]
        same = [seconds for t, seconds in alone.timed if start <= t <= end]
        print(
            f"while the attacks ran ({start:.0f}-{end:.0f} s into the class): with the attacker {pct(during)}; "
            f"the same seconds without it {pct(same)}"
        )
        print(f"web process peak memory (VmHWM) with minus without: {rise:+.0f} MB (target < {MEMORY_TARGET_MB:g} MB)")
    print(f"\nresult: {'clean' if ok else 'FAILED (server died, learner errors, or an attack not refused)'}")
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--attacks", help="comma separated attack names (default: all)")
    parser.add_argument("--only-attacker", action="store_true", help="skip the run without the attacker")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    storm = load_ws.parse_args(["--storm", "--learners", str(args.learners), "--rounds", str(args.rounds)])
    storm.timeout = args.timeout
    storm.attacks = args.attacks.split(",") if args.attacks else None
    storm.only_attacker, storm.json = args.only_attacker, args.json
    return storm


def main() -> None:
    args = parse_args()
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    phases = [] if args.only_attacker else [run_phase(args, [], "without the attacker")]
    phases.append(run_phase(args, args.attacks, "with the attacker"))
    ok = report(phases)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(p) for p in phases], indent=1, default=str))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
