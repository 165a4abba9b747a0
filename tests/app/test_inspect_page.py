"""The Inspect page under streamlit.testing: every tab runs, and the confusion-cell fallback shows images."""

import base64
import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from components.framework.session_keys import (
    INSPECT_CELL_COUNT,
    INSPECT_CELL_FILTER,
    INSPECT_CLASS_TO_EXPLAIN,
    INSPECT_INDEX,
    INSPECT_INDICES,
    INSPECT_MODEL,
    INSPECT_PRED,
    INSPECT_PROJECTION,
    INSPECT_SOURCE,
    INSPECT_TAB,
    INSPECT_TRUE,
    LEARNER,
)
from components.training_jobs import run_store
from models.design.card import SHIPPED_MODEL, read_filter_snapshots
from models.explain import inspection as ins
from models.networks.zoo import load_model_file
from models.ops.kernels import CHANCE_THRESHOLD
from tests.support.apptest import figures, open_page, plotly_array
from tests.support.browser import ROOT
from tests.support.kernel_reference import reference_best, reference_chance

PAGE = "pages/inspect.py"


def open_tab(tab: str | None = None, learner: str | None = None) -> AppTest:
    session = {"inspect_tab": tab} if tab else {}
    if learner is not None:
        session[LEARNER] = learner
    return open_page(PAGE, timeout=180, session=session)


@pytest.fixture(scope="module")
def evaluation(fashion):
    return ins.evaluate(load_model_file(), *fashion[1])


def test_feature_maps_tab_shows_the_course_trio_and_rejects_bad_indices():
    app = open_tab()
    assert app.title[0].value == "Inspect"
    assert [tab.label for tab in app.tabs] == [
        "Feature maps",
        "Learned filters",
        "Evaluation",
        "Why this prediction",
        "Embedding",
    ]
    grid = figures(app)[0]
    assert [a["text"] for a in grid["layout"]["annotations"]][:5] == [
        "input 28x28",
        "conv1 26x26<br>filter 1",
        "pool1 13x13<br>pooled conv1",
        "conv2 11x11<br>new filter 1",
        "pool2 5x5<br>pooled conv2",
    ]
    assert len(grid["data"]) == 3 * 5  # three ankle boots x (input + four layers)
    caption = next(c.value for c in app.caption if "of each layer" in c.value)
    assert caption.startswith("Filter 1 of each layer: different filters that share a number.")
    assert "conv2's filter 1 is not conv1's filter 1 again: it has its own 3x3x64 weights" in caption
    assert "adds up all 64 maps of pool1" in caption
    assert "Filter 1 after each layer" not in caption
    app.radio(key=INSPECT_SOURCE).set_value("By index").run()
    app.text_input(key=INSPECT_INDICES).set_value("5, 99999").run()
    assert not app.exception
    assert "0 to 9999" in app.error[0].value


def test_confusion_cell_chosen_with_the_fallback_shows_its_images(evaluation):
    app = open_tab("Evaluation")
    accuracy = next(m for m in app.metric if m.label == "Test accuracy")
    assert accuracy.value == f"{evaluation.accuracy:.2%}"
    app.selectbox(key=INSPECT_TRUE).set_value(6).run()  # Shirt
    app.selectbox(key=INSPECT_PRED).set_value(0).run()  # predicted as T-shirt/top
    assert not app.exception
    count = int(evaluation.confusion[6, 0])
    assert any(f"**{count}** Shirt test images are predicted as T-shirt/top" in m.value for m in app.markdown)
    shown = app.slider(key=INSPECT_CELL_COUNT).value
    drill_down = next(
        f for f in figures(app) if any(a.get("text") == "Grad-CAM" for a in f["layout"].get("annotations", []))
    )
    labels = [a["text"] for a in drill_down["layout"]["annotations"] if a["text"].startswith("#")]
    expected = ins.cell_images(evaluation, 6, 0)[:shown]
    assert [int(label[1:].split()[0]) for label in labels] == expected.tolist()
    number = app.number_input(key=INSPECT_CELL_FILTER)
    number.set_value(0 if number.value else 1).run()  # the figure is kept per cell, images and filter
    other_filter = next(
        f for f in figures(app) if any(a.get("text") == "Grad-CAM" for a in f["layout"].get("annotations", []))
    )
    assert json.dumps(other_filter["data"]) != json.dumps(drill_down["data"])


