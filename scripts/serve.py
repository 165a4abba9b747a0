"""The production stack behind `make serve`: N Streamlit replicas behind nginx, one command, one Ctrl-C.

    .venv/bin/python scripts/serve.py       # what `make serve` runs after the same setup as `make run`

One Streamlit process runs every session's script under one GIL, so it keeps one core busy. This starts one
replica per core on 127.0.0.1 (ports the OS picks), with production settings (no file watcher, no rerun on
save, headless), and nginx in front on the public port. nginx keeps each browser on its replica: it gives a
browser without one a `cnnlab_route` cookie (its request id) and hashes that cookie onto the replicas, so the
page, its websocket (`/_stcore/stream`), uploads and media all reach the process holding the session. When that
replica is down nginx passes the request to the next one. Every response names its replica in
`X-CNN-Lab-Replica`.

Settings (environment variables):
    CNN_LAB_REPLICAS   Streamlit processes (default: the cores this process may use)
    CNN_LAB_PORT       nginx's public port (default 8501)
    CNN_LAB_ADDRESS    nginx's address (default 0.0.0.0, every interface)
    CNN_LAB_DATA_DIR   saved runs and the training queue, shared by every replica (default ~/.cache/cnn-lab)
    CNN_LAB_RUN_DIR    nginx's config, pid, temp files and every process's log (default $CNN_LAB_DATA_DIR/serve)

The supervisor restarts a replica (or nginx) that dies, and stops everything on SIGINT or SIGTERM. Each child
runs in a process group of its own (a replica's training workers with it), which is stopped as a whole; Linux
also ends the children if the supervisor itself is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")  # Debian puts it in /usr/sbin, outside a normal user's PATH
START_TIMEOUT = 120.0  # seconds for every replica's first health answer (a loaded machine imports slowly)
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

NGINX_CONF = """\
# Written by scripts/serve.py at every start; edit the script, not this file.
worker_processes 1;
events {{ worker_connections 4096; }}

