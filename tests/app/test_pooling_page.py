"""The Pooling page and its chart builders, checked against Keras / TensorFlow on real Fashion-MNIST items."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from streamlit.testing.v1 import AppTest

from components.charts import pooling as charts
from components.charts.pictures import colorize
from components.framework.session_keys import (
    POOL_CHANNEL,
    POOL_FILTER,
    POOL_MODE,
    POOL_PADDING,
    POOL_REPEATED,
    POOL_SHIFT_AFTER,
    POOL_SHIFT_DX,
    POOL_SHIFT_DY,
    POOL_SIZE,
    POOL_STRIDE,
    WALK_FILTER,
    WALK_MAPS,
    pool_times_key,
)
from models.design.card import read_filter_snapshots
from models.design.config import COURSE_CNN, plan
from models.inputs.fashion_mnist import CLASS_NAMES
from models.ops.kernels import KERNELS
from models.ops.pooling import PoolError, output_shape, pool2d, shift_sensitivity, window_starts
from tests.support.apptest import open_page, plotly_array
from tests.support.browser import ROOT

PAGE_PATH = "pages/pooling.py"
PAGE = str(ROOT / PAGE_PATH)  # the script alone, for the fresh-process import check
SOBEL_VERTICAL = KERNELS["Sobel: vertical edges"].weights
SOBEL_HORIZONTAL = KERNELS["Sobel: horizontal edges"].weights


# ---------------------------------------------------------------- references


def first_item(fashion, class_name: str) -> np.ndarray:
    """The first test image of a class as float32 in [0, 1] (what the page's samples use)."""
    (_, _), (images, labels) = fashion
    return images[np.flatnonzero(labels == CLASS_NAMES.index(class_name))[0]].astype(np.float32) / 255.0


def keras_pool(x2d: np.ndarray, size: int, stride: int, padding: str, mode: str) -> np.ndarray:
    """Keras's pooling layers on one map; min pooling is max pooling of the negated map."""
    layer = (keras.layers.AveragePooling2D if mode == "avg" else keras.layers.MaxPooling2D)(size, stride, padding)
    sign = -1.0 if mode == "min" else 1.0
    return sign * np.asarray(layer(sign * x2d[None, :, :, None]))[0, :, :, 0]


def keras_conv_relu(x2d: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A bias-free Keras Conv2D with ReLU and one filter, 'valid' padding."""
    layer = keras.layers.Conv2D(1, kernel.shape, use_bias=False, activation="relu")
    layer.build((None, *x2d.shape, 1))
    layer.set_weights([np.asarray(kernel, np.float32)[:, :, None, None]])
    return np.asarray(layer(x2d[None, :, :, None]))[0, :, :, 0]


def zero_shift(x2d: np.ndarray, dy: int, dx: int) -> np.ndarray:
    h, w = x2d.shape
    out = np.zeros_like(x2d)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x2d[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def relative_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(b - a).sum() / (np.abs(a).sum() + np.abs(b).sum()))


array = plotly_array  # a Plotly array from a figure's JSON (typed-array dicts or plain lists)


def fig_json(fig) -> dict:
    return json.loads(fig.to_json())


@pytest.fixture(scope="module")
def edge_map(fashion) -> np.ndarray:
    """A real ReLU'd vertical-edge map of an ankle boot (26x26), computed by Keras."""
    return keras_conv_relu(first_item(fashion, "Ankle boot"), SOBEL_VERTICAL)


# ---------------------------------------------------------------- chart builders


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("size,stride", [(1, 1), (2, 2), (2, 1), (3, 2), (3, 3), (4, 3), (2, 3)])
def test_window_starts_reproduce_tensorflow_windows(edge_map, size, stride, padding):
    """Reducing the cells each drawn window covers gives exactly TensorFlow's max and average pooling."""
    for length in (26, 25, 11):
        x = edge_map[:length, :length]
        starts = window_starts(length, size, stride, padding)
        windows = [[x[max(r, 0) : r + size, max(c, 0) : c + size] for c in starts] for r in starts]
        for mode, reduce in (("max", np.max), ("avg", np.mean)):
            expected = keras_pool(x, size, stride, padding, mode)
            drawn = np.array([[reduce(w) for w in row] for row in windows])
            np.testing.assert_allclose(drawn, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("size,stride,padding", [(2, 2, "valid"), (3, 2, "same"), (2, 1, "valid")])
def test_window_grid_figure_shows_values_windows_and_tensorflow_winners(edge_map, size, stride, padding):
    x = edge_map[:25, :25]  # odd size: 'same' windows hang over the bottom/right edge
    out_shape = keras_pool(x, size, stride, padding, "max").shape
    view = charts.window_view(out_shape, (out_shape[0] - 1, out_shape[1] // 2), size, stride)
    spec = fig_json(charts.window_grid_figure(x, view, size=size, stride=stride, padding=padding, mode="max"))
    left, right = spec["data"]
    rows, cols = array(left["y"]), array(left["x"])
    np.testing.assert_array_equal(array(left["z"]), x[np.ix_(rows, cols)])
    pooled = keras_pool(x, size, stride, padding, "max")
    out_rows, out_cols = array(right["y"]), array(right["x"])
    np.testing.assert_array_equal(array(right["z"]), pooled[np.ix_(out_rows, out_cols)])
    assert len(out_rows) == view.count[0] and len(out_cols) == view.count[1]

    shapes = spec["layout"]["shapes"]
    windows = [s for s in shapes if s["line"]["color"] == charts.WINDOW_COLOUR]
    winners = [s for s in shapes if s["line"]["color"] == charts.WINNER_COLOUR]
    assert len(windows) == len(winners) == view.count[0] * view.count[1]
    red_window, red_cell = [s for s in shapes if s["line"]["color"] == charts.SELECTED_COLOUR]
    starts = window_starts(25, size, stride, padding)
    top, left = starts[view.selected[0]] - 0.5, starts[view.selected[1]] - 0.5
    assert (red_window["xref"], red_window["y0"], red_window["x0"], red_window["y1"]) == ("x", top, left, top + size)
    assert (red_cell["xref"], red_cell["y0"], red_cell["x0"]) == ("x2", view.selected[0] - 0.5, view.selected[1] - 0.5)

    _, argmax = tf.nn.max_pool_with_argmax(x[None, :, :, None], size, stride, padding.upper())
    flat = np.asarray(argmax)[0, :, :, 0]
    for window, winner in zip(windows, winners):
        centre_r, centre_c = round((winner["y0"] + winner["y1"]) / 2), round((winner["x0"] + winner["x1"]) / 2)
        r = int(np.searchsorted(starts, round(window["y0"] + 0.5)))
        c = int(np.searchsorted(starts, round(window["x0"] + 0.5)))
        assert divmod(int(flat[r, c]), 25) == (centre_r, centre_c)
        assert window["x0"] < winner["x0"] < winner["x1"] < window["x1"]
        assert x[centre_r, centre_c] == pooled[r, c]


@pytest.mark.parametrize("size,stride,padding", [(2, 2, "valid"), (3, 2, "same")])
def test_min_windows_box_the_pixel_tensorflow_picks_for_the_negated_map(edge_map, size, stride, padding):
    x = edge_map[:25, :25]
    pooled = keras_pool(x, size, stride, padding, "min")
    view = charts.window_view(pooled.shape, (pooled.shape[0] // 2, pooled.shape[1] - 1), size, stride)
    spec = fig_json(charts.window_grid_figure(x, view, size=size, stride=stride, padding=padding, mode="min"))
    winners = [s for s in spec["layout"]["shapes"] if s["line"]["color"] == charts.WINNER_COLOUR]
    _, argmax = tf.nn.max_pool_with_argmax(-x[None, :, :, None], size, stride, padding.upper())
    flat = np.asarray(argmax)[0, :, :, 0]
    (r0, c0), (nr, nc) = view.first, view.count
    expected = [divmod(int(flat[r, c]), 25) for r in range(r0, r0 + nr) for c in range(c0, c0 + nc)]
    assert [(round((w["y0"] + w["y1"]) / 2), round((w["x0"] + w["x1"]) / 2)) for w in winners] == expected


def test_window_grid_figure_for_average_pooling_has_no_winners(edge_map):
    view = charts.window_view((13, 13), (6, 6), 2, 2)
    spec = fig_json(charts.window_grid_figure(edge_map, view, size=2, stride=2, padding="valid", mode="avg"))
    assert not [s for s in spec["layout"]["shapes"] if s["line"]["color"] == charts.WINNER_COLOUR]
    np.testing.assert_allclose(
        array(spec["data"][1]["z"]), keras_pool(edge_map, 2, 2, "valid", "avg")[4:8, 4:8], rtol=1e-6
    )


def test_window_view_stays_inside_the_output():
    assert charts.window_view((13, 13), (12, 0), 2, 2) == charts.WindowView((9, 0), (4, 4), (12, 0))
    assert charts.window_view((13, 13), (6, 6), 3, 1).count == (4, 4)
    assert charts.window_view((1, 1), (0, 0), 28, 28) == charts.WindowView((0, 0), (1, 1), (0, 0))
    assert charts.window_view((2, 7), (1, 6), 2, 2).first == (0, 3)


def test_window_equation_writes_out_keras_numbers(edge_map):
    pooled = keras_pool(edge_map, 2, 2, "valid", "max")
    r, c = np.unravel_index(np.argmax(pooled), pooled.shape)
    text = charts.window_equation(edge_map, (r, c), size=2, stride=2, padding="valid", mode="max")
    listed = edge_map[2 * r : 2 * r + 2, 2 * c : 2 * c + 2].ravel()
    assert text == f"max({', '.join(f'{v:.2f}' for v in listed)}) = {pooled[r, c]:.2f}"

    x = edge_map[:25, :25]
    average = keras_pool(x, 3, 2, "same", "avg")
    text = charts.window_equation(x, (12, 12), size=3, stride=2, padding="same", mode="avg")
    assert re.fullmatch(r"\((\d\.\d\d \+ ){3}\d\.\d\d\) / 4 = " + f"{average[12, 12]:.2f}", text)

    assert charts.window_equation(edge_map, (0, 0), size=5, stride=5, padding="valid", mode="min") == (
        f"min of 25 values = {keras_pool(edge_map, 5, 5, 'valid', 'min')[0, 0]:.2f}"
    )


def test_pooling_sentence_uses_the_course_numbers():
    assert charts.pooling_sentence((26, 26), (13, 13), size=2, stride=2, mode="max") == (
        "2x2 max pooling keeps the largest of each 4 values: 26x26 -> 13x13, a quarter of the pixels"
    )
    assert charts.pooling_sentence((11, 11), (5, 5), size=2, stride=2, mode="avg").endswith(
        "11x11 -> 5x5, 20.7% of the pixels"
    )
    assert "(windows move 1 pixel at a time)" in charts.pooling_sentence(
        (28, 28), (27, 27), size=2, stride=1, mode="min"
    )


def test_maps_figure_draws_every_map_at_true_or_scaled_size(fashion):
    item = first_item(fashion, "Sneaker")
    pooled = keras_pool(item, 2, 2, "valid", "max")
    panels = [charts.Panel("Input 28x28", item), charts.Panel("Max pooled 14x14", pooled)]
    true_size = fig_json(charts.maps_figure(panels, same_pixel_size=True))
    scaled = fig_json(charts.maps_figure(panels, same_pixel_size=False))
    for spec in (true_size, scaled):
        np.testing.assert_array_equal(array(spec["data"][0]["z"]), item)
        np.testing.assert_array_equal(array(spec["data"][1]["z"]), pooled)
        assert [a["text"] for a in spec["layout"]["annotations"]] == ["Input 28x28", "Max pooled 14x14"]
        assert spec["data"][1]["zmin"] == 0.0 and spec["data"][1]["zmax"] == item.max()  # one shared grey scale
    assert [t["dx"] for t in true_size["data"]] == [1.0, 1.0]
    assert [t["dx"] for t in scaled["data"]] == [1.0, 2.0]
    first_right = true_size["data"][0]["x0"] + 27.5
    assert true_size["data"][1]["x0"] - 0.5 > first_right  # side by side, not overlapping

    big = np.linspace(-1.0, 3.0, 300 * 300, dtype=np.float32).reshape(300, 300)
    image = fig_json(charts.maps_figure([charts.Panel("Upload", big)]))["data"][0]
    assert image["type"] == "image" and image["zsmooth"] is False and image["dx"] == 1  # drawn about 1:1
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(image["source"].split(",", 1)[1])))).astype(int)
    painted = colorize(big, "gray", -1.0, 3.0)[..., 0]  # as the heatmap of a small map would paint it
    assert np.abs(picture - painted).max() <= 2  # JPEG of a smooth ramp: nearly exact

    upload = np.ascontiguousarray(np.tile(item, (37, 37))[:1022, :1022])  # a 1022x1022 map
    pooled = keras_pool(upload, 2, 2, "valid", "max")
    spec = fig_json(charts.maps_figure([charts.Panel("Input", upload), charts.Panel("Pooled", pooled)], height=300))
    assert charts.drawn_as_picture(upload, pooled) and not charts.drawn_as_picture(item, pooled[:64, :64])
    assert len(json.dumps(spec)) < 150_000
    drawn_rows = 300 - spec["layout"]["margin"]["t"] - spec["layout"]["margin"]["b"]  # the input fills the height
    for trace, values in zip(spec["data"], (upload, pooled)):
        factor = round(trace["dx"])
        picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(trace["source"].split(",", 1)[1])))).astype(int)
        assert picture.shape == (-(-values.shape[0] // factor),) * 2
        drawn_here = drawn_rows * values.shape[0] / upload.shape[0]  # every pixel drawn the same size
        assert 2 / 3 * drawn_here <= picture.shape[0] <= 2 * drawn_here  # about one picture pixel per screen pixel
        whole = values.shape[0] // factor * factor
        block_means = values[:whole, :whole].reshape(whole // factor, factor, -1, factor).mean(axis=(1, 3))
        expected = colorize(block_means, "gray", float(upload.min()), float(upload.max()))[..., 0]
        assert np.abs(picture[: expected.shape[0], : expected.shape[1]] - expected).mean() < 5  # JPEG: a few levels
    difference = fig_json(charts.maps_figure([charts.Panel("|difference|", upload, colorscale="Reds")]))["data"][0]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(difference["source"].split(",", 1)[1]))))
    assert picture.ndim == 3 and (picture[..., 0] >= picture[..., 2]).mean() > 0.95  # still red, as its heatmap
    assert spec["data"][1]["x0"] - 1.0 > spec["data"][0]["x0"] + 1020  # the pooled map still right of the input

    with pytest.raises(ValueError, match="at least one panel"):
        charts.maps_figure([])


@pytest.mark.parametrize("shift", [(0, 1), (1, 1), (-2, 0), (2, -2)])
def test_shift_figures_show_what_shift_sensitivity_measures(edge_map, shift):
    pool = dict(size=2, stride=2, mode="max", padding="valid")
    stats = shift_sensitivity(edge_map, shift)
    before = fig_json(charts.shift_figure(edge_map, shift))
    after = fig_json(charts.shift_figure(edge_map, shift, pool, moved_cells=stats.moved_cells))
    original, shifted, difference = (array(t["z"]) for t in before["data"])
    pooled, pooled_shifted, pooled_difference, *moved = (array(t["z"]) for t in after["data"])
    np.testing.assert_array_equal(shifted, zero_shift(edge_map, *shift))
    np.testing.assert_array_equal(pooled_shifted, keras_pool(shifted, 2, 2, "valid", "max"))
    np.testing.assert_array_equal(difference, np.abs(shifted - original))
    np.testing.assert_array_equal(pooled_difference, np.abs(pooled_shifted - pooled))
    assert relative_change(original, shifted) == pytest.approx(stats.unpooled_change, rel=1e-6)
    assert relative_change(pooled, pooled_shifted) == pytest.approx(stats.pooled_change, rel=1e-6)
    assert before["data"][2]["zmax"] == after["data"][2]["zmax"] == pytest.approx(float(edge_map.max()))
    if shift[0] % 2 or shift[1] % 2:  # not a whole number of strides: compared in place only
        assert stats.moved_cells is None and not moved
    else:
        cells = (shift[0] // 2, shift[1] // 2)
        pooled_moved, moved_difference = moved
        np.testing.assert_array_equal(pooled_moved, zero_shift(keras_pool(edge_map, 2, 2, "valid", "max"), *cells))
        np.testing.assert_array_equal(moved_difference, 0.0)  # the pooled map only moved
        assert after["layout"]["annotations"][3]["text"] == f"Pooled, moved ({cells[0]:+d}, {cells[1]:+d}) cells"


# ---------------------------------------------------------------- the page (AppTest)


def chart(app: AppTest, key: str) -> dict:
    matches = [c for c in app.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(matches) == 1, f"no single chart with key {key!r}"
    return json.loads(matches[0].proto.spec)


def metrics(app: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.proto.delta) for m in app.metric}


@pytest.fixture
def page() -> AppTest:
    return open_page(PAGE_PATH, timeout=60)


def test_page_starts_with_the_course_models_first_pooling(page, edge_map):
    """Default: ankle boot -> 3x3 edge filter + ReLU (26x26) -> 2x2 max pool (13x13), as Keras computes it."""
    assert not page.error
    assert metrics(page)["Input"] == ("26x26", "676 pixels")
    assert metrics(page)["Output"] == ("13x13", "169 pixels")
    assert metrics(page)["Compression"] == ("4.00:1", "keeps 25.0%")
    assert page.code[0].value == "height and width: floor((26 - 2) / 2) + 1 = 13"
    assert "2x2 max pooling keeps the largest of each 4 values: 26x26 -> 13x13, a quarter of the pixels" in [
        m.value.strip("*.") for m in page.markdown
    ]
    traces = chart(page, "pool_true_size")["data"]
    np.testing.assert_allclose(array(traces[0]["z"]), edge_map, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(array(traces[1]["z"]), keras_pool(edge_map, 2, 2, "valid", "max"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["max", "avg", "min"])
def test_page_filter_relu_pool_matches_keras(page, fashion, mode):
    page.selectbox(key=POOL_FILTER).select("Sobel: vertical edges")
    page.radio(key=POOL_MODE).set_value(mode)
    page.number_input(key=POOL_SIZE).set_value(3)
    page.radio(key=POOL_PADDING).set_value("same")
    page.run()
    assert not page.exception and not page.error
    expected = keras_pool(keras_conv_relu(first_item(fashion, "Ankle boot"), SOBEL_VERTICAL), 3, 2, "same", mode)
    np.testing.assert_allclose(array(chart(page, "pool_scaled")["data"][1]["z"]), expected, rtol=1e-5, atol=1e-5)
    assert metrics(page)["Input"][0] == "26x26" and metrics(page)["Output"][0] == "13x13"
    assert page.code[0].value == "height and width: ceil(26 / 2) = 13"

    row, col = page.slider(key="pool_window_row_13x13").value, page.slider(key="pool_window_column_13x13").value
    assert f"**Window at output row {row}, column {col}:**" in [m.value for m in page.markdown]
    equation = page.code[1].value
    assert equation == charts.window_equation(
        keras_conv_relu(first_item(fashion, "Ankle boot"), SOBEL_VERTICAL),
        (row, col),
        size=3,
        stride=2,
        padding="same",
        mode=mode,
    )
    assert equation.endswith(f"= {expected[row, col]:.2f}")


@pytest.mark.parametrize(
    "setting,value,message",
    [
        (
            "pool_size",
            30,
            "Pool size 30x30 is larger than the 26x26 input: with 'valid' padding there is no full window",
        ),
        ("pool_stride", 0, "Stride must be at least 1 (got 0)"),
        ("pool_size", 0, "Pool size must be at least 1 (got 0)"),
    ],
)
def test_bad_parameters_show_the_pool_error(page, setting, value, message):
    page.number_input(key=setting).set_value(value)
    page.run()
    assert not page.exception
    assert [e.value for e in page.error] == [message]
    with pytest.raises(PoolError, match=re.escape(message)):
        pool2d(
            np.zeros((26, 26)),
            size=value if setting == "pool_size" else 2,
            stride=value if setting == "pool_stride" else 2,
        )
    assert chart(page, "walk_maps")  # the course walk does not depend on these settings


def shift_caption(app: AppTest) -> str:
    return next(c.value for c in app.caption if c.value.startswith("Changed = "))


def test_shift_test_numbers_match_an_independent_computation(page, edge_map):
    """One measure for both maps; a 1-pixel move changes the max-pooled edge map less than the map (Keras)."""
    for dy, dx in [(0, 1), (2, -1)]:
        page.slider(key=POOL_SHIFT_DY).set_value(dy)
        page.slider(key=POOL_SHIFT_DX).set_value(dx)
        page.run()
        shifted = zero_shift(edge_map, dy, dx)
        unpooled = relative_change(edge_map, shifted)
        pooled = relative_change(keras_pool(edge_map, 2, 2, "valid", "max"), keras_pool(shifted, 2, 2, "valid", "max"))
        assert pooled < unpooled
        shown = metrics(page)
        assert set(shown) >= {"Feature map changed", "Pooled map changed (same cells)"}
        assert not any(label.startswith("Pooled map changed (moved") for label in shown)
        assert shown["Feature map changed"] == (f"{unpooled:.0%}", "")  # one number each, no second measure
        assert shown["Pooled map changed (same cells)"] == (f"{pooled:.0%}", "")
        caption = shift_caption(page)
        assert (
            f"changed the feature map {unpooled:.0%} and the pooled map, cell by cell in place, {pooled:.0%}: less"
            in (caption)
        )
        assert "not a whole number of strides (2 pixels)" in caption
    page.slider(key=POOL_SHIFT_DY).set_value(0)
    page.slider(key=POOL_SHIFT_DX).set_value(0)
    page.run()
    assert "Move the map by 1 or 2 pixels to compare." in [i.value for i in page.info]


def test_a_shift_by_the_stride_is_compared_with_the_pooled_map_moved_one_cell(page, edge_map):
    """Old page: a 2-pixel move 'changed the pooled map 48%' beside a caption saying it just moves one cell."""
    page.slider(key=POOL_SHIFT_DY).set_value(0)
    page.slider(key=POOL_SHIFT_DX).set_value(2)
    page.run()
    pooled = keras_pool(edge_map, 2, 2, "valid", "max")
    pooled_shifted = keras_pool(zero_shift(edge_map, 0, 2), 2, 2, "valid", "max")
    in_place, moved = relative_change(pooled, pooled_shifted), relative_change(zero_shift(pooled, 0, 1), pooled_shifted)
    assert moved == 0.0 and in_place > 0.3
    shown = metrics(page)
    assert shown["Pooled map changed (same cells)"][0] == f"{in_place:.0%}"
    assert shown["Pooled map changed (moved +0, +1 cells)"][0] == "0%"
    caption = shift_caption(page)
    assert (
        "so the pooled map moves by (+0, +1) cells: against the pooled original moved by that much it changed 0%"
        in (caption)
    )
    after = chart(page, POOL_SHIFT_AFTER)["data"]
    np.testing.assert_allclose(array(after[3]["z"]), zero_shift(pooled, 0, 1), atol=1e-6)
    np.testing.assert_array_equal(array(after[4]["z"]), 0.0)


def test_repeated_pooling_shrinks_28_to_3_and_stops_at_1x1(page, fashion):
    boot = first_item(fashion, "Ankle boot")
    traces = chart(page, "pool_repeated")["data"]
    assert [array(t["z"]).shape for t in traces] == [(28, 28), (14, 14), (7, 7), (3, 3)]
    expected = boot
    for trace in traces[1:]:
        expected = keras_pool(expected, 2, 2, "valid", "max")
        np.testing.assert_array_equal(array(trace["z"]), expected)
    assert page.slider(key="pool_times_4").max == 4  # 28 -> 14 -> 7 -> 3 -> 1, then no 2x2 window fits


def test_repeated_pooling_caption_names_the_shapes_on_screen(page):
    """The caption's chain of shapes is the panel's (28 -> 14 -> 7 -> 3 for 2x2 pools), not the model's 13 and 5."""

    def pooled_shapes(times: int, size: int, stride: int) -> list[tuple[int, int]]:
        shapes = [(28, 28)]
        for _ in range(times):
            shapes.append(output_shape(*shapes[-1], size, stride, "valid"))
        return shapes

    def caption_shapes() -> list[tuple[int, ...]]:
        caption = next(c.value for c in page.caption if c.value.startswith("The picture itself"))
        chain = re.search(r"same size: (\d+x\d+(?: -> \d+x\d+)*) \(height x width\)\.", caption)
        assert chain, caption
        return [tuple(int(n) for n in shape.split("x")) for shape in chain.group(1).split(" -> ")]

    traces = chart(page, POOL_REPEATED)["data"]
    assert caption_shapes() == pooled_shapes(3, 2, 2) == [array(t["z"]).shape for t in traces]
    assert caption_shapes() == [(28, 28), (14, 14), (7, 7), (3, 3)]
    caption = next(c.value for c in page.caption if c.value.startswith("The picture itself"))
    # the course model's own poolings, as its Keras summary shows them (conv 26, pool 13, conv 11, pool 5)
    assert "The course model pools only twice (26x26 -> 13x13, then 11x11 -> 5x5)" in caption
    page.slider(key=pool_times_key(4)).set_value(4).run()
    assert caption_shapes() == pooled_shapes(4, 2, 2)
    page.number_input(key=POOL_SIZE).set_value(3).run()
    page.number_input(key=POOL_STRIDE).set_value(3).run()
    assert not page.exception and not page.error
    assert caption_shapes() == pooled_shapes(3, 3, 3) == [(28, 28), (9, 9), (3, 3), (1, 1)]


SIZE = re.compile(r"\b\d+x\d+(?:x\d+)?\b")
COURSE_WORDS = ("course model", "course CNN", "real model")  # a sentence about the course model says so


def page_sentences(app: AppTest) -> list[str]:
    """Every sentence of the page's text: markdown, captions, notes, headers, metrics and chart labels (not the
    course walk's, which always shows the course model)."""
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "header", "code") for e in app.get(kind)]
    texts += [f"{m.label}: {m.value}" for m in app.metric]
    for element in app.get("plotly_chart"):
        if not element.proto.id.endswith(f"-{WALK_MAPS}"):
            texts += [a["text"] for a in json.loads(element.proto.spec)["layout"].get("annotations", [])]
    return [sentence for text in texts for sentence in re.split(r"(?<=[.:])\s+(?=[A-Z*])", text)]


def repeated_block(size: int, stride: int, times: int) -> int:
    """The input block one cell sees after `times` poolings (the receptive-field recurrence, last layer first)."""
    block = 1
    for _ in range(times):
        block = (block - 1) * stride + size
    return block


def check_sizes(app: AppTest, picture: tuple[int, int], size: int = 2, stride: int = 2) -> list[str]:
    """Asserts every size a sentence states is one on screen (the picture, the filtered map, each pooling of them,
    the window) unless the sentence says it is the course model's; returns the sentences with sizes."""
    fmap = (picture[0] - 2, picture[1] - 2)  # a 3x3 'valid' filter
    chain = [picture]
    times = next(w for w in app.slider if (w.key or "").startswith("pool_times_")).value
    for _ in range(times):
        chain.append(output_shape(*chain[-1], size, stride, "valid"))
    block = repeated_block(size, stride, len(chain) - 1)
    shown = {fmap, output_shape(*fmap, size, stride, "valid"), *chain, (size, size), (block, block)}
    with_sizes = []
    for sentence in page_sentences(app):
        sizes = [tuple(int(n) for n in found.split("x")) for found in SIZE.findall(sentence)]
        if not sizes:
            continue
        with_sizes.append(sentence)
        if any(word in sentence for word in COURSE_WORDS):
            continue
        kernel = {(3, 3)} if re.search("kernel|filter|weights", sentence) else set()  # the 3x3 filter's size
        for found in sizes:
            assert found[:2] in shown | kernel, (found, sentence, sorted(shown))
    return with_sizes


def test_every_size_in_the_texts_is_the_fashion_items(page):
    sentences = check_sizes(page, (28, 28))
    assert any("26x26 -> 13x13" in s and "course model" not in s for s in sentences)  # the item's own pooling
    assert any("after 3 poolings, 1.1% of the 28x28 pixels remain" in s for s in sentences)


def test_after_a_filters_visit_every_size_is_the_street_scenes():
    """Old page: the street scene pooled 254x382 -> 127x191 beside '26x26 -> 13x13' and 'by 3x3 most items are no
    longer recognisable'. Filters opens on the street scene; the picker is shared, so Pooling pools it."""
    app = open_page("pages/filters.py", timeout=60)
    app.switch_page(PAGE_PATH).run()
    assert not app.exception and not app.error
    assert app.selectbox(key="pooling_sample").value == "Street scene"
    assert metrics(app)["Input"][0] == "254x382" and metrics(app)["Output"][0] == "127x191"
    sentences = check_sizes(app, (256, 384))
    assert any("2x2 max pooling keeps the largest of each 4 values: 254x382 -> 127x191" in s for s in sentences)
    chain = " -> ".join(f"{h}x{w}" for h, w in [(256, 384), (128, 192), (64, 96), (32, 48)])
    assert any(f"same size: {chain} (height x width)" in s for s in sentences)
    assert any("each summarising a window of up to 8x8 pixels" in s for s in sentences)
    assert not any("recognisable" in s for s in sentences)
    app.number_input(key=POOL_SIZE).set_value(3).run()
    app.number_input(key=POOL_STRIDE).set_value(3).run()
    assert metrics(app)["Output"][0] == "{}x{}".format(*output_shape(254, 382, 3, 3, "valid"))
    check_sizes(app, (256, 384), size=3, stride=3)


def test_course_walk_follows_plan_with_the_learned_filter(page, fashion):
    traces = chart(page, "walk_maps")["data"]
    maps = [array(t["z"]) for t in traces]
    spatial = [stage.shape[:2] for stage in plan(COURSE_CNN) if len(stage.shape) == 3]
    assert [m.shape for m in maps] == spatial == [(28, 28), (26, 26), (13, 13), (11, 11), (5, 5)]

    index = page.selectbox(key=WALK_FILTER).value
    kernel = read_filter_snapshots()[-1, :, :, 0, index]  # trained weights, bias left out
    sneaker = first_item(fashion, "Sneaker")
    conv1 = keras_conv_relu(sneaker, kernel)
    pool1 = keras_pool(conv1, 2, 2, "valid", "max")
    conv2 = keras_conv_relu(pool1, SOBEL_HORIZONTAL)
    for got, want in zip(maps, [sneaker, conv1, pool1, conv2, keras_pool(conv2, 2, 2, "valid", "max")]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert f"filter #{index} of 64" in page.caption[-1].value


def test_rgb_sample_pools_each_channel(page):
    page.radio(key="pooling_mode").set_value(page.radio(key="pooling_mode").options[1])
    page.selectbox(key="pooling_sample").select("Shapes")
    page.run()
    assert not page.exception and not page.error
    assert metrics(page)["Input"][0] == "254x254" and metrics(page)["Output"][0] == "127x127"
    assert page.radio(key=POOL_CHANNEL).value == "Red"
    assert chart(page, "pool_true_size")["data"][1]["type"] == "image"  # large colour maps go as one PNG


def test_page_does_not_import_tensorflow():
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from streamlit.testing.v1 import AppTest
        app = AppTest.from_file({PAGE!r}, default_timeout=60).run()
        assert not app.exception, [e.message for e in app.exception]
        print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_uploads_are_pooled_and_bad_files_explained(page, fashion):
    page.radio(key="pooling_source").set_value("Upload")
    page.run()
    page.file_uploader(key="pooling_upload").set_value(("notes.png", b"not an image", "image/png"))
    page.run()
    assert not page.exception
    assert len(page.error) == 1 and "not an image format we can read" in page.error[0].value

    buffer = io.BytesIO()
    Image.fromarray((first_item(fashion, "Bag") * 255).round().astype(np.uint8)).resize((57, 57)).save(buffer, "PNG")
    page.file_uploader(key="pooling_upload").set_value(("bag.png", buffer.getvalue(), "image/png"))
    page.run()
    assert not page.exception and not page.error
    assert metrics(page)["Output"][0] == "27x27"
    assert page.code[0].value == "height and width: floor((55 - 2) / 2) + 1 = 27"


def test_a_picture_smaller_than_the_filter_gets_a_message(page):
    buffer = io.BytesIO()
    Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8)).save(buffer, "PNG")
    page.radio(key="pooling_source").set_value("Upload")
    page.run()
    page.file_uploader(key="pooling_upload").set_value(("tiny.png", buffer.getvalue(), "image/png"))
    page.run()
    assert not page.exception
    assert [e.value for e in page.error] == [
        "The 3-pixel kernel height is larger than the 2-pixel image height: with 'valid' padding it does not fit. "
        "Use a smaller kernel or 'same' padding."
    ]

    page.selectbox(key=POOL_FILTER).select(page.selectbox(key=POOL_FILTER).options[0])  # no filter
    page.run()
    page.slider(key=POOL_SHIFT_DX).set_value(2)
    page.run()
    assert not page.exception and not page.error
    assert metrics(page)["Output"][0] == "1x1"
    assert [w.value for w in page.warning] == ["A shift of (0, 2) moves the whole 2x2 map out of view"]


# ---------------------------------------------------------------- shareable links


def linked_page(**query: str) -> AppTest:
    return open_page(PAGE_PATH, timeout=60, **query)


def test_a_link_opens_its_sample_and_pooling_and_follows_changes(fashion):
    app = linked_page(sample="Fashion-MNIST: Trouser", size="3", stride="1", mode="avg", present="1")
    assert app.selectbox(key="pooling_sample").value == "Fashion-MNIST: Trouser"
    assert [app.number_input(key=k).value for k in ("pool_size", "pool_stride")] == [3, 1]
    assert app.radio(key=POOL_MODE).value == "avg"
    edges = np.maximum(keras_conv_relu(first_item(fashion, "Trouser"), SOBEL_VERTICAL), 0.0)
    pooled = keras_pool(edges, 3, 1, "valid", "avg")
    assert metrics(app)["Output"][0] == f"{pooled.shape[0]}x{pooled.shape[1]}"
    app.number_input(key=POOL_SIZE).set_value(2).run()
    app.number_input(key=POOL_STRIDE).set_value(2).run()
    app.radio(key=POOL_MODE).set_value("min").run()
    assert app.query_params == {"sample": "Fashion-MNIST: Trouser", "mode": "min", "present": "1"}


def test_a_garbled_link_falls_back_to_the_defaults_and_says_what_it_ignored():
    app = linked_page(size="two", stride="0", mode="median", sample="")
    assert [w.value.split(" was ignored")[0] for w in app.warning] == [
        "The link's sample=''",
        "The link's size='two'",
        "The link's stride='0'",
        "The link's mode='median'",
    ]
    assert [app.number_input(key=k).value for k in ("pool_size", "pool_stride")] == [2, 2]
    assert metrics(app)["Output"][0] == "13x13"
    assert app.query_params == {"sample": "Fashion-MNIST: Ankle boot"}
