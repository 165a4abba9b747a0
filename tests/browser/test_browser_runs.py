"""Runs outlive the browser session, in a real browser: refresh mid-training and after, a server restart, and
another learner (a fresh browser profile) seeing none of it."""

import re
import time

from tests.app.test_training_page import set_slider
from tests.support.browser import SCREENSHOTS, legend_clashes, screenshot, streamlit_server, wait_until_idle

LIVE = '.st-key-live-training [data-testid="stPlotlyChart"]'
TABLE = '[data-testid="stDataFrame"]'
# The comparison table's scrolling area (its width and the width its columns need), where its right edge is drawn,
# its column headers, and how wide the sidebar is drawn.
TABLE_FIT = """() => {
  const table = document.querySelector('[data-testid="stDataFrame"]');
  const scroller = table.querySelector('.dvn-scroller');
  return {scroll: scroller.scrollWidth, client: scroller.clientWidth, right: table.getBoundingClientRect().right,
          headers: [...table.querySelectorAll('[role="columnheader"]')].map(h => h.innerText.trim()),
          sidebar: document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect().width};
}"""


def table_fit(page) -> dict:
    """TABLE_FIT once the comparison has drawn its column headers (the grid adds them after its first paint)."""
    page.wait_for_function(
        """() => document.querySelectorAll('[data-testid="stDataFrame"] [role="columnheader"]').length >= 7""",
        timeout=60_000,
    )
    return page.evaluate(TABLE_FIT)


def start_short_training(page) -> None:
    set_slider(page, "Training images", "Home")  # 5,000 images
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_selector(f"{LIVE} .scatterlayer .trace", timeout=180_000)


def test_refresh_reattaches_to_training_and_keeps_the_run_and_a_new_server_shows_it(browser, tmp_path):
    from tests.support.browser import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    learner = browser.new_context(viewport={"width": 1280, "height": 900})
    stranger = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        data = tmp_path / "data"
        with streamlit_server(data_dir=data) as server:
            page = learner.new_page()
            page.goto(f"{server.url}/training")
            wait_until_idle(page)
            page.wait_for_function("() => document.cookie.includes('cnn_lab_learner=')")
            (cookie,) = [c for c in learner.cookies() if "cnn_lab_learner" in c["name"]]
            assert cookie["name"] == "cnn_lab_learner" and not cookie["secure"]  # plain HTTP: no __Host- prefix
            assert abs(cookie["expires"] - time.time() - 120 * 86400) < 3600  # about a term, not a year
            start_short_training(page)
            name = page.locator(".st-key-live-training strong").first.inner_text()

            page.reload()  # F5 while the job trains: the same job comes back, still training
            wait_until_idle(page)
            page.wait_for_selector(f"{LIVE} .scatterlayer .trace", timeout=60_000)
            assert page.locator(".st-key-live-training strong").first.inner_text() == name
            screenshot(page, "training-after-refresh")
            page.get_by_role("button", name="Stop", exact=True).click()
            page.wait_for_selector(TABLE, timeout=180_000)

            page.reload()  # and after: the run is still listed
            wait_until_idle(page)
            page.wait_for_selector(TABLE, timeout=60_000)
            # at 1280 px with the sidebar open the comparison fits without scrolling sideways, every column shown
            fit = table_fit(page)
            assert fit["sidebar"] > 200 and fit["scroll"] <= fit["client"], fit
            assert fit["headers"] == ["run", "test", "val", "train", "gap", "epochs", "time"], fit
            page.get_by_text("More columns", exact=False).click()  # the rest of each row: a table that wraps
            details = page.locator('[data-testid="stExpander"] [data-testid="stTable"]')
            details.wait_for()
            assert "against overfitting" in details.inner_text() and "stopped by request" in details.inner_text()
            assert details.evaluate("t => t.scrollWidth <= t.clientWidth")
            stopped = re.escape(name.rsplit(", ", 1)[0]) + r", [0-9.]+ of \d+ epochs"  # renamed with the epochs done
            assert page.get_by_text(re.compile(stopped)).count() >= 1

            other = stranger.new_page()
            other.goto(f"{server.url}/training")
            wait_until_idle(other)
            assert other.locator(TABLE).count() == 0 and other.get_by_text("No finished runs yet").count() == 1

        with streamlit_server(data_dir=data) as restarted:  # same data folder, new process: the run is still there
            page = learner.new_page()
            page.goto(f"{restarted.url}/training")
            wait_until_idle(page)
            page.wait_for_selector(TABLE, timeout=60_000)
            stopped = re.escape(name.rsplit(", ", 1)[0]) + r", [0-9.]+ of \d+ epochs"  # renamed with the epochs done
            assert page.get_by_text(re.compile(stopped)).count() >= 1
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        learner.close()
        stranger.close()


