"""Issue 11, across processes: real servers (gunicorn + Flask, hypercorn + Quart) on one real Redis.

Two servers of one runtime, and one of each: a client of one gets, in order and exactly once, the
events published through the other; a client that reconnects to the other with its Last-Event-ID
misses nothing; a server restarted mid-stream loses nothing. ``workers = 4`` delivers every event
to every stream of every worker. A Redis that goes away is survived; the in-process hub behind
several workers refuses /events. The backend's semantics in-process: tests/test_redis_events.py.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest
import redis

from parity_tests.clients import HOST, WireClient
from parity_tests.redis_server import RedisServer, redis_server
from parity_tests.servers import RunningServer, running_server

JSON = (("Content-Type", "application/json"),)
PAIRS = [("flask", "flask"), ("quart", "quart"), ("flask", "quart")]


class EventReader:
    """One open ``GET /events``: the events as they come, comments (heartbeats) counted apart."""

    def __init__(self, server: RunningServer, last_event_id: str | None = None) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        headers = {"Host": HOST, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        self.connection.request("GET", "/events", headers=headers)
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.buffer = b""
        self.heartbeats = 0

    def events(self, count: int, within: float = 15) -> list[tuple[str, str]]:
        """The next ``count`` events with an id, as (id, data); the opening is skipped."""
        got: list[tuple[str, str]] = []
        deadline = time.monotonic() + within
        while len(got) < count:
            while b"\n\n" not in self.buffer:
                assert time.monotonic() < deadline, f"{len(got)} of {count} events within {within}s: {got}"
                chunk = self.response.read1(65536)
                assert chunk, f"the stream ended after {len(got)} of {count} events"
                self.buffer += chunk
            block, _, self.buffer = self.buffer.partition(b"\n\n")
            fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line and line[:1] != b":")
            if block.startswith(b":"):
                self.heartbeats += 1
            elif b"id" in fields:
                got.append((fields[b"id"].decode(), fields[b"data"].decode()))
        return got

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def on_redis(shared_redis: RedisServer, settings: dict[str, object]) -> dict[str, object]:
    with redis.Redis.from_url(shared_redis.url) as connection:
        connection.flushall()
    return {**settings, "event_backend": "redis", "redis_url": shared_redis.url, "sse_replay": 1000}


@pytest.fixture
def readers() -> Iterator[list[EventReader]]:
    opened: list[EventReader] = []
    try:
        yield opened
    finally:
        for reader in opened:
            reader.close()


def client_of(server: RunningServer) -> WireClient:
    return WireClient(server.host, server.port, server.runtime)


def publish(server: RunningServer, data: object) -> str:
    answer = client_of(server).request("POST", "/events", JSON, json.dumps({"event": "n", "data": data}).encode())
    assert answer.status == 202, answer.body
    return str(json.loads(answer.body)["id"])


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_events_cross_servers_in_order_once_through_reconnects_and_a_restart(
    first: str, second: str, on_redis: dict[str, object], readers: list[EventReader]
) -> None:
    with running_server(second, on_redis) as other:
        with running_server(first, on_redis) as one:
            reader = EventReader(one)
            readers.append(reader)
            assert reader.status == 200
            # Published through the other server (and some through this one): all, in order, once.
            seen = [(publish(other if n % 3 else one, n), str(n)) for n in range(12)]
            assert reader.events(12) == seen
            # The client goes, events go on, it comes back to the OTHER server with its Last-Event-ID.
            reader.close()
            missed = [(publish(one, n), str(n)) for n in range(12, 18)]
            back = EventReader(other, last_event_id=seen[-1][0])
            readers.append(back)
            assert back.events(6) == missed
            # A client of this server, reading live when the server stops.
            live = EventReader(one, last_event_id=missed[-1][0])
            readers.append(live)
            published = [(publish(other, n), str(n)) for n in range(18, 21)]
            assert live.events(3) == published == back.events(3)
        # Stopped mid-stream; events go on through the other meanwhile; the client reconnects to
        # the restarted server with its Last-Event-ID and misses nothing.
        meanwhile = [(publish(other, n), str(n)) for n in range(21, 25)]
        with running_server(first, on_redis) as restarted:
            resumed = EventReader(restarted, last_event_id=published[-1][0])
            readers.append(resumed)
            assert resumed.events(4) == meanwhile
            after = [(publish(other, n), str(n)) for n in range(25, 27)]
            assert resumed.events(2) == after
            assert back.events(6) == meanwhile + after  # the other server's client never noticed


@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_four_workers_deliver_every_event_to_every_stream_of_every_worker(
    runtime: str, on_redis: dict[str, object], readers: list[EventReader]
) -> None:
    # At most 3 streams per worker (gthread: min(sse_max_streams, 8 threads x 0.5)): 12 accepted
    # streams are 3 in each of the 4 workers, however the kernel spreads the connections.
    per_worker, workers = 3, 4
    limits = {"workers": workers, "threads": 8, "sse_thread_share": 0.5, "sse_max_streams": per_worker}
    with running_server(runtime, {**on_redis, **limits}) as server:
        attempts = 0
        while len(readers) < per_worker * workers:
            attempts += 1
            assert attempts < 400, f"only {len(readers)} streams accepted"
            reader = EventReader(server)
            if reader.status == 200:
                readers.append(reader)
            else:
                assert reader.status == 503
                reader.close()
        boots = {str(json.loads(client_of(server).request("GET", "/ops/stats").body)["sse_boot"]) for _ in range(40)}
        assert len(boots) > 1  # several processes answer (the streams' spread is the cap's proof)
        published = [(publish(server, n), str(n)) for n in range(5)]
        for reader in readers:
            assert reader.events(5) == published


@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_a_redis_outage_is_503_meanwhile_and_streams_resume_without_loss(
    runtime: str, settings: dict[str, object], own_redis: RedisServer, readers: list[EventReader]
) -> None:
    on_redis = {**settings, "event_backend": "redis", "redis_url": own_redis.url, "sse_heartbeat": 0.3}
    with running_server(runtime, on_redis) as server:
        reader = EventReader(server)
        readers.append(reader)
        before = [(publish(server, "before"), '"before"')]
        assert reader.events(1) == before
        own_redis.kill()
        started = time.monotonic()
        refused = client_of(server).request("POST", "/events", JSON, b'{"event": "n", "data": 1}')
        assert time.monotonic() - started < 5  # the socket timeout, not a hang
        assert (refused.status, refused.header("Content-Type")) == (503, "application/problem+json")
        assert int(refused.header("Retry-After") or "0") >= 1
        heartbeats = reader.heartbeats
        time.sleep(1)
        own_redis.start()
        # Published once Redis is back, through another client of the stream (a process that
        # reconnected first): the reader resumes from its last id and delivers it.
        with redis.Redis.from_url(own_redis.url) as direct:
            direct.xadd("twinport:events", {"t": "n", "d": '"elsewhere"'}, maxlen=1000)
        got = reader.events(1, within=20)
        assert [data for _, data in got] == ['"elsewhere"'] and reader.heartbeats > heartbeats
        again = [(_publish_when_back(server), '"back"')]
        assert reader.events(1) == again


def _publish_when_back(server: RunningServer) -> str:
    deadline = time.monotonic() + 15
    while True:
        answer = client_of(server).request("POST", "/events", JSON, b'{"event": "n", "data": "back"}')
        if answer.status == 202:
            return str(json.loads(answer.body)["id"])
        assert answer.status == 503 and time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_several_workers_on_the_in_process_hub_serve_on_but_refuse_events(
    runtime: str, settings: dict[str, object]
) -> None:
    with running_server(runtime, {**settings, "workers": 2}) as server:
        client = client_of(server)
        for answer in (
            client.request("GET", "/events"),
            client.request("POST", "/events", JSON, b'{"event": "n", "data": 1}'),
        ):
            assert answer.status == 503
            assert 'needs event_backend = "redis" when workers > 1' in json.loads(answer.body)["detail"]
        assert client.request("GET", "/healthz").status == 200
        log = server.log()
    # One line at start (from twinport serve, before the server forks its workers), not one a worker.
    assert len([line for line in log.splitlines() if "warning" in line and "event_backend" in line]) == 1, log
