"""The Training page's "Build it here" dataset builder under AppTest: name 3 classes, add real Fashion-MNIST items
(as image files, as a camera snapshot and as a drawing on the canvas), see each after Predict's preprocessing,
remove one, then use the dataset and train 1 epoch on it."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from components.framework.session_keys import (
    TRAINING_BUILDER_ADD,
    TRAINING_BUILDER_CAMERA,
    TRAINING_BUILDER_COUNT,
    TRAINING_BUILDER_EXAMPLES,
    TRAINING_BUILDER_REMOVE,
    TRAINING_BUILDER_REMOVE_CHOICE,
    TRAINING_BUILDER_SOURCE,
    TRAINING_BUILDER_STEPS,
    TRAINING_DATA,
    TRAINING_OWN,
    TRAINING_OWN_WAY,
    training_builder_name,
)
from models.inputs import own_data as od
from models.inputs.images import load_image
from models.inputs.preprocess import preprocess
from tests.app.test_training_page import click, finish_jobs, open_page
from tests.support.apptest import checked, figures
from tests.support.image_files import encoded, header_only_png, real_items

pytestmark = pytest.mark.training  # trains networks: not in `make test-fast` (pytest.ini)

MEDIA: dict[str, bytes] = {}  # every file st.image sent, by its id


@pytest.fixture(autouse=True)
def record_media(monkeypatch):
    """Keep the bytes of every media file (AppTest's storage lives only for one run), to read previews back."""
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            MEDIA[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)


def predict_pixels(data: bytes) -> np.ndarray:
    """What Predict does to an uploaded file, written out: decode (models.inputs.images), then
    models.inputs.preprocess."""
    return preprocess(load_image(data)).pixels


def previews(app: AppTest) -> list[np.ndarray]:
    """The chosen class's example thumbnails, back at 28x28 (each was enlarged 3x with nearest neighbour)."""
    (shown,) = [image for image in app.get("image") if image.captions and image.captions[0] == "1"]
    return [np.asarray(Image.open(io.BytesIO(MEDIA[Path(url).stem])))[::3, ::3] for url in shown.value]


def builder(names: list[str]) -> AppTest:
    app = open_page(training_batch=16)
    app.radio(key=TRAINING_DATA).set_value("Your own images").run()
    app.radio(key=TRAINING_OWN_WAY).set_value("Build it here").run()
    app.number_input(key=TRAINING_BUILDER_COUNT).set_value(len(names)).run()
    for slot, name in enumerate(names):
        app.text_input(key=training_builder_name(slot)).set_value(name)
    return checked(app.run())


def class_radio(app: AppTest):
    return next(r for r in app.radio if r.label == "Add examples to")


def use_button(app: AppTest):
    return next(b for b in app.button if b.label == "Use this dataset")


def upload(app: AppTest, slot: int, files: list[bytes]) -> AppTest:
    class_radio(app).set_value(slot)
    app.button_group(key=TRAINING_BUILDER_SOURCE).set_value("Upload").run()
    uploader = next(u for u in app.file_uploader if u.key.startswith("training_builder_upload"))
    uploader.set_value([(f"{slot}-{i}.png", data, "image/png") for i, data in enumerate(files)])
    return checked(app.run())


def canvas_key(app: AppTest) -> str:
    return next(e.key for e in app.get("bidi_component") if e.key.startswith("training_builder_canvas"))


def draw(app: AppTest, png: bytes, *, add: bool) -> AppTest:
    """The canvas sends a drawing (its state as the component's frontend sends it: AppTest has no setter for a
    custom component), with Add pressed or not."""
    canvas = next(e for e in app.get("bidi_component") if e.key == canvas_key(app))
    if add:
        app.button(key=TRAINING_BUILDER_ADD).click()
    states = app._tree.get_widget_states()
    drawing = {
        "raw": {"objects": [{"type": "path"}]},
        "data": "data:image/png;base64," + base64.b64encode(png).decode(),
    }
    states.widgets.append(WidgetState(id=canvas.proto.id, json_value=json.dumps({"drawing": drawing})))
    return checked(app._run(states))


def canvas_png(item: np.ndarray) -> bytes:
    """A Fashion-MNIST item as the 280x280 canvas would send it: black strokes on white, RGBA PNG."""
    picture = Image.fromarray(255 - item).resize((280, 280), Image.Resampling.BICUBIC).convert("RGBA")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_bad_class_names_are_named_and_use_stays_off_with_the_reason():
    app = builder(["Bag", "bag ", "a/b"])
    errors = [e.value for e in app.error]
    assert "Classes 1 and 2 are both named 'bag' (apart from case): name each once." in errors
    assert any(e.startswith("'a/b' holds /: a class name becomes a folder name") for e in errors)
    app.text_input(key=training_builder_name(1)).set_value("   ")
    app.text_input(key=training_builder_name(2)).set_value("x" * 41).run()
    errors = [e.value for e in app.error]
    assert "Class 2 has no name: type one." in errors
    assert "Class 3's name is 41 characters long; the limit is 40." in errors
    assert use_button(app).disabled
    assert any(c.value.startswith("Use this dataset is off: Class 2 has no name") for c in app.caption)
    assert next(b for b in app.button if b.label == "Train").disabled


def test_build_three_classes_preview_remove_use_and_train(fashion):
    app = builder(["Sneaker", "Bag", "Trouser"])
    assert not app.error
    assert use_button(app).disabled
    reason = next(c.value for c in app.caption if c.value.startswith("Use this dataset is off"))
    assert reason == (
        "Use this dataset is off: Too few usable images in 'Bag' (0), 'Sneaker' (0), 'Trouser' (0): "
        f"each class needs at least {od.MIN_PER_CLASS}."
    )

    sneakers = [encoded(item, "png") for item in real_items("Sneaker", 10)]
    app = upload(app, 0, sneakers)
    expected = [predict_pixels(data) for data in sneakers]
    for shown, pixels in zip(previews(app), expected, strict=True):
        np.testing.assert_array_equal(shown, pixels)
    assert [p.proto.text for p in app.get("progress")][0] == f"Sneaker: 10 of at least {od.MIN_PER_CLASS}"

    bags = [encoded(item, "jpg") for item in real_items("Bag", 11)]
    app = upload(app, 1, bags)
    assert len(previews(app)) == 11
    app.multiselect(key=TRAINING_BUILDER_REMOVE_CHOICE).set_value([3]).run()
    app.button(key=TRAINING_BUILDER_REMOVE).click().run()
    bag_pixels = [predict_pixels(data) for i, data in enumerate(bags) if i != 2]
    for shown, pixels in zip(previews(app), bag_pixels, strict=True):
        np.testing.assert_array_equal(shown, pixels)

    trousers = real_items("Trouser", 10)
    class_radio(app).set_value(2)
    app.button_group(key=TRAINING_BUILDER_SOURCE).set_value("Draw").run()
    assert next(b for b in app.button if b.key == TRAINING_BUILDER_ADD).disabled  # an empty canvas adds nothing
    drawn = canvas_png(trousers[0])
    draw(app, drawn, add=False)
    before = canvas_key(app)
    draw(app, drawn, add=True)
    np.testing.assert_array_equal(previews(app)[0], predict_pixels(drawn))
    assert canvas_key(app) != before  # a new, empty canvas for the next drawing
    assert next(b for b in app.button if b.key == TRAINING_BUILDER_ADD).disabled
    app.button_group(key=TRAINING_BUILDER_SOURCE).set_value("Camera").run()
    shot = io.BytesIO()
    Image.fromarray(255 - trousers[1]).resize((320, 240)).convert("RGB").save(shot, format="JPEG", quality=90)
    app.camera_input(key=TRAINING_BUILDER_CAMERA).set_value(("shot.jpg", shot.getvalue(), "image/jpeg")).run()
    files = [encoded(item, "png") for item in trousers[2:]]
    app = upload(app, 2, files)
    trouser_pixels = [predict_pixels(data) for data in (drawn, shot.getvalue(), *files)]
    for shown, pixels in zip(previews(app), trouser_pixels, strict=True):
        np.testing.assert_array_equal(shown, pixels)

    app.toggle(key=TRAINING_BUILDER_STEPS).set_value(True).run()  # the last example's steps, on request
    steps = next(m.value for m in app.markdown if m.value.startswith("1. **original**"))
    assert "6. **invert**: Auto: the background is light" in steps
    assert len(figures(app)[0]["layout"]["annotations"]) >= 8

    assert not use_button(app).disabled
    app = click(app, "Use this dataset")
    kept = app.session_state[TRAINING_OWN]
    dataset = od.load_dataset({"path": kept["path"]})
    assert dataset.class_names == ("Bag", "Sneaker", "Trouser")  # ordered as a zip's folders are
    by_class = {"Bag": bag_pixels, "Sneaker": expected, "Trouser": trouser_pixels}
    np.testing.assert_array_equal(dataset.images, np.stack([p for name in dataset.class_names for p in by_class[name]]))
    assert dataset.counts == (10, 10, 10)
    stored_examples = app.session_state[TRAINING_BUILDER_EXAMPLES]
    assert [len(e) for e in stored_examples[:3]] == [10, 10, 10]
    assert use_button(app).disabled
    assert any(c.value.startswith("These examples are the dataset Train uses now") for c in app.caption)
    zipped = next(b for b in app.get("download_button") if b.label.startswith("Download the dataset"))
    assert zipped.proto.label.startswith("Download the dataset as a zip")
    again = od.read_zip(od.to_zip(dataset))  # what a learner gets back by uploading the zip downloaded here
    assert again.class_names == dataset.class_names and again.counts == dataset.counts

    (run,) = finish_jobs(click(app, "Train"))
    assert run.class_names == ("Bag", "Sneaker", "Trouser")
    assert run.config["class_counts"] == [10, 10, 10] and run.config["test_images"] == 6


def test_too_many_files_or_declared_pixels_are_refused_by_name_before_decoding():
    app = builder(["Bag", "Sneaker"])
    assert any("Image files: at most 200 an upload and 25 MB together, 16 megapixels" in c.value for c in app.caption)
    app = upload(app, 0, [b"x"] * (od.MAX_UPLOAD_FILES + 1))
    assert f"Nothing was added: 201 files at once; the limit is {od.MAX_UPLOAD_FILES} files an upload." in [
        e.value for e in app.error
    ]
    bag = encoded(real_items("Bag", 1)[0], "png")
    app = upload(app, 0, [bag] + [header_only_png(4000, 4000)] * 17 + [bag])  # 16 MP each, declared only
    errors = [e.value for e in app.error]
    assert any(
        e.startswith("Stopped at '0-16.png', which declares 4000x4000 (height x width) = 16,000,000 pixels")
        and e.endswith("3 files not added.")  # with the bag's pixels, 0-16.png passes 256 MP
        for e in errors
    ), errors
    assert len(app.session_state[TRAINING_BUILDER_EXAMPLES][0]) == 1  # only the real bag before the stop
