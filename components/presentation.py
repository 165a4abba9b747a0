"""Presentation mode for a projector: the sidebar toggle, the URL flag and the stylesheet."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator  # internal API, written against Streamlit 1.67.0

from components.framework.phone import on_phone
from components.framework.session_keys import (
    COMPACT_TITLE,
    DEEPER_CHANNELS_GRIDS,
    DEEPER_CHANNELS_SUM,
    FILTERS_DEMO_CHART,
    FILTERS_STEP_PRODUCTS,
    POOL_REPEATED,
    POOL_SHIFT_AFTER,
    POOL_SHIFT_BEFORE,
    POOL_WINDOWS,
    PRESENTATION,
    PRESENTATION_TOGGLE,
    SHAPE_FLOW,
    WALK_MAPS,
)

PRESENT_PARAM = "present"  # ?present=1 turns the mode on, ?present=0 turns it off
ON_VALUES = frozenset({"1", "true", "yes", "on"})
OFF_VALUES = frozenset({"0", "false", "no", "off"})

ZOOM = 1.25  # text and widgets of the main area are drawn 25% larger
INK = "#000000"
PAPER = "#ffffff"
ACCENT = "#0b3d91"  # dark blue: 10.8:1 against white
DISABLED_OPACITY = 0.45  # a disabled button (Train while the same run trains, Back on step 1) looks disabled
CHART_TEXT_PX = 15  # chart ticks, legends and colour bars (charts are drawn at zoom 1, see presentation_css)
# Every subplot's tick labels and axis titles: Plotly names the first panel's .xtick / .g-xtitle, the next .x2tick /
# .g-x2title and so on, all inside the axis layers.
TICKS = ":is(.xaxislayer-above, .yaxislayer-above) text"
AXIS_TITLES = '[class^="g-x"][class$="title"] text, [class^="g-y"][class$="title"] text'


TEXT = "#31333f"  # Streamlit's own text colour: 12.5:1 against white
LINK = "#1f5fa8"  # 6.4:1 against white
# Streamlit draws captions at opacity 0.6, which also fades a link in a caption (2.75:1): captions are drawn opaque
# in the grey they had (#707070, 4.95:1), so their links keep LINK's contrast.
CAPTION = "#707070"
# Chart text Plotly draws in Streamlit's chart theme grey #808495 (3.7:1 against white) or in the orange of the
# vector bars #F58518 (2.6:1), matched by the inline fill Plotly writes, and its darker replacement (>= 4.5:1).
CHART_TEXT_FILLS = {"rgb(128, 132, 149)": TEXT, "rgb(245, 133, 24)": "#a8520a"}
# Streamlit's code highlighting in the light theme: keywords and names in #1c83e1 (3.7:1 on the code block's #f7f9fb)
# and other greens, oranges and greys; each token class drawn in a darker shade of its hue (>= 5:1).
CODE_TOKEN_COLOURS = {
    "keyword, .token.tag, .token.function, .token.class-name, .token.selector": "#0b5cad",
    "string, .token.char, .token.attr-value": "#116329",
    "boolean, .token.constant, .token.symbol, .token.inserted": "#116329",
    "number, .token.regex": "#0f6a6a",
    "operator, .token.entity, .token.decorator, .token.atrule": "#a8520a",
    "attr-name, .token.property, .token.variable": "#0a5f8a",
    "url": "#6639ba",
    "comment, .token.prolog, .token.doctype, .token.cdata, .token.punctuation": "#5c5f6b",
    "important, .token.deleted": "#b42318",
}
PHONE_PX = 640  # at most this wide: Plotly's toolbar is hidden (it covers chart titles) and panels reflow

# In both modes: a page link's label wraps instead of being cut at the edge of its box; chart text and links in
# captions reach WCAG AA contrast (4.5:1, see CAPTION); on a phone (or a window as narrow) Plotly's toolbar does
# not cover the charts' titles and spacing is tight, so a page's main control and its result fit two screens.
BASE_CSS = (
    '[data-testid="stPageLink"] :is(p, span) { white-space: normal !important; overflow: visible !important; }\n'
    + "".join(
        f'[data-testid="stPlotlyChart"] text[style*="fill: {grey}"] {{ fill: {dark} !important; }}\n'
        for grey, dark in CHART_TEXT_FILLS.items()
    )
    + f'[data-testid="stCaptionContainer"] {{ opacity: 1 !important; color: {CAPTION} !important; }}\n'
    + f'[data-testid="stCaptionContainer"] a {{ color: {LINK} !important; }}\n'
    + "".join(
        f'[data-testid="stCode"] :is(.token.{tokens}) {{ color: {colour} !important; }}\n'
        for tokens, colour in CODE_TOKEN_COLOURS.items()
    )
    + f"@media (max-width: {PHONE_PX}px) {{\n"
    + "  .modebar-container { display: none !important; }\n"
    + '  [data-testid="stMainBlockContainer"] { padding-top: 3rem; }\n'
    + '  [data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.5rem; }\n'
    + '  [data-testid="stMainBlockContainer"] :is(h1, h2, h3) { padding: 0.25rem 0; }\n'
    + '  [data-testid="stMainBlockContainer"] h1 { font-size: 2rem; }\n'
    + '  [data-testid="stMainBlockContainer"] h2 { font-size: 1.45rem; }\n'
    + '  [data-testid="stMainBlockContainer"] h3 { font-size: 1.25rem; }\n'
    + '  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) { flex-wrap: wrap; }\n'
    + '  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) > [data-testid="stColumn"] {\n'
    + "    min-width: 6.5rem !important; flex: 1 1 0 !important;\n"
    + "  }\n"
    + '  [data-testid="stMetricValue"] { font-size: 1.4rem; }\n'
    + '  [data-testid="stMetricLabel"] * { white-space: normal !important; overflow: visible !important; }\n'
    + "}"
)

# Below PHONE_PX on a laptop (a 320-px window, 200% zoom): Streamlit gives the server no width, so charts keep their
# desktop layout; a chart of 2 or more panels (one Plotly drag layer each) keeps a legible width (WIDE_CHARTS) and
# scrolls sideways in its own box (WCAG 1.4.10 allows that for charts), the page itself does not. Phones get charts
# laid out for them instead (components.framework.phone).
WIDE_CHARTS = ((2, 600), (5, 840))  # (panels, least width in px): 600 fits 200% zoom's 606-px column
PANELS = ":has(.draglayer > g:nth-child({}))"
# Charts drawn as one panel of several pictures, on every narrow screen, phones included: (chart key, least width).
WIDE_KEYED = (
    (SHAPE_FLOW, 900),
    (FILTERS_STEP_PRODUCTS, 560),
    (FILTERS_DEMO_CHART, 600),
    (POOL_WINDOWS, 760),
    (POOL_SHIFT_BEFORE, 760),
    (POOL_SHIFT_AFTER, 840),
    (POOL_REPEATED, 560),
    (WALK_MAPS, 760),
    (DEEPER_CHANNELS_GRIDS, 640),
    (DEEPER_CHANNELS_SUM, 640),
)


def scroll_box_css(boxes: Sequence[tuple[str, int]]) -> str:
    """Below PHONE_PX, each element container a selector suffix picks scrolls sideways, its chart that wide."""
    rules = "".join(
        f'  [data-testid="stElementContainer"]{box} {{ overflow-x: auto; }}\n'
        f'  [data-testid="stElementContainer"]{box} > [data-testid="stFullScreenFrame"] {{ min-width: {px}px; }}\n'
        for box, px in boxes
    )
    return f"@media (max-width: {PHONE_PX}px) {{\n{rules}}}"


PHONE_CSS = scroll_box_css([(f".st-key-{key}", px) for key, px in WIDE_KEYED])
WIDE_CHART_CSS = PHONE_CSS + scroll_box_css([(PANELS.format(panels), px) for panels, px in WIDE_CHARTS])


def parse_flag(value: str | None) -> bool | None:
    """True / False for a recognised ?present= value, None when absent or unrecognised."""
    if value is None:
        return None
    value = value.strip().lower()
    if value in ON_VALUES:
        return True
    if value in OFF_VALUES:
        return False
    return None


def presentation_css(zoom: float = ZOOM) -> str:
    """Stylesheet of presentation mode.

    The sidebar starts collapsed (presentation_mode), page intros are left out (components.framework.page.start_page)
    and spacing is tight, so a page's main control and its result share one 720-px screen. The main block
    container is zoomed (CSS `zoom` reflows the layout, unlike `transform`). Plotly charts are zoomed back
    to 1: Plotly maps the mouse to data through CSS transforms but not through `zoom`, so a zoomed chart
    would hover and select the wrong point (measured: 3 of 10 bars); so are tables drawn on a canvas
    (st.dataframe sizes itself in unzoomed pixels: zoomed, the comparison table ran 25% past the screen's edge).
    Chart titles, labels and ticks turn black, and ticks, legends and axis titles are drawn at CHART_TEXT_PX.
    Developer chrome and download buttons are hidden; text is black on white.
    """
    if not 1.0 <= zoom <= 2.0:
        raise ValueError(f"zoom must be between 1 and 2, got {zoom}")
    return f"""
[data-testid="stMainBlockContainer"] {{
  zoom: {zoom};
  padding: 1.75rem 1.5rem 2rem 1.5rem;
}}
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {{ gap: 0.6rem; }}
[data-testid="stMainBlockContainer"] :is(h1, h2, h3) {{
  padding: 0.1rem 0 0.2rem 0;
  line-height: 1.3;
  overflow: visible;
}}
[data-testid="stMainBlockContainer"] h1 {{ font-size: 2.5rem; }}
[data-testid="stMainBlockContainer"] h2 {{ font-size: 1.6rem; }}
[data-testid="stMainBlockContainer"] h3 {{ font-size: 1.35rem; }}
.st-key-{COMPACT_TITLE} h1 {{ font-size: 1.15rem; padding: 0; }}
[data-testid="stPlotlyChart"], [data-testid="stDataFrame"] {{ zoom: {1 / zoom:.6f}; }}
[data-testid="stPlotlyChart"] :is({TICKS}, .cbaxis text, .legendtext) {{
  font-size: {CHART_TEXT_PX}px !important;
}}
[data-testid="stPlotlyChart"] :is({AXIS_TITLES}, .cbtitle text) {{
  font-size: {CHART_TEXT_PX + 1}px !important;
}}
[data-testid="stApp"], [data-testid="stMain"], [data-testid="stMainBlockContainer"] {{
  color: {INK};
  background: {PAPER};
}}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p,
[data-testid="stWidgetLabel"] p, [data-testid="stMarkdownContainer"] {{
  color: {INK} !important;
  opacity: 1 !important;
}}
[data-testid="stWidgetLabel"] p {{ font-weight: 600; }}
[data-testid="stMainBlockContainer"] button[kind^="primary"] [data-testid="stMarkdownContainer"] {{
  color: {PAPER} !important;
}}
[data-testid="stMainBlockContainer"] button:disabled {{ opacity: {DISABLED_OPACITY}; cursor: not-allowed; }}
[data-testid="stMetricLabel"] * {{ white-space: normal !important; overflow: visible !important; }}
[data-testid="stPlotlyChart"] :is(.gtitle, .annotation-text, {TICKS}, {AXIS_TITLES}, .legendtext, .cbaxis text,
                                  .cbtitle text) {{
  fill: {INK} !important;
}}
[data-testid="stMainBlockContainer"] a {{ color: {ACCENT}; text-decoration: underline; }}
[data-testid="stSidebar"] {{ border-right: 2px solid {INK}; }}
[data-testid="stSidebarNavLink"] span {{ color: {INK}; font-size: 1.1rem; }}
:focus-visible {{ outline: 3px solid {ACCENT} !important; outline-offset: 2px; }}
[data-testid="stHeader"] {{ background: transparent; height: 2.5rem; }}
[data-testid="stToolbarActions"], [data-testid="stMainMenu"], [data-testid="stAppDeployButton"],
[data-testid="stStatusWidget"], [data-testid="stDecoration"], [data-testid="stHeaderActionElements"],
[data-testid="stElementToolbar"], [data-testid="stElementContainer"]:has([data-testid="stDownloadButton"]),
.modebar-container {{
  display: none !important;
}}
"""


def presentation_mode() -> bool:
    """The sidebar "Presentation mode" toggle (on every page), kept in session state and in the URL.

    `?present=1` / `?present=0` in the URL sets it. The mode lives under PRESENTATION, not in the
    toggle's own state, which Streamlit resets when the page changes. Streamlit also drops query
    parameters then, so the flag is written back on every page and a copied link keeps the mode; no
    other URL key is touched. When on, the projector stylesheet of components.presentation is added.
    """
    requested = parse_flag(st.query_params.get(PRESENT_PARAM))
    if requested is not None:
        st.session_state[PRESENTATION] = requested
    on = st.session_state.setdefault(PRESENTATION, False)
    st.session_state[PRESENTATION_TOGGLE] = on
    st.sidebar.toggle(
        "Presentation mode",
        key=PRESENTATION_TOGGLE,
        on_change=_toggle_presentation,
        help="For a projector: larger text, black on white, no download buttons or developer "
        "menus. A link with ?present=1 opens in this mode.",
    )
    _write_present_param(on)
    st.html(f"<style>{BASE_CSS}{PHONE_CSS if on_phone() else WIDE_CHART_CSS}</style>")
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")
    if on:
        st.html(f"<style>{presentation_css()}</style>")
    return on


def presenting() -> bool:
    """Whether presentation mode is on in this session (set by presentation_mode, which app.py calls first)."""
    return bool(st.session_state.get(PRESENTATION, False))


def beside(controls: float = 2, results: float = 3) -> tuple[DeltaGenerator, DeltaGenerator]:
    """Where a section's controls and its results go: side by side in presentation mode (so both fit one
    projector screen), one above the other otherwise."""
    if presenting():
        left, right = st.columns([controls, results], gap="medium")
        return left, right
    return st.container(), st.container()


def _toggle_presentation() -> None:
    st.session_state[PRESENTATION] = st.session_state[PRESENTATION_TOGGLE]
    _write_present_param(st.session_state[PRESENTATION])


def _write_present_param(on: bool) -> None:
    if on:
        if st.query_params.get(PRESENT_PARAM) != "1":
            st.query_params[PRESENT_PARAM] = "1"
    elif PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]
