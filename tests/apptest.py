"""Shared AppTest helpers: open a lab page as a link would, and read its Plotly figures."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.browser import ROOT

APP = str(ROOT / "app.py")


def open_page(path: str, *, timeout: float = 120, **query: str) -> AppTest:
    """The app switched to `path` with these link parameters, after checking the run raised nothing."""
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.query_params.update(query)
    app.switch_page(path).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def figures(app: AppTest) -> list[dict]:
    """The Plotly figures on the page (AppTest does not model st.plotly_chart: read their protos)."""
    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]
