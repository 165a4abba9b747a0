"""A learner's training jobs and saved runs, for the Training page, the tour, Inspect and Predict.

Jobs train outside the web process (models.training.executors); the process-wide `JobRegistry` and `RunStore`
are shared by every session. What a learner sees is keyed by their token (components.framework.learner), not by the
browser session, so a refresh reattaches to a job still training and shows the same saved runs.
"""

from __future__ import annotations

import math
import re

import streamlit as st

from components.charts.alt import figure_alt
from components.charts.training import curves_figure
from components.framework.learner import learner_sessions, learner_token
from components.framework.session_keys import (
    TRAINING_LIVE,
    TRAINING_NOTICES,
    TRAINING_START_ERROR,
    TRAINING_WAITS,
    training_cancel,
    training_stop,
)
from components.presentation import beside, presenting
from models.serving.sweep import Sweeper
from models.training.executors import executor_from_environment
from models.training.job_cost import minutes_text
from models.training.jobs import JobProgress, JobRegistry, TrainingJob
from models.training.recipes import RunSpec
from models.training.runs import MAX_AGE_DAYS, MAX_RUNS, RunStore, TrainingRun

CHART_CONFIG = {"displayModeBar": False}
CURVES_CAPTION = (
    "The thin line is each batch's value, smoothed; a dot is a whole epoch. The training dot averages "
    "the epoch, so it lags behind the line; the validation dot is measured on held-out images at the "
    "epoch's end."
)
RUN_NUMBER = re.compile(r"^Run (\d+):")
REUSED_NOTICE = (
    "you already have this run with exactly these settings, so it was not trained again (training is seeded: it "
    "would be the same run); it is in the comparison below."
)
LIVE_HEIGHT = {False: 360, True: 290}  # the live curves' height; on a projector they fit beside the job


@st.cache_resource
def run_store() -> RunStore:
    """Every learner's saved runs, under $CNN_LAB_DATA_DIR (default ~/.cache/cnn-lab); the first call starts this
    process's hourly sweep of the data folder (models.serving.sweep)."""
    store = RunStore.from_environment()
    Sweeper(store)
    return store


@st.cache_resource(show_spinner="Connecting to the training workers...")
def _job_registry() -> JobRegistry:
    registry = JobRegistry(executor_from_environment(), run_store())
    sessions = learner_sessions()
    registry.connected = sessions.connected  # a learner's open tab keeps their jobs alive between heartbeats
    return registry


def job_registry() -> JobRegistry:
    """The one training queue of this server: $CNN_LAB_MAX_JOBS at once, on worker processes or Dask.

    A bad setting or an unreachable Dask scheduler stops the page with a clear message (retried next rerun).
    """
    try:
        return _job_registry()
    except (ConnectionError, OSError, ValueError) as error:
        st.error(f"Training is not available on this server: {error}", icon=":material/error:")
        st.stop()


def learner_jobs() -> list[TrainingJob]:
    """This learner's jobs that are queued or training."""
    return job_registry().jobs_for(learner_token())


def learner_runs() -> list[TrainingRun]:
    """This learner's saved runs, oldest first; a saved run that cannot be read is named in a warning."""
    runs, notices = run_store().runs(learner_token())
    for notice in notices:
        st.warning(notice, icon=":material/warning:")
    return runs


def trained_runs() -> list[TrainingRun]:
    """The learner's runs trained here, oldest first: uploaded models (no history) are left to the model choices."""
    return [run for run in learner_runs() if not run.uploaded]


def collect_ended_jobs() -> None:
    """Keep a notice for each of this learner's jobs that ended without a run (failed, stopped in the queue)."""
    registry = job_registry()
    for job in registry.collect(learner_token()):
        progress = job.progress()
        if job.run is None:
            st.session_state.setdefault(TRAINING_NOTICES, []).append((job.name, progress.status, progress.message))
        elif (waited := registry.waited(job)) is not None:
            st.session_state.setdefault(TRAINING_WAITS, {})[job.run.run_id] = waited


def duplicate_of(spec: RunSpec, active: list[TrainingJob]) -> TrainingJob | None:
    """The learner's queued or training job with exactly these settings (one being stopped does not count)."""
    return next((job for job in active if job.spec == spec and not job.stopping), None)


def duplicate_message(job: TrainingJob) -> str:
    state = "queued" if job.progress().status == "queued" else "training"
    return (
        f"Not started: {job.name} is already {state} with these settings. Stop it first, or change a setting "
        "to train another run."
    )


