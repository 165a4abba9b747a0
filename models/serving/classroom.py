"""The class session's store: classes, their students, poll answers, reveals and the class challenge board.

One small layer over SQLAlchemy Core, shared by every server process: SQLite in WAL mode at
`$CNN_LAB_DATA_DIR/class.sqlite3` by default, or the database `$CNN_LAB_DATABASE_URL` names (PostgreSQL through
psycopg 3), so replicas and several machines see the same class. The lecturer's key is stored as its hash; a
student is stored as a hash of their learner token, with a checked nickname. Every lecturer action takes the key;
a student's actions take their own id. Wrong join codes are counted per learner and per client address (hashed) in
the same database, so a guesser is refused on every replica. Mistakes a person can make raise `ClassError` with the
message to show, and so does a database that is missing, locked or unreachable. No Streamlit here.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import math
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from models.training.job_protocol import whole_number
from models.training.runs import DATA_DIR_ENV

DB_FILE = "class.sqlite3"
URL_ENV = "CNN_LAB_DATABASE_URL"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L or U/V-like pairs read aloud wrongly
CODE_LENGTH = 6
HOURS_ENV = "CNN_LAB_CLASS_HOURS"
CLASS_HOURS = 4  # a class expires this long after it starts (its lecturer may end it sooner), unless set
MAX_CLASS_HOURS = 12  # a class lasts 1 to 12 whole hours
KEEP_SECONDS = 7 * 86400  # an expired or ended class (its answers and board) is swept this long after
NICKNAME_MAX = 24
NICKNAME = re.compile(r"[\w .'-]+")  # letters (any script), digits, spaces and . ' - : no markup
GOAL_MAX = 120
BUSY_SECONDS = 5.0  # SQLite waits this long for another process's write before saying the database is busy
CONNECT_SECONDS = 5  # PostgreSQL: a host that does not answer is a message after this long, not a hung page
# Wrong join codes (well-formed codes of no class) allowed per GUESS_SECONDS before more are refused until it ends:
# a learner, and one client address (a whole room may sit behind one school address, so it allows more).
GUESS_SECONDS = 60.0
WRONG_CODES = {"learner": 5, "client": 40}

metadata = sa.MetaData()
classes = sa.Table(
    "classes",
    metadata,
    sa.Column("code", sa.String(CODE_LENGTH), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("ended", sa.Float),
    sa.Column("step", sa.Integer, nullable=False, default=0),
    sa.Column("goal", sa.String(GOAL_MAX), nullable=False, default=""),
)
students = sa.Table(
    "students",
    metadata,
    sa.Column("student", sa.String(32), primary_key=True),  # one class at a time
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("classes.code", ondelete="CASCADE"), nullable=False),
    sa.Column("nickname", sa.String(NICKNAME_MAX), nullable=False),
    sa.Column("joined", sa.Float, nullable=False),
    sa.Index("students_by_class", "code"),
)
answers = sa.Table(
    "answers",
    metadata,
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("classes.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("question", sa.String(32), primary_key=True),
    sa.Column("student", sa.String(32), primary_key=True),
    sa.Column("nickname", sa.String(NICKNAME_MAX), nullable=False),
    sa.Column("answer", sa.String(64), nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("answered", sa.Float, nullable=False),
)
reveals = sa.Table(
    "reveals",
    metadata,
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("classes.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("question", sa.String(32), primary_key=True),
    sa.Column("revealed", sa.Float, nullable=False),
)
board = sa.Table(
    "board",
    metadata,
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("classes.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("student", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("nickname", sa.String(NICKNAME_MAX), nullable=False),
    sa.Column("design", sa.String(200), nullable=False),
    sa.Column("params", sa.Integer, nullable=False),
    sa.Column("accuracy", sa.Float),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("shared", sa.Float, nullable=False),
)
guesses = sa.Table(  # wrong join codes in the current window, per learner and per client address (both hashed)
    "join_guesses",
    metadata,
    sa.Column("who", sa.String(48), primary_key=True),
    sa.Column("since", sa.Float, nullable=False),
    sa.Column("wrong", sa.Integer, nullable=False),
)
quizzes = sa.Table(  # the Filters quiz question the lecturer has put to the class (number 1, 2, ...), if any
    "quizzes",
    metadata,
    sa.Column("code", sa.String(CODE_LENGTH), sa.ForeignKey("classes.code", ondelete="CASCADE"), primary_key=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)


class ClassError(Exception):
    """What went wrong, in words to show the person who tried it."""


class NoSuchClass(ClassError):
    """A well-formed code that names no class (a wrong code, counted against its guesser)."""


@dataclass(frozen=True)
class ClassInfo:
    code: str
    created: float
    expires: float
    ended: float | None
    step: int
    goal: str

    @property
    def open(self) -> bool:
        return self.ended is None and time.time() < self.expires


@dataclass(frozen=True)
class Membership:
    code: str
    nickname: str


@dataclass(frozen=True)
class Tally:
    """A question's answers in one class, without names: `counts` maps each answer to how many gave it."""

    joined: int
    answered: int
    correct: int
    counts: dict[str, int]
    revealed: bool


