"""Training jobs on the workers of a Dask `distributed` cluster (no TensorFlow, no Streamlit in this module).

Chosen by models.training.executors when `$CNN_LAB_DASK_SCHEDULER` names a scheduler (`tcp://host:8786`, or
`tls://host:8786` with the certificates named by `$CNN_LAB_DASK_TLS_CA`, `_CERT`, `_KEY`). The web server holds
one `distributed.Client`, shared by every session and job thread (Client methods are thread-safe). A job is one
task, `train_on_worker` (sent by value through `task_function`, so the scheduler needs only `distributed`),
submitted with a unique key, `pure=False` and `retries=0`:

- on the worker it runs `models.networks.worker.run_job` in a temporary folder and returns the run's files as bytes,
  which the `DaskExecution` writes into the job's staging folder on the web server (`run.json` last);
- progress events travel back through the scheduler's event broker (`Worker.log_event` on the worker,
  `Client.subscribe_topic` here: pushed, not polled; Pub/Sub is gone from current `distributed`);
- Stop is a `distributed.Event` (the wake-up) plus a `distributed.Variable` (the reason) named after the job: a
  thread inside the task waits on the event and sets the job's StopFlag, so training stops after its batch;
- a worker that dies mid-job would make the scheduler quietly start the task again elsewhere (up to
  `distributed.scheduler.allowed-failures` times). The execution notices instead (the worker it started on has
  left the cluster, or the task started a second time), cancels the task and reports `WorkerFailed`; losing
  the scheduler cancels the future, which is reported the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import json
import logging
import os
import queue
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

from distributed import Client, Event, Variable, get_client, get_worker
from distributed import Future as DaskFuture
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker
from distributed.security import Security

from models.inputs.own_data import DatasetError, ship
from models.training.job_protocol import (
    DASK_SCHEDULER_ENV,
    RUN_FILE,
    STOPPED_BY_REQUEST,
    THREADS_ENV,
    UNTRAINED_FILE,
    StopFlag,
    WorkerFailed,
    limit_threads,
    whole_number,
    write_atomically,
)
from models.training.progress import Event as ProgressEvent

TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV = "CNN_LAB_DASK_TLS_CA", "CNN_LAB_DASK_TLS_CERT", "CNN_LAB_DASK_TLS_KEY"
PLAIN_TCP_ENV = "CNN_LAB_DASK_PLAIN_TCP"  # "allow": plain tcp:// to another machine (a private network)
CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler (and to get it back after a lost connection)
STOP_POLL_SECONDS = 0.5  # the task's stop watcher waits on its Event this long at a time
LIVENESS_SECONDS = 1.0  # how often an execution checks that the worker training it is still in the cluster
LAST_EVENTS_SECONDS = 5.0  # how long to wait for the last progress events once the result is in
RESULT_TIMEOUT = 120.0  # seconds to fetch a finished run's files from the worker
RELEASED_REASON = "stopped: the web server no longer wants this job"
SCHEDULER_LOST_REASON = "stopped: this Dask worker lost its scheduler"

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training itself failed on a worker; the message is for the learner (the traceback is in the worker's log)."""


# -- the worker's side


def train_on_worker(payload: dict, *, job: str, topic: str, stop_name: str) -> dict:
    """The Dask task: train one job on this worker; return {"files": {name: bytes}, "events": count}.

    The first message on `topic` says which worker process took the job; then come the job's progress events.
    """
    from models.networks.worker import run_job  # TensorFlow's side: imported on the worker only

    worker = get_worker()
    threads = whole_number(os.environ, THREADS_ENV)  # a bad value fails the job with a message naming it
    if threads and "tensorflow" not in sys.modules:
        limit_threads(threads)  # only the first job of a worker process can size TensorFlow's pools
    lock = threading.Lock()
    sent = 0

    def publish(message: dict) -> None:
        worker.log_event(topic, {"job": job, **message})  # thread-safe: hands the message to the worker's loop

    def emit(event: ProgressEvent) -> None:
        nonlocal sent
        with lock:
            sent += 1
            publish({"event": json.loads(json.dumps(event))})  # JSON-safe, as over the local worker's pipe

    publish({"started": {"address": worker.address, "pid": os.getpid(), "host": socket.gethostname()}})
    stop, finished = StopFlag(), threading.Event()
    watcher = threading.Thread(
        target=watch_for_stop,
        args=(get_client(), worker, job, stop_name, stop, finished),
        name=f"stop-watcher-{job}",
        daemon=True,
    )
    watcher.start()
    try:
        with tempfile.TemporaryDirectory(prefix="cnn-lab-job-", dir=worker.local_directory) as scratch:
            folder = Path(scratch) / "run"
            run_job(payload, emit, stop, folder)
            files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    except Exception as error:
        log.exception("training job %s failed", job)
        raise TrainingError(f"Training failed: {type(error).__name__}: {error}") from None
    finally:
        finished.set()
    with lock:
        return {"files": files, "events": sent}


