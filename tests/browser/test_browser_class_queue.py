"""A class presses Train, in a real browser: two learners ask for the same run and it trains once (each sees it
is shared, each gets a copy), and a learner's second run waits in line with its place and its estimates."""

import re

from tests.support.browser import SCREENSHOTS, streamlit_server, wait_until_idle

LIVE = ".st-key-live-training"
TABLE = '[data-testid="stDataFrame"]'
LINK = "/training?model=course&images=5000&epochs=4&batch=128"


def open_training(context, url: str, query: str = ""):
    page = context.new_page()
    page.goto(f"{url}{LINK}{query}")
    wait_until_idle(page)
    return page


def test_two_learners_share_one_run_and_a_second_run_waits_with_its_place(browser):
    SCREENSHOTS.mkdir(exist_ok=True)
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    second = browser.new_context(viewport={"width": 1280, "height": 900})
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        with streamlit_server() as server:
            ada = open_training(first, server.url)
            ada.get_by_role("button", name="Train", exact=True).click()
            ada.wait_for_selector(f"{LIVE} strong", timeout=60_000)

            bob = open_training(second, server.url)  # the same settings, another learner: joins Ada's run
            bob.get_by_role("button", name="Train", exact=True).click()
            bob.wait_for_function(
                "() => document.querySelector('.st-key-live-training')?.innerText.includes('shared: 1 other learner')",
                timeout=60_000,
            )
            ada.wait_for_function(
                "() => document.querySelector('.st-key-live-training')?.innerText.includes('shared: 1 other learner')",
                timeout=60_000,
            )

            small = open_training(phone, server.url)
            small.get_by_role("button", name="Train", exact=True).click()  # a third learner joins from a phone
            small.wait_for_function(
                "() => document.querySelector('.st-key-live-training')?.innerText.includes('shared: 2 other learners')",
                timeout=60_000,
            )
            small.wait_for_selector(f'{LIVE} [data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
            small.locator(LIVE).scroll_into_view_if_needed()
            small.screenshot(path=str(SCREENSHOTS / "class-queue-phone.png"))

            seed = ada.get_by_role("spinbutton", name="Seed")  # Ada's second run: another seed, so it waits
            seed.fill("5")
            seed.press("Enter")
            wait_until_idle(ada)
            ada.get_by_role("button", name="Train", exact=True).click()
            ada.wait_for_function(
                "() => /queued, number 1 in line, (starts in about|next free slot)/"
                ".test(document.querySelector('.st-key-live-training')?.innerText || '')",
                timeout=60_000,
            )
            text = ada.locator(LIVE).inner_text()
            assert re.search(r"ready in about (\d+ min )?\d+ s", text), text
            ada.locator(LIVE).scroll_into_view_if_needed()
            ada.screenshot(path=str(SCREENSHOTS / "class-queue-laptop.png"))

            # Ada's browser on a projector: the same learner cookie, presentation mode
            projector = browser.new_context(
                viewport={"width": 1280, "height": 720}, storage_state=first.storage_state()
            )
            shown = open_training(projector, server.url, "&present=1")
            shown.wait_for_selector(f"{LIVE} strong", timeout=60_000)
            shown.screenshot(path=str(SCREENSHOTS / "class-queue-projector.png"))
            assert shown.locator('[data-testid="stException"]').count() == 0
            projector.close()

            bob.wait_for_selector(TABLE, timeout=240_000)  # the shared run ends: Bob's own copy, said to be shared
            assert bob.get_by_text(re.compile(r"Shared: other learners asked for exactly these settings")).count() >= 1
            for page in (ada, bob, small):
                assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        for context in (first, second, phone):
            context.close()
