"""The Class page and the tour's class polls under AppTest: a lecturer and students, each an AppTest session (its
own learner token), sharing one class database in a fresh data folder."""

from __future__ import annotations

import sqlite3
import time
from types import SimpleNamespace

import pytest

from components.framework.session_keys import (
    CLASS_JOIN,
    CLASS_JOIN_CODE,
    CLASS_LECTURER,
    CLASS_NICKNAME,
    CLASS_RESUME,
    CLASS_RESUME_CODE,
    CLASS_RESUME_KEY,
    CLASS_REVEAL,
    CLASS_SHARE,
    CLASS_START,
    CLASS_START_KEY,
    TOUR_STEP,
    class_send,
    tour_back,
)
from components.teaching.tour import steps
from models.classroom import KEEP_SECONDS, ClassStore
from tests.support.apptest import checked, open_page

PAGE = "pages/class.py"
TOUR = "pages/tour.py"


@pytest.fixture
def data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_LAB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CNN_LAB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CNN_LAB_LECTURER_KEY", raising=False)
    return tmp_path


def start_class():
    lecturer = open_page(PAGE)
    checked(lecturer.button(key=CLASS_START).click().run())
    code, key = lecturer.session_state[CLASS_LECTURER]
    return lecturer, code, key


def join(code: str, nickname: str = "Ada", **query):
    student = open_page(PAGE, **query)
    if not query:
        student.text_input(key=CLASS_JOIN_CODE).set_value(code)
    student.text_input(key=CLASS_NICKNAME).set_value(nickname)
    return checked(student.button(key=CLASS_JOIN).click().run())


def answer(app, step_key: str, text: str):
    _answer_input(app).set_value(text)
    return checked(app.button(key=class_send(step_key)).click().run())


def _answer_input(app):
    return next(box for box in app.text_input if box.label == "Your answer")


def texts(app) -> str:
    parts = [*app.markdown, *app.caption, *app.error, *app.success, *app.warning, *app.info, *app.metric, *app.code]
    return "\n".join(str(getattr(p, "value", "")) for p in parts)


def test_a_class_from_start_to_reveal(data_dir):
    lecturer, code, key = start_class()
    assert f"Join: **{code}**" in texts(lecturer)
    assert key in texts(lecturer)  # the key, in the lecturer's controls
    (qr,) = lecturer.get("image")[0].proto.imgs
    assert f"QR code of the join link http://localhost:8501/class?join={code}" in qr.alt
    ada = join(code, "Ada", join=code)  # by the QR code's link
    assert f"You are in class **{code}** as **Ada**" in texts(ada)
    bo = join(code.lower(), "Bo")  # by typing the code
    answer(ada, "why", "100,480")
    answer(bo, "why", "12")
    answer(bo, "why", "100480")  # changed before the reveal: still one answer, now right
    checked(lecturer.run())
    assert [m.value for m in lecturer.metric] == ["2", "2 of 2"]
    assert "100,480: 2 (100%)" in [p.proto.text for p in lecturer.get("progress")]
    checked(lecturer.button(key=CLASS_REVEAL).click().run())
    assert "2 of 2 right." in texts(lecturer)
    checked(ada.run())
    assert "Your answer 100,480 is right." in texts(ada)
    assert not [box for box in ada.text_input if box.label == "Your answer"]  # answers closed


def test_bad_input_gets_clear_messages(data_dir):
    _, code, key = start_class()
    assert "There is no class ZZZZZZ" in texts(join("ZZZZZZ"))
    assert "is not a class code" in texts(join("ab"))
    assert "A nickname has at most 24 characters" in texts(join(code, "x" * 500))  # the box keeps 200
    assert "no markup" in texts(join(code, "<script>alert(1)</script>"))
    expired, _ = ClassStore.from_environment().start(hours=1, now=time.time() - 7200)
    assert "has expired" in texts(join(expired))
    student = join(code, "Cy")
    assert "holds no number" in texts(answer(student, "why", "a lot"))
    assert "not whole positive numbers" in texts(answer(student, "why", "1.5"))
    # a student trying the lecturer's controls: resuming needs the class's key
    outsider = open_page(PAGE)
    outsider.text_input(key=CLASS_RESUME_CODE).set_value(code)
    outsider.text_input(key=CLASS_RESUME_KEY).set_value("a guess")
    assert "Only the class's lecturer" in texts(checked(outsider.button(key=CLASS_RESUME).click().run()))
    assert CLASS_LECTURER not in outsider.session_state
    outsider.text_input(key=CLASS_RESUME_KEY).set_value(key)  # the lecturer in another browser: resumes
    assert f"Join: **{code}**" in texts(checked(outsider.button(key=CLASS_RESUME).click().run()))
    assert not [b for b in student.button if b.key == CLASS_REVEAL]  # students have no Reveal