def test_open_in_why_this_prediction_explains_that_image(evaluation):
    app = open_tab("Evaluation")
    app.button[0].click().run()
    assert app.session_state[INSPECT_TAB] == "Why this prediction"
    index = app.session_state[INSPECT_INDEX]
    assert index == ins.cell_images(evaluation, 0, 6)[0]  # the default cell: T-shirt/top predicted as Shirt
    assert not app.exception
    assert any("True class **T-shirt/top**; predicted **Shirt**" in m.value for m in app.markdown)


def test_why_tab_explains_the_misclassified_boot_of_the_trio():
    app = open_tab("Why this prediction")
    assert app.number_input(key=INSPECT_INDEX).value == 23
    assert any("True class **Ankle boot**; predicted **Sandal**" in m.value for m in app.markdown)
    app.selectbox(key=INSPECT_CLASS_TO_EXPLAIN).set_value(9).run()
    assert any("score of **Ankle boot**" in m.value for m in app.markdown)


def test_learned_filters_tab_draws_each_conv1_kernel_with_the_model_files_weights():
    import keras

    app = open_tab("Learned filters")
    (gallery,) = figures(app)
    model = keras.models.load_model(SHIPPED_MODEL, safe_mode=True)  # Keras's own reading of the file
    conv1 = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    kernels = np.asarray(conv1.kernel)[:, :, 0, :]  # (3, 3, 64)
    cells: dict[int, dict[tuple[int, int], float]] = {}
    for row, cells_of_row in enumerate(gallery["data"][0]["customdata"]):
        for column, (hover, weight) in enumerate(cells_of_row):
            if hover:  # the gaps between kernels hover nothing
                number = int(re.match(r"<b>filter (\d+)</b>", hover).group(1))
                cells.setdefault(number, {})[row, column] = weight
    assert sorted(cells) == list(range(64))
    for number, weights in cells.items():
        top, left = min(r for r, _ in weights), min(c for _, c in weights)
        drawn = np.full((3, 3), np.nan)
        for (row, column), weight in weights.items():
            drawn[row - top, column - left] = weight
        np.testing.assert_allclose(drawn, kernels[:, :, number], rtol=1e-6, err_msg=f"filter {number}")


def test_learned_filters_caption_states_the_medians_and_the_count_above_chance():
    app = open_tab("Learned filters")
    snapshots = read_filter_snapshots()
    limit = np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 64))  # Keras's glorot_uniform bound for the (3, 3, 1, 64) kernel
    chance = reference_chance(20_000, 7, limit)
    assert chance == pytest.approx(CHANCE_THRESHOLD, abs=0.01)
    medians, counts = [], []
    for snapshot in (snapshots[0], snapshots[-1]):
        scores = np.abs([score for _, score in reference_best(np.moveaxis(snapshot[:, :, 0, :], -1, 0))])
        medians.append(f"{np.median(scores):.2f}")
        counts.append(int((scores > CHANCE_THRESHOLD).sum()))
    caption = next(c.value for c in app.caption if "Random 3x3 weights" in c.value)
    assert f"at most {CHANCE_THRESHOLD:.2f} (chance)" in caption
    assert f"Median best |cosine| {medians[0]} at initialisation, {medians[1]} after training" in caption
    assert f"above chance: {counts[0]} of 64 at initialisation, {counts[1]} of 64 after training" in caption
    assert counts[0] <= 3 < counts[1]
    intro = next(m.value for m in app.markdown if "grouped by the library kernel" in m.value)
    assert f"beats {CHANCE_THRESHOLD:.2f}, which 95% of random initial filters stay below" in intro


def test_embedding_tab_places_every_test_image_under_its_true_class(fashion):
    from models.inputs.fashion_mnist import CLASS_NAMES

    app = open_tab("Embedding")
    (embedding,) = figures(app)
    labels = fashion[1][1]  # the test labels, read from the data files
    placed = []
    for trace in embedding["data"]:
        indices = plotly_array(trace["customdata"]).astype(int)
        assert np.all(labels[indices] == CLASS_NAMES.index(trace["name"])), trace["name"]
        placed.extend(indices.tolist())
    assert sorted(placed) == list(range(10_000))  # each of the 10,000 test images once


def embedding_points(figure: dict) -> dict[int, tuple[float, float]]:
    """{test image index: (x, y)} of an embedding chart."""
    points = {}
    for trace in figure["data"]:
        arrays = [plotly_array(trace[name]) for name in ("customdata", "x", "y")]
        points.update({int(i): (float(x), float(y)) for i, x, y in zip(*arrays)})
    return points


