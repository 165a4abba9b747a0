"""The Training page under AppTest (real training on small real subsets) and its Plotly builders."""

import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.charts.pictures import tile
from components.charts.training import (
    MAX_DRAWN_POINTS,
    curves_figure,
    feature_maps_figure,
    filters_figure,
    overlay_figure,
    square_columns,
    thin,
)
from components.framework.session_keys import (
    ARCHITECTURE_CONFIG,
    LEARNER,
    TRAINING_BATCH,
    TRAINING_EPOCHS,
    TRAINING_IMAGES,
    TRAINING_LR,
    TRAINING_MODEL,
    TRAINING_OPTIMIZER,
    TRAINING_SEED,
    TRAINING_TRAIN,
    training_cancel,
    training_stop,
)
from components.training_jobs import job_registry, run_store, status_text
from models.design.config import COURSE_CNN
from models.training.jobs import JobProgress
from models.training.recipes import RunSpec
from models.training.runs import TrainingRun
from tests.support import apptest

PAGE = "pages/training.py"


@pytest.fixture(autouse=True)
def _fresh_runs(fresh_runs):
    """Each test's runs train in a data folder of its own (see conftest.fresh_runs)."""


def open_page(session: dict | None = None, **settings) -> AppTest:
    """The page with the smallest, quickest settings (5,000 images, 1 epoch, batch 128) plus `settings`."""
    app = apptest.open_page(PAGE, **({"session": session} if session else {}))
    values = {"training_images": 5_000, "training_epochs": 1, "training_batch": 128, **settings}
    for key, value in values.items():
        widget = next(w for w in [*app.selectbox, *app.select_slider, *app.slider] if w.key == key)
        widget.set_value(value)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def click(app: AppTest, label: str) -> AppTest:
    next(button for button in app.button if button.label == label).click().run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def jobs(app: AppTest):
    """The app's learner's jobs that are queued or training."""
    return job_registry().jobs_for(app.session_state[LEARNER])


def finish_jobs(app: AppTest) -> list[TrainingRun]:
    """Wait for the learner's jobs to end, watching them as the page's live fragment does (AppTest does not run
    it on a timer, and a job nobody watches for 30 s stops itself)."""
    deadline = time.monotonic() + 240
    for job in jobs(app):
        while not job.wait(0.5):
            assert time.monotonic() < deadline, f"{job.name} did not end"
            for watched in jobs(app):
                watched.heartbeat()
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return run_store().runs(app.session_state[LEARNER])[0]


def job_button(app: AppTest, job):
    """The job's Stop button, or its Cancel button while it waits in the queue (for a moment after Train, longer
    on a busy machine)."""
    return next(b for b in app.button if b.key in (training_stop(job.id), training_cancel(job.id)))


def out_of_the_queue(app: AppTest, job) -> AppTest:
    """The page rerun once the job has left the queue, so its row shows Stop."""
    deadline = time.monotonic() + 120
    while job.progress().status == "queued":
        assert time.monotonic() < deadline, f"{job.name} stayed queued"
        job.heartbeat()  # as the page's live fragment does
        job.wait(0.05)
    return app.run()


def progress_texts(app: AppTest) -> list[str]:
    """The status lines of the progress bars (one per queued or training job)."""
    return [bar.proto.text for bar in app.get("progress")]


def table(app: AppTest):
    return app.dataframe[0].value


@pytest.mark.training
def test_train_runs_in_the_background_and_the_run_is_listed():
    app = click(open_page(training_model="Dense baseline (no conv layers)"), "Train")
    (job,) = jobs(app)
    assert job.name == "Run 1: dense baseline, 1 epoch"
    assert app.get("progress") or any("Queued" in i.value for i in app.info)
    (run,) = finish_jobs(app)
    assert isinstance(run, TrainingRun) and run.name == job.name and jobs(app) == []
    assert run.config["train_images"] == 4_500 and run.config["validation_images"] == 500
    assert 0.5 < run.test_accuracy <= 1.0 and len(run.history["val_accuracy"]) == 1
    rows = table(app)
    assert rows["run"].tolist() == [run.name] and rows["test acc"].tolist() == [pytest.approx(100 * run.test_accuracy)]
    # the recipe every run shares is said once under the table, not repeated in columns that push it off the page
    assert not {"parameters", "batch", "optimizer", "train images"} & set(rows.columns)
    assert any(
        c.value.startswith(
            f"Every run: parameters 101,770, batch {run.config['batch_size']}, "
            f"optimizer {run.config['optimizer']} {run.config['learning_rate']:g}, train images 4,500."
        )
        for c in app.caption
    ), [c.value for c in app.caption]
    assert [s.value for s in app.subheader][-2:] == ["3. Compare runs", "4. Look inside one run"]
    assert any("no filters to watch" in i.value for i in app.info)  # the dense net has no conv layer

    app.switch_page("pages/inspect.py").run()  # the Inspect page offers the trained run
    assert not app.exception and any(run.name in option for box in app.selectbox for option in box.options)
    app.switch_page(PAGE).run()
    assert table(app)["run"].tolist() == [run.name]  # leaving and returning keeps the runs


