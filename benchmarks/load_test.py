"""N learners at once on ONE app process while a model trains: interaction latency and session isolation.

One Chromium, N browser contexts (separate Streamlit sessions), driven concurrently with Playwright's async
API. Session 0 first starts a training run on the Training page (5,000 images, 30 epochs, so it lasts the
whole test) and stops it at the end. Every session then navigates with the sidebar (one Streamlit session
each) and, for a few rounds, picks its own kernel on Filters, its own pool size on Pooling and its own filter
number on Inspect, checking after each step that the page shows *its* result and no exception box. At the end
every session's page is checked once more against its own choice (another session's choice would leak here).
A latency is the time from the click or key press until the expected text is on the page and the app is idle.

Usage: python benchmarks/load_test.py [sessions] [rounds]     (default 8 sessions, 3 rounds)
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.memory import PeakSampler, streamlit_server_pid  # noqa: E402
from models.ops.kernels import KERNELS  # noqa: E402
from models.ops.pooling import output_shape  # noqa: E402

TIMEOUT_MS = int(os.environ.get("LOAD_TEST_TIMEOUT_MS", 300_000))
VERBOSE = bool(os.environ.get("LOAD_TEST_VERBOSE"))
# The conditions of tests.support.browser.wait_until_idle, for Playwright's async API.
IDLE_APP = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'
IDLE_JS = """() => document.querySelectorAll('[data-testid="stSkeleton"]').length === 0
    && [
    ...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(chart => chart.querySelector('.main-svg'))"""
DEFAULT_KERNEL = "Sobel: vertical edges"  # what the Filters page shows before a choice
SESSION_KERNELS = [name for name in KERNELS if not name.startswith("Course") and name != DEFAULT_KERNEL]
POOL_SIZES = (2, 3, 4, 5, 6, 7, 8, 9)


class Session:
    """One learner: a browser context, its own choices, and the latencies it measured."""

    def __init__(self, number: int, context, latencies: dict[str, list[float]], problems: list[str]) -> None:
        self.number, self.context, self.latencies, self.problems = number, context, latencies, problems
        self.page = None

    def kernel(self, round_number: int) -> str:
        return SESSION_KERNELS[(self.number + round_number) % len(SESSION_KERNELS)]

    def pool_size(self, round_number: int) -> int:
        return POOL_SIZES[(self.number + round_number) % len(POOL_SIZES)]

    def filter_number(self, round_number: int) -> int:
        return (7 * self.number + round_number) % 64

    async def idle(self) -> None:
        await self.page.wait_for_selector(IDLE_APP, timeout=TIMEOUT_MS)
        await self.page.wait_for_function(IDLE_JS, timeout=TIMEOUT_MS)

    async def timed(self, name: str, action, expected) -> None:
        """Run `action`, wait until `expected` (a locator) is visible and the app idle; record the seconds."""
        started = time.perf_counter()
        await action()
        await expected.first.wait_for(timeout=TIMEOUT_MS)
        await self.idle()
        self.latencies[name].append(time.perf_counter() - started)
        if VERBOSE:
            print(f"[load] session {self.number}: {name} {self.latencies[name][-1]:.2f} s", file=sys.stderr, flush=True)
        await self.check_no_exception(name)

    async def check_no_exception(self, where: str) -> None:
        if await self.page.locator('[data-testid="stException"]').count():
            self.problems.append(f"session {self.number}: exception box after {where}")

    async def navigate(self, title: str, url_path: str) -> None:
        async def click() -> None:
            await self.page.get_by_test_id("stSidebarNavLink").filter(has_text=title).first.click()
            await self.page.wait_for_url(re.compile(f"/{url_path}"), timeout=TIMEOUT_MS)

        await self.timed(f"open {title}", click, self.page.locator("h1", has_text=title))

    async def pick_kernel(self, name: str) -> None:
        box = self.page.get_by_test_id("stSelectbox").filter(has_text="Named kernel").locator("input")

        async def choose() -> None:
            await box.click()
            await box.fill(name)
            await self.page.get_by_role("option", name=name, exact=True).click()

        await self.timed("Filters: pick a kernel", choose, self.page.get_by_text(KERNELS[name].explanation))

    async def set_pool_size(self, size: int) -> None:
        """Type the pool size; wait for the Output metric Keras's shape rule gives for this session's input."""
        field = self.page.get_by_role("spinbutton", name="Pool size (window side)")
        metric = self.page.get_by_test_id("stMetric")
        shown = await metric.filter(has_text="Input").get_by_test_id("stMetricValue").inner_text()
        height, width = (int(side) for side in shown.split("x"))
        out_h, out_w = output_shape(height, width, size, 2, "valid")

        async def type_size() -> None:
            await field.fill(str(size))
            await field.press("Enter")

        output = (
            metric.filter(has_text="Output").get_by_test_id("stMetricValue").get_by_text(f"{out_h}x{out_w}", exact=True)
        )
        await self.timed("Pooling: change the pool size", type_size, output)

    async def set_filter_number(self, number: int) -> None:
        field = self.page.get_by_role("spinbutton", name="Filter number")

        async def type_number() -> None:
            await field.fill(str(number))
            await field.press("Enter")

        await self.timed(
            "Inspect: change the filter number", type_number, self.page.get_by_text(f"Filter {number} after each layer")
        )

    async def start(self, url: str) -> None:
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(TIMEOUT_MS)
        self.page = await self.context.new_page()
        started = time.perf_counter()
        await self.page.goto(url)
        await self.idle()
        self.latencies["first load (Home)"].append(time.perf_counter() - started)

    async def rounds(self, count: int) -> None:
        try:
            await self._rounds(count)
        except Exception:
            (ROOT / "screenshots").mkdir(exist_ok=True)
            await self.page.screenshot(path=str(ROOT / "screenshots" / f"load-session-{self.number}-failed.png"))
            raise

    async def _rounds(self, count: int) -> None:
        for round_number in range(count):
            await self.navigate("Filters", "filters")
            await self.pick_kernel(self.kernel(round_number))
            await self.navigate("Pooling", "pooling")
            await self.set_pool_size(self.pool_size(round_number))
            await self.navigate("Inspect", "inspect")
            await self.set_filter_number(self.filter_number(round_number))

    async def verify_own_state(self, rounds: int, notes: set[str]) -> None:
        """After everyone is done: this session still shows its own filter, and no other session's kernel."""
        number = self.filter_number(rounds - 1)
        if not await self.page.get_by_text(f"Filter {number} after each layer").count():
            self.problems.append(f"session {self.number}: Inspect no longer shows its filter {number}")
        await self.navigate("Filters", "filters")
        box = self.page.get_by_test_id("stSelectbox").filter(has_text="Named kernel")
        shown = await box.locator("input").input_value() or await box.locator("input").get_attribute("placeholder")
        own = self.kernel(rounds - 1)
        if shown not in (own, DEFAULT_KERNEL):
            self.problems.append(
                f"session {self.number}: Filters shows {shown!r}, neither its own {own!r} nor the default"
            )
        elif shown != own:
            notes.add(f"Filters forgets the chosen kernel after a visit to other pages (shows the default {shown!r})")


async def start_training(session: Session) -> None:
    page = session.page
    await session.navigate("Training", "training")
    for label, key in (("Training images", "Home"), ("Epochs", "End")):  # 5,000 images, 30 epochs
        slider = page.get_by_role("slider", name=label)
        await slider.focus()
        await page.keyboard.press(key)
        await slider.blur()
        await session.idle()
    await session.timed(
        "Training: start", page.get_by_role("button", name="Train", exact=True).click, page.get_by_test_id("stProgress")
    )
    await page.get_by_text(re.compile(r"Epoch \d+/30, batch")).first.wait_for(timeout=TIMEOUT_MS)


async def stop_training(session: Session) -> None:
    page = session.page
    await session.navigate("Training", "training")
    stop = page.get_by_role("button", name="Stop", exact=True)
    if not await stop.count():
        session.problems.append("the training run was no longer running at the end (it should last 30 epochs)")
        return
    await session.timed("Training: stop", stop.click, page.get_by_test_id("stDataFrame"))


async def run(url: str, sessions: int, rounds: int) -> tuple[dict[str, list[float]], list[str], set[str], float]:
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    latencies: dict[str, list[float]] = defaultdict(list)
    problems: list[str] = []
    notes: set[str] = set()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        learners = [
            Session(i, await browser.new_context(viewport={"width": 1400, "height": 900}), latencies, problems)
            for i in range(sessions)
        ]
        await learners[0].start(url)
        await start_training(learners[0])
        started = time.perf_counter()
        await asyncio.gather(*(learner.start(url) for learner in learners[1:]))
        await asyncio.gather(*(learner.rounds(rounds) for learner in learners))
        await asyncio.gather(*(learner.verify_own_state(rounds, notes) for learner in learners))
        wall = time.perf_counter() - started
        await stop_training(learners[0])
        await browser.close()
    return latencies, problems, notes, wall


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main(argv: list[str]) -> None:
    from tests.support.browser import served_app

    sessions = int(argv[0]) if argv else 8
    rounds = int(argv[1]) if len(argv) > 1 else 3
    with served_app(timeout=180) as url, PeakSampler(streamlit_server_pid()) as memory:
        latencies, problems, notes, wall = asyncio.run(run(url, sessions, rounds))
    print(
        f"[load] {sessions} concurrent browser sessions (one Chromium, {sessions} contexts), one app process, "
        f"{rounds} rounds each, while one training run (course CNN, 5,000 images) ran; {wall:.0f} s wall time"
    )
    print(f"[load] {'interaction':<36} {'n':>4} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} {'max s':>7}")
    everything = []
    for name, values in latencies.items():
        everything += values if "Training" not in name and not name.startswith("first load") else []
        print(
            f"[load] {name:<36} {len(values):>4} {percentile(values, 50):7.2f} {percentile(values, 90):7.2f} "
            f"{percentile(values, 99):7.2f} {max(values):7.2f}"
        )
    print(
        f"[load] {'all page interactions':<36} {len(everything):>4} {percentile(everything, 50):7.2f} "
        f"{percentile(everything, 90):7.2f} {percentile(everything, 99):7.2f} {max(everything):7.2f}"
    )
    print(f"[load] median interaction {statistics.median(everything):.2f} s; peak app RSS {memory.peak:.0f} MB")
    for note in sorted(notes):
        print(f"[load] note: {note}")
    if problems:
        print("[load] PROBLEMS:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("[load] isolation: every session showed only its own kernel, pool size and filter; no exception box")


if __name__ == "__main__":
    main(sys.argv[1:])
