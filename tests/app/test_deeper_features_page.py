"""Deeper, What filters want, under streamlit.testing: the shipped model opens from its saved pictures without
computing anything; a learner's small untrained run computes on demand, feeding the progress bar."""

import json

import keras
import numpy as np
import pytest

from components.framework.session_keys import (
    DEEPER_FEATURES_COMPUTE,
    DEEPER_FEATURES_LAYER,
    DEEPER_FEATURES_UNIT,
    DEEPER_FEATURES_WEIGHTS,
    DEEPER_MODEL,
    LEARNER,
)
from components.sections import deeper_features as section
from components.training_jobs import run_store
from models.design.config import CNNConfig
from models.explain import feature_vis as fv
from models.networks.zoo import build_cnn, load_model_file
from tests.support.apptest import checked, open_page

PAGE = "pages/deeper.py"


def captions(app) -> list[str]:
    """Every st.image caption on the page, in order."""
    return [img.caption for element in app.get("image") for img in element.proto.imgs]


def test_shipped_model_opens_from_its_saved_pictures(monkeypatch):
    def no_compute(*args, **kwargs):
        raise AssertionError("the shipped model's pictures must come from models/fashion_cnn.features.npz")

    monkeypatch.setattr(fv, "features", no_compute)
    app = open_page(PAGE, tab="features")
    assert not app.button, "no Compute button for the shipped model"
    assert any("Computed once for the shipped model (256 ascent steps, all 60,000" in c.value for c in app.caption)
    saved = fv.read_features(fv.FEATURES_FILE, fv.weights_key(load_model_file()))
    app.segmented_control(key=DEEPER_FEATURES_LAYER).set_value("conv2").run()
    app.number_input(key=DEEPER_FEATURES_UNIT).set_value(5).run()
    checked(app)
    patches = saved.trained["conv2"].patches
    expected = [f"#{i}: {v:.2f}" for i, v in zip(patches.indices[5], patches.values[5])]
    assert captions(app)[-9:] == expected
    app.segmented_control(key=DEEPER_FEATURES_WEIGHTS).set_value("At initialisation (random)").run()
    checked(app)
    patches = saved.initial["conv2"].patches
    assert captions(app)[-9:] == [f"#{i}: {v:.2f}" for i, v in zip(patches.indices[5], patches.values[5])]
    app.segmented_control(key=DEEPER_FEATURES_LAYER).set_value(section.CLASSES).run()
    checked(app)
    assert "class 5 (Sandal)" in captions(app)[1]


def save_untrained_run(learner: str) -> None:
    """A learner's run of an 8-filter CNN saved straight after initialisation (seed 0), as a worker leaves it."""
    config = CNNConfig(filters=8)
    keras.utils.set_random_seed(0)
    model = build_cnn(config)
    store = run_store()
    staging = store.staging_folder()
    model.save(staging / "model.keras")
    kernel = model.get_layer("conv1").get_weights()[0][:, :, 0, :]
    np.savez_compressed(
        staging / "arrays.npz",
        batch_curve=np.zeros((0, 3), np.float32),
        kernels=kernel[None],
        feature_maps=np.zeros((1, 26, 26, 8), np.float32),
        sample=np.zeros((28, 28), np.uint8),
        sample_label=np.array(0),
    )
    record = {
        "name": "tiny",
        "config": {"architecture": config.to_dict(), "first_layer": "learned", "seed": 0},
        "history": {"loss": [2.3]},
        "seconds": 1.0,
        "test_accuracy": 0.1,
    }
    (staging / "run.json").write_text(json.dumps(record))
    store.commit(learner, staging)


@pytest.mark.training
@pytest.mark.filterwarnings("ignore")
def test_a_training_run_computes_on_demand_with_progress(monkeypatch):
    monkeypatch.setattr(section, "RUN_BUDGET", fv.Budget(steps=8, images=300))
    calls: list[list[float]] = []  # each call's progress fractions
    compute = fv.features

    def recorded(model, images, budget, progress=None, settings=None):
        assert budget == fv.Budget(8, 300)
        calls.append([])

        def report(done, text):
            calls[-1].append(done)
            progress(done, text)

        return compute(model, images, budget, report, settings)

    monkeypatch.setattr(fv, "features", recorded)
    save_untrained_run("features-learner")
    app = open_page(PAGE, tab="features", session={LEARNER: "features-learner"})
    app.selectbox(key=DEEPER_MODEL).set_value(1).run()
    checked(app)
    assert any("8 ascent steps" in c.value and "first 300 training images" in c.value for c in app.caption)
    app.button(key=DEEPER_FEATURES_COMPUTE).click().run(timeout=300)
    checked(app)
    assert len(calls) == 2  # after training, then at initialisation
    for fractions in calls:
        assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)
    assert app.segmented_control(key=DEEPER_FEATURES_WEIGHTS).options == [
        "After training",
        "At initialisation (random)",
    ]
    assert app.number_input(key=DEEPER_FEATURES_UNIT).max == 7
    assert len(captions(app)) == 1 + 2 + 9  # the grid, trained and initial pictures, 9 patches
    app.run()  # a rerun reads the kept pictures: no second computation
    checked(app)
    assert not app.button and len(calls) == 2
