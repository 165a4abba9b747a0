"""The Predict page in Chromium: the default example photo, then a drawing made with the mouse on the canvas."""

from tests.support.browser import screenshot, wait_until_idle

# Trousers on a 280x280 canvas as one stroke (one update): left leg up, waistband, right leg down, inner legs.
TROUSERS = [(100, 250), (100, 40), (180, 40), (180, 250), (160, 250), (160, 60), (120, 60), (120, 250)]


def draw(page, path, box, steps: int = 12) -> None:
    """Press the mouse at the first point, move through the others, release: one freehand stroke."""
    page.mouse.move(box["x"] + path[0][0], box["y"] + path[0][1])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        for step in range(1, steps + 1):
            page.mouse.move(box["x"] + x0 + (x1 - x0) * step / steps, box["y"] + y0 + (y1 - y0) * step / steps)
    page.mouse.up()


def test_an_example_and_a_drawing_on_the_canvas_are_classified(app_url, page):
    page.goto(f"{app_url}/predict")
    page.get_by_text("The network says").wait_for(timeout=120_000)  # the default example photo
    wait_until_idle(page)
    assert "The network says T-shirt/top" in page.get_by_text("The network says").inner_text()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 5
    assert screenshot(page, "predict_example").stat().st_size > 10_000
    page.locator('[data-testid="stRadio"] label').filter(has_text="Draw").click()
    page.get_by_text("Draw an item with the mouse").wait_for()
    wait_until_idle(page)
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()  # the mouse only draws inside the window
    draw(page, TROUSERS, canvas.bounding_box())
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('The network says')",
        timeout=60_000,
    )
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert "The network says Trouser" in page.get_by_text("The network says").inner_text()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 5
    assert screenshot(page, "predict_drawing").stat().st_size > 10_000
