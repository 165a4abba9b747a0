"""On a projector: presentation mode at 1280x720 (control and result on one screen, chart text large) and, at
1280x900, no text cut off by its box or drawn over another label."""

import pytest

from components.catalog import ALL_PAGES, HOME, TOUR
from components.presentation import CHART_TEXT_PX, DISABLED_OPACITY, TICKS
from components.sections.deeper import TAB_SLUGS as DEEPER_TABS
from components.teaching.tour import steps
from tests.support.browser import SCREENSHOTS, legend_clashes, page_url, wait_until_idle

PROJECTOR = {"width": 1280, "height": 720}
DEEPER = next(spec for spec in ALL_PAGES if spec.url_path == "deeper")
INSPECT = next(spec for spec in ALL_PAGES if spec.url_path == "inspect")
DEEPER_TARGETS = [(DEEPER, f"tab={slug}") for slug in DEEPER_TABS if slug != "channels"]  # channels: the default
TARGETS = [
    *((spec, "") for spec in ALL_PAGES if spec is not TOUR),
    *((TOUR, f"step={n}") for n in range(1, len(steps()) + 1)),
    *DEEPER_TARGETS,
    (INSPECT, "tab=why"),
]

# The first control a lecturer uses (tour navigation and the reveal toggle aside) and the first picture, chart,
# number or table (the topmost: in presentation mode results sit beside their controls); y positions in the
# main area's own coordinates (0 = top of the first screen).
FIRST_SCREEN = """ticks => {
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
  const sizes = [...main.querySelectorAll(`[data-testid="stPlotlyChart"] ${ticks}`)]  // every panel's ticks
    .map(t => parseFloat(getComputedStyle(t).fontSize));
  return {control: place(widgets[0]), result: place(result), smallest_tick: sizes.length ? Math.min(...sizes) : null};
}"""

# The evidence a step's or page's claim rests on, found by what it shows: (element kind, text it contains).
EVIDENCE = {
    "tour1": ("stPlotlyChart", "pixels moved"),  # the translation test: CNN vs dense, moved 2 px
    "tour3": ("stPlotlyChart", "Max pooled"),  # the pooled image beside its input
    "tour4": ("stTable", "243,786"),  # every layer's parameters, beside the diagram
    "tour6": ("stPlotlyChart", "#28"),  # the three ankle boots' rows: #28 is the last
    "predict": ("stMetric", "The network says"),  # the verdict beside the picture
}

# The bounding box, in the main area's coordinates, of the first element of a kind that contains a text.
EVIDENCE_BOX = """([kind, text]) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const found = [...main.querySelectorAll(`[data-testid="${kind}"]`)].find(el => el.textContent.includes(text));
  if (!found) return null;
  const box = found.getBoundingClientRect();
  return {top: box.top + main.scrollTop, bottom: box.bottom + main.scrollTop, height: box.height};
}"""

# Panel and chart titles (Plotly chart titles and the title annotations of multi-panel charts) in the main area:
# their font sizes and how far each runs past its chart's left or right edge (0 when inside).
TITLES = """() => [...document.querySelectorAll(
    '[data-testid="stMain"] [data-testid="stPlotlyChart"] :is(.gtitle, .annotation-text)')]
  .filter(t => t.textContent.trim() && t.getClientRects().length).map(t => {
    const chart = t.closest('.main-svg').getBoundingClientRect(), box = t.getBoundingClientRect();
    return {text: t.textContent.trim().slice(0, 40), px: parseFloat(getComputedStyle(t).fontSize),
            past: Math.max(0, chart.left - box.left, box.right - chart.right)};
  })"""
# Views whose chart annotations are all panel titles (elsewhere they also label drawings: a diagram's value counts).
TITLED = {"filters", "pooling", "tour2", "tour3", "tour7"}

