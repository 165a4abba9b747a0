"""Training jobs in worker processes: the registry (cap + queue), progress, Stop, worker deaths, on real data."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from models.design.config import COURSE_CNN, ConfigError
from models.ops.kernels import KERNELS
from models.training.executors import LocalProcessExecutor, executor_from_environment
from models.training.job_protocol import job_threads
from models.training.jobs import JobRegistry, TrainingJob
from models.training.progress import Smoother
from models.training.recipes import PRESETS, RunSpec, TrainConfig, hand_picked_kernels
from models.training.runs import RunStore, comparison_rows
from models.uploaded import store as uploads
from models.uploaded.store import limits
from tests.conftest import DONE, ROOT
from tests.support.pace import batches_done, seconds_per_batch

pytestmark = pytest.mark.training  # trains networks: not in `make test-fast` (pytest.ini)

TINY_CNN = replace(COURSE_CNN, filters=8)


def spec(**changes) -> RunSpec:
    """A run that trains in about a second: 1,024 real images (256 of them validate)."""
    values = dict(
        architecture=None, recipe=TrainConfig(epochs=2, batch_size=64), train_images=1024, validation_split=0.25
    )
    return RunSpec(**{**values, **changes})


def make_registry(tmp_path, max_jobs=1) -> JobRegistry:
    return JobRegistry(LocalProcessExecutor(max_jobs=max_jobs, threads=1), RunStore(tmp_path / "data"))


def run_job(registry, name="test run", **changes) -> TrainingJob:
    job = TrainingJob(spec(**changes), name, learner="learner-a", keepalive=lambda: True)  # watched, as a page does
    registry.submit(job)
    assert job.wait(DONE), f"the job did not end within {DONE:g} s"
    return job


def wait_for(condition, timeout=DONE):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def worker_pids(under: Path) -> set[int]:
    """Process ids of running `python -m models.networks.worker` processes of this test process training into `under`
    (not the workers of another registry in the same process, such as the app's)."""
    found = set()
    for cmdline in os.scandir("/proc"):
        if not cmdline.name.isdigit():
            continue
        try:
            with open(f"/proc/{cmdline.name}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
            with open(f"/proc/{cmdline.name}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        training_here = any(arg.startswith(bytes(under)) for arg in args)
        if b"models.networks.worker" in args and parent == os.getpid() and training_here:
            found.add(int(cmdline.name))
    return found


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run of a small CNN (8 filters), and its registry, shared by the tests that only read it."""
    registry = make_registry(tmp_path_factory.mktemp("jobs"))
    return registry, run_job(registry, architecture=TINY_CNN)


def test_job_trains_in_another_process_and_its_run_is_saved(fashion, finished):
    registry, job = finished
    progress = job.progress()
    assert progress.status == "finished" and progress.fraction == 1.0 and progress.images_per_second > 0
    assert progress.steps == 12 and len(progress.batch_curve) == 24  # 768 training images / 64, two epochs
    assert [round(x, 3) for x, _, _ in progress.batch_curve[:2]] == [round(1 / 12, 3), round(2 / 12, 3)]
    run = job.run
    assert run.name == "test run" and run.seconds > 0 and run.stop_reason is None
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(run.history["loss"]) == 2
    assert run.history == progress.history
    np.testing.assert_allclose(np.array(run.batch_curve), np.array(progress.batch_curve), rtol=1e-6)
    assert run.config["train_images"] == 768 and run.config["validation_images"] == 256
    assert run.config["parameters"] == run.model.count_params()
    (x_test, y_test) = fashion[1]
    loss, accuracy = run.model.evaluate(x_test[..., None] / 255.0, y_test, verbose=0)
    assert run.test_accuracy == pytest.approx(accuracy, abs=1e-6) and run.test_loss == pytest.approx(loss, rel=1e-5)
    assert run.test_accuracy > 0.3  # chance is 0.1
    (saved,), notices = registry.store.runs("learner-a")
    assert saved.folder == run.folder and notices == [] and registry.store.runs("learner-b") == ([], [])
    assert (
        "tensorflow"
        not in subprocess.run(  # the server side of a job never imports TensorFlow
            [
                sys.executable,
                "-c",
                "import sys, models.training.jobs, models.training.runs, models.training.executors,"
                " components.training_jobs;"
                "print(' '.join(sys.modules))",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    )


def test_timeline_matches_the_model_at_the_end(fashion, finished):
    run = finished[1].run
    timeline = run.timeline
    assert timeline.kernels.shape == (3, 3, 3, 8) and timeline.feature_maps.shape == (3, 26, 26, 8)
    conv1 = run.model.get_layer("conv1")
    np.testing.assert_array_equal(timeline.kernels[-1], conv1.kernel.numpy()[:, :, 0, :])
    assert not np.allclose(timeline.kernels[0], timeline.kernels[-1])
    first_layer = keras.Model(run.model.inputs, conv1.output)
    expected = first_layer.predict(timeline.sample[None, :, :, None] / 255.0, verbose=0)[0]
    np.testing.assert_allclose(timeline.feature_maps[-1], expected, rtol=1e-5, atol=1e-6)
    assert timeline.sample_label == fashion[1][1][0]


def test_downloads_round_trip(fashion, finished, tmp_path):
    run = finished[1].run
    path = tmp_path / "run.keras"
    path.write_bytes(run.keras_bytes())
    loaded = keras.models.load_model(path, safe_mode=True)
    images = fashion[1][0][:8, :, :, None] / 255.0
    np.testing.assert_allclose(loaded.predict(images, verbose=0), run.model.predict(images, verbose=0), rtol=1e-6)
    lines = run.history_csv().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(lines) == 3
    assert float(lines[2].split(",")[2]) == run.history["loss"][1]


def test_the_worker_is_niced_and_thread_limited(tmp_path):
    registry = make_registry(tmp_path)
    job = TrainingJob(
        spec(recipe=TrainConfig(epochs=100, batch_size=32), train_images=4096),
        "long",
        learner="learner-a",
        keepalive=lambda: True,
    )
    registry.submit(job)
    wait_for(lambda: job.progress().status == "running" and worker_pids(tmp_path))
    (pid,) = worker_pids(tmp_path)
    with open(f"/proc/{pid}/stat") as handle:
        nice = int(handle.read().rsplit(")", 1)[1].split()[16])
    with open(f"/proc/{pid}/environ", "rb") as handle:
        environ = dict(item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item)
    assert nice == os.nice(0) + 10
    assert environ[b"TF_NUM_INTRAOP_THREADS"] == b"1" and environ[b"TF_NUM_INTEROP_THREADS"] == b"1"
    job.stop()
    assert job.wait(DONE)


def test_stop_ends_training_within_a_second_and_keeps_the_weights(tmp_path):
    registry = make_registry(tmp_path)
    job = TrainingJob(
        spec(architecture=TINY_CNN, recipe=TrainConfig(epochs=50, batch_size=32), train_images=2048),
        "long",
        learner="learner-a",
        keepalive=lambda: True,
    )
    registry.submit(job)
    wait_for(lambda: job.progress().batch >= 3)
    per_batch = seconds_per_batch(job)  # the worker's pace now: a loaded machine slows the batch a Stop waits for
    batches = batches_done(job)
    started = time.monotonic()
    job.stop()
    wait_for(lambda: job.progress().status != "running")
    latency = time.monotonic() - started
    print(f"\nStop latency (stop() to the worker's 'evaluating' here): {latency:.3f} s; a batch {per_batch:.3f} s")
    assert latency < 1.0 + 3 * per_batch  # within a second on a quiet machine, where a batch takes milliseconds
    assert job.wait(DONE) and job.progress().status == "stopped"
    run = job.run
    assert run.stop_reason == "stopped by request" and run.epochs_done < 50
    assert len(run.batch_curve) >= batches  # the curve so far is kept
    trained = run.model.get_layer("conv1").kernel.numpy()[:, :, 0, :]
    assert not np.allclose(trained, run.timeline.kernels[0])  # the weights learned so far are kept
    assert run.test_accuracy is not None


def test_stop_at_accuracy_finishes_after_the_epoch_that_reaches_it(tmp_path):
    job = run_job(make_registry(tmp_path), recipe=TrainConfig(epochs=5, batch_size=64, stop_at_accuracy=0.2))
    assert job.progress().status == "finished" and len(job.run.history["loss"]) == 1
    assert "reached 0.2000" in job.run.stop_reason


def test_registry_runs_one_job_at_a_time_in_order_and_shows_queue_positions(tmp_path):
    registry = make_registry(tmp_path, max_jobs=1)
    # the test watches every job, as a learner's open page does: a loaded machine must not orphan the last one
    queued = [TrainingJob(spec(), f"job {i}", learner="learner-a", keepalive=lambda: True) for i in range(3)]
    for job in queued:
        registry.submit(job)
    wait_for(lambda: queued[0].progress().status in ("starting", "running"))
    assert [job.progress().queue_position for job in queued] == [0, 1, 2]
    assert queued[1].progress().status == "queued" and queued[1].progress().jobs_running == 1
    assert registry.jobs_for("learner-a") == queued and registry.jobs_for("learner-b") == []
    most_running = 0
    while not all(job.done for job in queued):
        most_running = max(most_running, registry.running(), len(worker_pids(tmp_path)))
        time.sleep(0.01)
    assert most_running == 1 and registry.running() == registry.waiting() == 0
    assert [job.run.name for job in queued] == ["job 0", "job 1", "job 2"]
    assert [run.name for run in registry.store.runs("learner-a")[0]] == ["job 0", "job 1", "job 2"]
    assert registry.collect("learner-a") == queued and registry.jobs_for("learner-a") == []


def test_cancelling_a_queued_job_leaves_the_queue(tmp_path):
    registry = make_registry(tmp_path, max_jobs=1)
    first, second, third = (TrainingJob(spec(), name, learner="learner-a", keepalive=lambda: True) for name in "abc")
    for job in (first, second, third):
        registry.submit(job)
    wait_for(lambda: first.progress().status in ("starting", "running"))
    second.stop()
    wait_for(lambda: second.done, timeout=5)
    assert second.progress().status == "stopped" and second.run is None
    assert third.progress().queue_position in (0, 1)
    assert third.wait(DONE) and third.progress().status == "finished"


def test_two_slots_train_two_jobs_at_once(tmp_path):
    registry = make_registry(tmp_path, max_jobs=2)
    pair = [  # two learners (one learner trains one job at a time), two seeds (identical runs train once)
        TrainingJob(
            spec(recipe=TrainConfig(epochs=4, batch_size=64, seed=seed)), name, learner=name, keepalive=lambda: True
        )
        for seed, name in enumerate("ab")
    ]
    for job in pair:
        registry.submit(job)
    most_running = 0
    while not all(job.done for job in pair):
        most_running = max(most_running, len(worker_pids(tmp_path)))
        time.sleep(0.01)
    assert most_running == 2 and all(job.progress().status == "finished" for job in pair)


def test_cap_and_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    default = executor_from_environment({})
    assert (default.max_jobs, default.threads) == (3, 1)  # cores - 1 jobs, one core left for the web server
    three = executor_from_environment({"CNN_LAB_MAX_JOBS": " 1 "})
    assert (three.max_jobs, three.threads) == (1, 3)
    assert executor_from_environment({"CNN_LAB_JOB_THREADS": "2"}).threads == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert (executor_from_environment({}).max_jobs, executor_from_environment({}).threads) == (1, 1)
    for name in ("CNN_LAB_MAX_JOBS", "CNN_LAB_JOB_THREADS"):
        for bad in ("0", "two", "-1"):
            with pytest.raises(ValueError, match=f"{name} must be a whole number"):
                executor_from_environment({name: bad})


def test_every_reader_of_a_numeric_setting_gives_the_same_message_for_a_bad_value():
    """The worker, the upload check and a Dask worker read the thread count with job_threads; the upload limits
    with the same parser as the executor's settings."""
    assert job_threads({}) == 1 and job_threads({"CNN_LAB_JOB_THREADS": " 3 "}) == 3
    assert limits({}) == (uploads.MEMORY_MB, uploads.CPU_SECONDS, uploads.WALL_SECONDS)
    assert limits({uploads.MEMORY_MB_ENV: "512"})[0] == 512
    for bad in ("0", "two", "-1", "1.5"):
        with pytest.raises(ValueError, match=f"CNN_LAB_JOB_THREADS must be a whole number of at least 1, got '{bad}'"):
            job_threads({"CNN_LAB_JOB_THREADS": bad})
        with pytest.raises(ValueError, match=f"{uploads.WALL_SECONDS_ENV} must be a whole number of at least 1"):
            limits({uploads.WALL_SECONDS_ENV: bad})


def test_an_unwatched_job_stops_itself_and_keeps_its_run(tmp_path):
    registry = make_registry(tmp_path)
    job = TrainingJob(
        spec(recipe=TrainConfig(epochs=100, batch_size=64)), "orphan", learner="learner-a", orphan_after=0.3
    )
    registry.submit(job)
    assert job.wait(DONE)
    progress = job.progress()
    assert progress.status == "stopped" and "nobody watched this run for 0.3 s" in progress.message
    if job.run is None:  # stopped while its worker started (the usual case, 0.3 s): nothing kept, and it says so
        assert progress.message.startswith("Stopped before it trained: nothing kept (")
    else:
        assert job.run.epochs_done < 100 and "nobody watched" in job.run.stop_reason


def test_heartbeats_and_a_live_session_keep_a_job_alive(tmp_path):
    registry = make_registry(tmp_path, max_jobs=2)
    short = spec(recipe=TrainConfig(epochs=3, batch_size=64))
    # 2 s, not less: a loaded machine can pause this process (and its heartbeat thread) for a few tenths of a second;
    # the job still lives longer than that (its worker alone takes seconds to import TensorFlow)
    watched = TrainingJob(short, "watched", learner="x", orphan_after=2.0)
    other = spec(recipe=TrainConfig(epochs=3, batch_size=64, seed=1))
    connected = TrainingJob(other, "connected", learner="y", orphan_after=0.3, keepalive=lambda: True)
    registry.submit(watched)
    registry.submit(connected)
    stop_beating = threading.Event()

    def beat():
        while not stop_beating.is_set():
            watched.heartbeat()
            time.sleep(0.05)

    threading.Thread(target=beat, daemon=True).start()
    try:
        assert watched.wait(DONE) and connected.wait(DONE)
    finally:
        stop_beating.set()
    assert watched.progress().status == connected.progress().status == "finished"


def test_an_abandoned_queued_job_leaves_the_queue(tmp_path):
    registry = make_registry(tmp_path, max_jobs=1)
    busy = TrainingJob(spec(recipe=TrainConfig(epochs=100, batch_size=64)), "busy", learner="x", keepalive=lambda: True)
    waiting = TrainingJob(spec(), "waiting", learner="x", orphan_after=0.2)
    registry.submit(busy)
    registry.submit(waiting)
    assert waiting.wait(10) and waiting.progress().status == "stopped" and registry.waiting() == 0
    busy.stop()
    assert busy.wait(DONE)


def test_a_failing_job_reports_a_message_and_frees_its_slot(tmp_path):
    registry = make_registry(tmp_path)
    job = TrainingJob(spec(), "broken", learner="x", sample_index=10**6)  # no such test image: the worker raises
    registry.submit(job)
    assert job.wait(DONE)
    assert job.progress().status == "failed" and job.run is None
    assert job.progress().message.startswith("Training failed: IndexError: index 1000000 is out of bounds")
    assert registry.running() == 0 and not list((tmp_path / "data" / "staging").iterdir())
    after = run_job(registry)  # the queue goes on
    assert after.progress().status == "finished"


def test_a_killed_worker_marks_its_run_failed_and_the_queue_goes_on(tmp_path):
    registry = make_registry(tmp_path)
    doomed = TrainingJob(
        spec(recipe=TrainConfig(epochs=100, batch_size=32), train_images=4096),
        "doomed",
        learner="x",
        keepalive=lambda: True,
    )
    next_job = TrainingJob(spec(), "next", learner="x", keepalive=lambda: True)  # watched while it waits
    registry.submit(doomed)
    registry.submit(next_job)
    wait_for(lambda: doomed.progress().batch >= 2)
    (pid,) = worker_pids(tmp_path)
    os.kill(pid, signal.SIGKILL)
    assert doomed.wait(DONE)
    progress = doomed.progress()
    assert progress.status == "failed" and doomed.run is None
    assert progress.message == (
        "The training process was killed by SIGKILL (the machine may have run out of "
        "memory); this run is lost. Start it again."
    )
    assert next_job.wait(DONE) and next_job.progress().status == "finished"


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(train_images=60_001), ValueError, "Training-set size must be 100-60,000"),
        (dict(validation_split=0.6), ValueError, "Validation split must be 0-0.5"),
        (dict(recipe=TrainConfig(epochs=0)), ValueError, "Epochs must be 1-100"),
        (dict(recipe=TrainConfig(optimizer="magic")), ValueError, "Unknown optimizer 'magic'"),
        (dict(architecture=replace(COURSE_CNN, conv_blocks=4)), ConfigError, "conv4"),
        (dict(architecture=COURSE_CNN, hand_picked=True), ConfigError, "needs a CNN with 3x3 kernels and 16 filters"),
    ],
)
def test_settings_that_cannot_train_are_refused_with_a_clear_message(changes, error, message):
    with pytest.raises(error, match=message):
        TrainingJob(spec(**changes), "bad", learner="x")


