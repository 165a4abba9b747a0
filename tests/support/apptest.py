"""The one AppTest helper: open a lab page as a link (or a learner coming back) would, and read its Plotly figures.

Every AppTest test opens pages through `open_page`; a test file may keep a one-line wrapper for its page.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.support.browser import ROOT

APP = str(ROOT / "app.py")


def open_page(
    path: str | None = None, /, *, timeout: float = 120, session: Mapping[str, Any] | None = None, **query: str
) -> AppTest:
    """The app opened on `path` (None: its default page, Home) with these link parameters and these session-state
    values already set (what a learner carries from other pages), after checking the run raised nothing."""
    app = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in (session or {}).items():
        app.session_state[key] = value
    app.query_params.update(query)
    (app if path is None else app.switch_page(path)).run()
    return checked(app)


def checked(app: AppTest) -> AppTest:
    """`app` after asserting its last run raised nothing (the exceptions' messages shown if it did)."""
    assert not app.exception, [e.message for e in app.exception]
    return app


def figures(app: AppTest) -> list[dict]:
    """The Plotly figures on the page (AppTest does not model st.plotly_chart: read their protos)."""
    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]


def plotly_array(value) -> np.ndarray:
    """An array from a figure's JSON: Plotly sends numeric arrays as typed-array dicts (dtype, base64 bdata, shape)."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = tuple(int(n) for n in value["shape"].split(",")) if "shape" in value else flat.shape
        return flat.reshape(shape)
    return np.asarray(value)
