"""Peak resident memory of EACH process of the app, the Streamlit server and every training worker, vs 1 GB.

Training runs outside the server: each job is a `python -m models.networks.worker` child of `streamlit run`
(models.training.executors.LocalProcessExecutor), so the server and the workers have a peak each. Two cases, each
on a freshly served app whose saved runs go to a temporary $CNN_LAB_DATA_DIR:

(a) One learner: Chromium visits every page (Inspect's Evaluation tab too), then trains the course CNN on
    5,000 images from the Training page (the page's default recipe otherwise) and waits for the run to be
    listed. Chromium's own memory is the learner's, not the server's, and is not counted.
(b) A class: 8 learners at once, each a `benchmarks/ws_client.py` session (Streamlit's websocket protocol,
    no browser, so no Chromium shares the 2 cores) visiting every page and Inspect's Evaluation tab. No
    training: the server alone.

Every 50 ms each process under the server is read from /proc/PID/status: VmRSS (sampled) and VmHWM (the
kernel's own peak of that process, read while it lives); the peak printed is the larger. The highest sum of
the processes' RSS at one sample is printed too: an upper bound of what a container's limit counts, since
library pages the server and a worker share (TensorFlow's, Python's) are counted in each; and, as an
estimate of the total with those pages counted once, the highest sum of their anonymous RSS plus the
largest file-backed RSS among them. (PSS would split shared pages, but on a machine shared with other
TensorFlow processes it splits them with processes outside the app too.) Each figure is also a ratio of
the 1 GB design budget (Streamlit Community Cloud gives an app about 0.7-2.7 GB).

Usage: python benchmarks/memory.py [a|b ...]   (default both; Linux; (a) needs Playwright and /usr/bin/chromium)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.catalog import ALL_PAGES  # noqa: E402

BUDGET_MB = 1024
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LEARNERS = 8
WORKER_MODULE = b"models.networks.worker"


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(parents.get(current, []))
    return found


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes in MB (from /proc/PID/statm; vanished processes count 0)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError):
            continue
    return total * PAGE_SIZE / 2**20


STATUS_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")


def status_mb(pid: int) -> dict[str, float] | None:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of a process in MB from /proc/PID/status; None if it is gone."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in STATUS_FIELDS:
                fields[name] = int(value.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return fields if len(fields) == len(STATUS_FIELDS) else None  # a zombie has no memory lines


def command_of(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        return []


def streamlit_server_pid() -> int:
    """The `streamlit run` process that tests.support.browser.served_app started from this process."""
    for pid in descendants(os.getpid())[1:]:
        command = command_of(pid)
        if b"streamlit" in command and b"run" in command:
            return pid
    raise RuntimeError("no `streamlit run` child process found")


@dataclass
class ProcessPeak:
    """One process of the sampled tree and the most memory it was seen holding."""

    pid: int
    role: str  # "server", "training worker" or "other"
    command: str
    rss_peak: float = 0.0  # MB, highest sampled VmRSS
    hwm: float = 0.0  # MB, last VmHWM read while it lived
    samples: int = 0
    first_seen: float = 0.0  # time.perf_counter()
    last_seen: float = 0.0

    @property
    def peak(self) -> float:
        return max(self.rss_peak, self.hwm)


class PeakSampler:
    """Samples the RSS of a process tree in a thread.

    `.peak` / `.samples`: the whole tree's RSS sum in MB (as before); `.processes`: each process's own peak
    (ProcessPeak by pid); `.unshared_peak`: the highest sum of the processes' anonymous (and shmem) RSS plus
    the largest file-backed RSS among them, i.e. the tree with library pages counted once (an estimate:
    it assumes the smaller processes map the same files as the largest).
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.samples = pid, interval, []
        self.processes: dict[int, ProcessPeak] = {}
        self.unshared_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _role(self, pid: int) -> tuple[str, str]:
        command = command_of(pid)
        text = " ".join(part.decode(errors="replace") for part in command)
        if pid == self.pid:
            return "server", text
        if WORKER_MODULE in command:
            return "training worker", text
        return "other", text

    def sample(self) -> None:
        """One reading of every process in the tree."""
        now, total, private, files = time.perf_counter(), 0.0, 0.0, 0.0
        for pid in descendants(self.pid):
            reading = status_mb(pid)
            if reading is None:
                continue
            rss, hwm = reading["VmRSS"], reading["VmHWM"]
            total += rss
            private += reading["RssAnon"] + reading["RssShmem"]
            files = max(files, reading["RssFile"])
            record = self.processes.get(pid)
            if record is None:
                role, command = self._role(pid)
                record = self.processes[pid] = ProcessPeak(pid, role, command, first_seen=now)
            record.rss_peak, record.hwm = max(record.rss_peak, rss), max(record.hwm, hwm)
            record.samples += 1
            record.last_seen = now
        self.samples.append(total)
        self.unshared_peak = max(self.unshared_peak, private + files)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)

    def of(self, role: str) -> list[ProcessPeak]:
        return sorted((p for p in self.processes.values() if p.role == role), key=lambda p: p.first_seen)

    @property
    def server_peak(self) -> float:
        record = self.processes.get(self.pid)
        return record.peak if record else 0.0