def watch_for_stop(client: Client, worker, job: str, stop_name: str, stop: StopFlag, finished: threading.Event) -> None:
    """Inside the task: set `stop` when the web server asks, lets go of the job, or the scheduler is gone."""
    event, reason = Event(stop_name, client=client), Variable(stop_name, client=client)
    failures = 0
    while not finished.is_set() and not stop.is_set():
        task = worker.state.tasks.get(job)
        if task is None or task.state == "cancelled":  # released by the web server: nobody will take the result
            stop.set(RELEASED_REASON)
            return
        try:
            if event.wait(timeout=STOP_POLL_SECONDS):
                try:
                    text = reason.get(timeout=5)
                except Exception:
                    text = STOPPED_BY_REQUEST
                stop.set(str(text or STOPPED_BY_REQUEST))
                return
            failures = 0
        except Exception:  # no answer from the scheduler
            failures += 1
            if failures >= 3:
                stop.set(SCHEDULER_LOST_REASON)
                return
            finished.wait(1.0)


def task_function() -> Callable[..., dict]:
    """`train_on_worker` behind a nested function, which cloudpickle sends by value: the scheduler (which unpickles
    the tasks it is sent) then needs only `distributed`, not this project; the import runs on the worker."""

    def train_cnn_lab_job(payload: dict, **names: str) -> dict:
        from models.training.executors.dask_cluster import train_on_worker

        return train_on_worker(payload, **names)

    return train_cnn_lab_job


# -- the web server's side


def loopback(address: str) -> bool:
    """Whether a scheduler address names this machine (localhost or a loopback IP)."""
    host = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: another machine
        return False


def security_from_environment(address: str, environ: Mapping[str, str]) -> Security | None:
    """TLS settings for a `tls://` scheduler from the environment; ValueError naming what is missing or wrong."""
    names = (TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV)
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme not in ("tcp", "tls"):
        raise ValueError(f"{DASK_SCHEDULER_ENV} must be tcp://host:port or tls://host:port, got {address!r}")
    if scheme == "tcp":
        given = [name for name in names if environ.get(name, "").strip()]
        if given:
            raise ValueError(
                f"{', '.join(given)} set, but {DASK_SCHEDULER_ENV} is {address!r}: use a tls:// "
                "address to encrypt the connection, or unset them."
            )
        if not loopback(address) and environ.get(PLAIN_TCP_ENV, "").strip() != "allow":
            raise ValueError(
                f"{DASK_SCHEDULER_ENV} is {address!r}: plain tcp:// to another machine lets anyone on the network "
                f"run code on the workers. Use tls:// with {', '.join(names)}, or set {PLAIN_TCP_ENV}=allow if "
                "the network is private to the web server and the workers."
            )
        return None
    files = {}
    for name in names:
        value = environ.get(name, "").strip()
        if not value:
            raise ValueError(
                f"{name} must name a PEM file for the TLS scheduler {address} (needed: {', '.join(names)})."
            )
        if not Path(value).expanduser().is_file():
            raise ValueError(f"{name}={value!r}: no such file (needed for the TLS scheduler {address}).")
        files[name] = str(Path(value).expanduser())
    return Security(
        tls_ca_file=files[TLS_CA_ENV],
        tls_client_cert=files[TLS_CERT_ENV],
        tls_client_key=files[TLS_KEY_ENV],
        require_encryption=True,
    )


