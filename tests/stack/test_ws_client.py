"""Smoke test of benchmarks/ws_client.py (the browser-free benchmark client) against the served app.

One Home visit and one kernel change on Filters over Streamlit's websocket protocol: the replies must carry
the page title and the chosen kernel, and no exception element, so the benchmark client cannot silently rot;
and a small arrival storm of benchmarks/load_ws.py on a server started as `make run` starts it.
"""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks import load_ws
from benchmarks.ws_client import Session
from models.ops.kernels import KERNELS
from tests.support.browser import streamlit_server

KERNEL = "Sobel: horizontal edges"


def run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps an event loop in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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

    session, home, changed = run_async(learner())
    assert home.status == "FINISHED_SUCCESSFULLY" and not home.exceptions, home.exceptions
    assert "CNN Lab" in home.texts and home.deltas > 0
    assert changed.status == "FINISHED_SUCCESSFULLY" and not changed.exceptions, changed.exceptions
    assert changed.page == "filters" and changed.bytes > 0
    assert KERNELS[KERNEL].explanation in changed.text()
    assert session.widget("filters_library").value == KERNEL
    assert "kernel=Sobel%3A+horizontal+edges" in session.query_string


@pytest.mark.timeout(240)
def test_a_class_arriving_at_once_on_a_fresh_server_gets_whole_pages():
    """Twelve first visits straight to /filters on a cold server, all at once. The first run of each may start
    without app.py (Streamlit's old-style navigation until st.navigation has run once); every learner must still
    get the page through app.py, and nobody an exception (such runs once read a half-imported pandas)."""

    async def learner(url):
        async with Session(url, timeout=180) as session:
            return await session.visit("filters")

    async def class_of(url, size):
        return await asyncio.gather(*(learner(url) for _ in range(size)))

    with streamlit_server() as server:
        replies = run_async(class_of(server.url, 12))
    assert [r.exceptions for r in replies] == [[] for _ in replies]
    assert [r.status for r in replies] == ["FINISHED_SUCCESSFULLY"] * len(replies)
    # app.py's sidebar toggle is among each page's widgets: the page ran through app.py
    assert all(any(w.label == "Presentation mode" for w in r.widgets) for r in replies), [
        sorted(w.label for w in r.widgets) for r in replies
    ]


@pytest.mark.timeout(120)
def test_an_arrival_storm_served_as_make_run_ends_without_errors_or_leaks(capsys):
    """benchmarks/load_ws.py --storm with 4 learners and 1 round, on a server started as `make run` starts it:
    each learner (with its own cookies) opens Home, then Filters, Pooling, Architecture and Inspect by links
    with its own settings; every reply shows that learner's settings, and the report names the load and memory."""
    args = load_ws.parse_args(["--storm", "--learners", "4", "--rounds", "1", "--spread", "1", "--pause", "0.2-0.6"])
    args.timeout = 90.0
    with ThreadPoolExecutor(max_workers=1) as pool:
        clean = pool.submit(load_ws.run, args).result()
    printed = capsys.readouterr().out
    assert "errors: 0; leaks: 0" in printed, printed
    assert clean
    assert re.search(r"^overall +20 ", printed, re.M), printed  # 4 learners x (Home + 4 links), none lost
    assert re.search(r"^page Inspect +4 ", printed, re.M), printed
    assert "served as `make run`" in printed and "load average (1 / 5 / 15 min)" in printed
    assert re.search(r"^   pid \d+ +\d+ / +\d+ / +\d+ ", printed, re.M), printed  # the server's memory


def test_each_learner_keeps_the_cookies_of_its_first_page_load():
    """Behind a sticky proxy the route cookie comes with the page: the health check and the websocket must carry it
    (a stub server here; benchmarks/RESULTS.md has the check through nginx with two replicas)."""
    seen: list[tuple[str, str]] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get("Cookie", "")))
            self.send_response(200)
            if self.path == "/filters":
                self.send_header("Set-Cookie", f"cnnlab_route=learner{len(seen)}; Path=/; HttpOnly; SameSite=Lax")
            if self.path == "/_stcore/health":
                self.send_header("Set-Cookie", "_streamlit_xsrf=2|ab|cd|1; Path=/; SameSite=Lax")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Proxy) as stub:
        thread = threading.Thread(target=stub.serve_forever, daemon=True)
        thread.start()
        try:
            sessions = [Session(f"http://127.0.0.1:{stub.server_address[1]}") for _ in range(2)]
            tokens = [session._xsrf_cookie("filters") for session in sessions]
        finally:
            stub.shutdown()
    assert tokens == ["2|ab|cd|1", "2|ab|cd|1"]
    assert seen == [
        ("/filters", ""),
        ("/_stcore/health", "cnnlab_route=learner1"),
        ("/filters", ""),
        ("/_stcore/health", "cnnlab_route=learner3"),
    ]
    assert [sorted(s.cookie_header().split("; ")) for s in sessions] == [
        ["_streamlit_xsrf=2|ab|cd|1", "cnnlab_route=learner1"],
        ["_streamlit_xsrf=2|ab|cd|1", "cnnlab_route=learner3"],
    ]
