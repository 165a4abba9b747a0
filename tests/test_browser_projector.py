"""On a projector: presentation mode at 1280x720 (control and result on one screen, chart text large) and, at
1280x900, no text cut off by its box or drawn over another label."""

import pytest

from components.catalog import ALL_PAGES, HOME, TOUR
from components.presentation import CHART_TEXT_PX
from components.teaching.tour import steps
from tests.browser import SCREENSHOTS, page_url, wait_until_idle

PROJECTOR = {"width": 1280, "height": 720}
TARGETS = [(spec, "") for spec in ALL_PAGES if spec is not TOUR] + [
    (TOUR, f"step={n}") for n in range(1, len(steps()) + 1)
]

# The first control a lecturer uses (tour navigation and the reveal toggle aside) and the first picture, chart,
# number or table (the topmost: in presentation mode results sit beside their controls); y positions in the
# main area's own coordinates (0 = top of the first screen).
FIRST_SCREEN = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const place = el => el && {top: el.getBoundingClientRect().top + main.scrollTop,
                             bottom: el.getBoundingClientRect().bottom + main.scrollTop};
  const widgets = [...main.querySelectorAll(`[data-testid="stSelectbox"], [data-testid="stSlider"],
      [data-testid="stRadio"], [data-testid="stNumberInput"], [data-testid="stButtonGroup"],
      [data-testid="stExpander"] summary, [data-testid="stButton"], [data-testid="stCheckbox"]`)]
    .filter(w => !w.closest(`[class*="st-key-tour_back"], [class*="st-key-tour_next"],
                             [class*="st-key-tour_reveal"], [data-testid="stSidebar"]`));
  const result = [...main.querySelectorAll(`[data-testid="stPlotlyChart"], [data-testid="stImage"],
      [data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stMetric"]`)]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)[0];
  const ticks = [...main.querySelectorAll('.xtick text, .ytick text')]
    .map(t => parseFloat(getComputedStyle(t).fontSize));
  return {control: place(widgets[0]), result: place(result), smallest_tick: ticks.length ? Math.min(...ticks) : null,
          sidebar: document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect().width};
}"""


@pytest.fixture
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR)
    yield context.new_page()
    context.close()


def _name(target):
    spec, query = target
    return spec.url_path + (query.replace("step=", "") if query else "")


@pytest.mark.parametrize("target", TARGETS, ids=_name)
def test_control_and_result_share_the_first_projector_screen(app_url, projector, target):
    spec, query = target
    page = projector
    page.goto(page_url(app_url, spec) + "?present=1" + (f"&{query}" if query else ""))
    wait_until_idle(page, 180_000)
    screen = page.evaluate(FIRST_SCREEN)
    page.screenshot(path=str(SCREENSHOTS / f"projector-{_name(target)}.png"))
    assert screen["sidebar"] < 50  # collapsed
    if spec is not HOME and query not in ("step=1", "step=4"):  # these show a diagram and have no control
        assert screen["control"] is not None and screen["control"]["bottom"] <= PROJECTOR["height"], screen
    if spec.url_path != "training" and query != "step=5":  # Training's result is what pressing Train shows
        assert screen["result"] is not None and screen["result"]["top"] <= PROJECTOR["height"] - 120, screen
    if screen["smallest_tick"] is not None:
        assert screen["smallest_tick"] >= CHART_TEXT_PX - 1, screen

