"""The Architecture page under AppTest: the table, the builder, links, collapsing configs, and no TensorFlow."""

import json
import subprocess
import sys
import textwrap

import pytest
from streamlit.testing.v1 import AppTest

from components.framework.session_keys import ARCHITECTURE_CONFIG
from models.design.analysis import layer_table_for_config, totals
from models.design.card import DENSE_CARD, read_model_card, read_shift_test
from models.design.config import COURSE_CNN, CNNConfig
from models.design.keras_code import keras_code
from tests.support.apptest import APP, open_page
from tests.support.browser import ROOT

PAGE = "pages/architecture.py"


def architecture_page(**query: str) -> AppTest:
    return open_page(PAGE, timeout=60, **query)


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def widget(app: AppTest, key: str):
    return next(w for w in [*app.select_slider, *app.radio] if w.key == f"architecture_{key}")


def chart_texts(app: AppTest, index: int) -> list[str]:
    spec = json.loads(app.get("plotly_chart")[index].proto.spec)
    return [a.get("text", "") for a in spec["layout"].get("annotations", [])] + [
        str(t) for trace in spec["data"] for t in trace.get("text", [])
    ]


def test_opens_on_the_course_cnn():
    app = architecture_page()
    assert app.title[0].value == "Architecture"
    assert metrics(app)["Parameters"] == "243,786"
    assert metrics(app)["Multiply-accumulates per image"] == "5,056,000"
    table = app.table[0].value
    assert list(table["Output"]) == ["28x28x1", "26x26x64", "13x13x64", "11x11x64", "5x5x64", "1600", "128", "10", ""]
    assert list(table["Parameters"])[1] == "(3×3×1 + 1) × 64 = 640"
    assert list(table["Parameters"])[6] == "1600×128 + 128 = 204,928"
    assert list(table["Parameters"])[-1] == "640 + 36,928 + 204,928 + 1,290 = 243,786"
    assert list(table["MACs per image"])[-1].endswith("= 5,056,000")
    assert any("**dense** holds 84% of the parameters; **conv2** does 88%" in m.value for m in app.markdown)
    assert app.session_state[ARCHITECTURE_CONFIG] == COURSE_CNN.to_dict()
    assert app.query_params == {}
    flow = chart_texts(app, 0)
    assert "<b>26x26x64</b>" in flow and "conv 3x3<br>trims 1 px<br>each side" in flow
    assert {"640 (<1%)", "204,928 (84%)", "4,460,544 (88%)"} <= set(chart_texts(app, 1))


def test_every_change_updates_the_table_the_link_and_the_shared_config():
    from models.networks.zoo import build_cnn  # Keras in the test process only; the page never imports it

    app = architecture_page()
    widget(app, "conv_blocks").set_value(3)
    widget(app, "filters").set_value(32)
    widget(app, "padding").set_value("same")
    widget(app, "kernel_size").set_value(5)
    app.run()
    config = CNNConfig(conv_blocks=3, filters=32, padding="same", kernel_size=5)
    model = build_cnn(config)
    assert metrics(app)["Parameters"] == f"{model.count_params():,}"
    outputs = list(app.table[0].value["Output"])[1:-1]
    assert outputs == ["x".join(str(d) for d in layer.output.shape[1:]) for layer in model.layers]
    assert app.query_params == {"blocks": "3", "filters": "32", "kernel": "5", "padding": "same"}
    assert app.session_state[ARCHITECTURE_CONFIG] == config.to_dict()
    macs = totals(layer_table_for_config(config)).macs  # checked against TensorFlow in test_analysis
    assert [m.proto.delta for m in app.metric[:2]] == [
        f"{model.count_params() - 243_786:+,} vs course CNN",
        f"{macs - 5_056_000:+,} vs course CNN",
    ]


def test_a_link_sets_the_builder():
    app = architecture_page(blocks="3", filters="32", pooling="avg")
    assert [widget(app, k).value for k in ("conv_blocks", "filters", "pooling")] == [3, 32, "avg"]
    assert metrics(app)["Parameters"] == "24,330"
    assert "the average of each 2x2 window" in list(app.table[0].value["Shape rule"])[2]


