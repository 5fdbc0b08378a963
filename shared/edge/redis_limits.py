"""The guards' token buckets and the paging API's item count shared through Redis (``redis_url``),
so that a limit holds across every worker and host instead of once per process.

A take is one atomic Lua script (``TOKEN_BUCKET``): read the bucket, refill it, take a token or
not, write it back, all inside Redis, so two workers taking at once cannot both spend the last
token (a read-modify-write from Python could). redis-py's ``Script`` sends it by its SHA1
(EVALSHA) and loads it again when a Redis restarted without it answers NOSCRIPT. The time is
Redis's own (``TIME``, inside the script): the callers' monotonic clocks have different origins
in every process and host. A bucket is a hash (``tokens``, ``at`` in microseconds) that expires
when it would be full again: an idle client's bucket is then the same as none, and costs nothing.
Redis 7 replicates a script's effects, not the script, so reading ``TIME`` before writing needs no
``redis.replicate_commands()``.

When Redis does not answer, the limits degrade instead of failing: each limiter falls back to its
in-process bucket (``shared.edge.counters``: per process again, never off) and the cache to its
local copy; ``RedisOutage`` logs one warning per outage and stops trying Redis for
``OUTAGE_PAUSE`` seconds, then lets one request probe it, so a hung Redis costs a request at most
the socket timeout (``SOCKET_TIMEOUT``, with no retry after a timeout), and then one request per
pause. Each process holds at most ``MAX_CONNECTIONS`` (a blocking pool, waited for no longer than
the socket timeout).

Each sync class (redis-py's client, for Flask's threads) has its asyncio twin (``redis.asyncio``,
for Quart's loop) beside it. Keys are ``KEY_PREFIX`` + ``bucket:<guard>:<client>`` and
``KEY_PREFIX`` + ``items:total``; the client part is a hash, so a bearer token never appears in
Redis in the clear.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ..service.guard import Limited
from .counters import RateLimiter, TotalCache

__all__ = [
    "HEALTH_CHECK_INTERVAL",
    "KEY_PREFIX",
    "MAX_CONNECTIONS",
    "OUTAGE_PAUSE",
    "SOCKET_TIMEOUT",
    "TOKEN_BUCKET",
    "AsyncRedisRateLimiter",
    "AsyncRedisTotalCache",
    "RedisOutage",
    "RedisRateLimiter",
    "RedisTotalCache",
    "async_redis_client",
    "redis_client",
]

log = logging.getLogger("twinport.redis")

KEY_PREFIX = "twinport:"
# Bounds on what a Redis that hangs costs: a connect or a reply slower than this fails the call
# (and the request goes on with the in-process bucket), then Redis is left alone for the pause.
SOCKET_TIMEOUT = 0.2
OUTAGE_PAUSE = 1.0
MAX_CONNECTIONS = 32
HEALTH_CHECK_INTERVAL = 30  # a PING before reusing a connection idle that long (a restarted Redis)

# KEYS[1] the bucket; ARGV rate (tokens/s), burst. Returns {1 taken | 0 refused, tokens left}.
# The tokens as a string: Redis turns a Lua number into an integer reply. %.17g keeps every bit
# of a double, and microseconds since 1970 (~1.8e15) are exact in one.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens, at = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000000)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) * 1000 / rate)))
return {taken, string.format('%.17g', tokens)}
"""


def _pool_options() -> dict[str, Any]:
    # A bounded pool: at most MAX_CONNECTIONS per process (a Quart worker with thousands of requests
    # at once, or gevent's greenlets, would otherwise open one each), and a request waits for one
    # no longer than for a reply. A refused connection (a Redis restarting, a pooled connection it
    # dropped) is retried once at once; a timeout is not (it would double what a hung Redis costs).
    return {
        "max_connections": MAX_CONNECTIONS,
        "timeout": SOCKET_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "retry_on_timeout": False,
    }


def redis_client(url: str) -> redis.Redis:
    """The sync client of one app (Flask: one per worker process); it connects on first use."""
    retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    return redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(url, retry=retry, **_pool_options()))


def async_redis_client(url: str) -> redis.asyncio.Redis:
    """The asyncio client of one app (Quart); it connects on first use, in the serving loop."""
    retry = AsyncRetry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    pool = redis.asyncio.BlockingConnectionPool.from_url(url, retry=retry, **_pool_options())
    return redis.asyncio.Redis.from_pool(pool)


class RedisOutage:
    """Whether to try Redis now: after a failure, not for ``pause`` seconds (a circuit breaker on
    the caller's monotonic clock). One warning when an outage begins, one line when it ends.
    One per app, shared by its limiters and its cache; thread-safe (Flask's gthread workers)."""

    def __init__(self, url: str, *, pause: float = OUTAGE_PAUSE) -> None:
        # Where, for the log: host and port (or socket path), never the URL's password.
        parts = urlsplit(url)
        self._where = parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
        self._pause = pause
        self._retry_at = 0.0
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def should_try(self, now: float) -> bool:
        """Yes while Redis answers; during an outage, no until the pause is over, and then yes for
        one caller only (the probe), the others staying local until it answers or fails: a hung
        Redis costs one request a timeout per pause, not every request arriving meanwhile."""
        if not self._down:  # the common case: no lock
            return True
        with self._lock:
            if now < self._retry_at:
                return False
            self._retry_at = now + self._pause
            return True

    def failed(self, now: float, error: RedisError) -> None:
        with self._lock:
            self._retry_at = now + self._pause
            began, self._down = not self._down, True
        if began:
            log.warning(
                "Redis at %s is not answering (%s): limits and the item count are per process until it is back",
                self._where,
                error,
            )

    def answered(self) -> None:
        if not self._down:  # the common case: no lock
            return
        with self._lock:
            ended, self._down = self._down, False
        if ended:
            log.warning("Redis at %s answers again: limits and the item count are shared again", self._where)


