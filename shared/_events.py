"""The event hub behind ``/events``: a bounded replay buffer and live subscribers, in memory.

A data structure, not I/O: ``publish`` numbers an event and hands it to every subscriber; a
subscriber waits for the next event with a timeout, either blocking a thread (Flask, gunicorn's
gthread workers) or awaiting on an event loop (Quart). One lock guards the buffer and every
subscriber's queue, so a subscription taken with a Last-Event-ID gets the missed events and then
the live ones with no gap and no duplicate: the replay is copied and the subscriber registered in
one critical section, and every later ``publish`` is queued to it.

``EventBackend`` is the whole surface the adapters use. The hub is in-process (one per app, so one
per worker process); a broker-backed backend (Redis streams, NATS, Postgres LISTEN) would implement
the same six members, ids and replay included.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from collections import deque
from collections.abc import Iterable
from itertools import islice
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, TypeAlias, TypeVar

from ._representation import json_bytes
from ._sse import encode_event

__all__ = ["AsyncSubscription", "Event", "EventBackend", "EventHub", "JSONValue", "Quiet", "Subscription"]

JSONValue: TypeAlias = "None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]"

# A subscriber that has this many events queued and unread is too slow to keep: it is let go
# (its stream ends after the queued events) and reconnects with Last-Event-ID, so a stuck client
# costs a bounded amount of memory instead of every event published while it is stuck.
DEFAULT_SUBSCRIBER_BACKLOG = 10_000


@dataclass(frozen=True, slots=True)
class Event:
    """One published event: its id (1, 2, 3, ... per hub), its type, and its data as JSON text.

    The data is kept as compact, sorted, ASCII JSON (no line breaks, so one ``data:`` line), and
    ``frame`` is the event's bytes on an event stream, encoded once for every subscriber.
    """

    id: int
    type: str
    data: str
    frame: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # encode_event refuses a type with CR or LF, which would start a field of the caller's choosing.
        object.__setattr__(self, "frame", encode_event(id=self.id, event=self.type, data=self.data))


class Quiet(enum.Enum):
    """What a wait that brought no event means."""

    IDLE = "idle"  # nothing arrived within the timeout: time for a heartbeat
    ENDED = "ended"  # the subscription is over (closed, or let go for being too slow)


class _Subscriber:
    """What both kinds of subscription share: a queue the hub fills under its lock, and an end."""

    def __init__(self, hub: EventHub, backlog: Iterable[Event], limit: int) -> None:
        self._hub = hub
        self._pending: deque[Event] = deque(backlog)
        self._limit = limit
        self._ended = False

    def close(self) -> None:
        """Unregister from the hub; a waiter on another thread or task wakes up ENDED."""
        self._hub._unsubscribe(self)

    # Called by the hub with its lock held.
    def _offer(self, event: Event) -> bool:
        """Queue ``event``; False when the subscriber is too far behind to keep."""
        if len(self._pending) >= self._limit:
            return False
        self._pending.append(event)
        return True

    def _end(self) -> None:
        self._ended = True

    def _wake(self) -> None:
        """Threads wait on the hub's condition, which the hub notifies once for all of them."""


_S = TypeVar("_S", bound=_Subscriber)