def test_hand_picked_first_layer_is_the_classic_kernels_and_stays_frozen(tmp_path):
    names, kernels = hand_picked_kernels()
    assert kernels.shape == (3, 3, 1, len(names)) and len(set(names)) == len(names) == 16
    np.testing.assert_allclose(np.linalg.norm(kernels.reshape(9, -1), axis=0), 1.0, rtol=1e-6)
    sobel = KERNELS["Sobel: vertical edges"].weights
    np.testing.assert_allclose(
        kernels[:, :, 0, names.index("Sobel: vertical edges")], sobel / np.linalg.norm(sobel), rtol=1e-6
    )
    np.testing.assert_allclose(
        kernels[:, :, 0, names.index("Sobel: vertical edges, turned 180\u00b0")],
        -sobel / np.linalg.norm(sobel),
        rtol=1e-6,
    )
    hand_picked, learned = PRESETS["Hand-picked vs learned"].runs(spec(architecture=COURSE_CNN))
    assert hand_picked.hand_picked and not learned.hand_picked and hand_picked.architecture == learned.architecture
    run = run_job(make_registry(tmp_path), architecture=hand_picked.architecture, hand_picked=True).run
    conv1 = run.model.get_layer("conv1")
    assert not conv1.trainable
    np.testing.assert_array_equal(conv1.kernel.numpy(), kernels)
    assert np.all(run.timeline.kernels == kernels[:, :, 0, :]) and run.config["first_layer"] == "hand-picked, frozen"


