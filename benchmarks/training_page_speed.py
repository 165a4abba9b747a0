"""The Training page's costs, each measured against a reference in the same run (takes several minutes).

1. Epoch time of the page's job vs a plain `model.fit`, both with the SAME TensorFlow thread count: the
   count a server gives a job ($CNN_LAB_JOB_THREADS, else cores - 1; 1 on a 2-core machine). The job runs as
   the page runs it: `JobRegistry` + `LocalProcessExecutor` (a niced `python -m models.networks.worker` process:
   progress events over a pipe, the filter timeline, the run saved into a `RunStore` in a temporary
   folder), with a watcher thread here doing what the page's fragment does every second (heartbeat,
   progress, build and serialise the live chart); its epoch times are `job.progress().epoch_seconds`. The
   plain fit is a child process started the same way (same nice, the same thread environment, and
   `tf.config.threading` set to the count before the first op): `models.networks.worker.build_model` of the same
   spec, compiled, `model.fit` on the same 12,000 float images, timed from one epoch's end to the next
   like the job. Course CNN, batch 32, no validation; the two alternate; epochs after the first (tracing,
   and for the job the model build) are timed; the ratio of median epochs is the figure (best and mean
   are printed too). Target <= 1.05.
2. Time to 0.90 test accuracy, the 'Fast' preset's recipe (models.training.recipes.PRESETS) vs the course recipe
   (course CNN, adam 1e-3, batch 32, all 60,000 images): both trained in this process by
   `models.networks.worker.build_model(spec)` + `models.networks.train.train(...)` with
   `models.networks.worker.schedule_callbacks(spec)` (the Fast preset's one-cycle learning rate, as the job applies
   it), and test accuracy on the 10,000 test images probed every quarter epoch with the clock paused. The course run
   stops at 0.90; the Fast run trains all its epochs, so its final test accuracy is the one a learner's run ends with.
   `--seeds 0 1 2` repeats the Fast run per seed (one course run, seed 0, for all). Wall seconds are the figure; this
   process's CPU seconds (same probes excluded) are printed too, steadier on a shared machine. This measures the
   recipes; part 1 measures the job's overhead. Same thread count as part 1. Target: Fast <= 0.35 x course (the
   median over seeds; the worst is printed too).

Memory is not measured here: benchmarks/memory.py prints the server's and each training worker's peak.

Usage: python benchmarks/training_page_speed.py [epochs|fast ...] [--rounds N] [--seeds S ...]
(default: both, 3 rounds, seed 0)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.design.config import COURSE_CNN  # noqa: E402
from models.networks.worker import build_model, schedule_callbacks  # noqa: E402
from models.training.executors import LocalProcessExecutor  # noqa: E402
from models.training.job_protocol import NICE_ENV, THREADS_ENV, limit_threads, whole_number  # noqa: E402
from models.training.recipes import PRESETS, RunSpec, TrainConfig  # noqa: E402

IMAGES, EPOCHS, ROUNDS, BATCH = 12_000, 4, 3, 32
TARGET, TARGET_RATIO = 0.90, 0.35
EPOCH_SPEC = RunSpec(
    architecture=COURSE_CNN,
    recipe=TrainConfig(epochs=EPOCHS, batch_size=BATCH),
    train_images=IMAGES,
    validation_split=0.0,
)
COURSE_SPEC = RunSpec(
    architecture=COURSE_CNN,
    recipe=TrainConfig(epochs=10, batch_size=32, learning_rate=1e-3),
    train_images=60_000,
    validation_split=0.0,
)


def job_executor() -> LocalProcessExecutor:
    """The executor a server builds (executor_from_environment without Dask): one job at a time."""
    return LocalProcessExecutor(max_jobs=1, threads=whole_number(os.environ, THREADS_ENV))


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------- 1. the page's job vs plain model.fit


def plain_fit_child(threads: int) -> None:
    """In a child process: limit threads as the worker does, then time a plain model.fit (prints JSON)."""
    os.nice(int(os.environ.get(NICE_ENV, "10")))
    limit_threads(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from models.inputs.fashion_mnist import load_fashion_mnist, scale_images
    from models.networks.train import compile_model

    (x_train, y_train), _ = load_fashion_mnist()
    x, y = scale_images(x_train[:IMAGES]), y_train[:IMAGES]
    model = compile_model(build_model(EPOCH_SPEC), EPOCH_SPEC.recipe)
    ends: list[float] = []

    class EpochEnds(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            ends.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    keras.utils.set_random_seed(EPOCH_SPEC.recipe.seed)
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0, callbacks=[EpochEnds()])
    print(
        json.dumps(
            {
                "epoch_seconds": [b - a for a, b in zip(ends, ends[1:])],
                "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            }
        )
    )


def plain_fit(executor: LocalProcessExecutor) -> tuple[list[float], float, float]:
    """(epoch seconds, child wall s, child CPU s) of one plain fit in a child process set up like a worker."""
    threads = str(executor.threads)
    env = {
        **os.environ,
        THREADS_ENV: threads,
        NICE_ENV: str(executor.nice),
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": threads,
    }
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--plain-fit-child", threads],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode:
        raise RuntimeError(f"the plain fit failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["intra_op"] != executor.threads:
        raise RuntimeError(f"the plain fit ran with {result['intra_op']} intra-op threads, not {executor.threads}")
    return result["epoch_seconds"], wall, cpu


def watch(job, stop: threading.Event) -> None:
    """What the page's fragment does every second while a job runs."""
    from components.charts.training import curves_figure

    while not stop.wait(1.0):
        job.heartbeat()
        progress = job.progress()
        curves_figure(progress.batch_curve, progress.history, epochs=progress.epochs).to_json()