def ratio(mb: float) -> str:
    return f"{mb / BUDGET_MB:.2f} of the budget"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextmanager
def fresh_app():
    """The lab served on a free port with an empty data folder; yields (url, server pid, idle server RSS)."""
    from tests.support.browser import served_app

    with tempfile.TemporaryDirectory(prefix="cnn-lab-memory-") as data_dir:
        saved = os.environ.get("CNN_LAB_DATA_DIR")
        os.environ["CNN_LAB_DATA_DIR"] = data_dir
        try:
            with served_app(timeout=180) as url:
                pid = streamlit_server_pid()
                yield url, pid, rss_mb([pid])
        finally:
            if saved is None:
                os.environ.pop("CNN_LAB_DATA_DIR", None)
            else:
                os.environ["CNN_LAB_DATA_DIR"] = saved


def report(case: str, sampler: PeakSampler) -> None:
    """Each process's peak, then the tree's at one moment, against the budget."""
    print(f"[memory] ({case}) peak per process (max of sampled VmRSS and VmHWM):")
    for role in ("server", "training worker", "other"):
        for record in sampler.of(role):
            alive = record.last_seen - record.first_seen
            print(
                f"[memory] ({case})   {role:<16} pid {record.pid:<7} {record.peak:6.0f} MB  {ratio(record.peak)}  "
                f"(sampled RSS {record.rss_peak:.0f}, VmHWM {record.hwm:.0f}; seen {alive:.0f} s)"
            )
    if not sampler.of("training worker"):
        print(f"[memory] ({case})   no training worker ran")
    print(
        f"[memory] ({case}) all of the server's processes at one moment: RSS sum {sampler.peak:.0f} MB "
        f"({ratio(sampler.peak)}; library pages counted in each process), with file-backed pages counted "
        f"once about {sampler.unshared_peak:.0f} MB ({ratio(sampler.unshared_peak)}); "
        f"{len(sampler.samples):,} samples"
    )


# ---------------------------------------------------------------------- (a) one learner in Chromium