# The shape diagram's empty bands: pixels between its chart's top (bottom) and the first (last) thing drawn.
DIAGRAM_BANDS = """() => {
  const chart = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]')]
    .find(c => c.querySelector('.shapelayer path') && c.textContent.includes('values'));
  const page = chart.querySelector('.main-svg').getBoundingClientRect();
  const drawn = [...chart.querySelectorAll('.shapelayer path, .annotation-text, .annotation-arrow-g path')]
    .map(e => e.getBoundingClientRect()).filter(b => b.width || b.height);
  return {above: Math.min(...drawn.map(b => b.top)) - page.top,
          below: page.bottom - Math.max(...drawn.map(b => b.bottom))};
}"""
DIAGRAM_BAND_PX = 45  # tour step 4's diagram beside its table: 115 px above and 78 below before it was sized to it

SIDEBAR_CLOSED = """() => document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect().width < 50"""


@pytest.fixture
def projector(browser):
    context = browser.new_context(viewport=PROJECTOR)
    yield context.new_page()
    context.close()


def _name(target):
    spec, query = target
    return spec.url_path + (query.replace("step=", "").replace("tab=", "-") if query else "")


@pytest.mark.parametrize("target", TARGETS, ids=_name)
def test_control_and_result_share_the_first_projector_screen(app_url, projector, target):
    spec, query = target
    page = projector
    page.goto(page_url(app_url, spec) + "?present=1" + (f"&{query}" if query else ""))
    wait_until_idle(page, 180_000)
    # the sidebar starts collapsed; on a busy machine its closing animation can still run: wait for it to end
    page.wait_for_function(SIDEBAR_CLOSED, timeout=15_000)
    screen = page.evaluate(FIRST_SCREEN, TICKS)
    page.screenshot(path=str(SCREENSHOTS / f"projector-{_name(target)}.png"))
    if spec is not HOME and query not in ("step=1", "step=4"):  # these show a diagram and have no control
        assert screen["control"] is not None and screen["control"]["bottom"] <= PROJECTOR["height"], screen
    # Training's result is what pressing Train shows; the Class page's (the QR code) what starting a class shows
    if spec.url_path not in ("training", "class") and query != "step=5":
        assert screen["result"] is not None and screen["result"]["top"] <= PROJECTOR["height"] - 120, screen
    if screen["smallest_tick"] is not None:
        assert screen["smallest_tick"] >= CHART_TEXT_PX - 1, screen
    assert legend_clashes(page) == []  # legend entries whole, none over another
    if _name(target) in TITLED:  # every panel title at the chart text size, inside its chart
        titles = page.evaluate(TITLES)
        small = [t for t in titles if t["px"] < CHART_TEXT_PX or t["past"] > 1]
        assert titles and not small, small
    if _name(target) == "tour4":  # the diagram drawn to its column's size: no empty band above or below it
        bands = page.evaluate(DIAGRAM_BANDS)
        assert max(bands.values()) <= DIAGRAM_BAND_PX, bands
    if _name(target) in EVIDENCE:  # the claim's evidence whole on the first screen
        box = page.evaluate(EVIDENCE_BOX, EVIDENCE[_name(target)])
        assert box is not None and box["height"] > 20 and box["bottom"] <= PROJECTOR["height"], box


WIDE = {"width": 1280, "height": 900}
OVERFLOW_TARGETS = [(spec, "") for spec in ALL_PAGES] + [
    *DEEPER_TARGETS,
    (INSPECT, "tab=why"),
    (INSPECT, "tab=evaluation"),
    (next(spec for spec in ALL_PAGES if spec.url_path == "filters"), "kernel=Gaussian+blur+5x5"),
]
TOLERANCE_PX = 2

# HTML text wider than its own box (cut off, or hidden behind a scroll bar), with what it says.
CUT_TEXT = """tolerance => [...document.querySelectorAll(
    '[data-testid="stMain"] :is(p, span, td, th, code, label, pre)')]
  .filter(el => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + tolerance && el.innerText.trim())
  .map(el => `${el.tagName}: ${el.innerText.trim().slice(0, 60)} (${el.scrollWidth} > ${el.clientWidth})`)"""