class Subscription(_Subscriber):
    """A thread's view of the hub: the missed events first, then each live one, in id order.

    Use it as a context manager, or call ``close``; either unregisters it from the hub.
    """

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def next_event(self, timeout: float) -> Event | Quiet:
        """Block this thread until the next event, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._hub._changed:
            while not self._pending:
                if self._ended:
                    return Quiet.ENDED
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Quiet.IDLE
                self._hub._changed.wait(remaining)
            return self._pending.popleft()


class AsyncSubscription(_Subscriber):
    """The same subscription for a coroutine on one event loop.

    ``publish`` may run on any thread (a request thread, a job runner): it queues the event under
    the hub's lock and wakes the waiting coroutine through ``call_soon_threadsafe``.
    """

    def __init__(self, hub: EventHub, backlog: Iterable[Event], limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(hub, backlog, limit)
        self._loop = loop
        self._wakeup = asyncio.Event()

    def __enter__(self) -> AsyncSubscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    async def next_event(self, timeout: float) -> Event | Quiet:
        """Wait for the next event, at most ``timeout`` seconds, without blocking the loop."""
        deadline = self._loop.time() + timeout
        while True:
            with self._hub._lock:
                if self._pending:
                    return self._pending.popleft()
                if self._ended:
                    return Quiet.ENDED
                # Cleared under the lock: a publish after this point queues first, then sets it.
                self._wakeup.clear()
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return Quiet.IDLE
            try:
                async with asyncio.timeout(remaining):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wakeup.set)
        except RuntimeError:  # the loop is closed: nobody waits on this subscription any more
            self._ended = True


class EventBackend(Protocol):
    """What ``/events`` needs from wherever events live (this hub, or later a broker)."""

    def publish(self, event_type: str, data: JSONValue) -> Event: ...

    def events_after(self, last_id: int | None) -> tuple[Event, ...]: ...

    def subscribe(self, last_id: int | None = None) -> Subscription: ...

    def subscribe_async(self, last_id: int | None = None) -> AsyncSubscription: ...

    def subscriber_count(self) -> int: ...

    def close(self) -> None: ...


class EventHub:
    """The in-process ``EventBackend``: ids from 1, the newest ``replay`` events kept."""

    def __init__(self, replay: int = 1000, *, subscriber_backlog: int = DEFAULT_SUBSCRIBER_BACKLOG) -> None:
        if replay < 0 or subscriber_backlog < 1:
            raise ValueError(f"replay must be >= 0 and subscriber_backlog >= 1, got {replay} and {subscriber_backlog}")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._replay: deque[Event] = deque(maxlen=replay)
        self._newest_id = 0
        # A dict as an ordered set: O(1) unsubscribe, and publish visits subscribers in arrival order.
        self._subscribers: dict[_Subscriber, None] = {}
        self._subscriber_backlog = subscriber_backlog
        self._closed = False

    def publish(self, event_type: str, data: JSONValue) -> Event:
        """Number the event, keep it for replay, and queue it to every subscriber.

        Raises ``ValueError`` for a type with CR or LF and ``TypeError`` for data JSON cannot hold.
        """
        text = json_bytes(data).decode("ascii").rstrip("\n")
        with self._changed:
            event = Event(self._newest_id + 1, event_type, text)
            self._newest_id = event.id
            self._replay.append(event)
            for subscriber in tuple(self._subscribers):
                if not subscriber._offer(event):
                    self._drop(subscriber)
                subscriber._wake()
            self._changed.notify_all()
        return event

    def events_after(self, last_id: int | None) -> tuple[Event, ...]:
        """The kept events a client that last saw ``last_id`` missed, oldest first.

        ``None`` (a first connection) missed nothing. An id newer than any this hub issued comes
        from before a restart (ids start again at 1): that client missed everything kept. An id
        older than the oldest kept gets what is kept; the events in between are gone.
        """
        with self._lock:
            return self._events_after(last_id)

    def subscribe(self, last_id: int | None = None) -> Subscription:
        with self._lock:
            return self._register(Subscription(self, self._events_after(last_id), self._subscriber_backlog))

    def subscribe_async(self, last_id: int | None = None) -> AsyncSubscription:
        """Subscribe for a coroutine of the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            return self._register(AsyncSubscription(self, self._events_after(last_id), self._subscriber_backlog, loop))

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """End every subscription, and every later one at once: the server is shutting down, and
        a stream that never ends would hold its shutdown until a timeout kills it."""
        with self._changed:
            self._closed = True
            for subscriber in tuple(self._subscribers):
                self._drop(subscriber)
                subscriber._wake()
            self._changed.notify_all()

    def _events_after(self, last_id: int | None) -> tuple[Event, ...]:
        if last_id is None or last_id == self._newest_id:
            return ()
        if last_id > self._newest_id:
            return tuple(self._replay)
        # Ids are consecutive, so the missed events are the last (newest - last_id) kept ones.
        missed = self._newest_id - last_id
        return tuple(islice(self._replay, max(0, len(self._replay) - missed), None))

    def _register(self, subscription: _S) -> _S:
        if self._closed:
            subscription._end()  # it still gets its backlog, then ENDED
        else:
            self._subscribers[subscription] = None
        return subscription

    def _unsubscribe(self, subscription: _Subscriber) -> None:
        with self._changed:
            if subscription in self._subscribers:
                self._drop(subscription)
            subscription._wake()
            self._changed.notify_all()

    def _drop(self, subscription: _Subscriber) -> None:
        del self._subscribers[subscription]
        subscription._end()