http {{
    access_log {run}/nginx-access.log;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    client_max_body_size 200m;  # Streamlit refuses uploads above its own server.maxUploadSize
    # Uploads stream to the replica and answers wait in memory: nginx writes no temp files, so workers that
    # run as another user (nginx started by root) need no access to the run folder.
    proxy_request_buffering off;
    proxy_max_temp_file_size 0;

    # The route: the browser's cnnlab_route cookie, or for a browser without one this request's id,
    # which the response then sets as the cookie. nginx Plus's `sticky cookie`, with stock nginx.
    map $cookie_cnnlab_route $route_key {{
        "" $request_id;
        default $cookie_cnnlab_route;
    }}
    map $cookie_cnnlab_route $route_cookie {{
        "" "cnnlab_route=$request_id; Path=/; HttpOnly; SameSite=Lax";
        default "";  # an empty header is not sent
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" close;
    }}

    upstream cnnlab_replicas {{
        hash $route_key consistent;
{servers}
    }}

    server {{
        listen {listen};
        location / {{
            proxy_pass http://cnnlab_replicas;
            proxy_http_version 1.1;  # the websocket /_stcore/stream
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;  # Streamlit compares the websocket's Origin with Host (and port)
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1d;  # a session's websocket stays open for the whole lesson
            proxy_send_timeout 1d;
            proxy_connect_timeout 3s;
            proxy_next_upstream error timeout;  # a replica that is down: the next one answers
            add_header Set-Cookie $route_cookie always;
            add_header X-CNN-Lab-Replica $upstream_addr always;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Settings:
    replicas: int
    port: int
    address: str
    data_dir: Path
    run_dir: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        data_dir = Path(environ.get("CNN_LAB_DATA_DIR") or Path.home() / ".cache" / "cnn-lab").expanduser()
        return cls(
            replicas=_whole_number(environ, "CNN_LAB_REPLICAS", len(os.sched_getaffinity(0))),
            port=_whole_number(environ, "CNN_LAB_PORT", 8501),
            address=environ.get("CNN_LAB_ADDRESS") or "0.0.0.0",
            data_dir=data_dir.resolve(),
            run_dir=Path(environ.get("CNN_LAB_RUN_DIR") or data_dir / "serve").expanduser().resolve(),
        )


def _whole_number(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number from 1, not {value!r}")
    return int(value)


@dataclass
class Child:
    """A process the supervisor keeps running: its command, its log and when to start it again."""

    name: str
    command: list[str]
    log: Path
    health_url: str
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_deaths: int = 0  # deaths within a minute of starting, in a row: the restart waits longer each time
    restart_at: float = 0.0  # when a dead child is started again (0: it is not waiting)
    warm_url: str = ""  # a replica's: its first script run there starts loading TensorFlow (CNN_LAB_WARM)
    warmed: bool = False

    def start(self, env: dict[str, str]) -> None:
        self.warmed = False
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C reaches the supervisor only
                preexec_fn=_end_with_parent,
            )
        self.started = time.monotonic()

    def warm_when_healthy(self) -> None:
        """Once per start of a replica that answers: run the app's script once, in the background (nobody waits)."""
        if not self.warm_url or self.warmed or self.process is None or self.process.poll() is not None:
            return
        if self.healthy():
            self.warmed = True
            threading.Thread(target=_get, args=(self.warm_url,), daemon=True).start()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop_group(self, sig: int) -> None:
        """Signal the child's whole process group (a replica's training workers too)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=300):
            pass
    except OSError:
        pass  # a replica that died meanwhile is restarted and warmed again


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies, however it dies."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def find_nginx() -> str | None:
    for candidate in NGINX_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now, all different (each socket stays bound until every port is chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def nginx_config(settings: Settings, replica_ports: list[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in replica_ports)
    host = f"[{settings.address}]" if ":" in settings.address else settings.address
    return NGINX_CONF.format(run=settings.run_dir, servers=servers, listen=f"{host}:{settings.port}")


def local_url(settings: Settings) -> str:
    """Where this machine reaches nginx (an address bound to every interface is reached on 127.0.0.1)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(settings.address, settings.address)
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{settings.port}"


class Stack:
    """The replicas and nginx, started, watched and stopped together."""

    def __init__(self, settings: Settings, nginx: str) -> None:
        self.settings = settings
        run = settings.run_dir
        ports = free_ports(settings.replicas)  # a restarted replica comes back on its port
        self.replicas = [
            Child(
                f"replica {index + 1}",
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    "app.py",
                    "--server.address=127.0.0.1",
                    f"--server.port={port}",
                    "--server.headless=true",
                    "--server.fileWatcherType=none",
                    "--server.runOnSave=false",
                    "--server.scriptHealthCheckEnabled=true",
                ],
                run / f"replica-{index + 1}.log",
                f"http://127.0.0.1:{port}/_stcore/health",
                warm_url=f"http://127.0.0.1:{port}/_stcore/script-health-check",
            )
            for index, port in enumerate(ports)
        ]
        self.nginx = Child(
            "nginx",
            [
                nginx,
                "-p",
                str(run),
                "-c",
                str(run / "nginx.conf"),
                "-g",
                f"daemon off; pid {run}/nginx.pid; error_log {run}/nginx-error.log;",
            ],
            run / "nginx-error.log",
            f"{local_url(settings)}/_stcore/health",
        )
        run.mkdir(parents=True, exist_ok=True)
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (run / "tmp" / temp).mkdir(parents=True, exist_ok=True)
        (run / "nginx.conf").write_text(nginx_config(settings, ports))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(
            os.environ,
            CNN_LAB_DATA_DIR=str(settings.data_dir),
            STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
            # glibc's malloc keeps up to 8 arenas per core, one per busy script thread: 2 hold a replica's peak
            # 35-50 MB lower in the 100-learner storm (benchmarks/RESULTS.md, "replica memory")
            MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX") or "2",
            # each replica loads TensorFlow right after it starts, not while the first learners wait on Inspect
            CNN_LAB_WARM=os.environ.get("CNN_LAB_WARM") or "1",
            # one secret for all replicas: a cookie Streamlit signs in one is valid in the others
            STREAMLIT_SERVER_COOKIE_SECRET=os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32),
        )

    @property
    def children(self) -> list[Child]:
        return [*self.replicas, self.nginx]

    def start(self, stopping: threading.Event) -> bool:
        """Start the replicas, then nginx once they answer; False if one dies, time runs out or we are stopped."""
        deadline = time.monotonic() + START_TIMEOUT
        # nginx after the replicas: requests it passed to a replica still starting would mark it down for a while
        return self._start_and_wait(self.replicas, deadline, stopping) and self._start_and_wait(
            [self.nginx], deadline, stopping
        )

    def _start_and_wait(self, children: list[Child], deadline: float, stopping: threading.Event) -> bool:
        for child in children:
            child.start(self.env)
        waiting = list(children)
        while waiting and not stopping.is_set():
            for child in list(waiting):
                if child.process is not None and child.process.poll() is not None:
                    say(f"{child.name} exited with code {child.process.returncode} while starting; {child.log} ends:")
                    print(*child.log.read_text(errors="replace").splitlines()[-3:], sep="\n", flush=True)
                    return False
                if child.healthy():
                    waiting.remove(child)
            if waiting and time.monotonic() > deadline:
                say(f"{', '.join(c.name for c in waiting)} did not answer within {START_TIMEOUT:.0f} s")
                return False
            stopping.wait(0.2)
        return not stopping.is_set()

    def watch(self, stopping: threading.Event) -> None:
        """Restart any child that dies, until SIGINT or SIGTERM."""
        while not stopping.wait(0.5):
            now = time.monotonic()
            for replica in self.replicas:
                replica.warm_when_healthy()
            for child in self.children:
                process = child.process
                if process is None or process.poll() is None:
                    continue
                if child.restart_at == 0.0:
                    child.stop_group(signal.SIGKILL)  # what it leaves behind (training workers) has lost its server
                    child.quick_deaths = child.quick_deaths + 1 if now - child.started < 60 else 0
                    child.restart_at = now + min(30.0, 2.0**child.quick_deaths - 1)
                    say(f"{child.name} (pid {process.pid}) exited with code {process.returncode}; restarting")
                if now >= child.restart_at:
                    child.restart_at = 0.0
                    child.start(self.env)
                    say(f"{child.name} restarted as pid {child.process.pid if child.process else '?'}")

    def stop(self) -> None:
        """SIGTERM to every process group, SIGKILL to what is left after STOP_TIMEOUT seconds."""
        for child in self.children:
            child.stop_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            child.stop_group(signal.SIGKILL)  # the group's stragglers, and the child itself if it did not end
            child.process.wait()

    def describe(self) -> str:
        replicas = ", ".join(
            f"pid {r.process.pid if r.process else '?'} on {r.health_url.split('/')[2]}" for r in self.replicas
        )
        nginx_pid = self.nginx.process.pid if self.nginx.process else "?"
        return (
            f"CNN Lab is serving on {local_url(self.settings)} (nginx pid {nginx_pid} on "
            f"{self.settings.address}:{self.settings.port}; {len(self.replicas)} replicas: {replicas}; "
            f"logs in {self.settings.run_dir}). Ctrl-C stops it."
        )


def say(message: str) -> None:
    print(f"serve: {message}", flush=True)


def main() -> int:
    nginx = find_nginx()
    if nginx is None:
        say("nginx is not installed; run this once, then `make serve` again:\n\n    sudo apt-get install nginx\n")
        return 1
    try:
        settings = Settings.from_environment()
    except ValueError as error:
        say(f"bad setting: {error}")
        return 2
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stack = Stack(settings, nginx)
    try:
        if not stack.start(stopping):
            return 0 if stopping.is_set() else 1
        say(stack.describe())
        stack.watch(stopping)
        say("stopping")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
