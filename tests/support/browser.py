"""A served copy of the app and a headless Debian Chromium, for tests of what people see."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.catalog import HOME, PageSpec

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_browser() -> None:
    """Skip without Chromium locally; in CI a missing browser is a failure."""
    if shutil.which(CHROMIUM) is None or shutil.which("node") is None and not _playwright_available():
        message = f"{CHROMIUM} (Debian package chromium) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not _playwright_available():
        message = "Playwright for Python is not installed (requirements-dev.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _playwright_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running `streamlit run`: its process, base URL, `time.perf_counter()` at launch and data folder."""

    process: subprocess.Popen
    url: str
    started: float
    data_dir: Path


@contextmanager
def streamlit_server(
    script: Path = ROOT / "app.py",
    *,
    cwd: Path = ROOT,
    timeout: float = 90.0,
    poll: float = 0.2,
    launcher: Sequence[str] = (sys.executable, "-m", "streamlit"),
    log_path: Path | None = None,
    data_dir: Path | None = None,
) -> Iterator[Server]:
    """Run `<launcher> run script` on a free localhost port until the context ends; yields it once healthy.

    Its saved runs and training queue live in `data_dir`, by default a new empty folder: a server started by one
    test never shares a run with another test's (identical settings train once per data folder).
    The server's output goes to `log_path`, else to screenshots/server.log when that folder exists.
    """
    port = free_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="cnn-lab-served-"))
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
        CNN_LAB_DATA_DIR=str(data_dir),
    )
    log_path = log_path or (SCREENSHOTS / "server.log" if SCREENSHOTS.exists() else None)
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            *launcher,
            "run",
            str(script),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],  # the rest as `make run` serves it: .streamlit/config.toml decides (no file watcher)
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, started + timeout, poll, log_path)
        yield Server(process, base, started, data_dir)
    finally:
        stop_process(process)


def wait_healthy(
    base: str, process: subprocess.Popen, deadline: float, poll: float = 0.2, log_path: Path | None = None
) -> None:
    """Return once `base`/_stcore/health answers 200 (the one home of this wait, benchmarks/load_ws.py uses it too);
    RuntimeError if `process` ends first or `time.perf_counter()` passes `deadline`."""
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.perf_counter() > deadline:
            raise RuntimeError(
                f"streamlit did not become healthy on {base}" + (f"; see {log_path}" if log_path else "")
            )
        time.sleep(poll)


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate a server started here; kill it if it has not ended after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def served_app(timeout: float = 90.0) -> Iterator[str]:
    """The lab served on a free localhost port until the context ends; yields the base URL."""
    with streamlit_server(timeout=timeout) as server:
        yield server.url


def page_url(base: str, spec: PageSpec) -> str:
    """Home is the default page, served at the root; the others at their url_path."""
    return f"{base}/" if spec is HOME else f"{base}/{spec.url_path}"


def wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait as Streamlit's own browser tests do (connected, script idle, no skeleton), and for Plotly to draw.

    Every lab page starts with a title, so an h1 in the main area shows the first script run has started
    (right after `goto` the app can look idle before its first run).
    """
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]',
        timeout=timeout_ms,
    )
    page.wait_for_function(
        """() => document.querySelectorAll('[data-testid="stSkeleton"]').length === 0
              && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                     .every(chart => chart.querySelector('.main-svg'))""",
        timeout=timeout_ms,
    )


def screenshot(page, name: str) -> Path:
    """Grow the viewport to the whole page (Streamlit scrolls inside stMain), then capture it."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(max(height + 40, 600), 8000)})
    wait_until_idle(page)
    page.screenshot(path=str(path))
    return path


