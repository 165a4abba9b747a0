"""The Deeper page's Fooling tab under streamlit.testing: the bars follow the slider and the attack, and equal Keras's
prediction on the FGSM image written out with tf.GradientTape; a learner's run of another design works; a model the
attacks cannot use gets a message."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.framework.session_keys import DEEPER_MODEL, FOOLING_EPSILON, FOOLING_METHOD, FOOLING_SOURCE, LEARNER
from models.design.config import CNNConfig
from models.explain import adversarial as adv
from models.inputs.fashion_mnist import CLASS_NAMES
from models.networks.zoo import build_cnn, load_model_file
from tests.app.test_inspect_page import save_run
from tests.support.apptest import checked, figures, open_page, plotly_array
from tests.unit.test_adversarial import reference_fgsm

PAGE = "pages/deeper.py"


@pytest.fixture(scope="module")
def model():
    return load_model_file()


def open_tab(**session) -> AppTest:
    return open_page(PAGE, tab="fooling", image="1", session=session)


def bars(app: AppTest) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities drawn by the Before and After charts (the two bar charts, in order)."""
    drawn = [plotly_array(f["data"][0]["x"]) for f in figures(app) if f["data"][0]["type"] == "bar"]
    assert len(drawn) == 2
    return drawn[0], drawn[1]


def text(app: AppTest) -> str:
    return " ".join(m.value for m in app.markdown)


def test_the_bars_follow_the_slider_and_equal_keras_on_the_fgsm_image(model, fashion):
    images, labels = fashion[1]
    app = open_tab()
    clean = model.predict(images[1:2, ..., None] / np.float32(255.0), verbose=0)[0]
    for epsilon in (0.03, 0.1):  # the default, then a larger one
        if epsilon != 0.03:
            app.slider(key=FOOLING_EPSILON).set_value(epsilon).run()
            checked(app)
        before, after = bars(app)
        expected = model.predict(reference_fgsm(model, images[1:2], labels[1:2], epsilon)[..., None], verbose=0)[0]
        np.testing.assert_allclose(before, clean, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(bars(app)[1], before)
    now = CLASS_NAMES[int(expected.argmax())]
    assert f"At ε = 0.100 the answer **changes to {now}**." in text(app)


def test_the_smallest_epsilon_is_stated_and_its_button_sets_the_slider(model, fashion):
    images, labels = fashion[1]
    app = open_tab()
    app.radio(key=FOOLING_METHOD).set_value("iterative").run()
    flip = adv.smallest_flip(model, images[1], int(labels[1]), "iterative")
    assert flip.epsilon is not None and flip.becomes is not None and flip.below is not None
    assert (
        f"(Iterative, ε tried in steps of 0.002 up to 0.3): **{flip.epsilon:.3f}**, then "
        f"**{CLASS_NAMES[flip.becomes]}**" in text(app)
    )
    button = next(b for b in app.button if b.label == f"Set ε to {flip.epsilon:.3f}")
    button.click().run()
    checked(app)
    assert app.slider(key=FOOLING_EPSILON).value == pytest.approx(flip.epsilon)
    after = model.predict(adv.iterative(model, images[1], int(labels[1]), flip.epsilon)[None, ..., None], verbose=0)
    np.testing.assert_allclose(bars(app)[1], after[0], rtol=1e-5, atol=1e-7)
    assert f"the answer **changes to {CLASS_NAMES[flip.becomes]}**" in text(app)


def test_a_misclassified_image_is_named(fashion):
    app = open_page(PAGE, tab="fooling", image="23")
    assert any("already gets this image wrong: it says Sandal" in i.value for i in app.info)


def test_the_drawing_choice_asks_for_a_drawing():
    app = open_tab()
    app.radio(key=FOOLING_SOURCE).set_value("Your drawing").run()
    checked(app)
    assert any("Draw an item with the mouse" in i.value for i in app.info)
    assert not figures(app)


def test_a_learners_run_of_another_design_is_attacked(tmp_path, fashion):
    images, labels = fashion[1]
    one_block = build_cnn(CNNConfig(conv_blocks=1, filters=8, dense_units=16))  # untrained, one conv layer
    one_block.save(tmp_path / "model.keras")
    save_run("fooling-learner", "one block", tmp_path / "model.keras", 0.1)
    app = open_tab(**{LEARNER: "fooling-learner"})
    app.selectbox(key=DEEPER_MODEL).set_value(1).run()
    checked(app)
    before, after = bars(app)
    np.testing.assert_allclose(before, one_block.predict(images[1:2, ..., None] / 255.0, verbose=0)[0], rtol=1e-5)
    fooled = one_block.predict(reference_fgsm(one_block, images[1:2], labels[1:2], 0.03)[..., None], verbose=0)
    np.testing.assert_allclose(after, fooled[0], rtol=1e-5, atol=1e-7)


def page_with_a_model_of_other_inputs() -> None:
    import keras
    import streamlit as st

    from components.framework.session_keys import DEEPER_INDEX
    from components.model_choice import Subject
    from components.sections.deeper_fooling import fooling_section

    st.session_state.setdefault(DEEPER_INDEX, 0)
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10)], name="wide")
    fooling_section(Subject("test:wide-input", model))


def test_a_model_the_attacks_cannot_use_gets_a_message():
    app = AppTest.from_function(page_with_a_model_of_other_inputs, default_timeout=60).run()
    checked(app)
    assert "the attacks need a classifier of 28x28x1 images" in app.error[0].value
