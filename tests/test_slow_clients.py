"""Slow and oversized clients against both real servers (issue 8, items 4 and 8).

A client has ``client_timeout`` to send its head, and again to send its body: a slower one is
dropped (an unfinished head: closed without an answer; an unfinished body: 408), and while
more such clients than gunicorn has threads hold connections, ``/healthz`` keeps answering.
A body over the limit is refused with a 413 the client reads, never a reset, and without a
``100 Continue`` first (RFC 9110 §10.1.1, RFC 9112 §9.6).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from parity_tests.servers import RunningServer, running_server

CLIENT_TIMEOUT = 2.0
MARGIN = 3.0  # a loaded 2-core machine: the servers check deadlines about once a second
HEALTHZ_BOUND = 1.5  # seconds for one /healthz while the slow clients hold their connections
SLOW_CLIENTS = 40  # more than gunicorn's 32 threads
LIMIT = 4096


@pytest.fixture(scope="module", params=["flask", "quart"])
def server(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[RunningServer]:
    overrides = {**settings, "client_timeout": CLIENT_TIMEOUT, "publish_max_bytes": LIMIT}
    with running_server(request.param, overrides) as running:
        yield running


def _connect(server: RunningServer, stack: ExitStack) -> socket.socket:
    sock = stack.enter_context(socket.create_connection((server.host, server.port), timeout=10))
    return sock


def _healthz_seconds(server: RunningServer) -> float:
    start = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answer = _read_all(sock, time.monotonic() + 10)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return time.monotonic() - start


def _read_all(sock: socket.socket, deadline: float) -> bytes:
    """Everything until the server closes (or resets); raises if it does not by ``deadline``."""
    received = b""
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


def _assert_dropped(socks: list[socket.socket], deadline: float, answer: bytes) -> None:
    for sock in socks:
        received = _read_all(sock, deadline)  # socket.timeout here: the server kept it open
        assert received.startswith(answer), received[:200]


def _trickle(server: RunningServer, head: bytes, byte: bytes, healthz_bound: float, stack: ExitStack) -> tuple[float, list[socket.socket]]:
    """SLOW_CLIENTS connections send ``head``, then ``byte`` every 0.2 s (so that a per-read
    timeout never fires), while /healthz is asked again and again and must answer within
    ``healthz_bound``; for most of ``client_timeout``. Returns when they started, and them."""
    started = time.monotonic()
    socks = [_connect(server, stack) for _ in range(SLOW_CLIENTS)]
    for sock in socks:
        sock.sendall(head)
    while time.monotonic() - started < CLIENT_TIMEOUT - 0.5:
        assert _healthz_seconds(server) < healthz_bound
        for sock in socks:
            sock.sendall(byte)
        time.sleep(0.2)
    return started, socks


def test_slow_heads_hold_no_thread_and_are_dropped(server: RunningServer) -> None:
    with ExitStack() as stack:
        started, slow = _trickle(server, b"GET /healthz HTTP/1.1\r\nHost: t\r\n", b"X", HEALTHZ_BOUND, stack)
        _assert_dropped(slow, started + CLIENT_TIMEOUT + MARGIN, b"")


def test_stalled_bodies_get_408_within_the_deadline(server: RunningServer) -> None:
    head = b"POST /events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    with ExitStack() as stack:
        # A body on its way holds a gunicorn thread (up to its deadline); a head does not.
        started, stalled = _trickle(server, head, b" ", CLIENT_TIMEOUT + MARGIN, stack)
        # Answered when the body deadline passes, closed after the lingering close.
        _assert_dropped(stalled, started + 2 * CLIENT_TIMEOUT + MARGIN, b"HTTP/1.1 408")