# Pairs of text labels drawn over each other in one Plotly chart. Each label is its getBBox() carried to the
# screen by its own transform (rotated tick labels stay rotated rectangles), shrunk by the tolerance; two
# rectangles overlap when no edge direction of either separates them.
OVERLAPPING_LABELS = """tolerance => {
  const corners = t => {
    const box = t.getBBox(), m = t.getScreenCTM();
    const x0 = box.x + tolerance, y0 = box.y + tolerance, x1 = box.x + box.width - tolerance,
          y1 = box.y + box.height - tolerance;
    if (!m || x1 <= x0 || y1 <= y0) return null;
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]].map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  };
  const separated = (p, q) => [p, q].some(poly => poly.some((point, i) => {
    const next = poly[(i + 1) % 4], nx = next[1] - point[1], ny = point[0] - next[0];
    const span = r => r.map(([x, y]) => x * nx + y * ny);
    const a = span(p), b = span(q);
    return Math.max(...a) <= Math.min(...b) || Math.max(...b) <= Math.min(...a);
  }));
  const clashes = [];
  for (const chart of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) {
    const page = chart.querySelector('.main-svg').getBoundingClientRect();
    for (const t of chart.querySelectorAll('.main-svg text')) {  // a label running off the chart's edge
      const box = t.getBoundingClientRect();
      if (t.textContent.trim() && box.width && (box.left < page.left - tolerance || box.right > page.right + tolerance))
        clashes.push(`${t.textContent.trim()} / the chart's edge`);
    }
    const labels = [...chart.querySelectorAll('.main-svg text')]
      .filter(t => t.textContent.trim() && t.getClientRects().length && getComputedStyle(t).visibility !== 'hidden')
      .map(t => ({text: t.textContent.trim(), poly: corners(t)}))
      .filter(label => label.poly);
    for (let i = 0; i < labels.length; i++)
      for (let j = i + 1; j < labels.length; j++)
        if (!separated(labels[i].poly, labels[j].poly)) clashes.push(`${labels[i].text} / ${labels[j].text}`);
  }
  return clashes;
}"""


@pytest.fixture
def wide(browser):
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("target", OVERFLOW_TARGETS, ids=lambda target: target[0].url_path + target[1])
def test_no_text_is_cut_off_or_drawn_over_another_label(app_url, wide, target):
    spec, query = target
    page = wide
    page.goto(page_url(app_url, spec) + (f"?{query}" if query else ""))
    wait_until_idle(page, 180_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    problems = {
        "cut": page.evaluate(CUT_TEXT, TOLERANCE_PX),
        "overlapping": page.evaluate(OVERLAPPING_LABELS, TOLERANCE_PX),
    }
    assert problems == {"cut": [], "overlapping": []}, problems


CONFUSION_COUNTS = """() => {
  const chart = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .find(c => c.textContent.includes('predicted class'));
  const cell = chart.querySelector('.nsewdrag').getBoundingClientRect().width / 10;
  const counts = [...chart.querySelectorAll('text')].filter(t => /^\\d+$/.test(t.textContent));
  return {cell, counts: counts.length, cut: counts.filter(t => t.getBoundingClientRect().width > cell - 6)
    .map(t => t.textContent)};
}"""


def test_every_confusion_count_fits_its_cell(app_url, wide):
    """The 10x10 counts ("823", "981", ...) stay inside their cells, with a few pixels to spare."""
    wide.goto(f"{app_url}/inspect?tab=evaluation")
    wait_until_idle(wide, 180_000)
    found = wide.evaluate(CONFUSION_COUNTS)
    assert found["counts"] == 100 and found["cut"] == [], found


def test_a_disabled_button_looks_disabled_in_presentation_mode(app_url, projector):
    """The stylesheet forces text to full black; a disabled button (Back on the tour's first step) must still
    look unavailable."""
    projector.goto(f"{app_url}/tour?step=1&present=1")
    wait_until_idle(projector, 180_000)
    back = projector.get_by_role("button", name="Back").first
    assert back.is_disabled()
    assert float(back.evaluate("b => getComputedStyle(b).opacity")) <= DISABLED_OPACITY
