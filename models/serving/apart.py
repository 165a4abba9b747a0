"""Heavy work on one learner's model outside the web server: `python -m MODULE ARGS --limited`, a child process with
the upload check's memory, CPU and wall-clock limits (`limit_this_process`), in one of the
machine's check slots (models.uploaded.store.check_slot), so a class asking at once runs a few at a time."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from models import ROOT
from models.training.job_protocol import NICE_ENV, job_threads, limit_threads


class ApartError(ValueError):
    """The child could not do its work (busy, too slow, or it failed); the message says which, for the page."""


def run_apart(module: str, args: list[str], output: Path, root: Path, what: str) -> None:
    """Run `python -m module *args --limited` to write `output` (skipped if another session's child wrote it while
    this one waited for a slot); `what` names the work in messages ("Embedding the training images")."""
    from models.uploaded.store import UploadError, check_slot, limits

    asked = time.time()
    wall_seconds = limits()[2]
    command = [sys.executable, "-m", module, *args, "--limited"]
    try:
        with check_slot(root, wall_seconds):
            if output.is_file() and output.stat().st_mtime >= asked:
                return
            done = subprocess.run(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=wall_seconds
            )
    except UploadError:
        raise ApartError("The server is busy checking other learners' models; try again in a minute.") from None
    except subprocess.TimeoutExpired:
        raise ApartError(f"{what} took more than {wall_seconds} s (the limit).") from None
    except OSError as error:  # the data folder full or gone
        raise ApartError(f"{what} could not start ({error.strerror or error}).") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1][:300] if lines else f"exit code {done.returncode}"
        raise ApartError(f"{what} failed ({reason}).")


def limit_this_process() -> None:
    """The check's memory and CPU limits (models.uploaded.store.limits), lower priority and TensorFlow thread limit, set
    before TensorFlow loads: by the upload's trial and by every child `run_apart` starts."""
    from models.uploaded.store import limits

    memory_mb, cpu_seconds, _ = limits()
    for limit, soft, hard in (
        (resource.RLIMIT_AS, memory_mb * 2**20, memory_mb * 2**20),
        (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 5),
    ):  # SIGXCPU, then SIGKILL
        ceiling = resource.getrlimit(limit)[1]  # never above a limit this process was started with
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(limit, (soft, hard))
    os.nice(int(os.environ.get(NICE_ENV, "10")))
    limit_threads(job_threads())
