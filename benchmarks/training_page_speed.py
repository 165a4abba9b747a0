"""The Training page's costs, each measured against a reference in the same run (takes several minutes).

1. Epoch time: the page's background job (progress hooks, filter timeline, and a watcher thread doing what
   the page's fragment does every second: heartbeat, snapshot, build and serialise the live chart) divided
   by a plain `model.fit` of the course CNN on the same 12,000 real images. Runs alternate; epochs after
   the first (tracing) are timed; the median epoch is compared (best and mean are printed too). Target <= 1.05.
2. Time to 0.90 test accuracy: the page's 'Fast' preset (run as the page runs it) against the plain course
   recipe (adam 1e-3, batch 32, all 60,000 images, plain model.fit). Test accuracy on the 10,000 test images
   is probed every quarter epoch with the clock paused. Target: Fast <= 0.60 x course.
3. Peak resident memory of the app: `streamlit run app.py` driven by Chromium trains the course CNN on all
   60,000 images for one epoch; VmHWM of the server process is read from /proc (Linux; needs Playwright).

Usage: python benchmarks/training_page_speed.py [epochs|fast|memory ...]   (default: all three)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from benchmarks.train_speed import EpochTimer  # noqa: E402
from components.training_charts import curves_figure  # noqa: E402
from models.config import COURSE_CNN  # noqa: E402
from models.data import load_fashion_mnist, scale_images  # noqa: E402
from models.jobs import PRESETS, JobRegistry, RunSpec, TrainingJob  # noqa: E402
from models.train import TrainConfig, compile_model, evaluate  # noqa: E402
from models.zoo import course_cnn  # noqa: E402

IMAGES, EPOCHS, ROUNDS, BATCH = 12_000, 3, 3, 32
TARGET = 0.90


class TimeToAccuracy(keras.callbacks.Callback):
    """Probes test accuracy every quarter epoch with the clock paused; stops at TARGET."""

    def __init__(self, test: tuple, steps: int) -> None:
        super().__init__()
        self.test, self.steps = test, steps
        self.marks = {round(steps * quarter / 4) for quarter in (1, 2, 3, 4)}
        self.training_seconds, self.reached_at, self.probes = 0.0, None, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start = epoch, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 not in self.marks:
            return
        self.training_seconds += time.perf_counter() - self.start
        accuracy = evaluate(self.model, *self.test)["accuracy"]
        self.probes.append((round(self.epoch + (batch + 1) / self.steps, 2), round(self.training_seconds, 1),
                            round(accuracy, 4)))
        if accuracy >= TARGET:
            self.reached_at = self.training_seconds
            self.model.stop_training = True
        self.start = time.perf_counter()


def watch(job: TrainingJob, stop: threading.Event) -> None:
    """What the page's fragment does every second while a job runs."""
    while not stop.wait(1.0):
        job.heartbeat()
        progress = job.progress()
        curves_figure(progress.batch_curve, progress.history, epochs=progress.epochs).to_json()


def page_job(spec: RunSpec, data, callbacks: list) -> TrainingJob:
    job = TrainingJob(spec, "benchmark", data, callbacks=callbacks)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(job, stop), daemon=True)
    JobRegistry().submit(job)
    watcher.start()
    job.wait()
    stop.set()
    if job.progress().status != "finished":
        raise RuntimeError(f"benchmark job ended {job.progress().status}: {job.progress().message}")
    return job


def plain_fit(model: keras.Model, x, y, config: TrainConfig, callbacks: list) -> None:
    keras.utils.set_random_seed(config.seed)
    compile_model(model, config)
    model.fit(scale_images(x), y, batch_size=config.batch_size, epochs=config.epochs, shuffle=True, verbose=0,
              callbacks=callbacks)


