"""Inspect, Why this prediction under streamlit.testing: occlusion and SmoothGrad beside saliency and Grad-CAM, their
controls, the message for a bad patch, and the settings kept while the tab is closed."""

import numpy as np
import pytest

from components.framework.session_keys import (
    INSPECT_INDEX,
    INSPECT_MODEL,
    INSPECT_OCCLUSION_FILL,
    INSPECT_OCCLUSION_PATCH,
    INSPECT_OCCLUSION_STRIDE,
    INSPECT_SMOOTHGRAD_NOISE,
    INSPECT_SMOOTHGRAD_SAMPLES,
    INSPECT_TAB,
    LEARNER,
)
from models.explain import attribution as att
from models.networks.zoo import load_model_file
from tests.support.apptest import checked, figures, open_page, plotly_array

WHY = "Why this prediction"
COLUMNS = ["input", "saliency", "SmoothGrad", "Grad-CAM (conv2)", "occlusion"]


def open_why():
    return open_page("pages/inspect.py", timeout=180, session={INSPECT_TAB: WHY})


def grid(app) -> dict:
    return next(f for f in figures(app) if [a["text"] for a in f["layout"].get("annotations", [])][:1] == ["input"])


def titles(app) -> list[str]:
    return [a["text"] for a in grid(app)["layout"]["annotations"]]


def text(app) -> str:
    return " ".join(m.value for m in app.markdown)


@pytest.fixture(scope="module")
def model():
    return load_model_file()


def test_occlusion_and_smoothgrad_stand_beside_saliency_and_grad_cam(model, fashion):
    app = open_why()
    assert titles(app) == COLUMNS
    assert app.number_input(key=INSPECT_OCCLUSION_PATCH).value == 4
    assert app.number_input(key=INSPECT_OCCLUSION_STRIDE).value == 2
    assert app.radio(key=INSPECT_OCCLUSION_FILL).value == "grey"
    assert app.slider(key=INSPECT_SMOOTHGRAD_NOISE).value == pytest.approx(0.15)
    assert app.slider(key=INSPECT_SMOOTHGRAD_SAMPLES).value == 25
    said = text(app)
    assert "**Occlusion** asks the model directly: a 4x4 patch of grey (0.5), moved 2 pixels" in said
    assert "(13x13 positions, each a prediction)" in said
    assert "**SmoothGrad** averages the saliency maps of 25 noisy copies" in said
    # the largest drop the text names, against the model's own prediction of that patched image
    (_, _), (x_test, _) = fashion
    pixels = x_test[23].astype(np.float32) / 255.0
    clean = np.asarray(model(pixels[None, :, :, None], training=False))[0]
    sandal = 5
    drops = {}
    for top in range(0, 25, 2):
        for left in range(0, 25, 2):
            patched = pixels.copy()
            patched[top : top + 4, left : left + 4] = 0.5
            drops[top, left] = clean[sandal] - np.asarray(model(patched[None, :, :, None], training=False))[0, sandal]
    (top, left), drop = max(drops.items(), key=lambda item: item[1])
    assert (
        f"Largest drop: {clean[sandal]:.1%} to {clean[sandal] - drop:.1%}, with the patch on rows {top}-{top + 3}, "
        f"columns {left}-{left + 3}." in said
    )
    shown = plotly_array(grid(app)["data"][-1]["z"]).astype(np.float64)  # the occlusion overlay, per pixel
    assert shown[top + 1, left + 1] == pytest.approx(
        np.mean([d for (r, c), d in drops.items() if r <= top + 1 < r + 4 and c <= left + 1 < c + 4]), abs=1e-5
    )


def test_a_patch_larger_than_the_image_is_refused_with_a_message_and_the_other_maps_stay(fashion):
    app = open_why()
    checked(app.number_input(key=INSPECT_OCCLUSION_PATCH).set_value(30).run())
    assert [e.value for e in app.error] == [
        "Occlusion: A 30x30 patch is larger than the 28x28 image: choose a patch of at most 28 pixels."
    ]
    assert titles(app) == COLUMNS[:-1]
    assert "**Occlusion**" not in text(app) and "**SmoothGrad**" in text(app)
    checked(app.number_input(key=INSPECT_OCCLUSION_PATCH).set_value(28).run())
    assert not app.error and titles(app) == COLUMNS
    assert "(1x1 positions, each a prediction)" in text(app)