@dataclass(frozen=True)
class SharedRun:
    nickname: str
    design: str
    params: int
    accuracy: float | None
    seconds: float


def student_id(token: str) -> str:
    """A student's anonymous id: a hash of their learner token, distinct from their run folder's name."""
    if not token:
        raise ValueError("a learner token is needed")
    return hashlib.sha256(f"class:{token}".encode()).hexdigest()[:32]


def normalise_code(text: str) -> str:
    """A typed join code in its stored form ('abc 234' -> 'ABC234'); ClassError if it cannot be one."""
    code = re.sub(r"[\s-]", "", str(text)).upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        raise ClassError(
            f"'{code[:12]}' is not a class code: a code has {CODE_LENGTH} letters and digits, as on the projector."
        )
    return code


def check_nickname(text: str) -> str:
    """The nickname to store; ClassError if it is too long or holds anything but letters, digits and . ' -"""
    name = " ".join(str(text).split())
    if not name:
        raise ClassError("Type a nickname, or keep the one suggested.")
    if not NICKNAME.fullmatch(name):
        raise ClassError("A nickname may hold letters, digits, spaces and . ' - only (no markup or symbols).")
    if len(name) > NICKNAME_MAX:
        raise ClassError(f"A nickname has at most {NICKNAME_MAX} characters; this one has {len(name)}.")
    return name


def random_nickname() -> str:
    """A default nickname such as 'Curious Kernel 42'."""
    first = secrets.choice(["Curious", "Quiet", "Bright", "Swift", "Patient", "Bold", "Keen", "Calm"])
    second = secrets.choice(["Kernel", "Filter", "Pixel", "Neuron", "Stride", "Channel", "Tensor", "Epoch"])
    return f"{first} {second} {secrets.randbelow(90) + 10}"


def class_hours(environ: Mapping[str, str] = os.environ) -> int:
    """A class's length in hours: $CNN_LAB_CLASS_HOURS (1 to 12), CLASS_HOURS when unset; ValueError naming it."""
    hours = whole_number(environ, HOURS_ENV) or CLASS_HOURS
    if hours > MAX_CLASS_HOURS:
        raise ValueError(f"{HOURS_ENV} must be a whole number of hours from 1 to {MAX_CLASS_HOURS}, got {hours}")
    return hours


