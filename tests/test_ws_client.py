"""Smoke test of benchmarks/ws_client.py (the browser-free benchmark client) against the served app.

One Home visit and one kernel change on Filters over Streamlit's websocket protocol: the replies must carry
the page title and the chosen kernel, and no exception element, so the benchmark client cannot silently rot.
"""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.ws_client import Session
from components.filters import KERNELS
from tests.browser import streamlit_server

KERNEL = "Sobel: horizontal edges"


@pytest.fixture(scope="module")
def server_url():
    with streamlit_server() as server:
        yield server.url


@pytest.mark.timeout(120)
def test_home_visit_and_filters_kernel_change(server_url):
    async def learner():
        async with Session(server_url, timeout=90) as session:
            home = await session.visit("")
            await session.visit("filters")
            changed = await session.set("filters_library", KERNEL)
            return session, home, changed

    session, home, changed = asyncio.run(learner())
    assert home.status == "FINISHED_SUCCESSFULLY" and not home.exceptions, home.exceptions
    assert "CNN Lab" in home.texts and home.deltas > 0
    assert changed.status == "FINISHED_SUCCESSFULLY" and not changed.exceptions, changed.exceptions
    assert changed.page == "filters" and changed.bytes > 0
    assert KERNELS[KERNEL].explanation in changed.text()
    assert session.widget("filters_library").value == KERNEL
    assert "kernel=Sobel%3A+horizontal+edges" in session.query_string
