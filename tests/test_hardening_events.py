"""Issue 8, items 3, 4 (event streams' share of the threads), 11 and 12, over the wire against both
real servers (gunicorn + Flask, hypercorn + Quart): publishing is bounded and guarded, only JSON
reaches a stream, ids survive a restart, and streams beyond the cap get a 503 while /healthz keeps
answering. Each server here is its own (``running_server``), so what is published cannot shift the
ids the parity cases compare. The browser's own reconnect is tests/test_browser_events.py.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parity_tests.clients import HOST, WireClient
from parity_tests.compare import diff_exchanges, without_boot
from parity_tests.servers import RunningServer, Serving, running_server
from shared.compose import THREAD_PER_REQUEST
from shared.service.events import OPENING

JSON = (("Content-Type", "application/json"),)
MiB = 1024 * 1024
PUBLISHED = 80  # events of 1 MiB: unbounded, ~160 MiB kept; bounded, a few


def publish_body(data: object, event_type: str = "x") -> bytes:
    return json.dumps({"event": event_type, "data": data}).encode()


def stats(client: WireClient) -> dict[str, object]:
    answer = client.request("GET", "/ops/stats")
    assert answer.status == 200
    return dict(json.loads(answer.body))


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (gunicorn's and hypercorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        pending.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


class RawStream:
    """GET /events on its own socket; reads only what it is asked to (a stuck client otherwise)."""

    def __init__(self, server: RunningServer, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.socket = socket.create_connection((server.host, server.port), timeout=5)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self.socket.sendall(f"GET /events HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode())
        self.received = b""

    def read_until(self, marker: bytes, within: float = 5) -> bytes:
        deadline = time.monotonic() + within
        while marker not in self.received:
            assert time.monotonic() < deadline, f"no {marker!r} within {within}s; got {self.received[:300]!r}"
            chunk = self.socket.recv(65536)
            if not chunk:
                break
            self.received += chunk
        return self.received

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def open_streams() -> Iterator[list[RawStream]]:
    streams: list[RawStream] = []
    try:
        yield streams
    finally:
        for stream in streams:
            stream.close()


# Item 3: 1,000 POSTs of 1 MiB grew a worker by 2-3 GB (a replay buffer bounded by count only).


def test_many_large_publishes_keep_the_servers_memory_bounded(
    serving: Serving, settings: dict[str, object], open_streams: list[RawStream]
) -> None:
    runtime = serving.runtime
    limits = {"publish_max_bytes": MiB, "publish_rate": 100_000.0, "publish_burst": 100_000, "sse_replay": 1000}
    with running_server(runtime, {**settings, **limits}, serving) as server:
        client = WireClient(server.host, server.port, runtime, timeout=30)
        body = publish_body("x" * (MiB - 100))
        for _ in range(8):  # warm up: the allocator's first large blocks are not growth
            assert client.request("POST", "/events", JSON, body).status == 202
        stuck = RawStream(server)  # a subscriber that never reads: its queue must be let go, not grow
        open_streams.append(stuck)
        stuck.read_until(b"data: world\n\n")
        before = tree_rss_kib(server.process.pid)
        for _ in range(PUBLISHED):  # the old hub kept every one, data and frame: ~2 x PUBLISHED MiB
            assert client.request("POST", "/events", JSON, body).status == 202
        after = tree_rss_kib(server.process.pid)
        assert stats(client)["sse_subscribers"] == 0  # the stuck subscriber was let go
        # Before the server stops: a worker thread blocked writing to a client that never reads
        # would hold gunicorn's graceful shutdown until its timeout.
        stuck.close()
        # 4 MiB of replay (sse_replay_bytes) and one stuck queue of at most as much: far below 40 MiB.
        grown = (after - before) / 1024
        print(f"{runtime}: {grown:.1f} MiB grown over {PUBLISHED} MiB published")
        assert grown < 40, f"{runtime} grew by {grown:.0f} MiB over {PUBLISHED} MiB published"


def test_a_body_over_publish_max_bytes_is_413(runtime: str, settings: dict[str, object]) -> None:
    with running_server(runtime, {**settings, "publish_max_bytes": 1000}) as server:
        client = WireClient(server.host, server.port, runtime)
        assert client.request("POST", "/events", JSON, publish_body("x" * 900)).status == 202
        refused = client.request("POST", "/events", JSON, publish_body("x" * 1000))
        assert (refused.status, refused.header("Content-Type")) == (413, "application/problem+json")


def test_publishing_needs_a_configured_token_and_is_rate_limited_per_client(
    runtime: str, settings: dict[str, object]
) -> None:
    guarded = {"publish_tokens": "secret-1,secret-2", "publish_rate": 0.01, "publish_burst": 2}
    with running_server(runtime, {**settings, **guarded}) as server:
        client = WireClient(server.host, server.port, runtime)
        body = publish_body(1)
        for authorization in (None, "Bearer wrong", "Basic c2VjcmV0LTE=", "Bearer secret-1 extra", "Bearer "):
            headers = JSON + ((("Authorization", authorization),) if authorization else ())
            refused = client.request("POST", "/events", headers, body)
            assert (refused.status, refused.header("WWW-Authenticate")) == (401, 'Bearer realm="twinport"'), (
                authorization
            )
            assert json.loads(refused.body)["status"] == 401
        assert client.request("POST", "/events", (*JSON, ("Authorization", "Bearer secret-1")), body).status == 202
        # The bucket is the address's: another token does not buy another bucket.
        assert client.request("POST", "/events", (*JSON, ("Authorization", "bearer secret-2")), body).status == 202
        limited = client.request("POST", "/events", (*JSON, ("Authorization", "Bearer secret-1")), body)
        assert (limited.status, limited.header("Content-Type")) == (429, "application/problem+json")
        assert int(limited.header("Retry-After") or "0") >= 1
        assert stats(client)["sse_subscribers"] == 0 and client.request("GET", "/healthz").status == 200


# Item 11: 1e400 reached subscribers as Infinity.


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"9" * 5000])
def test_a_number_beyond_a_double_is_a_400_and_reaches_no_one(wire_client: WireClient, number: bytes) -> None:
    refused = wire_client.request("POST", "/events", JSON, b'{"event": "x", "data": {"v": ' + number + b"}}")
    assert (refused.status, refused.header("Content-Type")) == (400, "application/problem+json")
    assert json.loads(refused.body)["detail"].startswith("Numbers must be finite (RFC 8259 §6): ")


# Item 12: ids restart at 1 with the process; a Last-Event-ID of the old one must not skip the new one's.


def test_an_id_of_the_previous_process_replays_everything_the_new_one_kept(
    runtime: str, settings: dict[str, object]
) -> None:
    with running_server(runtime, settings) as first:
        client = WireClient(first.host, first.port, runtime)
        old_ids = [json.loads(client.request("POST", "/events", JSON, publish_body(n)).body)["id"] for n in range(3)]
        old_boot = stats(client)["sse_boot"]
    assert all(event_id.startswith(f"{old_boot}-") for event_id in old_ids)
    with running_server(runtime, settings) as second:
        client = WireClient(second.host, second.port, runtime)
        new_ids = [json.loads(client.request("POST", "/events", JSON, publish_body(n)).body)["id"] for n in range(3)]
        boot = stats(client)["sse_boot"]
        assert boot != old_boot and new_ids == [f"{boot}-{n}" for n in (1, 2, 3)]
        # The old process's third id: the new one's events 1-3 all come back (sse_replay is 3 here).
        answer = client.request("GET", "/events", (("Last-Event-ID", old_ids[-1]),), events=4)
        assert [line for line in answer.body.split(b"\n") if line.startswith(b"id: ")] == [
            f"id: {i}".encode() for i in new_ids
        ]
        # Its own id still means "after that one".
        answer = client.request("GET", "/events", (("Last-Event-ID", new_ids[0]),), events=3)
        assert [line for line in answer.body.split(b"\n") if line.startswith(b"id: ")] == [
            f"id: {i}".encode() for i in new_ids[1:]
        ]


# Item 4: 32 held /events streams took every gthread thread; /healthz was never answered.


def test_streams_beyond_the_cap_get_503_and_healthz_keeps_answering(
    serving: Serving, settings: dict[str, object], open_streams: list[RawStream]
) -> None:
    # A thread per request (gthread, granian's WSGI): 4 threads x 0.5 = 2 streams. Quart and gevent:
    # sse_max_streams = 2 (the thread settings do not apply).
    runtime = serving.runtime
    threaded = (serving.server, serving.worker_class) in THREAD_PER_REQUEST
    capped = {
        "threads": 4,
        "sse_thread_share": 0.5,
        "sse_max_streams": 10_000 if threaded else 2,
        "sse_heartbeat": 0.5,
    }
    with running_server(runtime, {**settings, **capped}, serving) as server:
        client = WireClient(server.host, server.port, runtime)
        for _ in range(2):
            open_streams.append(RawStream(server))
            open_streams[-1].read_until(OPENING)
        assert stats(client)["sse_subscribers"] == 2
        refused = client.request("GET", "/events")
        assert (refused.status, refused.header("Content-Type"), refused.header("Retry-After")) == (
            503,
            "application/problem+json",
            "1",
        )
        assert json.loads(refused.body)["status"] == 503
        # HEAD takes no place, so it is never refused.
        assert client.request("HEAD", "/events").status == 200
        for _ in range(3):
            started = time.monotonic()
            assert client.request("GET", "/healthz").status == 200
            assert time.monotonic() - started < 1
        # One leaves; within a heartbeat or so its place is free and a new stream gets in.
        open_streams.pop(0).close()
        deadline = time.monotonic() + 5
        while stats(client)["sse_subscribers"] != 1:
            assert time.monotonic() < deadline, "the closed stream's place was never freed"
            time.sleep(0.05)
        open_streams.append(RawStream(server))
        assert open_streams[-1].read_until(OPENING).startswith(b"HTTP/1.1 200")
        assert client.request("GET", "/events").status == 503
        while open_streams:
            open_streams.pop().close()


def test_the_503_is_the_same_answer_in_both_runtimes(
    settings: dict[str, object], open_streams: list[RawStream]
) -> None:
    exchanges = []
    for runtime, capped in (("flask", {"threads": 2, "sse_thread_share": 0.5}), ("quart", {"sse_max_streams": 1})):
        with running_server(runtime, {**settings, **capped}) as server:
            open_streams.append(RawStream(server))
            open_streams[-1].read_until(OPENING)
            client = WireClient(server.host, server.port, runtime)
            exchanges.append(without_boot(client.request("GET", "/events"), str(stats(client)["sse_boot"])))
            open_streams.pop().close()  # before the server stops, so it need not wait for the stream
    assert exchanges[0].status == 503
    assert diff_exchanges(*exchanges) == []


def test_a_single_thread_worker_never_holds_a_stream(settings: dict[str, object]) -> None:
    with running_server("flask", {**settings, "threads": 1}) as server:
        client = WireClient(server.host, server.port, "flask")
        assert client.request("GET", "/events").status == 503
        assert client.request("GET", "/healthz").status == 200