def test_hand_picked_preset_says_how_many_kernels_are_classic_and_how_many_turned():
    names, _ = hand_picked_kernels()
    turned = [name for name in names if name.endswith(", turned 180\u00b0")]
    classic = [name for name in names if name not in turned]
    assert {name.removesuffix(", turned 180\u00b0") for name in turned} <= set(classic)  # "5 of them"
    description = PRESETS["Hand-picked vs learned"].description
    assert re.findall(r"\d+", description) == [str(len(names)), str(len(classic)), str(len(turned)), "180"]
    assert f"{len(classic)} classic kernels" in description and f"{len(turned)} of them turned 180" in description
    assert (len(classic), len(turned)) == (11, 5)


def test_smoother_recovers_each_batch_from_keras_running_means():
    smoother = Smoother(steps=3)
    batch_losses, sizes = [1.0, 2.0, 4.0], [10, 10, 5]
    seen, total, smoothed = 0, 0.0, []
    for batch, (loss, size) in enumerate(zip(batch_losses, sizes, strict=True)):
        seen, total = seen + size, total + loss * size
        smoothed.append(smoother.add(batch, seen, total / seen, 0.5)[0])
    beta = 1 - 1 / 10
    expected, weight, ema = [], 0.0, 0.0
    for loss in batch_losses:
        ema, weight = beta * ema + (1 - beta) * loss, beta * weight + (1 - beta)
        expected.append(ema / weight)
    assert smoothed == pytest.approx(expected) and smoothed[0] == pytest.approx(1.0)
    restarted = (beta * ema + (1 - beta) * 3.0) / (beta * weight + 1 - beta)
    assert smoother.add(0, 10, 3.0, 0.5)[0] == pytest.approx(restarted)