def page_job(registry, spec: RunSpec):
    """Submit one job as the page does, watch it as the page does, return it once it has ended."""
    from models.training.jobs import TrainingJob

    job = TrainingJob(spec, "benchmark", learner="benchmark")
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(job, stop), daemon=True)
    registry.submit(job)
    watcher.start()
    job.wait()
    stop.set()
    watcher.join()
    if job.progress().status != "finished":
        raise RuntimeError(f"benchmark job ended {job.progress().status}: {job.progress().message}")
    return job


def epoch_ratio(rounds: int) -> None:
    from models.training.jobs import JobRegistry
    from models.training.runs import RunStore

    executor = job_executor()
    print(
        f"[epochs] {IMAGES:,} images, batch {BATCH}, course CNN, {EPOCHS} epochs x {rounds} round(s) each; "
        f"{executor.threads} TensorFlow thread(s) and nice {executor.nice} for both (the job: "
        f"{THREADS_ENV}={executor.threads}; the plain fit: the same environment + tf.config.threading); "
        f"load average {load_average()}",
        flush=True,
    )
    plain, page, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="cnn-lab-bench-") as data_dir:
        registry = JobRegistry(executor, RunStore(Path(data_dir)), max_jobs=1)
        for number in range(rounds):
            seconds, wall, cpu = plain_fit(executor)
            plain += seconds[1:]
            notes.append(f"plain fit {wall:.0f} s wall, {cpu / wall:.2f} cores")
            cpu, started = children_cpu(), time.perf_counter()
            job = page_job(registry, EPOCH_SPEC)
            wall, cpu = time.perf_counter() - started, children_cpu() - cpu
            page += list(job.progress().epoch_seconds[1:])
            notes.append(f"job {wall:.0f} s wall, {cpu / wall:.2f} cores")
            print(
                f"[epochs] round {number + 1}: plain {[round(s, 2) for s in seconds[1:]]} s, "
                f"job {[round(s, 2) for s in job.progress().epoch_seconds[1:]]} s; load {load_average()}",
                flush=True,
            )
    print(
        f"[epochs] child processes (whole process: imports, data, training, the job's test and save): "
        f"{'; '.join(notes)}"
    )
    print(f"[epochs] plain model.fit  epochs {[round(s, 2) for s in plain]} s")
    print(f"[epochs] page's job       epochs {[round(s, 2) for s in page]} s")
    print(
        f"[epochs] ratio page's job / plain fit: median epoch {statistics.median(page) / statistics.median(plain):.3f}"
        f"  (target <= 1.05); best epoch {min(page) / min(plain):.3f}, "
        f"mean {statistics.mean(page) / statistics.mean(plain):.3f}; load average {load_average()}",
        flush=True,
    )


# ---------------------------------------------------------------------- 2. Fast preset vs course recipe