def axe_script() -> Path:
    """axe.min.js where `scripts/ensure_system.py axe` (run by `make test`) installs it; skip or fail without it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ensure_system", ROOT / "scripts" / "ensure_system.py")
    assert spec is not None and spec.loader is not None
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    if not setup.AXE_SCRIPT.exists():
        message = f"axe-core is not installed: run `.venv/bin/python scripts/ensure_system.py axe` ({setup.AXE_SCRIPT})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return setup.AXE_SCRIPT


# The WCAG 2.1 AA rules of axe-core; axe.run resolves with the violations only (passes and the rest left out).
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']});
  return result.violations.map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3).map(n =>
    n.target.join(' ').slice(-120) + ' ' + (n.failureSummary || '').split('\\n').slice(1, 2).join('').trim()
  ).join(' | '));
}"""

# Chart text drawn on the chart's white page below 4.5:1 (WCAG 1.4.3): ticks, axis and colour-bar titles, legends,
# titles and annotations, and bar labels outside their bars. Text inside heatmap cells or bars, and white text (the
# numbers on a kernel's dark cells), sits on the data's colour, not on white, and is left out.
LOW_CONTRAST_CHART_TEXT = """() => {
  const linear = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const luminance = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  const found = [];
  for (const text of document.querySelectorAll('[data-testid="stPlotlyChart"] svg text')) {
    const kind = text.getAttribute('class') || '';
    if (!text.textContent.trim() || !text.getClientRects().length || kind.includes('heatmap-label')
        || (kind.includes('bartext') && !kind.includes('bartext-outside'))) continue;
    const style = getComputedStyle(text);
    const parts = (style.fill.match(/rgba?\\(([^)]+)\\)/) || [, ''])[1].split(',').map(Number);
    if (parts.length < 3 || parts.slice(0, 3).every(c => c === 255)) continue;  // white: drawn on the data
    const alpha = (parts.length > 3 ? parts[3] : 1) * Number(style.fillOpacity || 1);
    const ink = parts.slice(0, 3).map(c => c * alpha + 255 * (1 - alpha));
    const ratio = 1.05 / (luminance(ink) + 0.05);
    if (ratio < 4.5) found.push(`"${text.textContent.slice(0, 30)}" ${style.fill} ${ratio.toFixed(2)}:1`);
  }
  return [...new Set(found)].slice(0, 5);
}"""

# Legend entries of the main area's Plotly charts that overlap another entry, or run past their legend's box or the
# chart (cut): each entry is its text and symbol, boxes in screen pixels, shrunk by `tolerance`.
LEGEND_CLASHES = """tolerance => {
  const clashes = [];
  for (const chart of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) {
    const page = chart.querySelector('.main-svg').getBoundingClientRect();
    for (const legend of chart.querySelectorAll('.legend')) {
      const frame = legend.querySelector('.bg').getBoundingClientRect();
      const items = [...legend.querySelectorAll('.traces')].map(item => {
        const parts = [...item.querySelectorAll('.legendtext, .legendsymbols')].map(p => p.getBoundingClientRect());
        return {text: item.textContent.trim(), left: Math.min(...parts.map(b => b.left)),
                right: Math.max(...parts.map(b => b.right)), top: Math.min(...parts.map(b => b.top)),
                bottom: Math.max(...parts.map(b => b.bottom))};
      });
      for (const item of items) {
        const inside = box => item.left >= box.left - tolerance && item.right <= box.right + tolerance
                              && item.top >= box.top - tolerance && item.bottom <= box.bottom + tolerance;
        if (!inside(frame) || !inside(page)) clashes.push(`${item.text}: cut`);
      }
      for (let i = 0; i < items.length; i++)
        for (let j = i + 1; j < items.length; j++) {
          const a = items[i], b = items[j];
          if (a.left < b.right - tolerance && b.left < a.right - tolerance && a.top < b.bottom - tolerance
              && b.top < a.bottom - tolerance) clashes.push(`${a.text} / ${b.text}`);
        }
    }
  }
  return clashes;
}"""


def legend_clashes(page, tolerance: float = 1.0) -> list[str]:
    """The main area's chart legends whose entries overlap or are cut (empty when every entry shows whole)."""
    return page.evaluate(LEGEND_CLASHES, tolerance)