def test_a_link_with_a_value_not_offered_says_so_and_keeps_the_valid_ones():
    app = architecture_page(filters="48", blocks="3", dense="lots", present="1")
    assert [w.value for w in app.warning] == [
        "The link's filters='48' was ignored (not one of the choices (8, 16, 32, 64, 128)); using the default, 64.",
        "The link's dense='lots' was ignored (not one of the choices (0, 32, 64, 128, 256)); using the default, 128.",
    ]
    assert [widget(app, k).value for k in ("conv_blocks", "filters", "dense_units")] == [3, 64, 128]
    assert app.query_params == {"blocks": "3", "present": "1"}  # the bad values are dropped, other keys stay


@pytest.mark.parametrize(
    "query, layer, fits",
    [
        ({"blocks": "4"}, "conv4: a 3x3 kernel does not fit in the 1x1 input", "5x5x64 -> 3x3x64 -> 1x1x64"),
        ({"blocks": "5", "padding": "same"}, "pool5: a 2x2 pool does not fit in the 1x1 input", "3x3x64 -> 1x1x64"),
        ({"blocks": "3", "kernel": "7"}, "conv3: a 7x7 kernel does not fit in the 2x2 input", "22x22x64 -> 11x11x64"),
    ],
)
def test_an_impossible_network_names_the_layer_that_collapses(query, layer, fits):
    app = architecture_page(**query)
    assert len(app.error) == 1 and layer in app.error[0].value
    assert any(m.value.startswith("What still fits: 28x28x1 -> ") and fits in m.value for m in app.markdown)
    assert not app.table and "Parameters" not in metrics(app)  # the comparison below keeps its two accuracies
    assert ARCHITECTURE_CONFIG not in app.session_state  # only networks that build are shared
    widget(app, "conv_blocks").set_value(2).run()
    assert not app.error and app.table


def test_reset_and_returning_to_the_page_keep_the_config_until_reset():
    app = architecture_page(blocks="1", dense="64")
    app.switch_page("pages/home.py").run()
    app.switch_page(PAGE).run()
    assert [widget(app, k).value for k in ("conv_blocks", "dense_units")] == [1, 64]
    app.sidebar.button[0].click().run()
    assert metrics(app)["Parameters"] == "243,786" and app.query_params == {}


def test_why_cnns_compares_with_the_dense_network_and_shows_only_real_accuracy():
    app = architecture_page()
    comparison = chart_texts(app, 2)
    assert "101,770" in comparison and "243,786" in comparison and "5,056,000" in comparison and "101,632" in comparison
    text = " ".join(m.value for m in app.markdown)
    assert "2.4x the dense network's parameters" in text and "50x its multiply-accumulates" in text
    cnn, dense = read_model_card()["test_accuracy"], read_model_card(DENSE_CARD)["test_accuracy"]
    accuracy = metrics(app)
    assert accuracy["Dense network: test accuracy"] == f"{dense:.2%}" == "87.93%"
    assert accuracy["Course CNN: test accuracy"] == f"{cnn:.2%}" == "91.11%"
    assert f"{cnn:.1%} of the test images right against the dense network's {dense:.1%}" in text
    assert "not shown" not in text


def test_parameter_sharing_is_a_number_beside_the_comparison():
    app = architecture_page()
    text = " ".join(m.value for m in app.markdown)
    assert "into 26x26x64 with 640 parameters" in text
    assert "28×28×1 inputs × 26×26×64 outputs + 43,264 biases = 784 × 43,264 + 43,264 = 33,962,240" in text
    assert "53,066x as many, 135.8 MB of float32 weights" in text


def test_the_translation_test_plots_both_shipped_models_with_its_numbers():
    record = read_shift_test()
    app = architecture_page()
    spec = json.loads(app.get("plotly_chart")[3].proto.spec)
    lines = {trace["name"]: trace["y"] for trace in spec["data"]}
    assert lines["Course CNN"] == pytest.approx([100 * a for a in record["models"]["cnn"]["mean"]])
    assert lines["Dense network"] == pytest.approx([100 * a for a in record["models"]["dense"]["mean"]])
    assert spec["data"][0]["x"] == list(range(7))
    captions = [c.value for c in app.caption]
    assert (
        "Accuracy on all 10,000 test images, CNN vs dense network, each image moved right, left, down and up "
        "(averaged): unmoved 91.1% vs 87.9%; 2 px 81.7% vs 63.5%; 6 px 32.2% vs 25.9%." in captions
    )


