"""Every page runs under streamlit.testing without an exception, an error or a warning, under its menu title."""

import pytest

from components.catalog import ALL_PAGES
from tests.support.apptest import open_page


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda spec: spec.title)
def test_page_runs_without_exception(spec):
    app = open_page(spec.path)
    assert [t.value for t in app.title] == ["CNN Lab" if spec.title == "Home" else spec.title]  # as the menu names it
    assert not app.error and not app.warning, [e.value for e in [*app.error, *app.warning]]


def test_home_shows_the_course_journey():
    app = open_page(timeout=60)
    assert app.title[0].value == "CNN Lab"
    assert "26x26x64" in app.caption[0].value and "5x5x64 -> 1600" in app.caption[0].value


def test_home_links_the_tour_and_every_lesson():
    app = open_page(timeout=60)
    linked = [element.proto.page for element in app.get("page_link")]
    assert linked == [spec.url_path for spec in ALL_PAGES if spec.title != "Home"]
