"""Chromium walks the Week 3 tour with Next, reveals answers, trains briefly, and screenshots every step."""

import re

from components.teaching.tour import steps
from tests.support.browser import screenshot, wait_until_idle


def test_walk_the_tour_in_chromium(app_url, page):
    tour = steps()
    page.goto(f"{app_url}/tour?step=1")
    wait_until_idle(page)
    for index, step in enumerate(tour, 1):
        page.locator("h2", has_text=f"{index}. {step.title}").wait_for()
        wait_until_idle(page)
        assert re.search(rf"[?&]step={index}\b", page.url)
        page.locator(f".st-key-tour_reveal_{index - 1}").get_by_text("Reveal the answer").click()
        page.get_by_text(step.answer).wait_for()
        wait_until_idle(page)
        if step.key == "training":
            page.get_by_role("button", name=re.compile("^Train the course CNN")).click()
            page.get_by_text(re.compile(r"^Test accuracy .* after 2 epochs")).wait_for(timeout=240_000)
            wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        full_page = page.get_by_role("link", name=re.compile("^This view on the full")).get_attribute("href")
        assert full_page.split("?")[0].rstrip("/").endswith(step.page)
        if step.key == "filter":
            assert "kernel=Course%3A+vertical+lines" in full_page and "sample=" in full_page
        screenshot(page, f"tour-{index}-{step.key}")
        if index < len(tour):
            page.get_by_role("button", name="Next").first.click()
