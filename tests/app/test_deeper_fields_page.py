"""The Deeper page's Receptive fields tab (AppTest): the course CNN's squares, the recurrence table, the gradient's
zero outside the square, a click on a unit, and the Architecture table's receptive-field column."""

import numpy as np

from components.charts.deeper_fields import clicked_unit
from components.framework.session_keys import DEEPER_FIELDS_COL, DEEPER_FIELDS_LAYER, DEEPER_FIELDS_ROW
from tests.support.apptest import figures, open_page, plotly_array


def fields_page(**query):
    return open_page("pages/deeper.py", tab="fields", **query)


def choose(app, key, value):
    next(w for w in [*app.selectbox, *app.number_input] if w.key == key).set_value(value)
    app.run()
    assert not app.exception, [e.message for e in app.exception]


def summary(app) -> str:
    return next(m.value for m in app.markdown if "sees input rows" in m.value)


def test_each_course_layer_shows_its_square_and_zero_gradient_outside():
    app = fields_page(image="23")
    assert any(m.value.startswith("Each unit of a layer looks at a square of input pixels") for m in app.markdown)
    expected = {
        "conv1": "rows 13-15 and columns 13-15: 3x3",
        "pool1": "rows 12-15 and columns 12-15: 4x4",
        "conv2": "rows 10-17 and columns 10-17: 8x8",
        "pool2": "rows 8-17 and columns 8-17: 10x10",  # the same spot, one layer deeper
        "dense": "rows 0-25 and columns 0-25: 26x26",
    }
    for layer, square in expected.items():
        choose(app, DEEPER_FIELDS_LAYER, layer)
        text = summary(app)
        assert square in text and "Largest |gradient| **outside** the square: **0 exactly**" in text, layer
        gradient = plotly_array(figures(app)[-1]["data"][0]["z"])
        (r0, r1), (c0, c1) = [
            tuple(int(n) for n in part.split("-")) for part in square.split(":")[0][5:].split(" and columns ")
        ]
        outside = np.ones(gradient.shape, dtype=bool)
        outside[r0 : r1 + 1, c0 : c1 + 1] = False
        assert np.all(gradient[outside] == 0) and np.abs(gradient).max() > 0, layer
    assert "pool2: windows of 2 with stride 2 fit 11 rows 5 times" in summary(app)
    records = app.table[0].value
    assert list(records["Layer"]) == ["input", "conv1", "pool1", "conv2", "pool2", "flatten", "dense"]
    assert list(records["r"]) == [1, 3, 4, 8, 10, 10, 26] and list(records["j"]) == [1, 1, 2, 2, 4, 4, 20]
    assert list(records["Recurrence"])[3] == "k = 3, s = 1: r = 4 + (3 - 1) x 2 = 8, j = 2 x 1 = 2, start 0"


def test_a_unit_at_the_border_and_a_click_on_the_map():
    app = fields_page()
    choose(app, DEEPER_FIELDS_LAYER, "conv2")
    choose(app, DEEPER_FIELDS_ROW, 10)
    choose(app, DEEPER_FIELDS_COL, 0)
    assert "rows 20-27 and columns 0-7: 8x8" in summary(app)
    clickable = figures(app)[0]
    assert (
        plotly_array(clickable["data"][0]["z"]).shape == (11, 11)
        and plotly_array(clickable["data"][1]["x"]).size == 121
    )
    assert clicked_unit({"point_index": 3 * 11 + 7}, 11) == (3, 7)  # point i is unit divmod(i, columns)


def test_the_architecture_table_has_a_receptive_field_column():
    app = open_page("pages/architecture.py")
    table = app.table[0].value
    assert list(table["Receptive field"]) == [
        "1x1, jump 1",
        "3x3, jump 1",
        "4x4, jump 2",
        "8x8, jump 2",
        "10x10, jump 4",
        "10x10",
        "26x26, whole map",
        "26x26",
        "",
    ]
    same = open_page("pages/architecture.py", kernel="5", padding="same")
    assert list(same.table[0].value["Receptive field"])[1:5] == [
        "5x5, jump 1, from -2",
        "6x6, jump 2, from -2",
        "14x14, jump 2, from -6",
        "16x16, jump 4, from -6",
    ]
