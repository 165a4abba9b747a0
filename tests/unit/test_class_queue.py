"""Training for a class: the fair queue's plan, limits, the cost cap, identical runs trained once, and one
queue shared by several server processes (replicas), on real worker processes and real data."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import pytest

from models.training.executors import LocalProcessExecutor
from models.training.job_board import DEFAULT_STARTUP, JobBoard, LimitReached, Speed
from models.training.job_cost import (
    CORE_MACS_PER_SECOND,
    JobTooLarge,
    core_seconds,
    forward_macs,
    job_work,
    max_job_seconds,
    work_parts,
)
from models.training.job_schedule import Training, Waiting, plan
from models.training.jobs import (
    JobRegistry,
    Runner,
    TrainingJob,
    complete_run,
    default_learner_jobs,
    image_passes,
    model_key,
)
from models.training.recipes import PRESETS, RunSpec, TrainConfig
from models.training.runs import RunStore
from tests.conftest import DONE

pytestmark = pytest.mark.training  # trains networks: not in `make test-fast` (pytest.ini)


def spec(seed: int = 0, epochs: int = 2) -> RunSpec:
    """A dense run of a few seconds: 1,024 real images, 256 of them validate."""
    return RunSpec(
        architecture=None,
        recipe=TrainConfig(epochs=epochs, batch_size=64, seed=seed),
        train_images=1024,
        validation_split=0.25,
    )


def registry(tmp_path, **options) -> JobRegistry:
    return JobRegistry(LocalProcessExecutor(max_jobs=1, threads=1), RunStore(tmp_path / "data"), **options)


def wait_for(condition, timeout=DONE):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- the plan (no processes)


def test_a_learners_preset_does_not_hold_the_class_behind_it():
    """A asks for four runs first, then B, C and D one each: after A's first run, B, C and D go before A's next."""
    waiting = [Waiting(i, 100.0 + i, 60.0, (("A", 100.0),)) for i in range(1, 4)] + [
        Waiting(10 + i, 110.0 + i, 60.0, ((learner, 110.0 + i),)) for i, learner in enumerate("BCD")
    ]
    training = [Training(0, ("A",), 30.0)]
    order = plan(waiting, training, {}, slots=1, now=120.0)
    assert [p.job for p in order] == [10, 11, 12, 1, 2, 3]
    assert [(p.start, p.end) for p in order[:2]] == [(30.0, 90.0), (90.0, 150.0)]
    assert [p.place for p in order] == [1, 2, 3, 4, 5, 6]


def test_one_learner_trains_one_job_at_a_time_even_with_free_slots():
    order = plan([Waiting(1, 0.0, 10.0, (("A", 0.0),))], [Training(0, ("A",), 5.0)], {}, slots=3, now=1.0)
    assert [(p.start, p.end) for p in order] == [(5.0, 15.0)]


def test_the_learner_who_waited_longest_without_a_job_goes_first():
    """B asked before A's last run ended: B has waited longer without a job than A, though A asked first."""
    waiting = [Waiting(1, 10.0, 5.0, (("A", 10.0),)), Waiting(2, 20.0, 5.0, (("B", 20.0),))]
    order = plan(waiting, [], {"A": 30.0}, slots=1, now=40.0)
    assert [p.job for p in order] == [2, 1]


def test_a_shared_job_takes_the_place_of_its_longest_waiting_learner():
    waiting = [Waiting(1, 5.0, 5.0, (("A", 5.0),)), Waiting(2, 9.0, 5.0, (("B", 9.0), ("C", 1.0)))]
    assert [p.job for p in plan(waiting, [], {}, slots=1, now=10.0)] == [2, 1]


# -- estimates from what this server measured


def test_estimates_use_each_models_measured_speed_and_the_fixed_start_and_end(tmp_path):
    """Small dense jobs measured with 10 s of start-up and 2 s of tail must not make a course CNN run look slow
    (nor fast): each model gets its own measured speed, and every job the measured fixed costs."""
    board = JobBoard(tmp_path / "queue.sqlite3")
    small = RunSpec(architecture=None, recipe=TrainConfig(epochs=1), train_images=5000)

    def add(spec_: RunSpec, learner: str, name: str):
        job = TrainingJob(spec_, name, learner=learner, orphan_after=600.0)
        return board.add_seat(**{**job.seat_fields(RunStore(tmp_path)), "key": name}, max_active=4)

    assert board.speed() == Speed() and Speed().startup == DEFAULT_STARTUP
    for index in range(3):
        add(small, f"l{index}", f"small {index}")
        row = board.claim("me", slots=1)
        board.finish(row.id, "finished", "", timing=(10.0, 3.0, 2.0))
    speed = board.speed()
    assert (speed.startup, speed.tail, speed.jobs) == (10.0, 2.0, 3)
    assert dict(speed.rates)[model_key(small)] == pytest.approx(image_passes(small) / 3.0)
    add(RunSpec(), "b", "course")  # not measured here yet: from its multiply-accumulates
    add(replace(small, recipe=TrainConfig(epochs=2)), "c", "small, twice as long")
    planned = sorted(board.view(slots=1).planned.values(), key=lambda p: p.place)
    course_seconds = 10.0 + sum(work_parts(RunSpec())[:2]) / CORE_MACS_PER_SECOND + 2.0
    assert [round(p.end - p.start, 3) for p in planned] == [round(course_seconds, 3), round(10.0 + 6.0 + 2.0, 3)]
    assert 140 < course_seconds < 170  # the default run: about 150 s here


