"""What one click costs the server, page by page: ONE learner over Streamlit's websocket, no browser.

A single session (``benchmarks/ws_client.py``) visits every page of components/catalog.py and, for each, makes
a cold visit (the first time it opens the page, or the tab) and then N warm reruns changing a typical widget,
with every other widget's value sent alongside as the browser does:

- Home: a rerun with nothing changed; Week 3 tour: Next / Back through the six steps
- Filters: the library kernel; its step-by-step row slider (an ``st.fragment``: a fragment rerun)
- Pooling: pool size and stride in turn; its window slider (a fragment rerun)
- Architecture: the builder (filters per layer, kernel size, dense units in turn); Training: the epochs slider
- Inspect: each tab opened, then its own widget (filter number, weights, the confusion cell's prediction, test
  image index, projection); Predict: the example
- Filters, Pooling and Architecture again once TensorFlow is loaded in the server (after Inspect / Predict)
- Filters and Pooling again with a 1024x1024 photo uploaded through st.file_uploader (the upload is the cold run)

Per case it prints the cold run, then p50 / p90 server time and the median bytes of the warm reruns against the
targets (p50 <= 100 ms, p90 <= 250 ms, median bytes <= 300 KB) as ratios, with the element type that carries most
bytes. Server time is from sending ``rerun_script`` to ``script_finished``: the script run plus the transfer on
localhost. The machine's load average is printed before and after: other work on the 2 cores inflates times.

Usage: python benchmarks/rerun_cost.py [--url URL] [--reruns N] [--only Filters,Pooling] [--json out.json]
It serves the app itself (tests/support/browser.py's streamlit_server) unless --url is given.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ws_client import RunResult, Session  # noqa: E402

TARGET_P50, TARGET_P90, TARGET_BYTES = 0.100, 0.250, 300 * 1024
UPLOAD_SIDE = 1024


@dataclass
class Case:
    name: str
    cold: RunResult | None = None
    warm: list[RunResult] = field(default_factory=list)
    note: str = ""
    extra: RunResult | None = None  # a one-off run between the cold and the warm ones (reported in the note)

    @property
    def exceptions(self) -> list[str]:
        runs = ([self.cold] if self.cold else []) + self.warm
        return [e for run in runs for e in run.exceptions]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def photo(side: int = UPLOAD_SIDE) -> bytes:
    """A 1024x1024 RGB JPEG: the Street scene sample enlarged, with a little noise so it compresses like a photo."""
    from PIL import Image

    from models.inputs.samples import load_sample

    pixels = load_sample("Street scene", grayscale=False)
    image = Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC)
    noisy = np.asarray(image, dtype=np.int16) + np.random.default_rng(0).integers(-6, 7, (side, side, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def cycle(options, start_after, count: int) -> list:
    """`count` values from `options`, starting after the current one and skipping it (each a real change)."""
    options = list(options)
    index = options.index(start_after) if start_after in options else -1
    values = []
    while len(values) < count:
        index = (index + 1) % len(options)
        if options[index] != start_after or len(options) == 1:
            values.append(options[index])
            start_after = options[index]
    return values


def first_key(session: Session, prefix: str) -> str:
    return next(w.key for w in session.widgets.values() if (w.key or "").startswith(prefix))


class Runner:
    def __init__(self, session: Session, reruns: int, verbose: bool) -> None:
        self.session, self.reruns, self.verbose = session, reruns, verbose
        self.cases: list[Case] = []

    def log(self, case: Case, what: str, run: RunResult) -> None:
        if self.verbose:
            print(f"  [{case.name}] {what}: {run.summary()}", file=sys.stderr, flush=True)

    async def case(self, name: str, cold, steps, prime=None) -> Case:
        """`cold`: coroutine factory for the cold run; `steps`: callables returning the next warm rerun;
        `prime`: an optional one-off run after the cold one, kept apart (e.g. the first t-SNE)."""
        case = Case(name)
        self.cases.append(case)
        case.cold = await cold()
        self.log(case, "cold", case.cold)
        if prime is not None:
            case.extra = await prime()
            self.log(case, "one-off", case.extra)
        for number in range(self.reruns):
            run = await steps(number)
            case.warm.append(run)
            self.log(case, f"warm {number + 1}", run)
        return case

    async def set_cycle(self, name: str, cold, keys_and_options, prime=None) -> Case:
        """Warm reruns cycling through several widgets in turn, each through its options."""
        s = self.session

        async def step(number: int) -> RunResult:
            key, options = keys_and_options[number % len(keys_and_options)]
            key = key() if callable(key) else key
            widget = s.widget(key)
            current = widget.value[0] if isinstance(widget.value, list) and len(widget.value) == 1 else widget.value
            options = options() if callable(options) else options
            value = cycle(options, current, 1)[0]
            return await s.set(key, value)

        return await self.case(name, cold, step, prime)


async def measure(url: str, reruns: int, only: set[str] | None, verbose: bool) -> list[Case]:
    async with Session(url, timeout=600) as s:
        r = Runner(s, reruns, verbose)

        def wanted(name: str) -> bool:
            return only is None or any(name.lower().startswith(o.lower()) for o in only)

        # Home: nothing to change but the presentation toggle; a plain rerun is what any click on Home costs.
        if wanted("Home"):
            await r.case("Home", lambda: s.visit(""), lambda n: s.rerun(s._states()))
        if wanted("Filters"):
            await r.set_cycle(
                "Filters: kernel",
                lambda: s.visit("filters"),
                [("filters_library", lambda: s.widget("filters_library").options)],
            )
            row = lambda: first_key(s, "filters_step_row")  # noqa: E731
            await r.set_cycle(
                "Filters: step row (fragment)",
                lambda: s.rerun(s._states()),
                [(row, lambda: [float(v) for v in range(100, 140, 3)])],
            )
        if wanted("Pooling"):
            await r.set_cycle(
                "Pooling: size / stride",
                lambda: s.visit("pooling"),
                [("pool_size", [2, 3, 4, 5]), ("pool_stride", [1, 2, 3])],
            )
            window = lambda: first_key(s, "pool_window_row")  # noqa: E731
            await r.set_cycle(
                "Pooling: window row (fragment)",
                lambda: s.rerun(s._states()),
                [(window, lambda: [float(v) for v in range(0, 30, 2)])],
            )
        if wanted("Architecture"):
            await r.set_cycle(
                "Architecture: builder",
                lambda: s.visit("architecture"),
                [
                    ("architecture_filters", lambda: s.widget("architecture_filters").options),
                    ("architecture_kernel_size", lambda: s.widget("architecture_kernel_size").options),
                    ("architecture_dense_units", lambda: s.widget("architecture_dense_units").options),
                ],
            )
        if wanted("Training"):
            await r.set_cycle(
                "Training: epochs", lambda: s.visit("training"), [("training_epochs", [float(v) for v in range(2, 12)])]
            )
        if wanted("Inspect"):
            await r.set_cycle(
                "Inspect: Feature maps (filter)",
                lambda: s.visit("inspect"),
                [("inspect_filter", list(range(0, 64, 5)))],
            )
            await r.set_cycle(
                "Inspect: Learned filters (weights)",
                lambda: s.set("inspect_tab", "Learned filters"),
                [("inspect_weights", lambda: s.widget("inspect_weights").options)],
            )
            await r.set_cycle(
                "Inspect: Evaluation (cell)",
                lambda: s.set("inspect_tab", "Evaluation"),
                [("inspect_pred", lambda: s.widget("inspect_pred").options)],
            )
            await r.set_cycle(
                "Inspect: Why this prediction (index)",
                lambda: s.set("inspect_tab", "Why this prediction"),
                [("inspect_index", list(range(20, 60, 3)))],
            )
            embedding = await r.set_cycle(
                "Inspect: Embedding (projection)",
                lambda: s.set("inspect_tab", "Embedding"),
                [("inspect_projection", lambda: s.widget("inspect_projection").options)],
                prime=lambda: s.set("inspect_projection", s.widget("inspect_projection").options[1]),
            )
            embedding.note = f"first t-SNE (once per model, then cached): {embedding.extra.seconds:.1f} s"
            await r.set_cycle(
                "Inspect: Why, occlusion patch (3 values)",
                lambda: s.set("inspect_tab", "Why this prediction"),
                [("inspect_occlusion_patch", [3, 6, 4])],
            )
        if wanted("Predict"):
            await r.set_cycle(
                "Predict: example",
                lambda: s.visit("predict"),
                [("predict_example", lambda: s.widget("predict_example").options)],
            )
        # Deeper: each case cycles through 3 values, so the first 3 warm reruns compute and the rest read the cache.
        if wanted("Deeper"):
            await r.set_cycle(
                "Deeper: Channel sum, filter (3 values)",
                lambda: s.visit("deeper", {"tab": "channels"}),
                [("deeper_channels_filter", [17, 40, 0])],
            )
            await r.set_cycle(
                "Deeper: Channel sum, pixel row (3 values)",
                lambda: s.rerun(s._states()),
                [("deeper_channels_row", [2, 8, 5])],
            )
            await r.set_cycle(
                "Deeper: Receptive fields, layer",
                lambda: s.set("deeper_tab", "Receptive fields"),
                [("deeper_fields_layer", lambda: s.widget("deeper_fields_layer").options)],
            )
            await r.set_cycle(
                "Deeper: What filters want, layer",
                lambda: s.set("deeper_tab", "What filters want"),
                [("deeper_features_layer", lambda: [[o] for o in s.widget("deeper_features_layer").options])],
            )
            await r.set_cycle(
                "Deeper: Fooling it, epsilon (3 values)",
                lambda: s.set("deeper_tab", "Fooling it"),
                [("fooling_epsilon", [0.01, 0.05, 0.1])],
            )
            await r.set_cycle(
                "Deeper: Robustness, test image (3 values)",
                lambda: s.set("deeper_tab", "Robustness"),
                [("deeper_index", [5, 9, 12])],
            )
        # The same clicks once TensorFlow is in the server process (any learner opened Inspect, Training or
        # Predict): Streamlit then runs keras.backend.clear_session() after every script run, on every page.
        if wanted("Inspect") or wanted("Training") or wanted("Predict") or wanted("Deeper"):
            if wanted("Filters"):
                await r.set_cycle(
                    "Filters: kernel (TensorFlow loaded)",
                    lambda: s.visit("filters"),
                    [("filters_library", lambda: s.widget("filters_library").options)],
                )
            if wanted("Pooling"):
                await r.set_cycle(
                    "Pooling: size / stride (TensorFlow loaded)",
                    lambda: s.visit("pooling"),
                    [("pool_size", [2, 3, 4, 5]), ("pool_stride", [1, 2, 3])],
                )
            if wanted("Architecture"):
                await r.set_cycle(
                    "Architecture: builder (TensorFlow loaded)",
                    lambda: s.visit("architecture"),
                    [
                        ("architecture_filters", lambda: s.widget("architecture_filters").options),
                        ("architecture_dense_units", lambda: s.widget("architecture_dense_units").options),
                    ],
                )
        # After the lessons: its filter step picks a Fashion-MNIST item, which Filters and Pooling share.
        if wanted("Week 3 tour"):

            async def tour_step(number: int) -> RunResult:
                forward = (number // 5) % 2 == 0  # Next x5 (steps 1 -> 6), Back x5, ...
                return await s.click("tour_next_top" if forward else "tour_back_top")

            await r.case("Week 3 tour: Next / Back", lambda: s.visit("tour"), tour_step)
        if only is None or any("upload" in o.lower() for o in only):
            image = photo()

            async def upload_on(page: str, key: str) -> RunResult:
                await s.visit(page)
                await s.set(f"{key}_source", "Upload")
                return await s.upload(f"{key}_upload", "photo-1024.jpg", image, "image/jpeg")

            await r.set_cycle(
                "Filters + 1024x1024 upload: kernel",
                lambda: upload_on("filters", "filters"),
                [("filters_library", lambda: s.widget("filters_library").options)],
            )
            await r.set_cycle(
                "Pooling + 1024x1024 upload: size / stride",
                lambda: upload_on("pooling", "pooling"),
                [("pool_size", [2, 3, 4, 5]), ("pool_stride", [1, 2, 3])],
            )
        return r.cases


def report(cases: list[Case], reruns: int) -> dict:
    rows = []
    print(
        f"\nWarm reruns per case: {reruns}. Targets: p50 <= {TARGET_P50 * 1000:.0f} ms, "
        f"p90 <= {TARGET_P90 * 1000:.0f} ms, median bytes <= {TARGET_BYTES / 1024:.0f} KB (ratio <= 1 meets it)."
    )
    header = (
        f"{'case':44} {'cold ms':>8} {'cold KB':>8} {'p50 ms':>7} {'p90 ms':>7} {'med KB':>7} "
        f"{'p50/t':>6} {'p90/t':>6} {'KB/t':>5} {'deltas':>6}  most bytes"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        seconds = [run.seconds for run in case.warm]
        sizes = [run.bytes for run in case.warm]
        types = (
            sum((run.bytes_by_type for run in case.warm), start=type(case.warm[0].bytes_by_type)()) if case.warm else {}
        )
        top = max(types, key=types.get) if types else "-"
        share = types[top] / max(sum(types.values()), 1) if types else 0
        row = {
            "case": case.name,
            "cold_s": case.cold.seconds,
            "cold_bytes": case.cold.bytes,
            "p50_s": percentile(seconds, 50),
            "p90_s": percentile(seconds, 90),
            "median_bytes": statistics.median(sizes) if sizes else float("nan"),
            "median_deltas": statistics.median([run.deltas for run in case.warm]) if case.warm else 0,
            "top_type": top,
            "top_share": share,
            "exceptions": case.exceptions,
            "fragment": bool(case.warm and case.warm[-1].fragment_id),
            "upload_s": case.cold.upload_seconds,
            "note": case.note,
        }
        rows.append(row)
        print(
            f"{case.name:44} {row['cold_s'] * 1000:8.0f} {row['cold_bytes'] / 1024:8.0f} "
            f"{row['p50_s'] * 1000:7.0f} {row['p90_s'] * 1000:7.0f} {row['median_bytes'] / 1024:7.0f} "
            f"{row['p50_s'] / TARGET_P50:6.2f} {row['p90_s'] / TARGET_P90:6.2f} "
            f"{row['median_bytes'] / TARGET_BYTES:5.2f} {row['median_deltas']:6.0f}  {top} {share:.0%}"
            + (f"  EXCEPTIONS: {case.exceptions[:2]}" if case.exceptions else "")
            + (f"  ({case.note})" if case.note else "")
        )
    met = [
        r for r in rows if r["p50_s"] <= TARGET_P50 and r["p90_s"] <= TARGET_P90 and r["median_bytes"] <= TARGET_BYTES
    ]
    print(
        f"\n{len(met)} of {len(rows)} cases meet all three targets; "
        f"{sum(bool(r['exceptions']) for r in rows)} case(s) showed an exception element."
    )
    return {"rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: serve one with tests/support/browser.py)")
    parser.add_argument("--reruns", type=int, default=10, help="warm reruns per case (default 10)")
    parser.add_argument("--only", help="comma-separated case name prefixes, e.g. Filters,Pooling,upload")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print every run to stderr")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    before = load_average()
    started = time.perf_counter()
    if args.url:
        cases = asyncio.run(measure(args.url, args.reruns, only, args.verbose))
    else:
        from tests.support.browser import streamlit_server

        with streamlit_server(timeout=120) as server:
            cases = asyncio.run(measure(server.url, args.reruns, only, args.verbose))
    result = report(cases, args.reruns)
    after = load_average()
    print(
        f"load average (1, 5, 15 min): {before} before, {after} after; {time.perf_counter() - started:.0f} s in all"
        + (
            "  (above 2: the machine was busy, times are inflated)"
            if max(float(before.split()[0]), float(after.split()[0])) > 2
            else ""
        )
    )
    if args.json:
        result.update(load_before=before, load_after=after, reruns=args.reruns)
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    sys.exit(1 if any(row["exceptions"] for row in result["rows"]) else 0)


if __name__ == "__main__":
    main()
