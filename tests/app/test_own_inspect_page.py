"""Inspect and Deeper on a run trained on a learner's own images (3 Fashion-MNIST classes x 20 real images, the
course CNN trained 1 epoch by the real worker): every tab opens on its own held-out test images and names only its
own classes; the confusion matrix is scikit-learn's on the model's predictions computed here."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from components.framework.session_keys import (
    DEEPER_FEATURES_COMPUTE,
    DEEPER_INDEX,
    DEEPER_MODEL,
    DEEPER_ROBUSTNESS_COMPUTE,
    INSPECT_CLASS,
    INSPECT_CLASS_TO_EXPLAIN,
    INSPECT_INDEX,
    INSPECT_INDICES,
    INSPECT_MODEL,
    INSPECT_PROJECTION,
    INSPECT_SOURCE,
    INSPECT_TAB,
    LEARNER,
)
from models.inputs import own_data as od
from models.inputs.fashion_mnist import CLASS_NAMES
from tests.support.apptest import checked, figures, open_page, plotly_array
from tests.support.own_run import LEARNER as OWNER
from tests.support.own_run import SEED, trained_own_run

pytestmark = pytest.mark.training  # trains networks: not in `make test-fast` (pytest.ini)

OWN = ("Bag", "Sneaker", "Trouser")
OTHERS = [name for name in CLASS_NAMES if name not in OWN]
INSPECT_TABS = ["Feature maps", "Learned filters", "Evaluation", "Why this prediction", "Embedding"]
DEEPER_TABS = ["channels", "fields", "features", "fooling", "robustness"]


@pytest.fixture(scope="module")
def trained():
    return trained_own_run()


@pytest.fixture(scope="module")
def held_out(trained):
    """The run's test split and the model's predictions on it, computed here with Keras and scikit-learn."""
    dataset, run = trained
    test = od.split(dataset.labels, 0.1, SEED).test
    images, labels = dataset.images[test], dataset.labels[test]
    predicted = np.asarray(run.model(images.astype(np.float32)[..., None] / 255.0)).argmax(axis=1)
    return images, labels, predicted


def shown_text(app) -> str:
    """Every text, label, option and figure the page sends (what a learner can read)."""
    texts = [
        e.value for kind in ("markdown", "caption", "info", "warning", "error", "subheader") for e in app.get(kind)
    ]
    for kind in ("selectbox", "radio", "number_input", "text_input", "slider"):
        for widget in app.get(kind):
            texts.append(widget.label)
            texts += [str(option) for option in getattr(widget, "options", [])]
            if kind in ("selectbox", "radio") and getattr(widget, "format_func", None) is not None:
                texts.append(str(widget.format_func(widget.value)))
    texts += [json.dumps(figure) for figure in figures(app)]
    texts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(texts)


def names_only_its_own_classes(app) -> None:
    text = shown_text(app)
    assert all(name in text for name in OWN)
    found = [name for name in OTHERS if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w/])", text)]
    assert not found, f"Fashion-MNIST's other class names shown: {found}"


def inspect_tab(tab: str, **query: str):
    app = open_page("pages/inspect.py", timeout=180, session={LEARNER: OWNER, INSPECT_TAB: tab}, **query)
    app.selectbox(key=INSPECT_MODEL).set_value(1).run()
    return checked(app)


@pytest.mark.parametrize("tab", INSPECT_TABS)
def test_every_inspect_tab_opens_on_the_runs_own_test_images(trained, tab):
    app = inspect_tab(tab)
    assert not app.get("exception")
    assert any("Bag, Sneaker, Trouser" in i.value and "its 12 held-out test images" in i.value for i in app.info)
    names_only_its_own_classes(app)


def test_evaluation_is_sklearns_confusion_matrix_of_its_test_split(trained, held_out):
    _, labels, predicted = held_out
    app = inspect_tab("Evaluation")
    expected = confusion_matrix(labels, predicted, labels=[0, 1, 2])
    heatmaps = [f for f in figures(app) if f["data"][0].get("type") == "heatmap"][0]["data"][:2]
    assert heatmaps[0]["x"] == list(OWN) and heatmaps[0]["y"] == list(OWN)
    shown = np.where(
        np.isnan(plotly_array(heatmaps[0]["z"])), plotly_array(heatmaps[1]["z"]), plotly_array(heatmaps[0]["z"])
    )
    np.testing.assert_array_equal(shown, expected)
    accuracy = next(m for m in app.metric if m.label == "Test accuracy").value
    assert accuracy == f"{np.mean(labels == predicted):.2%}"
    assert next(m for m in app.metric if m.label == "Mistakes").value == f"{int((labels != predicted).sum())} of 12"
    table = app.dataframe[0].value
    assert table["class"].tolist() == list(OWN) and table["test images"].tolist() == [4, 4, 4]
    assert app.selectbox(key="inspect_true").options == list(OWN)


def test_why_index_box_stops_at_the_splits_size_and_explains_its_classes(trained, held_out):
    _, labels, predicted = held_out
    app = open_page(
        "pages/inspect.py",
        timeout=180,
        session={LEARNER: OWNER, INSPECT_TAB: "Why this prediction", INSPECT_INDEX: 23, INSPECT_CLASS_TO_EXPLAIN: 9},
    )
    app.selectbox(key=INSPECT_MODEL).set_value(1).run()
    checked(app)
    box = app.number_input(key=INSPECT_INDEX)
    assert (box.min, box.max, box.value, box.label) == (0, 11, 0, "Test image index (0-11)")
    assert app.selectbox(key=INSPECT_CLASS_TO_EXPLAIN).options == ["its predicted class", *OWN]
    box.set_value(11).run()
    checked(app)
    said = next(m.value for m in app.markdown if m.value.startswith("True class"))
    assert said.startswith(f"True class **{OWN[labels[11]]}**; predicted **{OWN[predicted[11]]}**")
    grid = json.dumps([f for f in figures(app) if "SmoothGrad" in json.dumps(f)])
    assert all(title in grid for title in ("saliency", "SmoothGrad", "Grad-CAM (conv2)", "occlusion"))
    assert not app.error


def test_feature_maps_choices_are_its_own_classes_and_indices(trained, held_out):
    _, labels, _ = held_out
    app = inspect_tab("Feature maps")
    source = app.radio(key=INSPECT_SOURCE)
    assert source.options == ["First images of a class", "By index"]  # the course trio are Fashion-MNIST images
    assert app.selectbox(key=INSPECT_CLASS).options == list(OWN)
    app.selectbox(key=INSPECT_CLASS).set_value(2).run()
    checked(app)
    rows = [f for f in figures(app) if "input 28x28" in json.dumps(f)][0]
    first_trousers = np.flatnonzero(labels == 2)[:3]
    assert all(f"#{i} Trouser" in json.dumps(rows) for i in first_trousers)
    app.radio(key=INSPECT_SOURCE).set_value("By index").run()
    app.text_input(key=INSPECT_INDICES).set_value("0, 11").run()
    checked(app)
    assert not app.error and app.text_input(key=INSPECT_INDICES).label == "Test image indices (0-11, up to 6)"
    app.text_input(key=INSPECT_INDICES).set_value("0, 12").run()
    assert [e.value for e in checked(app).error] == ["Image indices: indices run from 0 to 11, e.g. 0, 1, 2."]


def test_a_fashion_mnist_link_says_it_does_not_apply(trained):
    """A learner who chose the run on another page (the model is not in the link) opens a link naming images."""
    session = {LEARNER: OWNER, INSPECT_TAB: "Feature maps", INSPECT_MODEL: 1}
    app = checked(open_page("pages/inspect.py", timeout=180, session=session, images="3,5,7"))
    assert any("do not apply here" in i.value for i in app.info)
    assert app.radio(key=INSPECT_SOURCE).value == "First images of a class"
    assert not app.error
    assert "images" not in app.query_params


def test_embedding_tsne_of_12_images_states_its_perplexity(trained):
    app = inspect_tab("Embedding")
    assert (
        app.radio(key=INSPECT_PROJECTION)
        .format_func(app.radio(key=INSPECT_PROJECTION).options[0])
        .endswith("all 12 test images")
    )
    app.radio(key=INSPECT_PROJECTION).set_value(app.radio(key=INSPECT_PROJECTION).options[1]).run()
    checked(app)
    assert any("perplexity is (N - 1) / 3 = 3.67" in c.value for c in app.caption)
    names_only_its_own_classes(app)


def deeper_tab(slug: str, **session):
    app = open_page("pages/deeper.py", timeout=300, tab=slug, session={LEARNER: OWNER, **session})
    app.selectbox(key=DEEPER_MODEL).set_value(1).run()
    return checked(app)


@pytest.mark.parametrize("slug", DEEPER_TABS)
def test_every_deeper_tab_opens_on_the_run_with_its_class_names(trained, slug, monkeypatch):
    from components.sections import deeper_features
    from models.explain import feature_vis as fv

    monkeypatch.setattr(deeper_features, "RUN_BUDGET", fv.Budget(steps=8, images=300))
    app = deeper_tab(slug, **{DEEPER_INDEX: 9_999})
    compute = {"features": DEEPER_FEATURES_COMPUTE, "robustness": DEEPER_ROBUSTNESS_COMPUTE}.get(slug)
    if compute:
        app.button(key=compute).click().run(timeout=300)
        checked(app)
    boxes = [b for b in app.number_input if b.label.startswith("Test image index")]
    if slug != "features":
        assert [(b.max, b.value, b.label) for b in boxes] == [(11, 0, "Test image index (0-11)")]
    names_only_its_own_classes(app)
    assert not app.error


def test_robustness_is_measured_on_its_own_test_set_alone(trained, held_out):
    _, labels, predicted = held_out
    app = deeper_tab("robustness")
    assert any("not drawn beside it" in i.value for i in app.info)
    if any(b.key == DEEPER_ROBUSTNESS_COMPUTE for b in app.button):  # not yet computed by the test above
        app.button(key=DEEPER_ROBUSTNESS_COMPUTE).click().run(timeout=300)
        checked(app)
    curves = [f for f in figures(app) if f["data"] and f["data"][0].get("type") == "scatter"]
    assert curves and all(len(f["data"]) == 1 for f in curves)  # this run only, no shipped models beside it
    clean = float(plotly_array(curves[0]["data"][0]["y"])[0])
    assert clean == pytest.approx(100 * np.mean(labels == predicted))  # the clean point (percent): Keras on the split
    assert any(m.value.startswith("**Shift and pooling.** Moved 1 pixel, this run") for m in app.markdown)


def test_a_deeper_link_to_a_fashion_mnist_image_says_it_does_not_apply(trained):
    app = open_page("pages/deeper.py", timeout=300, tab="channels", image="5000", session={LEARNER: OWNER})
    app.selectbox(key=DEEPER_MODEL).set_value(1).run()
    checked(app)
    assert any("does not apply here" in i.value for i in app.info)
    assert app.number_input(key=DEEPER_INDEX).value == 0 and "image" not in app.query_params