@pytest.mark.training
def test_clicking_train_twice_queues_one_job_and_its_state_shows_at_the_top():
    settings = dict(training_model="Dense baseline (no conv layers)", training_epochs=30)
    app = open_page(**settings)
    other_tab = open_page(session={LEARNER: app.session_state[LEARNER]}, **settings)  # drawn before the click
    click(app, "Train")
    (job,) = jobs(app)
    train = app.button(key=TRAINING_TRAIN)
    assert train.disabled and job.name in train.help  # the same run is queued or training: Train is off
    (text,) = progress_texts(app)
    assert text.startswith(f"**{job.name}**: ") and any(
        state in text for state in ("queued, number 1 in line", "starting (loading TensorFlow", "epoch 1 of 30")
    )
    elements = [e for e in app.main if e.type in ("progress", "button")]  # the state first: on the first screen
    assert elements[0].type == "progress" and elements.index(elements[0]) < elements.index(
        next(e for e in elements if getattr(e, "key", None) == TRAINING_TRAIN)
    )
    click(other_tab, "Train")  # a click that reached the server before a rerun turned Train off
    assert jobs(app) == [job]
    assert other_tab.error[0].value.startswith(f"Not started: {job.name} is already ")
    app.selectbox(key=TRAINING_MODEL).set_value("Course CNN").run()  # another run: Train is on again
    assert not app.button(key=TRAINING_TRAIN).disabled
    job_button(app, job).click().run()
    assert job.wait(120)


@pytest.mark.training
def test_stop_before_the_first_batch_keeps_nothing_and_says_so():
    app = click(open_page(training_model="Dense baseline (no conv layers)", training_epochs=30), "Train")
    (job,) = jobs(app)
    out_of_the_queue(app, job)
    next(b for b in app.button if b.key == training_stop(job.id)).click().run()  # the worker is still starting
    assert finish_jobs(app) == []
    warnings = [w.value for w in app.warning]
    assert any(w.endswith("Stopped before it trained: nothing kept.") for w in warnings), warnings


@pytest.mark.training
def test_stop_button_ends_the_run_and_keeps_it():
    app = click(open_page(training_model="Dense baseline (no conv layers)", training_epochs=30), "Train")
    (job,) = jobs(app)
    deadline = time.monotonic() + 120
    while job.progress().batch < 1:  # training has begun (a Stop before its first batch keeps nothing)
        assert time.monotonic() < deadline, "training did not start"
        job.heartbeat()
        time.sleep(0.05)
    app.run()
    stop = next(b for b in app.button if b.key == training_stop(job.id))
    stop.click().run()
    assert job.stop_event.is_set()
    (run,) = finish_jobs(app)
    assert run.stop_reason == "stopped by request" and len(run.history.get("loss", [])) < 30
    assert app.table[0].value["ended"].tolist() == ["stopped by request"]  # under "More columns"
    assert table(app)["epochs"].tolist() == [run.epochs_text.removesuffix(" epochs")] and run.epochs_done < 30
    assert any(f"after {run.epochs_text} in" in m.value for m in app.markdown)


def test_stop_is_acknowledged_on_the_clicks_own_rerun():
    """Stop's click sets the job's stop flag before its rerun draws the status line: that line says it is stopping
    (no ETA left standing while the worker finishes its batch)."""
    progress = JobProgress("running", 0, 1, 0, 2, 44, 141, 300.0, 42.0, 10.0, (), {})
    job = SimpleNamespace(name="Run 1: course CNN, 2 epochs", stopping=True, spec=RunSpec(COURSE_CNN))
    text = status_text(job, progress, job_registry())
    assert "stopping after the current batch (batch 44/141)" in text and "ETA" not in text
    job.stopping = False
    assert "ETA 42 s" in status_text(job, progress, job_registry())


