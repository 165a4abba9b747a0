"""A learner's own .keras model: judged, tested in a process of its own, and stored as one of their runs, or refused
with the reason. No TensorFlow here: the web process never builds an uploaded model until a page opens the stored
run (after it was proven small).

1. The file's size, then the archive (`models.design.card.check_model_archive`: zip, zip bomb, Lambda layers, modules
   outside Keras, oversized config), then its config.json alone (`models.uploaded.config_check`: an allow-list of layer
   classes and caps on parameters, multiply-accumulates and activation values per image, computed layer by layer).
2. Then `python -m models.uploaded.trial` loads it in Keras's safe mode, checks its interface (one (None, 28, 28, 1)
   input, a softmax over 2 or more classes), measures a 10-class model's test accuracy and writes what the pages
   need (the layer table and summary, the first Conv2D layer's kernels, Inspect's evaluation) beside the run. It
   sets itself an address-space limit (RLIMIT_AS) and a CPU-time limit (RLIMIT_CPU) before it imports
   TensorFlow, runs at lower priority with one TensorFlow thread, and is killed after a wall-clock limit; a child
   that dies or overruns gives a message, never a traceback.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from models import ROOT
from models.design.card import MAX_UPLOAD_BYTES, MAX_UPLOAD_UNPACKED, ModelFileError, check_model_archive
from models.inputs.fashion_mnist import CLASS_NAMES
from models.serving.quota import QuotaExceeded
from models.training.job_protocol import (
    MODEL_FILE,
    NICE_ENV,
    RUN_FILE,
    THREADS_ENV,
    job_threads,
    whole_number,
    write_json_atomically,
)
from models.training.runs import RunStore, TrainingRun
from models.uploaded.config_check import ConfigRefused, check_upload_config

NAME_LENGTH = 60
TEST_FILE = "upload_test.npz"  # the test images and labels, for the child; removed before the run is stored
CHECKS_ENV = "CNN_LAB_UPLOAD_CHECKS"  # check processes at once on the machine (default 1)
MEMORY_MB_ENV, CPU_SECONDS_ENV, WALL_SECONDS_ENV = (
    "CNN_LAB_UPLOAD_MEMORY_MB",
    "CNN_LAB_UPLOAD_CPU_SECONDS",
    "CNN_LAB_UPLOAD_WALL_SECONDS",
)
# TensorFlow alone maps about 1.9 GB of address space; a model at the caps (models.uploaded.config_check) evaluates
# within 4 GB. Evaluating 10,000 images at the MAC cap takes about 51 s of one core; loading about 10 s.
MEMORY_MB, CPU_SECONDS, WALL_SECONDS = 4096, 240, 480


class UploadError(ValueError):
    """A model file the lab cannot use; the message says what it expects and why."""


def limits(environ: Mapping[str, str] = os.environ) -> tuple[int, int, int]:
    """The check's (memory MB, CPU seconds, wall-clock seconds), each overridable by its environment variable."""
    return (
        whole_number(environ, MEMORY_MB_ENV) or MEMORY_MB,
        whole_number(environ, CPU_SECONDS_ENV) or CPU_SECONDS,
        whole_number(environ, WALL_SECONDS_ENV) or WALL_SECONDS,
    )


def class_names(classes: int) -> tuple[str, ...]:
    """Fashion-MNIST's names for a 10-class model, 'class 0', 'class 1', ... otherwise."""
    return CLASS_NAMES if classes == len(CLASS_NAMES) else tuple(f"class {i}" for i in range(classes))


def display_name(file_name: str) -> str:
    """The run's name from the file's: letters, digits and a few signs, at most NAME_LENGTH characters."""
    stem = re.sub(r"[^\w .()+-]+", "_", Path(file_name).name.removesuffix(".keras")).strip() or "model"
    return f"Uploaded: {stem[:NAME_LENGTH]}"


def judge(path: Path, shown: str) -> None:
    """The checks made in the web process, from the archive and its config.json alone; UploadError says why not."""
    try:
        check_upload_config(check_model_archive(path, shown=shown, max_unpacked=MAX_UPLOAD_UNPACKED))
    except ModelFileError as error:
        raise UploadError(str(error)) from None
    except ConfigRefused as error:
        raise UploadError(f"Model file {shown} was refused before loading: {error}.") from None


