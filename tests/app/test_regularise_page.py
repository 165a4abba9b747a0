"""The Training page's fight against overfitting under AppTest: the controls, their link, the augmented-image preview,
the 'Fight overfitting' experiment and a real run's regularisation and gaps in the comparison table."""

from dataclasses import replace

import numpy as np
import pytest

from components.framework.session_keys import (
    LEARNER,
    TRAINING_AUGMENT_PREVIEW,
    TRAINING_DROPOUT,
    TRAINING_EARLY,
    TRAINING_FLIP,
    TRAINING_L2,
    TRAINING_MODEL,
    TRAINING_ROTATE,
    TRAINING_SHIFT,
    TRAINING_VALIDATION,
    TRAINING_ZOOM,
)
from components.sections.training_regularise import _preview_grid
from components.training_jobs import job_registry
from models.design.config import COURSE_CNN
from models.networks.augmentation import augmented_copies
from models.training.recipes import PRESETS
from tests.app.test_training_page import click, finish_jobs
from tests.app.test_training_page import open_page as quick_page
from tests.support import apptest

PAGE = "pages/training.py"
TOGGLES = (TRAINING_SHIFT, TRAINING_ROTATE, TRAINING_ZOOM, TRAINING_FLIP)


def toggles(app) -> dict[str, bool]:
    return {key: app.toggle(key=key).value for key in (*TOGGLES, TRAINING_EARLY)}


def test_a_link_opens_the_regularisation_and_follows_changes():
    app = apptest.open_page(PAGE, shift="1", flip="1", dropout="0.5", l2="0.0001", early="1")
    assert toggles(app) == {
        TRAINING_SHIFT: True,
        TRAINING_ROTATE: False,
        TRAINING_ZOOM: False,
        TRAINING_FLIP: True,
        TRAINING_EARLY: True,
    }
    assert (app.select_slider(key=TRAINING_DROPOUT).value, app.select_slider(key=TRAINING_L2).value) == (0.5, 1e-4)
    app.toggle(key=TRAINING_SHIFT).set_value(False).run()
    app.toggle(key=TRAINING_ZOOM).set_value(True).run()
    app.select_slider(key=TRAINING_L2).set_value(0.0).run()
    assert app.query_params == {"flip": "1", "zoom": "1", "dropout": "0.5", "early": "1"}


def test_bad_regularisation_values_in_the_link_warn_and_fall_back():
    app = apptest.open_page(PAGE, shift="yes", dropout="0.9", l2="-1", early="2")
    assert [w.value for w in app.warning] == [
        "The link's shift='yes' was ignored (not one of the choices (0, 1)); using the default, 0.",
        "The link's dropout='0.9' was ignored (not one of the choices (0.0, 0.2, 0.3, 0.5)); using the default, 0.0.",
        "The link's l2='-1' was ignored (not one of the choices (0.0, 1e-05, 0.0001, 0.001)); using the default, 0.0.",
        "The link's early='2' was ignored (not one of the choices (0, 1)); using the default, 0.",
    ]
    assert not any(toggles(app).values()) and app.select_slider(key=TRAINING_DROPOUT).value == 0.0
    assert app.query_params == {}


def test_the_model_options_need_a_cnn_and_early_stopping_needs_a_validation_split():
    app = apptest.open_page(PAGE, model="dense", early="1")
    assert all(app.toggle(key=key).disabled for key in TOGGLES) and app.select_slider(key=TRAINING_L2).disabled
    assert any("the dense baseline stays last week's network" in c.value for c in app.caption)
    app.slider(key=TRAINING_VALIDATION).set_value(0.0).run()
    assert app.toggle(key=TRAINING_EARLY).disabled
    assert any("Early stopping is off: it watches the validation loss" in c.value for c in app.caption)
    app.selectbox(key=TRAINING_MODEL).set_value("Course CNN").run()
    assert not any(app.toggle(key=key).disabled for key in TOGGLES)


def test_the_preview_shows_real_training_images_through_the_same_layers(fashion):
    app = apptest.open_page(PAGE)
    assert not [t for t in app.toggle if t.key == TRAINING_AUGMENT_PREVIEW]  # nothing to preview yet
    app.toggle(key=TRAINING_ROTATE).set_value(True).run()
    app.toggle(key=TRAINING_AUGMENT_PREVIEW).set_value(True).run()
    apptest.checked(app)
    (image,) = app.get("image")
    assert len(image.proto.imgs) == 1
    caption = next(c.value for c in app.caption if c.value.startswith("Top row"))
    assert "RandomRotation layers the model starts with (called with training=True)" in caption
    (x_train, _), _ = fashion  # the grid: originals on top, then each copy, 3x enlarged, 2 grey pixels between
    grid = _preview_grid(("rotation",))
    copies = augmented_copies(x_train[:8], ("rotation",), 4, seed=0)
    assert grid.shape == (5 * 84 + 4 * 2, 8 * 84 + 7 * 2) and grid.dtype == np.uint8
    for column in range(8):
        left = column * 86
        np.testing.assert_array_equal(grid[:84, left : left + 84], np.kron(x_train[column], np.ones((3, 3), np.uint8)))
        for copy in range(4):
            top = (copy + 1) * 86
            expected = np.round(np.kron(copies[column, copy], np.ones((3, 3))) * 255)
            np.testing.assert_array_equal(grid[top : top + 84, left : left + 84], expected)
    assert not np.array_equal(grid[86:170, :84], grid[:84, :84])


def test_fight_overfitting_queues_its_four_runs():
    app = quick_page()
    click(app, "Fight overfitting")
    queued = job_registry().jobs_for(app.session_state[LEARNER])
    try:
        specs = [job.spec for job in queued]
        assert specs == PRESETS["Fight overfitting"].runs(specs[0])  # the page's recipe, the preset's changes
        assert [spec.architecture.augmentations for spec in specs] == [(), ("flip", "shift", "rotation", "zoom")] * 2
        assert [spec.architecture.dropout for spec in specs] == [0.0, 0.0, 0.5, 0.5]
        assert {(s.train_images, s.validation_split, s.recipe.epochs, s.recipe.batch_size) for s in specs} == {
            (10_000, 0.2, 8, 128)
        }
    finally:
        for job in reversed(queued):
            job.stop()
        for job in queued:
            assert job.wait(120)


@pytest.mark.training
def test_a_regularised_run_shows_its_recipe_and_gaps_in_the_table():
    app = quick_page(training_dropout=0.3, training_l2=1e-4)
    app.toggle(key=TRAINING_SHIFT).set_value(True)
    app.toggle(key=TRAINING_EARLY).set_value(True).run()
    click(app, "Train")
    (job,) = job_registry().jobs_for(app.session_state[LEARNER])
    assert job.spec.architecture == replace(COURSE_CNN, dropout=0.3, l2=1e-4, augment_shift=True)
    assert job.spec.recipe.early_stopping and job.spec.recipe.patience == 2
    (run,) = finish_jobs(app)
    row = app.dataframe[0].value.iloc[-1]
    history = run.history
    assert row["gap"] == pytest.approx(100 * (history["accuracy"][-1] - history["val_accuracy"][-1]))  # points
    more = app.table[0].value.iloc[-1]  # under "More columns"
    assert more["against overfitting"] == "shift, dropout 0.3, L2 0.0001, early stop (patience 2)"
    assert more["best epoch"] == "1" and more["gap at best"] == f"{row['gap']:.2f} pt"
