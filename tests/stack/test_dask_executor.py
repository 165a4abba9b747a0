"""Training on a real Dask cluster on localhost: `dask scheduler` and `dask worker` processes, real Fashion-MNIST.

The workers are started as the README says (from the repository folder, with it on PYTHONPATH), each under a
nanny, so a worker killed mid-job is restarted by its nanny and the scheduler would run the job again there:
the executor must report the run as failed instead. Every test uses small real runs (1,024 images or fewer).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pytest
from distributed import Client

from models.design.config import COURSE_CNN
from models.training.executors import WorkerFailed, executor_from_environment
from models.training.executors.dask_cluster import (
    TLS_CA_ENV,
    TLS_CERT_ENV,
    TLS_KEY_ENV,
    DaskExecutor,
    security_from_environment,
)
from models.training.jobs import JobRegistry, TrainingJob
from models.training.recipes import RunSpec, TrainConfig
from models.training.runs import RunStore
from tests.support.pace import seconds_per_batch

ROOT = Path(__file__).resolve().parents[2]
TINY_CNN = replace(COURSE_CNN, filters=8)
LEARNER = "dask-test-learner"
pytestmark = pytest.mark.timeout(300)


def short_spec() -> RunSpec:
    """About a second of training: 768 images fit, 256 validate, two epochs of 12 batches."""
    return RunSpec(TINY_CNN, recipe=TrainConfig(epochs=2, batch_size=64), train_images=1024, validation_split=0.25)


def long_spec() -> RunSpec:
    """A run that would take minutes (50 epochs): it is stopped, or its worker is killed, long before the end."""
    return RunSpec(TINY_CNN, recipe=TrainConfig(epochs=50, batch_size=32), train_images=1024, validation_split=0.25)


def watched_by_the_test() -> bool:
    """A job's keepalive: the test watches it as a learner's open page does, so a worker slow to start on a loaded
    machine (over 30 s) does not orphan it."""
    return True


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.01)


class LocalDaskCluster:
    """`dask scheduler` and `dask worker` as real processes on 127.0.0.1, optionally over TLS."""

    def __init__(
        self,
        folder: Path,
        *,
        workers: int = 1,
        tls: dict[str, str] | None = None,
        project_on_path: bool = True,
        scheduler_env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen] = []
        # The scheduler runs without this project (it needs only `distributed`); the workers as the README says:
        # from the repository folder with it on PYTHONPATH (`python -m` puts the working folder on sys.path).
        bare = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        self.bare = (folder, {**bare, "PYTHONUNBUFFERED": "1"})
        scheduler = (folder, {**self.bare[1], **(scheduler_env or {})})
        self.with_project = (
            ROOT,
            {
                **bare,
                "PYTHONPATH": str(ROOT),
                "CNN_LAB_JOB_THREADS": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONUNBUFFERED": "1",
            },
        )
        tls_args = (
            []
            if tls is None
            else ["--tls-ca-file", tls[TLS_CA_ENV], "--tls-cert", tls[TLS_CERT_ENV], "--tls-key", tls[TLS_KEY_ENV]]
        )
        scheduler_file = folder / "scheduler.json"
        self.client = None
        try:
            self.scheduler = self._spawn(
                "scheduler",
                scheduler,
                [
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--dashboard-address",
                    "127.0.0.1:0",
                    "--scheduler-file",
                    str(scheduler_file),
                    *(["--protocol", "tls"] if tls else []),
                    *tls_args,
                ],
            )
            wait_for(lambda: scheduler_file.is_file() and scheduler_file.stat().st_size > 0, 60, "the scheduler")
            self.address = json.loads(scheduler_file.read_text())["address"]
            self.worker = self._spawn(
                "worker",
                self.with_project if project_on_path else self.bare,
                [
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    str(workers),
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--local-directory",
                    str(folder / "scratch"),
                    *tls_args,
                ],
            )
            security = None if tls is None else security_from_environment(self.address, tls)
            self.client = Client(self.address, security=security, timeout=30, set_as_default=False)
            self.client.wait_for_workers(workers, timeout=60)
        except BaseException:
            self.close()
            raise

    def _spawn(self, name: str, where: tuple[Path, dict[str, str]], args: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")
        cwd, env = where
        process = subprocess.Popen(
            [sys.executable, "-m", "dask", *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.processes.append(process)
        return process

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the worker process (the nanny's child)."""
        return self.client.run(os.getpid)

    def train_keys(self) -> list[str]:
        """The training tasks the scheduler still knows."""
        return self.client.run_on_scheduler(
            lambda dask_scheduler: sorted(k for k in dask_scheduler.tasks if str(k).startswith("cnn-lab-train"))
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
            for path in sorted(self.folder.glob("*.log"))
        )

    def close(self) -> None:
        """Stop the workers, then the scheduler; SIGKILL whatever of theirs is still running after 15 s."""
        if self.client is not None:
            try:
                self.client.close(timeout=5)
            except Exception:
                pass
        for process in reversed(self.processes):
            family = []
            if process.poll() is None:
                try:
                    family = psutil.Process(process.pid).children(recursive=True)  # a nanny's worker processes
                except psutil.NoSuchProcess:
                    pass
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            for child in family:
                try:
                    if child.is_running():  # compares start times: never a recycled pid
                        child.kill()
                except psutil.NoSuchProcess:
                    pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = LocalDaskCluster(tmp_path_factory.mktemp("dask-cluster"))
    yield started
    started.close()


