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