# -- cost and limits


def test_the_cost_of_a_run_is_macs_times_images_times_epochs():
    course = RunSpec()  # the course CNN, 20,000 images (18,000 fitted, 2,000 validate), 5 epochs
    assert forward_macs(course.architecture) == 5_056_000  # the Architecture page's total
    assert job_work(course) == 5_056_000 * (3 * 18_000 * 5 + 2_000 * 5 + 10_000)
    assert core_seconds(course) == pytest.approx(job_work(course) / CORE_MACS_PER_SECOND)
    assert 120 < core_seconds(course) < 180  # measured: about 150 s on one core
    assert max_job_seconds({}) == 600 and max_job_seconds({"CNN_LAB_MAX_JOB_MINUTES": "0"}) is None
    with pytest.raises(ValueError, match="CNN_LAB_MAX_JOB_MINUTES must be a number"):
        max_job_seconds({"CNN_LAB_MAX_JOB_MINUTES": "ten"})


def test_a_run_over_the_cost_cap_is_refused_with_what_to_shrink(tmp_path):
    jobs = registry(tmp_path)
    big = RunSpec(train_images=60_000, recipe=TrainConfig(epochs=10))
    with pytest.raises(JobTooLarge, match=r"about 15 min on one core .* limit of 10 min per run\. Use fewer images"):
        jobs.check([big], "learner-a")
    with pytest.raises(JobTooLarge):
        jobs.submit(TrainingJob(big, "big", learner="learner-a"))
    jobs.check([RunSpec()], "learner-a")  # the default run fits


def test_each_learner_may_have_one_training_and_the_largest_experiment_waiting(tmp_path):
    assert default_learner_jobs() == max(len(p.runs(RunSpec())) for p in PRESETS.values()) == 4
    jobs = registry(tmp_path, learner_jobs=3)
    for seed in range(3):
        jobs.submit(TrainingJob(spec(seed, epochs=50), f"run {seed}", learner="greedy", keepalive=lambda: True))
    with pytest.raises(LimitReached, match="at most 3 at once on this server"):
        jobs.submit(TrainingJob(spec(9), "fourth", learner="greedy"))
    with pytest.raises(LimitReached, match="This experiment trains 2 runs"):
        jobs.check([spec(7), spec(8)], "greedy")
    jobs.check([spec(7)], "someone else")
    for job in jobs.jobs_for("greedy"):
        job.stop()
    wait_for(lambda: not jobs.jobs_for("greedy"))


# -- identical runs train once


def test_identical_runs_train_once_and_each_learner_gets_their_own_copy(tmp_path):
    jobs = registry(tmp_path)
    first = TrainingJob(spec(), "Run 1: x", label="Run 1", learner="a", keepalive=lambda: True)
    second = TrainingJob(spec(), "Run 4: x", label="Run 4", learner="b", keepalive=lambda: True)
    jobs.submit(first)
    jobs.submit(second)
    assert (first.how, second.how) == ("new", "shared") and first.job_id == second.job_id
    wait_for(lambda: second.progress().shared_with == 1)
    assert first.wait(DONE) and second.wait(DONE)
    run_a, run_b = first.run, second.run
    assert run_a.folder != run_b.folder and run_a.name.startswith("Run 1: ") and run_b.name.startswith("Run 4: ")
    assert run_a.shared_with == run_b.shared_with == 2 and run_a.test_accuracy == run_b.test_accuracy
    jobs.store.remove("a", run_a.run_id)  # one learner deletes theirs: the other keeps theirs, whole
    assert jobs.store.runs("a")[0] == [] and [r.run_id for r in jobs.store.runs("b")[0]] == [run_b.run_id]
    assert jobs.store.run("b", run_b.run_id).model.count_params() == run_b.config["parameters"]
    later = TrainingJob(spec(), "Run 1: x", label="Run 1", learner="c")
    jobs.submit(later)  # finished here before: a copy at once, no training
    assert later.how == "trained" and later.done and later.progress().status == "finished"
    assert later.run.test_accuracy == run_b.test_accuracy and later.run.shared_with
    own = TrainingJob(spec(seed=1), "own seed", learner="c", keepalive=lambda: True)
    jobs.submit(own)  # another seed is another run
    assert own.how == "new" and own.job_id != first.job_id
    own.stop()
    assert own.wait(DONE)


def test_stop_on_a_shared_run_leaves_it_and_it_goes_on_for_the_others(tmp_path):
    jobs = registry(tmp_path)
    stayer = TrainingJob(spec(epochs=6), "stays", learner="a", keepalive=lambda: True)
    leaver = TrainingJob(spec(epochs=6), "leaves", learner="b", keepalive=lambda: True)
    jobs.submit(stayer)
    jobs.submit(leaver)
    wait_for(lambda: stayer.progress().status == "running")
    leaver.stop()
    assert leaver.wait(5) and leaver.run is None
    progress = leaver.progress()
    assert progress.status == "stopped" and "You left this shared run: 1 other learner" in progress.message
    assert stayer.wait(DONE) and stayer.progress().status == "finished" and stayer.run.stop_reason is None


