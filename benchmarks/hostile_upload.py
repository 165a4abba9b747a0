"""Issue 25: the 1,000,000-unit Dense file (the shipped archive, `units` of its 128-unit layer raised): the web-side
call's peak RSS and the time to the refusal message, in a fresh process each.

    .venv/bin/python benchmarks/hostile_upload.py            # after: models.uploaded.store.store_upload
    .venv/bin/python benchmarks/hostile_upload.py --before   # before: what store_upload did first, Keras loading
                                                             # the file in the calling process (capped, see --cap-gb)

`--before` runs `models.networks.zoo.load_model_file` (the archive checks, then keras.models.load_model in safe mode),
the first step of the old store_upload, under an address-space limit (default 8 GB) so the machine survives it; the
issue measured it uncapped at 19 GB and 37 s of CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
cap = int(sys.argv[3])
if cap:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import numpy as np
if sys.argv[2] == "before":
    from models.design.card import ModelFileError
    from models.networks.zoo import load_model_file
else:
    from models.training.runs import RunStore
    from models.uploaded.store import UploadError, store_upload
path = Path(sys.argv[1])
imports_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
try:
    if sys.argv[2] == "before":
        load_model_file(path, shown="'dense1m.keras'", max_unpacked=100 * 2**20)
    else:
        test = (np.zeros((16, 28, 28), np.uint8), np.zeros(16, np.int64))
        store_upload(RunStore(Path(tempfile.mkdtemp())), "bench", path.read_bytes(), "dense1m.keras", test)
    message = "accepted (!)"
except BaseException as error:
    message = f"{type(error).__name__}: {str(error)[:200]}"
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak / 1024, "imports_mb": imports_rss / 1024,
                  "message": message}))
"""


def hostile_file(path: Path) -> None:
    from models.design.card import SHIPPED_MODEL

    out = io.BytesIO()
    with zipfile.ZipFile(SHIPPED_MODEL) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as edited:
        for info in archive.infolist():
            data = archive.read(info.filename)
            if info.filename == "config.json":
                config = json.loads(data)
                next(e for e in config["config"]["layers"] if e["config"]["name"] == "dense")["config"]["units"] = (
                    1_000_000
                )
                data = json.dumps(config).encode()
            edited.writestr(info.filename, data)
    path.write_bytes(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--cap-gb", type=float, default=8.0, help="--before's address-space limit (0: none)")
    args = parser.parse_args()
    path = Path("/tmp/cnn-lab-dense1m.keras")
    hostile_file(path)
    cap = int(args.cap_gb * 2**30) if args.before else 0
    load = os.getloadavg()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "before" if args.before else "after", str(cap)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"exit": done.returncode}
    print(
        f"{path.stat().st_size / 1e6:.1f} MB file; load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
