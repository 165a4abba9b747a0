"""The Predict page under streamlit.testing: examples, uploads, camera, toggles and bad files."""

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from components.framework.session_keys import (
    PREDICT_CAMERA,
    PREDICT_CROP,
    PREDICT_EXAMPLE,
    PREDICT_INVERT,
    PREDICT_SOURCE,
    PREDICT_UPLOAD,
)
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.preprocess import photo_like, preprocess
from tests.support.apptest import figures, open_page

PAGE = "pages/predict.py"


def predict_page() -> AppTest:
    return open_page(PAGE, timeout=240)


def verdict(app: AppTest) -> str:
    return next(m.value for m in app.markdown if m.value.startswith("The network says"))


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model():
    from models.networks.zoo import load_model_file

    return load_model_file()


def expected(model, image: np.ndarray, **options) -> tuple[str, float]:
    probabilities = model.predict(preprocess(image, **options).network_input[None, ..., None], verbose=0)[0]
    return CLASS_NAMES[int(probabilities.argmax())], float(probabilities.max())


def test_an_example_photo_is_classified_with_every_step_shown(model, fashion):
    app = predict_page()
    assert app.title[0].value == "Predict"
    app.selectbox(key=PREDICT_EXAMPLE).set_value(1).run()  # Trouser
    assert not app.exception
    x_test, y_test = fashion[1]
    index = int(np.flatnonzero(y_test == 1)[0])
    name, probability = expected(model, photo_like(x_test[index], position=(60, 130), seed=index))
    assert verdict(app) == f"The network says **{name}** with probability **{probability:.1%}**."
    assert name == "Trouser"
    steps = next(m.value for m in app.markdown if m.value.startswith("1. **original**"))
    assert "6. **invert**: Auto: the background is light" in steps
    charts = figures(app)
    assert len(charts) == 5  # steps, top-k, feature maps (one filter), all maps, nearest training images
    assert charts[1]["data"][0]["y"][0] == "Trouser"
    neighbours = charts[4]["layout"]["annotations"]
    assert len(neighbours) == 8 and all(" · 0." in a["text"] or " · 1.0" in a["text"] for a in neighbours)
    assert any("randomly chosen training images" in c.value for c in app.caption)


def test_toggles_show_why_inversion_and_cropping_matter():
    app = predict_page()
    app.button_group(key=PREDICT_INVERT).set_value("Off").run()
    assert not app.exception
    steps = next(m.value for m in app.markdown if m.value.startswith("1. **original**"))
    assert "6. **invert**: Forced off: kept as it is." in steps
    assert "only a dark one is pulled to 0" in steps  # the light background stays light
    app.button_group(key=PREDICT_INVERT).set_value("Auto").run()
    app.toggle(key=PREDICT_CROP).set_value(False).run()
    steps = next(m.value for m in app.markdown if m.value.startswith("1. **original**"))
    assert "3. **crop to object**: Off: the whole 200x260 image is kept" in steps


def test_upload_is_classified_and_bad_files_give_clear_errors(model, fashion):
    app = predict_page()
    app.radio(key=PREDICT_SOURCE).set_value("Upload").run()
    assert any("Choose a photo" in i.value for i in app.info)
    x_test, _ = fashion[1]
    photo = np.rint(photo_like(x_test[0], seed=0) * 255).astype(np.uint8)
    app.file_uploader(key=PREDICT_UPLOAD).set_value(("boot.png", png(photo), "image/png")).run()
    assert not app.exception and not app.error
    name, probability = expected(model, photo / np.float32(255.0))
    assert verdict(app) == f"The network says **{name}** with probability **{probability:.1%}**."
    app.file_uploader(key=PREDICT_UPLOAD).set_value(("notes.png", b"not an image at all", "image/png")).run()
    assert not app.exception
    assert "not an image format we can read" in app.error[0].value
    blank = np.full((60, 80, 3), 230, dtype=np.uint8)
    app.file_uploader(key=PREDICT_UPLOAD).set_value(("wall.png", png(blank), "image/png")).run()
    assert not app.exception
    assert "nothing to classify" in app.error[0].value
    assert not any(m.value.startswith("The network says") for m in app.markdown)


def test_camera_snapshot_and_empty_canvas(fashion):
    app = predict_page()
    app.radio(key=PREDICT_SOURCE).set_value("Draw").run()
    assert not app.exception
    assert any("Draw an item" in i.value for i in app.info)
    app.radio(key=PREDICT_SOURCE).set_value("Camera").run()
    photo = np.rint(photo_like(fashion[1][0][2], seed=2) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=90)
    app.camera_input(key=PREDICT_CAMERA).set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")).run()
    assert not app.exception
    assert verdict(app).startswith("The network says **Trouser**")


def test_a_plain_rectangle_gets_a_confident_class_and_the_note_on_what_that_means(model):
    """Old page: 'Bag 100.0%' for a rectangle and nothing saying the network must pick one of its ten classes."""
    rectangle = np.full((200, 260, 3), 235, dtype=np.uint8)
    rectangle[50:150, 60:200] = 30  # a dark filled rectangle on white paper
    app = predict_page()
    app.radio(key=PREDICT_SOURCE).set_value("Upload").run()
    app.file_uploader(key=PREDICT_UPLOAD).set_value(("box.png", png(rectangle), "image/png")).run()
    assert not app.exception and not app.error
    name, probability = expected(model, rectangle / np.float32(255.0))
    assert verdict(app) == f"The network says **{name}** with probability **{probability:.1%}**."
    assert probability > 0.9  # confident although it is no Fashion-MNIST item
    note = next(m.value for m in app.markdown if m.value.startswith("The network must pick"))
    assert note.startswith(f"The network must pick one of its {len(CLASS_NAMES)} classes: its outputs add up to 100%")
    assert f"nearer {name} than the other {len(CLASS_NAMES) - 1} classes" in note
    assert f"not that it is a {name.lower()}" in note
    steps = next(m.value for m in app.markdown if m.value.startswith("1. **original**"))
    assert "1. **original**: 200x260 (height x width) colour." in steps  # one order for sizes: height x width
