"""Smoke test of benchmarks/class_train.py (issue 24's class-Train benchmark) against a served app.

Three learners, each with its own seed, on the smallest recipe a link allows (the dense baseline, 5,000 images,
1 epoch), press Train within 2 s on a server started as `make run` starts it with a throwaway data folder, and
watch their live fragment to the end: every learner gets its run, the queue trains one job at a time in the fair
order, no exception element anywhere (about 60 s).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks import class_train


@pytest.mark.timeout(240)
def test_three_learners_press_train_and_each_gets_its_run(capsys):
    args = class_train.parse_args(["--seeds", "--learners", "3", "--spread", "2", "--deadline", "200"])
    with ThreadPoolExecutor(max_workers=1) as pool:  # asyncio.run in a thread: Playwright may hold this one's loop
        ok, figures = pool.submit(class_train.run, args).result()
    output = capsys.readouterr().out
    assert ok and figures["errors"] == [], output
    assert sorted(figures["waits"]) == [0, 1, 2], output
    assert [entry["learners"] for entry in figures["order"]] == [[0], [1], [2]], output
    for learner in figures["learners"]:
        assert learner["runs"] == ["Run 1: dense baseline, 1 epoch"], learner
        assert learner["headline"].startswith("Test accuracy **"), learner
    assert figures["ticks"], output  # the learners watched the live fragment
