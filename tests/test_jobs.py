"""The background training job, its registry (cap + queue), records and presets, on real Fashion-MNIST."""

import threading
import time
from dataclasses import replace

import keras
import numpy as np
import pytest

from components.filters import KERNELS
from models import jobs as jobs_module
from models.config import COURSE_CNN, ConfigError
from models.jobs import (PRESETS, JobRegistry, RunSpec, TrainingJob, _Smoother, comparison_rows,
                         hand_picked_kernels)
from models.train import TrainConfig

TINY_CNN = replace(COURSE_CNN, filters=8)


def spec(**changes) -> RunSpec:
    """A run that takes about a second: 1,024 real images (256 of them validate)."""
    values = dict(architecture=None, recipe=TrainConfig(epochs=2, batch_size=64), train_images=1024,
                  validation_split=0.25)
    return RunSpec(**{**values, **changes})


def run_job(fashion, registry=None, **changes) -> TrainingJob:
    job = TrainingJob(spec(**changes), "test run", fashion)
    (registry or JobRegistry()).submit(job)
    assert job.wait(60), "the job did not end within 60 s"
    return job


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def cnn_job(fashion):
    """One finished run of a small CNN (8 filters), shared by the tests that only read it."""
    return run_job(fashion, architecture=TINY_CNN)


def test_job_reports_progress_and_records_the_run(fashion, cnn_job):
    job = cnn_job
    progress = job.progress()
    assert progress.status == "finished" and progress.fraction == 1.0 and progress.images_per_second > 0
    assert progress.steps == 12 and len(progress.batch_curve) == 24  # 768 training images / 64, two epochs
    assert [round(x, 3) for x, _, _ in progress.batch_curve[:2]] == [round(1 / 12, 3), round(2 / 12, 3)]
    run = job.run
    assert run.name == "test run" and run.seconds > 0 and run.stop_reason is None
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(run.history["loss"]) == 2
    assert run.history == progress.history
    assert run.config["train_images"] == 768 and run.config["validation_images"] == 256
    assert run.config["parameters"] == run.model.count_params()
    (x_test, y_test) = fashion[1]
    loss, accuracy = run.model.evaluate(x_test[..., None] / 255.0, y_test, verbose=0)
    assert run.test_accuracy == pytest.approx(accuracy, abs=1e-6) and run.test_loss == pytest.approx(loss, rel=1e-5)
    assert run.test_accuracy > 0.3  # chance is 0.1


def test_timeline_matches_the_model_at_the_end(fashion, cnn_job):
    run = cnn_job.run
    timeline = run.timeline
    assert timeline.kernels.shape == (3, 3, 3, 8) and timeline.feature_maps.shape == (3, 26, 26, 8)
    conv1 = run.model.get_layer("conv1")
    np.testing.assert_array_equal(timeline.kernels[-1], conv1.kernel.numpy()[:, :, 0, :])
    assert not np.allclose(timeline.kernels[0], timeline.kernels[-1])
    first_layer = keras.Model(run.model.inputs, conv1.output)
    expected = first_layer.predict(timeline.sample[None, :, :, None] / 255.0, verbose=0)[0]
    np.testing.assert_allclose(timeline.feature_maps[-1], expected, rtol=1e-5, atol=1e-6)
    assert timeline.sample_label == fashion[1][1][0]


def test_downloads_round_trip(fashion, cnn_job, tmp_path):
    run = cnn_job.run
    path = tmp_path / "run.keras"
    path.write_bytes(run.keras_bytes())
    loaded = keras.models.load_model(path, safe_mode=True)
    images = fashion[1][0][:8, :, :, None] / 255.0
    np.testing.assert_allclose(loaded.predict(images, verbose=0), run.model.predict(images, verbose=0), rtol=1e-6)
    lines = run.history_csv().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(lines) == 3
    assert float(lines[2].split(",")[2]) == run.history["loss"][1]


def test_stop_ends_training_within_a_second_and_keeps_the_weights(fashion):
    job = TrainingJob(spec(architecture=TINY_CNN, recipe=TrainConfig(epochs=50, batch_size=32),
                           train_images=2048), "long", fashion)
    JobRegistry().submit(job)
    wait_for(lambda: job.progress().batch >= 3)
    started = time.monotonic()
    job.stop()
    wait_for(lambda: job.progress().status != "running", timeout=5)
    assert time.monotonic() - started < 1.0
    assert job.wait(30) and job.progress().status == "stopped"
    assert job.run.stop_reason == "stopped by request" and len(job.run.history.get("loss", [])) < 50
    trained = job.run.model.get_layer("conv1").kernel.numpy()[:, :, 0, :]
    assert not np.allclose(trained, job.run.timeline.kernels[0])  # the weights learned so far are kept
    assert job.run.test_accuracy is not None