class DaskExecutor:
    """Jobs as tasks on a Dask cluster; one Client for the whole web server. Safe to share between threads.

    `max_jobs` defaults to the cluster's worker threads when it connects (at least 1).
    """

    def __init__(
        self,
        address: str,
        *,
        security: Security | None = None,
        max_jobs: int | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.address, self.security, self.connect_timeout = address, security, connect_timeout
        self.name = f"the Dask cluster at {address}"
        self.topic = f"cnn-lab-progress-{uuid.uuid4().hex}"  # this server's jobs' progress, one topic for all
        self._connect_lock = threading.Lock()  # held while (re)connecting; never taken on the client's loop
        self._jobs_lock = threading.Lock()  # guards _executions only; taken briefly, also on the client's loop
        self._executions: dict[str, DaskExecution] = {}
        self._subscribed_on = None  # the scheduler connection the topic was subscribed on
        self.client = self._connect()
        self.max_jobs = max_jobs or max(1, sum(self.client.nthreads().values()))

    @classmethod
    def from_environment(
        cls, address: str, environ: Mapping[str, str] = os.environ, max_jobs: int | None = None
    ) -> DaskExecutor:
        return cls(address, security=security_from_environment(address, environ), max_jobs=max_jobs)

    def _connect(self) -> Client:
        try:
            client = Client(
                self.address, security=self.security, timeout=self.connect_timeout, set_as_default=False, name="cnn-lab"
            )
        except Exception as error:  # OSError, TimeoutError, SSL errors: all mean "not reachable as configured"
            raise ConnectionError(
                f"Could not connect to the Dask scheduler at {self.address}: {type(error).__name__}: {error}. "
                f"Check that `dask scheduler` runs there and this server can reach it, or unset "
                f"{DASK_SCHEDULER_ENV} to train on this server."
            ) from error
        self._subscribe(client)
        return client

    def _subscribe(self, client: Client) -> None:
        """(Re)subscribe to the progress topic: a scheduler that comes back knows no subscriptions."""
        self._subscribed_on = client.scheduler_comm
        client.subscribe_topic(self.topic, self._on_message)  # thread-safe: the message goes via the loop

    def _client(self) -> Client:
        """The shared Client, reconnected if it gave up on the scheduler, resubscribed after a reconnect."""
        with self._connect_lock:
            deadline = time.monotonic() + self.connect_timeout
            while self.client.status in ("connecting", "newly-created") and time.monotonic() < deadline:
                time.sleep(0.1)  # reconnecting after a lost scheduler: it gives up after connect_timeout
            if self.client.status != "running":
                old, self.client = self.client, self._connect()
                if old.status not in ("closing", "closed"):  # still trying to reconnect: let it go
                    threading.Thread(target=old.close, name="dask-old-client-close", daemon=True).start()
            elif self.client.scheduler_comm is not self._subscribed_on:
                self._subscribe(self.client)
            return self.client

    def _on_message(self, event: tuple[float, dict]) -> None:
        """On the client's event loop: hand the message to its execution (quick, never blocks)."""
        message = event[1]
        with self._jobs_lock:
            execution = self._executions.get(str(message.get("job")))
        if execution is not None:
            execution.deliver(message)

    def _forget(self, key: str) -> None:
        with self._jobs_lock:
            self._executions.pop(key, None)

    def start(self, payload: dict, emit: Callable[[ProgressEvent], None], folder: Path) -> DaskExecution:
        if "dataset" in payload:  # a Dask worker cannot read the web server's disk: the dataset goes with the job
            try:
                payload = {**payload, "dataset": ship(payload["dataset"])}
            except (DatasetError, OSError) as error:
                raise WorkerFailed(f"Could not send your images to {self.name}: {error}") from error
        try:
            client = self._client()
        except ConnectionError as error:
            raise WorkerFailed(str(error)) from error
        key = f"cnn-lab-train-{uuid.uuid4().hex}"
        execution = DaskExecution(self, client, key, emit, Path(folder))
        with self._jobs_lock:
            self._executions[key] = execution  # before submitting: no event can come too early
        try:
            future = client.submit(
                task_function(),
                payload,
                job=key,
                topic=self.topic,
                stop_name=execution.stop_name,
                key=key,
                pure=False,
                retries=0,
            )
        except Exception as error:
            execution.close(f"could not submit: {error}")
            raise WorkerFailed(f"Could not send the job to {self.name}: {type(error).__name__}: {error}") from error
        execution.attach(future)
        return execution

    def close(self) -> None:
        with self._connect_lock:
            client = self.client
        try:
            if client.status == "running":
                client.unsubscribe_topic(self.topic)
            client.close(timeout=self.connect_timeout)
        except Exception as error:  # e.g. closing while it reconnects to a scheduler that is gone
            log.debug("closing the Dask client: %s", error)

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r}, max_jobs={self.max_jobs})"


