"""Presentation mode in a real browser at projector size (1280x720): every page, readable, chrome hidden."""

import pytest

from components.catalog import ALL_PAGES, TOUR
from components.presentation import ZOOM
from tests.support.browser import SCREENSHOTS, page_url, wait_until_idle

PROJECTOR = {"width": 1280, "height": 720}
MAIN_ZOOM = "() => getComputedStyle(document.querySelector('[data-testid=\"stMainBlockContainer\"]')).zoom"
HEADING_PX = "tag => parseFloat(getComputedStyle(document.querySelector('[data-testid=stMain] ' + tag)).fontSize)"


@pytest.fixture
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda spec: spec.title)
def test_page_in_presentation_mode(app_url, projector, spec):
    page = projector
    page.goto(page_url(app_url, spec) + "?present=1")
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"] input').is_checked()
    assert "present=1" in page.url
    assert float(page.evaluate(MAIN_ZOOM)) == ZOOM
    if spec is TOUR:  # the tour's page title is compact on a projector, so its step's title leads, large
        assert page.evaluate(HEADING_PX, "h1") * ZOOM < 30 and page.evaluate(HEADING_PX, "h2") * ZOOM >= 32
    else:
        assert page.evaluate(HEADING_PX, "h1") * ZOOM >= 50
    for hidden in ("stMainMenu", "stToolbarActions", "stDownloadButton", "stHeaderActionElements"):
        assert page.locator(f'[data-testid="{hidden}"]').filter(visible=True).count() == 0, hidden
    cut_labels = (
        page.get_by_test_id("stMetricLabel")
        .get_by_test_id("stMarkdownContainer")
        .evaluate_all(
            "labels => labels.filter(label => label.scrollWidth > label.clientWidth).map(label => label.innerText)"
        )
    )
    assert cut_labels == []  # larger text wraps instead of ending in an ellipsis
    page.screenshot(path=str(SCREENSHOTS / f"present-{spec.url_path}.png"))  # what the projector shows


def test_mode_follows_the_learner_to_another_page_and_off_again(app_url, projector):
    page = projector
    page.goto(f"{app_url}/?present=1")
    wait_until_idle(page)
    toggle = page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"] input')
    page.get_by_test_id("stExpandSidebarButton").click()  # presentation mode starts with the sidebar shut
    page.locator('[data-testid="stSidebarNavLink"]', has_text=ALL_PAGES[-1].title).click()
    page.wait_for_url(f"**/{ALL_PAGES[-1].url_path}?present=1**")
    wait_until_idle(page)
    assert toggle.is_checked()
    page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"] label').click()
    page.wait_for_function("() => !location.search.includes('present=')")
    wait_until_idle(page)
    assert not toggle.is_checked()
    assert page.evaluate(MAIN_ZOOM) == "1"


def test_charts_hover_the_point_under_the_mouse(app_url, projector):
    """CSS zoom would make Plotly hover the wrong cell; the stylesheet keeps charts at zoom 1."""
    page = projector
    page.goto(f"{app_url}/filters?present=1&kernel=Sobel%3A+vertical+edges")
    wait_until_idle(page)
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    chart.scroll_into_view_if_needed()
    page.evaluate(
        """gd => { window.hovered = []; gd.on('plotly_hover', e => window.hovered.push(
                                 [e.points[0].x, e.points[0].y])); }""",
        chart.element_handle(),
    )
    cells = chart.evaluate("""gd => { const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return [[0, 0], [2, 1], [1, 2]].map(([x, y]) => [x, y,
            box.left + (xa.l2p(x) / xa._length) * box.width, box.top + (ya.l2p(y) / ya._length) * box.height]); }""")
    for x, y, px, py in cells:
        page.mouse.move(px, py)
        page.wait_for_function(
            f"() => window.hovered.length && window.hovered.at(-1).join() === '{x},{y}'", timeout=5_000
        )
