"""The fair queue as a plan: which job trains next, and when each waiting job starts and ends (plain Python).

The next free slot goes to the learner who has waited longest without a job: a learner waits since they asked
or since their last job ended, whichever is later, and a learner with a job training waits for it first. A job
several learners asked for (identical settings, trained once) goes at the place of the one who waited longest.
The same simulation gives the queue's order (`plan(...)[0]` is the job to start now when it starts at 0) and
every waiting job's estimated start and end, from the measured speed of the server's jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_REMAINING = 1.0  # seconds: an estimate that says a training job is over is a bit early


@dataclass(frozen=True)
class Waiting:
    """A queued job: its id, when it was made, its estimated seconds, and (learner, asked at) for each learner."""

    job: int
    created: float
    seconds: float
    learners: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Training:
    """A job training now: its learners and its estimated seconds left."""

    job: int
    learners: tuple[str, ...]
    remaining: float


@dataclass(frozen=True)
class Planned:
    """When a waiting job is expected to start and end, in seconds from now, and its place in line (1 = next)."""

    job: int
    place: int
    start: float
    end: float


def plan(
    waiting: list[Waiting], training: list[Training], last_end: dict[str, float], *, slots: int, now: float
) -> list[Planned]:
    """Every waiting job in the order it will start, with its start and end (seconds from `now`)."""
    ends = [(max(MIN_REMAINING, t.remaining), t.learners) for t in training]  # a training job is never done yet
    last = dict(last_end)
    pending = list(waiting)
    planned: list[Planned] = []
    clock = 0.0
    while pending:
        ends.sort(key=lambda end: end[0])
        while len(ends) >= slots:  # wait for a slot
            clock = max(clock, _finish(ends.pop(0), last, now))
        busy = {learner for _, learners in ends for learner in learners}
        choice = _first(pending, busy, last)
        if choice is None:  # everyone waiting has a job training: the next one to end frees its learner
            clock = max(clock, _finish(ends.pop(0), last, now))
            continue
        pending.remove(choice)
        planned.append(Planned(choice.job, len(planned) + 1, clock, clock + choice.seconds))
        ends.append((clock + choice.seconds, tuple(learner for learner, _ in choice.learners)))
    return planned


def _finish(end: tuple[float, tuple[str, ...]], last: dict[str, float], now: float) -> float:
    when, learners = end
    for learner in learners:
        last[learner] = max(last.get(learner, 0.0), now + when)
    return when


def _first(pending: list[Waiting], busy: set[str], last: dict[str, float]) -> Waiting | None:
    """The job whose free learner has waited longest (ties: the older job)."""
    best, best_key = None, None
    for job in pending:
        since = [max(asked, last.get(learner, 0.0)) for learner, asked in job.learners if learner not in busy]
        if not since:
            continue
        key = (min(since), job.created, job.job)
        if best_key is None or key < best_key:
            best, best_key = job, key
    return best