def test_presets_build_runs_that_can_train_and_cross_processes_intact():
    base = spec(architecture=COURSE_CNN, recipe=TrainConfig(epochs=3, seed=7))
    for preset in PRESETS.values():
        for run in preset.runs(base):
            run.check(60_000)
            assert run.recipe.seed == 7 and RunSpec.from_payload(run.to_payload()) == run
    filters = [run.architecture.filters for run in PRESETS["16 vs 32 vs 64 filters"].runs(base)]
    assert filters == [16, 32, 64]
    assert [r.architecture for r in PRESETS["No conv layers"].runs(base)] == [None, COURSE_CNN]
    overfit = PRESETS["More epochs: overfitting"].runs(base)[0]
    assert overfit.recipe.epochs == 20 and overfit.validation_split > 0


def test_comparison_rows_and_names(finished):
    run = finished[1].run
    (row,) = comparison_rows([run])
    assert row["run"] == "test run" and row["epochs"] == "2" and row["test acc"] == run.test_accuracy
    assert row["val acc"] == run.history["val_accuracy"][-1] and row["ended"] == "all epochs"
    assert spec().title() == "dense baseline, 2 epochs"
    assert spec(architecture=TINY_CNN).model_label() == "CNN with 8 filters"
    assert spec(architecture=COURSE_CNN, recipe=TrainConfig(epochs=1)).title() == "course CNN, 1 epoch"
    assert spec(recipe=TrainConfig(epochs=3)).title(1.45) == "dense baseline, 1.45 of 3 epochs"  # not 1.44
    assert spec(recipe=TrainConfig(epochs=3)).title(1.999) == "dense baseline, 1.99 of 3 epochs"  # rounded down
    assert spec(recipe=TrainConfig(epochs=3)).title(3.0) == "dense baseline, 3 epochs"
    assert spec(recipe=TrainConfig(epochs=1)).title(0.5) == "dense baseline, 0.5 of 1 epoch"


