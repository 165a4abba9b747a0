"""Issue 25: the web-side cost of a hostile zip, from upload to refusal.

The zip holds 2,000 tiny PNGs (two class folders), each a 1-bit 4000x4000 picture: about 2 KB packed, 16 million
pixels declared, so it passes the byte-ratio check. `models.inputs.own_data.read_zip` runs in a fresh child process;
its wall time, peak memory (ru_maxrss) and the outcome are printed with the load average.

    .venv/bin/python benchmarks/hostile_uploads.py [--images 2000] [--side 4000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
from models.inputs import own_data as od
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    dataset = od.read_zip(data, "hostile")
    outcome = f"accepted: {len(dataset.labels)} images, skipped: {' '.join(dataset.skipped)[:200]}"
except od.DatasetError as error:
    outcome = f"refused: {error}"[:300]
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_before_mb": before / 1024, "peak_mb": peak / 1024, "outcome": outcome}))
"""


def hostile_zip(images: int, side: int) -> bytes:
    from PIL import Image

    png = io.BytesIO()
    Image.new("1", (side, side)).save(png, format="PNG", optimize=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(images):
            archive.writestr(f"{'ab'[number % 2]}/{number:04d}.png", png.getvalue())
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--side", type=int, default=4000)
    args = parser.parse_args()
    data = hostile_zip(args.images, args.side)
    with tempfile.NamedTemporaryFile(suffix=".zip") as handle:
        handle.write(data)
        handle.flush()
        load_before = os.getloadavg()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, handle.name],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result |= {
        "zip_mb": round(len(data) / 2**20, 2),
        "images": args.images,
        "declared_pixels_each": args.side**2,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