def test_embedding_tsne_of_the_shipped_model_opens_its_saved_layout(monkeypatch):
    from models.networks.zoo import load_model_file

    def no_tsne(*args, **kwargs):
        raise AssertionError("the shipped model's t-SNE was computed instead of read from its file")

    monkeypatch.setattr(ins, "tsne", no_tsne)
    app = open_tab("Embedding")
    app.radio(key=INSPECT_PROJECTION).set_value("t-SNE: all 10,000 test images").run()
    assert not app.exception, [e.message for e in app.exception]
    layout = ins.read_tsne_layout(ins.TSNE_LAYOUT, ins.weights_key(load_model_file()))
    points = embedding_points(figures(app)[0])
    assert sorted(points) == list(range(10_000))
    np.testing.assert_allclose([points[i] for i in range(10_000)], layout.coordinates, rtol=1e-6)
    assert any(
        c.value.startswith(
            "t-SNE (scikit-learn, Barnes-Hut; perplexity 30, 1,000 steps) of all 10,000 test images; "
            f"KL divergence {layout.kl_divergence:.2f}."
        )
        for c in app.caption
    )


def test_projections_follow_the_model_key_not_the_python_object(fashion):
    """Two runs' models can be one Python object (or a freed id handed to the next model): the projections are
    cached under the model key, which names the weights, so each run gets its own."""
    from components.sections.inspect_embedding import pca_for, tsne_for
    from models.networks.zoo import course_cnn

    (x_test, y_test) = fashion[1]
    model = load_model_file()
    images, labels = x_test[:150], y_test[:150]
    trained = ins.evaluate(model, images, labels).embedding
    identity = id(model)
    model.set_weights(course_cnn().get_weights())  # another run's weights (untrained), in the same object
    untrained = ins.evaluate(model, images, labels).embedding
    assert id(model) == identity and not np.allclose(trained, untrained)
    for project in (pca_for, tsne_for):
        first = project("run:first-run", trained).coordinates
        second = project("run:second-run", untrained).coordinates
        assert first.shape == second.shape == (150, 2) and not np.allclose(first, second)
        np.testing.assert_array_equal(project("run:first-run", untrained).coordinates, first)  # the key decides
    np.testing.assert_allclose(pca_for("run:second-run", untrained).coordinates, ins.pca(untrained).coordinates)


def save_run(learner: str, name: str, model_file=SHIPPED_MODEL, test_accuracy=0.9111) -> None:
    """A saved run for `learner`, as a worker would leave it, holding a copy of `model_file`."""
    store = run_store()
    staging = store.staging_folder()
    shutil.copy(model_file, staging / "model.keras")
    np.savez_compressed(staging / "arrays.npz", batch_curve=np.zeros((0, 3), np.float32))
    record = {"name": name, "config": {}, "history": {"loss": [0.5]}, "seconds": 1.0, "test_accuracy": test_accuracy}
    (staging / "run.json").write_text(json.dumps(record))
    store.commit(learner, staging)


def test_a_training_run_can_be_inspected():
    save_run("inspect-learner", "my run")
    app = open_tab("Evaluation", learner="inspect-learner")
    model_box = app.selectbox(key=INSPECT_MODEL)
    assert model_box.options[1] == "Training run: my run, 91.11% test accuracy"
    model_box.set_value(1).run()
    assert not app.exception
    assert next(m for m in app.metric if m.label == "Test accuracy").value == "91.11%"