def test_pressing_train_shows_its_state_and_stop_on_the_first_projector_screen(app_url, browser):
    """Presentation mode at 1280x720: after Train, the job's progress and Stop are on the first screen, and Train
    is off while that run trains; Stop once it trains ends it, and the stopped run is listed (a run stopped before
    its first batch keeps nothing). The dense baseline on the smallest set: the quickest run a link asks for."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/training?present=1&model=dense&images=5000")
        wait_until_idle(page)
        train = page.get_by_role("button", name="Train", exact=True)
        train.click()
        bar = page.locator('[data-testid="stProgress"]').first
        bar.wait_for(timeout=30_000)
        scrolled = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop")
        stop = page.locator('.st-key-live-training [data-testid="stButton"] button').first
        for element in (bar, stop):
            box = element.bounding_box()
            assert box is not None and scrolled + box["y"] + box["height"] <= 720, (scrolled, box)
        assert train.is_disabled()
        page.screenshot(path=str(SCREENSHOTS / "training-present-after-train.png"))
        page.wait_for_selector(f"{LIVE} .scatterlayer .trace", timeout=180_000)
        chart = page.locator(LIVE).bounding_box()  # the live curves whole on the first screen, beside the job
        assert chart is not None and scrolled + chart["y"] + chart["height"] <= 720, (scrolled, chart)
        assert legend_clashes(page) == []
        stop.click()
        page.wait_for_selector(TABLE, timeout=180_000)
        wait_until_idle(page)
        assert page.locator('[data-testid="stProgress"]').count() == 0
        assert not train.is_disabled() and page.locator('[data-testid="stException"]').count() == 0
        fit = table_fit(page)  # the comparison fits the projector's width too (zoomed, it ran 25% past)
        assert fit["scroll"] <= fit["client"] and fit["right"] <= 1280, fit
        page.screenshot(path=str(SCREENSHOTS / "training-present-stopped.png"))
    finally:
        context.close()


def named_or_ready(page, ready: str, seconds: float = 0.5) -> float:
    """Seconds until the page names what it waits for (TensorFlow) or shows `ready` text; fails after `seconds`."""
    started = time.perf_counter()
    page.wait_for_function(
        """ready => {
              const text = document.querySelector('[data-testid="stMain"]').innerText;
              return text.includes('Loading TensorFlow') || text.includes(ready);
           }""",
        arg=ready,
        timeout=seconds * 1000,
    )
    return time.perf_counter() - started


def test_the_first_wait_for_tensorflow_names_itself_within_half_a_second(browser):
    """A fresh server has not loaded TensorFlow: the tour's Next to the feature-map step, and opening Inspect from
    the sidebar, say what they wait for at once instead of showing the previous view for seconds."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        with streamlit_server() as server:
            page = context.new_page()
            page.goto(f"{server.url}/tour?step=5")  # the Training step: no TensorFlow yet
            wait_until_idle(page)
            page.get_by_role("button", name="Next").first.click()
            named_or_ready(page, "Pick some test images and one filter")  # the view, not only its step header
            wait_until_idle(page, timeout_ms=120_000)
            assert page.locator('[data-testid="stException"]').count() == 0
        with streamlit_server() as server:
            page.goto(f"{server.url}/training")
            wait_until_idle(page)
            page.locator('[data-testid="stSidebarNav"] a', has_text="Inspect").click()
            named_or_ready(page, "What happens inside the trained network")
            wait_until_idle(page, timeout_ms=120_000)
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
