"""The Week 3 tour: its answers against Keras, and the page under AppTest (Next / Back, reveal, ?step=, training)."""

import json
import math
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.framework.session_keys import DEEPER_FIELDS_LAYER, FILTERS_LIBRARY, INSPECT_SOURCE, LEARNER, TOUR_STEP
from components.teaching.tour import TOUR_KERNEL, TOUR_RUN, steps
from components.training_jobs import job_registry, run_store
from models.design.card import MODEL_CARD, read_model_card
from models.design.config import COURSE_CNN
from models.networks.zoo import course_cnn, course_dnn
from models.ops.kernels import KERNELS
from models.training.jobs import TrainingJob
from models.training.recipes import RunSpec, TrainConfig
from tests.conftest import DONE
from tests.support.apptest import APP, figures, open_page
from tests.support.browser import ROOT

PAGE = "pages/tour.py"
STEPS = steps()


@pytest.fixture(autouse=True)
def _fresh_runs(fresh_runs):
    """Each test's runs train in a data folder of its own (see conftest.fresh_runs)."""


def tour(**query: str) -> AppTest:
    return open_page(PAGE, timeout=180, **query)


def press(app: AppTest, key: str) -> AppTest:
    next(button for button in app.button if button.key == key).click().run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def step_header(app: AppTest) -> str:
    return app.header[0].value


def lesson_link(app: AppTest) -> tuple[str, str]:
    """Where the step's "This view on the full ... page" link goes: the page's URL path and its query string."""
    (link,) = app.get("page_link")
    return link.proto.page, link.proto.query_string


def shows_the_training_run_and_the_shipped_model(app: AppTest) -> bool:
    train = next(b for b in app.button if b.key == "tour_train")
    assert (train.label, train.disabled) == ("Train the course CNN, 2 epochs", False)
    card = json.loads(MODEL_CARD.read_text())  # the shipped model's own record, not the page's reader
    assert [c.value for c in app.caption] == [
        f"For comparison: the shipped model, the same recipe on {card['train_images']:,} images for "
        f"{card['epochs']} epochs, reaches {100 * card['test_accuracy']:.2f}% on the 10,000 test images."
    ]
    assert lesson_link(app) == ("training", "model=course&images=5000&epochs=2")
    return True


def shows_the_course_trio_through_every_layer(app: AppTest) -> bool:
    assert app.radio(key=INSPECT_SOURCE).value == "Course trio"
    grid = figures(app)[0]
    texts = [a["text"] for a in grid["layout"]["annotations"]]
    assert texts[:5] == [
        "input 28x28",
        "conv1 26x26<br>filter 1",
        "pool1 13x13<br>pooled conv1",
        "conv2 11x11<br>new filter 1",  # conv2's own filter 1, not conv1's again
        "pool2 5x5<br>pooled conv2",
    ]
    assert [text.split("<br>")[0] for text in texts[5:]] == ["#0 Ankle boot", "#23 Ankle boot", "#28 Ankle boot"]
    assert len(grid["data"]) == 3 * 5  # three test images x (input + four layers)
    assert lesson_link(app) == ("inspect", "")  # the course trio is the Inspect page's default
    return True


# ---------------------------------------------------------------- the answers, checked against Keras


def test_answers_match_keras():
    answers = {step.key: step.answer for step in STEPS}
    dense = course_dnn().get_layer(index=1)
    assert answers["why"].startswith(f"784 x 128 + 128 = {dense.count_params():,}: ")
    assert f"{course_dnn().count_params():,} parameters" in answers["why"]
    conv = sum(layer.count_params() for layer in course_cnn().layers if isinstance(layer, keras.layers.Conv2D))
    assert answers["why"].endswith(f"conv layers together have only {conv:,}.")
    shapes = {layer.name: "x".join(map(str, layer.output.shape[1:])) for layer in course_cnn().layers}
    assert answers["model"].startswith(f"{shapes['pool2']}: conv2 gives {shapes['conv2']}, ")
    assert answers["model"].endswith(f"Flatten makes it {int(shapes['flatten']):,} numbers.")
    assert answers["maps"].startswith(f"64 maps of 26x26 ({shapes['conv1']})")

    item = np.random.default_rng(0).random((1, 28, 28, 1)).astype("float32")
    layer = keras.layers.Conv2D(1, 3, padding="valid")
    conv_out = layer(item)
    assert answers["filter"].startswith(f"{conv_out.shape[1]}x{conv_out.shape[2]}: ")
    pooled = keras.layers.MaxPooling2D(2)(conv_out)
    kept = pooled.shape[1] * pooled.shape[2]
    assert answers["pooling"].startswith(f"{pooled.shape[1]}x{pooled.shape[2]} (")
    assert answers["pooling"].endswith(f"{kept} values, {kept / (conv_out.shape[1] * conv_out.shape[2]):.0%}.")
    assert "-1, -2, -1 in its left column and +1, +2, +1 in its right" in STEPS[1].text
    assert np.array_equal(KERNELS[TOUR_KERNEL].weights[:, 0], [-1, -2, -1])