@pytest.mark.training
def test_preset_queues_its_runs_and_overlays_them():
    app = open_page()
    app.number_input(key=TRAINING_SEED).set_value(23).run()  # a seed no other test trains: nothing to share
    app = click(app, "No conv layers")
    first, second = jobs(app)
    assert (first.spec.architecture, second.spec.architecture) == (None, COURSE_CNN)
    assert second.progress().status == "queued"
    assert any("queued, number 1 in line" in text for text in progress_texts(app))
    runs = finish_jobs(app)
    assert [r.name for r in runs] == ["Run 1: dense baseline, 1 epoch", "Run 2: course CNN, 1 epoch"]
    assert [r.stop_reason for r in runs] == [None, None] and [r.epochs_done for r in runs] == [1.0, 1.0]
    chosen = app.multiselect[0]
    assert chosen.value == [r.name for r in runs]  # the preset's runs are overlaid by default
    overlay = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert {trace["name"] for trace in overlay["data"]} == set(chosen.value)
    timeline = next(s for s in app.slider if s.label == "After epoch")
    assert (timeline.min, timeline.max, timeline.value) == (0, 1, 1)
    assert len(app.get("download_button")) == 3  # the model, the history, the notebook
    click(app, "No conv layers")  # again, same settings: both runs are the learner's already, none trains again
    assert jobs(app) == []
    notices = [i.value for i in app.info if "not trained again" in i.value]
    assert [n.split(":")[0] for n in notices] == ["Run 1", "Run 2"], notices


def test_a_design_that_cannot_be_built_shows_a_clear_error():
    app = apptest.open_page(PAGE, session={ARCHITECTURE_CONFIG: {**COURSE_CNN.to_dict(), "conv_blocks": 4}})
    next(w for w in app.selectbox if w.key == "training_model").set_value("My design from the Architecture page")
    app.run()
    assert any("4 conv layers" in c.value for c in app.caption)
    click(app, "Train")
    assert jobs(app) == []
    assert "conv4" in app.error[0].value and "does not fit" in app.error[0].value


def test_train_this_network_preselects_the_architecture_design():
    from components.framework.session_keys import TRAIN_DESIGN_REQUEST

    design = {**COURSE_CNN.to_dict(), "filters": 16}
    app = apptest.open_page(PAGE, session={ARCHITECTURE_CONFIG: design, TRAIN_DESIGN_REQUEST: True})
    assert next(w for w in app.selectbox if w.key == "training_model").value == "My design from the Architecture page"


# ---------------------------------------------------------------- chart builders


def test_curves_figure_puts_batches_and_epochs_on_one_epoch_axis():
    curve = [(i / 4, 2.0 - i / 10, i / 10) for i in range(1, 9)]
    history = {"loss": [1.8, 1.4], "accuracy": [0.2, 0.6], "val_loss": [1.7, 1.5], "val_accuracy": [0.3, 0.5]}
    fig = curves_figure(curve, history, epochs=3)
    names = [(t.name, t.xaxis) for t in fig.data]
    assert names == [
        ("training, per batch (smoothed)", "x"),
        ("training, per epoch", "x"),
        ("validation, per epoch", "x"),
        ("training, per batch (smoothed)", "x2"),
        ("training, per epoch", "x2"),
        ("validation, per epoch", "x2"),
    ]
    assert list(fig.data[0].x) == [p[0] for p in curve] and list(fig.data[3].y) == [p[2] for p in curve]
    assert list(fig.data[2].x) == [1, 2] and list(fig.data[5].y) == [0.3, 0.5]
    assert fig.layout.xaxis.range == (0, 3 * 1.02)


def test_thin_keeps_at_most_the_limit_and_the_last_point():
    points = [(float(i), 0.0, 0.0) for i in range(2_501)]
    kept = thin(points)
    assert len(kept) <= MAX_DRAWN_POINTS + 1 and kept[0] == points[0] and kept[-1] == points[-1]
    assert thin(points[:10]) == points[:10]


def test_overlay_draws_validation_solid_and_training_dashed_per_run():
    runs = [
        ("a", {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7], "val_loss": [1.1, 0.6], "val_accuracy": [0.4, 0.6]}, 2.0),
        ("b", {"loss": [0.9], "accuracy": [0.6]}, 1.0),
    ]
    fig = overlay_figure(runs)
    assert [(t.name, t.line.dash) for t in fig.data] == [
        ("a", "solid"),
        ("a", "dash"),
        ("a", "solid"),
        ("a", "dash"),
        ("b", "dash"),
        ("b", "dash"),
    ]
    assert [t.showlegend for t in fig.data] == [True, False, False, False, True, False]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[4].line.color


