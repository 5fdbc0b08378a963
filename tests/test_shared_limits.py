"""With ``redis_url`` set, the limits hold across processes and hosts: the /api/v1 burst and the
publish burst are spent once for all of them, whichever serves the request, and the paging API's
item count is counted once per ttl for all. Two apps of a runtime in this process stand for two
workers; then one real Flask server and one real Quart server on one Redis. Redis going away
degrades the limits to per process (never off, never a 500) until it is back.

Slow refill rates (0.01/s: 100 s a token) keep every decision here away from a refill."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import redis

import flask_impl
import quart_impl
from parity_tests.clients import Client, Exchange, FlaskInProcess, QuartInProcess, WireClient
from parity_tests.redis_server import RedisServer, redis_server
from parity_tests.servers import running_server
from shared.edge.redis_limits import KEY_PREFIX, OUTAGE_PAUSE

TOKEN = (("Authorization", "Bearer shared-secret"),)
JSON = (("Content-Type", "application/json"),)
EVENT = json.dumps({"event": "x", "data": 1}).encode()
LIMITS = {
    "api_tokens": "shared-secret",
    "rate_limit": 0.01,
    "rate_burst": 3,
    "publish_rate": 0.01,
    "publish_burst": 2,
    "total_count_ttl": 60.0,
}
TOTAL_KEY = f"{KEY_PREFIX}items:total"


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.fixture
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    """The test's own connection to the Redis, emptied first: every test starts with no bucket."""
    client = redis.Redis.from_url(server.url)
    client.flushall()
    yield client
    client.close()


@contextmanager
def in_process(runtime: str, settings: dict[str, object]) -> Iterator[Client]:
    if runtime == "flask":
        yield FlaskInProcess(flask_impl.create_app(settings))
    else:
        with QuartInProcess(quart_impl.create_app(settings)) as client:
            yield client


@contextmanager
def workers(runtimes: tuple[str, ...], settings: dict[str, object]) -> Iterator[list[Client]]:
    with ExitStack() as stack:
        yield [stack.enter_context(in_process(runtime, settings)) for runtime in runtimes]


def api_statuses(clients: list[Client], rounds: int) -> list[int]:
    return [
        clients[turn % len(clients)].request("GET", "/api/v1/items/1", TOKEN).status
        for turn in range(rounds * len(clients))
    ]


def assert_limited(answer: Exchange) -> None:
    assert (answer.status, answer.header("Content-Type")) == (429, "application/problem+json")
    assert answer.header("Retry-After") == "100"  # one token at 0.01/s, rounded up


@pytest.mark.parametrize(
    "runtimes", [("flask", "flask"), ("quart", "quart"), ("flask", "quart")], ids=["flask", "quart", "flask+quart"]
)
def test_workers_on_one_redis_share_the_api_burst(
    runtimes: tuple[str, ...], settings: dict[str, object], server: RedisServer, admin: redis.Redis
) -> None:
    with workers(runtimes, {**settings, **LIMITS, "redis_url": server.url}) as clients:
        # A burst of 3 for the token, whichever worker answers: not 3 each.
        assert api_statuses(clients, 2) == [200, 200, 200, 429]
        for client in clients:
            assert_limited(client.request("GET", "/api/v1/items/1", TOKEN))
        assert all(b"shared-secret" not in key for key in admin.keys("*"))  # a hash names the bucket


@pytest.mark.parametrize("runtimes", [("flask", "flask"), ("quart", "quart")], ids=["flask", "quart"])
def test_workers_on_one_redis_share_the_publish_burst(
    runtimes: tuple[str, ...], settings: dict[str, object], server: RedisServer, admin: redis.Redis
) -> None:
    with workers(runtimes, {**settings, **LIMITS, "redis_url": server.url}) as clients:
        statuses = [clients[turn % 2].request("POST", "/events", JSON, EVENT).status for turn in range(3)]
        assert statuses == [202, 202, 429]
        assert_limited(clients[0].request("POST", "/events", JSON, EVENT))
        # Its own bucket: publishing spent nothing of the API's.
        assert clients[1].request("GET", "/api/v1/items/1", TOKEN).status == 200