def visit_every_page_and_train(url: str, marks: list[tuple[str, float]], sampler: PeakSampler) -> float:
    """Chromium opens each page (Inspect's evaluation tab too), trains on 5,000 images; returns training seconds."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, wait_until_idle

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)  # the default page (Home) lives at the root
        wait_until_idle(page, timeout_ms=180_000)
        marks.append((ALL_PAGES[0].title, sampler.server_peak))
        for spec in ALL_PAGES[1:]:
            page.get_by_test_id("stSidebarNavLink").filter(has_text=spec.title).first.click()
            page.wait_for_url(f"**/{spec.url_path}*")
            wait_until_idle(page, timeout_ms=180_000)
            if spec.url_path == "inspect":
                page.get_by_role("tab", name="Evaluation").click()
                page.get_by_text("Most confident mistakes").wait_for(timeout=300_000)
                wait_until_idle(page, timeout_ms=180_000)
            marks.append(
                (spec.title + (" (+ Evaluation tab)" if spec.url_path == "inspect" else ""), sampler.server_peak)
            )
        page.get_by_test_id("stSidebarNavLink").filter(has_text="Training").first.click()
        page.wait_for_url("**/training*")
        wait_until_idle(page)
        slider = page.get_by_role("slider", name="Training images")
        slider.focus()
        page.keyboard.press("Home")  # 5,000 images
        slider.blur()
        wait_until_idle(page)
        started = time.perf_counter()
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=900_000)  # the finished run is listed
        seconds = time.perf_counter() - started
        wait_until_idle(page, timeout_ms=180_000)
        marks.append(("the training run (5,000 images)", sampler.server_peak))
        if page.locator('[data-testid="stException"]').count():
            raise RuntimeError("the app showed an exception")
        browser.close()
    return seconds


def one_learner() -> None:
    print(
        f"[memory] (a) one learner in Chromium: every page, Inspect's Evaluation tab, then one training job "
        f"(course CNN, 5,000 images); load average {load_average()}",
        flush=True,
    )
    marks: list[tuple[str, float]] = []
    with fresh_app() as (url, pid, idle):
        with PeakSampler(pid) as sampler:
            seconds = visit_every_page_and_train(url, marks, sampler)
            time.sleep(0.2)
    print(f"[memory] (a) server RSS when idle (no session yet): {idle:.0f} MB")
    for label, peak in marks:
        print(f"[memory] (a) server peak so far after {label:<32} {peak:6.0f} MB  {ratio(peak)}")
    print(f"[memory] (a) the training job, from the click to the run listed, took {seconds:.0f} s")
    report("a", sampler)
    print(f"[memory] (a) load average at the end: {load_average()}", flush=True)


# ---------------------------------------------------------------------- (b) a class over websockets


async def learner_visits(url: str, number: int, seconds: list[float], problems: list[str]) -> None:
    """One ws_client session: every page in the sidebar's order, and Inspect's Evaluation tab."""
    from benchmarks.ws_client import ClientError, Session

    started = time.perf_counter()
    try:
        async with Session(url, timeout=900, name=f"learner{number}") as session:
            for spec in ALL_PAGES:
                runs = [await session.visit(spec.url_path)]  # "home" is the default page
                if spec.url_path == "inspect":
                    runs.append(await session.set("inspect_tab", "Evaluation"))
                    if "Most confident mistakes" not in runs[-1].text():
                        problems.append(f"learner {number}: Inspect's Evaluation tab did not show its mistakes")
                for run in runs:
                    problems += [f"learner {number}: {spec.title}: {error}"[:300] for error in run.exceptions]
    except (ClientError, KeyError, ValueError, OSError) as error:
        problems.append(f"learner {number}: {error!r}"[:300])
    seconds.append(time.perf_counter() - started)


async def a_class(url: str, learners: int) -> tuple[list[float], list[str]]:
    seconds: list[float] = []
    problems: list[str] = []
    await asyncio.gather(*(learner_visits(url, number, seconds, problems) for number in range(learners)))
    return seconds, problems


def many_learners(learners: int = LEARNERS) -> None:
    print(
        f"[memory] (b) {learners} learners at once (ws_client sessions, no browser), each visiting every page "
        f"and Inspect's Evaluation tab; no training; load average {load_average()}",
        flush=True,
    )
    with fresh_app() as (url, pid, idle):
        with PeakSampler(pid) as sampler:
            seconds, problems = asyncio.run(a_class(url, learners))
            after = rss_mb([pid])
    print(
        f"[memory] (b) server RSS when idle (no session yet): {idle:.0f} MB; after the visits (sessions "
        f"closed): {after:.0f} MB"
    )
    print(f"[memory] (b) every learner's visits took {min(seconds):.0f}-{max(seconds):.0f} s")
    report("b", sampler)
    if problems:
        print(f"[memory] (b) PROBLEMS ({len(problems)}):\n  " + "\n  ".join(problems[:15]))
    print(f"[memory] (b) load average at the end: {load_average()}", flush=True)


def main(parts: list[str]) -> None:
    parts = parts or ["a", "b"]
    cases = {"a": one_learner, "b": many_learners}
    unknown = [part for part in parts if part not in cases]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose from a (one learner + training), b ({LEARNERS} learners)")
    print(f"[memory] design budget {BUDGET_MB} MB; {os.cpu_count()} cores", flush=True)
    for part in parts:
        cases[part]()


if __name__ == "__main__":
    main(sys.argv[1:])