def test_a_run_stopped_mid_epoch_reports_the_epochs_it_trained_everywhere(tmp_path):
    from components.charts.training import curves_figure, overlay_figure
    from components.training_jobs import curves_caption, duration, headline_text

    registry = make_registry(tmp_path)
    long = spec(architecture=TINY_CNN, recipe=TrainConfig(epochs=20, batch_size=32), train_images=16_384)
    job = TrainingJob(long, f"Run 4: {long.title()}", label="Run 4", learner="learner-a", keepalive=lambda: True)
    assert job.name == "Run 4: CNN with 8 filters, 20 epochs"
    registry.submit(job)
    wait_for(lambda: job.done or job.progress().epoch >= 1 and job.progress().batch >= 5, timeout=DONE)
    job.stop()  # part-way through an epoch after the first
    assert job.wait(DONE) and job.progress().status == "stopped", job.progress().message
    run = job.run
    steps = long.steps_per_epoch()  # 12,288 images / 32 = 384 batches, each one a point of the batch curve
    assert steps == 384 and len(run.batch_curve) == round(run.epochs_done * steps)
    assert run.epochs_done == pytest.approx(run.batch_curve[-1][0]) and 1 < run.epochs_done < 20
    assert run.stopped_mid_epoch and len(run.history["loss"]) == np.ceil(run.epochs_done)  # Keras logs the part
    shown = f"{np.floor(run.epochs_done * 100) / 100:g}"  # e.g. 1.45, rounded down: never more than trained
    assert run.name == f"Run 4: CNN with 8 filters, {shown} of 20 epochs"
    assert comparison_rows([run])[0]["epochs"] == f"{shown} of 20"
    assert f"after {shown} of 20 epochs in" in headline_text(run)
    waited = registry.waited(job)  # the learner's wait: request to result, start-up and test measurement included
    assert waited is not None and waited >= run.seconds
    assert f"in {duration(waited)} from your click to this result; training took {duration(run.seconds)}" in (
        headline_text(run, waited)
    )
    assert f"stopped after {shown} of 20 epochs: its last dots, at {shown}, cover only" in curves_caption(run)
    whole = [float(e) for e in range(1, len(run.history["loss"]))]
    epoch_dots = curves_figure(run.batch_curve, run.history, epochs_done=run.epochs_done).data[1]
    assert list(epoch_dots.x) == [*whole, run.epochs_done]
    overlay = overlay_figure([(run.name, run.history, run.epochs_done)])
    assert all(list(trace.x) == [*whole, run.epochs_done] for trace in overlay.data)
    (saved,), _ = RunStore(tmp_path / "data").runs("learner-a")  # as read back after a server restart
    assert (saved.name, saved.epochs_done, saved.epochs_text) == (run.name, run.epochs_done, f"{shown} of 20 epochs")


