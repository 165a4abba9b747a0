"""Deeper, Channel sum under streamlit.testing: the figures are drawn, the pixel boxes move the pixel taken apart
(its numbers equal Keras's), and a run without a conv layer over several channels gets a message, not a traceback."""

import json
import shutil

import keras
import numpy as np

from components.framework.session_keys import (
    DEEPER_CHANNELS_COL,
    DEEPER_CHANNELS_FILTER,
    DEEPER_CHANNELS_ROW,
    DEEPER_MODEL,
    LEARNER,
)
from components.training_jobs import run_store
from models.design.config import CNNConfig
from models.inputs.fashion_mnist import load_fashion_mnist
from models.networks.zoo import build_cnn, load_model_file
from tests.support.apptest import figures, open_page

PAGE = "pages/deeper.py"


def keras_conv2(image_index: int, filter_index: int) -> tuple[np.ndarray, float]:
    """The shipped model's conv2 pre-activation map of one filter and its bias, from a linear copy of the layer."""
    model = load_model_file()
    conv = model.get_layer("conv2")
    (_, _), (x_test, _) = load_fashion_mnist()
    inputs = keras.Model(model.inputs[0], conv.input)(x_test[image_index][None, ..., None] / 255.0)
    linear = keras.layers.Conv2D.from_config(dict(conv.get_config(), activation="linear", name="linear"))
    linear.build(inputs.shape)
    linear.set_weights(conv.get_weights())
    return np.asarray(linear(inputs))[0, :, :, filter_index], float(conv.get_weights()[1][filter_index])


def pixel_heading(app) -> str:
    return next(h.value for h in app.subheader if h.value.startswith("Pixel ("))


def test_the_tab_draws_its_figures_and_the_boxes_move_the_pixel():
    app = open_page(PAGE, tab="channels", image="23")
    shown = figures(app)
    assert len(shown) == 3  # the grids, the sum and its ReLU, the contributions
    grids, summed, bars = shown
    assert sum(trace["type"] == "image" for trace in grids["data"]) == 3
    assert [a["text"] for a in grids["layout"]["annotations"]] == [
        "64 input maps (pool1)",
        "64 kernel slices",
        "64 partial maps",
    ]
    assert pixel_heading(app) == "Pixel (5, 5): which channels drive it"
    pre, bias = keras_conv2(23, 0)
    text = " ".join(m.value for m in app.markdown)
    assert f"Pre-activation **{pre[5, 5]:+.4f}**" in text
    assert f"bias ({bias:+.4f})" in text
    assert "64 x 9 = 576 multiply-accumulates" in text
    box = summed["layout"]["shapes"][0]
    assert (box["x0"] + box["x1"]) / 2 == 5 and (box["y0"] + box["y1"]) / 2 == 5

    app.number_input(key=DEEPER_CHANNELS_ROW).set_value(2).run()
    app.number_input(key=DEEPER_CHANNELS_COL).set_value(9).run()
    assert not app.exception
    assert pixel_heading(app) == "Pixel (2, 9): which channels drive it"
    text = " ".join(m.value for m in app.markdown)
    assert f"Pre-activation **{pre[2, 9]:+.4f}**" in text
    box = figures(app)[1]["layout"]["shapes"][0]
    assert (box["x0"] + box["x1"]) / 2 == 9 and (box["y0"] + box["y1"]) / 2 == 2
    assert len(app.dataframe) == 1 and len(app.dataframe[0].value) == 8

    app.number_input(key=DEEPER_CHANNELS_FILTER).set_value(40).run()
    assert not app.exception
    pre, _ = keras_conv2(23, 40)
    assert f"Pre-activation **{pre[2, 9]:+.4f}**" in " ".join(m.value for m in app.markdown)


def save_run(learner: str, name: str, model: keras.Model, tmp_path) -> None:
    """A saved run for `learner`, as a worker would leave it, holding this model."""
    model.save(tmp_path / "model.keras")
    store = run_store()
    staging = store.staging_folder()
    shutil.copy(tmp_path / "model.keras", staging / "model.keras")
    np.savez_compressed(staging / "arrays.npz", batch_curve=np.zeros((0, 3), np.float32))
    record = {"name": name, "config": {}, "history": {"loss": [0.5]}, "seconds": 1.0, "test_accuracy": 0.5}
    (staging / "run.json").write_text(json.dumps(record))
    store.commit(learner, staging)


def test_a_run_without_a_conv_layer_over_several_channels_gets_the_message(tmp_path):
    save_run("channels-learner", "one conv", build_cnn(CNNConfig(conv_blocks=1, filters=4, dense_units=8)), tmp_path)
    app = open_page(PAGE, tab="channels", session={LEARNER: "channels-learner"})
    app.selectbox(key=DEEPER_MODEL).set_value(1).run()
    assert not app.exception
    assert [i.value for i in app.info] == [
        "Model 'cnn_variant' has no convolution layer that sums over several channels: its only convolution layer, "
        "conv1, reads the one-channel image. The channel sum needs a second convolution layer (a design with 2 or more "
        "conv blocks on the Architecture page)."
    ]
    assert figures(app) == []
    app.selectbox(key=DEEPER_MODEL).set_value(0).run()  # back to the shipped model: the view returns
    assert len(figures(app)) == 3
