"""The composition root's wiring: the per-process objects each app builds from its settings.

Both ``create_app`` call these, so the two runtimes get the same bounds from the same settings:
the event hub and its stream cap, the two guards with their token buckets and the paging API's
item count (in process, or shared through Redis when ``redis_url`` is set: ``counters``, and
``async_counters`` for Quart), and what serving needs on disk first (``prepare_state``). This is
the only module that brings the settings, the service and the edge together.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from .edge.counters import AsyncTotalCount, RateLimiter, TotalCache, TotalCount
from .edge.events import EventHub
from .edge.files import ensure_data_dir
from .edge.store import database_url_for, prepare_database
from .service.events import EventBackend, RefusedEvents
from .service.guard import AsyncLimiter, BearerGuard, Limiter
from .service.items import ApiGuard
from .settings import Settings

__all__ = [
    "THREAD_PER_REQUEST",
    "AsyncCounters",
    "Counters",
    "api_guard",
    "async_counters",
    "counters",
    "database_pool_size",
    "event_hub_for",
    "prepare_state",
    "publish_guard",
    "stream_cap",
    "unshared_events",
]


# A guard's limiter: ``Limiter`` (Flask's, from ``counters``) or ``AsyncLimiter`` (Quart's).
AnyLimiter = TypeVar("AnyLimiter", Limiter, AsyncLimiter)

# The servings where each request, and each open stream, holds one thread of a fixed pool.
THREAD_PER_REQUEST = frozenset({("gunicorn", "gthread")})


def stream_cap(settings: Settings) -> int:
    """How many event streams one worker process may hold at once.

    Quart (any server) and Flask on gunicorn's gevent worker: ``sse_max_streams``; a stream is a
    coroutine (or a greenlet) and requests keep being answered beside any number of them. Flask on
    gunicorn gthread: each stream holds a thread until its client
    leaves, so streams may take at most ``floor(threads x sse_thread_share)`` of them (and never
    more than ``sse_max_streams``), leaving the rest to /healthz and the API. A worker with one
    thread gets none whatever the share: one stream would hold its only request slot until the
    client left, and every other request would wait: the outage this cap exists to prevent. So
    there /events is always 503. Test: tests/test_hardening_events.py (the 503, and /healthz
    meanwhile), per serving.
    """
    if (settings.server, settings.worker_class) not in THREAD_PER_REQUEST:
        return settings.sse_max_streams
    if settings.threads < 2:
        return 0
    # Exact decimal arithmetic: 100 x 0.29 is 28.999999999999996 in floats.
    share = math.floor(Fraction(repr(settings.sse_thread_share)) * settings.threads)
    return min(settings.sse_max_streams, share)


def event_hub_for(settings: Settings) -> EventBackend:
    """The event backend the settings describe, with their replay bounds, subscriber bounds and
    stream cap: the in-process hub; a Redis stream (``event_backend = "redis"``), shared by every
    worker and host; or, for the in-process hub behind several workers, a backend that refuses
    (``unshared_events``): each worker would have a hub of its own, and lose events silently."""
    if settings.event_backend == "redis":
        from .edge.redis_events import RedisEvents  # only where redis-py is installed and wanted

        return RedisEvents(
            settings.redis_url,
            replay=settings.sse_replay,
            replay_bytes=settings.sse_replay_bytes,
            max_subscribers=stream_cap(settings),
        )
    refusal = unshared_events(settings)
    if refusal is not None:
        return RefusedEvents(refusal)
    return EventHub(settings.sse_replay, replay_bytes=settings.sse_replay_bytes, max_subscribers=stream_cap(settings))


def unshared_events(settings: Settings) -> str | None:
    """Why ``/events`` cannot be served as configured, or None. The in-process hub with several
    workers: serving goes on (the API does not care), ``/events`` answers 503 with this, and
    ``twinport serve`` says it once at start. Refusing to start would take the API down for a
    setting that concerns one endpoint; a 503 that names the setting is found by the first client."""
    if settings.event_backend == "memory" and settings.workers > 1:
        return (
            f'/events needs event_backend = "redis" when workers > 1 (workers = {settings.workers}): '
            "each worker's in-process hub would see only the events published through it."
        )
    return None


@dataclass(frozen=True, slots=True)
class Counters:
    """One Flask app's limiters (``/api/v1``, ``POST /events``) and item count, and how to let
    go of what they hold (the Redis client's connections)."""

    api: Limiter
    publish: Limiter
    total: TotalCount
    close: Callable[[], None]


@dataclass(frozen=True, slots=True)
class AsyncCounters:
    """``Counters`` for one Quart app: awaited, and closed in ``after_serving``."""

    api: AsyncLimiter
    publish: AsyncLimiter
    total: AsyncTotalCount
    close: Callable[[], Awaitable[None]]


def counters(settings: Settings) -> Counters:
    """In process without ``redis_url``; with it, shared through Redis by every worker and host,
    each falling back to its in-process twin while Redis is away (``shared.edge.redis_limits``)."""
    if not settings.redis_url:
        return Counters(*_in_process(settings), close=lambda: None)
    from .edge import redis_limits  # redis-py is an extra: imported only when Redis is configured

    client = redis_limits.redis_client(settings.redis_url)
    outage = redis_limits.RedisOutage(settings.redis_url)
    return Counters(
        redis_limits.RedisRateLimiter(client, settings.rate_limit, settings.rate_burst, guard="api", outage=outage),
        redis_limits.RedisRateLimiter(
            client, settings.publish_rate, settings.publish_burst, guard="publish", outage=outage
        ),
        redis_limits.RedisTotalCache(client, settings.total_count_ttl, outage=outage),
        close=client.close,
    )


def async_counters(settings: Settings) -> AsyncCounters:
    """``counters`` for Quart: the same objects without Redis (their awaited twins never suspend),
    ``redis.asyncio`` with it, so no Redis call blocks the event loop."""
    if not settings.redis_url:
        return AsyncCounters(*_in_process(settings), close=_nothing_to_close)
    from .edge import redis_limits

    client = redis_limits.async_redis_client(settings.redis_url)
    outage = redis_limits.RedisOutage(settings.redis_url)
    return AsyncCounters(
        redis_limits.AsyncRedisRateLimiter(
            client, settings.rate_limit, settings.rate_burst, guard="api", outage=outage
        ),
        redis_limits.AsyncRedisRateLimiter(
            client, settings.publish_rate, settings.publish_burst, guard="publish", outage=outage
        ),
        redis_limits.AsyncRedisTotalCache(client, settings.total_count_ttl, outage=outage),
        close=client.aclose,
    )


def _in_process(settings: Settings) -> tuple[RateLimiter, RateLimiter, TotalCache]:
    return (
        RateLimiter(settings.rate_limit, settings.rate_burst),
        RateLimiter(settings.publish_rate, settings.publish_burst),
        TotalCache(settings.total_count_ttl),
    )


async def _nothing_to_close() -> None:
    return None


def publish_guard(settings: Settings, limiter: AnyLimiter) -> BearerGuard[AnyLimiter]:
    """``POST /events``: ``publish_tokens``, then ``limiter`` (``publish_rate``/``publish_burst``,
    from ``counters``) per address (a publisher's bucket is its address even with a token, so one
    client cannot multiply its rate by holding several tokens)."""
    return BearerGuard(settings.publish_tokens, limiter, subject="Publishing events", per_token=False)


def api_guard(settings: Settings, limiter: AnyLimiter) -> ApiGuard[AnyLimiter]:
    """``/api/v1``: ``api_tokens``, then ``limiter`` (``rate_limit``/``rate_burst``, from
    ``counters``) per token (per address without one)."""
    return ApiGuard(settings.api_tokens, limiter)


def database_pool_size(settings: Settings) -> int:
    """Connections per worker process, for both stores: ``db_pool_size``, or by default one per
    thread (``threads``), so no gthread request thread ever waits for a connection (a smaller
    pool makes a request that finds none free wait, then answer 503). Quart's store runs one
    database thread per connection, so for it this is also how many queries run at once."""
    return settings.db_pool_size or settings.threads


def prepare_state(settings: Settings) -> None:
    """The data directory with its sample files, and the database created and seeded: what
    serving needs first, and what introspection (``flask routes``) must not create. Safe to run
    in several workers at once, and again (it only finds them ready)."""
    ensure_data_dir(settings.data_dir)
    prepare_database(database_url_for(settings.database_url, settings.state_dir), items=settings.seed_items)
