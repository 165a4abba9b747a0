"""The Training page's dataset builder in Chromium: name two classes, upload image files to one, draw on the canvas
and upload to the other, then Use this dataset (the radio of classes changes its labels on every add)."""

from __future__ import annotations

from tests.browser.test_browser_predict import TROUSERS, draw
from tests.support.browser import screenshot, wait_until_idle
from tests.support.image_files import encoded, real_items


def files(name: str, count: int, tmp_path) -> list[str]:
    paths = []
    for i, item in enumerate(real_items(name, count)):
        path = tmp_path / f"{name}-{i}.png"
        path.write_bytes(encoded(item, "png"))
        paths.append(str(path))
    return paths


def test_build_a_dataset_with_files_and_a_drawing_then_use_it(app_url, page, tmp_path):
    page.goto(f"{app_url}/training")
    wait_until_idle(page, 300_000)
    page.locator('[data-testid="stRadio"] label').filter(has_text="Your own images").click()
    wait_until_idle(page)
    page.locator('[data-testid="stRadio"] label').filter(has_text="Build it here").click()
    wait_until_idle(page)
    for number, name in ((1, "Sneaker"), (2, "Trouser")):
        box = page.get_by_label(f"Class {number}", exact=True)
        box.fill(name)
        box.press("Enter")
        wait_until_idle(page)
    page.locator('[data-testid="stButtonGroup"] button').filter(has_text="Upload").click()
    wait_until_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(
        files("Sneaker", 10, tmp_path)
    )
    page.get_by_text("Sneaker (10)").wait_for(timeout=60_000)
    wait_until_idle(page)
    page.locator('[data-testid="stRadio"] label').filter(has_text="Trouser (0)").click()
    wait_until_idle(page)
    page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(files("Trouser", 9, tmp_path))
    page.get_by_text("Trouser (9)").wait_for(timeout=60_000)
    wait_until_idle(page)
    page.locator('[data-testid="stButtonGroup"] button').filter(has_text="Draw").click()
    wait_until_idle(page)
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / 280
    draw(page, [(x * scale, y * scale) for x, y in TROUSERS], box)
    wait_until_idle(page)
    page.get_by_role("button", name="Add this drawing to Trouser").click()
    page.get_by_text("Trouser (10)").wait_for(timeout=30_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_role("button", name="Use this dataset").click()
    page.get_by_text("Download the dataset as a zip").wait_for(timeout=30_000)
    wait_until_idle(page)
    assert page.get_by_text("These examples are the dataset Train uses now").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    assert screenshot(page, "training_builder").stat().st_size > 10_000