def test_the_controls_change_the_maps(fashion):
    (_, _), (x_test, _) = fashion
    app = open_why()
    app.number_input(key=INSPECT_OCCLUSION_PATCH).set_value(5)
    app.number_input(key=INSPECT_OCCLUSION_STRIDE).set_value(3)
    checked(app.radio(key=INSPECT_OCCLUSION_FILL).set_value("mean").run())
    said = text(app)
    mean = x_test[23].mean() / 255.0
    assert f"a 5x5 patch of the image's mean ({mean:.2f}), moved 3 pixels at a time (8x8 positions" in said
    assert "The last 2 row(s) and column(s) are left clear" in said
    occlusion = plotly_array(grid(app)["data"][-1]["z"])
    assert np.isnan(occlusion[26:, :]).all() and np.isfinite(occlusion[:26, :26]).all()
    # no noise: SmoothGrad is the saliency map again
    app.slider(key=INSPECT_SMOOTHGRAD_NOISE).set_value(0.0)
    checked(app.slider(key=INSPECT_SMOOTHGRAD_SAMPLES).set_value(4).run())
    data = grid(app)["data"]  # input; then per heat map the dimmed image and its overlay
    saliency, smooth = plotly_array(data[2]["z"]), plotly_array(data[4]["z"])
    np.testing.assert_allclose(smooth, saliency, rtol=1e-5, atol=1e-7)
    assert "25 noisy copies" not in text(app) and "4 noisy copies of the image (noise sigma 0%" in text(app)


def test_the_settings_are_kept_while_another_tab_is_open():
    app = open_why()
    app.number_input(key=INSPECT_OCCLUSION_PATCH).set_value(6)
    checked(app.slider(key=INSPECT_SMOOTHGRAD_SAMPLES).set_value(10).run())
    app.session_state[INSPECT_TAB] = "Evaluation"
    checked(app.run())
    assert not any(box.key == INSPECT_OCCLUSION_PATCH for box in app.number_input)
    app.session_state[INSPECT_TAB] = WHY
    checked(app.run())
    assert app.number_input(key=INSPECT_OCCLUSION_PATCH).value == 6
    assert app.slider(key=INSPECT_SMOOTHGRAD_SAMPLES).value == 10
    assert app.number_input(key=INSPECT_INDEX).value == 23
    assert "a 6x6 patch" in text(app) and "10 noisy copies" in text(app)


def test_the_tab_caches_its_maps_per_model_key_and_settings(monkeypatch):
    app = open_why()
    calls = []
    original = att.occlusion_map

    def counted(*args, **kwargs):
        calls.append(args[3:])
        return original(*args, **kwargs)

    monkeypatch.setattr(att, "occlusion_map", counted)
    checked(app.number_input(key=INSPECT_OCCLUSION_STRIDE).set_value(4).run())
    checked(app.number_input(key=INSPECT_OCCLUSION_STRIDE).set_value(2).run())  # the default again: cached
    checked(app.number_input(key=INSPECT_OCCLUSION_STRIDE).set_value(4).run())  # cached too
    assert calls == [(4, 4)]


def test_a_run_without_a_convolution_gets_occlusion_and_smoothgrad_but_no_grad_cam(tmp_path, fashion):
    import keras

    from tests.app.test_inspect_page import save_run

    dense = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")], name="dense"
    )
    dense.save(tmp_path / "dense.keras")
    save_run("why-dense-learner", "dense run", tmp_path / "dense.keras", test_accuracy=0.8)
    app = open_page("pages/inspect.py", timeout=180, session={INSPECT_TAB: WHY, LEARNER: "why-dense-learner"})
    checked(app.selectbox(key=INSPECT_MODEL).set_value(1).run())
    assert titles(app) == ["input", "saliency", "SmoothGrad", "occlusion"]
    assert not app.error
    # the dense run's own occlusion values, against its direct prediction of one patched image
    (_, _), (x_test, _) = fashion
    pixels = x_test[23].astype(np.float32) / 255.0
    clean = np.asarray(dense(pixels[None, :, :, None], training=False))[0]
    target = int(clean.argmax())
    patched = pixels.copy()
    patched[0:4, 0:4] = 0.5
    drop = clean[target] - np.asarray(dense(patched[None, :, :, None], training=False))[0, target]
    shown = plotly_array(grid(app)["data"][-1]["z"])
    assert shown[0, 0] == pytest.approx(drop, abs=1e-5)  # pixel (0, 0): only the first window covers it
