"""Slow and oversized clients against both real servers (issue 8, items 4 and 8).

A client has ``client_timeout`` to send its head, and again to send its body: a slower one is
dropped (an unfinished head: closed without an answer; an unfinished body: 408), and while
more such clients than gunicorn has threads hold connections, ``/healthz`` keeps answering.
A body over the limit is refused with a 413 the client reads, never a reset, and without a
``100 Continue`` first (RFC 9110 §10.1.1, RFC 9112 §9.6).
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from parity_tests.nginx import running_nginx, shipped_server
from parity_tests.servers import SERVINGS, RunningServer, Serving, require_program, running_server

CLIENT_TIMEOUT = 2.0
MARGIN = 3.0  # a loaded 2-core machine: the servers check deadlines about once a second
HEALTHZ_BOUND = 1.5  # seconds for one /healthz while the slow clients hold their connections
SLOW_CLIENTS = 40  # more than gunicorn's 32 threads
LIMIT = 4096


@pytest.fixture(scope="module", params=SERVINGS, ids=[each.id for each in SERVINGS])
def server(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[RunningServer]:
    serving: Serving = request.param
    overrides = {**settings, "client_timeout": CLIENT_TIMEOUT, "publish_max_bytes": LIMIT}
    with running_server(serving.runtime, overrides, serving) as running:
        yield running


def _connect(server: RunningServer | tuple[str, int], stack: ExitStack) -> socket.socket:
    address = server if isinstance(server, tuple) else (server.host, server.port)
    return stack.enter_context(socket.create_connection(address, timeout=10))


def _healthz_seconds(server: RunningServer | tuple[str, int]) -> float:
    start = time.monotonic()
    address = server if isinstance(server, tuple) else (server.host, server.port)
    with socket.create_connection(address, timeout=10) as sock:
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


def _trickle(
    server: RunningServer | tuple[str, int],
    head: bytes,
    byte: bytes,
    healthz_bound: float,
    stack: ExitStack,
    clients: int = SLOW_CLIENTS,
    seconds: float = CLIENT_TIMEOUT - 0.5,
) -> tuple[float, list[socket.socket]]:
    """``clients`` connections send ``head``, then ``byte`` every 0.2 s (so that a per-read
    timeout never fires), while /healthz is asked again and again and must answer within
    ``healthz_bound``; for ``seconds``. Returns when they started, and them."""
    started = time.monotonic()
    socks = [_connect(server, stack) for _ in range(clients)]
    for sock in socks:
        sock.sendall(head)
    while time.monotonic() - started < seconds:
        assert _healthz_seconds(server) < healthz_bound
        for sock in socks:
            sock.sendall(byte)
        time.sleep(0.2)
    return started, socks


def test_slow_heads_hold_no_thread_and_are_dropped(server: RunningServer) -> None:
    with ExitStack() as stack:
        started, slow = _trickle(server, b"GET /healthz HTTP/1.1\r\nHost: t\r\n", b"X", HEALTHZ_BOUND, stack)
        _assert_dropped(slow, started + CLIENT_TIMEOUT + MARGIN, b"")


STALLED_BODY = b"POST /events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"


def test_stalled_bodies_get_408_within_the_deadline(server: RunningServer) -> None:
    with ExitStack() as stack:
        # A body on its way holds a gunicorn thread (up to its deadline); a head does not.
        started, stalled = _trickle(server, STALLED_BODY, b" ", CLIENT_TIMEOUT + MARGIN, stack)
        # Answered when the body deadline passes, closed after the lingering close.
        _assert_dropped(stalled, started + 2 * CLIENT_TIMEOUT + MARGIN, b"HTTP/1.1 408")


TRIES = 1000
OVERSIZED = b"x" * (64 * LIMIT)  # past what the gate discards and gunicorn drains on its own (64 KiB)


def _answer(sock: socket.socket) -> bytes:
    """One response: its head and Content-Length bytes of body (the connection may stay open)."""
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            return received
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            break
        body += data
    return head + b"\r\n\r\n" + body


def test_an_oversized_body_sent_whole_always_reads_its_413_and_no_100(server: RunningServer) -> None:
    # The client sends all of it without waiting (RFC 9110 §10.1.1 allows that with Expect too)
    # and then reads, as curl does after its wait: the server must not reset it meanwhile.
    outcomes: dict[str, int] = {}
    for attempt in range(TRIES):
        expect = b"Expect: 100-continue\r\n" if attempt % 2 else b""
        head = (
            b"POST /events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + expect
            + b"Content-Length: %d\r\n\r\n" % len(OVERSIZED)
        )
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            try:
                sock.sendall(head + OVERSIZED)
                answer = _answer(sock)
            except OSError as error:
                answer = type(error).__name__.encode()
        kind = answer[:12].decode(errors="replace")  # the status line without its reason phrase
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes == {"HTTP/1.1 413": TRIES}


NGINX_SLOW_CLIENTS = 500


def test_behind_the_shipped_nginx_500_slow_clients_do_not_delay_healthz(
    server: RunningServer, settings: dict[str, object], tmp_path: Path
) -> None:
    binary = require_program("nginx")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * NGINX_SLOW_CLIENTS + 200
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    block = shipped_server(f"{server.host}:{server.port}", str(settings["data_dir"]))
    try:
        with running_nginx(binary, tmp_path / "nginx", block) as nginx, ExitStack() as stack:
            front = (nginx.host, nginx.port)
            half = NGINX_SLOW_CLIENTS // 2
            # Half send their heads slowly, half a body; nginx holds them all, the app sees none.
            _trickle(front, b"GET /healthz HTTP/1.1\r\nHost: t\r\n", b"X", HEALTHZ_BOUND, stack, half, 0.0)
            _trickle(front, STALLED_BODY, b" ", HEALTHZ_BOUND, stack, half, 3 * CLIENT_TIMEOUT)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