@pytest.fixture(scope="module")
def executor(cluster):
    connected = DaskExecutor(cluster.address)
    yield connected
    connected.close()


@pytest.fixture
def registry(executor, tmp_path):
    return JobRegistry(executor, RunStore(tmp_path / "data"))


def test_a_job_trains_on_a_worker_with_live_progress_and_its_run_is_saved(cluster, executor, registry, fashion):
    assert executor.name == f"the Dask cluster at {cluster.address}"
    assert executor.max_jobs == registry.max_jobs == 1  # the cluster's worker threads
    job = TrainingJob(short_spec(), "dask run", learner=LEARNER, keepalive=watched_by_the_test)
    registry.submit(job)
    seen, deadline = [], time.monotonic() + 120
    while not job.wait(0.01):
        progress = job.progress()
        seen.append((progress.status, progress.epoch, progress.batch, len(progress.history.get("loss", []))))
        assert time.monotonic() < deadline, "the job did not end within 120 s:\n" + cluster.logs()
    progress = job.progress()
    assert progress.status == "finished", progress.message + "\n" + cluster.logs()
    running = [(epoch, batch) for status, epoch, batch, _ in seen if status == "running"]
    assert len(set(running)) >= 2, f"progress did not come back while training: {sorted(set(running))}"
    assert running == sorted(running)  # batches only advance
    assert {epochs for status, _, _, epochs in seen if status == "running"} >= {0, 1}  # history filled during the run
    assert progress.steps == 12 and progress.fraction == 1.0 and len(progress.batch_curve) == 24
    run = job.run
    assert run.name == "dask run" and run.stop_reason is None and run.seconds > 0
    assert run.history == progress.history and len(run.history["loss"]) == 2
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert run.config["train_images"] == 768 and run.config["validation_images"] == 256
    assert run.folder.parent == registry.store.learner_folder(LEARNER)
    assert sorted(p.name for p in run.folder.iterdir()) == [
        *("arrays.npz", "evaluation.npz", "model.keras", "run.json")
    ]
    assert run.timeline.kernels.shape == (3, 3, 3, 8) and len(run.batch_curve) == 24
    # the model file came across intact: it gives the test accuracy the worker measured
    (x_test, y_test) = fashion[1]
    _, accuracy = run.model.evaluate(x_test[..., None] / 255.0, y_test, verbose=0)
    assert run.test_accuracy == pytest.approx(accuracy, abs=1e-6) and run.test_accuracy > 0.3
    assert run.model.count_params() == run.config["parameters"]
    assert cluster.train_keys() == []  # the finished task was released