def test_a_runs_tsne_is_made_apart_and_pca_stands_in_when_it_cannot_be(monkeypatch, evaluation):
    """A learner's run's t-SNE never runs in the web server: models.explain.inspection.tsne_apart makes it (a limited
    child, tested in tests/unit/test_inspection.py); when that fails the page says why and shows PCA."""
    from components.sections import inspect_embedding as section
    from models.serving.apart import ApartError

    def never(*args, **kwargs):
        raise AssertionError("t-SNE ran in the web process")

    asked = []

    def busy(embedding, output, weights, root):
        asked.append(output)
        raise ApartError("The server is busy checking other learners' models; try again in a minute.")

    save_run("tsne-learner", "tsne run")
    monkeypatch.setattr(section, "saved_tsne_for", lambda key, model: None)  # as if its weights were new
    monkeypatch.setattr(ins, "tsne", never)
    monkeypatch.setattr(ins, "tsne_apart", busy)
    app = open_tab("Embedding", learner="tsne-learner")
    app.selectbox(key=INSPECT_MODEL).set_value(1).run()
    app.radio(key=INSPECT_PROJECTION).set_value("t-SNE: all 10,000 test images").run()
    assert not app.exception, [e.message for e in app.exception]
    (output,) = asked
    assert output.name == ins.TSNE_FILE and (output.parent / "model.keras").is_file()  # beside the run's model
    assert any("t-SNE cannot be shown for this model: The server is busy" in w.value for w in app.warning)
    points = embedding_points(figures(app)[0])
    pca = ins.pca(evaluation.embedding).coordinates
    np.testing.assert_allclose([points[i] for i in range(10_000)], pca, rtol=1e-4, atol=1e-4 * np.abs(pca).max())

    layout = ins.Projection(pca[:, ::-1].copy(), kl_divergence=1.5, perplexity=30.0, iterations=1_000)
    monkeypatch.setattr(ins, "tsne_apart", lambda embedding, output, weights, root: layout)
    app.run()
    assert not app.exception and not app.warning
    points = embedding_points(figures(app)[0])
    np.testing.assert_allclose([points[i] for i in range(10_000)], layout.coordinates, rtol=1e-6)


def test_confusion_markers_map_back_to_their_cells(evaluation):
    from components.charts.inspect import clicked_cell, confusion_figure
    from models.inputs.fashion_mnist import CLASS_NAMES

    figure = confusion_figure(evaluation.confusion, CLASS_NAMES)
    markers = figure.data[-1]
    for point in (0, 9, 60, 99):
        true_class, predicted = clicked_cell({"point_index": point}, 10)
        assert (markers.y[point], markers.x[point]) == (CLASS_NAMES[true_class], CLASS_NAMES[predicted])
        assert f"{evaluation.confusion[true_class, predicted]:,} images" in markers.hovertext[point]


def test_galleries_colour_relative_values_but_hover_the_real_ones():
    import numpy as np
    from plotly.colors import unlabel_rgb, validate_colors

    from components.charts.inspect import ACTIVATION_SCALE, all_maps_figure, kernel_gallery_figure

    kernels = np.array([[[0.0, 0.5, -2.0]] * 3, [[0.1, 0.0, 0.0]] * 3])
    gallery = kernel_gallery_figure(kernels, [("A", (1, 0))], ["note 0", "note 1"]).data[0]
    assert np.nanmax(np.abs(gallery.z)) == 1.0
    assert gallery.customdata[0][0][1] == 0.1 and gallery.customdata[0][4 + 2][1] == -2.0  # filter 1 drawn first
    maps = np.zeros((4, 4, 2))
    maps[..., 0], maps[1, 2, 1] = 3.0, 0.5
    picture, names = all_maps_figure(maps, "conv1", per_map=True).data
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(picture.source.split(",", 1)[1]))))
    top, bottom = (
        tuple(unlabel_rgb(c)) for c in validate_colors([ACTIVATION_SCALE[-1], ACTIVATION_SCALE[0]], colortype="rgb")
    )
    assert pixels.shape == (4, 8 * 5 - 1, 3) and tuple(pixels[1, 5 + 2]) == top  # 0.5, the map's own largest
    assert tuple(pixels[0, 5]) == bottom and tuple(pixels[0, 0]) == top
    assert tuple(pixels[0, 4]) == tuple(pixels[2, 12]) == (255, 255, 255)  # the gaps and the empty places
    assert np.shape(names.z) == (1, 8) and list(names.customdata[0][:2]) == [3.0, 0.5]  # hover: the real values
    assert (names.x0, names.dx, names.opacity) == (1.5, 5, 0) and "filter %{z}" in names.hovertemplate


def test_charts_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, components.charts.inspect; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------- shareable links


def linked_page(**query: str) -> AppTest:
    return open_page(PAGE, timeout=180, **query)


def test_a_link_opens_its_images_and_tab_and_follows_changes():
    app = linked_page(images="5,7", present="1")
    assert app.radio(key=INSPECT_SOURCE).value == "By index"
    assert app.text_input(key=INSPECT_INDICES).value == "5, 7"
    assert len(figures(app)[0]["data"]) == 2 * 5  # two images x (input + four layers)
    app.text_input(key=INSPECT_INDICES).set_value("1, 2, 3").run()
    assert app.query_params == {"images": "1,2,3", "present": "1"}
    app.radio(key=INSPECT_SOURCE).set_value("Course trio").run()
    assert app.query_params == {"present": "1"}

    app = linked_page(tab="why", images="9")
    assert app.session_state[INSPECT_TAB] == "Why this prediction"
    assert any("Test image index" in box.label for box in app.number_input)
    assert app.query_params == {"tab": "why", "images": "9"}  # other tabs leave ?images= as linked


