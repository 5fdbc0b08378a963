"""The token buckets and the item count shared through Redis, against a real redis-server: the same
answers as the in-process bucket (a differential test), one clock (Redis's), atomic takes, and an
outage survived (a killed and restarted Redis, a hung one) by falling back to the process's bucket.

Each test body runs with the sync limiter (Flask's) and its asyncio twin (Quart's)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings, strategies as st

from parity_tests.redis_server import RedisServer, redis_server
from shared.edge.counters import RateLimiter
from shared.edge.redis_limits import (
    MAX_CONNECTIONS,
    AsyncRedisRateLimiter,
    AsyncRedisTotalCache,
    RedisOutage,
    RedisRateLimiter,
    RedisTotalCache,
    async_redis_client,
    redis_client,
)
from shared.service.guard import Limited

Take = Callable[[str, float], Limited | None]
FLAVOURS = ("sync", "async")


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


class Limiters:
    """Builds limiters of one flavour on one Redis, each under a prefix of its own (so examples and
    tests never share a bucket), and closes their clients at the end."""

    def __init__(self, flavour: str, url: str) -> None:
        self.flavour = flavour
        self.url = url
        self.outage = RedisOutage(url)
        self._runner = asyncio.Runner()
        self._sync = redis_client(url)
        self._async = async_redis_client(url)

    def limiter(self, rate: float, burst: int, prefix: str | None = None) -> Take:
        prefix = prefix or f"test:{uuid.uuid4().hex}:"
        if self.flavour == "sync":
            return RedisRateLimiter(self._sync, rate, burst, guard="api", outage=self.outage, prefix=prefix).take
        limiter = AsyncRedisRateLimiter(self._async, rate, burst, guard="api", outage=self.outage, prefix=prefix)
        return lambda client, now: self._runner.run(limiter.take_async(client, now))

    def at_once(
        self, rate: float, burst: int, count: int, *, parallel: int = 8, now: float = 0.0
    ) -> list[Limited | None]:
        """``count`` takes from one bucket, ``parallel`` at once: on threads, or tasks (8 by
        default: a hundred connecting at once on a busy machine could outlast the socket timeout,
        and the takes would rightly fall back to the local bucket)."""
        prefix = f"test:{uuid.uuid4().hex}:"
        if self.flavour == "sync":
            take = RedisRateLimiter(self._sync, rate, burst, guard="api", outage=self.outage, prefix=prefix).take
            with ThreadPoolExecutor(parallel) as pool:
                return list(pool.map(lambda _: take("a", now), range(count)))
        limiter = AsyncRedisRateLimiter(self._async, rate, burst, guard="api", outage=self.outage, prefix=prefix)

        async def takes(share: int) -> list[Limited | None]:
            return [await limiter.take_async("a", now) for _ in range(share)]

        async def all_takes() -> list[Limited | None]:
            shares = await asyncio.gather(
                *(takes(count // parallel + (task < count % parallel)) for task in range(parallel))
            )
            return [answer for share in shares for answer in share]

        return self._runner.run(all_takes())

    def total(self, ttl: float, prefix: str) -> tuple[Callable[[float], int | None], Callable[[int, float], int]]:
        if self.flavour == "sync":
            cache = RedisTotalCache(self._sync, ttl, outage=self.outage, prefix=prefix)
            return cache.get, cache.put
        shared = AsyncRedisTotalCache(self._async, ttl, outage=self.outage, prefix=prefix)
        return (
            lambda now: self._runner.run(shared.get_async(now)),
            lambda value, now: self._runner.run(shared.put_async(value, now)),
        )

    def close(self) -> None:
        self._sync.close()
        self._runner.run(self._async.aclose())
        self._runner.close()


@pytest.fixture(params=FLAVOURS)
def limiters(request: pytest.FixtureRequest, server: RedisServer) -> Iterator[Limiters]:
    built = Limiters(request.param, server.url)
    yield built
    built.close()


@pytest.fixture
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


# Slow refill rates: a run of takes lasts milliseconds, far from the 1/rate seconds a token needs,
# so the two clocks (Redis's, the test's monotonic one) cannot put a take on different sides.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    takes=st.lists(st.sampled_from(["a", "b", "token:c"]), min_size=1, max_size=25),
    rate=st.sampled_from([0.001, 0.03, 0.07, 0.1]),
    burst=st.integers(1, 5),
)
def test_redis_decides_as_the_in_process_bucket(limiters: Limiters, takes: list[str], rate: float, burst: int) -> None:
    shared, memory = limiters.limiter(rate, burst), RateLimiter(rate, burst)
    assert [shared(client, time.monotonic()) for client in takes] == [
        memory.take(client, time.monotonic()) for client in takes
    ]


def test_retry_after_is_whole_seconds_rounded_up(limiters: Limiters) -> None:
    take = limiters.limiter(0.25, 1)
    assert take("a", 0.0) is None
    assert take("a", 0.0) == Limited(4)


def test_the_clock_is_redis_s_not_the_caller_s(limiters: Limiters) -> None:
    # The caller's clock stands still (each process's monotonic clock has its own origin); the
    # bucket refills anyway, on Redis's TIME.
    take = limiters.limiter(4.0, 1)
    assert take("a", 0.0) is None
    time.sleep(0.3)  # 1.2 tokens at 4/s
    assert take("a", 0.0) is None


def test_concurrent_takes_never_spend_more_than_the_burst(limiters: Limiters) -> None:
    # One script per take: no two takes can both read the last token (a read-modify-write could).
    answers = limiters.at_once(0.001, 20, 100)
    assert not limiters.outage.down  # every take was Redis's
    assert (len(answers), sum(answer is None for answer in answers)) == (100, 20)


def test_an_idle_bucket_expires_and_keeps_no_token_in_the_clear(limiters: Limiters, admin: redis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    take = limiters.limiter(20.0, 2, prefix)
    assert take("token:s3cret", 0.0) is None
    [key] = admin.keys(f"{prefix}*")
    assert b"s3cret" not in key
    assert 0 < admin.pttl(key) <= 50  # one token short of full, at 20/s
    time.sleep(0.2)
    assert admin.keys(f"{prefix}*") == []


def test_a_redis_that_lost_the_script_gets_it_again(limiters: Limiters, admin: redis.Redis) -> None:
    take = limiters.limiter(0.001, 2)
    assert take("a", 0.0) is None
    admin.script_flush()  # as a restarted Redis: EVALSHA answers NOSCRIPT
    assert take("a", 0.0) is None
    assert take("a", 0.0) == Limited(1000)


def test_the_item_count_is_shared_and_expires(limiters: Limiters, admin: redis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    get, put = limiters.total(0.5, prefix)
    assert get(0.0) is None
    assert put(42, 0.0) == 42
    assert admin.get(f"{prefix}items:total") == b"42"
    assert 0 < admin.pttl(f"{prefix}items:total") <= 500
    other = Limiters(limiters.flavour, limiters.url)  # another process, with its own clock
    try:
        other_get, _ = other.total(0.5, prefix)
        assert other_get(100.0) == 42  # the expiry is Redis's
    finally:
        other.close()
    admin.delete(f"{prefix}items:total")  # how a writer of items would invalidate it
    assert get(0.0) is None


@pytest.fixture(params=FLAVOURS)
def limiters_on_own(request: pytest.FixtureRequest, own_redis: RedisServer) -> Iterator[Limiters]:
    built = Limiters(request.param, own_redis.url)
    yield built
    built.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_killed_redis_degrades_to_the_process_bucket_then_comes_back(
    flavour: str, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "twinport.redis")
    limiters = Limiters(flavour, own_redis.url)
    try:
        take = limiters.limiter(0.001, 2)
        get, put = limiters.total(10.0, "test:total:")
        assert [take("a", 0.0) for _ in range(3)] == [None, None, Limited(1000)]
        own_redis.kill()
        # Per process now, never off: this process's own bucket, which has not seen those takes.
        assert [take("a", 1.0) for _ in range(3)] == [None, None, Limited(1000)]
        assert (get(1.0), put(7, 1.0), get(1.1)) == (None, 7, 7)  # the local copy of the count
        warnings = [record for record in caplog.records if record.name == "twinport.redis"]
        assert len(warnings) == 1, warnings  # one warning per outage, not one per request
        assert "is not answering" in warnings[0].getMessage()
        own_redis.start()  # an empty Redis again, on the same port
        assert take("a", 1.5) == Limited(1000)  # within the pause Redis is not tried
        assert take("a", 5.0) is None  # then it is: a fresh bucket on Redis
        assert [take("a", 5.0) for _ in range(2)] == [None, Limited(1000)]
        messages = [record.getMessage() for record in caplog.records if record.name == "twinport.redis"]
        assert len(messages) == 2 and "answers again" in messages[1], messages
    finally:
        limiters.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_hung_redis_costs_one_timeout_then_is_left_alone_for_the_pause(flavour: str) -> None:
    # A server that accepts connections and never answers: each attempt ends at the socket
    # timeout, and the circuit breaker keeps the next requests from trying at all.
    connections: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.05)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):  # a look at ``stop`` every 50 ms
                    connections.append(listener.accept()[0])

        acceptor = threading.Thread(target=accept)
        acceptor.start()
        limiters = Limiters(flavour, f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
        try:
            take = limiters.limiter(0.001, 2)
            assert [take("a", 0.0), take("a", 0.5), take("a", 0.9)] == [None, None, Limited(1000)]
            assert limiters.outage.down
            assert isinstance(take("a", 1.1), Limited)  # the pause is over: tried again, and local again
            # After the next pause, of 8 takes at once only one tries Redis; the others stay local.
            assert limiters.at_once(0.001, 20, 8, now=2.5) == [None] * 8
            # Three attempts, three connections (redis-py drops one that timed out): the takes
            # within a pause never tried.
            deadline = time.monotonic() + 5
            while len(connections) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.1)
            assert len(connections) == 3
        finally:
            stop.set()
            acceptor.join()
            limiters.close()
            for connection in connections:
                connection.close()


def test_a_process_holds_a_bounded_number_of_connections(limiters_on_own: Limiters, own_redis: RedisServer) -> None:
    # 200 takes at once (Quart's tasks, or many threads) share at most MAX_CONNECTIONS; each
    # is answered, from Redis or, when a connection is not free in time, from the local bucket.
    answers = limiters_on_own.at_once(0.001, 1000, 200, parallel=200)
    assert len(answers) == 200 and sum(answer is None for answer in answers) == 200
    admin = redis.Redis.from_url(own_redis.url)
    try:
        assert 1 < len(admin.client_list()) <= MAX_CONNECTIONS + 1  # and this one
    finally:
        admin.close()