def test_the_item_count_is_shared_through_redis(
    runtime: str, settings: dict[str, object], server: RedisServer, admin: redis.Redis
) -> None:
    with in_process(runtime, {**settings, **LIMITS, "rate_burst": 10, "redis_url": server.url}) as client:
        counted = client.request("GET", "/api/v1/items?page=1&size=2", TOKEN)
        assert counted.status == 200
        total = int(counted.header("X-Total-Count") or "")
        assert admin.get(TOTAL_KEY) == str(total).encode()
        assert 0 < admin.pttl(TOTAL_KEY) <= 60_000  # total_count_ttl
        # Another worker's count, within the ttl: this one uses it and does not count again.
        admin.set(TOTAL_KEY, total + 5, px=60_000)
        assert client.request("GET", "/api/v1/items?page=1&size=2", TOKEN).header("X-Total-Count") == str(total + 5)
        admin.delete(TOTAL_KEY)  # what a writer of items must do
        assert client.request("GET", "/api/v1/items?page=1&size=2", TOKEN).header("X-Total-Count") == str(total)


def test_a_redis_outage_degrades_to_per_process_limits_then_they_are_shared_again(
    runtime: str, settings: dict[str, object], own_redis: RedisServer
) -> None:
    with workers((runtime, runtime), {**settings, **LIMITS, "redis_url": own_redis.url}) as clients:
        assert api_statuses(clients, 1) == [200, 200]
        own_redis.kill()
        # Each worker's own bucket (3 each, untouched so far): not a 500, and not unlimited.
        assert api_statuses(clients, 2) == [200, 200, 200, 200]
        paged = clients[0].request("GET", "/api/v1/items?page=1&size=2", TOKEN)
        assert paged.status == 200 and int(paged.header("X-Total-Count") or "0") > 0  # counted locally
        assert api_statuses(clients, 1) == [429, 200]
        assert api_statuses(clients, 1) == [429, 429]
        own_redis.start()  # back, empty
        time.sleep(OUTAGE_PAUSE + 0.1)  # the pause over, Redis is tried again: one burst for both
        assert api_statuses(clients, 2) == [200, 200, 200, 429]


@pytest.fixture(scope="module")
def wire_pair(settings: dict[str, object], server: RedisServer) -> Iterator[list[WireClient]]:
    """A real Flask server and a real Quart server (gunicorn, hypercorn), two worker processes
    each, on one Redis: four processes, whichever of them a request reaches."""
    # event_backend = redis: with workers > 1 the in-process hub answers /events 503 (issue 11).
    shared = {**settings, **LIMITS, "redis_url": server.url, "workers": 2, "event_backend": "redis"}
    with running_server("flask", shared) as flask_server, running_server("quart", shared) as quart_server:
        yield [WireClient(each.host, each.port, each.runtime) for each in (flask_server, quart_server)]


def test_a_flask_and_a_quart_server_share_the_api_burst(wire_pair: list[WireClient], admin: redis.Redis) -> None:
    # A new connection per request: each may reach either worker of its server.
    assert api_statuses(list(wire_pair), 2) == [200, 200, 200, 429]
    for client in wire_pair:
        assert_limited(client.request("GET", "/api/v1/items/1", TOKEN))


def test_a_flask_and_a_quart_server_share_the_publish_burst(wire_pair: list[WireClient], admin: redis.Redis) -> None:
    statuses = [wire_pair[turn % 2].request("POST", "/events", JSON, EVENT).status for turn in range(3)]
    assert statuses == [202, 202, 429]
    assert_limited(wire_pair[0].request("POST", "/events", JSON, EVENT))