def start(specs: list[RunSpec], *, reuse: bool = False) -> None:
    """Button callback: queue one job per spec, all or none (a setting that cannot train is kept as an error).

    A spec the learner already has queued or training is refused: a second click that reaches the server
    before the rerun that disabled the button must not queue the same run twice. With `reuse` (a course
    experiment), a spec the learner already has a whole run of is not trained again: a notice names that run.
    """
    token = learner_token()
    reused: list[TrainingRun] = []
    if reuse:
        finished = [run for run in run_store().runs(token)[0] if not run.stop_reason]
        for spec in list(specs):
            if (have := next((run for run in finished if run.spec() == spec), None)) is not None:
                reused.append(have)
                specs = [other for other in specs if other != spec]
    if reused:
        st.session_state[TRAINING_NOTICES] = [(run.name, "reused", REUSED_NOTICE) for run in reused]
        if not specs:
            return
    active = learner_jobs()
    for spec in specs:
        if (twin := duplicate_of(spec, active)) is not None:
            st.session_state[TRAINING_START_ERROR] = duplicate_message(twin)
            return
    try:
        job_registry().check(specs, token)  # the learner's share of the queue and the server's cost cap
    except ValueError as error:
        st.session_state[TRAINING_START_ERROR] = str(error)
        return
    earlier: list[TrainingJob | TrainingRun] = [
        *active,
        *run_store().runs(token)[0],
    ]  # numbering goes on from the learner's last run
    first = max((int(m.group(1)) for m in (RUN_NUMBER.match(e.name) for e in earlier) if m), default=0) + 1
    group = max((e.group for e in earlier), default=0) + 1
    sessions = learner_sessions()
    try:
        new = [
            TrainingJob(
                spec,
                f"Run {first + i}: {spec.title()}",
                label=f"Run {first + i}",
                learner=token,
                group=group,
                keepalive=lambda: sessions.connected(token),
            )
            for i, spec in enumerate(specs)
        ]
    except ValueError as error:
        st.session_state[TRAINING_START_ERROR] = str(error)
        return
    if not reused:
        st.session_state[TRAINING_NOTICES] = []
    st.session_state[TRAINING_START_ERROR] = ""
    for job in new:
        try:
            job_registry().submit(job)
        except ValueError as error:  # a second tab took the last place meanwhile
            st.session_state[TRAINING_START_ERROR] = str(error)
            return


def limits_text(registry: JobRegistry) -> str:
    """The queue's rules for a class, as the page states them."""
    cap = (
        ""
        if registry.cost_cap is None
        else f" A run may take at most about {minutes_text(registry.cost_cap)} of one core."
    )
    return (
        f"Each learner may have {registry.learner_jobs} runs queued or training, one training at a time; the next "
        "free slot goes to whoever has waited longest without a run. Identical settings asked for by several "
        f"learners train once and each gets a copy.{cap}"
    )


def start_error() -> None:
    if st.session_state.get(TRAINING_START_ERROR):
        st.error(st.session_state[TRAINING_START_ERROR])


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def shared_text(progress: JobProgress) -> str:
    """' - shared with 3 other learners' when others asked for the same settings (it trains once)."""
    if not progress.shared_with:
        return ""
    return f" - shared: {progress.shared_with} other learner{'s' if progress.shared_with > 1 else ''} asked for it too"


def status_text(job: TrainingJob, progress: JobProgress, registry: JobRegistry) -> str:
    """One line of where a job is: queued (its place, when it starts and ends), starting, training, evaluating."""
    name = f"**{job.name}**"
    if progress.status == "queued":
        when = ""
        if progress.starts_in is not None and progress.eta_seconds is not None:
            start = "next free slot" if progress.starts_in < 1 else f"starts in about {duration(progress.starts_in)}"
            when = f", {start}, ready in about {duration(progress.eta_seconds)}"
        return (
            f"{name}: queued, number {progress.queue_position} in line{when} ({progress.jobs_running} of "
            f"{registry.max_jobs} training slots busy){shared_text(progress)}"
        )
    if job.stopping and progress.status in ("starting", "running"):  # the click's own rerun says so at once
        return (
            f"{name}: stopping after the current batch (batch {progress.batch:,}/{progress.steps:,}), keeping the "
            "weights learned so far..."
        )
    if progress.status == "starting":
        return f"{name}: starting (loading TensorFlow and the data)..."
    if progress.status == "evaluating":
        return f"{name}: training done; measuring test accuracy on {test_set_text(job.spec)}..."
    if progress.epoch == progress.batch == 0:
        return f"{name}: building the model and preparing the data..."
    eta = "-" if progress.eta_seconds is None else duration(progress.eta_seconds)
    return (
        f"{name}: epoch {progress.epoch + 1} of {progress.epochs}, batch {progress.batch:,}/{progress.steps:,} - "
        f"{progress.images_per_second:,.0f} images/s - ETA {eta}{shared_text(progress)}"
    )


def test_set_text(spec: RunSpec) -> str:
    """What a run is tested on: the 10,000 Fashion-MNIST test images, or its own images' held-out share."""
    return "the held-out share of your images" if spec.dataset else "the 10,000 Fashion-MNIST test images"


