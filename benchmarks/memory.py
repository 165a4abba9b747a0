"""Peak resident memory of one app process while Chromium visits every page and a short training run runs.

The server's RSS (plus any child processes) is sampled from /proc every 50 ms; the peak is compared with
the 1 GB the app is designed for (Streamlit Community Cloud gives about 1 GB or more per app).

Usage: python benchmarks/memory.py        (Linux; needs Playwright and /usr/bin/chromium)
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.catalog import ALL_PAGES  # noqa: E402

BUDGET_MB = 1024
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


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


def streamlit_server_pid() -> int:
    """The `streamlit run` process that tests.browser.served_app started from this process."""
    for pid in descendants(os.getpid())[1:]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in command and b"run" in command:
            return pid
    raise RuntimeError("no `streamlit run` child process found")


class PeakSampler:
    """Samples the RSS of a process tree in a thread; `.peak` and `.samples` in MB."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.samples = pid, interval, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_mb(descendants(self.pid)))
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


def visit_every_page_and_train(url: str, marks: list[tuple[str, float]], sampler: PeakSampler) -> float:
    """Chromium opens each page (Inspect's evaluation tab too), then trains on 5,000 images; returns training seconds."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, wait_until_idle

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)  # the default page (Home) lives at the root
        wait_until_idle(page, timeout_ms=180_000)
        marks.append((ALL_PAGES[0].title, sampler.peak))
        for spec in ALL_PAGES[1:]:
            page.get_by_test_id("stSidebarNavLink").filter(has_text=spec.title).first.click()
            page.wait_for_url(f"**/{spec.url_path}*")
            wait_until_idle(page, timeout_ms=180_000)
            if spec.url_path == "inspect":
                page.get_by_role("tab", name="Evaluation").click()
                page.get_by_text("Most confident mistakes").wait_for(timeout=300_000)
                wait_until_idle(page, timeout_ms=180_000)
            marks.append((spec.title, sampler.peak))
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
        marks.append(("Training run (5,000 images)", sampler.peak))
        if page.locator('[data-testid="stException"]').count():
            raise RuntimeError("the app showed an exception")
        browser.close()
    return seconds


def main() -> None:
    from tests.browser import served_app

    marks: list[tuple[str, float]] = []
    with served_app(timeout=180) as url:
        pid = streamlit_server_pid()
        idle = rss_mb(descendants(pid))
        with PeakSampler(pid) as sampler:
            seconds = visit_every_page_and_train(url, marks, sampler)
    print(f"[memory] app server RSS when idle (no session yet): {idle:.0f} MB")
    for label, peak in marks:
        print(f"[memory] peak so far after {label:<28} {peak:6.0f} MB")
    print(f"[memory] training run from the page took {seconds:.0f} s")
    print(f"[memory] peak RSS of the app process (incl. children): {sampler.peak:.0f} MB "
          f"({len(sampler.samples):,} samples); budget {BUDGET_MB} MB; headroom ratio budget / peak = "
          f"{BUDGET_MB / sampler.peak:.2f}")


if __name__ == "__main__":
    main()
