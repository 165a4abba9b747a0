"""Results computed once per server and shared, read-only, by every session (Streamlit's resource cache)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import plotly.graph_objects as go
import streamlit as st
from _plotly_utils.utils import convert_to_base64

T = TypeVar("T")


@st.cache_resource(max_entries=128, show_spinner=False)
def once(key: str, question: tuple, _compute: Callable[[], T]) -> T:
    """`_compute()` the first time this key and question are asked, the same object afterwards.

    `key` names what the result is computed from (a model's cache key, an array's fingerprint) and `question`
    everything else it depends on, e.g. ("saliency", test image indices, class). Nothing hashes the inputs
    themselves, so a rerun pays a dictionary lookup. Callers must only read the result. A Plotly figure in it
    (alone, or in a list, tuple or dict) is kept as a FrozenFigure (`freeze`).
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
        object.__setattr__(self, "_frozen_dict", _taken_dict(figure))

    def to_dict(self) -> dict:
        return self._frozen_dict

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_frozen_dict":
            raise AttributeError(name)
        return getattr(go.Figure(copy.deepcopy(self._frozen_dict)), name)

    def __reduce__(self) -> tuple:
        return go.Figure, (copy.deepcopy(self._frozen_dict),)


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
