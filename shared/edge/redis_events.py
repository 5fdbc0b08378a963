"""The Redis ``EventBackend``: events in one Redis Stream, read once per process, fanned out here.

Publishing is ``XADD twinport:events MAXLEN <n> * t <type> d <data>``: the stream numbers the
event (its entry id ``<ms>-<seq>`` is the event's id, so ids grow with the clock and are never
reused across restarts of this service or of Redis) and keeps the newest ``n`` for replay, for
every worker and host at once. Flask publishes with redis-py's sync client, Quart with
``redis.asyncio`` (never a blocking call on its loop).

Each process runs ONE reader (a thread for Flask, a task on the serving loop for Quart) doing a
blocking ``XREAD`` from the last id it saw, and hands each entry to an in-process ``EventHub``
(``inject``), which fans it out to the local subscribers with the hub's machinery: one wake-up
per loop, one heartbeat timer per loop, bounded queues, weakly held subscribers, the stream cap.
No client costs a Redis connection.

Replay (a Last-Event-ID): the subscriber is registered in the hub FIRST, so every entry the
reader injects from then on is queued to it; THEN the missed entries are read with ``XREVRANGE``
(the newest, within ``sse_replay`` and ``sse_replay_bytes``). The two overlap by whatever the
reader injected between the two steps, and may miss nothing: an entry is either in the stream
when the range is read (so in the range), or added after it (so injected after the registration).
The subscription delivers the range, then only live events with a larger id than the last it
delivered: no gap, no duplicate (tests/test_redis_events.py races them on purpose). A
Last-Event-ID older than the stream's first entry gets what is kept; one the stream did not
issue (the in-process hub's, a bare integer, or one newer than the stream's newest: a Redis that
lost its data) gets everything kept, as the in-process hub does.

``sse_replay_bytes``: the stream is trimmed by count only (Redis trims by count or id, not size),
so Redis holds at most ``max(sse_replay, MIN_STREAM_LENGTH)`` events of at most
``publish_max_bytes`` each; what one reconnecting client is sent from it is bounded by
``sse_replay_bytes`` (the newest events that fit; one larger on its own is not replayed, as the
in-process hub does not keep it), and each subscriber's queue by the hub's byte bound.

A Redis that goes away: ``POST /events`` answers 503 with Retry-After (``EventsUnavailable``),
within the socket timeout; open streams keep their heartbeats (the hub times them, not Redis); a
new subscriber's replay is retried at each quiet moment until Redis answers; the reader retries
with a capped backoff and resumes from its last id, so what other processes published once Redis
was back reaches every stream here. An outage of longer than the stream's length in events cannot
be bridged (trimmed entries are gone) and the reader goes on from the oldest entry kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError, RedisError
from redis.retry import Retry

from ..protocol.representation import json_bytes
from ..service.events import Event, EventId, EventsUnavailable, JSONValue, Quiet, StreamsFull
from .events import DEFAULT_SUBSCRIBER_BACKLOG, AsyncHubSubscription, EventHub, HubSubscription
from .redis_limits import KEY_PREFIX  # the one place the keys' prefix is set

__all__ = ["MIN_STREAM_LENGTH", "AsyncRedisSubscription", "RedisEvents", "RedisSubscription"]

log = logging.getLogger("twinport.events")

# Readers need slack: an entry trimmed before a lagging reader reads it is lost to its process, so
# the stream keeps at least this many however small sse_replay is (sse_replay = 0 replays none).
MIN_STREAM_LENGTH = 1000
# A request's Redis call waits at most this long for a connection, and for an answer.
SOCKET_TIMEOUT = 2.0
# The reader's XREAD blocks this long; its socket waits a little more before it calls Redis hung.
READ_BLOCK = 5.0
READ_COUNT = 500
MAX_CONNECTIONS = 32  # per process, for publishes and replays (the reader has its own)
# The reader's reconnect backoff: doubling from the first to the cap, with jitter.
BACKOFF_FIRST, BACKOFF_CAP = 0.05, 1.0
# A replay that Redis could not serve is tried again this often (a heartbeat still goes out on time).
REPLAY_RETRY = 0.25
# Entries per XREVRANGE of a replay.
REPLAY_PAGE = 100
RETRY_AFTER = 2
# Its own generator: the module's shared one belongs to whoever seeded it (hypothesis checks it).
_JITTER = random.Random()
UNREACHABLE = "Events cannot be published now: the event store (Redis) is unreachable; try again later."

Entry = tuple[bytes, dict[bytes, bytes]]


def _client_options(socket_timeout: float) -> dict[str, Any]:
    # A bounded pool (a Quart worker publishing for a thousand requests at once would otherwise
    # open a thousand connections), waited for no longer than a reply. One retry, at once, on a
    # connection error only (a pooled connection Redis closed when it restarted); none on a
    # timeout (redis-py's Retry retries TimeoutError too unless told: a frozen Redis cost a
    # publish two socket timeouts), so a hung Redis costs a request at most the socket timeout.
    return {
        "max_connections": MAX_CONNECTIONS,
        "timeout": SOCKET_TIMEOUT,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "health_check_interval": 30,
    }


def _sync_client(url: str, socket_timeout: float) -> redis.Redis:
    retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    pool = redis.BlockingConnectionPool.from_url(url, retry=retry, **_client_options(socket_timeout))
    return redis.Redis.from_pool(pool)


def _async_client(url: str, socket_timeout: float) -> aioredis.Redis:
    retry = AsyncRetry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    pool = aioredis.BlockingConnectionPool.from_url(url, retry=retry, **_client_options(socket_timeout))
    return aioredis.Redis.from_pool(pool)


def _event_id(entry_id: bytes) -> EventId:
    milliseconds, _, sequence = entry_id.decode("ascii").partition("-")
    return EventId(milliseconds, int(sequence))


def _event(entry: Entry) -> Event | None:
    """A stream entry as an event; None for one this service did not write (it is skipped)."""
    entry_id, fields = entry
    try:
        return Event(_event_id(entry_id), fields[b"t"].decode("utf-8"), fields[b"d"].decode("ascii"))
    except (KeyError, ValueError):
        return None


def _events(entries: Iterable[Entry]) -> list[Event]:
    return [event for event in map(_event, entries) if event is not None]


def _key(event: Event) -> tuple[int, int]:
    return cast(tuple[int, int], event.id.stream_key())


class _Replay:
    """What a subscription with a Last-Event-ID still needs from the stream: the newest entries
    after its id, within ``count`` and ``byte_limit``, read newest first a page at a time (so a
    reconnect holds at most a page beyond what it keeps, whatever the events' size)."""

    def __init__(self, last_id: EventId, count: int, byte_limit: int) -> None:
        self.after = last_id.stream_key()
        self.count = count
        self.byte_limit = byte_limit
        self._kept: list[Event] = []
        self._size = 0

    @property
    def low(self) -> str:
        """The range's exclusive low end: after the client's id (or the stream's start)."""
        return "-" if self.after is None else f"({self.after[0]}-{self.after[1]}"

    def first(self, pipe: Any, key: str) -> None:
        """The first page and the stream's newest entry, in one transaction so that they agree."""
        self._kept, self._size = [], 0  # a read that failed half-way starts again
        pipe.xrevrange(key, "+", self.low, count=REPLAY_PAGE)
        pipe.xrevrange(key, "+", "-", count=1)

    def foreign(self, newest: Sequence[Entry]) -> bool:
        """Whether the id is newer than the stream's newest entry: not the stream's (a Redis that
        lost its data, say), so it names no position and gets all that is kept."""
        event = _event(newest[0]) if newest and self.after is not None else None
        if event is None or self.after is None or _key(event) >= self.after:
            return False
        self.after = None
        return True

    def take(self, page: Sequence[Entry]) -> str | None:
        """Keep what fits from a page (newest first); the next page's high end, or None: done.
        An event larger than the byte bound on its own is skipped (the in-process hub does not
        keep one either)."""
        for event in _events(page):
            if event.size > self.byte_limit:
                continue
            if len(self._kept) >= self.count or self._size + event.size > self.byte_limit:
                return None
            self._kept.append(event)
            self._size += event.size
        if len(page) < REPLAY_PAGE or len(self._kept) >= self.count:
            return None
        return "(" + page[-1][0].decode("ascii")

    def events(self) -> list[Event]:
        return self._kept[::-1]


_Inner = TypeVar("_Inner", HubSubscription, AsyncHubSubscription)


class _Delivery(Generic[_Inner]):
    """What both kinds of subscription share: the hub's subscription (``inner``) behind the
    replayed events; the replayed events first, then live ones past them."""

    def __init__(self, backend: RedisEvents, inner: _Inner, replay: _Replay | None) -> None:
        self._backend = backend
        self._inner: _Inner = inner
        self._replay = replay
        self._backlog: deque[Event] = deque()
        # The newest id delivered (or the client's own): a live event at or before it is a duplicate.
        self._last = replay.after if replay is not None else None

    def _replayed(self, replay: _Replay) -> None:
        events = replay.events()
        self._replay = None
        self._backlog.extend(events)
        # A live event at or before the last replayed (or the client's own id, if that named a
        # position in the stream) is one the client has.
        self._last = _key(events[-1]) if events else replay.after

    def _next_replayed(self) -> Event | None:
        return self._backlog.popleft() if self._backlog else None

    def _fresh(self, outcome: Event | Quiet) -> bool:
        """Whether to hand on ``outcome`` (False: a live event the replay already delivered)."""
        if isinstance(outcome, Event):
            key = _key(outcome)
            if self._last is not None and key <= self._last:
                return False
            self._last = key
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Unregister from the hub (either kind of subscription: a thread's or a coroutine's)."""
        self._inner.close()


class RedisSubscription(_Delivery[HubSubscription]):
    """A thread's subscription: the hub's, behind the replay read from the stream."""

    def next_event(self, timeout: float) -> Event | Quiet:
        """Block this thread until the next event, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._replay is not None:
            if self._inner.ended:
                return Quiet.ENDED
            try:
                self._replayed(self._backend._read_replay(self._replay))
            except RedisError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Quiet.IDLE
                time.sleep(min(remaining, REPLAY_RETRY))
        if (event := self._next_replayed()) is not None:
            return event
        while True:
            outcome = self._inner.next_event(max(0.0, deadline - time.monotonic()))
            if self._fresh(outcome):
                return outcome


class AsyncRedisSubscription(_Delivery[AsyncHubSubscription]):
    """The same for a coroutine on the serving loop (the replay read with the asyncio client)."""

    async def next_event(self, timeout: float) -> Event | Quiet:
        """Wait for the next event, at most ``timeout`` seconds, without blocking the loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._replay is not None:
            if self._inner.ended:
                return Quiet.ENDED
            try:
                self._replayed(await self._backend._read_replay_async(self._replay))
            except RedisError:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return Quiet.IDLE
                await asyncio.sleep(min(remaining, REPLAY_RETRY))
        if (event := self._next_replayed()) is not None:
            return event
        while True:
            outcome = await self._inner.next_event(max(0.0, deadline - loop.time()))
            if self._fresh(outcome):
                return outcome


class RedisEvents:
    """The Redis ``EventBackend`` of one process (see the module's docstring).

    Flask's side starts lazily (its clients and reader thread, on first use, again after a fork);
    Quart's in ``open_async`` (``before_serving``) and stops in ``close_async``.
    """

    def __init__(
        self,
        url: str,
        *,
        replay: int,
        replay_bytes: int,
        max_subscribers: int | None = None,
        subscriber_backlog: int = DEFAULT_SUBSCRIBER_BACKLOG,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self._url = url
        self._key = f"{prefix}events"
        self._replay = replay
        self._replay_bytes = replay_bytes
        self._length = max(replay, MIN_STREAM_LENGTH)
        # The local fan-out; it keeps nothing (the stream does).
        self._hub = EventHub(
            0, replay_bytes=replay_bytes, subscriber_backlog=subscriber_backlog, max_subscribers=max_subscribers
        )
        self._lock = threading.Lock()
        self._pid = 0
        self._client: redis.Redis | None = None
        self._stopping = threading.Event()
        # The reader's position: the id of the last entry it saw (None: not yet known).
        self._position: str | None = None
        self._async_client: aioredis.Redis | None = None
        self._reader_task: asyncio.Task[None] | None = None

    @property
    def boot(self) -> str:
        """This process's hub's token: not in the ids (the stream's), but it tells workers apart."""
        return self._hub.boot

    @property
    def key(self) -> str:
        return self._key

    # Publishing.

    def publish(self, event_type: str, data: JSONValue) -> Event:
        text = json_bytes(data).decode("ascii").rstrip("\n")
        Event(EventId("0", 0), event_type, text)  # refuses a type with CR or LF before it is stored
        try:
            entry_id = self._sync().xadd(self._key, {"t": event_type, "d": text}, maxlen=self._length)
        except RedisError as error:
            raise EventsUnavailable(UNREACHABLE, RETRY_AFTER) from error
        return Event(_event_id(cast(bytes, entry_id)), event_type, text)

    async def publish_async(self, event_type: str, data: JSONValue) -> Event:
        text = json_bytes(data).decode("ascii").rstrip("\n")
        Event(EventId("0", 0), event_type, text)
        client = self._async_client
        if client is None:
            raise EventsUnavailable("Events are not being served (the app has not started serving).", RETRY_AFTER)
        try:
            entry_id = await client.xadd(self._key, {"t": event_type, "d": text}, maxlen=self._length)
        except RedisError as error:
            raise EventsUnavailable(UNREACHABLE, RETRY_AFTER) from error
        return Event(_event_id(cast(bytes, entry_id)), event_type, text)

    # Subscribing.

    def events_after(self, last_id: EventId | None) -> tuple[Event, ...]:
        """What a client that last saw ``last_id`` missed, read from the stream (a thread's call)."""
        if last_id is None:
            return ()
        try:
            return tuple(self._read_replay(_Replay(last_id, self._replay, self._replay_bytes)).events())
        except RedisError as error:
            raise EventsUnavailable(UNREACHABLE, RETRY_AFTER) from error

    def subscribe(self, last_id: EventId | None = None) -> RedisSubscription | StreamsFull:
        self._sync()
        inner = self._hub.subscribe()
        if isinstance(inner, StreamsFull):
            return inner
        return RedisSubscription(self, inner, self._replay_for(last_id))

    def subscribe_async(self, last_id: EventId | None = None) -> AsyncRedisSubscription | StreamsFull:
        inner = self._hub.subscribe_async()
        if isinstance(inner, StreamsFull):
            return inner
        return AsyncRedisSubscription(self, inner, self._replay_for(last_id))

    def subscriber_count(self) -> int:
        return self._hub.subscriber_count()

    def _replay_for(self, last_id: EventId | None) -> _Replay | None:
        return None if last_id is None else _Replay(last_id, self._replay, self._replay_bytes)

    def _read_replay(self, replay: _Replay) -> _Replay:
        client = self._sync()
        with client.pipeline(transaction=True) as pipe:
            replay.first(pipe, self._key)
            page, newest = pipe.execute()
        if replay.foreign(newest):
            page = client.xrevrange(self._key, "+", "-", count=REPLAY_PAGE)
        while (high := replay.take(page)) is not None:
            page = client.xrevrange(self._key, high, replay.low, count=REPLAY_PAGE)
        return replay

    async def _read_replay_async(self, replay: _Replay) -> _Replay:
        client = self._async_client
        if client is None:
            raise RedisError("not serving")
        async with client.pipeline(transaction=True) as pipe:
            replay.first(pipe, self._key)
            page, newest = await pipe.execute()
        if replay.foreign(newest):
            page = await client.xrevrange(self._key, "+", "-", count=REPLAY_PAGE)
        while (high := replay.take(page)) is not None:
            page = await client.xrevrange(self._key, high, replay.low, count=REPLAY_PAGE)
        return replay

    # The reader: a thread (Flask).

    def _sync(self) -> redis.Redis:
        """This process's sync client, its reader thread started first (and again after a fork)."""
        pid = os.getpid()
        if self._pid == pid and self._client is not None:
            return self._client
        with self._lock:
            if self._pid != pid or self._client is None:
                self._client = _sync_client(self._url, SOCKET_TIMEOUT)
                self._stopping = threading.Event()
                # Where the reader starts: the stream's newest entry now, read here before any
                # subscriber registers, so nothing published after it subscribed is missed.
                self._position = self._tail_or_none(self._client)
                threading.Thread(target=self._read_forever, name="twinport-events-reader", daemon=True).start()
                self._pid = pid
        return self._client

    def _tail_or_none(self, client: redis.Redis) -> str | None:
        try:
            return _tail(cast(list[Entry], client.xrevrange(self._key, "+", "-", count=1)))
        except RedisError:
            return None

    def _read_forever(self) -> None:
        stopping = self._stopping
        client = _sync_client(self._url, READ_BLOCK + SOCKET_TIMEOUT)
        delay = BACKOFF_FIRST
        try:
            while not stopping.is_set():
                try:
                    if self._position is None:
                        self._position = _tail(cast(list[Entry], client.xrevrange(self._key, "+", "-", count=1)))
                    reply = client.xread({self._key: self._position}, count=READ_COUNT, block=int(READ_BLOCK * 1000))
                except RedisError as error:
                    if stopping.is_set():
                        break
                    _lost(error, delay)
                    stopping.wait(delay * _JITTER.uniform(0.5, 1.0))
                    delay = min(delay * 2, BACKOFF_CAP)
                    continue
                delay = _back(delay)
                self._deliver(cast(list[tuple[bytes, list[Entry]]], reply or []))
        finally:
            client.close()

    def _deliver(self, reply: list[tuple[bytes, list[Entry]]]) -> None:
        for _, entries in reply:
            if entries:
                self._position = entries[-1][0].decode("ascii")
                self._hub.inject(_events(entries))

    # The reader: a task on the serving loop (Quart).

    async def open_async(self) -> None:
        self._async_client = client = _async_client(self._url, SOCKET_TIMEOUT)
        try:
            self._position = _tail(cast(list[Entry], await client.xrevrange(self._key, "+", "-", count=1)))
        except RedisError:
            self._position = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_forever_async())

    async def _read_forever_async(self) -> None:
        client = _async_client(self._url, READ_BLOCK + SOCKET_TIMEOUT)
        delay = BACKOFF_FIRST
        try:
            while True:
                try:
                    if self._position is None:
                        self._position = _tail(cast(list[Entry], await client.xrevrange(self._key, "+", "-", count=1)))
                    reply = await client.xread(
                        {self._key: self._position}, count=READ_COUNT, block=int(READ_BLOCK * 1000)
                    )
                except RedisError as error:
                    _lost(error, delay)
                    await asyncio.sleep(delay * _JITTER.uniform(0.5, 1.0))
                    delay = min(delay * 2, BACKOFF_CAP)
                    continue
                delay = _back(delay)
                self._deliver(cast(list[tuple[bytes, list[Entry]]], reply or []))
        finally:
            await client.aclose()

    async def close_async(self) -> None:
        task, self._reader_task = self._reader_task, None
        if task is not None:
            # Cancelled until it is done: redis-py's asyncio client can swallow one cancellation
            # that lands inside a blocking XREAD (seen here: the task stayed "cancelling" for good).
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.1)
        client, self._async_client = self._async_client, None
        if client is not None:
            await client.aclose()
        self._hub.close()

    def close(self) -> None:
        """End every stream (the hub's ``close``), stop the reader thread and close the client."""
        self._stopping.set()
        self._hub.close()
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _lost(error: RedisError, delay: float) -> None:
    """One line when the reader loses Redis (not one per retry)."""
    if delay == BACKOFF_FIRST:
        log.warning("lost Redis (%s); reconnecting with backoff", error)


def _back(delay: float) -> float:
    if delay != BACKOFF_FIRST:
        log.warning("Redis is back; reading on from the last event seen")
    return BACKOFF_FIRST


def _tail(newest: list[Entry]) -> str:
    """Where a reader starts: after the stream's newest entry, or from the start of an empty one."""
    return newest[0][0].decode("ascii") if newest else "0-0"