# -- one queue for several server processes


def test_two_server_processes_share_one_queue_one_limit_and_the_runs(tmp_path):
    """Two registries on one data folder, as two replicas: one job trains at a time for both, identical
    requests from either train once, and each sees the jobs asked for on the other (a learner moved)."""
    replica_a, replica_b = registry(tmp_path), registry(tmp_path)
    on_a = TrainingJob(spec(seed=1, epochs=3), "a1", learner="a", keepalive=lambda: True)
    on_b = TrainingJob(spec(seed=2, epochs=3), "b1", learner="b", keepalive=lambda: True)
    twin = TrainingJob(spec(seed=1, epochs=3), "c1", learner="c", keepalive=lambda: True)
    replica_a.submit(on_a)
    replica_b.submit(on_b)
    replica_b.submit(twin)
    assert twin.job_id == on_a.job_id  # asked on B, trained once with A's
    most = 0
    while not (on_a.done and on_b.done and twin.done):
        most = max(most, replica_a.running(), replica_b.running())
        assert sum(len(r._runners) for r in (replica_a, replica_b)) <= 1
        time.sleep(0.02)
    assert most == 1
    assert {job.progress().status for job in (on_a, on_b, twin)} == {"finished"}
    (seen_on_a,) = replica_a.collect("b")  # B's learner's ended job, seen from A
    assert seen_on_a.run.name == "b1" and seen_on_a.run.test_accuracy == on_b.run.test_accuracy


def test_a_job_whose_server_process_died_is_queued_again_and_trained(tmp_path):
    """A replica claims a job and dies (it stops renewing its lease): another replica trains it again."""
    dead, alive = registry(tmp_path), registry(tmp_path)
    job = TrainingJob(spec(), "orphaned by its replica", learner="a", keepalive=lambda: True)
    job.orphan_after = 600.0
    dead.board.add_seat(**job.seat_fields(dead.store), max_active=4)
    assert dead.board.claim(dead.owner, slots=1) is not None  # claimed, then the process "dies"
    (seen,) = alive.jobs_for("a")  # the learner reconnects to the other replica
    assert seen.progress().status == "starting"
    assert alive.board.requeue_lost(alive.owner, lambda folder: False, lease_seconds=0.0) == []
    assert seen.job_id in alive.board.queued_jobs() or seen.progress().status != "queued"
    assert seen.wait(DONE) and seen.progress().status == "finished" and seen.run.name == "orphaned by its replica"


def test_a_run_finished_in_staging_when_its_process_died_is_handed_out_not_trained_again(tmp_path):
    """The worker wrote the whole run, then the server process died before moving it: after a restart the run
    goes to its learner from the staging folder."""
    trained = registry(tmp_path)
    first = TrainingJob(spec(), "first", learner="a", keepalive=lambda: True)
    trained.submit(first)
    assert first.wait(DONE)
    dead = registry(tmp_path)
    job = TrainingJob(spec(seed=4), "Run 2: x", label="Run 2", learner="b", group=3, orphan_after=600.0)
    seat, row, how = dead.board.add_seat(**job.seat_fields(dead.store), max_active=4)
    assert how == "new" and dead.board.claim(dead.owner, slots=1) is not None
    staging = dead.store.staging_folder()
    for path in first.run.folder.iterdir():  # a complete run, as the worker leaves it
        shutil.copy(path, staging / path.name)
    dead.board.set_staging(row.id, str(staging))
    restarted = JobRegistry(LocalProcessExecutor(max_jobs=1, threads=1), RunStore(tmp_path / "data"))
    assert restarted.board.requeue_lost(restarted.owner, complete_run, lease_seconds=0.0) == [row.id]
    restarted.board.renew(restarted.owner)
    runner = Runner(restarted, restarted.board.job(row.id))
    runner.recover(staging)
    (run,) = restarted.store.runs("b")[0]
    assert run.name.startswith("Run 2: ") and run.group == 3 and run.test_accuracy == first.run.test_accuracy
    assert restarted.board.seat(seat.id).state == "done" and not staging.exists()


def test_a_queue_file_of_an_earlier_release_gets_the_new_columns(tmp_path):
    """A server upgraded mid-term opens the queue file an earlier release made: the columns added since appear."""
    import sqlite3

    path = tmp_path / "queue.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, payload TEXT NOT NULL, "
            "estimate REAL NOT NULL, state TEXT NOT NULL DEFAULT 'queued', created REAL NOT NULL)"
        )
        db.execute("INSERT INTO jobs (key, payload, estimate, created) VALUES ('old', '{}', 1.0, 0.0)")
    board = JobBoard(path)
    assert board.job(1).key == "old" and board.job(1).model_key == "" and board.job(1).passes == 0
    assert board.speed() == Speed() and board.active_jobs() == 1
