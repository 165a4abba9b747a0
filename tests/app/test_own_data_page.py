"""The Training page's "Your own images" source under AppTest: upload real images, train 1 epoch, then Predict and
Inspect name the run's own classes."""

from __future__ import annotations

import pytest

from components.framework.session_keys import INSPECT_MODEL, LEARNER, PREDICT_MODEL, TRAINING_DATA, TRAINING_OWN
from models.inputs import own_data as od
from tests.app.test_training_page import click, finish_jobs, open_page
from tests.support import apptest
from tests.support.image_files import real_members, zip_of

pytestmark = pytest.mark.training  # trains networks: not in `make test-fast` (pytest.ini)

OWN = "Your own images"


def upload(app, data: bytes, name: str = "shoes-and-bags.zip"):
    app.radio(key=TRAINING_DATA).set_value(OWN).run()
    app.file_uploader[0].set_value((name, data, "application/zip")).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_a_bad_zip_is_refused_with_its_message_and_train_stays_off():
    app = upload(open_page(), zip_of({"../x.png": b"x", "a/1.png": b"y"}))
    assert any("leaves the archive" in e.value for e in app.error)
    assert next(b for b in app.button if b.label == "Train").disabled
    assert any(c.value.startswith("Limits: 2-10 class folders") for c in app.caption)


def test_upload_preview_train_then_predict_and_inspect_use_its_class_names():
    app = upload(open_page(training_batch=16), zip_of(real_members()))
    kept = app.session_state[TRAINING_OWN]
    dataset = od.load_dataset({"path": kept["path"]})
    assert dataset.class_names == ("Bag", "Sneaker", "Trouser")
    previews = app.get("image")  # one preview row per class, captioned with its count
    assert [p.proto.imgs[0].caption for p in previews] == [f"{n}: 20 images" for n in dataset.class_names]
    assert any(b.label.startswith("Download the dataset") for b in app.get("download_button"))
    (run,) = finish_jobs(click(app, "Train"))
    assert run.class_names == dataset.class_names and run.config["test_images"] == 12
    assert "course CNN on your 60 images of Bag, Sneaker, Trouser, 1 epoch" in run.name  # its dataset, by name

    predict = apptest.open_page("pages/predict.py", session={LEARNER: app.session_state[LEARNER]})
    predict.selectbox(key=PREDICT_MODEL).set_value(1).run()
    assert not predict.exception, [e.message for e in predict.exception]
    said = next(m.value for m in predict.markdown if m.value.startswith("The network says"))
    bars = next(f for f in apptest.figures(predict) if f["data"][0].get("type") == "bar")["data"][0]
    assert set(bars["y"]) <= set(run.class_names) and len(bars["y"]) == 3
    assert any(f"**{name}**" in said for name in run.class_names)

    inspect = apptest.open_page("pages/inspect.py", session={LEARNER: app.session_state[LEARNER]})
    inspect.selectbox(key=INSPECT_MODEL).set_value(1).run()
    assert not inspect.exception, [e.message for e in inspect.exception]
    assert any("trained on your own images (Bag, Sneaker, Trouser)" in i.value for i in inspect.info)


def test_a_dataset_over_the_learners_quota_is_refused_with_the_figures_and_the_quota_is_stated():
    from components.training_jobs import run_store

    app = open_page()
    quota = run_store().quota  # the server's store, shared by every session of this process
    saved = quota.learner_bytes
    quota.learner_bytes = 1000
    try:
        app = upload(app, zip_of(real_members()))
    finally:
        quota.learner_bytes = saved
    errors = [e.value for e in app.error]
    assert any(
        e.startswith("The dataset was not saved: it needs") and "of your 0 MB. Delete a run on the Training page" in e
        for e in errors
    ), errors
    assert next(b for b in app.button if b.label == "Train").disabled
    assert any("Your runs and datasets may use up to" in c.value for c in app.caption)