def test_stop_at_accuracy_finishes_after_the_epoch_that_reaches_it(fashion):
    job = run_job(fashion, recipe=TrainConfig(epochs=5, batch_size=64, stop_at_accuracy=0.2))
    assert job.progress().status == "finished" and len(job.run.history["loss"]) == 1
    assert "reached 0.2000" in job.run.stop_reason


def test_registry_runs_one_job_at_a_time_in_order_and_shows_queue_positions(fashion):
    registry = JobRegistry(max_jobs=1)
    queued = [TrainingJob(spec(), f"job {i}", fashion) for i in range(3)]
    for job in queued:
        registry.submit(job)
    wait_for(lambda: queued[0].progress().status == "running")
    assert [job.progress().queue_position for job in queued] == [0, 1, 2]
    assert queued[1].progress().status == "queued" and queued[1].progress().jobs_running == 1
    most_running = 0
    while not all(job.done for job in queued):
        most_running = max(most_running, registry.running())
        time.sleep(0.005)
    assert most_running == 1 and registry.running() == registry.waiting() == 0
    started = [job._started for job in queued]
    assert started == sorted(started) and all(job.progress().status == "finished" for job in queued)


def test_cancelling_a_queued_job_leaves_the_queue(fashion):
    registry = JobRegistry(max_jobs=1)
    first, second, third = (TrainingJob(spec(), name, fashion) for name in "abc")
    for job in (first, second, third):
        registry.submit(job)
    wait_for(lambda: first.progress().status == "running")
    second.stop()
    wait_for(lambda: second.done, timeout=5)
    assert second.progress().status == "stopped" and second.run is None
    assert third.progress().queue_position in (0, 1)
    assert third.wait(60) and third.progress().status == "finished"


def test_two_slots_train_two_jobs_at_once(fashion):
    registry = JobRegistry(max_jobs=2)
    pair = [TrainingJob(spec(recipe=TrainConfig(epochs=4, batch_size=64)), name, fashion) for name in "ab"]
    for job in pair:
        registry.submit(job)
    most_running = 0
    while not all(job.done for job in pair):
        most_running = max(most_running, registry.running())
        time.sleep(0.005)
    assert most_running == 2


def test_cap_comes_from_the_environment():
    assert JobRegistry.from_environment({}).max_jobs == 1
    assert JobRegistry.from_environment({"CNN_LAB_MAX_JOBS": " 3 "}).max_jobs == 3
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match="CNN_LAB_MAX_JOBS must be a whole number"):
            JobRegistry.from_environment({"CNN_LAB_MAX_JOBS": bad})


def test_an_unwatched_job_stops_itself(fashion):
    job = TrainingJob(spec(recipe=TrainConfig(epochs=100, batch_size=64)), "orphan", fashion, orphan_after=0.3)
    JobRegistry().submit(job)
    assert job.wait(30)
    progress = job.progress()
    assert progress.status == "stopped" and "nobody watched this run for 0.3 s" in progress.message
    assert len(job.run.history.get("loss", [])) < 100 and job.run.test_accuracy is None


def test_heartbeats_and_a_live_session_keep_a_job_alive(fashion):
    watched = TrainingJob(spec(recipe=TrainConfig(epochs=6, batch_size=64)), "watched", fashion, orphan_after=0.3)
    connected = TrainingJob(spec(recipe=TrainConfig(epochs=6, batch_size=64)), "connected", fashion,
                            orphan_after=0.3, keepalive=lambda: True)
    registry = JobRegistry(max_jobs=2)
    registry.submit(watched)
    registry.submit(connected)
    stop_beating = threading.Event()

    def beat():
        while not stop_beating.is_set():
            watched.heartbeat()
            time.sleep(0.05)

    threading.Thread(target=beat, daemon=True).start()
    try:
        assert watched.wait(60) and connected.wait(60)
    finally:
        stop_beating.set()
    assert watched.progress().status == connected.progress().status == "finished"


def test_an_abandoned_queued_job_leaves_the_queue(fashion):
    registry = JobRegistry(max_jobs=1)
    busy = TrainingJob(spec(recipe=TrainConfig(epochs=100, batch_size=64)), "busy", fashion)
    waiting = TrainingJob(spec(), "waiting", fashion, orphan_after=0.2)
    registry.submit(busy)
    registry.submit(waiting)
    assert waiting.wait(10) and waiting.progress().status == "stopped" and registry.waiting() == 0
    busy.stop()
    assert busy.wait(30)


