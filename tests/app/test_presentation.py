"""Presentation mode: the ?present= flag, the stylesheet, and the sidebar toggle under AppTest."""

import pytest
from streamlit.testing.v1 import AppTest

from components.catalog import HOME, LESSONS
from components.framework.session_keys import PRESENTATION, PRESENTATION_TOGGLE
from components.presentation import PRESENT_PARAM, ZOOM, parse_flag, presentation_css
from tests.support.apptest import open_page


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        (" ON ", True),
        ("0", False),
        ("no", False),
        (None, None),
        ("maybe", None),
        ("", None),
    ],
)
def test_parse_flag(value, expected):
    assert parse_flag(value) is expected


def test_stylesheet_zooms_text_but_not_plotly_charts_or_dataframes():
    css = presentation_css(1.5)
    assert "zoom: 1.5;" in css
    # Plotly hover ignores CSS zoom; st.dataframe sizes itself in unzoomed pixels
    assert '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"] { zoom: 0.666667; }' in css
    assert '[data-testid="stDownloadButton"]' in css and '[data-testid="stMainMenu"]' in css


@pytest.mark.parametrize("zoom", [0.5, 2.5])
def test_stylesheet_refuses_unreadable_zoom(zoom):
    with pytest.raises(ValueError, match="zoom"):
        presentation_css(zoom)


def _stylesheet_shown(app: AppTest) -> bool:
    return any(f"zoom: {ZOOM};" in element.proto.body for element in app.html)


def test_off_by_default():
    app = open_page(timeout=60)
    assert app.session_state[PRESENTATION] is False
    assert PRESENT_PARAM not in app.query_params
    assert not _stylesheet_shown(app)


def test_sidebar_toggle_turns_it_on_and_writes_the_url():
    app = open_page(timeout=60, kernel="Blur")  # another page's setting in the URL must survive
    toggle = app.sidebar.toggle(key=PRESENTATION_TOGGLE)
    assert toggle.label == "Presentation mode"
    toggle.set_value(True).run()
    assert app.session_state[PRESENTATION] is True
    assert app.query_params[PRESENT_PARAM] == "1" and app.query_params["kernel"] == "Blur"
    assert _stylesheet_shown(app)

    app.sidebar.toggle(key=PRESENTATION_TOGGLE).set_value(False).run()
    assert PRESENT_PARAM not in app.query_params and app.query_params["kernel"] == "Blur"
    assert not _stylesheet_shown(app)


def test_url_flag_turns_it_on_and_it_survives_a_page_switch():
    app = open_page(timeout=60, **{PRESENT_PARAM: "1"})
    assert app.sidebar.toggle(key=PRESENTATION_TOGGLE).value is True and _stylesheet_shown(app)

    app.query_params.clear()  # Streamlit drops query parameters when the page changes
    app.switch_page(LESSONS[0].path).run()
    assert not app.exception
    assert app.title[0].value == LESSONS[0].title
    assert app.sidebar.toggle(key=PRESENTATION_TOGGLE).value is True and _stylesheet_shown(app)
    assert app.query_params[PRESENT_PARAM] == "1"  # written back, so a copied link keeps the mode


def test_url_flag_zero_turns_it_off():
    app = open_page(timeout=60, **{PRESENT_PARAM: "1"})
    app.query_params[PRESENT_PARAM] = "0"
    app.switch_page(HOME.path).run()
    assert app.session_state[PRESENTATION] is False and not _stylesheet_shown(app)
    assert PRESENT_PARAM not in app.query_params