def test_stop_reaches_the_worker_within_a_second_and_keeps_the_run(cluster, registry):
    job = TrainingJob(long_spec(), "stopped run", learner=LEARNER, keepalive=watched_by_the_test)
    registry.submit(job)
    wait_for(lambda: job.progress().batch >= 3 or job.done, 120, "three batches")
    assert job.progress().status == "running", job.progress().message
    # Progress is pushed while the worker trains: four distinct updates arrive, training still running (how often
    # the worker sends, at most 5 a second, is the reporter's rule: tests/unit/test_jobs.py; a busy machine trains
    # fewer batches a second, so a count per second here would measure the machine)
    seen, watched = [(job.progress().epoch, job.progress().batch)], time.monotonic()
    while len(seen) < 5:
        now = job.progress()
        assert now.status == "running", now.message
        if (now.epoch, now.batch) != seen[-1]:
            seen.append((now.epoch, now.batch))
        assert time.monotonic() - watched < 120, f"only {seen} in 120 s:\n" + cluster.logs()
        time.sleep(0.005)
    print(f"\n4 progress updates in {time.monotonic() - watched:.2f} s: {seen}")
    assert seen == sorted(seen)
    per_batch = seconds_per_batch(job)  # the worker's pace now: a loaded machine slows the batch a Stop waits for
    asked = time.monotonic()
    job.stop("stopped by the test")
    wait_for(lambda: job.progress().status != "running", 120, "training to stop")
    latency = time.monotonic() - asked
    print(f"\nDask Stop latency (stop() to the worker's 'evaluating' here): {latency:.3f} s; a batch {per_batch:.3f} s")
    assert latency < 1.0 + 3 * per_batch  # within a second on a quiet machine, where a batch takes milliseconds
    assert job.wait(60) and job.progress().status == "stopped", job.progress().message
    run = job.run
    assert run.stop_reason == "stopped by the test"  # the reason travelled to the worker and back in run.json
    assert len(run.history.get("loss", [])) < 50
    assert not np.allclose(run.timeline.kernels[0], run.model.get_layer("conv1").kernel.numpy()[:, :, 0, :])
    assert [saved.name for saved in registry.store.runs(LEARNER)[0]] == ["stopped run"]


def test_a_worker_killed_mid_job_fails_the_run_and_frees_the_slot(cluster, registry):
    doomed = TrainingJob(long_spec(), "doomed run", learner=LEARNER, keepalive=watched_by_the_test)
    queued = TrainingJob(short_spec(), "next run", learner=LEARNER, keepalive=watched_by_the_test)
    registry.submit(doomed)
    registry.submit(queued)
    wait_for(lambda: doomed.progress().batch >= 2 or doomed.done, 120, "the first job to train")
    assert doomed.progress().status == "running" and queued.progress().queue_position == 1
    execution = registry._runners[doomed.job_id]._execution  # the Dask side of the job this process trains
    key = execution.key
    ((address, pid),) = cluster.worker_pids().items()
    assert execution.started_on[0]["pid"] == pid
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: doomed.done, 15, "the killed job to end")
    print(f"\nworker death noticed after {time.monotonic() - killed:.2f} s: {doomed.progress().message}")
    progress = doomed.progress()
    assert progress.status == "failed" and doomed.run is None
    assert address in progress.message and "this run is lost" in progress.message
    # the slot is free: the queued job starts, on the worker the nanny restarted, and finishes
    assert queued.wait(120), "the queued job did not end:\n" + cluster.logs()
    assert queued.progress().status == "finished", queued.progress().message
    assert key not in cluster.train_keys()  # the killed job was not run again
    assert [run.name for run in registry.store.runs(LEARNER)[0]] == ["next run"]
    assert registry.running() == registry.waiting() == 0
    assert list(cluster.worker_pids().values()) != [pid]


def test_an_error_in_training_fails_the_run_with_its_message(executor, tmp_path):
    events = []
    execution = executor.start(
        {"spec": {"architecture": "no such model"}, "name": "broken"}, events.append, tmp_path / "staging"
    )
    deadline = time.monotonic() + 60
    with pytest.raises(WorkerFailed, match="^Training failed: "):
        while not execution.wait(0.2):
            assert time.monotonic() < deadline, "the broken job did not end"
    assert not (tmp_path / "staging" / "run.json").exists() and events == []


def test_the_app_finds_the_cluster_through_its_environment(cluster):
    chosen = executor_from_environment({"CNN_LAB_DASK_SCHEDULER": f" {cluster.address} "})
    capped = executor_from_environment({"CNN_LAB_DASK_SCHEDULER": cluster.address, "CNN_LAB_MAX_JOBS": "3"})
    try:
        assert isinstance(chosen, DaskExecutor) and chosen.max_jobs == 1 and capped.max_jobs == 3
    finally:
        chosen.close()
        capped.close()


def test_an_unreachable_scheduler_is_a_clear_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the socket is closed
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConnectionError, match=f"Dask scheduler at {address}"):
        DaskExecutor(address, connect_timeout=2)


