"""WCAG 2.1 AA in Chromium: axe-core on every page and tab in both modes, chart text contrast and page titles.

One served app for the module (the session's `app_url`) and one browser context per mode; each view is opened once.
"""

import pytest

from components.catalog import ALL_PAGES, HOME, TOUR
from components.sections.deeper import TAB_SLUGS as DEEPER_TABS
from components.sections.inspect import TAB_SLUGS as INSPECT_TABS
from tests.browser import AXE_RUN, LOW_CONTRAST_CHART_TEXT, axe_script, page_url, wait_until_idle

TABBED = {"inspect": INSPECT_TABS, "deeper": DEEPER_TABS}
VIEWS = [(spec, f"tab={slug}" if slug else "") for spec in ALL_PAGES for slug in TABBED.get(spec.url_path, [""])]


def document_title(spec) -> str:
    return "CNN Lab" if spec is HOME else f"{spec.title} - CNN Lab"


@pytest.mark.parametrize("present", [0, 1], ids=["normal", "presentation"])
def test_every_page_and_tab_passes_axe_wcag_aa(app_url, browser, present):
    """0 axe violations of wcag2a/2aa/21a/21aa, chart text >= 4.5:1 and the page's own title, on every view."""
    script = axe_script()
    viewport = {"width": 1280, "height": 720} if present else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems = {}
    for spec, query in VIEWS:
        url = f"{page_url(app_url, spec)}?{'&'.join(filter(None, [query, f'present={present}']))}"
        page.goto(url)
        wait_until_idle(page)
        page.add_script_tag(path=str(script))
        found = page.evaluate(AXE_RUN) + [f"chart text {t}" for t in page.evaluate(LOW_CONTRAST_CHART_TEXT)]
        if page.title() != document_title(spec):
            found.append(f"title {page.title()!r}")
        if found:
            problems[url.removeprefix(app_url)] = found
    context.close()
    assert not problems, "\n".join(f"{view}: {found}" for view, found in problems.items())


def test_views_cover_every_page_and_tab():
    assert {spec for spec, _ in VIEWS} == set(ALL_PAGES) and TOUR in {spec for spec, _ in VIEWS}
    assert len(VIEWS) == len(ALL_PAGES) - 2 + len(INSPECT_TABS) + len(DEEPER_TABS)
