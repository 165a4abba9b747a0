"""Cold start: seconds from `streamlit run` to the Home page drawn in Chromium, then to the Filters page.

Run from the repository root: ``python benchmarks/cold_start.py`` (needs /usr/bin/chromium and Playwright).
The reference is a minimal one-title Streamlit app started and drawn the same way in this process, so
the ratio shows what CNN Lab adds to Streamlit's own start-up. It also reads /proc/<pid>/maps of the
server: TensorFlow must not be loaded after Home and Filters, and must be after Inspect (which proves
the check can see it); the server's resident memory is printed at both points.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_until_idle  # noqa: E402

REFERENCE_APP = 'import streamlit as st\n\nst.title("Hello")\nst.write("A minimal Streamlit app.")\n'
TARGET_RATIO = 3.0  # Home may take at most 3x a one-title app to appear


def drawn(page, title: str) -> None:
    """Wait for the page's title and for the app to be idle with every chart drawn."""
    page.locator("h1", has_text=title).first.wait_for(timeout=120_000)
    wait_until_idle(page, timeout_ms=120_000)


def tensorflow_loaded(pid: int) -> bool:
    """Whether the process has mapped TensorFlow's shared library."""
    return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()


def resident_mb(pid: int) -> float:
    """The process's resident memory (VmRSS) in MB."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    from playwright.sync_api import sync_playwright

    # Read Streamlit, Plotly, NumPy and Pillow from disk once, so neither timed start pays for a cold file cache.
    subprocess.run([sys.executable, "-c", "import streamlit, plotly.graph_objects, numpy, PIL"], check=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})

        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "hello.py"
            script.write_text(REFERENCE_APP)
            with streamlit_server(script, cwd=Path(folder), timeout=120, poll=0.05) as hello:
                healthy = time.perf_counter() - hello.started
                page.goto(hello.url)
                drawn(page, "Hello")
                reference = time.perf_counter() - hello.started

        with streamlit_server(timeout=120, poll=0.05) as lab:
            process = lab.process
            lab_healthy = time.perf_counter() - lab.started
            page.goto(lab.url)
            drawn(page, "CNN Lab")
            home = time.perf_counter() - lab.started
            clicked = time.perf_counter()
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Filters").click()
            drawn(page, "Filters")
            filters = time.perf_counter() - clicked
            tf_after_filters, memory_light = tensorflow_loaded(process.pid), resident_mb(process.pid)
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Inspect").click()
            drawn(page, "Inspect")
            tf_after_inspect, memory_model = tensorflow_loaded(process.pid), resident_mb(process.pid)
        browser.close()

    ratio = home / reference
    print(f"reference one-title app: healthy {healthy:.2f} s, drawn {reference:.2f} s after `streamlit run`")
    print(f"CNN Lab Home:            healthy {lab_healthy:.2f} s, drawn {home:.2f} s after `streamlit run`")
    print(f"Filters after Home:      {filters:.2f} s from the click to the page drawn")
    print(
        f"ratio Home / reference:  {ratio:.2f} (target <= {TARGET_RATIO}): "
        f"{'OK' if ratio <= TARGET_RATIO else 'TOO SLOW'}"
    )
    print(
        f"TensorFlow in the server after Home and Filters: {'LOADED' if tf_after_filters else 'not loaded'}; "
        f"after Inspect: {'loaded' if tf_after_inspect else 'NOT LOADED (check broken)'}"
    )
    print(f"server memory (RSS): {memory_light:.0f} MB after Home and Filters, {memory_model:.0f} MB after Inspect")
    if tf_after_filters or not tf_after_inspect or ratio > TARGET_RATIO:
        sys.exit(1)


if __name__ == "__main__":
    main()
