"""The web process's cost of a first Predict visit: one fresh process opens the Predict page (streamlit.testing's
AppTest, the default example) and prints the wall time, its memory (VmRSS, RssAnon, VmHWM) and a warm rerun's time.

    .venv/bin/python benchmarks/predict_memory.py

Before neighbours.npz (issue 25) this visit embedded 12,000 training images in this process; now it reads the file.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from tests.support.apptest import open_page  # noqa: E402


def memory_mb() -> dict[str, int]:
    """This process's VmRSS, RssAnon and VmHWM in MB, from /proc/self/status."""
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) // 1024 for key in ("VmRSS", "RssAnon", "VmHWM")}


def main() -> int:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    app = open_page("pages/predict.py", timeout=600)
    first = time.perf_counter() - start
    shown = any("training images" in caption.value for caption in app.caption)
    memory = memory_mb()
    start = time.perf_counter()
    app.run()
    print(
        f"first Predict visit {first:.1f} s (nearest training images shown: {shown}); "
        + ", ".join(f"{key} {value} MB" for key, value in memory.items())
        + f"; a warm rerun {time.perf_counter() - start:.2f} s; load average {load:.2f} at the start"
    )
    return 0 if shown and not app.exception else 1


if __name__ == "__main__":
    raise SystemExit(main())
