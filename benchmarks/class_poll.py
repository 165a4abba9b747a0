"""A class poll on one server, without a browser: N students as websocket clients answer one question in a window.

A lecturer session opens the Class page and starts a class; N student sessions open the join link
(``/class?join=CODE``), press Join, then each types an answer and presses Send at a random moment within
``--window`` seconds (default 10). Meanwhile every student's page does what a browser's does: its
``st.fragment(run_every=2)`` check ("has the lecturer moved or revealed?") reruns every 2 s, and so does the
lecturer's live tally. Prints the latency (sending the rerun to ``script_finished``) of the Join and Send
clicks and of the fragment reruns (p50 / p90 / max), the load average, and the projector's count after the
window, against the target: Send p90 <= 1 s, and the projector shows "N of N" within one refresh.

Usage: python benchmarks/class_poll.py [--students 100] [--window 10] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load_ws import percentile, serve_as_make_run  # noqa: E402
from benchmarks.ws_client import Session  # noqa: E402

ANSWERS = ["100,480", "100480", "784", "12"]


async def tick(session: Session, times: list[float]) -> None:
    """One refresh of the session's auto-rerun fragments, as the browser's timer does."""
    for fragment in list(session.auto_reruns):
        if fragment in session.auto_reruns:  # a full run may have replaced it
            times.append((await session.auto_rerun(fragment)).seconds)


async def refresh_until(session: Session, moment: float, times: list[float], stop: asyncio.Event | None = None) -> None:
    """Refresh the fragments every interval until `moment` (perf_counter) or `stop`; one action at a time, as one
    browser tab sends them."""
    while time.perf_counter() < moment and not (stop and stop.is_set()):
        interval = min(session.auto_reruns.values(), default=2.0)
        await asyncio.sleep(max(0.0, min(interval, moment - time.perf_counter())))
        if time.perf_counter() < moment and not (stop and stop.is_set()):
            await tick(session, times)


async def student(url: str, code: str, index: int, window: float, start: float, record: dict, stop: asyncio.Event):
    async with Session(url, name=f"student-{index}", timeout=60.0) as session:
        await session.visit("class", {"join": code})
        joined = await session.click("Join")
        record["join"].append(joined.seconds)
        if "You are in class" not in joined.text():
            record["errors"].append(f"student {index} did not join: {joined.text()[-200:]}")
            return
        await refresh_until(session, start + random.uniform(0, window), record["fragment"])
        await session.set("Your answer", ANSWERS[index % len(ANSWERS)])
        sent = await session.click("Send my answer")
        record["send"].append(sent.seconds)
        if "Your answer:" not in sent.text():
            record["errors"].append(f"student {index}'s answer was not shown: {sent.text()[-200:]}")
        await refresh_until(session, float("inf"), record["fragment"], stop)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds the server process has used so far (0 without a pid: a server run elsewhere)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(url: str, students: int, window: float, join_seconds: float, pid: int | None = None) -> int:
    record: dict[str, list] = {"join": [], "send": [], "fragment": [], "errors": []}
    stop = asyncio.Event()
    async with Session(url, name="lecturer", timeout=60.0) as lecturer:
        await lecturer.visit("class")
        started = await lecturer.click("Start a class")
        code = re.search(r"join=([A-Z0-9]{6})", started.text()).group(1)
        print(f"class {code} started; {students} students join, then answer within {window:.0f} s", flush=True)
        load_before = os.getloadavg()
        start = time.perf_counter() + join_seconds  # joining first; the answer window starts after it
        tasks = [asyncio.create_task(student(url, code, i, window, start, record, stop)) for i in range(students)]
        projector: list[float] = []
        lecturer_loop = asyncio.create_task(refresh_until(lecturer, float("inf"), projector, stop))
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        cpu_before = cpu_seconds(pid)
        await asyncio.sleep(max(0.0, start + window - time.perf_counter()))
        while len(record["send"]) + len(record["errors"]) < students and time.perf_counter() < start + window + 60:
            await asyncio.sleep(0.2)
        answered_at = time.perf_counter()
        shown = ""
        while time.perf_counter() < answered_at + 10:
            shown = lecturer.page_text()  # what the projector shows after its latest refresh
            if f"{students} of {students}" in shown:
                break
            await asyncio.sleep(0.1)
        count_delay = time.perf_counter() - answered_at
        cpu_used, wall = cpu_seconds(pid) - cpu_before, time.perf_counter() - start
        load_after = os.getloadavg()
        stop.set()
        await asyncio.gather(*tasks, lecturer_loop)
    for name in ("join", "send", "fragment"):
        values = record[name]
        if values:
            print(
                f"{name:9s} n={len(values):4d} p50={percentile(values, 50):.3f}s p90={percentile(values, 90):.3f}s "
                f"max={max(values):.3f}s"
            )
    print(f"projector reruns n={len(projector)} p90={percentile(projector, 90) if projector else 0:.3f}s")
    right = f"{students} of {students}" in shown
    print(f"projector shows {students} of {students}: {right} ({count_delay:.1f} s after the last answer)")
    if pid is not None:
        print(f"server CPU from the window's start to the count shown: {cpu_used:.1f} s in {wall:.1f} s")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    send_p90 = percentile(record["send"], 90) if record["send"] else float("inf")
    print(f"target Send p90 <= 1 s: {'met' if send_p90 <= 1.0 else 'MISSED'} ({send_p90:.3f} s)")
    for error in record["errors"][:10]:
        print("error:", error)
    return 1 if record["errors"] or not right else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--join-seconds", type=float, default=60.0, help="time for everyone to join first")
    parser.add_argument("--url", help="a running app (default: serve one as `make run` does)")
    args = parser.parse_args()
    if args.url:
        return asyncio.run(run(args.url, args.students, args.window, args.join_seconds))
    data = tempfile.mkdtemp(prefix="cnn-lab-class-poll-")
    with serve_as_make_run(extra_env={"CNN_LAB_DATA_DIR": data}, name="class_poll") as (url, process):
        return asyncio.run(run(url, args.students, args.window, args.join_seconds, process.pid))


if __name__ == "__main__":
    raise SystemExit(main())