def test_tile_lays_tiles_out_with_nan_gaps():
    tiles = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    out = tile(tiles, columns=2)
    assert out.shape == (3 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(out[0:2, 4:7], tiles[1])
    np.testing.assert_array_equal(out[6:8, 0:3], tiles[4])
    assert np.isnan(out[2]).all() and np.isnan(out[:, 3]).all() and np.isnan(out[6:, 4:]).all()
    assert [square_columns(n) for n in (1, 16, 32, 64)] == [1, 4, 6, 8]


def test_filter_and_feature_map_figures_show_the_true_values_on_hover():
    rng = np.random.default_rng(0)
    kernels = rng.normal(size=(3, 3, 4)).astype(np.float32)
    fig = filters_figure(kernels, columns=2)
    heatmap = fig.data[0]
    z, custom = np.array(heatmap.z, dtype=float), np.array(heatmap.customdata, dtype=float)
    np.testing.assert_allclose(custom[0:3, 4:7, 1], kernels[:, :, 1], rtol=1e-6)
    assert np.all(custom[0:3, 4:7, 0] == 2)
    np.testing.assert_allclose(z[0:3, 0:3], kernels[:, :, 0] / np.abs(kernels[:, :, 0]).max(), rtol=1e-6)
    maps = np.abs(rng.normal(size=(5, 5, 3))).astype(np.float32)
    fig = feature_maps_figure(maps)
    custom = np.array(fig.data[0].customdata, dtype=float)
    np.testing.assert_allclose(custom[6:11, 0:5, 1], maps[:, :, 2], rtol=1e-6)  # 3 maps: a 2 x 2 grid
    assert np.nanmax(np.array(fig.data[0].z, dtype=float)) == pytest.approx(1.0)


# ---------------------------------------------------------------- in a real browser


@pytest.mark.training
def test_browser_shows_live_charts_then_compares_two_runs(app_url, page):
    from tests.support.browser import AXE_RUN, axe_script, legend_clashes, screenshot, wait_until_idle

    page.set_viewport_size({"width": 1280, "height": 800})  # a laptop
    page.goto(f"{app_url}/training")
    wait_until_idle(page)
    set_slider(page, "Training images", "Home")  # 5,000 images
    set_slider(page, "Epochs", *["ArrowLeft"] * 3)  # 2 epochs
    seed = page.get_by_role("spinbutton", name="Seed")  # a seed no other test trains: it trains here, not shared
    seed.fill("41")
    seed.press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    live = '.st-key-live-training [data-testid="stPlotlyChart"]'
    page.wait_for_selector(f"{live} .scatterlayer .trace", timeout=180_000)  # the curves are being drawn
    assert page.locator('[data-testid="stProgress"]').count() == 1
    chart = page.evaluate(  # right after Train the live curves are whole on the laptop's first screen
        "s => { const box = document.querySelector(s).getBoundingClientRect(); return box.bottom "
        "+ document.querySelector('[data-testid=stMain]').scrollTop; }",
        live,
    )
    assert chart <= 800 and legend_clashes(page) == []
    screenshot(page, "training-live")
    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=180_000)
    page.wait_for_selector(live, state="detached")  # the run has moved from "Training now" to the runs

    set_slider(page, "Epochs", "ArrowLeft")  # 1 epoch
    page.get_by_role("button", name="No conv layers").click()
    tags = '[data-testid="stMultiSelectTagsContainer"] [data-tag]'
    page.wait_for_selector(f'{tags}[aria-label^="Run 3: course CNN"]', timeout=300_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(tags).all_inner_texts() == ["Run 2: dense baseline, 1 epoch", "Run 3: course CNN, 1 epoch"]
    screenshot(page, "training-compare")
    # WCAG 2.1 AA with runs on the page (headlines, the comparison table and overlay), and on Inspect, which lists them
    page.add_script_tag(path=str(axe_script()))
    found = {"training": page.evaluate(AXE_RUN)}
    page.goto(f"{app_url}/inspect")
    wait_until_idle(page)
    page.add_script_tag(path=str(axe_script()))
    found["inspect"] = page.evaluate(AXE_RUN)
    assert found == {"training": [], "inspect": []}


def set_slider(page, label: str, *keys: str) -> None:
    """Move a Streamlit slider with the keyboard, then wait for the rerun it triggers."""
    from tests.support.browser import wait_until_idle

    slider = page.get_by_role("slider", name=label)
    slider.focus()
    for key in keys:
        page.keyboard.press(key)
    slider.blur()
    wait_until_idle(page)


# ---------------------------------------------------------------- shareable links


def linked_page(**query: str) -> AppTest:
    return apptest.open_page(PAGE, **query)


def test_a_link_opens_its_model_and_recipe_and_follows_changes():
    app = linked_page(model="dense", images="5000", epochs="3", present="1")
    assert app.selectbox(key=TRAINING_MODEL).value == "Dense baseline (no conv layers)"
    assert app.select_slider(key=TRAINING_IMAGES).value == 5_000
    assert app.slider(key=TRAINING_EPOCHS).value == 3
    app.selectbox(key=TRAINING_MODEL).set_value("Course CNN").run()
    app.slider(key=TRAINING_EPOCHS).set_value(7).run()
    assert app.query_params == {"images": "5000", "epochs": "7", "present": "1"}


def test_a_link_opens_the_whole_recipe():
    app = linked_page(batch="128", optimizer="sgd", lr="0.003", seed="7")
    assert app.selectbox(key=TRAINING_BATCH).value == 128
    assert app.selectbox(key=TRAINING_OPTIMIZER).value == "sgd"
    assert app.select_slider(key=TRAINING_LR).value == 0.003
    assert app.number_input(key=TRAINING_SEED).value == 7
    app.number_input(key=TRAINING_SEED).set_value(8).run()
    assert app.query_params == {"batch": "128", "optimizer": "sgd", "lr": "0.003", "seed": "8"}


def test_a_garbled_link_falls_back_to_the_defaults_and_says_what_it_ignored():
    app = linked_page(model="resnet", images="100", epochs="31")
    assert [w.value.split(" was ignored")[0] for w in app.warning] == [
        "The link's model='resnet'",
        "The link's images='100'",
        "The link's epochs='31'",
    ]
    assert app.selectbox(key=TRAINING_MODEL).value == "Course CNN"
    assert (app.select_slider(key=TRAINING_IMAGES).value, app.slider(key=TRAINING_EPOCHS).value) == (20_000, 5)
    assert app.query_params == {}


# ---------------------------------------------------------------- runs that outlive the browser session


def reopened(app: AppTest) -> AppTest:
    """A new browser session of the same learner (a refresh): only the token carries over, as the cookie does."""
    return apptest.open_page(PAGE, session={LEARNER: app.session_state[LEARNER]})


@pytest.mark.training
def test_a_refresh_reattaches_to_the_training_job_and_then_shows_its_run():
    app = click(open_page(training_model="Dense baseline (no conv layers)", training_epochs=3), "Train")
    (job,) = jobs(app)
    refreshed = reopened(app)
    assert any(job.name in text for text in progress_texts(refreshed))
    assert job_button(refreshed, job)  # the same job, still queued or training
    stranger = apptest.open_page(PAGE)
    assert not progress_texts(stranger) and not stranger.dataframe
    (run,) = finish_jobs(refreshed)
    assert run.name == job.name and table(reopened(app))["run"].tolist() == [job.name]
    stranger.run()
    assert not stranger.dataframe  # another learner never sees it


@pytest.mark.training
def test_a_damaged_saved_run_is_skipped_with_a_notice():
    app = click(open_page(training_model="Dense baseline (no conv layers)"), "Train")
    (run,) = finish_jobs(app)
    (run.folder / "arrays.npz").unlink()
    again = reopened(app)
    notice = f"A saved run ({run.run_id}) could not be read and is skipped"
    assert any(w.value.startswith(notice) for w in again.warning)
    assert any("No finished runs yet" in i.value for i in again.info)


def test_the_no_conv_experiment_says_what_a_short_run_shows_and_where_the_real_gap_is():
    from models.design.card import DENSE_CARD, read_model_card

    cnn, dense = read_model_card()["test_accuracy"], read_model_card(DENSE_CARD)["test_accuracy"]
    captions = [c.value for c in open_page().caption]
    (text,) = [c for c in captions if c.startswith("The dense baseline (Flatten -> Dense 128 -> Dense 10)")]
    assert "On a few thousand images and one epoch they tie or the dense network wins" in text
    assert f"the shipped CNN scores {cnn:.2%} on the test images, the dense network {dense:.2%}" in text
    assert (f"{cnn:.2%}", f"{dense:.2%}") == ("91.11%", "87.93%")
