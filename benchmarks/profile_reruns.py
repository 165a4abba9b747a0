"""Where a warm rerun's server time goes: pyinstrument inside the served app, driven by the websocket client.

The app is served by ``streamlit run`` in a process whose ``ScriptRunner._run_script`` is wrapped in a
pyinstrument profiler (the script thread; one profile per run chain, fragment runs included). The same learner
as ``benchmarks/rerun_cost.py`` (same cases, same widget changes, over ``benchmarks/ws_client.py``) then clicks
through the pages, and each warm rerun is matched to its server profile by time. Per case it prints the warm
reruns' mean time under the profiler, the app functions (pages/, components/, models/) with the most inclusive
time and the library hot spots with the most self time, per rerun, and the two most expensive warm reruns.
Text renders of each case's combined profile are written to --out (default /tmp/cnn-lab-profiles).

What it does not see: the server's event-loop thread (protobuf serialisation, websocket writes) and
TensorFlow's own threads, except as the time the script thread waits for them.

Usage: python benchmarks/profile_reruns.py [--reruns 6] [--only Filters,Pooling,Architecture,Inspect]
           [--out DIR] [--markdown results.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_CASES = "Filters,Pooling,Architecture,Inspect,upload"
APP_DIRS = ("pages/", "components/", "models/", "app.py")


# ---------------------------------------------------------------------- server side (--serve)


def serve(out: Path, streamlit_args: list[str]) -> None:
    """Run `streamlit <args>` with every script run profiled; index.jsonl lists the profiles."""
    from pyinstrument import Profiler
    from streamlit.runtime.scriptrunner import script_runner  # internal API, written against Streamlit 1.67.0
    from streamlit.web import cli

    out.mkdir(parents=True, exist_ok=True)
    original = script_runner.ScriptRunner._run_script
    counter = iter(range(1_000_000))
    local = threading.local()
    lock = threading.Lock()

    def profiled(self, rerun_data):
        if getattr(local, "active", False):
            return original(self, rerun_data)
        local.active = True
        profiler = Profiler(interval=0.001)
        started, wall = time.perf_counter(), time.time()
        profiler.start()
        try:
            return original(self, rerun_data)
        finally:
            profiler.stop()
            local.active = False
            seconds = time.perf_counter() - started
            number = next(counter)
            path = out / f"run-{number:05d}.pyisession"
            profiler.last_session.save(str(path))
            record = {
                "n": number,
                "start": wall,
                "seconds": seconds,
                "path": str(path),
                "page": rerun_data.page_name or rerun_data.page_script_hash,
                "fragment": bool(rerun_data.fragment_id_queue),
            }
            with lock, open(out / "index.jsonl", "a") as index:
                index.write(json.dumps(record) + "\n")

    script_runner.ScriptRunner._run_script = profiled
    sys.argv = ["streamlit", *streamlit_args]
    sys.exit(cli.main())


# ---------------------------------------------------------------------- reading the profiles


def walk(frame, ancestors=()):
    yield frame, ancestors
    for child in frame.children:
        yield from walk(child, (*ancestors, frame))


def label(frame) -> str:
    path = frame.file_path or ""
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{frame.function} ({path}:{frame.line_no})"


def is_app(frame) -> bool:
    path = frame.file_path or ""
    return (
        path.startswith(str(ROOT) + "/")
        and "benchmarks/" not in path
        and any(d in path[len(str(ROOT)) + 1 :] for d in APP_DIRS)
    )


def top_costs(sessions, runs: int, limit: int = 8) -> tuple[list, list]:
    """(app functions by inclusive seconds per run, library lines by self seconds per run)."""
    from pyinstrument.session import Session

    combined = sessions[0]
    for session in sessions[1:]:
        combined = Session.combine(combined, session)
    root = combined.root_frame()
    inclusive, self_time = defaultdict(float), defaultdict(float)
    if root is None:
        return [], []
    for frame, ancestors in walk(root):
        if frame.is_synthetic:
            continue
        key = label(frame)
        if is_app(frame) and all(label(a) != key for a in ancestors):  # recursion counted once
            inclusive[key] += frame.time
        if not is_app(frame) and frame.total_self_time > 0:
            path = frame.file_path or ""
            package = (
                path.split("site-packages/", 1)[1].split("/", 1)[0]
                if "site-packages/" in path
                else (Path(path).name if path else "?")
            )
            self_time[f"{package}: {frame.function}"] += frame.total_self_time
    apps = sorted(((t / runs, k) for k, t in inclusive.items()), reverse=True)
    libs = sorted(((t / runs, k) for k, t in self_time.items()), reverse=True)
    apps = [(t, k) for t, k in apps if not k.startswith("<module> (")]  # a page's body contains everything
    return apps[:limit], libs[:limit]


BUCKETS = {
    "_on_script_finished": "post-run gc.collect (runner.postScriptGC)",
    "_log_if_error": "keras.backend.clear_session (Streamlit's _clean_problem_modules)",
}


def overheads(sessions) -> dict[str, float]:
    """Seconds per run in the script itself and in Streamlit's work around it (children of _run_script)."""
    buckets: dict[str, float] = defaultdict(float)
    for session in sessions:
        root = session.root_frame()
        stack = [root] if root is not None else []
        while stack:
            frame = stack.pop()
            if frame.function == "_run_script":
                for child in frame.children:
                    buckets[BUCKETS.get(child.function, "the script (page code and Streamlit commands)")] += child.time
                break
            stack.extend(frame.children)
    return {name: seconds / len(sessions) for name, seconds in buckets.items()}