def job_row(job: TrainingJob, progress: JobProgress) -> None:
    """The job's state on one row: a progress bar with its status line, and Stop (Cancel while queued) beside it."""
    bar, button = st.columns([5, 2], vertical_alignment="bottom")
    bar.progress(progress.fraction, text=status_text(job, progress, job_registry()))
    if progress.status == "queued":
        button.button("Cancel", key=training_cancel(job.id), on_click=job.stop, width="stretch")
        return
    stopping = job.stopping
    button.button(
        "Stop",
        key=training_stop(job.id),
        icon=":material/stop:",
        disabled=stopping or progress.status not in ("starting", "running"),
        on_click=job.stop,
        width="stretch",
    )


def live() -> None:
    """This learner's jobs, redrawn every second while there are any; a full rerun shows the ones that ended.

    Called at the top of the Training page and right under the tour's Train button, so the live chart is on the
    first screen after Train: each job's state and its Stop come first, then the chart (beside them on a projector).
    """
    jobs = learner_jobs()
    st.fragment(_live_jobs, run_every=1.0 if jobs else None)(len(jobs))


def _live_jobs(count: int) -> None:
    jobs = learner_jobs()
    if len(jobs) != count:
        st.rerun()
    for job in jobs:
        job.heartbeat()
    for name, status, message in st.session_state.get(TRAINING_NOTICES, []):
        {"failed": st.error, "reused": st.info}.get(status, st.warning)(f"{name}: {message}")
    if not jobs:
        return
    shown = {job: job.progress() for job in jobs}
    active = next((job for job in jobs if shown[job].status != "queued"), jobs[0])
    with st.container(key=TRAINING_LIVE):
        state, chart = beside(2, 3)  # on a projector the live curve sits beside the job, on the first screen
        with state:
            job_row(active, shown[active])
            for job in jobs:
                if job is not active:
                    job_row(job, shown[job])
        progress = shown[active]
        if progress.status == "queued":
            return
        state.caption(
            f"{duration(progress.elapsed)} so far. Stop ends training after the current batch and keeps "
            "the weights learned so far."
        )
        chart.plotly_chart(
            live := curves_figure(
                progress.batch_curve, progress.history, epochs=progress.epochs, height=LIVE_HEIGHT[presenting()]
            ),
            width="stretch",
            config=CHART_CONFIG,
            alt=figure_alt(live, "Loss and accuracy so far, per batch and per epoch"),
        )
        chart.caption(CURVES_CAPTION)


def headline_text(run: TrainingRun, waited: float | None = None) -> str:
    """'Test accuracy **87.80%** after 1.45 of 3 epochs in 44 s from your click to this result; training took 12 s
    of it ... It ended early: stopped by request.' Without `waited` (the run was collected in another session) the
    time is the training's alone, and says so."""
    ended = f" It ended early: {run.stop_reason}." if run.stop_reason else ""
    test = "not measured**" if run.test_accuracy is None else f"{run.test_accuracy:.2%}**" + test_set_of(run)
    shared = (
        " Shared: other learners asked for exactly these settings, so it was trained once on this server; this "
        "copy is yours (training is seeded, so it is the run you would have got)."
        if run.shared_with
        else ""
    )
    took = (
        f"{duration(run.seconds)} of training (start-up and the test measurement not counted)"
        if waited is None
        else f"{duration(waited)} from your click to this result; training took {duration(run.seconds)} of it, the "
        "rest was starting the worker and measuring the test set"
    )
    return f"Test accuracy **{test} after {run.epochs_text} in {took}.{ended}{shared}"


def test_set_of(run: TrainingRun) -> str:
    """' on the 10,000 test images', or for an own-images run ' on 4 held-out images of your own images: shoes'."""
    if "test_images" not in run.config:
        return " on the 10,000 Fashion-MNIST test images"
    return f" on {run.config['test_images']:,} held-out images of {run.config.get('dataset', 'your own images')}"


def run_headline(run: TrainingRun) -> None:
    st.markdown(headline_text(run, st.session_state.get(TRAINING_WAITS, {}).get(run.run_id)))


def curves_caption(run: TrainingRun) -> str:
    """CURVES_CAPTION, and for a run stopped part-way through an epoch what its last dots cover."""
    if not run.stopped_mid_epoch:
        return CURVES_CAPTION
    done = math.floor(run.epochs_done * 100 + 1e-9) / 100
    return (
        f"{CURVES_CAPTION} This run stopped after {run.epochs_text}: its last dots, at {done:g}, cover only "
        f"the part of epoch {math.ceil(run.epochs_done)} it trained."
    )


def curves(run: TrainingRun) -> None:
    """A saved run's learning curves, its last epoch's dots where training stopped, and their caption."""
    figure = curves_figure(run.batch_curve, run.history, epochs_done=run.epochs_done)
    st.plotly_chart(
        figure, width="stretch", config=CHART_CONFIG, alt=figure_alt(figure, f"Learning curves: {headline_text(run)}")
    )
    st.caption(curves_caption(run))


def storage_caption() -> str:
    return (
        f"Your last {MAX_RUNS} runs are kept on this server for {MAX_AGE_DAYS} days, for this browser only: "
        "a refresh or a new visit shows them again."
    )
