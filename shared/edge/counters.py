"""Per-process state that a worker's threads share: the per-client token buckets of the guards
(seed §2.7.3: "rate limit") and the paging API's cached item count.

The edge, because of the locks (gunicorn's gthread workers call both from many threads); the
adapters pass the clock. Each client has a bucket of ``burst`` tokens
refilled at ``rate`` per second; a request takes one or is refused with the seconds until one is
back (``Retry-After``, RFC 9110 §10.2.3, whole seconds rounded up). Per process: with several
workers each holds its own buckets, so the effective limit is ``workers`` times as high, unless
``redis_url`` is set: then ``shared.edge.redis_limits`` shares them, and falls back to these while
Redis is away.

Each has its awaited twin (``take_async``, ``get_async``, ``put_async``) for Quart, which awaits
whichever limiter and cache it was given: here a coroutine that never suspends (no lock is ever
held across an await, so the loop thread only ever waits for another thread's few microseconds).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

from ..service.guard import Limited

__all__ = ["AsyncTotalCount", "RateLimiter", "TotalCache", "TotalCount"]


class TotalCount(Protocol):
    """The paging API's cached item count (Flask): ``get`` None means count again and ``put``."""

    def get(self, now: float) -> int | None: ...
    def put(self, value: int, now: float) -> int: ...


class AsyncTotalCount(Protocol):
    """``TotalCount`` for an event loop (Quart)."""

    async def get_async(self, now: float) -> int | None: ...
    async def put_async(self, value: int, now: float) -> int: ...


class RateLimiter:
    """``shared.service.guard.Limiter`` in memory: a bucket per client, at most ``max_clients``."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = 10_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._max_clients = max_clients  # bounded memory: the least recently seen client goes first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()  # Flask's gthread workers call it from many threads

    def take(self, client: str, now: float) -> Limited | None:
        """None when the request may go on; ``Limited`` when the client must wait."""
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
            if tokens >= 1:
                self._remember(client, tokens - 1, now)
                return None
            self._remember(client, tokens, now)
            return Limited.short_of(tokens, self.rate)

    async def take_async(self, client: str, now: float) -> Limited | None:
        return self.take(client, now)

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)


class TotalCache:
    """The paging API's item count, reused for ``ttl`` seconds so a list request does not count
    the table every time (seed §2.8 operations tip). The adapters pass a monotonic clock."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._value: int | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self, now: float) -> int | None:
        with self._lock:
            return self._value if self._value is not None and now < self._expires else None

    def put(self, value: int, now: float) -> int:
        with self._lock:
            self._value, self._expires = value, now + self.ttl
            return value

    async def get_async(self, now: float) -> int | None:
        return self.get(now)

    async def put_async(self, value: int, now: float) -> int:
        return self.put(value, now)