def make_certificate(folder: Path) -> dict[str, str]:
    """One self-signed certificate, used as the CA and by every side (as Dask's own TLS tests do)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=cnn-lab-test",
        ],
        check=True,
        capture_output=True,
    )
    return {TLS_CA_ENV: str(cert), TLS_CERT_ENV: str(cert), TLS_KEY_ENV: str(key)}


def test_tls_settings_come_from_the_environment_with_clear_errors(tmp_path):
    tls = make_certificate(tmp_path)
    security = security_from_environment("tls://10.0.0.5:8786", tls)
    assert security.require_encryption and security.tls_ca_file == tls[TLS_CA_ENV]
    assert security.tls_client_cert == tls[TLS_CERT_ENV] and security.tls_client_key == tls[TLS_KEY_ENV]
    assert security_from_environment("tcp://127.0.0.1:8786", {}) is None  # this machine
    assert security_from_environment("tcp://localhost:8786", {}) is None
    for remote in ("tcp://10.0.0.5:8786", "tcp://scheduler.example:8786", "10.0.0.5:8786"):
        with pytest.raises(ValueError, match="plain tcp:// to another machine .* CNN_LAB_DASK_PLAIN_TCP=allow"):
            security_from_environment(remote, {})
    assert security_from_environment("tcp://10.0.0.5:8786", {"CNN_LAB_DASK_PLAIN_TCP": "allow"}) is None
    for missing in (TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV):
        with pytest.raises(ValueError, match=missing):
            security_from_environment("tls://10.0.0.5:8786", {k: v for k, v in tls.items() if k != missing})
    with pytest.raises(ValueError, match=f"{TLS_KEY_ENV}=.*no such file"):
        security_from_environment("tls://10.0.0.5:8786", {**tls, TLS_KEY_ENV: str(tmp_path / "gone.pem")})
    with pytest.raises(ValueError, match="tls://"):  # certificates given but a plain-text address
        security_from_environment("tcp://10.0.0.5:8786", tls)
    with pytest.raises(ValueError, match="CNN_LAB_DASK_SCHEDULER"):
        DaskExecutor.from_environment("http://10.0.0.5:8786", {})


def test_over_tls_with_no_allowed_failures_deaths_and_a_lost_scheduler_fail_the_run(tmp_path):
    """A TLS cluster whose scheduler gives up on a task at its first worker death (allowed-failures 0)."""
    tls = make_certificate(tmp_path)
    secured = LocalDaskCluster(
        tmp_path / "cluster", tls=tls, scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    )
    try:
        assert secured.address.startswith("tls://")
        executor = DaskExecutor.from_environment(secured.address, tls)
        registry = JobRegistry(executor, RunStore(tmp_path / "data"))
        first, second = (
            TrainingJob(long_spec(), name, learner=LEARNER, keepalive=watched_by_the_test)
            for name in ("killed run", "orphaned run")
        )
        registry.submit(first)
        registry.submit(second)
        wait_for(lambda: first.progress().batch >= 2 or first.done, 120, "training over TLS")
        assert first.progress().status == "running", first.progress().message + secured.logs()
        ((address, pid),) = secured.worker_pids().items()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: first.done, 15, "the killed job to end")
        print(f"\nworker death with allowed-failures 0: {first.progress().message}")
        assert first.progress().status == "failed" and address in first.progress().message
        assert "this run is lost" in first.progress().message
        # the next job trains on the worker the nanny restarted; then the scheduler dies under it
        wait_for(lambda: second.progress().batch >= 2 or second.done, 120, "the second job to train")
        assert second.progress().status == "running", second.progress().message + secured.logs()
        secured.scheduler.kill()  # SIGKILL: the scheduler process is gone at once
        gone = time.monotonic()
        wait_for(lambda: second.done, 15, "the job to notice the lost scheduler")
        print(f"lost scheduler noticed after {time.monotonic() - gone:.2f} s: {second.progress().message}")
        progress = second.progress()
        assert progress.status == "failed" and second.run is None
        assert f"Dask scheduler at {secured.address}" in progress.message
        wait_for(lambda: registry.running() == registry.waiting() == 0, 15, "the queue's plan to drop the job")
        assert registry.store.runs(LEARNER)[0] == []
        executor.close()
    finally:
        secured.close()


def test_a_worker_without_the_project_on_its_path_gives_a_clear_message(tmp_path):
    bare = LocalDaskCluster(tmp_path / "cluster", project_on_path=False)
    try:
        executor = DaskExecutor(bare.address)
        registry = JobRegistry(executor, RunStore(tmp_path / "data"))
        job = TrainingJob(short_spec(), "misplaced run", learner=LEARNER)
        registry.submit(job)
        assert job.wait(60) and job.progress().status == "failed"
        assert "cannot import this project" in job.progress().message and "PYTHONPATH" in job.progress().message
        executor.close()
    finally:
        bare.close()


def test_the_module_does_not_import_tensorflow():
    probe = (
        "import sys, models.training.executors.dask_cluster\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
