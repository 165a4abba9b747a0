"""What a page visit costs the server: ONE learner going from page to page with new link settings (issue 24).

A page visit is a navigation: the rerun names another page (its ``page_script_hash``, as a sidebar click or an
``st.page_link`` does) and carries that page's query string, here with new settings each time (``?kernel=``,
``?size=``, ``?sample=``, ...), so the whole page runs, not one widget's rerun. A single session
(``benchmarks/ws_client.py``) goes round the pages in order, Home, Filters, Pooling, Architecture, Inspect,
Training, Predict, Deeper, Tour, for ``--rounds`` rounds: consecutive visits are always to different pages.
The first round (each page's cold visit: imports, TensorFlow, first model load) is reported apart; p50 / p90 are
over the later rounds. By default each page's link cycles through a short list (`LINKS`: a class following a few
shared links, so a setting comes back every few rounds); with ``--new`` every round opens a link not visited
before (`new_links`: what the first learner to open a setting pays). ``--how`` sends the visit as a sidebar click
(default), a rerun naming the page, or a new tab (a new session).

Columns: the client's time from sending ``rerun_script`` to receiving ``script_finished`` (cold, p50, p90, min),
the median bytes received, the median 1-minute load average during the page's visits; then, from the server
itself (it is served through ``--serve-timed``), its time from handling the rerun_script to handing
script_finished to the websocket writer (srv p50 / p90: no client, no socket) and the process's CPU time over
the same span (cpu p50: all threads; less sensitive than wall time to other work on the machine). The machine
has 2 cores shared with other work: the load average is printed before and after, and above 2 times are inflated.

``--profile DIR`` serves the app under pyinstrument (``benchmarks/profile_reruns.py``'s script-thread profiler)
instead and prints, per page, the app functions with the most inclusive time and the library lines with the most
self time per visit (cold round left out); the server columns are then empty.

Usage: python benchmarks/page_visits.py [--url URL] [--rounds 21] [--new] [--only filters,pooling]
       [--json out.json] [--profile /tmp/cnn-lab-visits]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.rerun_cost import percentile  # noqa: E402
from benchmarks.ws_client import RunResult, Session  # noqa: E402

TARGET_P50 = 0.050

# Each page's query strings, visited in turn (page -> list of link settings).
LINKS: dict[str, list[dict[str, str]]] = {
    "home": [{}],
    "filters": [
        {"sample": "Fashion-MNIST: Ankle boot", "kernel": "Sobel: horizontal edges"},
        {"sample": "Shapes", "kernel": "Sharpen"},
        {"sample": "Fashion-MNIST: Coat", "kernel": "Gaussian blur 3x3", "dilation": "2"},
        {"sample": "Letters", "kernel": "Course: vertical lines"},
        {"sample": "Fashion-MNIST: Bag", "filter": "7"},
    ],
    "pooling": [
        {"sample": "Fashion-MNIST: Coat", "size": "2", "stride": "2"},
        {"sample": "Shapes", "size": "3", "stride": "2", "mode": "avg"},
        {"sample": "Fashion-MNIST: Sneaker", "size": "4", "stride": "4", "mode": "min"},
        {"sample": "Checkerboard", "size": "2", "stride": "1"},
        {"sample": "Fashion-MNIST: Ankle boot", "size": "3", "stride": "3"},
    ],
    "architecture": [
        {"blocks": "2", "filters": "32"},
        {"blocks": "3", "filters": "16", "kernel": "5", "padding": "same"},
        {"blocks": "1", "filters": "64", "pooling": "avg", "dense": "64"},
        {"blocks": "2", "filters": "128", "kernel": "3", "pool": "3"},
    ],
    "inspect": [
        {"tab": "maps", "images": "0,1,2"},
        {"tab": "maps", "images": "5,6"},
        {"tab": "maps", "images": "10,11,12,13"},
    ],
    "training": [
        {"epochs": "3", "model": "course"},
        {"epochs": "8", "batch": "64", "dropout": "0.5"},
        {"epochs": "5", "optimizer": "sgd", "shift": "1"},
    ],
    "predict": [{}],
    "deeper": [
        {"tab": "channels", "image": "0"},
        {"tab": "channels", "image": "3"},
        {"tab": "channels", "image": "7"},
    ],
    "tour": [{"step": "1"}, {"step": "2"}, {"step": "3"}],
}
PAGES = list(LINKS)


def new_links(rounds: int) -> dict[str, list[dict[str, str]]]:
    """For `--new`: a different link on every round (no setting comes back, so nothing computed for it is kept)."""
    samples = [
        "Street scene", "Shapes", "Checkerboard", "Letters", "Fashion-MNIST: T-shirt/top", "Fashion-MNIST: Trouser",
        "Fashion-MNIST: Pullover", "Fashion-MNIST: Dress", "Fashion-MNIST: Coat", "Fashion-MNIST: Sandal",
        "Fashion-MNIST: Shirt", "Fashion-MNIST: Sneaker", "Fashion-MNIST: Bag", "Fashion-MNIST: Ankle boot",
    ]  # fmt: skip
    kernels = ["Sobel: horizontal edges", "Sharpen", "Gaussian blur 3x3", "Course: vertical lines", "Emboss"]
    pools = [(size, stride) for size in (2, 3, 4) for stride in (1, 2, 3)]
    designs = [(blocks, filters) for blocks in (1, 2, 3) for filters in (8, 16, 32, 64, 128)]
    links: dict[str, list[dict[str, str]]] = {page: [] for page in PAGES}
    for n in range(rounds):
        size, stride = pools[n % len(pools)]
        blocks, filters = designs[n % len(designs)]
        links["home"].append({})
        links["filters"].append(
            {"sample": samples[n % len(samples)], "kernel": kernels[(n // len(samples)) % len(kernels)]}
        )
        links["pooling"].append({"sample": samples[(n + 3) % len(samples)], "size": str(size), "stride": str(stride)})
        links["architecture"].append({"blocks": str(blocks), "filters": str(filters), "kernel": "35"[n % 2]})
        links["inspect"].append({"tab": "maps", "images": f"{100 + 3 * n},{101 + 3 * n},{102 + 3 * n}"})
        links["training"].append({"epochs": str(1 + n % 30)})
        links["predict"].append({})
        links["deeper"].append({"tab": "channels", "image": str(200 + n)})
        links["tour"].append({"step": str(1 + n % 3)})
    return links


def serve_timed(log: Path, streamlit_args: list[str]) -> None:
    """Run `streamlit <args>`, writing for each rerun the server's own time: from the moment the session handles the
    rerun_script BackMsg to the moment it hands script_finished to the websocket writer (on the event loop). This
    leaves out the client (parsing, the ws_client's bookkeeping) and the sockets; it includes the script thread,
    Streamlit's post-run work and the event loop's serialisation of every message before script_finished."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime import app_session  # internal API, written against Streamlit 1.67.0
    from streamlit.web import cli
    from streamlit.web.server.starlette import starlette_websocket

    started: dict[str, tuple[float, float, float]] = {}
    handle_backmsg = app_session.AppSession.handle_backmsg
    write_forward_msg = starlette_websocket.StarletteSessionClient.write_forward_msg
    out = open(log, "a")

    def timed_backmsg(self, msg):
        if msg.WhichOneof("type") == "rerun_script":
            started[self.id] = (time.perf_counter(), time.time(), time.process_time())
        return handle_backmsg(self, msg)

    def timed_write(self, msg):
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            for session_id, (clock, wall, cpu) in list(started.items()):  # one learner: one session at a time
                seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
                out.write(json.dumps({"start": wall, "seconds": seconds, "cpu": cpu_seconds}) + "\n")
                out.flush()
                del started[session_id]
        return write_forward_msg(self, msg)

    app_session.AppSession.handle_backmsg = timed_backmsg
    starlette_websocket.StarletteSessionClient.write_forward_msg = timed_write
    sys.argv = ["streamlit", *streamlit_args]
    sys.exit(cli.main())


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def show_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


async def visit(session: Session | None, url: str, how: str, page: str, query: dict[str, str]) -> RunResult:
    """One page visit: a sidebar-like navigation in `session`, a rerun naming the page, or a new tab."""
    if how == "sidebar" and session is not None:
        return await session.visit(page, query)
    if how == "name" and session is not None:
        states = [s for w in session.widgets.values() if w.script_hash == session.main_hash and (s := w.state())]
        return await session.rerun(states, page_name=page, query_string=urllib.parse.urlencode(query))
    async with Session(url, timeout=600) as fresh:  # a link opened in a new tab: a new session's first run
        return await fresh.visit(page, query)


async def measure(
    url: str, rounds: int, pages: list[str], verbose: bool, how: str = "sidebar", new: bool = False
) -> dict[str, dict]:
    """{page: {"cold": RunResult, "visits": [RunResult], "loads": [1-min load average at each visit]}}."""
    results = {page: {"cold": None, "visits": [], "loads": []} for page in pages}
    all_links = new_links(rounds) if new else LINKS
    async with Session(url, timeout=600) as session:
        for number in range(rounds):
            for page in pages:
                links = all_links[page]
                query = links[number % len(links)]
                run: RunResult = await visit(session, url, how if number else "sidebar", page, query)
                if run.exceptions:
                    print(f"  {page} {query}: EXCEPTIONS {run.exceptions[:2]}", file=sys.stderr)
                if number == 0:
                    results[page]["cold"] = run
                else:
                    results[page]["visits"].append(run)
                    results[page]["loads"].append(os.getloadavg()[0])
                if verbose:
                    print(f"  round {number} {page} {query}: {run.summary()}", file=sys.stderr, flush=True)
    return results


def attach_server_times(results: dict[str, dict], log: Path) -> None:
    """Give each visit its server time from `serve_timed`'s log, matched by the wall clock (same machine)."""
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    for result in results.values():
        result["server"], result["cpu"] = [], []
        for run in result["visits"]:
            window = [r for r in records if run.started_at <= r["start"] <= run.started_at + run.seconds]
            if window:
                result["server"].append(window[0]["seconds"])
                result["cpu"].append(window[0]["cpu"])


def report(results: dict[str, dict]) -> list[dict]:
    rows = []
    header = (
        f"{'page':13} {'cold ms':>8} {'p50 ms':>7} {'p90 ms':>7} {'min ms':>7} {'visits':>6} {'med KB':>7} {'load':>5}"
        f" {'srv p50':>7} {'srv p90':>7} {'cpu p50':>7}"
    )
    print(header)
    print("-" * len(header))
    for page, result in results.items():
        seconds = [run.seconds for run in result["visits"]]
        sizes = [run.bytes for run in result["visits"]]
        row = {
            "page": page,
            "cold_s": result["cold"].seconds if result["cold"] else float("nan"),
            "p50_s": percentile(seconds, 50),
            "p90_s": percentile(seconds, 90),
            "min_s": min(seconds) if seconds else float("nan"),
            "visits": len(seconds),
            "median_kb": percentile(sizes, 50) / 1024,
            "load_median": percentile(result["loads"], 50),
            "exceptions": sum(len(run.exceptions) for run in result["visits"]),
            "server_p50_s": percentile(result.get("server", []), 50),
            "server_p90_s": percentile(result.get("server", []), 90),
            "cpu_p50_s": percentile(result.get("cpu", []), 50),
        }
        rows.append(row)
        print(
            f"{page:13} {row['cold_s'] * 1000:8.0f} {row['p50_s'] * 1000:7.0f} {row['p90_s'] * 1000:7.0f} "
            f"{row['min_s'] * 1000:7.0f} {row['visits']:6d} {row['median_kb']:7.0f} {row['load_median']:5.2f}"
            f" {row['server_p50_s'] * 1000:7.0f} {row['server_p90_s'] * 1000:7.0f} {row['cpu_p50_s'] * 1000:7.0f}"
            + ("  EXCEPTIONS" if row["exceptions"] else "")
            + ("" if row["p50_s"] <= TARGET_P50 else "  (p50 above 50 ms)")
        )
    return rows


def profile_report(out: Path, results: dict[str, dict]) -> str:
    """Per page, the top app functions and library hot spots over its (warm) visits, from the saved profiles."""
    from pyinstrument.session import Session as ProfileSession

    from benchmarks.profile_reruns import overheads, top_costs

    records = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    lines = []
    for page, result in results.items():
        sessions, script = [], []
        for run in result["visits"]:
            # The script thread starts after the client sent the rerun (same clock): records from then to the end.
            window = [r for r in records if run.started_at <= r["start"] <= run.started_at + run.seconds]
            if window:
                sessions.append(ProfileSession.load(window[0]["path"]))
                script.append(sum(r["seconds"] for r in window))
        if not sessions:
            continue
        apps, libs = top_costs(sessions, len(sessions), limit=8)
        lines.append(
            f"### {page}: {len(sessions)} visits, median {percentile(script, 50) * 1000:.0f} ms in the script thread"
        )
        split = sorted(overheads(sessions).items(), key=lambda item: -item[1])
        lines.append("  script thread per visit: " + "; ".join(f"{name} {t * 1000:.1f} ms" for name, t in split))
        lines += [f"  {t * 1000:6.1f} ms  {k}" for t, k in apps]
        lines.append("  library self time:")
        lines += [f"  {t * 1000:6.1f} ms  {k}" for t, k in libs]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    if "--serve-timed" in sys.argv:
        at = sys.argv.index("--serve-timed")
        serve_timed(Path(sys.argv[at + 1]), sys.argv[sys.argv.index("--") + 1 :])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: serve one with tests/support/browser.py)")
    parser.add_argument("--rounds", type=int, default=21, help="rounds over the pages; the first is cold (default 21)")
    parser.add_argument("--only", help=f"comma-separated pages, in this order: {','.join(PAGES)}")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--profile", help="serve under pyinstrument; profiles and per-page top costs to this folder")
    parser.add_argument(
        "--how",
        choices=("sidebar", "name", "tab"),
        default="sidebar",
        help="a visit is a sidebar click with the page's query string (default), a rerun naming the page "
        "(page_name, as a link followed in the same tab), or a link opened in a new tab (a new session)",
    )
    parser.add_argument(
        "--new", action="store_true", help="a link never visited before on every round (default: a few shared links)"
    )
    parser.add_argument("--verbose", action="store_true", help="print every visit to stderr")
    args = parser.parse_args()
    pages = [page for page in PAGES if not args.only or page in args.only.split(",")]
    before = load_average()
    started = time.perf_counter()
    if args.url:
        results = asyncio.run(measure(args.url, args.rounds, pages, args.verbose, args.how, args.new))
    else:
        from tests.support.browser import streamlit_server

        timed = Path(tempfile.mkdtemp(prefix="page-visits-")) / "server.jsonl"
        launcher: tuple[str, ...] = (sys.executable, __file__, "--serve-timed", str(timed), "--")
        out = Path(args.profile) if args.profile else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for old in out.glob("run-*.pyisession"):
                old.unlink()
            (out / "index.jsonl").unlink(missing_ok=True)
            launcher = (sys.executable, str(ROOT / "benchmarks/profile_reruns.py"), "--serve", str(out), "--")
        with streamlit_server(launcher=launcher, timeout=120, log_path=out / "server.log" if out else None) as server:
            results = asyncio.run(measure(server.url, args.rounds, pages, args.verbose, args.how, args.new))
            time.sleep(1.0 if out else 0)  # the last profile is written after script_finished
        attach_server_times(results, timed)
    after = load_average()
    kind = "a link never visited before on each" if args.new else "link settings from a short list, in turn, on each"
    print(f"One learner, {args.rounds - 1} visits per page, {kind} (first round cold, left out).")
    rows = report(results)
    busy = max(before[0], after[0]) > 2
    print(
        f"load average (1, 5, 15 min): {show_load(before)} before, {show_load(after)} after; "
        f"{time.perf_counter() - started:.0f} s in all" + ("  (above 2: the machine was busy)" if busy else "")
    )
    if args.profile:
        text = profile_report(Path(args.profile), results)
        print("\n" + text)
        (Path(args.profile) / "top_costs.txt").write_text(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rows": rows, "load_before": before, "load_after": after, "rounds": args.rounds}, indent=1)
        )
    sys.exit(1 if any(row["exceptions"] for row in rows) else 0)


if __name__ == "__main__":
    main()
