"""The production stack (scripts/serve.py, `make serve`): two Streamlit replicas behind a real nginx.

One stack for the module, on free ports with a throwaway data folder: health through nginx, the route cookie
and stickiness, a websocket session through nginx on the replica that served the page, a replica killed and
restarted while the site keeps answering, and a stop that leaves no process behind; then a one-replica stack
whose supervisor is killed outright. Every wait polls for its event with a deadline. Without nginx the tests
are skipped locally and fail in CI.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.ws_client import Session
from tests.stack.test_ws_client import run_async
from tests.support.browser import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "serve.py"
ROUTE = "cnnlab_route"
REPLICA_HEADER = "X-CNN-Lab-Replica"

_spec = importlib.util.spec_from_file_location("serve", SCRIPT)
assert _spec is not None and _spec.loader is not None
serve = importlib.util.module_from_spec(_spec)
sys.modules["serve"] = serve  # its dataclasses look their module up there
_spec.loader.exec_module(serve)

pytestmark = pytest.mark.timeout(300)


def wait_for(check: Callable[[], object], timeout: float, what: str, poll: float = 0.1):
    """Poll `check` until it returns something true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    set_cookie: list[str]
    body: bytes


def get(url: str, cookies: dict[str, str] | None = None) -> Reply:
    request = urllib.request.Request(url)
    if cookies:
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        set_cookie = response.headers.get_all("Set-Cookie") or []
        jar = SimpleCookie()
        for header in set_cookie:
            jar.load(header)
        return Reply(
            response.status,
            dict(response.headers.items()),
            {name: morsel.value for name, morsel in jar.items()},
            set_cookie,
            response.read(),
        )


def noise_png(size: int = 600) -> bytes:
    """A picture of noise, about 1 MB as PNG: more than nginx keeps in memory for a request body."""
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def answers(url: str) -> bool:
    try:
        return get(url).status == 200
    except OSError:  # nothing listening (yet)
        return False


