"""WCAG 2.1 AA in Chromium: axe-core on every page and tab in both modes, chart text contrast and page titles; a phone,
a 320-px window and 200% zoom: no sideways page scroll, no overlapping chart titles, readable panels.

One served app for the module (the session's `app_url`) and one browser context per mode; each view is opened once.
"""

import pytest

from components.catalog import ALL_PAGES, HOME, TOUR
from components.sections.deeper import TAB_SLUGS as DEEPER_TABS
from components.sections.inspect import TAB_SLUGS as INSPECT_TABS
from tests.support.browser import AXE_RUN, LOW_CONTRAST_CHART_TEXT, axe_script, page_url, wait_until_idle

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


PHONE = dict(
    viewport={"width": 390, "height": 844},
    is_mobile=True,
    has_touch=True,
    user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1",
)
SCREEN = 844
RESULT_AFTER = {"filters": "4. Original and filtered", "predict": "2. Prediction"}  # else the page's first chart
NO_RESULT_YET = {"training", "class"}
CONTROL = {"training": "Train", "tour": "Next"}  # a button's label; else the page's first widget
# Where the main control and the result start, in pixels from the top of the scrolling main area; how wide the page
# is drawn; the plot-area widths of the result's panels.
PLACES = """([heading, button]) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const top = element => element ? element.getBoundingClientRect().top - main.getBoundingClientRect().top
                                   + main.scrollTop : null;
  const after = heading ? [...main.querySelectorAll('h1, h2, h3')].find(h => h.textContent.includes(heading)) : null;
  const result = [...main.querySelectorAll('[data-testid="stPlotlyChart"], [data-testid="stImage"]')]
    .find(chart => !after || after.compareDocumentPosition(chart) & Node.DOCUMENT_POSITION_FOLLOWING);
  const control = button
    ? [...main.querySelectorAll('button')].find(b => b.innerText.split('\\n').map(s => s.trim()).includes(button))
    : main.querySelector('input, select, button, a[href], [role="radiogroup"], [data-baseweb="select"]');
  return {control: top(control), result: top(result), pageWidth: document.documentElement.scrollWidth,
          panels: result ? [...result.querySelectorAll('.nsewdrag')].map(d => d.getBoundingClientRect().width) : []};
}"""


# Every chart drawn at its box's width: Streamlit measures a chart again after the narrow-screen stylesheet widens it.
CHARTS_SETTLED = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(chart =>
  Math.abs(chart.querySelector('.main-svg').getBoundingClientRect().width - chart.getBoundingClientRect().width) < 2)"""
# How far the page scrolls sideways (the document, or Streamlit's scrolling main area), and chart titles (subplot
# titles, panel labels, axis titles and bar labels) that overlap another title of their chart, as "chart i: a / b".
REFLOW = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const sideways = Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth,
                            main.scrollWidth - main.clientWidth);
  const overlaps = [];
  document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]').forEach((chart, i) => {
    const kinds = '.gtitle, .annotation-text, .bartext, [class^="g-x"][class$="title"] text';
    const titles = [...chart.querySelectorAll(kinds)].filter(t => t.textContent.trim() && t.getClientRects().length)
      .map(t => ({text: t.textContent.trim().slice(0, 30), box: t.getBoundingClientRect()}));
    titles.forEach((a, j) => titles.slice(j + 1).forEach(b => {
      if (a.box.left < b.box.right - 1 && b.box.left < a.box.right - 1 && a.box.top < b.box.bottom - 1
          && b.box.top < a.box.bottom - 1) overlaps.push(`chart ${i}: ${a.text} / ${b.text}`);
    }));
  });
  return {sideways, overlaps};
}"""


def reflow_problems(page) -> list[str]:
    """Sideways page scroll and overlapping chart titles of the page on screen, once its charts are drawn."""
    page.wait_for_function(CHARTS_SETTLED)
    reflow = page.evaluate(REFLOW)
    return [f"page scrolls {reflow['sideways']} px sideways"] * (reflow["sideways"] > 0) + reflow["overlaps"]


def test_every_page_fits_a_phone(app_url, browser):
    """At 390x844 (touch): no page scrolls sideways, no chart titles overlap, each page's main control and result
    start within two screens, and the panels of the Filters result and Inspect's feature maps are >= 150 px wide."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = {}
    for spec in ALL_PAGES:
        page.goto(page_url(app_url, spec))
        wait_until_idle(page)
        found = reflow_problems(page)
        places = page.evaluate(PLACES, [RESULT_AFTER.get(spec.url_path), CONTROL.get(spec.url_path)])
        for part in ("control", "result"):
            if spec.url_path in NO_RESULT_YET and part == "result":
                continue  # no result before a run or a class session: the main control is the page's start
            if places[part] is None or places[part] > 2 * SCREEN - 100:
                found.append(f"{part} starts at {places[part]} px")
        if spec.url_path in ("filters", "inspect") and min(places["panels"], default=0) < 150:
            found.append(f"result panels {places['panels']} px wide")
        if found:
            problems[spec.url_path] = found
    context.close()
    assert not problems, "\n".join(f"{view}: {found}" for view, found in problems.items())


NARROW = {"320x800": {"width": 320, "height": 800}, "1280x900 at 200% zoom": {"width": 640, "height": 450}}


@pytest.mark.parametrize("viewport", NARROW.values(), ids=NARROW)
def test_every_page_reflows_on_a_narrow_laptop_window(app_url, browser, viewport):
    """At 320 CSS px and at 200% zoom (a laptop: desktop chart layouts, WCAG 1.4.10): no page scrolls sideways and
    no chart titles overlap; charts of several panels scroll in their own box (components.presentation)."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems = {}
    for spec in ALL_PAGES:
        page.goto(page_url(app_url, spec))
        wait_until_idle(page)
        found = reflow_problems(page)
        if found:
            problems[spec.url_path] = found
    context.close()
    assert not problems, "\n".join(f"{view}: {found}" for view, found in problems.items())