def quiz_question(number: int) -> str:
    """The poll key of the class's Filters quiz question `number` (its answers are stored under it)."""
    return f"filters-{number}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def database_url(environ: Mapping[str, str] = os.environ) -> str:
    """$CNN_LAB_DATABASE_URL (a postgresql:// URL uses psycopg 3), else SQLite in the data folder."""
    url = environ.get(URL_ENV, "").strip()
    if url:
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    root = Path(environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "cnn-lab").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / DB_FILE}"


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class ClassStore:
    """Classes in one database; safe to share between threads and processes."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:  # a URL naming another driver, a bad port ...: a message, never a traceback on every tour page
            postgres = url.startswith("postgresql")
            self.engine: Engine = sa.create_engine(
                url, pool_pre_ping=postgres, connect_args={"connect_timeout": CONNECT_SECONDS} if postgres else {}
            )
        except (SQLAlchemyError, ValueError, ImportError) as error:
            raise ClassError(f"The class database's address is not usable ({type(error).__name__}).") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._create_tables()
        except IntegrityError:  # another server process created them at the same moment (PostgreSQL says so)
            self._create_tables()

    def _create_tables(self) -> None:
        with self._write() as db:
            metadata.create_all(db)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ClassStore:
        return cls(database_url(environ))

    @contextmanager
    def _change(self) -> Iterator[Connection]:
        """_write for a student's replace-one-row change: two of their requests crossing is a message, not a crash."""
        try:
            with self._write() as db:
                yield db
        except IntegrityError:
            raise ClassError("Two of your requests crossed; nothing was lost. Press the button again.") from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction; a database that is missing, locked or unreachable becomes a ClassError."""
        try:
            with self.engine.begin() as db:
                yield db
        except ClassError:
            raise
        except IntegrityError:
            raise
        except SQLAlchemyError as error:
            raise ClassError(
                "The class database cannot be reached or is busy right now; nothing was changed. Try again in a "
                f"moment. ({type(getattr(error, 'orig', error)).__name__})"
            ) from error

    # ------------------------------------------------------------------ the lecturer's side
    def start(self, *, goal: str = "", hours: float = CLASS_HOURS, now: float | None = None) -> tuple[str, str]:
        """A new class lasting `hours` (1 to 12): its join code and the lecturer's key (shown once; only its hash
        is kept)."""
        if not 1 <= hours <= MAX_CLASS_HOURS:
            raise ClassError(f"A class lasts 1 to {MAX_CLASS_HOURS} hours, not {hours:g}.")
        now = time.time() if now is None else now
        key = secrets.token_urlsafe(9)
        for _ in range(20):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                with self._write() as db:
                    row = {"code": code, "key_hash": _hash(key), "created": now, "expires": now + hours * 3600}
                    db.execute(classes.insert().values(**row, step=0, goal=_goal(goal)))
                return code, key
            except IntegrityError:
                continue  # that code is taken: draw another
        raise ClassError("No free class code was found; try again.")

    def _lecturer(self, db: Connection, code: str, key: str, *, open_only: bool = True) -> ClassInfo:
        info = self._info(db, code)
        stored = db.scalar(sa.select(classes.c.key_hash).filter_by(code=code)) or ""
        if not hmac.compare_digest(_hash(key or ""), stored):
            raise ClassError("Only the class's lecturer can do this (their key does not match).")
        if open_only and not info.open:
            raise ClassError(f"Class {code} has ended: its answers and board are frozen.")
        return info

    def resume(self, code: str, key: str) -> ClassInfo:
        """The lecturer's class again (another browser, or after closing it), given its code and key."""
        with self._write() as db:
            return self._lecturer(db, normalise_code(code), key.strip(), open_only=False)

    def set_step(self, code: str, key: str, step: int) -> None:
        with self._write() as db:
            self._lecturer(db, code, key)
            db.execute(classes.update().filter_by(code=code).values(step=int(step)))

    def set_goal(self, code: str, key: str, goal: str) -> None:
        with self._write() as db:
            self._lecturer(db, code, key)
            db.execute(classes.update().filter_by(code=code).values(goal=_goal(goal)))

    def reveal(self, code: str, key: str, question: str, *, now: float | None = None) -> None:
        try:
            with self._write() as db:
                self._lecturer(db, code, key)
                if not db.scalar(sa.select(reveals.c.question).filter_by(code=code, question=question)):
                    db.execute(reveals.insert().values(code=code, question=question, revealed=now or time.time()))
        except IntegrityError:  # the lecturer's other browser revealed it at the same moment: done
            return

    def put_quiz(self, code: str, key: str) -> int:
        """Put the next Filters quiz question to the class (it becomes the class's poll); its number."""
        with self._write() as db:
            self._lecturer(db, code, key)
            number = (db.scalar(sa.select(quizzes.c.number).filter_by(code=code)) or 0) + 1
            db.execute(quizzes.delete().filter_by(code=code))
            db.execute(quizzes.insert().values(code=code, number=number, active=True))
        return number

    def close_quiz(self, code: str, key: str) -> None:
        """Back to the tour's question: the Filters quiz question is no longer the class's poll."""
        with self._write() as db:
            self._lecturer(db, code, key)
            db.execute(quizzes.update().filter_by(code=code).values(active=False))

    def quiz(self, code: str) -> int:
        """The number of the Filters quiz question put to the class, 0 when its poll is the tour's question."""
        with self._write() as db:
            return db.scalar(sa.select(quizzes.c.number).filter_by(code=code, active=True)) or 0

    def end(self, code: str, key: str, *, now: float | None = None) -> None:
        """End the class: its answers and board are frozen from now on (and can still be downloaded)."""
        with self._write() as db:
            self._lecturer(db, code, key, open_only=False)
            db.execute(classes.update().filter_by(code=code, ended=None).values(ended=now or time.time()))

    def answers_csv(self, code: str, key: str) -> str:
        """Every answer and every shared run of the class, as CSV for the lecturer."""
        with self._write() as db:
            self._lecturer(db, code, key, open_only=False)
            rows = db.execute(
                sa.select(answers.c.question, answers.c.nickname, answers.c.answer, answers.c.correct)
                .filter_by(code=code)
                .order_by(answers.c.question, answers.c.answered)
            ).all()
            shared = self._board(db, code)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["kind", "question", "nickname", "answer", "correct", "design", "params", "accuracy", "s"])
        for question, nickname, answer, correct in rows:
            writer.writerow(["answer", question, nickname, answer, correct, "", "", "", ""])
        for run in shared:
            accuracy = "" if run.accuracy is None else f"{run.accuracy:.4f}"
            writer.writerow(["run", "", run.nickname, "", "", run.design, run.params, accuracy, f"{run.seconds:.1f}"])
        return out.getvalue()

    # ------------------------------------------------------------------ what everyone reads
    def _info(self, db: Connection, code: str) -> ClassInfo:
        row = db.execute(sa.select(classes).filter_by(code=code)).first()
        if row is None:
            raise NoSuchClass(f"There is no class {code}: check the code on the projector.")
        return ClassInfo(row.code, row.created, row.expires, row.ended, row.step, row.goal)

    def info(self, code: str) -> ClassInfo:
        with self._write() as db:
            return self._info(db, code)

    def tally(self, code: str, question: str) -> Tally:
        with self._write() as db:
            joined = db.scalar(sa.select(sa.func.count()).select_from(students).filter_by(code=code)) or 0
            given = db.execute(sa.select(answers.c.answer, answers.c.correct).filter_by(code=code, question=question))
            rows = given.all()
            shown = db.scalar(sa.select(reveals.c.question).filter_by(code=code, question=question))
        counts = dict(Counter(answer for answer, _ in rows).most_common())
        return Tally(joined, len(rows), sum(bool(c) for _, c in rows), counts, shown is not None)

    def pulse(self, code: str, question: str) -> tuple[int, int, bool]:
        """(the lecturer's step, the Filters quiz question put to the class or 0, whether `question` is revealed)
        in one query: what a student's page checks."""
        shown = sa.select(reveals.c.question).filter_by(code=code, question=question).exists()
        quiz = sa.select(quizzes.c.number).filter_by(code=code, active=True).scalar_subquery()
        with self._write() as db:
            row = db.execute(sa.select(classes.c.step, quiz, shown).filter_by(code=code)).first()
        if row is None:
            raise NoSuchClass(f"There is no class {code}: check the code on the projector.")
        return int(row[0]), int(row[1] or 0), bool(row[2])

    def board(self, code: str) -> list[SharedRun]:
        with self._write() as db:
            return self._board(db, code)

    def _board(self, db: Connection, code: str) -> list[SharedRun]:
        rows = db.execute(
            sa.select(board.c.nickname, board.c.design, board.c.params, board.c.accuracy, board.c.seconds)
            .filter_by(code=code)
            .order_by(board.c.accuracy.desc(), board.c.seconds)
        )
        return [SharedRun(*row) for row in rows]

    # ------------------------------------------------------------------ the students' side
    def join(self, code: str, token: str, nickname: str, *, client: str = "", now: float | None = None) -> Membership:
        """Join a class (leaving any other): ClassError for a wrong, ended or expired code or a bad nickname, and
        for a learner or `client` (their address) that gave too many wrong codes in the last GUESS_SECONDS."""
        code, name, student = normalise_code(code), check_nickname(nickname), student_id(token)
        now = time.time() if now is None else now
        guessers = {f"learner:{student}": WRONG_CODES["learner"]}
        if client:
            guessers[f"client:{_hash(client)[:32]}"] = WRONG_CODES["client"]
        counted = self._check_guesses(guessers, now)
        try:
            with self._change() as db:
                self._join(db, code, name, student, now)
        except NoSuchClass:
            self._count_wrong(guessers, now)
            raise
        if f"learner:{student}" in counted:  # a right code: this learner's wrong ones are forgiven
            with self._write() as db:
                db.execute(guesses.delete().filter_by(who=f"learner:{student}"))
        return Membership(code, name)

    def _join(self, db: Connection, code: str, name: str, student: str, now: float) -> None:
        info = self._info(db, code)
        if info.ended is not None:
            raise ClassError(f"Class {code} has ended; ask your lecturer for the code of today's class.")
        if now >= info.expires:
            raise ClassError(f"Class {code} has expired; ask your lecturer for the code of today's class.")
        db.execute(students.delete().filter_by(student=student))
        db.execute(students.insert().values(student=student, code=code, nickname=name, joined=now))

    def _check_guesses(self, guessers: Mapping[str, int], now: float) -> set[str]:
        """ClassError when one of the guessers used up their wrong codes in the current window; else those with
        wrong codes counted."""
        with self._write() as db:
            rows = db.execute(sa.select(guesses).filter(guesses.c.who.in_(list(guessers)))).all()
        for row in rows:
            left = row.since + GUESS_SECONDS - now
            if row.wrong >= guessers[row.who] and left > 0:
                raise ClassError(f"Too many wrong codes: try again in {math.ceil(left)} s.")
        return {row.who for row in rows}

    def _count_wrong(self, guessers: Mapping[str, int], now: float) -> None:
        """One more wrong code for each guesser (a window that ended starts again at one)."""
        try:
            with self._write() as db:
                for who in guessers:
                    stale = guesses.c.since <= now - GUESS_SECONDS
                    db.execute(guesses.delete().filter(guesses.c.who == who, stale))
                    counted = db.execute(guesses.update().filter_by(who=who).values(wrong=guesses.c.wrong + 1))
                    if not counted.rowcount:
                        db.execute(guesses.insert().values(who=who, since=now, wrong=1))
        except IntegrityError:  # another server process counted the same guesser's first wrong code at this moment
            return

    def leave(self, token: str) -> None:
        with self._write() as db:
            db.execute(students.delete().filter_by(student=student_id(token)))

    def membership(self, token: str) -> Membership | None:
        """The class this learner is in, or None (also once it has expired; an ended class still shows)."""
        with self._write() as db:
            row = db.execute(
                sa.select(students.c.code, students.c.nickname, classes.c.expires)
                .join(classes, classes.c.code == students.c.code)
                .filter(students.c.student == student_id(token))
            ).first()
        if row is None or time.time() >= row.expires:
            return None
        return Membership(row.code, row.nickname)

    def _member(self, db: Connection, token: str) -> tuple[str, str, ClassInfo]:
        row = db.execute(sa.select(students.c.code, students.c.nickname).filter_by(student=student_id(token))).first()
        if row is None:
            raise ClassError("You are not in a class: join one with its code first.")
        info = self._info(db, row.code)
        if not info.open:
            raise ClassError(f"Class {row.code} has ended: its answers and board are frozen.")
        return row.code, row.nickname, info

    def answer(self, token: str, question: str, answer: str, correct: bool, *, now: float | None = None) -> None:
        """Record (or change) this student's answer; ClassError once it is revealed or the class has ended."""
        with self._change() as db:
            code, nickname, _ = self._member(db, token)
            if db.scalar(sa.select(reveals.c.question).filter_by(code=code, question=question)):
                raise ClassError("The answer has been revealed: answers to this question are closed.")
            student = student_id(token)
            db.execute(answers.delete().filter_by(code=code, question=question, student=student))
            values = {"nickname": nickname, "answer": answer[:64], "correct": bool(correct)}
            stamp = now or time.time()
            db.execute(answers.insert().values(code=code, question=question, student=student, **values, answered=stamp))

    def my_answer(self, token: str, code: str, question: str) -> str | None:
        with self._write() as db:
            return db.scalar(
                sa.select(answers.c.answer).filter_by(code=code, question=question, student=student_id(token))
            )

    def share(self, token: str, run_id: str, run: SharedRun, *, now: float | None = None) -> None:
        """Put one of this student's finished runs on the class board (again: its row is replaced)."""
        with self._change() as db:
            code, nickname, _ = self._member(db, token)
            student = student_id(token)
            db.execute(board.delete().filter_by(code=code, student=student, run_id=run_id))
            db.execute(
                board.insert().values(
                    code=code,
                    student=student,
                    run_id=run_id,
                    nickname=nickname,
                    design=run.design[:200],
                    params=int(run.params),
                    accuracy=run.accuracy,
                    seconds=float(run.seconds),
                    shared=now or time.time(),
                )
            )

    # ------------------------------------------------------------------ upkeep
    def sweep(self, *, now: float | None = None) -> int:
        """Remove classes (with their students, answers and board) that expired or ended KEEP_SECONDS ago, and
        the counts of wrong join codes whose window ended."""
        now = time.time() if now is None else now
        cutoff = now - KEEP_SECONDS
        with self._write() as db:
            old = sa.select(classes.c.code).filter(sa.or_(classes.c.expires < cutoff, classes.c.ended < cutoff))
            codes = list(db.scalars(old))
            for table in (students, answers, reveals, board, quizzes, classes):
                db.execute(table.delete().filter(table.c.code.in_(codes)))
            db.execute(guesses.delete().filter(guesses.c.since <= now - GUESS_SECONDS))  # windows that ended
        return len(codes)


def _goal(text: str) -> str:
    goal = " ".join(str(text).split())
    if len(goal) > GOAL_MAX:
        raise ClassError(f"A goal has at most {GOAL_MAX} characters; this one has {len(goal)}.")
    return goal