def time_to_accuracy(spec: RunSpec, data, *, stop: bool) -> tuple[float | None, float | None, list, float]:
    """Train `spec` here as the worker would; (wall s to TARGET or None, CPU s to TARGET or None, probes,
    final test accuracy). `stop`: end training at the first probe that reaches TARGET."""
    import keras

    from models.networks.train import evaluate, train

    class TimeToAccuracy(keras.callbacks.Callback):
        """Probes test accuracy every quarter epoch with the clock paused; notes when it first reaches TARGET."""

        def __init__(self, test: tuple, steps: int) -> None:
            super().__init__()
            self.test, self.steps = test, steps
            self.marks = {round(steps * quarter / 4) for quarter in (1, 2, 3, 4)}
            self.wall = self.cpu = 0.0
            self.reached_at: tuple[float, float] | None = None
            self.probes: list = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.start, self.start_cpu = epoch, time.perf_counter(), time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 not in self.marks:
                return
            self.wall += time.perf_counter() - self.start
            self.cpu += time.process_time() - self.start_cpu
            accuracy = evaluate(self.model, *self.test)["accuracy"]
            self.probes.append(
                (round(self.epoch + (batch + 1) / self.steps, 2), round(self.wall, 1), round(accuracy, 4))
            )
            if accuracy >= TARGET and self.reached_at is None:
                self.reached_at = (self.wall, self.cpu)
                self.model.stop_training = stop
            self.start, self.start_cpu = time.perf_counter(), time.process_time()

    (x_train, y_train), test = data
    probe = TimeToAccuracy(test, steps=spec.steps_per_epoch())
    model = build_model(spec)
    fitted = (x_train[: spec.fitted_images], y_train[: spec.fitted_images])
    train(model, fitted, spec.recipe, callbacks=[probe, *schedule_callbacks(spec)])
    wall, cpu = probe.reached_at or (None, None)
    return wall, cpu, probe.probes, evaluate(model, *test)["accuracy"]


def fast_vs_course(seeds: list[int]) -> None:
    threads = job_executor().threads
    limit_threads(threads)  # before TensorFlow's first op: its pools cannot be resized later
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from models.inputs.fashion_mnist import load_fashion_mnist

    data = load_fashion_mnist()
    print(
        f"[fast] both recipes in this process, {threads} TensorFlow thread(s); load average {load_average()}",
        flush=True,
    )
    course, course_cpu, course_probes, _ = time_to_accuracy(COURSE_SPEC, data, stop=True)
    print(
        f"[fast] course recipe probes (epoch, training s, test acc): {course_probes}; load {load_average()}", flush=True
    )
    if course is None or course_cpu is None:
        print(f"[fast] the course recipe did not reach {TARGET} in {COURSE_SPEC.recipe.epochs} epochs")
        return
    ratios, cpu_ratios = [], []
    for seed in seeds:
        (fast_spec,) = PRESETS["Fast"].runs(RunSpec(recipe=TrainConfig(seed=seed)))
        fast, fast_cpu, fast_probes, final = time_to_accuracy(fast_spec, data, stop=False)
        schedule = "one-cycle" if fast_spec.one_cycle else f"x{fast_spec.lr_decay:g}/epoch"
        print(f"[fast] Fast preset, seed {seed}, probes (epoch, training s, test acc): {fast_probes}")
        print(
            f"[fast] Fast preset, seed {seed}: {fast_spec.title()}, batch {fast_spec.recipe.batch_size}, "
            f"adam {fast_spec.recipe.learning_rate:g} {schedule}; it ended at test accuracy {final:.4f}"
        )
        if fast is None or fast_cpu is None:
            print(f"[fast] seed {seed}: the Fast preset did not reach {TARGET}")
            ratios.append(float("inf"))
            cpu_ratios.append(float("inf"))
            continue
        ratios.append(fast / course)
        cpu_ratios.append(fast_cpu / course_cpu)
        print(
            f"[fast] seconds of training to reach {TARGET} test accuracy: course recipe {course:.1f} "
            f"({course_cpu:.1f} CPU), Fast preset seed {seed} {fast:.1f} ({fast_cpu:.1f} CPU); "
            f"ratio {fast / course:.2f} (CPU {fast_cpu / course_cpu:.2f}; target <= {TARGET_RATIO}); "
            f"load average {load_average()}",
            flush=True,
        )
    print(
        f"[fast] ratio Fast / course over seeds {seeds}: median {statistics.median(ratios):.2f}, worst "
        f"{max(ratios):.2f}  (target <= {TARGET_RATIO}); CPU seconds: median {statistics.median(cpu_ratios):.2f}, "
        f"worst {max(cpu_ratios):.2f}",
        flush=True,
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["--plain-fit-child"]:
        plain_fit_child(int(argv[1]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", help="epochs, fast (default: both)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="plain fit + job pairs in part 1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="the Fast preset's seeds in part 2")
    args = parser.parse_args(argv)
    if "memory" in args.parts:
        parser.error("the memory part moved to benchmarks/memory.py (server and training worker separately)")
    if set(args.parts) - {"epochs", "fast"}:
        parser.error(f"unknown part(s) {sorted(set(args.parts) - {'epochs', 'fast'})}; choose epochs, fast")
    for part in args.parts or ["epochs", "fast"]:
        if part == "epochs":
            epoch_ratio(args.rounds)
        else:
            fast_vs_course(args.seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
