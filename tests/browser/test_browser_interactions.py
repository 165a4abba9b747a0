"""Every page's main interactions driven in Chromium, as a learner would: no exception box anywhere.

Upload (good and bad) and pick a kernel on Filters, change the pool size on Pooling, change the network
on Architecture, click a confusion-matrix cell on Inspect (Train and Stop: test_browser_runs.py).
Screenshots land in screenshots/interactions-*.png.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from models.inputs.fashion_mnist import CLASS_NAMES
from models.ops.kernels import KERNELS
from models.ops.pooling import output_shape
from tests.support.browser import screenshot, wait_until_idle

EXCEPTION = '[data-testid="stException"]'


def assert_no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def png_of(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def open_page(page, app_url: str, url_path: str) -> None:
    page.goto(f"{app_url}/{url_path}")
    wait_until_idle(page)
    assert_no_exception(page)
    assert page.get_by_role("dialog").count() == 0, page.get_by_role("dialog").inner_text()  # e.g. "Page not found"


def choose(page, label: str, option: str) -> None:
    """Pick an option of a Streamlit select box by its label, then wait for the rerun."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).locator("input").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)


def upload(page, name: str, data: bytes, mime: str) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.get_by_test_id("stFileChipName").filter(has_text=name).wait_for()
    wait_until_idle(page)


def set_number(page, label: str, value: int, *, then_shows: str) -> None:
    """Type a number input's value and wait until the page shows `then_shows`."""
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")
    page.get_by_text(then_shows, exact=True).first.wait_for()
    wait_until_idle(page)


def test_filters_upload_bad_then_good_file_and_pick_a_kernel(app_url, page, fashion):
    open_page(page, app_url, "filters")
    page.get_by_role("radiogroup", name="Image").get_by_text("Upload", exact=True).click()
    wait_until_idle(page)

    upload(page, "notes.png", b"these are notes, not an image", "image/png")
    error = page.get_by_test_id("stAlertContentError")
    assert "not an image format we can read" in error.first.inner_text()
    assert_no_exception(page)

    (x_test, y_test) = fashion[1]
    boot = x_test[int(np.flatnonzero(y_test == CLASS_NAMES.index("Ankle boot"))[0])]
    upload(page, "boot.png", png_of(np.kron(boot, np.ones((4, 4), dtype=np.uint8))), "image/png")
    page.get_by_role("heading", name="4. Original and filtered").wait_for()  # the rerun with the good file ended
    wait_until_idle(page)
    assert page.get_by_test_id("stAlertContentError").count() == 0
    assert (
        "112 x 112 (height x width) image"
        in page.get_by_test_id("stMarkdown").filter(has_text="Shape arithmetic").inner_text()
    )

    choose(page, "Named kernel", "Sharpen")
    page.get_by_text(KERNELS["Sharpen"].explanation).wait_for()
    page.wait_for_url(re.compile("kernel=Sharpen"))
    wait_until_idle(page)
    assert page.get_by_test_id("stCode").first.inner_text().strip().startswith("valid: (112 - 3) / 1 + 1 = 110")
    assert_no_exception(page)
    screenshot(page, "interactions-filters")