@pytest.mark.training
def test_training_answer_is_the_training_jobs_batch_count():
    spec = RunSpec(recipe=TrainConfig(epochs=2, batch_size=32), train_images=5_000, validation_split=0.1)
    steps_per_epoch = TrainingJob(spec, "tour", learner="x").progress().steps
    assert STEPS[4].answer.startswith(f"ceil(4,500 / 32) = {steps_per_epoch}: ")
    assert steps_per_epoch == math.ceil(4_500 / 32) == 141 and TOUR_RUN == replace(spec, architecture=COURSE_CNN)
    assert STEPS[4].answer.endswith("140 full batches of 32 and a last one of 20.")


# ---------------------------------------------------------------- the page


def test_next_and_back_walk_every_step_and_keep_the_step_in_the_link():
    app = tour(present="1")
    assert app.title[0].value == "Week 3 tour"
    for index, step in enumerate(STEPS):
        assert step_header(app) == f"{index + 1}. {step.title}"
        assert app.session_state[TOUR_STEP] == index
        assert app.query_params == {"step": str(index + 1), "present": "1"}
        assert any(m.value == f"**Predict first:** {step.question}" for m in app.markdown)
        if index < len(STEPS) - 1:
            press(app, "tour_next_top")
    assert next(b for b in app.button if b.key == "tour_next_bottom").disabled
    press(app, "tour_back_bottom")
    last = len(STEPS) - 1  # Back from the last step
    assert step_header(app) == f"{last}. {STEPS[last - 1].title}" and app.query_params["step"] == str(last)


@pytest.mark.parametrize("index", range(len(STEPS)))
def test_every_step_shows_its_live_widget_and_reveals_its_answer(index):
    app = tour(step=str(index + 1))
    step = STEPS[index]
    assert step_header(app) == f"{index + 1}. {step.title}"
    assert not app.success
    app.toggle(key=f"tour_reveal_{index}").set_value(True).run()
    assert not app.exception
    assert [s.value for s in app.success] == [step.answer]
    widgets = {
        "why": lambda: any("2.4x the dense network's parameters" in m.value for m in app.markdown),
        "filter": lambda: app.selectbox(key=FILTERS_LIBRARY).value == TOUR_KERNEL,
        "pooling": lambda: [m.value for m in app.metric][:2] == ["26x26", "13x13"],
        "model": lambda: list(app.table[0].value["Output"])[4] == "5x5x64",
        "training": lambda: shows_the_training_run_and_the_shipped_model(app),
        "maps": lambda: shows_the_course_trio_through_every_layer(app),
        "deeper": lambda: shows_a_conv2_units_receptive_field(app),
    }
    assert widgets[step.key]()


def shows_a_conv2_units_receptive_field(app: AppTest) -> bool:
    assert app.session_state[DEEPER_FIELDS_LAYER] == "conv2"
    assert not any("grows layer by layer" in m.value for m in app.markdown)  # the step's text says it instead
    assert len(figures(app)) == 3  # the layer's map, the image with the square, the gradient
    assert lesson_link(app) == ("deeper", "tab=fields&image=0")
    return True


def test_the_beyond_week_3_step_works_out_a_conv2_units_field():
    step = STEPS[-1]
    assert step.key == "deeper" and step.title.startswith("Beyond week 3")
    assert "a 3x3x64 block, one 3x3 slice per map, and adds the 64 results, 576 multiplications" in step.text
    assert "neighbouring units are 2 input pixels apart and each see 4x4" in step.question
    assert step.answer.startswith("8x8: r = 4 + (3 - 1) x 2 = 8.")


def test_a_garbled_step_falls_back_to_the_first_with_a_notice():
    app = tour(step="9")
    assert [w.value for w in app.warning] == [
        f"The link's step='9' was ignored (outside 1-{len(STEPS)}); using the default, 1."
    ]
    assert step_header(app) == f"1. {STEPS[0].title}" and app.query_params == {"step": "1"}


def test_the_training_step_trains_the_course_cnn_briefly_and_shows_the_run():
    app = tour(step="5")
    press(app, "tour_train")
    (job,) = job_registry().jobs_for(app.session_state[LEARNER])
    assert job.name == f"Run 1: course CNN, {TOUR_RUN.recipe.epochs} epochs"
    assert job.progress().steps == 141
    assert next(b for b in app.button if b.key == "tour_train").disabled
    deadline = time.monotonic() + DONE
    while not job.wait(0.5):  # watched as the page's live fragment watches it (AppTest runs no timer)
        assert time.monotonic() < deadline, "the tour's run did not end"
        job.heartbeat()
    app.run()
    (run,) = run_store().runs(app.session_state[LEARNER])[0]
    assert run.config["train_images"] == 4_500 and len(run.history["loss"]) == TOUR_RUN.recipe.epochs
    assert any(
        m.value.startswith(
            f"Test accuracy **{run.test_accuracy:.2%}** on the 10,000 Fashion-MNIST test images after 2 epochs"
        )
        for m in app.markdown
    )
    card = read_model_card()
    assert any(f"{card['epochs']} epochs, reaches {card['test_accuracy']:.2%}" in c.value for c in app.caption)
    assert not next(b for b in app.button if b.key == "tour_train").disabled


def test_the_first_four_steps_run_without_tensorflow():
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from streamlit.testing.v1 import AppTest
        app = AppTest.from_file({APP!r}, default_timeout=60).run()
        app.switch_page({PAGE!r}).run()
        for _ in range(3):
            next(b for b in app.button if b.key == "tour_next_top").click().run()
        assert not app.exception and app.header[0].value.startswith("4. "), app.header
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
