"""Every chart and picture has a text alternative that states its numbers (components/charts/alt.py)."""

import ast
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from components.charts.alt import (
    all_maps_alt,
    embedding_alt,
    figure_alt,
    pictures_alt,
    prediction_alt,
    shape_flow_alt,
    steps_alt,
    strongest_alt,
)
from components.charts.architecture import shift_figure
from components.charts.inspect import confusion_figure
from components.charts.predict import top_k_figure
from components.charts.robustness import curve_figure
from components.framework.memo import freeze

ROOT = Path(__file__).resolve().parents[2]
SHOWN = {"plotly_chart", "image"}  # st.plotly_chart / st.image, on st or on a column or container


def calls_without_alt() -> list[str]:
    """file:line of every `<anything>.plotly_chart(...)` / `<anything>.image(...)` call in pages/ and components/
    that passes no alt= (a PIL `Image.open` is not one: its callee is the module Image, not `.image`)."""
    missing = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("components/**/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SHOWN:
                if not any(keyword.arg == "alt" for keyword in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return missing


def test_every_chart_and_image_call_passes_alt():
    assert calls_without_alt() == []


def test_the_check_finds_a_call_without_alt(tmp_path):
    tree = ast.parse("st.plotly_chart(figure, config={})\ncolumn.image(picture, alt='a boot')")
    found = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SHOWN
        and not any(k.arg == "alt" for k in node.keywords)
    ]
    assert found == ["plotly_chart"]


def test_prediction_alt_names_the_winner_and_its_probability():
    names = ["T-shirt", "Trouser", "Pullover", "Dress"]
    text = prediction_alt([0.05, 0.02, 0.9, 0.03], names)
    assert text == "Class probabilities: Pullover wins with 90.0%; then T-shirt 5.0%, Dress 3.0%."


def test_strongest_alt_finds_the_largest_values_where_they_are():
    values = np.zeros((5, 7))
    values[3, 6], values[0, 1], values[2, 2] = 4.5, 3.25, -9.0
    text = strongest_alt(values, "Filtered map")
    assert text.startswith("Filtered map, 5x7, values from -9 to 4.5; strongest: 4.5 at row 4, column 7; ")
    assert "3.25 at row 1, column 2" in text


def test_figure_alt_reads_every_point_of_the_shift_curves():
    accuracy = {"Course CNN": [0.911, 0.87, 0.826], "Dense network": [0.885, 0.80, 0.645]}
    text = figure_alt(shift_figure([0, 1, 2], accuracy), "Accuracy at each shift")
    assert text.startswith("Accuracy at each shift.")
    assert "Course CNN: 0: 91.1, 1: 87, 2: 82.6." in text and "Dense network: 0: 88.5, 1: 80, 2: 64.5." in text


def test_figure_alt_reads_a_frozen_figure_and_base64_arrays():
    """A figure kept by components.framework.memo.once is read from its dict, whose arrays Plotly writes as base64."""
    curve = freeze(curve_figure("Shift", "pixels", [0, 2, 4], [("CNN", np.array([0.9, 0.8, 0.5]))]))
    text = figure_alt(curve, "Shift")
    assert "CNN: 0: 90, 2: 80, 4: 50." in text


def test_figure_alt_of_the_top_classes_lists_each_bar():
    probabilities = np.array([0.02, 0.9, 0.05, 0.03])
    text = figure_alt(top_k_figure(probabilities, ["a", "b", "c", "d"], k=3), "Top classes")
    assert "b 0.9" in text and "c 0.05" in text and "a 0.02" not in text


def test_figure_alt_of_the_confusion_matrix_names_the_largest_cell():
    confusion = np.array([[50, 3], [10, 37]])
    text = figure_alt(confusion_figure(confusion, ["Coat", "Shirt"], None), "Confusion")
    assert "Across: predicted class; up: true class." in text
    assert "values from 37 to 50, highest at Coat, Coat" in text  # the correct answers
    assert "values from 3 to 10, highest at Shirt, Coat" in text  # the mistakes: 10 shirts taken for coats


def test_figure_alt_of_a_heatmap_gives_its_range_and_peak():
    z = np.arange(12.0).reshape(3, 4)
    assert "Map 3x4: values from 0 to 11, highest at row 3, column 4." in figure_alt(go.Figure(go.Heatmap(z=z)), "M")


def test_shape_flow_alt_states_each_shape_and_count():
    text = shape_flow_alt([(28, 28, 1), (26, 26, 64), (10,)], ["", "Conv2D", "Dense"])
    assert "28x28x1 (784 values) -> Conv2D 26x26x64 (43,264 values) -> Dense 10 (10 values)" in text


def test_steps_and_pictures_alt():
    assert steps_alt(["Grayscale", "Resize"], [(280, 200), (28, 28)]) == (
        "The picture after each preprocessing step: 1. Grayscale (280x200), 2. Resize (28x28)."
    )
    assert pictures_alt("neighbours", ["Coat<br>#3 · 0.9"]) == "1 pictures, neighbours: Coat #3 · 0.9."


def test_all_maps_alt_counts_dead_maps_and_strongest_filters():
    maps = np.zeros((4, 4, 3))
    maps[1, 1, 2], maps[0, 0, 0] = 5.0, 1.0
    assert all_maps_alt(maps, "conv1") == (
        "All 3 4x4 feature maps of conv1: 1 stay 0; strongest filters 2 (peak 5), 0 (peak 1), 1 (peak 0)."
    )


@pytest.mark.parametrize("apart", [0, 1])
def test_embedding_alt_gives_class_centres(apart):
    coordinates = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 10.0], [1.0, 1.0], [1.0, -1.0]])
    labels = np.array([0, 0, 1, 1, 2, 2])
    if apart == 0:
        coordinates[:2] += 40
    text = embedding_alt(coordinates, labels, ["Coat", "Bag", "Shirt"], "PCA")
    assert "6 test images" in text and ("Coat around (41, 40)" if apart == 0 else "Coat around (1, 0)") in text
    assert text.endswith(f"Furthest from the rest: {['Coat', 'Bag'][apart]}.")


def test_embedding_classes_differ_in_marker_shape_not_only_colour():
    from components.charts.inspect import embedding_figure

    labels = np.arange(10)
    figure = embedding_figure(np.zeros((10, 2)), labels, labels, ["99%"] * 10, labels, [str(c) for c in range(10)])
    symbols = {trace.name: trace.marker.symbol for trace in figure.data if trace.showlegend}
    assert len(symbols) == 10 and len(set(symbols.values())) == 10