@dataclass
class Stack:
    """The supervisor process, its public URL and what it has printed so far."""

    process: subprocess.Popen
    url: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        def found():
            if self.process.poll() is not None and not any(re.search(pattern, line) for line in self.lines):
                pytest.fail(f"the stack exited ({self.process.returncode}): {self.lines}")
            return next((m for line in self.lines if (m := re.search(pattern, line))), None)

        return wait_for(found, timeout, f"{pattern!r} in the supervisor's output {self.lines}")

    def replicas(self) -> dict[str, int]:
        """Each replica's address (as in X-CNN-Lab-Replica) -> its pid now, read from the process tree."""
        found = {}
        for pid in descendants(self.process.pid):
            args = cmdline(pid)
            if "streamlit" in args:
                port = next(a.split("=", 1)[1] for a in args if a.startswith("--server.port="))
                found[f"127.0.0.1:{port}"] = pid
        return found


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def tensorflow_loaded(pid: int) -> bool:
    """TensorFlow's native library is mapped into the process."""
    try:
        return "_pywrap_tensorflow_internal" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def require_nginx() -> None:
    if serve.find_nginx() is None:
        message = "nginx is not installed (sudo apt-get install nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def running_stack(data_dir: Path, replicas: int) -> Iterator[Stack]:
    """scripts/serve.py on a free port with `replicas` replicas, until it has said it serves."""
    port = free_port()
    env = dict(
        os.environ,
        CNN_LAB_REPLICAS=str(replicas),
        CNN_LAB_PORT=str(port),
        CNN_LAB_ADDRESS="127.0.0.1",
        CNN_LAB_DATA_DIR=str(data_dir),
        CNN_LAB_RUN_DIR=str(data_dir / "serve"),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    running = Stack(process, f"http://127.0.0.1:{port}", data_dir)
    threading.Thread(target=running.read_output, daemon=True).start()
    try:
        running.wait_for_line(r"serving on", timeout=180)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    require_nginx()
    with running_stack(tmp_path_factory.mktemp("stack-data"), replicas=2) as running:
        yield running


def test_health_through_nginx_from_production_replicas(stack):
    replicas = stack.replicas()
    assert len(replicas) == 2, replicas
    reply = get(f"{stack.url}/_stcore/health")
    assert (reply.status, reply.body) == (200, b"ok")
    assert reply.headers["Server"].startswith("nginx")
    assert reply.headers[REPLICA_HEADER] in replicas
    for pid in replicas.values():
        args = cmdline(pid)
        for setting in (
            "--server.address=127.0.0.1",
            "--server.headless=true",
            "--server.fileWatcherType=none",
            "--server.runOnSave=false",
            "--server.scriptHealthCheckEnabled=true",
        ):
            assert setting in args, (setting, args)
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"CNN_LAB_DATA_DIR={stack.data_dir}".encode() in environ  # every replica: the same data folder


def test_every_replica_loads_tensorflow_before_a_learner_asks(stack):
    """No learner has opened a TensorFlow page (this module visits Home and Filters only): each replica warmed
    itself, so a class storming Inspect does not wait on the import (CNN_LAB_WARM)."""
    for pid in stack.replicas().values():
        assert b"CNN_LAB_WARM=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        wait_for(lambda pid=pid: tensorflow_loaded(pid), 300, f"replica pid {pid} to load TensorFlow", 0.5)


def test_a_route_cookie_keeps_a_browser_on_its_replica_and_browsers_spread(stack):
    first = get(f"{stack.url}/_stcore/health")
    route = first.cookies[ROUTE]
    header = next(h for h in first.set_cookie if h.startswith(f"{ROUTE}="))
    assert "HttpOnly" in header and "Path=/" in header and "SameSite=Lax" in header
    replies = [get(f"{stack.url}/_stcore/health", {ROUTE: route}) for _ in range(10)]
    assert {r.headers[REPLICA_HEADER] for r in replies} == {first.headers[REPLICA_HEADER]}
    assert not any(ROUTE in r.cookies for r in replies)  # the cookie is set once, not on every answer
    spread = {get(f"{stack.url}/_stcore/health", {ROUTE: f"browser-{i}"}).headers[REPLICA_HEADER] for i in range(20)}
    assert spread == set(stack.replicas()), spread


def test_the_page_and_its_websocket_session_land_on_one_replica(stack):
    page = get(f"{stack.url}/")  # the first HTML answer sets the route
    assert page.status == 200 and b"<html" in page.body.lower()
    route, replica = page.cookies[ROUTE], page.headers[REPLICA_HEADER]

    async def learner():
        async with Session(stack.url, timeout=120, cookies={ROUTE: route}) as session:
            assert session.ws is not None
            home = await session.visit("")
            # an upload (PUT /_stcore/upload_file/<session>/<file>, 1 MB) reaches the session's replica
            await session.visit("filters")
            await session.set("filters_source", "Upload")
            uploaded = await session.upload("filters_upload", "noise.png", noise_png(), "image/png")
            return session.ws.response.headers[REPLICA_HEADER], home, uploaded

    websocket_replica, home, uploaded = run_async(learner())
    assert websocket_replica == replica
    assert home.status == "FINISHED_SUCCESSFULLY" and not home.exceptions, home.exceptions
    assert "CNN Lab" in home.texts
    assert uploaded.status == "FINISHED_SUCCESSFULLY" and not uploaded.exceptions, uploaded.exceptions
    # the replica that took the upload is the one whose session read it: the page works on the 600 x 600 picture
    assert any("600 x 600" in text for text in uploaded.texts), uploaded.texts


def test_a_killed_replica_is_restarted_and_the_site_keeps_answering(stack):
    route = get(f"{stack.url}/_stcore/health").cookies[ROUTE]
    victim = get(f"{stack.url}/_stcore/health", {ROUTE: route}).headers[REPLICA_HEADER]
    old_pid = stack.replicas()[victim]
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: not alive(old_pid), 10, f"replica pid {old_pid} to end")

    # its learners are answered by the other replica meanwhile
    reply = get(f"{stack.url}/_stcore/health", {ROUTE: route})
    assert (reply.status, reply.body) == (200, b"ok")

    stack.wait_for_line(rf"pid {old_pid}\) exited with code -9; restarting", timeout=30)
    new_pid = wait_for(lambda: (pid := stack.replicas().get(victim)) != old_pid and pid, 60, "the new replica")
    wait_for(lambda: answers(f"http://{victim}/_stcore/health"), 120, f"{victim} to answer again", 0.5)
    # once nginx tries it again (fail_timeout), the learner is back on the replica the route hashes to
    wait_for(
        lambda: get(f"{stack.url}/_stcore/health", {ROUTE: route}).headers[REPLICA_HEADER] == victim,
        30,
        "nginx to route to the restarted replica",
        0.5,
    )
    assert alive(new_pid) and stack.process.poll() is None
    wait_for(lambda: tensorflow_loaded(new_pid), 300, "the restarted replica to load TensorFlow", 0.5)


def test_stopping_the_supervisor_leaves_no_process(stack):
    processes = descendants(stack.process.pid)
    assert len(processes) >= 4, processes  # 2 replicas, nginx's master and its worker
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(60) == 0
    wait_for(lambda: not any(alive(pid) for pid in processes), 10, f"{sorted(processes)} to end")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{stack.url}/_stcore/health", timeout=5)


def test_a_killed_supervisor_takes_its_children_with_it(tmp_path):
    """SIGKILL leaves the supervisor no time to stop anything: Linux signals the children (PR_SET_PDEATHSIG)."""
    require_nginx()
    with running_stack(tmp_path, replicas=1) as lone:
        processes = descendants(lone.process.pid)
        assert len(processes) >= 3, processes  # a replica, nginx's master and its worker
        lone.process.kill()
        lone.process.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in processes), 20, f"{sorted(processes)} to end")