def render(sessions, path: Path) -> None:
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    combined = sessions[0]
    for session in sessions[1:]:
        combined = Session.combine(combined, session)
    path.write_text(ConsoleRenderer(unicode=False, color=False, short_mode=False).render(combined))


# ---------------------------------------------------------------------- driver


def main() -> None:
    if "--serve" in sys.argv:
        at = sys.argv.index("--serve")
        serve(Path(sys.argv[at + 1]), sys.argv[sys.argv.index("--") + 1 :])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reruns", type=int, default=6, help="warm reruns per case (default 6)")
    parser.add_argument("--only", default=DEFAULT_CASES, help=f"case name prefixes (default {DEFAULT_CASES})")
    parser.add_argument("--out", default="/tmp/cnn-lab-profiles", help="folder for the profiles and text renders")
    parser.add_argument("--markdown", help="also write the top costs as Markdown to this file")
    args = parser.parse_args()

    from pyinstrument.session import Session

    from benchmarks.rerun_cost import load_average, measure
    from tests.support.browser import streamlit_server

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("run-*.pyisession"):
        old.unlink()
    (out / "index.jsonl").unlink(missing_ok=True)
    load_before = load_average()
    profiled = (sys.executable, __file__, "--serve", str(out), "--")  # streamlit under this file's profiler
    with streamlit_server(launcher=profiled, log_path=out / "server.log", timeout=120) as server:
        cases = asyncio.run(measure(server.url, args.reruns, set(args.only.split(",")), verbose=False))
        time.sleep(1.0)  # the last profile is written after script_finished is sent
    records = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    lines = [
        f"Profiled with pyinstrument 1 ms sampling in the script thread; load average {load_before} "
        f"before, {load_average()} after. Times are per warm rerun, under the profiler.",
        "",
    ]
    for case in cases:
        matched = []
        for run in case.warm:
            window = [r for r in records if run.started_at - 0.05 <= r["start"] <= run.started_at + run.seconds]
            if window:
                matched.append((run, window[0]))
        if not matched:
            continue
        sessions = [Session.load(record["path"]) for _, record in matched]
        apps, libs = top_costs(sessions, len(sessions))
        slug = "".join(c if c.isalnum() else "-" for c in case.name.lower()).strip("-")
        render(sessions, out / f"{slug}.txt")
        mean = sum(record["seconds"] for _, record in matched) / len(matched)
        worst = sorted(matched, key=lambda m: -m[1]["seconds"])[:2]
        lines.append(f"### {case.name}")
        lines.append(
            f"{len(matched)} warm reruns, mean {mean * 1000:.0f} ms in the script thread (client saw "
            f"{sum(r.seconds for r, _ in matched) / len(matched) * 1000:.0f} ms); two most expensive: "
            + ", ".join(f"{rec['seconds'] * 1000:.0f} ms" for _, rec in worst)
            + "."
        )
        lines.append("")
        split = overheads(sessions)
        lines.append(
            "Script thread per rerun: "
            + "; ".join(
                f"{name} {seconds * 1000:.0f} ms" for name, seconds in sorted(split.items(), key=lambda i: -i[1])
            )
            + "."
        )
        lines.append("")
        lines.append("| ms per rerun | app function (inclusive) |")
        lines.append("| ---: | --- |")
        lines += [f"| {t * 1000:.0f} | `{k}` |" for t, k in apps]
        lines.append("")
        lines.append("| ms per rerun | library hot spot (self time) |")
        lines.append("| ---: | --- |")
        lines += [f"| {t * 1000:.0f} | `{k}` |" for t, k in libs]
        lines.append("")
        worst_sessions = [Session.load(rec["path"]) for _, rec in worst]
        worst_apps, _ = top_costs(worst_sessions, len(worst_sessions), limit=3)
        lines.append(
            "Two most expensive warm reruns, top app costs: "
            + "; ".join(f"`{k.split(' (')[0]}` {t * 1000:.0f} ms" for t, k in worst_apps)
            + "."
        )
        lines.append("")
    text = "\n".join(lines)
    print(text)
    print(f"\nText renders of each case's profile: {out}/*.txt")
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
