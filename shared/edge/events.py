"""The in-process event hub behind ``/events``: a bounded replay buffer and live subscribers.

The edge, because it is concurrency: ``publish`` numbers an event and hands it to every subscriber; a
subscriber waits for the next event with a timeout, either blocking a thread (Flask, gunicorn's
gthread workers) or awaiting on an event loop (Quart). One lock guards the buffer and every
subscriber's queue, so a subscription taken with a Last-Event-ID gets the missed events and then
the live ones with no gap and no duplicate: the replay is copied and the subscriber registered in
one critical section, and every later ``publish`` is queued to it.

Ids carry the hub's boot (``<boot>-<n>``, ``EventId``): a process that restarts numbers from 1
again, so a Last-Event-ID of an earlier process must never be read as a position in the new
sequence (that client would silently miss the new events 1 to n). Same boot: the events after n;
another boot, or a bare integer from before ids carried one: everything kept.

Memory is bounded by count and by bytes, in the replay buffer (``replay``, ``replay_bytes``) and
in each subscriber's queue (``subscriber_backlog`` events, ``replay_bytes`` bytes); events are
shared, so a thousand subscribers behind by the same events hold them once. The hub does not keep
a subscriber alive: it holds them weakly, so a stream dropped before it ever ran (a client gone
before the body started) frees its place by itself.

Waking costs one call per event loop, not one per subscriber. Threads wait on the hub's condition,
notified once per publish. Coroutines are grouped by their loop (``_LoopWaker``): a publish marks
the waiting subscribers it queued to as due and makes ONE ``call_soon_threadsafe`` per loop that has
any (none when it already runs on that loop's thread: it wakes them directly), and that callback
wakes every due subscriber of the loop. Before, each subscriber cost its own thread-safe call (a
handle and a self-pipe write each): at 10,000 subscribers, 10,000 of them per event.

Heartbeats cost one timer per loop, not one per wait. A coroutine's wait ends at its deadline (the
heartbeat after its last frame); the loop's ``_LoopWaker`` keeps those deadlines in one heap and
arms ONE ``call_at``, for the earliest. A subscriber woken by an event before its deadline leaves
its entry where it is (no cancel, no new timer); when that entry comes up, it is moved to the
subscriber's current deadline. So a publish touches no timer at all, and each subscriber costs the
heap one push per heartbeat interval, however many events it gets. Before, every wait armed a
timer and every event cancelled one: 10,000 of each per event at 10,000 subscribers.

The hub implements ``shared.service.events.EventBackend``, the whole surface the views use; the
thread's subscription and the coroutine's (``HubSubscription``, ``AsyncHubSubscription``) are the
sync/async twin, side by side. The hub is in-process (one per app, so one per worker process).
The Redis backend (``shared.edge.redis_events``) reuses it as its local fan-out: its one reader
per process hands each stream entry to ``inject``, which queues and wakes as ``publish`` does.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import TypeVar

from ..protocol.representation import json_bytes
from ..service.events import Event, EventId, JSONValue, Quiet, StreamsFull

__all__ = [
    "DEFAULT_REPLAY_BYTES",
    "DEFAULT_SUBSCRIBER_BACKLOG",
    "AsyncHubSubscription",
    "EventHub",
    "HubSubscription",
    "new_boot",
]

# A subscriber that has this many events queued and unread is too slow to keep: it is let go
# (its stream ends after the queued events) and reconnects with Last-Event-ID, so a stuck client
# costs a bounded amount of memory instead of every event published while it is stuck.
DEFAULT_SUBSCRIBER_BACKLOG = 10_000
# The same default as the sse_replay_bytes setting.
DEFAULT_REPLAY_BYTES = 4 * 1024 * 1024

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_boot_lock = threading.Lock()
_last_boot = 0


def new_boot() -> str:
    """A compact token for a hub's start: the microseconds since the epoch in base 36 (ten
    characters, ``[0-9a-z]``), made strictly increasing within the process so that two hubs of one
    process (tests build many apps) never share one. Another process started later gets a later
    token; one started within the same microsecond is the only collision, which one worker per
    service (the README's rule for the in-process hub) cannot produce."""
    global _last_boot
    with _boot_lock:
        _last_boot = max(time.time_ns() // 1000, _last_boot + 1)
        value = _last_boot
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = _BASE36[digit] + digits
    return digits or "0"


class _Subscriber:
    """What both kinds of subscription share: a queue the hub fills under its lock, and an end."""

    def __init__(self, hub: EventHub, backlog: Iterable[Event], limit: int, byte_limit: int) -> None:
        self._hub = hub
        self._pending: deque[Event] = deque(backlog)
        self._pending_bytes = sum(event.size for event in self._pending)
        self._limit = limit
        self._byte_limit = byte_limit
        self._ended = False

    def close(self) -> None:
        """Unregister from the hub; a waiter on another thread or task wakes up ENDED."""
        self._hub._unsubscribe(self)

    @property
    def ended(self) -> bool:
        """Whether the hub has let it go (closed, shut down, or too slow): only its queue is left."""
        return self._ended

    # Called by the hub with its lock held.
    def _offer(self, event: Event) -> bool:
        """Queue ``event``; False when the subscriber is too far behind to keep: ``limit`` events
        or ``byte_limit`` bytes queued and unread. One event always fits an empty queue, so a
        subscriber that keeps up gets every event, even one larger than the byte bound."""
        if self._pending and (len(self._pending) >= self._limit or self._pending_bytes + event.size > self._byte_limit):
            return False
        self._pending.append(event)
        self._pending_bytes += event.size
        return True

    def _take(self) -> Event:
        event = self._pending.popleft()
        self._pending_bytes -= event.size
        return event

    def _end(self) -> None:
        self._ended = True

    def _wake(self) -> None:
        """Threads wait on the hub's condition, which the hub notifies once for all of them."""


_S = TypeVar("_S", bound=_Subscriber)


class HubSubscription(_Subscriber):
    """A thread's view of the hub: the missed events first, then each live one, in id order.

    Use it as a context manager, or call ``close``; either unregisters it from the hub.
    """

    def __enter__(self) -> HubSubscription:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
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
            return self._take()


class _LoopWaker:
    """The async subscribers of one event loop that a publish (or a close) has to wake, and the one
    callback on that loop that wakes them all.

    ``due`` and ``scheduled`` change under the hub's lock; ``run`` runs on the loop's thread. So do
    the deadlines of the loop's waits (``expire_at``), the loop's one timer for all of them.
    """

    __slots__ = ("__weakref__", "_deadlines", "_lock", "_order", "_timer", "due", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, lock: threading.Lock) -> None:
        self.loop = loop
        self._lock = lock
        self.due: list[AsyncHubSubscription] = []
        self.scheduled = False
        # A heap of (deadline, order, subscription): at most one live entry per subscription, the
        # one at its ``_expires``; ``order`` breaks ties without comparing subscriptions.
        self._deadlines: list[tuple[float, int, AsyncHubSubscription]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def expire_at(self, subscription: AsyncHubSubscription, deadline: float) -> None:
        """End the subscription's wait at ``deadline`` (loop time) if nothing wakes it first."""
        if subscription._expires is not None and subscription._expires <= deadline:
            return  # its entry comes up first, and is moved on to this deadline then
        subscription._expires = deadline
        heapq.heappush(self._deadlines, (deadline, next(self._order), subscription))
        if self._timer is None or deadline < self._timer.when():
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._expire_due)

    def _expire_due(self) -> None:
        self._timer = None
        heap, now = self._deadlines, self.loop.time()
        while heap and heap[0][0] <= now:
            deadline, _, subscription = heapq.heappop(heap)
            if subscription._expires != deadline:
                continue  # an entry it no longer has (an earlier one replaced it)
            subscription._expires = None
            waiter = subscription._waiter
            if waiter is None or waiter.done() or subscription._ended:
                continue  # not waiting now: its next wait makes a new entry
            if subscription._deadline <= now:
                waiter.set_result(None)  # it sees its deadline has passed: a heartbeat
            else:
                self.expire_at(subscription, subscription._deadline)  # it had an event since
        if heap and self._timer is None:
            self._timer = self.loop.call_at(heap[0][0], self._expire_due)

    def fire(self, running: asyncio.AbstractEventLoop | None) -> None:
        """Wake the due subscribers: at once on the loop's own thread (``running`` is the caller's
        running loop), else through one thread-safe call. Called without the hub's lock."""
        if running is self.loop:
            self.run()
            return
        try:
            self.loop.call_soon_threadsafe(self.run)
        except RuntimeError:  # the loop is closed: nobody can read its subscriptions any more
            with self._lock:
                due, self.due, self.scheduled = self.due, [], False
                for subscription in due:
                    subscription._due = False
                    subscription._hub._drop(subscription)  # its place in the cap is free again

    def run(self) -> None:
        with self._lock:
            due, self.due, self.scheduled = self.due, [], False
        for subscription in due:
            # A subscriber marked due after the swap above was not added again (it was still due),
            # but it is woken here all the same: after this it checks its queue under the lock.
            subscription._due = False
            waiter = subscription._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


class AsyncHubSubscription(_Subscriber):
    """The same subscription for a coroutine on one event loop.

    ``publish`` may run on any thread (a request thread, a job runner): it queues the event under
    the hub's lock and has the loop's ``_LoopWaker`` wake the waiting coroutine (with every other
    subscriber of that loop it queued to).
    """

    def __init__(self, hub: EventHub, backlog: Iterable[Event], limit: int, byte_limit: int, waker: _LoopWaker) -> None:
        super().__init__(hub, backlog, limit, byte_limit)
        self._loop = waker.loop
        self._waker = waker
        # The future the coroutine awaits while its queue is empty (set under the hub's lock), and
        # whether the waker already has it in ``due``.
        self._waiter: asyncio.Future[None] | None = None
        self._due = False
        # The current wait's deadline, and that of its entry in the waker's heap (None: no entry).
        self._deadline = 0.0
        self._expires: float | None = None

    def __enter__(self) -> AsyncHubSubscription:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    async def next_event(self, timeout: float) -> Event | Quiet:
        """Wait for the next event, at most ``timeout`` seconds, without blocking the loop."""
        deadline = self._loop.time() + timeout
        while True:
            with self._hub._lock:
                if self._pending:
                    return self._take()
                if self._ended:
                    return Quiet.ENDED
                if self._loop.time() >= deadline:
                    return Quiet.IDLE
                # Made under the lock: a publish after this point queues first, then wakes it.
                waiter = self._waiter = self._loop.create_future()
            self._deadline = deadline
            self._waker.expire_at(self, deadline)
            try:
                await waiter
            finally:
                self._waiter = None

    # Called by the hub with its lock held.
    def _wake(self) -> None:
        if self._waiter is None or self._due:
            return  # not waiting (it looks at its queue before it waits), or already to be woken
        self._due = True
        waker = self._waker
        waker.due.append(self)
        if not waker.scheduled:
            waker.scheduled = True
            self._hub._to_fire.append(waker)


class EventHub:
    """The in-process ``EventBackend``: ids ``<boot>-1``, ``<boot>-2``, ...; the newest events kept
    up to ``replay`` events and ``replay_bytes`` bytes; at most ``max_subscribers`` at once."""

    def __init__(
        self,
        replay: int = 1000,
        *,
        replay_bytes: int = DEFAULT_REPLAY_BYTES,
        subscriber_backlog: int = DEFAULT_SUBSCRIBER_BACKLOG,
        max_subscribers: int | None = None,
        boot: str | None = None,
    ) -> None:
        if (
            replay < 0
            or replay_bytes < 0
            or subscriber_backlog < 1
            or (max_subscribers is not None and max_subscribers < 0)
        ):
            raise ValueError(
                "replay, replay_bytes and max_subscribers must be >= 0 and subscriber_backlog >= 1, got "
                f"{replay}, {replay_bytes}, {max_subscribers} and {subscriber_backlog}"
            )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._boot = new_boot() if boot is None else boot
        self._replay: deque[Event] = deque()
        self._replay_limit = replay
        self._replay_bytes = replay_bytes
        self._kept_bytes = 0
        self._newest = 0
        # Weakly held, in arrival order: O(1) unsubscribe, publish visits subscribers oldest first,
        # and a subscription nobody can read any more (its stream dropped unstarted) leaves by itself.
        self._subscribers: weakref.WeakKeyDictionary[_Subscriber, None] = weakref.WeakKeyDictionary()
        self._subscriber_backlog = subscriber_backlog
        self._max_subscribers = max_subscribers
        self._closed = False
        # One waker per event loop with subscribers (it lives as long as they hold it), and the
        # wakers that the current critical section made due, fired once the lock is released.
        self._wakers: weakref.WeakValueDictionary[asyncio.AbstractEventLoop, _LoopWaker] = weakref.WeakValueDictionary()
        self._to_fire: list[_LoopWaker] = []

    @property
    def boot(self) -> str:
        return self._boot

    def publish(self, event_type: str, data: JSONValue) -> Event:
        """Number the event, keep it for replay if it fits, and queue it to every subscriber.

        An event larger than ``replay_bytes`` on its own is delivered live but not kept (refusing
        it instead would make ``replay_bytes = 0``, "keep nothing", refuse every event); keeping
        one drops the oldest until both bounds hold. Raises ``ValueError`` for a type with CR or
        LF and for NaN or infinity, ``TypeError`` for data JSON cannot hold.
        """
        text = json_bytes(data).decode("ascii").rstrip("\n")
        with self._changed:
            event = Event(EventId(self._boot, self._newest + 1), event_type, text)
            self._newest = event.id.serial
            self._keep(event)
            self._offer_all(event)
            wakers = self._take_wakers()
        _fire(wakers)
        return event

    async def publish_async(self, event_type: str, data: JSONValue) -> Event:
        """``publish`` from a coroutine: the same call (nothing here waits on I/O)."""
        return self.publish(event_type, data)

    def inject(self, events: Iterable[Event]) -> None:
        """Queue events numbered elsewhere (a Redis stream's entries, read by this process's one
        reader), in order, to every subscriber, as ``publish`` does, in one critical section and
        one wake-up; without keeping them: the stream keeps events for replay, so the hub that
        fans them out is built with ``replay = 0``."""
        with self._changed:
            for event in events:
                self._offer_all(event)
            wakers = self._take_wakers()
        _fire(wakers)

    def _offer_all(self, event: Event) -> None:
        """Queue ``event`` to every subscriber and wake them (the hub's lock held; the loops'
        wakers it made due are fired once the critical section ends)."""
        for subscriber in tuple(self._subscribers):
            if not subscriber._offer(event):
                self._drop(subscriber)
            subscriber._wake()
        self._changed.notify_all()

    def events_after(self, last_id: EventId | None) -> tuple[Event, ...]:
        """The kept events a client that last saw ``last_id`` missed, oldest first.

        ``None`` (a first connection) missed nothing. An id of another boot (an earlier process
        of this service, or a bare integer) missed everything kept, and so does one of this boot
        newer than any it issued (not ours, so no position in our sequence). An id older than the
        oldest kept gets what is kept; the events in between are gone.
        """
        with self._lock:
            return self._events_after(last_id)

    def subscribe(self, last_id: EventId | None = None) -> HubSubscription | StreamsFull:
        """Subscribe, or refuse when ``max_subscribers`` are already here (decided under the lock,
        so two racing clients cannot both take the last place)."""
        with self._lock:
            if self._full():
                return StreamsFull(self._max_subscribers or 0)
            return self._register(
                HubSubscription(self, self._events_after(last_id), self._subscriber_backlog, self._replay_bytes)
            )

    def subscribe_async(self, last_id: EventId | None = None) -> AsyncHubSubscription | StreamsFull:
        """Subscribe for a coroutine of the running event loop (or refuse, as ``subscribe``)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._full():
                return StreamsFull(self._max_subscribers or 0)
            waker = self._wakers.get(loop)
            if waker is None:
                waker = self._wakers[loop] = _LoopWaker(loop, self._lock)
            backlog = self._events_after(last_id)
            return self._register(
                AsyncHubSubscription(self, backlog, self._subscriber_backlog, self._replay_bytes, waker)
            )

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    async def open_async(self) -> None:
        """Nothing to start: the hub lives in this process."""

    async def close_async(self) -> None:
        """Nothing to stop: Quart's streams end when hypercorn cancels them (``close`` is Flask's
        shutdown step, gunicorn_conf.py)."""

    def close(self) -> None:
        """End every subscription, and every later one at once: the server is shutting down, and
        a stream that never ends would hold its shutdown until a timeout kills it."""
        with self._changed:
            self._closed = True
            for subscriber in tuple(self._subscribers):
                self._drop(subscriber)
                subscriber._wake()
            self._changed.notify_all()
            wakers = self._take_wakers()
        _fire(wakers)

    def _keep(self, event: Event) -> None:
        if self._replay_limit == 0 or event.size > self._replay_bytes:
            return
        self._replay.append(event)
        self._kept_bytes += event.size
        while len(self._replay) > self._replay_limit or self._kept_bytes > self._replay_bytes:
            self._kept_bytes -= self._replay.popleft().size

    def _events_after(self, last_id: EventId | None) -> tuple[Event, ...]:
        if last_id is None:
            return ()
        if last_id.boot != self._boot or last_id.serial > self._newest:
            return tuple(self._replay)
        # Kept events are in id order, but not always consecutive (one too large is not kept).
        return tuple(event for event in self._replay if event.id.serial > last_id.serial)

    def _full(self) -> bool:
        return (
            self._max_subscribers is not None and not self._closed and len(self._subscribers) >= self._max_subscribers
        )

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
            wakers = self._take_wakers()
        _fire(wakers)

    def _take_wakers(self) -> list[_LoopWaker]:
        wakers, self._to_fire = self._to_fire, []
        return wakers

    def _drop(self, subscription: _Subscriber) -> None:
        self._subscribers.pop(subscription, None)
        subscription._end()


def _fire(wakers: list[_LoopWaker]) -> None:
    """Fire the wakers a critical section made due, after it (without the hub's lock)."""
    if not wakers:
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # a thread without a loop: a request thread, a job runner
        running = None
    for waker in wakers:
        waker.fire(running)