def epoch_ratio(data) -> None:
    (x_train, y_train), _ = data
    x, y = x_train[:IMAGES], y_train[:IMAGES]
    spec = RunSpec(architecture=COURSE_CNN, recipe=TrainConfig(epochs=EPOCHS, batch_size=BATCH),
                   train_images=IMAGES, validation_split=0.0)
    plain, page = [], []
    for _ in range(ROUNDS):
        timer = EpochTimer()
        keras.utils.set_random_seed(0)
        plain_fit(course_cnn(), x, y, TrainConfig(epochs=EPOCHS, batch_size=BATCH), [timer])
        plain += timer.seconds[1:]
        timer = EpochTimer()
        page_job(spec, data, [timer])
        page += timer.seconds[1:]
    print(f"[epochs] {IMAGES:,} images, batch {BATCH}, course CNN")
    print(f"[epochs] plain model.fit  epochs {[round(s, 2) for s in plain]} s")
    print(f"[epochs] page's job       epochs {[round(s, 2) for s in page]} s")
    print(f"[epochs] ratio page / plain: median epoch {statistics.median(page) / statistics.median(plain):.3f}  "
          f"(target <= 1.05); best epoch {min(page) / min(plain):.3f}, mean {statistics.mean(page) / statistics.mean(plain):.3f}",
          flush=True)


def fast_vs_course(data) -> None:
    (x_train, y_train), test = data
    course = TimeToAccuracy(test, steps=-(-len(x_train) // 32))
    keras.utils.set_random_seed(0)
    plain_fit(course_cnn(), x_train, y_train, TrainConfig(epochs=10, batch_size=32), [course])
    print(f"[fast] course recipe probes (epoch, training s, test acc): {course.probes}", flush=True)

    (fast_spec,) = PRESETS["Fast"].runs(RunSpec())
    steps = -(-fast_spec.train_images // fast_spec.recipe.batch_size)
    fast = TimeToAccuracy(test, steps=steps)
    job = page_job(fast_spec, data, [fast])
    print(f"[fast] Fast preset probes (epoch, training s, test acc): {fast.probes}")
    print(f"[fast] Fast preset: {fast_spec.title()}, batch {fast_spec.recipe.batch_size}, "
          f"adam {fast_spec.recipe.learning_rate:g} x{fast_spec.lr_decay:g}/epoch; the run ended at test accuracy "
          f"{job.run.test_accuracy:.4f}")
    if course.reached_at is None or fast.reached_at is None:
        print(f"[fast] did not reach {TARGET}: course {course.reached_at}, fast {fast.reached_at}")
        return
    print(f"[fast] seconds of training to reach {TARGET} test accuracy: course recipe {course.reached_at:.1f}, "
          f"Fast preset {fast.reached_at:.1f}; ratio {fast.reached_at / course.reached_at:.2f}  (target <= 0.60)",
          flush=True)


def app_memory() -> None:
    """Serve the app, train the course CNN on all 60,000 images for one epoch from Chromium, read VmHWM."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("[memory] skipped: Playwright is not installed")
        return
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_idle

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/training")
            wait_until_idle(page, timeout_ms=120_000)
            before = memory(server.pid)
            for label, key in (("Training images", "End"), ("Epochs", "Home"), ("Validation split", "Home")):
                slider = page.get_by_role("slider", name=label)
                slider.focus()
                page.keyboard.press(key)
                slider.blur()
                wait_until_idle(page)
            started = time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_selector('[data-testid="stDataFrame"]', timeout=600_000)
            seconds = time.perf_counter() - started
            after = memory(server.pid)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"[memory] app server RSS after opening the Training page: {before['VmRSS'] / 1024:.0f} MB")
    print(f"[memory] one epoch of the course CNN on 60,000 images from the page took {seconds:.0f} s (with test)")
    print(f"[memory] app server peak RSS (VmHWM): {after['VmHWM'] / 1024:.0f} MB; RSS after: "
          f"{after['VmRSS'] / 1024:.0f} MB  (design limit 1 GB)")


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def main(parts: list[str]) -> None:
    parts = parts or ["epochs", "fast", "memory"]
    data = load_fashion_mnist() if {"epochs", "fast"} & set(parts) else None
    for part in parts:
        {"epochs": lambda: epoch_ratio(data), "fast": lambda: fast_vs_course(data), "memory": app_memory}[part]()


if __name__ == "__main__":
    main(sys.argv[1:])