def test_a_failing_job_reports_a_message_and_frees_its_slot(fashion, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(jobs_module, "train", broken)
    registry = JobRegistry()
    failed = run_job(fashion, registry)
    assert failed.progress().status == "failed" and failed.run is None
    assert failed.progress().message == "Training failed: RuntimeError: out of memory"
    assert registry.running() == 0


@pytest.mark.parametrize("changes, error, message", [
    (dict(train_images=60_001), ValueError, "Training-set size must be 100-60,000"),
    (dict(validation_split=0.6), ValueError, "Validation split must be 0-0.5"),
    (dict(recipe=TrainConfig(epochs=0)), ValueError, "Epochs must be 1-100"),
    (dict(recipe=TrainConfig(optimizer="magic")), ValueError, "Unknown optimizer 'magic'"),
    (dict(architecture=replace(COURSE_CNN, conv_blocks=4)), ConfigError, "conv4"),
    (dict(architecture=COURSE_CNN, hand_picked=True), ConfigError, "needs a CNN with 3x3 kernels and 16 filters"),
])
def test_settings_that_cannot_train_are_refused_with_a_clear_message(fashion, changes, error, message):
    with pytest.raises(error, match=message):
        TrainingJob(spec(**changes), "bad", fashion)


def test_hand_picked_first_layer_is_the_classic_kernels_and_stays_frozen(fashion):
    names, kernels = hand_picked_kernels()
    assert kernels.shape == (3, 3, 1, len(names)) and len(set(names)) == len(names) == 16
    np.testing.assert_allclose(np.linalg.norm(kernels.reshape(9, -1), axis=0), 1.0, rtol=1e-6)
    sobel = KERNELS["Sobel: vertical edges"].weights
    np.testing.assert_allclose(kernels[:, :, 0, names.index("Sobel: vertical edges")], sobel / np.linalg.norm(sobel),
                               rtol=1e-6)
    np.testing.assert_allclose(kernels[:, :, 0, names.index("Sobel: vertical edges, turned 180\u00b0")],
                               -sobel / np.linalg.norm(sobel), rtol=1e-6)
    hand_picked, learned = PRESETS["Hand-picked vs learned"].runs(spec(architecture=COURSE_CNN))
    assert hand_picked.hand_picked and not learned.hand_picked and hand_picked.architecture == learned.architecture
    run = run_job(fashion, architecture=hand_picked.architecture, hand_picked=True).run
    conv1 = run.model.get_layer("conv1")
    assert not conv1.trainable
    np.testing.assert_array_equal(conv1.kernel.numpy(), kernels)
    assert np.all(run.timeline.kernels == kernels[:, :, 0, :]) and run.config["first_layer"] == "hand-picked, frozen"


def test_smoother_recovers_each_batch_from_keras_running_means():
    smoother = _Smoother(steps=3)
    batch_losses, sizes = [1.0, 2.0, 4.0], [10, 10, 5]
    seen, total, smoothed = 0, 0.0, []
    for batch, (loss, size) in enumerate(zip(batch_losses, sizes)):
        seen, total = seen + size, total + loss * size
        smoothed.append(smoother.add(batch, seen, total / seen, 0.5)[0])
    beta = 1 - 1 / 10
    expected, weight, ema = [], 0.0, 0.0
    for loss in batch_losses:
        ema, weight = beta * ema + (1 - beta) * loss, beta * weight + (1 - beta)
        expected.append(ema / weight)
    assert smoothed == pytest.approx(expected) and smoothed[0] == pytest.approx(1.0)
    assert smoother.add(0, 10, 3.0, 0.5)[0] == pytest.approx((beta * ema + (1 - beta) * 3.0) / (beta * weight + 1 - beta))


def test_presets_build_runs_that_can_train():
    base = spec(architecture=COURSE_CNN, recipe=TrainConfig(epochs=3, seed=7))
    for preset in PRESETS.values():
        for run in preset.runs(base):
            run.check(60_000)
            assert run.recipe.seed == 7
    filters = [run.architecture.filters for run in PRESETS["16 vs 32 vs 64 filters"].runs(base)]
    assert filters == [16, 32, 64]
    assert [r.architecture for r in PRESETS["No conv layers"].runs(base)] == [None, COURSE_CNN]
    overfit = PRESETS["More epochs: overfitting"].runs(base)[0]
    assert overfit.recipe.epochs == 20 and overfit.validation_split > 0


def test_comparison_rows_and_names(cnn_job):
    run = cnn_job.run
    (row,) = comparison_rows([run])
    assert row["run"] == "test run" and row["epochs"] == 2 and row["test acc"] == run.test_accuracy
    assert row["val acc"] == run.history["val_accuracy"][-1] and row["ended"] == "all epochs"
    assert spec().title() == "dense baseline, 2 epochs" and spec(architecture=TINY_CNN).model_label() == "CNN with 8 filters"
    assert spec(architecture=COURSE_CNN, recipe=TrainConfig(epochs=1)).title() == "course CNN, 1 epoch"
