"""Issue 11, the Redis event backend, in-process against a real redis-server: ids are the stream's,
replay by Last-Event-ID (and its race with the live reader), the replay bounds, a Redis that goes
away, and the in-process hub refused behind several workers. Over the wire, across processes:
tests/test_redis_events_processes.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import redis

import flask_impl
import quart_impl
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess
from parity_tests.redis_server import RedisServer, redis_server
from shared.edge.redis_events import SOCKET_TIMEOUT, RedisEvents
from shared.service.events import HEARTBEAT, OPENING, Event, EventId, Quiet, StreamsFull, parse_last_event_id

JSON = (("Content-Type", "application/json"),)
STREAM_ID = re.compile(r"[0-9]{13,20}-[0-9]+")


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(shared_redis: RedisServer) -> str:
    """The module's Redis, emptied for each test (every test's backend uses the one stream key)."""
    with redis.Redis.from_url(shared_redis.url) as connection:
        connection.flushall()
    return shared_redis.url


def body(data: object, event_type: str = "x") -> bytes:
    return json.dumps({"event": event_type, "data": data}).encode()


def ids(stream: bytes) -> list[str]:
    return [line[4:].decode() for line in stream.split(b"\n") if line.startswith(b"id: ")]


def redis_client(runtime: str, settings: dict[str, object], url: str, **more: object) -> Iterator[Client]:
    app_settings = {**settings, "event_backend": "redis", "redis_url": url, **more}
    if runtime == "flask":
        app = flask_impl.create_app(app_settings)
        try:
            yield FlaskInProcess(app)
        finally:
            # Its reader thread stops, as at a worker's SIGTERM (gunicorn_conf.py closes the hub).
            next(each for each in app.extensions.values() if isinstance(each, RedisEvents)).close()
    else:
        with QuartInProcess(quart_impl.create_app(app_settings)) as quart:
            yield quart


@pytest.fixture
def on_redis(runtime: str, settings: dict[str, object], redis_url: str) -> Iterator[Client]:
    yield from redis_client(runtime, settings, redis_url)


def publish(client: Client, data: object) -> str:
    answer = client.request("POST", "/events", JSON, body(data))
    assert answer.status == 202, answer.body
    return str(json.loads(answer.body)["id"])


def test_ids_are_the_streams_and_last_event_id_replays_what_came_after(on_redis: Client) -> None:
    published = [publish(on_redis, n) for n in range(5)]
    assert all(STREAM_ID.fullmatch(each) for each in published) and published == sorted(published, key=_order)
    # What came after the second; sse_replay is 3, so that is all of it.
    answer = on_redis.request("GET", "/events", (("Last-Event-ID", published[2]),), events=3)
    assert ids(answer.body) == published[3:]
    assert b"event: x\ndata: 3\n\n" in answer.body
    # An id the stream never issued (the in-process hub's, a bare integer, one from the future: a
    # Redis that lost its data), or one older than the oldest kept: everything kept (3).
    for foreign in ("hoolpsrjlt-4", "4", "99999999999999999-0", "1-0", published[0]):
        answer = on_redis.request("GET", "/events", (("Last-Event-ID", foreign),), events=4)
        assert ids(answer.body) == published[2:], foreign


def _order(event_id: str) -> tuple[int, int]:
    parsed = parse_last_event_id(event_id)
    key = parsed.stream_key() if parsed is not None else None
    assert key is not None
    return key


def test_a_live_event_reaches_a_subscriber_once_after_its_replay(on_redis: Client, redis_url: str) -> None:
    first = publish(on_redis, "before")
    publisher = RedisEvents(redis_url, replay=3, replay_bytes=1 << 20)  # another process's, as it were

    def later() -> None:
        time.sleep(0.3)
        publisher.publish("live", 1)

    thread = threading.Thread(target=later)
    thread.start()
    try:
        answer = on_redis.request("GET", "/events", (("Last-Event-ID", "1-0"),), events=3)
    finally:
        thread.join()
        publisher.close()
    assert ids(answer.body)[0] == first and b"event: live\ndata: 1\n\n" in answer.body
    assert len(ids(answer.body)) == 2


def test_replay_is_bounded_by_sse_replay_bytes(runtime: str, settings: dict[str, object], redis_url: str) -> None:
    frame = len(Event(EventId("1764650975123", 0), "x", json.dumps("y" * 1000)).frame)
    for client in redis_client(runtime, settings, redis_url, sse_replay=100, sse_replay_bytes=2 * frame + 10):
        published = [publish(client, "y" * 1000) for _ in range(5)]
        publish(client, "z" * 5000)  # larger than the bound on its own: never replayed
        answer = client.request("GET", "/events", (("Last-Event-ID", "0"),), events=3, read_limit=20_000)
        assert ids(answer.body) == published[-2:]


def test_replay_and_the_live_reader_race_without_gap_or_duplicate_threads(redis_url: str) -> None:
    """Subscribers join with a Last-Event-ID while events pour in: each gets every event after
    its id, in order, once (the range read and the reader's position overlap, never leave a hole)."""
    backend, publisher = RedisEvents(redis_url, replay=COUNT, replay_bytes=1 << 24), _publisher(redis_url)
    warm = backend.subscribe()  # its reader thread is running before the race starts
    assert not isinstance(warm, StreamsFull)
    warm.close()
    results: list[tuple[Event, list[Event]]] = []
    published: list[Event] = []

    def collect(start: Event) -> None:
        subscription = backend.subscribe(start.id)
        assert not isinstance(subscription, StreamsFull)
        got: list[Event] = []
        with subscription:
            while len(got) < COUNT - 1 - int(start.data):
                outcome = subscription.next_event(10)
                assert isinstance(outcome, Event), (outcome, len(got))
                got.append(outcome)
        results.append((start, got))

    pour = threading.Thread(target=lambda: published.extend(publisher.publish("n", n) for n in range(COUNT)))
    joiners = []
    try:
        pour.start()
        for joiner in range(JOINERS):
            start = _when_published(published, joiner * COUNT // JOINERS)
            joiners.append(threading.Thread(target=collect, args=(start,)))
            joiners[-1].start()
        for thread in (pour, *joiners):
            thread.join(30)
    finally:
        backend.close()
        publisher.close()
    _assert_each_got_what_followed(published, results)


async def test_replay_and_the_live_reader_race_without_gap_or_duplicate_coroutines(redis_url: str) -> None:
    backend, publisher = RedisEvents(redis_url, replay=COUNT, replay_bytes=1 << 24), _publisher(redis_url)
    published: list[Event] = []

    async def collect(start: Event) -> tuple[Event, list[Event]]:
        subscription = backend.subscribe_async(start.id)
        assert not isinstance(subscription, StreamsFull)
        got: list[Event] = []
        with subscription:
            while len(got) < COUNT - 1 - int(start.data):
                outcome = await subscription.next_event(10)
                assert isinstance(outcome, Event), (outcome, len(got))
                got.append(outcome)
        return start, got

    await backend.open_async()
    try:
        pour = asyncio.ensure_future(
            asyncio.to_thread(lambda: published.extend(publisher.publish("n", n) for n in range(COUNT)))
        )
        tasks = []
        for joiner in range(JOINERS):
            while len(published) <= joiner * COUNT // JOINERS:
                await asyncio.sleep(0.001)
            tasks.append(asyncio.ensure_future(collect(published[joiner * COUNT // JOINERS])))
        results = [await task for task in tasks]
        await pour
    finally:
        await backend.close_async()
        publisher.close()
    _assert_each_got_what_followed(published, results)


COUNT, JOINERS = 400, 12


def _publisher(url: str) -> RedisEvents:
    return RedisEvents(url, replay=COUNT, replay_bytes=1 << 24)  # another process's, as it were


def _when_published(published: list[Event], index: int) -> Event:
    deadline = time.monotonic() + 30
    while len(published) <= index:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    return published[index]


def _assert_each_got_what_followed(published: list[Event], results: list[tuple[Event, list[Event]]]) -> None:
    assert len(published) == COUNT and len(results) == JOINERS
    for start, got in results:
        assert [event.id for event in got] == [event.id for event in published if int(event.data) > int(start.data)]


# A Redis that goes away: its own server, killed and started again.


def test_while_redis_is_away_publishing_is_503_and_streams_keep_beating(
    runtime: str, settings: dict[str, object], own_redis: RedisServer
) -> None:
    for client in redis_client(runtime, settings, own_redis.url, sse_heartbeat=0.2):
        before = publish(client, "before")
        own_redis.kill()
        started = time.monotonic()
        refused = client.request("POST", "/events", JSON, body("away"))
        assert time.monotonic() - started < 5
        assert (refused.status, refused.header("Content-Type")) == (503, "application/problem+json")
        assert int(refused.header("Retry-After") or "0") >= 1
        assert "Redis" in json.loads(refused.body)["detail"]
        # A stream opened meanwhile: the opening and heartbeats (its replay waits for Redis).
        answer = client.request("GET", "/events", (("Last-Event-ID", before),), read_limit=len(OPENING + HEARTBEAT))
        assert answer.status == 200 and answer.body == OPENING + HEARTBEAT
        own_redis.start()
        after = _publish_when_back(client)
        answer = client.request("GET", "/events", (("Last-Event-ID", before),), events=2)
        assert ids(answer.body) == [after]


def _publish_when_back(client: Client) -> str:
    deadline = time.monotonic() + 10
    while True:
        answer = client.request("POST", "/events", JSON, body("back"))
        if answer.status == 202:
            return str(json.loads(answer.body)["id"])
        assert answer.status == 503 and time.monotonic() < deadline
        time.sleep(0.05)


def test_a_subscriber_gets_what_was_published_while_its_reader_was_cut_off(own_redis: RedisServer) -> None:
    """The reader resumes from its last id: what another process publishes once Redis is back,
    before this reader has reconnected, is not lost; the subscription beats meanwhile."""
    backend = RedisEvents(own_redis.url, replay=10, replay_bytes=1 << 20)
    try:
        subscription = backend.subscribe()
        assert not isinstance(subscription, StreamsFull)
        with subscription:
            backend.publish("x", 0)
            assert isinstance(subscription.next_event(5), Event)
            own_redis.kill()
            assert subscription.next_event(0.3) is Quiet.IDLE
            own_redis.start()
            publisher = RedisEvents(own_redis.url, replay=10, replay_bytes=1 << 20)
            published = [publisher.publish("x", n).id for n in range(1, 4)]
            publisher.close()
            got = [subscription.next_event(10) for _ in published]
            assert [event.id for event in got if isinstance(event, Event)] == published
    finally:
        backend.close()


# workers > 1 on the in-process hub: /events refuses, naming the setting.


def test_the_in_process_hub_behind_several_workers_refuses_events_naming_event_backend(
    runtime: str, settings: dict[str, object]
) -> None:
    app = (flask_impl if runtime == "flask" else quart_impl).create_app({**settings, "workers": 2})
    with ExitStack() as stack:
        client = FlaskInProcess(app) if runtime == "flask" else stack.enter_context(QuartInProcess(app))
        for answer in (client.request("GET", "/events"), client.request("POST", "/events", JSON, body(1))):
            assert (answer.status, answer.header("Content-Type")) == (503, "application/problem+json")
            assert 'needs event_backend = "redis" when workers > 1' in json.loads(answer.body)["detail"]
            assert answer.header("Retry-After") is None  # waiting does not help; the setting does
        assert client.request("GET", "/healthz").status == 200  # the rest serves on


def test_a_backend_refuses_an_unsendable_event_type_before_storing_it(redis_url: str) -> None:
    backend = RedisEvents(redis_url, replay=3, replay_bytes=1000)
    try:
        with pytest.raises(ValueError):
            backend.publish("a\nb", 1)
        assert backend.events_after(EventId("", 0)) == ()
    finally:
        backend.close()


def test_replay_pages_through_the_stream_newest_first_and_keeps_the_newest(redis_url: str) -> None:
    backend = RedisEvents(redis_url, replay=250, replay_bytes=1 << 20)
    try:
        published = [backend.publish("n", n) for n in range(330)]  # more than three pages
        assert backend.events_after(EventId("", 0)) == tuple(published[-250:])
        assert backend.events_after(published[199].id) == tuple(published[200:])
        assert backend.events_after(published[-1].id) == ()
    finally:
        backend.close()


def test_an_id_from_the_future_replays_all_kept_and_then_every_live_event(redis_url: str) -> None:
    """A Last-Event-ID newer than the stream's newest (a Redis that lost its data) names no
    position: the client gets what is kept, and then live events, though their ids are older."""
    backend = RedisEvents(redis_url, replay=5, replay_bytes=1 << 20)
    try:
        kept = backend.publish("n", 0)
        subscription = backend.subscribe(EventId("99999999999999999", 0))
        assert not isinstance(subscription, StreamsFull)
        with subscription:
            assert subscription.next_event(5) == kept
            live = backend.publish("n", 1)
            assert subscription.next_event(5) == live
    finally:
        backend.close()


def test_a_redis_that_hangs_costs_a_publish_the_socket_timeout_and_streams_beat_on(
    runtime: str, settings: dict[str, object], own_redis: RedisServer
) -> None:
    for client in redis_client(runtime, settings, own_redis.url, sse_heartbeat=0.2):
        publish(client, "before")  # the connections are open when it freezes
        own_redis.pause()
        try:
            started = time.monotonic()
            refused = client.request("POST", "/events", JSON, body("frozen"))
            waited = time.monotonic() - started
            assert refused.status == 503 and int(refused.header("Retry-After") or "0") >= 1
            assert waited < SOCKET_TIMEOUT + 1.5, f"a publish waited {waited:.1f}s on a hung Redis"
            answer = client.request("GET", "/events", read_limit=len(OPENING + HEARTBEAT))
            assert answer.body == OPENING + HEARTBEAT
        finally:
            own_redis.resume()
        _publish_when_back(client)
