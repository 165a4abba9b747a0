"""models.serving.classroom: the class store, on SQLite (always) and on a real PostgreSQL server the tests start and
stop.

Without PostgreSQL (Debian's `postgresql` package) the PostgreSQL cases are skipped locally and fail in CI.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from models.serving.classroom import (
    CODE_ALPHABET,
    CODE_LENGTH,
    GUESS_SECONDS,
    KEEP_SECONDS,
    WRONG_CODES,
    ClassError,
    ClassStore,
    SharedRun,
    check_nickname,
    class_hours,
    database_url,
    normalise_code,
    quiz_question,
    student_id,
)
from tests.support.browser import free_port

POSTGRESQL = Path("/usr/lib/postgresql")


def _pg_bin() -> Path | None:
    found = sorted(POSTGRESQL.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def _as_user(command: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


@pytest.fixture(scope="module")
def postgresql_url():
    """A PostgreSQL server of its own on a free localhost port (initdb + pg_ctl as a non-root user)."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        message = "PostgreSQL is not installed (sudo apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    folder = Path(tempfile.mkdtemp(prefix="cnn-lab-pg-"))
    if user:
        shutil.chown(folder, user)
    data, port = folder / "data", free_port()
    run = {"check": True, "capture_output": True, "cwd": folder}
    subprocess.run(_as_user([str(pg_bin / "initdb"), "-D", str(data), "-U", "lab", "--auth=trust"], user), **run)
    options = f"-p {port} -k {folder} -c listen_addresses=localhost -c fsync=off"
    start = [str(pg_bin / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(folder / "log"), "start"]
    subprocess.run(_as_user(start, user), **run)
    try:
        yield f"postgresql://lab@localhost:{port}/postgres"
    finally:
        subprocess.run(_as_user([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user), **run)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> ClassStore:
    if request.param == "sqlite":
        return ClassStore.from_environment({"CNN_LAB_DATA_DIR": str(tmp_path)})
    url = request.getfixturevalue("postgresql_url")
    result = ClassStore.from_environment({"CNN_LAB_DATABASE_URL": url})
    with result.engine.begin() as db:  # each test starts from empty tables
        db.exec_driver_sql("TRUNCATE board, reveals, answers, students, quizzes, join_guesses, classes")
    return result


def test_a_class_runs_from_start_to_download(store):
    code, key = store.start(goal="best accuracy under 50,000 parameters")
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert store.join(code.lower()[:3] + " " + code.lower()[3:], "token-a", "Ada").code == code
    store.join(code, "token-b", "Bo")
    store.join(code, "token-c", "Cy")
    store.answer("token-a", "filter", "26x26", True)
    store.answer("token-b", "filter", "28x28", False)
    store.answer("token-b", "filter", "26x26", True)  # changed before the reveal: still one answer
    tally = store.tally(code, "filter")
    assert (tally.joined, tally.answered, tally.correct, tally.revealed) == (3, 2, 2, False)
    assert tally.counts == {"26x26": 2}
    store.reveal(code, key, "filter")
    with pytest.raises(ClassError, match="revealed"):
        store.answer("token-c", "filter", "13x13", False)
    assert store.tally(code, "filter").revealed
    store.set_step(code, key, 3)
    assert store.info(code).step == 3
    store.share("token-a", "run-1", SharedRun("ignored", "course CNN", 243_786, 0.9012, 80.5))
    store.share("token-b", "run-2", SharedRun("ignored", "small CNN", 20_000, 0.85, 40.0))
    assert [(run.nickname, run.params) for run in store.board(code)] == [("Ada", 243_786), ("Bo", 20_000)]
    store.end(code, key)
    with pytest.raises(ClassError, match="ended"):
        store.answer("token-c", "pooling", "13x13", True)
    with pytest.raises(ClassError, match="ended"):
        store.share("token-c", "run-3", SharedRun("", "x", 1, 0.5, 1.0))
    rows = list(csv.DictReader(io.StringIO(store.answers_csv(code, key))))
    assert [(r["kind"], r["nickname"], r["answer"]) for r in rows[:2]] == [("answer", "Ada", "26x26")] + [
        ("answer", "Bo", "26x26")
    ]
    assert {r["design"] for r in rows if r["kind"] == "run"} == {"course CNN", "small CNN"}


def test_only_the_key_does_lecturer_actions(store):
    code, key = store.start()
    store.join(code, "student", "Eve")
    for action in (
        lambda: store.reveal(code, "guess", "filter"),
        lambda: store.set_step(code, "", 2),
        lambda: store.end(code, key + "x"),
        lambda: store.answers_csv(code, "guess"),
        lambda: store.resume(code, "guess"),
    ):
        with pytest.raises(ClassError, match="Only the class's lecturer"):
            action()
    assert store.resume(code, key).code == code


def test_one_class_at_a_time_and_leaving(store):
    first, _ = store.start()
    second, _ = store.start()
    store.join(first, "token", "Ann")
    store.join(second, "token", "Ann")
    assert store.membership("token").code == second
    assert store.tally(first, "q").joined == 0
    store.leave("token")
    assert store.membership("token") is None
    with pytest.raises(ClassError, match="not in a class"):
        store.answer("token", "q", "1", True)


def test_wrong_expired_and_ended_codes(store):
    with pytest.raises(ClassError, match="is not a class code"):
        store.join("ABC", "t", "Al")
    with pytest.raises(ClassError, match="There is no class"):
        store.join("AAAAAA", "t", "Al")
    old, _ = store.start(hours=1, now=time.time() - 7200)
    with pytest.raises(ClassError, match="expired"):
        store.join(old, "t", "Al")
    ended, key = store.start()
    store.end(ended, key)
    with pytest.raises(ClassError, match="ended"):
        store.join(ended, "t", "Al")


def test_sweep_removes_old_classes_with_their_rows(store):
    now = time.time()
    old, _ = store.start(hours=1, now=now - KEEP_SECONDS - 7200)
    fresh, _ = store.start()
    store.join(fresh, "t", "Al")
    assert store.sweep(now=now) == 1
    with pytest.raises(ClassError, match="There is no class"):
        store.info(old)
    assert store.membership("t").code == fresh


@pytest.mark.parametrize(
    ("text", "message"),
    [("<b>x</b>", "no markup"), ("x" * 500, "at most 24 characters; this one has 500"), ("  ", "Type a nickname")],
)
def test_bad_nicknames_are_refused(text, message):
    with pytest.raises(ClassError, match=message):
        check_nickname(text)


def test_nicknames_codes_and_ids():
    assert check_nickname("  Zoë   O'Neil-2 ") == "Zoë O'Neil-2"
    assert normalise_code(" abc-234 ") == "ABC234"
    with pytest.raises(ClassError):
        normalise_code("ABC10O")  # 1, 0 and O are never in a code
    assert student_id("t") != student_id("u") and "t" not in student_id("t")
    assert database_url({"CNN_LAB_DATABASE_URL": "postgres://u@h/db"}) == "postgresql+psycopg://u@h/db"


def test_a_locked_database_gives_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr("models.serving.classroom.BUSY_SECONDS", 0.2)
    store = ClassStore.from_environment({"CNN_LAB_DATA_DIR": str(tmp_path)})
    code, _ = store.start()
    other = sqlite3.connect(tmp_path / "class.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with pytest.raises(ClassError, match="cannot be reached or is busy"):
            store.join(code, "t", "Al")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.join(code, "t", "Al").code == code  # nothing was lost: it works once the lock is gone


def test_an_unreachable_server_gives_a_clear_message():
    with pytest.raises(ClassError, match="cannot be reached"):
        ClassStore(f"postgresql+psycopg://lab@localhost:{free_port()}/none?connect_timeout=2")


def test_an_unusable_address_is_a_message_not_a_crash():
    with pytest.raises(ClassError, match=r"address is not usable \((ModuleNotFound|Import)Error\)"):
        ClassStore("postgresql+psycopg2://lab@localhost/none")  # a driver this server does not have


def test_requests_that_cross_never_crash(store):
    """The lecturer's two browsers pressing Reveal at once, a student's two tabs answering or joining at once: each
    request ends done or with a ClassError message, never an IntegrityError (a traceback on the page)."""
    code, key = store.start()
    store.join(code, "student", "Eve")
    errors: list[BaseException] = []

    def at_once(action, times: int = 8) -> None:
        barrier = threading.Barrier(times)

        def one(n: int) -> None:
            barrier.wait()
            try:
                action(n)
            except ClassError:
                pass
            except BaseException as error:  # what the page would show as a traceback
                errors.append(error)

        threads = [threading.Thread(target=one, args=(n,)) for n in range(times)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    at_once(lambda n: store.answer("student", "filter", str(n), n == 3))
    at_once(lambda n: store.join(code, "student", "Eve"))
    at_once(lambda n: store.reveal(code, key, "filter"))
    assert errors == []
    assert store.pulse(code, "filter")[2]  # revealed once, for all


def test_the_data_folder_sweep_sweeps_classes(tmp_path, monkeypatch):
    from models.serving.sweep import sweep
    from models.training.runs import RunStore

    monkeypatch.delenv("CNN_LAB_DATABASE_URL", raising=False)
    runs = RunStore(tmp_path)
    assert sweep(runs).classes == 0 and not (tmp_path / "class.sqlite3").exists()  # no class, no database
    store = ClassStore.from_environment({"CNN_LAB_DATA_DIR": str(tmp_path)})
    store.start(hours=1, now=time.time() - KEEP_SECONDS - 7200)
    store.start()
    assert sweep(runs).classes == 1


def test_pulse_is_the_step_the_quiz_and_the_reveal(store):
    code, key = store.start()
    assert store.pulse(code, "filter") == (0, 0, False)
    store.set_step(code, key, 4)
    store.reveal(code, key, "filter")
    assert store.pulse(code, "filter") == (4, 0, True) and store.pulse(code, "pooling") == (4, 0, False)
    store.put_quiz(code, key)
    assert store.pulse(code, "filters-1") == (4, 1, False)
    with pytest.raises(ClassError, match="There is no class"):
        store.pulse("AAAAAA", "filter")


def test_a_filters_quiz_question_becomes_the_class_poll_and_counts_in_the_csv(store):
    code, key = store.start()
    store.join(code, "ada", "Ada")
    assert store.quiz(code) == 0  # the tour's question until the lecturer puts one
    with pytest.raises(ClassError, match="Only the class's lecturer"):
        store.put_quiz(code, "a guess")
    assert store.put_quiz(code, key) == 1 and store.quiz(code) == 1
    store.answer("ada", quiz_question(1), "B", True)
    store.close_quiz(code, key)
    assert store.quiz(code) == 0
    assert store.put_quiz(code, key) == 2  # numbered on: question 1's answers stay apart
    assert store.tally(code, quiz_question(1)).counts == {"B": 1} and store.tally(code, quiz_question(2)).answered == 0
    rows = list(csv.DictReader(io.StringIO(store.answers_csv(code, key))))
    assert [(r["question"], r["nickname"], r["answer"], r["correct"]) for r in rows] == [
        ("filters-1", "Ada", "B", "True")
    ]
    store.end(code, key)
    with pytest.raises(ClassError, match="has ended"):
        store.put_quiz(code, key)


def test_wrong_codes_are_limited_per_learner_and_per_client_across_processes(store):
    code, _ = store.start()
    other = ClassStore(store.url)  # another replica on the same database
    now = time.time()
    for attempt in range(WRONG_CODES["learner"]):
        with pytest.raises(ClassError, match="There is no class"):
            (store, other)[attempt % 2].join("ZZZZZZ", "mallory", "M", now=now + attempt)
    for guess in ("ZZZZZZ", code):  # then even the right code waits for the window to end
        with pytest.raises(ClassError, match=r"Too many wrong codes: try again in 56 s\."):
            other.join(guess, "mallory", "M", now=now + 4.5)
    with pytest.raises(ClassError, match="is not a class code"):  # a malformed code is a typo, not a guess
        store.join("ab", "ada", "Ada")
    assert store.join(code, "mallory", "M", now=now + GUESS_SECONDS + 1).code == code
    # one client address (a script with fresh learner tokens) is limited too; another address is not
    for attempt in range(WRONG_CODES["client"]):
        with pytest.raises(ClassError, match="There is no class"):
            store.join("ZZZZZZ", f"bot-{attempt}", "B", client="203.0.113.9", now=now)
    with pytest.raises(ClassError, match="Too many wrong codes"):
        store.join(code, "bot-fresh", "B", client="203.0.113.9", now=now)
    assert store.join(code, "bot-fresh", "B", client="198.51.100.7", now=now).code == code
    with store.engine.begin() as db:
        assert db.exec_driver_sql("SELECT count(*) FROM join_guesses").scalar() == WRONG_CODES["client"] + 1
    store.sweep(now=now + GUESS_SECONDS + 1)  # ended windows are swept
    with store.engine.begin() as db:
        assert db.exec_driver_sql("SELECT count(*) FROM join_guesses").scalar() == 0


def test_the_class_length_setting():
    assert class_hours({}) == 4 and class_hours({"CNN_LAB_CLASS_HOURS": " 9 "}) == 9
    for bad in ("0", "1.5", "-2", "four"):
        with pytest.raises(ValueError, match="CNN_LAB_CLASS_HOURS must be a whole number of at least 1"):
            class_hours({"CNN_LAB_CLASS_HOURS": bad})
    with pytest.raises(ValueError, match="CNN_LAB_CLASS_HOURS must be a whole number of hours from 1 to 12, got 13"):
        class_hours({"CNN_LAB_CLASS_HOURS": "13"})


def test_a_class_lasts_the_hours_asked(store):
    now = time.time()
    code, _ = store.start(hours=2, now=now)
    assert store.info(code).expires == pytest.approx(now + 2 * 3600)
    for hours in (0, 13):
        with pytest.raises(ClassError, match="A class lasts 1 to 12 hours"):
            store.start(hours=hours)
