"""Training jobs as worker processes on this machine: `python -m models.networks.worker`, niced and thread-limited
(no TensorFlow in this module)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from models import ROOT
from models.training.job_protocol import NICE_ENV, RUN_FILE, THREADS_ENV, UNTRAINED_FILE, WorkerFailed
from models.training.progress import Event

log = logging.getLogger(__name__)


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def death_message(returncode: int) -> str:
    """Why a worker process ended without its run, in words."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (the machine may have run out of memory)" if -returncode == signal.SIGKILL else ""
        return f"The training process was killed by {name}{hint}; this run is lost. Start it again."
    return f"The training process stopped unexpectedly (exit code {returncode}); this run is lost. Start it again."


class LocalProcess:
    """One `python -m models.networks.worker` process: job on stdin, events from stdout, log in the folder."""

    def __init__(self, payload: dict, emit: Callable[[Event], None], folder: Path, env: Mapping[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.emit = folder, emit
        self.error: str | None = None
        self.finished = False
        self._lock = threading.Lock()
        with open(folder / "worker.log", "wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "models.networks.worker", str(folder)],
                cwd=ROOT,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                bufsize=1,
            )
        self._send(payload)
        self._reader = threading.Thread(target=self._read, name=f"worker-{self.process.pid}", daemon=True)
        self._reader.start()

    def _send(self, message: dict) -> None:
        with self._lock:
            try:
                stdin = self.process.stdin
                assert stdin is not None, "the worker is started with stdin=PIPE"
                stdin.write(json.dumps(message) + "\n")
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError):  # the process has already ended
                pass

    def _read(self) -> None:
        assert self.process.stdout is not None, "the worker is started with stdout=PIPE"
        for line in self.process.stdout:
            try:
                event = json.loads(line)
                if event.get("type") == "error":
                    self.error = str(event.get("message"))
                elif event.get("type") == "done":
                    self.finished = True
                self.emit(event)
            except Exception:  # one odd line must not stop the reading (the worker would block on a full pipe)
                log.exception("unreadable event from training worker %s: %r", self.process.pid, line[:200])

    def stop(self, reason: str) -> None:
        self._send({"stop": reason})

    def wait(self, timeout: float | None = None) -> bool:
        self._reader.join(timeout)
        if self._reader.is_alive():
            return False
        try:
            returncode = self.process.wait(timeout=30)  # its stdout is closed: the worker is ending
        except subprocess.TimeoutExpired:
            self.process.kill()
            returncode = self.process.wait()
        with self._lock:
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe and not pipe.closed:
                    pipe.close()
        if self.finished and any((self.folder / name).is_file() for name in (RUN_FILE, UNTRAINED_FILE)):
            return True
        if self.error:
            raise WorkerFailed(self.error)
        log.warning(
            "training worker %s ended with %s; log: %s", self.process.pid, returncode, self.folder / "worker.log"
        )
        raise WorkerFailed(death_message(returncode))


class LocalProcessExecutor:
    """Jobs as worker processes on this machine, each niced and limited to `threads` TensorFlow threads.

    By default `max_jobs` = cores - 1 and each job gets (cores - 1) // max_jobs threads (at least 1 of
    each), so one core stays free for the web server's reruns.
    """

    name = "this server"

    def __init__(self, max_jobs: int | None = None, threads: int | None = None, nice: int = 10) -> None:
        spare = max(1, machine_cores() - 1)
        self.max_jobs = max_jobs or spare
        self.threads = threads or max(1, spare // self.max_jobs)
        self.nice = nice

    def start(self, payload: dict, emit: Callable[[Event], None], folder: Path) -> LocalProcess:
        threads = str(self.threads)
        env = {
            **os.environ,
            THREADS_ENV: threads,
            NICE_ENV: str(self.nice),
            "PYTHONUNBUFFERED": "1",
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": "1",
            "OMP_NUM_THREADS": threads,
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        return LocalProcess(payload, emit, folder, env)
