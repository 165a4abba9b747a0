"""Results computed once per server and shared, read-only, by every session (Streamlit's resource cache).

`st.plotly_chart` encodes its figure's dict to JSON on every run (`plotly.io.to_json(figure.to_dict(),
validate=False)`): for a figure kept here that is the same string every time, 8% of the server's CPU in a
50-learner storm (py-spy). `reuse_frozen_json` (app.py, once per server) has that call give a frozen figure's
JSON made on its first use; every other call of `plotly.io.to_json` is plotly's own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import plotly.graph_objects as go
import plotly.io
import streamlit as st
from _plotly_utils.utils import convert_to_base64

T = TypeVar("T")
PLOTLY_TO_JSON = plotly.io.to_json  # plotly's own


@st.cache_resource(max_entries=512, show_spinner=False)
def once(key: str, question: tuple, _compute: Callable[[], T]) -> T:
    """`_compute()` the first time this key and question are asked, the same object afterwards.

    `key` names what the result is computed from (a model's cache key, an array's fingerprint) and `question`
    everything else it depends on, e.g. ("saliency", test image indices, class). Nothing hashes the inputs
    themselves, so a rerun pays a dictionary lookup. Callers must only read the result. A Plotly figure in it
    (alone, or in a list, tuple or dict) is kept as a FrozenFigure (`freeze`). 512 entries: a Pooling setting
    alone keeps about 8, so with 128 a class following links to Pooling's 44 size / stride pairs evicted every
    entry before it came back (every visit recomputed everything; 50-learner storm: RSS unchanged at 512).
    """
    return freeze(_compute())


class FrozenFigure(go.Figure):
    """A figure kept to be shown again and again: only its dict (`to_dict()`, the same object every time).

    st.plotly_chart calls `to_dict()` on every run: for a plain figure that deep-copies every trace and converts
    each NumPy array to base64, most of what a page pays to draw a figure it already has. A plain figure is also
    hundreds to thousands of small objects (a pooled map's: about 3,000; its dict: about 170), which Streamlit's
    `gc.collect()` after every run of every session walks for as long as the figure is cached. Reading any other
    attribute (`.layout`, `.data`, ...) builds a plain figure from the dict for that read; never change one.
    """

    def __init__(self, figure: go.Figure) -> None:  # keeps no plotly state: see the class docstring
        object.__setattr__(self, "_frozen_dict", FrozenDict(_taken_dict(figure)))

    def to_dict(self) -> dict:
        return self._frozen_dict

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_frozen_dict":
            raise AttributeError(name)
        return getattr(go.Figure(copy.deepcopy(dict(self._frozen_dict))), name)

    def __reduce__(self) -> tuple:
        return go.Figure, (copy.deepcopy(dict(self._frozen_dict)),)


class FrozenDict(dict):
    """A frozen figure's dict, with the JSON `st.plotly_chart` sends for it once that was made (`json`) and the alt
    texts `charts.alt.figure_alt` made for it, per subject (`alts`)."""

    __slots__ = ("alts", "json")

    def __init__(self, figure_dict: dict) -> None:
        super().__init__(figure_dict)
        self.json: str | None = None
        self.alts: dict[str, str] = {}


def _to_json(fig: Any, validate: bool = True, pretty: bool = False, remove_uids: bool = True, engine=None) -> str:
    """`plotly.io.to_json`, made once per frozen figure for `st.plotly_chart`'s call (the same string)."""
    if type(fig) is not FrozenDict or validate or pretty or not remove_uids or engine is not None:
        return PLOTLY_TO_JSON(fig, validate=validate, pretty=pretty, remove_uids=remove_uids, engine=engine)
    if fig.json is None:  # two sessions at once make the same string; either is kept
        fig.json = PLOTLY_TO_JSON(fig, validate=False)
    return fig.json


def reuse_frozen_json() -> None:
    """Have `plotly.io.to_json` give each frozen figure's JSON made once (idempotent; see the module docstring)."""
    plotly.io.to_json = _to_json


def _taken_dict(figure: go.Figure) -> dict:
    """`figure.to_dict()` without its deep copy: the figure's own property dicts, arrays converted in place.

    Only for a figure nothing else keeps (`freeze` is given figures just built): it is not usable afterwards."""
    try:
        data, layout, frames = figure._data, figure._layout, [frame._props for frame in figure._frame_objs]
    except AttributeError:  # another plotly's insides: its public copy
        return figure.to_dict()
    taken = {"data": data, "layout": layout, **({"frames": frames} if frames else {})}
    convert_to_base64(taken)  # as to_dict does
    return taken


def freeze(value: Any) -> Any:
    """`value` with each Plotly figure in it (itself, or the items of a list, tuple or dict) as a FrozenFigure.

    The figures are taken over: only the FrozenFigure may be used afterwards."""
    if isinstance(value, go.Figure):
        return value if isinstance(value, FrozenFigure) else FrozenFigure(value)
    if isinstance(value, list):
        value[:] = [freeze(item) for item in value]
    elif type(value) is tuple:
        return tuple(freeze(item) for item in value)
    elif isinstance(value, dict):
        for name, item in value.items():
            value[name] = freeze(item)
    return value
