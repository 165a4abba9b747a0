"""The Class page and the tour's class polls under AppTest: a lecturer and students, each an AppTest session (its
own learner token), sharing one class database in a fresh data folder."""

from __future__ import annotations

import sqlite3
import time
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from components.framework.session_keys import (
    CLASS_JOIN,
    CLASS_JOIN_CODE,
    CLASS_LECTURER,
    CLASS_NICKNAME,
    CLASS_QUIZ_CLOSE,
    CLASS_QUIZ_PUT,
    CLASS_RESUME,
    CLASS_RESUME_CODE,
    CLASS_RESUME_KEY,
    CLASS_REVEAL,
    CLASS_SHARE,
    CLASS_START,
    CLASS_START_HOURS,
    CLASS_START_KEY,
    FILTERS_QUIZ,
    LEARNER,
    TOUR_STEP,
    class_answer,
    class_send,
    tour_back,
)
from components.teaching.quiz import class_quiz
from components.teaching.tour import steps
from models.serving.classroom import GUESS_SECONDS, KEEP_SECONDS, WRONG_CODES, ClassStore, quiz_question
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


@pytest.mark.training
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
    monkeypatch.setattr("models.serving.classroom.BUSY_SECONDS", 0.2)
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


def _class_question(code: str, number: int):
    """The class's question as the page builds it, its right output checked against SciPy's correlation."""
    from components.charts.filters import block_mean, display_factor
    from components.sections.filters_quiz import QUIZ_SIDE, quiz_options
    from models.inputs.samples import load_sample
    from models.ops.kernels import KERNELS

    chosen = class_quiz(code, number)
    pixels = load_sample(chosen.image, grayscale=True)
    weights = KERNELS[chosen.kernel].weights
    question, outputs = quiz_options(pixels, chosen.kernel, weights, chosen.seed)
    small = block_mean(pixels, display_factor(pixels.shape, QUIZ_SIDE))
    expected = ndimage.correlate(small.astype(np.float64), weights.astype(np.float64), mode="constant")
    np.testing.assert_allclose(outputs[question.options[question.answer]], expected, atol=1e-5)
    return chosen, question


def test_a_filters_quiz_question_put_to_the_class(data_dir):
    lecturer, code, key = start_class()
    ada, bo = join(code, "Ada"), join(code, "Bo")
    checked(lecturer.button(key=CLASS_QUIZ_PUT).click().run())
    assert "Filters quiz question 1 is the class's question now." in texts(lecturer)
    chosen, question = _class_question(code, 1)
    seen = []
    for student in (ada, bo):
        checked(student.run())
        seen.append([image.captions[0] for image in student.get("image")])
        assert f"the kernel **{chosen.kernel}**" in texts(student)
    assert seen[0] == seen[1] == ["The image", *question.letters]  # the same question for everyone, unnamed
    right = question.letters[question.answer]
    wrong = next(letter for letter in question.letters if letter != right)
    checked(bo.button(key=class_send(quiz_question(1))).click().run())
    assert "Pick one of the outputs" in texts(bo)  # nothing picked yet: a message
    for student, letter in ((ada, right), (bo, wrong)):
        student.radio(key=class_answer(quiz_question(1))).set_value(letter)
        checked(student.button(key=class_send(quiz_question(1))).click().run())
        assert f"Your answer: **{letter}**" in texts(student)
    checked(lecturer.run())
    assert [m.value for m in lecturer.metric] == ["2", "2 of 2"]
    assert sorted(p.proto.text for p in lecturer.get("progress")) == sorted([f"{right}: 1 (50%)", f"{wrong}: 1 (50%)"])
    assert "Ada" not in texts(lecturer) and chosen.kernel not in str(lecturer.get("progress"))  # no names
    checked(lecturer.button(key=CLASS_REVEAL).click().run())
    assert f"{right} is the output of {chosen.kernel}." in texts(lecturer) and "1 of 2 right." in texts(lecturer)
    assert f"Your answer {right} is right." in texts(checked(ada.run()))
    assert f"Your answer was {wrong}." in texts(checked(bo.run()))
    assert f"{right}: {chosen.kernel}" in [image.captions[0] for image in ada.get("image")]  # named once revealed
    csv_rows = ClassStore.from_environment().answers_csv(code, key).splitlines()
    assert f"answer,filters-1,Ada,{right},True,,,," in csv_rows and f"answer,filters-1,Bo,{wrong},False,,,," in csv_rows
    # a student on the Filters page's quiz is sent to the class's question; back to the tour's question ends that
    filters = open_page("pages/filters.py", session={LEARNER: ada.session_state[LEARNER], FILTERS_QUIZ: True})
    assert "Your class has a Filters quiz question (1)" in texts(filters)
    checked(lecturer.button(key=CLASS_QUIZ_CLOSE).click().run())
    assert "Tour step 1 of" in texts(lecturer)
    assert "Step 1:" in [h.value for h in checked(ada.run()).subheader][0]
    assert "Your class has a Filters quiz question" not in texts(checked(filters.run()))


def test_wrong_join_codes_are_limited(data_dir):
    _, code, _ = start_class()
    student = open_page(PAGE)
    student.text_input(key=CLASS_JOIN_CODE).set_value("ZZZZZZ")
    for _ in range(WRONG_CODES["learner"]):
        assert "There is no class ZZZZZZ" in texts(checked(student.button(key=CLASS_JOIN).click().run()))
    student.text_input(key=CLASS_JOIN_CODE).set_value(code)  # even the right code waits now
    refused = texts(checked(student.button(key=CLASS_JOIN).click().run()))
    seconds = int(refused.split("Too many wrong codes: try again in ")[1].split(" s.")[0])
    assert 0 < seconds <= GUESS_SECONDS
    assert "You are in class" not in texts(student)
    assert "You are in class" in texts(join(code, "Other"))  # another learner is not slowed


def test_the_class_length_is_chosen_and_shown(data_dir, monkeypatch):
    monkeypatch.setenv("CNN_LAB_CLASS_HOURS", "40")
    lecturer = open_page(PAGE)
    assert "CNN_LAB_CLASS_HOURS must be a whole number of hours from 1 to 12, got 40" in texts(lecturer)
    assert lecturer.number_input(key=CLASS_START_HOURS).value == 4
    monkeypatch.setenv("CNN_LAB_CLASS_HOURS", "3")
    lecturer = open_page(PAGE)
    assert lecturer.number_input(key=CLASS_START_HOURS).value == 3  # the server's setting, then the lecturer's choice
    lecturer.number_input(key=CLASS_START_HOURS).set_value(2)
    started = time.time()
    checked(lecturer.button(key=CLASS_START).click().run())
    code, _ = lecturer.session_state[CLASS_LECTURER]
    expires = ClassStore.from_environment().info(code).expires
    assert started + 2 * 3600 <= expires <= time.time() + 2 * 3600
    ends = time.strftime("%H:%M", time.gmtime(expires))  # AppTest's browser gives no time zone: UTC
    assert f"The class ends at {ends} (or when you end it)." in texts(lecturer)