def _event_loop(client: Client) -> asyncio.AbstractEventLoop:
    """The asyncio loop the client runs on (distributed types its tornado loop as optional)."""
    return client.loop.asyncio_loop  # type: ignore[union-attr]


class DaskExecution:
    """One job's task: forwards its progress to `emit` from a thread of its own, writes its run, reports failure."""

    def __init__(
        self, executor: DaskExecutor, client: Client, key: str, emit: Callable[[ProgressEvent], None], folder: Path
    ) -> None:
        self.executor, self.client, self.key, self.emit, self.folder = executor, client, key, emit, folder
        self.stop_name = f"{key}-stop"
        self.future: DaskFuture | None = None
        self.started_on: list[dict] = []  # one entry per time the task started on a worker
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._received = 0
        self._stop_sent: concurrent.futures.Future | None = None
        self._outcome: bool | str | None = None  # True once the run is written, else the failure message
        self._checked = 0.0
        self._forwarder = threading.Thread(target=self._forward, name=f"dask-progress-{key[-8:]}", daemon=True)
        self._forwarder.start()

    def attach(self, future: DaskFuture) -> None:
        self.future = future
        future.add_done_callback(lambda _: self._changed.set())

    # -- the client's loop

    def deliver(self, message: dict) -> None:
        with self._lock:
            if "started" in message:
                self.started_on.append(dict(message["started"]))
            elif "event" in message:
                self._received += 1
                self._events.put(message["event"])
        self._changed.set()

    async def _send_stop(self, reason: str) -> None:
        try:  # the reason first, then the wake-up: the task reads the reason once woken
            await self.client.scheduler.variable_set(name=self.stop_name, data=reason)
            await self.client.scheduler.event_set(name=self.stop_name)
        except Exception as error:
            log.warning("could not send Stop for %s to %s: %s", self.key, self.executor.name, error)

    async def _clear_stop(self) -> None:
        try:
            if self._stop_sent is not None:
                await asyncio.wrap_future(self._stop_sent)
            await self.client.scheduler.event_clear(name=self.stop_name)
            Variable(self.stop_name, client=self.client).delete()
        except Exception as error:
            log.debug("could not clear Stop for %s: %s", self.key, error)

    # -- the forwarding thread

    def _forward(self) -> None:
        while (event := self._events.get()) is not None:
            try:
                self.emit(event)
            except Exception:
                log.exception("progress handler failed for %s", self.key)

    # -- the job's thread (models.training.jobs)

    def stop(self, reason: str) -> None:
        """Ask the task to stop after its batch; sent from the client's loop, so the caller never blocks."""
        with self._lock:
            if self._stop_sent is not None or self._outcome is not None:
                return
            try:
                self._stop_sent = asyncio.run_coroutine_threadsafe(self._send_stop(reason), _event_loop(self.client))
            except Exception as error:  # the client's loop is closed: the job is lost anyway
                log.warning("could not send Stop for %s: %s", self.key, error)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._changed.clear()
            if self._outcome is True:
                return True
            if isinstance(self._outcome, str):
                raise WorkerFailed(self._outcome)
            if self.future is not None and self.future.done():
                return self._finish()
            death = self._worker_death()
            if death:
                self._fail(death, cancel=True)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._changed.wait(LIVENESS_SECONDS if left is None else min(left, LIVENESS_SECONDS))

    def _worker_death(self) -> str | None:
        """Why the job is lost though its future is still pending (its worker died), else None."""
        with self._lock:
            started = list(self.started_on)
        if not started:
            return None
        first = started[0]
        where = f"The Dask worker {first['address']} (process {first['pid']} on {first['host']})"
        if len(started) > 1:
            return (
                f"{where} that was training this job stopped unexpectedly (killed, or out of memory?) and the "
                f"scheduler started the job again on {started[-1]['address']}; this run is lost. Start it again."
            )
        now = time.monotonic()
        if now - self._checked < LIVENESS_SECONDS or self.client.status != "running":
            return None
        self._checked = now
        try:
            alive = self.client.nthreads(workers=[first["address"]], callback_timeout=5)
        except Exception:  # a lost scheduler shows as the future's cancellation
            return None
        if first["address"] not in alive:
            return (
                f"{where} that was training this job left the cluster (killed, out of memory, or shut down); "
                "this run is lost. Start it again."
            )
        return None

    def _finish(self) -> bool:
        future = self.future
        assert future is not None, "called once the attached future is done"
        if future.status != "finished":
            self._fail(self._failure_message(future), cancel=False)
        try:
            result = future.result(timeout=RESULT_TIMEOUT)
            deadline = time.monotonic() + LAST_EVENTS_SECONDS
            while True:  # the result can overtake the last progress events (they come via the scheduler)
                self._changed.clear()
                if self._received >= result["events"] or time.monotonic() > deadline:
                    break
                self._changed.wait(0.05)
            self._write(result["files"])
        except Exception as error:
            self._fail(
                f"Could not save the finished run from {self.executor.name}: "
                f"{type(error).__name__}: {error}. Start it again.",
                cancel=True,
            )
        self._close(True)
        future.release()
        return True

    def _failure_message(self, future) -> str:
        try:
            future.result(timeout=5)
            error: BaseException | None = None
        except BaseException as caught:  # every way a task can end is turned into words for the learner
            error = caught
        if isinstance(error, TrainingError):
            return str(error)
        if isinstance(error, KilledWorker):
            return (
                f"The Dask worker {error.last_worker.address} died while training this job (killed, or out of "
                f"memory?) and the scheduler gave up on it after {error.allowed_failures + 1} such death(s); "
                "this run is lost. Start it again."
            )
        reason = getattr(error, "reason", None)  # FutureCancelledError's reason, e.g. scheduler-connection-lost
        if isinstance(error, FutureCancelledError) and reason == "scheduler-connection-lost":
            return (
                f"Lost the connection to the Dask scheduler at {self.executor.address}; this run is lost. "
                "Start it again once the cluster is back."
            )
        if isinstance(error, FutureCancelledError):
            return f"{self.executor.name} cancelled this job ({reason or 'no reason given'}). Start it again."
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "models":
            return (
                f"The Dask workers cannot import this project ({error}): start `dask worker` from the "
                "repository folder, with it on PYTHONPATH (see the README)."
            )
        if error is None:
            return f"{self.executor.name} lost this job's result (status {future.status}). Start it again."
        return f"Training failed on {self.executor.name}: {type(error).__name__}: {error}"

    def _write(self, files: dict[str, bytes]) -> None:
        """The run's files into the folder, run.json last (each under a temporary name first, then renamed)."""
        if RUN_FILE not in files and UNTRAINED_FILE not in files:  # untrained: stopped before its first batch
            raise ValueError(f"the worker sent no {RUN_FILE}")
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(files, key=lambda n: n == RUN_FILE):
            if Path(name).name != name or name.startswith("."):
                raise ValueError(f"the worker sent a file with a bad name: {name!r}")
            write_atomically(self.folder / name, files[name])

    def _fail(self, message: str, *, cancel: bool) -> NoReturn:
        """End the job as lost (no more events; cancelled, so the scheduler does not run it again)."""
        future = self.future
        if cancel and future is not None:
            try:
                future.cancel(reason="cnn-lab-job-lost", msg=message)
            except Exception as error:
                log.warning("could not cancel %s: %s", self.key, error)
        self._close(message)
        if future is not None:
            future.release()
        raise WorkerFailed(message)

    def close(self, outcome: bool | str) -> None:
        """No more events for this job; its Stop signal on the scheduler is cleared."""
        self.executor._forget(self.key)
        with self._lock:
            self._outcome = outcome
            stop_sent = self._stop_sent
        self._events.put(None)
        self._forwarder.join(timeout=5)
        if stop_sent is not None and self.client.status == "running":
            asyncio.run_coroutine_threadsafe(self._clear_stop(), _event_loop(self.client))

    _close = close
