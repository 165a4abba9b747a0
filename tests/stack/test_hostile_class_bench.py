"""Smoke test of benchmarks/hostile_class.py (issue 25's hostile class) against a served app.

Its core with 3 storm learners (one round of links) and 2 attacks (the 1,000,000-unit Dense upload and a
hand-edited Filters link holding Markdown and HTML): both refused with their message within 30 s, no exception
element, the learners without errors or leaks, the server healthy afterwards (about 30 s).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks import hostile_class
from tests.support.browser import streamlit_server


@pytest.mark.timeout(120)
def test_three_learners_and_two_attacks_refused_with_their_messages():
    args = hostile_class.parse_args(["--learners", "3", "--rounds", "1", "--attacks", "dense,link-filters"])
    args.warm, args.spread = 0, 1.0
    with streamlit_server(timeout=90) as served, ThreadPoolExecutor(max_workers=1) as pool:
        # asyncio.run in a thread: Playwright tests in this process hold the main thread's loop
        stats, attacks, _ = pool.submit(
            asyncio.run, hostile_class.hostile_class(served.url, args, args.attacks)
        ).result()
        assert hostile_class.healthy(served.url) and served.process.poll() is None
    assert stats.errors == [] and stats.leaks == []
    assert sum(len(values) for values in stats.latencies.values()) == 3 * 5  # Home, then 4 links each
    assert [a.name for a in attacks] == ["dense", "link-filters"]
    for attack in attacks:
        assert attack.refused and not attack.exceptions and not attack.problem, attack
        assert attack.seconds <= hostile_class.MESSAGE_TARGET, attack
    assert "refused before loading" in attacks[0].message
    assert "was ignored" in attacks[1].message and "\\<script\\>" in attacks[1].message