def _bucket_key(prefix: str, guard: str, client: str) -> str:
    return f"{prefix}bucket:{guard}:{hashlib.sha256(client.encode()).hexdigest()[:32]}"


class _Buckets:
    """What both limiters hold: the script, the bucket's shape, whose buckets, the fallback."""

    def __init__(
        self,
        client: redis.Redis | redis.asyncio.Redis,
        rate: float,
        burst: int,
        *,
        guard: str,
        outage: RedisOutage,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.local = RateLimiter(rate, burst)  # checks rate and burst, and is the fallback
        # redis-py's Script, or its AsyncScript: each subclass calls its own (EVALSHA, then
        # SCRIPT LOAD and EVALSHA again on NOSCRIPT).
        self._script: Any = client.register_script(TOKEN_BUCKET)
        self._args = (repr(float(rate)), burst)
        self._rate = rate
        self._guard = guard
        self._prefix = prefix
        self._outage = outage

    def _keys(self, client: str) -> list[str]:
        return [_bucket_key(self._prefix, self._guard, client)]

    def _decision(self, reply: list[Any]) -> Limited | None:
        self._outage.answered()
        taken, tokens = reply
        return None if int(taken) else Limited.short_of(float(tokens), self._rate)


class RedisRateLimiter(_Buckets):
    """``shared.service.guard.Limiter`` shared by every process on one Redis (Flask)."""

    def take(self, client: str, now: float) -> Limited | None:
        if self._outage.should_try(now):
            try:
                reply = self._script(keys=self._keys(client), args=self._args)
            except RedisError as error:
                self._outage.failed(now, error)
            else:
                return self._decision(reply)
        return self.local.take(client, now)


class AsyncRedisRateLimiter(_Buckets):
    """``shared.service.guard.AsyncLimiter`` shared by every process on one Redis (Quart)."""

    async def take_async(self, client: str, now: float) -> Limited | None:
        if self._outage.should_try(now):
            try:
                reply = await self._script(keys=self._keys(client), args=self._args)
            except RedisError as error:
                self._outage.failed(now, error)
            else:
                return self._decision(reply)
        return self.local.take(client, now)


# The total count is invalidated by its expiry only (``total_count_ttl``): the service never
# writes items (they are seeded once). Code that ever inserts or deletes items must delete
# ``KEY_PREFIX + "items:total"`` (and the local copies then live out their ttl).
class _Total:
    """What both caches hold: the key, the ttl, the local copy for an outage."""

    def __init__(self, ttl: float, *, outage: RedisOutage, prefix: str = KEY_PREFIX) -> None:
        self.local = TotalCache(ttl)
        self._key = f"{prefix}items:total"
        self._outage = outage
        # total_count_ttl is fractional seconds: PX keeps it (EX would round 0.5 s to 0 or 1).
        self._expiry_ms = round(ttl * 1000)

    def _read(self, value: bytes | str | None) -> int | None:
        self._outage.answered()
        return None if value is None else int(value)

    def _should_write(self, value: int, now: float) -> bool:
        self.local.put(value, now)
        return self._expiry_ms > 0 and self._outage.should_try(now)


class RedisTotalCache(_Total):
    """``shared.edge.counters.TotalCount`` on Redis: one COUNT per ttl for every process (Flask)."""

    def __init__(self, client: redis.Redis, ttl: float, *, outage: RedisOutage, prefix: str = KEY_PREFIX) -> None:
        super().__init__(ttl, outage=outage, prefix=prefix)
        self._client = client

    def get(self, now: float) -> int | None:
        if self._outage.should_try(now):
            try:
                return self._read(self._client.get(self._key))
            except RedisError as error:
                self._outage.failed(now, error)
        return self.local.get(now)

    def put(self, value: int, now: float) -> int:
        if self._should_write(value, now):
            try:
                self._client.set(self._key, value, px=self._expiry_ms)
                self._outage.answered()
            except RedisError as error:
                self._outage.failed(now, error)
        return value


class AsyncRedisTotalCache(_Total):
    """``shared.edge.counters.AsyncTotalCount`` on Redis (Quart)."""

    def __init__(
        self, client: redis.asyncio.Redis, ttl: float, *, outage: RedisOutage, prefix: str = KEY_PREFIX
    ) -> None:
        super().__init__(ttl, outage=outage, prefix=prefix)
        self._client = client

    async def get_async(self, now: float) -> int | None:
        if self._outage.should_try(now):
            try:
                return self._read(await self._client.get(self._key))
            except RedisError as error:
                self._outage.failed(now, error)
        return self.local.get(now)

    async def put_async(self, value: int, now: float) -> int:
        if self._should_write(value, now):
            try:
                await self._client.set(self._key, value, px=self._expiry_ms)
                self._outage.answered()
            except RedisError as error:
                self._outage.failed(now, error)
        return value