def test_a_server_key_is_needed_to_start(data_dir, monkeypatch):
    monkeypatch.setenv("CNN_LAB_LECTURER_KEY", "s3cret-clé")  # any characters, not only ASCII
    lecturer = open_page(PAGE)
    for guess in ("guess", "clé"):
        lecturer.text_input(key=CLASS_START_KEY).set_value(guess)
        assert "not this server's lecturer key" in texts(checked(lecturer.button(key=CLASS_START).click().run()))
    lecturer.text_input(key=CLASS_START_KEY).set_value("s3cret-clé")
    checked(lecturer.button(key=CLASS_START).click().run())
    assert CLASS_LECTURER in lecturer.session_state


def test_a_missing_database_is_a_message(data_dir, monkeypatch):
    monkeypatch.setenv("CNN_LAB_DATABASE_URL", "postgresql://lab@localhost:1/none?connect_timeout=2")
    app = open_page(PAGE)
    assert "Classes are not available right now" in texts(app)
    assert "cannot be reached" in texts(app)


def test_students_follow_the_lecturers_tour_step(data_dir):
    lecturer, code, _ = start_class()
    student = join(code)
    lecturer.session_state[TOUR_STEP] = 2
    checked(lecturer.switch_page(TOUR).run())  # the lecturer's tour moves the class to step 3
    assert "3." in lecturer.header[0].value
    checked(student.switch_page(TOUR).run())
    tour = steps()
    assert [h.value for h in student.header if h.value.startswith("3.")] == [f"3. {tour[2].title}"]
    checked(student.button(key=tour_back("top")).click().run())  # a student may step away
    assert student.session_state[TOUR_STEP] == 1
    assert ClassStore.from_environment().info(code).step == 2  # a student's tour never moves the class
    back = next(b for b in student.button if b.label.startswith("Back to the lecturer's step"))
    checked(back.click().run())
    assert student.session_state[TOUR_STEP] == 2
    answer(student, "pooling", "13 x 13, 169")
    assert "Your answer: **13x13x169**" in texts(student)


def test_the_board_shows_only_shared_runs_and_ending_freezes(data_dir, monkeypatch):
    run = SimpleNamespace(
        run_id="r1", name="Run 1: course CNN", config={"parameters": 243_786}, test_accuracy=0.9012, seconds=81.0
    )
    monkeypatch.setattr("components.training_jobs.trained_runs", lambda: [run])
    lecturer, code, key = start_class()
    student = join(code, "Ada")
    join(code, "Bo")  # has runs too, but shares none
    checked(student.button(key=CLASS_SHARE).click().run())
    checked(lecturer.run())
    board = lecturer.dataframe[0].value
    assert list(board["nickname"]) == ["Ada"] and list(board["parameters"]) == [243_786]
    checked(lecturer.button(key="class_end").click().run())
    assert "answers and board are frozen" in texts(lecturer)
    assert "has ended" in texts(checked(student.run()))
    store = ClassStore.from_environment()
    assert "Run 1: course CNN" in store.answers_csv(code, key)
    assert store.sweep(now=time.time() + KEEP_SECONDS + 1) == 1


def test_a_locked_database_is_a_message_and_nothing_is_lost(data_dir, monkeypatch):
    monkeypatch.setattr("models.classroom.BUSY_SECONDS", 0.2)
    _, code, _ = start_class()
    student = open_page(PAGE)
    student.text_input(key=CLASS_JOIN_CODE).set_value(code)
    other = sqlite3.connect(data_dir / "class.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        assert "busy right now; nothing was changed" in texts(checked(student.button(key=CLASS_JOIN).click().run()))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "You are in class" in texts(checked(student.button(key=CLASS_JOIN).click().run()))
