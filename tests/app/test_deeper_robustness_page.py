"""The Deeper page's Robustness tab under streamlit.testing: the shipped curves without computing, a stale file
computed instead of shown, and a learner's run computed on request with progress (a small budget)."""

import json

import numpy as np
import pytest

from components.framework.session_keys import DEEPER_MODEL, DEEPER_ROBUSTNESS_COMPUTE, LEARNER
from components.sections import deeper_robustness as section
from components.training_jobs import run_store
from models.design.config import CNNConfig
from models.explain import robustness as rb
from models.networks.zoo import build_cnn
from tests.support.apptest import checked, figures, open_page, plotly_array


def open_tab(**session):
    return open_page("pages/deeper.py", tab="robustness", timeout=180, session=session)


def curves_on_page(app) -> list[dict[str, list[float]]]:
    """Per chart (noise, shift, rotation, occlusion): each line's name and its accuracies as fractions."""
    return [
        {trace["name"]: list(plotly_array(trace["y"]) / 100) for trace in figure["data"]} for figure in figures(app)
    ]


def no_computing(*args, **kwargs):
    raise AssertionError("the page computed curves it should have read from models/robustness.json")


def test_the_shipped_model_opens_on_the_shipped_curves_without_computing(monkeypatch):
    monkeypatch.setattr(rb, "robustness_curves", no_computing)
    app = open_tab()
    assert not app.button and not app.info
    shipped = rb.read_robustness().fresh
    charts = curves_on_page(app)
    assert len(charts) == 4
    for chart, corruption in zip(charts, rb.CORRUPTIONS):
        assert chart.keys() == {section.CNN, section.DENSE}
        np.testing.assert_allclose(chart[section.CNN], shipped["cnn"][corruption.name], rtol=1e-12)
        np.testing.assert_allclose(chart[section.DENSE], shipped["dense"][corruption.name], rtol=1e-12)
    shift = " ".join(m.value for m in app.markdown if m.value.startswith("**Shift and pooling.**"))
    cnn, dense = shipped["cnn"]["shift"], shipped["dense"]["shift"]
    assert f"Moved 1 pixel, the shipped CNN scores {cnn[1]:.1%} ({100 * (cnn[1] - cnn[0]):+.1f} points)" in shift
    assert f"the dense baseline {dense[1]:.1%}" in shift and "So the CNN loses less." in shift
    assert len(app.get("image")) == 4  # a strip of examples per corruption
    links = [link.proto.page for link in app.get("page_link")]
    assert links == ["pooling", "architecture"]


def test_a_stale_file_is_computed_instead_of_shown(monkeypatch, tmp_path):
    record = json.loads(rb.ROBUSTNESS.read_text())
    record["models"]["cnn"]["sha256"] = "0" * 64  # computed from another fashion_cnn.keras
    stale = tmp_path / "robustness.json"
    stale.write_text(json.dumps(record))
    monkeypatch.setattr(rb, "ROBUSTNESS", stale)
    monkeypatch.setattr(rb, "robustness_curves", no_computing)
    app = open_tab()
    assert "computed from another model file" in app.info[0].value
    assert app.button(key=DEEPER_ROBUSTNESS_COMPUTE).label == "Compute the robustness curves"
    assert "Not computed yet: **Shipped CNN**" in " ".join(m.value for m in app.markdown)
    assert not figures(app)  # no stale numbers


@pytest.fixture
def learner_with_a_small_run(tmp_path):
    """A learner with one saved run: an untrained one-block CNN (another design than the course's)."""
    model = build_cnn(CNNConfig(conv_blocks=1, filters=4, dense_units=8))
    store = run_store()
    staging = store.staging_folder()
    model.save(staging / "model.keras")
    np.savez_compressed(staging / "arrays.npz", batch_curve=np.zeros((0, 3), np.float32))
    record = {"name": "tiny", "config": {}, "history": {"loss": [2.3]}, "seconds": 1.0, "test_accuracy": 0.1}
    (staging / "run.json").write_text(json.dumps(record))
    store.commit("robustness-learner", staging)
    return "robustness-learner", model


def test_a_run_is_computed_on_request_with_progress(monkeypatch, learner_with_a_small_run, fashion):
    learner, model = learner_with_a_small_run
    monkeypatch.setattr(section, "PER_CLASS", 2)  # a small budget: 20 images
    reports: list[tuple[int, int]] = []
    compute = rb.robustness_curves

    def recorded(*args, progress, **kwargs):
        def report(done: int, total: int) -> None:
            reports.append((done, total))
            progress(done, total)

        return compute(*args, progress=report, **kwargs)

    monkeypatch.setattr(rb, "robustness_curves", recorded)
    app = open_tab(**{LEARNER: learner})
    app.selectbox(key=DEEPER_MODEL).set_value(1).run()
    checked(app)
    assert not figures(app) and not reports
    wanted = " ".join(m.value for m in app.markdown)
    assert "Not computed yet: **This run, Shipped CNN, Dense baseline (no convolution)**" in wanted
    assert f"Each model sees the 20 test images {rb.image_passes()} times" in wanted
    app.button(key=DEEPER_ROBUSTNESS_COMPUTE).click().run()
    checked(app)
    total = rb.progress_steps()
    assert reports == [(n, total) for n in range(1, total + 1)] * 3  # the run, the shipped CNN, the dense baseline
    charts = curves_on_page(app)
    assert [list(chart) for chart in charts] == [[section.RUN, section.CNN, section.DENSE]] * 4
    _, (x_test, y_test) = fashion
    indices = rb.subset_indices(y_test, 2)
    scores = model.predict(x_test[indices].astype(np.float32)[..., None] / 255.0, verbose=0)
    clean = float(np.mean(scores.argmax(axis=1) == y_test[indices]))
    assert {chart[section.RUN][0] for chart in charts} == {clean}
    app.run()  # a rerun reads what was computed
    assert not app.button and len(figures(app)) == 4
