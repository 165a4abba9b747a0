"""components.framework.nodelay: Streamlit's own kind of listening socket, before and after send_without_delay."""

import socket
import sys

import pytest

from components.framework import nodelay

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd (Linux)")


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def _connect(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    return client, accepted


def test_every_tcp_socket_and_every_later_connection_sends_without_delay(monkeypatch):
    monkeypatch.setattr(nodelay, "_done", False)
    with socket.socket(family=socket.AF_INET) as listener:  # as Streamlit binds it: protocol number 0
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client, accepted = _connect(listener)
        with client, accepted:
            assert listener.proto == 0 and _nodelay(accepted) == 0  # what asyncio leaves as it is
            assert nodelay.send_without_delay() >= 3  # the listener and both ends of the connection
            assert _nodelay(accepted) == 1 and _nodelay(listener) == 1
            later_client, later = _connect(listener)
            with later_client, later:
                assert _nodelay(later) == 1  # copied from the listener by the kernel


def test_it_looks_once_per_process(monkeypatch):
    monkeypatch.setattr(nodelay, "_done", False)
    nodelay.send_without_delay()
    assert nodelay.send_without_delay() == 0