def test_the_worker_saves_inspects_evaluation_of_the_run(fashion, finished):
    """The worker runs the test-set pass Inspect shows (probabilities and embedding), so the web server need not."""
    from models.explain import inspection as ins
    from models.inputs.images import fingerprint

    run = finished[1].run
    x_test, y_test = fashion[1]
    saved = ins.read_evaluation(run.folder / "evaluation.npz", ins.weights_key(run.model), fingerprint(x_test))
    assert saved is not None and saved.saved
    fresh = ins.evaluate(run.model, x_test, y_test)
    np.testing.assert_allclose(saved.probabilities, fresh.probabilities, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(saved.embedding, fresh.embedding, rtol=1e-4, atol=1e-5)
    assert saved.accuracy == pytest.approx(run.test_accuracy, abs=2e-4)


class StoppedWhileStarting:
    """An executor whose worker was stopped before its first batch: it leaves what models.networks.worker leaves
    then."""

    max_jobs = 1

    def start(self, payload, emit, folder):
        from models.networks.worker import nothing_trained

        nothing_trained(folder, "stopped by request", emit)
        return self

    def stop(self, reason):
        pass

    def wait(self, timeout=None):
        return True


def test_a_run_stopped_before_its_first_batch_keeps_nothing_heavy(tmp_path):
    from models.networks.worker import run_job as train_in_this_process
    from models.training.job_protocol import NOTHING_KEPT, UNTRAINED_FILE, StopFlag

    stop = StopFlag()
    stop.set()  # Stop pressed while the worker was starting
    events: list[dict] = []
    train_in_this_process({"spec": spec().to_payload(), "name": "n"}, events.append, stop, tmp_path / "run")
    assert [p.name for p in (tmp_path / "run").iterdir()] == [UNTRAINED_FILE]
    assert events[-1] == {"type": "done", "stop_reason": "stopped by request"}

    registry = JobRegistry(StoppedWhileStarting(), RunStore(tmp_path / "data"))
    job = TrainingJob(spec(), "stopped early", learner="learner-a")
    registry.submit(job)
    assert job.wait(30) and job.run is None
    assert (job.progress().status, job.progress().message) == ("stopped", NOTHING_KEPT)
    assert registry.store.runs("learner-a") == ([], [])
    data = tmp_path / "data"
    assert not [p for p in data.rglob("*") if p.is_file() and p.suffix in (".keras", ".npz", ".json")]


def test_a_stop_is_reported_right_after_the_batch_it_ends_before_the_closing_validation(tmp_path):
    """The worker says `evaluating` (training over) as soon as the batch a Stop ends has run: the closing
    validation pass of that epoch (most of a Stop's latency on a busy machine) comes after it."""
    from models.networks.worker import run_job as train_in_this_process
    from models.training.job_protocol import StopFlag

    stop, events = StopFlag(), []

    def emit(event: dict) -> None:
        events.append(event)
        if event["type"] == "progress" and event["batch"] >= 2:
            stop.set()  # pressed while this batch's hook runs: training ends after it

    payload = {"spec": spec(architecture=TINY_CNN, recipe=TrainConfig(epochs=5, batch_size=32)).to_payload()}
    train_in_this_process({**payload, "name": "n"}, emit, stop, tmp_path / "run")
    kinds = [event["type"] if event["type"] != "status" else event["status"] for event in events]
    stopped_at = max(i for i, event in enumerate(events) if event["type"] == "progress")
    assert events[stopped_at]["batch"] >= 2 and "evaluating" not in kinds[:stopped_at]
    assert kinds[stopped_at + 1 :] == ["evaluating", "epoch", "done"]
    assert events[-1]["stop_reason"] == "stopped by request"


def test_the_worker_sends_progress_five_times_a_second_and_every_epochs_last_batch(monkeypatch):
    """ProgressReporter's rule, on a made-up clock: batches every 62.5 ms give one event per 0.2 s (every 4th
    batch), plus each epoch's last batch; batches slower than 0.2 s give one event each."""
    from models.training import progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    events: list[dict] = []
    reporter = progress.ProgressReporter(events.append, images=40 * 32, batch_size=32)  # 40 batches an epoch
    for epoch in range(2):
        for batch in range(40):
            clock[0] += 0.0625  # exact in binary
            reporter.on_batch(epoch, batch, {"loss": 1.0, "accuracy": 0.5})
    sent = [(event["epoch"], event["batch"]) for event in events]
    assert sent == [(0, 1), *((0, b) for b in range(5, 38, 4)), (0, 40), *((1, b) for b in range(4, 41, 4))]
    events.clear()
    for batch in range(3):
        clock[0] += 0.3
        reporter.on_batch(2, batch, {"loss": 1.0, "accuracy": 0.5})
    assert [event["batch"] for event in events] == [1, 2, 3]