def run_check(folder: Path, shown: str) -> dict:
    """`python -m models.uploaded.trial` on the folder, within the limits; its record, or UploadError saying why."""
    memory_mb, cpu_seconds, wall_seconds = limits()
    env = {
        **os.environ,
        MEMORY_MB_ENV: str(memory_mb),
        CPU_SECONDS_ENV: str(cpu_seconds),
        NICE_ENV: os.environ.get(NICE_ENV, "10"),
        THREADS_ENV: str(job_threads()),
    }
    process = subprocess.Popen(  # its limits are set by the child itself, first thing (models.uploaded.trial.main)
        [sys.executable, "-m", "models.uploaded.trial", str(folder), shown],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout kills it and anything it started
    )
    too_large = f"Model file {shown} is too large to run here:"
    try:
        out, err = process.communicate(timeout=wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise UploadError(
            f"{too_large} loading and testing it took more than {wall_seconds} s (the limit); try a smaller model."
        ) from None
    (folder / "upload_check.log").write_text(err[-20_000:])
    lines = out.strip().splitlines()
    reply = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    if reply.get("error") == "memory" or (not reply and "MemoryError" in err):
        raise UploadError(f"{too_large} it needed more than the {memory_mb:,} MB of memory a model may use.")
    if "error" in reply:
        raise UploadError(str(reply["error"]))
    if "record" in reply:
        return reply["record"]
    if process.returncode == -signal.SIGXCPU:
        raise UploadError(f"{too_large} it needed more than {cpu_seconds} s of processor time (the limit).")
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name if -process.returncode in signal.valid_signals() else "?"
        raise UploadError(
            f"{too_large} the process checking it was stopped ({name}); it may need more than the "
            f"{memory_mb:,} MB of memory or {cpu_seconds} s of processor time a model may use."
        )
    raise UploadError(
        f"{too_large} the process checking it ended without an answer (exit code {process.returncode}); "
        f"it may need more than the {memory_mb:,} MB of memory a model may use."
    )


@contextmanager
def check_slot(root: Path, wait_seconds: float) -> Iterator[None]:
    """One of the machine's CNN_LAB_UPLOAD_CHECKS slots for a check process (a lock file each under `root`, shared
    by every server process), so a class uploading at once runs the checks a few at a time, not all at once."""
    slots = max(1, int(os.environ.get(CHECKS_ENV, "1")))
    folder = root / "upload_slots"
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        for index in range(slots):
            with open(folder / f"{index}.lock", "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                return
        if time.monotonic() > deadline:
            raise UploadError(
                "The server is checking other learners' models and none finished in time; try again in a minute."
            )
        time.sleep(0.25)


def store_upload(
    store: RunStore, token: str, data: bytes, file_name: str, test: tuple[np.ndarray, np.ndarray]
) -> TrainingRun:
    """Check a learner's .keras file and keep it as one of their runs; UploadError says why not.

    `test` is Fashion-MNIST's test images and labels: a 10-class model's test accuracy is measured on them.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"The file is {len(data) / 2**20:,.1f} MB; the limit is {MAX_UPLOAD_BYTES / 2**20:,.0f} MB "
            "(the course CNN's file is about 3 MB)."
        )
    start = time.perf_counter()
    staging = store.staging_folder()
    shown = repr(Path(file_name).name)
    try:
        (staging / MODEL_FILE).write_bytes(data)
        judge(staging / MODEL_FILE, shown)
        np.savez(staging / TEST_FILE, images=test[0], labels=test[1])
        with check_slot(store.root, wait_seconds=limits()[2]):
            checked = run_check(staging, shown)
        (staging / TEST_FILE).unlink()
        (staging / "upload_check.log").unlink(missing_ok=True)
        record = {
            "name": display_name(file_name),
            "config": {**checked["config"], "file_name": Path(file_name).name[:200]},
            "history": {},
            "test_accuracy": checked["test_accuracy"],
            "seconds": time.perf_counter() - start,
            "epochs_done": 0,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_json_atomically(staging / RUN_FILE, record)
        try:
            return store.commit(token, staging)
        except QuotaExceeded as error:  # the disk quota (models.serving.quota), checked before the run is moved in
            raise UploadError(str(error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once committed
