"""A class in real browsers: a lecturer on the projector (1280x720, presentation mode) and three students (one on a
390x844 phone) join by the QR code's link, answer, and the projector's count follows; a student shares a finished
run and the projector's board shows it; the students follow a step."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np

from models.design.card import SHIPPED_MODEL
from models.training.runs import RunStore
from tests.support.browser import SCREENSHOTS, screenshot, wait_until_idle

PROJECTOR = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def finished_run(data_dir, token: str, name: str) -> None:
    """A finished training run of `token`'s learner in the served app's data folder, as a worker leaves one (the
    shipped model's file and its real parameter count and test accuracy; no training in a browser test)."""
    store = RunStore(data_dir)
    staging = store.staging_folder()
    shutil.copy(SHIPPED_MODEL, staging / "model.keras")
    np.savez_compressed(staging / "arrays.npz", batch_curve=np.zeros((0, 3), np.float32))
    record = {
        "name": name,
        "config": {"parameters": 243_786},
        "history": {"loss": [0.5]},
        "seconds": 81.0,
        "test_accuracy": 0.9012,
    }
    (staging / "run.json").write_text(json.dumps(record))
    store.commit(token, staging)


def test_a_lecturer_and_three_students(app_server, browser):
    app_url = app_server.url
    contexts = [browser.new_context(viewport=size) for size in (PROJECTOR, PHONE, LAPTOP, LAPTOP)]
    token = "class-browser-test-learner-with-a-run"  # the laptop student's browser cookie: they trained a run
    contexts[2].add_cookies([{"name": "cnn_lab_learner", "value": token, "url": app_url}])
    finished_run(app_server.data_dir, token, "Run 1: course CNN, 5 epochs")
    try:
        lecturer, *students = [context.new_page() for context in contexts]
        lecturer.goto(f"{app_url}/class?present=1")
        wait_until_idle(lecturer)
        lecturer.get_by_text("For the lecturer: start or resume a class").click()
        lecturer.get_by_role("button", name="Start a class").click()
        qr = lecturer.get_by_role("img", name=re.compile("QR code of the join link"))
        qr.wait_for()
        link = re.search(r"(http\S+/class\?join=\w+)", qr.get_attribute("alt")).group(1)
        assert link.startswith(app_url)  # the QR code holds this server's address
        assert qr.bounding_box()["width"] >= 300  # big enough to scan from the back of a room
        answers = ["100,480", "100480", "12"]
        for student, answer in zip(students, answers, strict=True):
            student.goto(link)
            wait_until_idle(student)
            student.get_by_role("button", name="Join").click()
            student.get_by_text("You are in class").wait_for()
            box = student.get_by_label("Your answer")
            box.fill(answer)
            box.press("Enter")
            student.get_by_role("button", name="Send my answer").click()
            student.get_by_text("Your answer:").wait_for()
            _no_exception(student)
        # the projector's fragment refreshes every 2 s: the count arrives without a click
        lecturer.get_by_text("3 of 3").wait_for(timeout=10_000)
        assert lecturer.get_by_text("100,480: 2 (67%)").count() == 1
        _no_exception(lecturer)
        lecturer.screenshot(path=str(SCREENSHOTS / "class-projector.png"))
        lecturer.get_by_role("button", name="Reveal the answer").click()
        phone = students[0]
        phone.get_by_text("Your answer 100,480 is right.").wait_for(timeout=20_000)  # within a watch (5 s)
        screenshot(phone, "class-phone")
        # a student shares a finished run: the projector's board (refreshed every 5 s) shows its summary
        laptop = students[1]
        laptop.get_by_role("button", name="Share").click()
        laptop.get_by_text("Shared: your run's summary is on the class board.").wait_for()
        # the board's grid is drawn on a canvas; its cells are also in the page as the grid's accessible table
        grid = lecturer.locator('[role="gridcell"]')
        grid.filter(has_text="Run 1: course CNN, 5 epochs").wait_for(state="attached", timeout=20_000)
        nickname = re.search(r" as (.+)\.$", laptop.get_by_text("You are in class").inner_text()).group(1)
        cells = grid.all_text_contents()
        for shown in (nickname, "243786", "0.9012"):  # who shared, and the run's parameters and test accuracy
            assert shown in cells, (shown, cells)
        _no_exception(laptop)
        screenshot(lecturer, "class-board-projector")  # the whole page: the board is below the poll
        lecturer.set_viewport_size(PROJECTOR)
        # follow me: the lecturer's tour moves on, the students' pages follow within a few seconds
        lecturer.get_by_role("link", name=re.compile("Go to the tour")).click()
        wait_until_idle(lecturer)
        lecturer.get_by_role("button", name="Next").first.click()
        wait_until_idle(lecturer)
        for student in students:
            student.get_by_text("Step 2:").wait_for(timeout=20_000)
        lecturer.screenshot(path=str(SCREENSHOTS / "class-tour-lecturer.png"))
        screenshot(phone, "class-phone-step2")
    finally:
        for context in contexts:
            context.close()
