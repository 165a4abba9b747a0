"""Every page runs under streamlit.testing without an exception."""

import pytest
from streamlit.testing.v1 import AppTest

from components.catalog import ALL_PAGES
from tests.browser import ROOT

APP = str(ROOT / "app.py")


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda spec: spec.title)
def test_page_runs_without_exception(spec):
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page(spec.path).run()
    assert not app.exception, [e.message for e in app.exception]
    assert app.title[0].value if app.title else app.header or app.subheader


def test_home_shows_the_course_journey():
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "CNN Lab"
    assert "26x26x64" in app.caption[0].value and "5x5x64 -> 1600" in app.caption[0].value


def test_home_links_the_tour_and_every_lesson():
    app = AppTest.from_file(APP, default_timeout=60).run()
    linked = [element.proto.page for element in app.get("page_link")]
    assert linked == [spec.url_path for spec in ALL_PAGES if spec.title != "Home"]