def go_to(page, title: str) -> None:
    """Change page with the sidebar, as a learner does (Streamlit drops the old page's link parameters)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    wait_until_idle(page)


def test_pages_reopen_as_the_learner_left_them(app_url, page):
    open_page(page, app_url, "filters")
    choose(page, "Named kernel", "Emboss")
    go_to(page, "Pooling")
    field = page.get_by_role("spinbutton", name="Pool size (window side)")
    field.fill("3")
    field.press("Enter")
    page.wait_for_url(re.compile("size=3"))
    wait_until_idle(page)
    go_to(page, "Filters")
    assert page.get_by_test_id("stSelectbox").filter(has_text="Named kernel").locator("input").input_value() == "Emboss"
    page.wait_for_url(re.compile("kernel=Emboss"))
    go_to(page, "Pooling")
    assert page.get_by_role("spinbutton", name="Pool size (window side)").input_value() == "3"
    page.wait_for_url(re.compile("size=3"))
    assert_no_exception(page)


def test_pooling_size_change_updates_the_shapes(app_url, page):
    open_page(page, app_url, "pooling")
    out_h, out_w = output_shape(26, 26, 3, 2, "valid")
    set_number(page, "Pool size (window side)", 3, then_shows=f"{out_h}x{out_w}")
    assert page.get_by_test_id("stCode").first.inner_text().strip() == (
        f"height and width: floor((26 - 3) / 2) + 1 = {out_h}"
    )
    set_number(page, "Stride (step between windows)", 0, then_shows="Stride must be at least 1 (got 0)")
    out_h, out_w = output_shape(26, 26, 3, 3, "valid")
    set_number(page, "Stride (step between windows)", 3, then_shows=f"{out_h}x{out_w}")
    assert page.get_by_test_id("stAlertContentError").count() == 0
    assert_no_exception(page)
    screenshot(page, "interactions-pooling")


def test_architecture_builder_changes_follow_into_the_link(app_url, page):
    open_page(page, app_url, "architecture")
    page.get_by_role("radiogroup", name="Kernel size").get_by_text("5x5", exact=True).click()
    page.wait_for_url(re.compile("kernel=5"))
    wait_until_idle(page)
    assert_no_exception(page)
    page.get_by_role("button", name="Reset to the course CNN").click()
    page.wait_for_url(re.compile(r"/architecture$"))
    wait_until_idle(page)
    screenshot(page, "interactions-architecture")


def test_inspect_confusion_cell_click_shows_those_images(app_url, page):
    open_page(page, app_url, "inspect")
    page.get_by_role("tab", name="Evaluation").click()
    chart = page.get_by_test_id("stPlotlyChart").filter(has=page.locator(".scatterlayer"))
    chart.first.wait_for(timeout=180_000)
    wait_until_idle(page, timeout_ms=180_000)
    true_class, predicted = CLASS_NAMES.index("Shirt"), CLASS_NAMES.index("T-shirt/top")
    marker = chart.first.locator(".scatterlayer .trace .points path").nth(true_class * 10 + predicted)
    marker.scroll_into_view_if_needed()  # the mouse clicks within the window
    box = marker.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    cell = re.compile(rf"Shirt test images are predicted as {re.escape('T-shirt/top')}")
    page.get_by_text(cell).wait_for(timeout=60_000)
    wait_until_idle(page)
    assert_no_exception(page)
    screenshot(page, "interactions-inspect")


def test_inspect_tab_controls_rerun_their_tab_and_the_link_follows(app_url, page):
    """Each tab is an st.fragment: its widgets rerun only the tab, yet the address bar and the tabs follow."""
    open_page(page, app_url, "inspect")
    page.get_by_test_id("stRadio").filter(has_text="Images").get_by_text("By index").click()
    wait_until_idle(page)
    field = page.get_by_role("textbox", name="Test image indices (0-9999, up to 6)")
    field.fill("5, 7")
    field.press("Enter")
    page.wait_for_url(re.compile(r"images=5(%2C|,)7"))
    wait_until_idle(page)
    assert page.locator('[data-testid="stPlotlyChart"]').first.locator(".main-svg").count() > 0
    page.get_by_role("tab", name="Evaluation").click()
    page.wait_for_url(re.compile("tab=evaluation"), timeout=180_000)
    wait_until_idle(page, timeout_ms=180_000)
    page.get_by_role("button", name="Open it in Why this prediction").click()
    page.wait_for_url(re.compile("tab=why"))
    wait_until_idle(page)
    assert page.get_by_role("tab", name="Why this prediction").get_attribute("aria-selected") == "true"
    page.get_by_text(re.compile(r"^True class ")).first.wait_for()
    assert_no_exception(page)


def test_predict_explains_a_bad_upload_then_predicts_a_good_one(app_url, page, fashion):
    open_page(page, app_url, "predict")
    page.get_by_role("radiogroup", name="Picture").get_by_text("Upload", exact=True).click()
    wait_until_idle(page)
    upload(page, "photo.jpg", b"\xff\xd8\xff\xe0 truncated jpeg", "image/jpeg")
    assert "truncated or corrupt" in page.get_by_test_id("stAlertContentError").first.inner_text()
    (x_test, y_test) = fashion[1]
    bag = x_test[int(np.flatnonzero(y_test == CLASS_NAMES.index("Bag"))[0])]
    upload(page, "bag.png", png_of(bag), "image/png")
    page.get_by_role("heading", name="1. From picture to network input").wait_for(timeout=180_000)
    wait_until_idle(page, timeout_ms=180_000)
    assert page.get_by_test_id("stAlertContentError").count() == 0
    assert_no_exception(page)
    screenshot(page, "interactions-predict")


@pytest.mark.parametrize(
    "url_path",
    [
        "?present=banana",
        "tour?step=99",
        "filters?kernel=%3Cscript%3E&filter=%C2%B2x",
        "architecture?blocks=99&kernel=banana",
        "pooling",
        "inspect",
    ],
)
def test_hand_edited_links_never_show_a_traceback(app_url, page, url_path):
    open_page(page, app_url, url_path)
    assert page.locator("h1").first.inner_text().strip()
