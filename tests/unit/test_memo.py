"""components.framework.memo.freeze: a cached figure is kept as its dict and sends exactly what the figure would."""

import pickle

import numpy as np
import plotly.graph_objects as go
import plotly.io
import plotly.tools

from components.charts import pooling as charts
from components.charts.filters import response_figure
from components.framework.memo import FrozenFigure, freeze


def _figures():
    rng = np.random.default_rng(0)
    image = rng.random((30, 30)).astype(np.float32)
    return [
        charts.maps_figure([charts.Panel("a", image), charts.Panel("b", image[::2, ::2])], same_pixel_size=True),
        response_figure(image, image - 0.5),
        go.Figure(go.Heatmap(z=rng.random((5, 5))), layout=dict(height=300, title="t")),
    ]


def test_a_frozen_figure_sends_the_same_json_as_the_figure():
    for plain, taken in zip(_figures(), _figures()):
        frozen = freeze(taken)
        assert isinstance(frozen, FrozenFigure) and isinstance(frozen, go.Figure)
        assert plotly.io.to_json(frozen.to_dict(), validate=False) == plotly.io.to_json(plain.to_dict(), validate=False)
        # st.plotly_chart's path: a figure's dict is taken as validated, and this one is the same object every time
        assert plotly.tools.return_figure_from_figure_or_data(frozen, True) is frozen.to_dict()


def test_reading_a_frozen_figure_still_works():
    frozen = freeze(go.Figure(go.Bar(y=[1, 2]), layout=dict(height=300)))
    assert frozen.layout.height == 300 and frozen.data[0].type == "bar"
    copy = pickle.loads(pickle.dumps(frozen))
    assert type(copy) is go.Figure and copy.to_dict() == frozen.to_dict()


def test_figures_inside_lists_tuples_and_dicts_are_frozen_and_other_values_kept():
    bar = go.Figure(go.Bar(y=[1]))
    kept = np.arange(3)
    value = freeze([go.Figure(bar), (go.Figure(bar), 1), {"a": go.Figure(bar), "b": kept}])
    assert isinstance(value[0], FrozenFigure) and isinstance(value[1][0], FrozenFigure)
    assert value[1][1] == 1 and isinstance(value[2]["a"], FrozenFigure) and value[2]["b"] is kept
    assert freeze(value[0]) is value[0]


def test_st_plotly_charts_json_of_a_frozen_figure_is_made_once_and_is_that_figures(monkeypatch):
    import inspect

    from streamlit.elements import plotly_chart

    from components.framework import memo

    # the call this relies on (Streamlit 1.67.0): the figure's dict, encoded without validation
    assert "plotly.io.to_json(figure, validate=False)" in inspect.getsource(plotly_chart)
    monkeypatch.setattr(plotly.io, "to_json", memo.PLOTLY_TO_JSON)  # restored after the test
    memo.reuse_frozen_json()
    plains, frozen = _figures(), [freeze(figure) for figure in _figures()]
    sent = [plotly.io.to_json(figure.to_dict(), validate=False) for figure in frozen]
    for plain, figure, json in zip(plains, frozen, sent):
        assert json == memo.PLOTLY_TO_JSON(plain.to_dict(), validate=False)  # each figure its own JSON
        assert plotly.io.to_json(figure.to_dict(), validate=False) is json  # made once
    assert len(set(sent)) == len(sent)
    plain = _figures()[0]  # any other figure or call: plotly's own
    assert plotly.io.to_json(plain, pretty=True) == memo.PLOTLY_TO_JSON(plain, pretty=True)
    assert plotly.io.to_json(frozen[0].to_dict()) == memo.PLOTLY_TO_JSON(frozen[0].to_dict())  # validated: anew


def test_a_frozen_figures_alt_text_is_made_once_per_subject_and_is_the_figures_own():
    from components.charts.alt import figure_alt

    for plain, figure in zip(_figures(), map(freeze, _figures())):
        text = figure_alt(figure, "Maps")
        assert text == figure_alt(plain, "Maps")  # what the plain figure says
        assert figure_alt(figure, "Maps") is text  # made once
        assert figure_alt(figure, "Other maps") == figure_alt(plain, "Other maps") != text