def test_the_tour_step_shows_the_same_evidence():
    app = open_page("pages/tour.py", timeout=60, step="1")
    assert app.header[0].value == "1. Why CNNs over the dense network?"
    assert metrics(app).get("Dense network: test accuracy") == "87.93%"
    assert any("6 px 32.2% vs 25.9%" in c.value for c in app.caption)


def test_the_keras_code_and_summary_sit_beside_the_diagram():
    app = architecture_page()
    codes = [c.value for c in app.code]
    assert codes[0] == keras_code(COURSE_CNN).rstrip()  # st.code drops the final newline
    assert codes[1] == read_model_card()["summary"].rstrip() and "conv1 (Conv2D)" in codes[1]
    app = architecture_page(filters="32", padding="same")
    variant = CNNConfig(filters=32, padding="same")
    assert app.code[0].value == keras_code(variant).rstrip() and len(app.code) == 1
    assert app.code[0].proto.wrap_lines  # the longest line (padding="same") wraps instead of hiding its end
    assert (
        'layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu", name="conv1"),' in app.code[0].value
    )
    assert any(
        "Reset to the course CNN to see the shipped model's own `model.summary()`" in m.value for m in app.markdown
    )


def test_the_page_runs_without_tensorflow_in_a_fresh_process():
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from streamlit.testing.v1 import AppTest
        app = AppTest.from_file({APP!r}, default_timeout=60).run()
        start = time.perf_counter()
        app.switch_page({PAGE!r}).run()
        seconds = time.perf_counter() - start
        assert not app.exception and app.table
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules), round(seconds, 3))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded, seconds = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert loaded == "[]"
    assert float(seconds) < 5.0  # 0.6-1.1 s measured on a busy 2-core machine


def test_the_flow_diagram_keeps_its_labels_apart_and_grows_with_its_tallest_tensor():
    from components.charts.architecture import flow_figure
    from models.design.analysis import layer_table_for_config

    def diagram(config):
        rows = layer_table_for_config(config)
        figure = flow_figure([r.output_shape for r in rows], [r.step for r in rows])
        return figure, [a.text for a in figure.layout.annotations]

    course, course_texts = diagram(COURSE_CNN)
    assert "max 2x2<br>halves,<br>rounds<br>down" in course_texts and "dense 10<br>softmax" in course_texts
    deep, deep_texts = diagram(CNNConfig(conv_blocks=4, padding="same", kernel_size=5))
    assert "conv 5x5" in deep_texts and "max 2x2" in deep_texts and not any("<br>" in t for t in deep_texts)
    tall, _ = diagram(CNNConfig(conv_blocks=6, padding="same", pooling="none"))  # a bar of 50,176 values
    assert 220 <= deep.layout.height <= course.layout.height < tall.layout.height <= 640


def test_train_this_network_opens_training_with_the_design(app_url, page):
    from tests.support.browser import wait_until_idle

    page.goto(f"{app_url}/architecture?filters=32")
    wait_until_idle(page)
    page.get_by_role("button", name="Train this network").click()
    page.wait_for_url("**/training")
    wait_until_idle(page)
    assert page.get_by_text("Your design: 32 filters.").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0


def test_on_a_phone_the_two_bar_charts_stand_one_above_the_other():
    """stacked (a phone): each chart the full width, the parameters above the multiply-accumulates, each titled
    above itself, twice the height; the bars are the same as side by side."""
    from components.charts.architecture import comparison_figure, layer_share_figure

    for build in (comparison_figure, layer_share_figure):
        beside = build(["a", "b"], [10, 20], [300, 400])
        stacked = build(["a", "b"], [10, 20], [300, 400], stacked=True)
        assert [t.y if t.orientation != "h" else t.x for t in stacked.data] == [
            t.y if t.orientation != "h" else t.x for t in beside.data
        ]
        layout = stacked.layout
        assert list(layout.xaxis.domain) == list(layout.xaxis2.domain) == [0.0, 1.0]
        assert layout.yaxis.domain[0] > layout.yaxis2.domain[1]
        assert [note.y for note in layout.annotations] == [layout.yaxis.domain[1], layout.yaxis2.domain[1]]
        assert layout.height == 2 * beside.layout.height
