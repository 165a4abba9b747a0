"""A real browser visits every page: no exception box, and a screenshot to look at."""

import pytest

from components.catalog import ALL_PAGES
from tests.support.browser import page_url, screenshot, wait_until_idle


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda spec: spec.title)
def test_page_renders_in_chromium(app_url, page, spec):
    page.goto(page_url(app_url, spec))
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator("h1").first.inner_text().strip()
    path = screenshot(page, spec.url_path)
    assert path.stat().st_size > 10_000


def test_first_visit_straight_to_a_page_uses_the_app_navigation(browser):
    """A fresh server treats pages/ as old-style navigation until app.py runs; the lab must not show that."""
    from tests.support.browser import served_app

    spec = ALL_PAGES[-1]
    context = browser.new_context()
    page = context.new_page()
    with served_app() as url:
        page.goto(page_url(url, spec))
        wait_until_idle(page)
        assert page.locator("h1").first.inner_text().strip() == page_title(spec)
        assert "app" not in [t.strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
    context.close()


def page_title(spec):
    return "CNN Lab" if spec.title == "Home" else spec.title