def test_a_garbled_link_falls_back_to_the_defaults_and_says_what_it_ignored():
    app = linked_page(tab="secret", images="1,x")
    assert [w.value for w in app.warning] == [
        "The link's tab='secret' was ignored (not one of the choices (maps, filters, evaluation, why, embedding)); "
        "using the default, maps.",
        "The link's images='1,x' was ignored (indices are whole numbers); using the default, 0,23,28.",
    ]
    assert app.radio(key=INSPECT_SOURCE).value == "Course trio"
    assert app.query_params == {}


def test_embedding_hover_names_each_point_as_before_with_class_names_sent_once(evaluation):
    from components.charts.inspect import embedding_figure
    from models.inputs.fashion_mnist import CLASS_NAMES

    chosen = np.arange(0, 10_000, 7)
    coordinates = np.random.default_rng(0).normal(size=(len(chosen), 2))
    confidences = [f"{evaluation.confidences[i]:.0%}" for i in chosen]
    figure = embedding_figure(
        coordinates, evaluation.labels[chosen], evaluation.predictions[chosen], confidences, chosen, CLASS_NAMES
    )
    hovers, places = {}, {}
    for trace in figure.data:
        for index, text, x, y in zip(trace.customdata, trace.text, trace.x, trace.y):
            hovers[int(index)] = (
                trace.hovertemplate.replace("%{customdata}", str(index))
                .replace("%{text}", text)
                .removesuffix("<extra></extra>")
            )
            places[int(index)] = (x, y)
    assert sorted(hovers) == chosen.tolist()
    for position, i in enumerate(chosen):
        assert hovers[i] == (
            f"#{i} {CLASS_NAMES[evaluation.labels[i]]}<br>predicted "
            f"{CLASS_NAMES[evaluation.predictions[i]]} {evaluation.confidences[i]:.0%}"
        )
        assert places[i] == pytest.approx(tuple(coordinates[position]), rel=1e-6)
    legend = [trace.name for trace in figure.data if trace.showlegend]
    assert legend == list(CLASS_NAMES) and {trace.legendgroup for trace in figure.data} == set(CLASS_NAMES)


def test_a_phone_grid_wraps_each_images_columns_two_a_band_under_its_label():
    """per_row=2 (a phone): 5 columns of 3 images become 3 bands per image, panels side by side never overlapping,
    each title just above its panel and each image's label above its bands; the maps drawn are the same."""
    from components.charts.inspect import GridColumn, image_grid_figure

    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28))
    columns = [GridColumn("input", images, "image")] + [GridColumn(f"map {i}<br>filter 1", images) for i in range(4)]
    labels = [f"#{i} Bag<br>→ Bag 99%" for i in range(3)]
    flat = image_grid_figure(images, columns, labels)
    wrapped = image_grid_figure(images, columns, labels, per_row=2)
    assert [trace.z.tolist() for trace in wrapped.data] == [trace.z.tolist() for trace in flat.data]
    layout = wrapped.layout
    boxes = {
        axis: (layout[f"xaxis{axis}"].domain, layout[f"yaxis{axis}"].domain) for axis in ["", *map(str, range(2, 16))]
    }
    assert {round(x[1] - x[0], 3) for x, _ in boxes.values()} == {0.48}  # two a row
    assert len({tuple(y) for _, y in boxes.values()}) == 9  # 3 bands for each of 3 images
    for a, (ax, ay) in boxes.items():
        for b, (bx, by) in boxes.items():
            assert a == b or ax[1] <= bx[0] or bx[1] <= ax[0] or ay[1] <= by[0] or by[1] <= ay[0]
    titles = {note.text: note for note in layout.annotations}
    assert set(labels) <= set(titles) and len(layout.annotations) == 3 + 15
    assert titles[labels[1]].y < titles[labels[0]].y and titles[labels[0]].x == 0.0
    for n, axis in enumerate(["", *map(str, range(2, 6))]):  # the first image's panels: its title right above it
        note = [a for a in layout.annotations if a.text == columns[n].title][0]
        assert note.y == boxes[axis][1][1] and boxes[axis][0][0] < note.x < boxes[axis][0][1]
