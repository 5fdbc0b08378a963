"""The event hub (ids that carry the boot, the replay buffer bounded in count and bytes, sync and
async subscribers, letting go, the subscriber cap) and the /events protocol over it (the stream's
bytes for threads and coroutines, Last-Event-ID, publish bodies, the stream cap)."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
from typing import Any

import pytest
from hypothesis import given, strategies as st

from shared.compose import event_hub_for, stream_cap
from shared.edge.events import DEFAULT_SUBSCRIBER_BACKLOG, AsyncHubSubscription, EventHub, new_boot
from shared.protocol.representation import json_bytes
from shared.service import events
from shared.service.events import (
    HEARTBEAT,
    OPENING,
    Event,
    EventId,
    InvalidPublication,
    Publication,
    Quiet,
    StreamsFull,
    event_stream,
    event_stream_async,
    parse_last_event_id,
    parse_publication,
)

event_types = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


def published(hub: EventHub, count: int, event_type: str = "tick") -> list[Event]:
    return [hub.publish(event_type, {"n": n}) for n in range(count)]


def start(hub: EventHub) -> EventId:
    """The id a client has before this hub's first event."""
    return EventId(hub.boot, 0)


@given(replay=st.integers(0, 8), count=st.integers(0, 20))
def test_ids_count_from_one_after_the_boot_and_the_buffer_keeps_the_newest(replay: int, count: int) -> None:
    hub = EventHub(replay)
    events = published(hub, count)
    assert [event.id for event in events] == [EventId(hub.boot, n) for n in range(1, count + 1)]
    assert [str(event.id) for event in events] == [f"{hub.boot}-{n}" for n in range(1, count + 1)]
    assert hub.events_after(start(hub)) == tuple(events[max(0, count - replay) :])


@given(
    replay=st.integers(0, 8),
    count=st.integers(0, 20),
    last_serial=st.none() | st.integers(0, 30),
    boot=st.sampled_from(["same", "other", "bare"]),
)
def test_events_after_is_what_that_client_missed(replay: int, count: int, last_serial: int | None, boot: str) -> None:
    hub = EventHub(replay)
    kept = published(hub, count)[max(0, count - replay) :]
    last_id = (
        None if last_serial is None else EventId({"same": hub.boot, "other": new_boot(), "bare": ""}[boot], last_serial)
    )
    if last_id is None:
        expected: list[Event] = []  # a first connection
    elif boot != "same" or last_serial > count:  # type: ignore[operator]
        expected = kept  # an earlier process's id, or one of before boots, or never issued: all kept is news
    else:
        expected = [event for event in kept if event.id.serial > last_id.serial]  # nothing when up to date
    assert hub.events_after(last_id) == tuple(expected)


def test_every_hub_has_its_own_boot_and_later_hubs_sort_later() -> None:
    boots = [EventHub().boot for _ in range(100)]
    assert len(set(boots)) == 100
    assert all(boot.isascii() and boot.isalnum() and boot == boot.lower() and len(boot) <= 16 for boot in boots)
    assert [int(boot, 36) for boot in boots] == sorted(int(boot, 36) for boot in boots)


def test_the_replay_buffer_is_bounded_in_bytes_too_dropping_the_oldest() -> None:
    frame_size = len(EventHub().publish("big", "x" * 1000).frame)
    hub = EventHub(1000, replay_bytes=3 * frame_size + 10)
    events = [hub.publish("big", "x" * 1000) for _ in range(10)]
    assert hub.events_after(start(hub)) == tuple(events[-3:])
    assert sum(event.size for event in hub.events_after(start(hub))) <= 3 * frame_size + 10


def test_an_event_larger_than_the_replay_bound_is_delivered_live_but_not_kept() -> None:
    hub = EventHub(10, replay_bytes=200)
    small = hub.publish("small", 1)
    with hub.subscribe() as subscription:
        assert not isinstance(subscription, StreamsFull)
        large = hub.publish("large", "x" * 500)
        assert subscription.next_event(0) == large  # live: one event always fits an empty queue
        assert hub.subscriber_count() == 1
    later = hub.publish("small", 2)
    assert hub.events_after(start(hub)) == (small, later)
    # A client that saw the small one missed the large one for good, but nothing kept after it.
    assert hub.events_after(small.id) == (later,)


def test_replay_bytes_zero_keeps_nothing_and_still_delivers() -> None:
    hub = EventHub(10, replay_bytes=0)
    with hub.subscribe() as subscription:
        event = hub.publish("x", 1)
        assert subscription.next_event(0) == event
    assert hub.events_after(start(hub)) == ()


@given(event_type=event_types, data=json_values)
def test_an_event_is_one_sse_block_with_compact_sorted_json(event_type: str, data: object) -> None:
    hub = EventHub()
    event = hub.publish(event_type, data)
    assert json.loads(event.data) == data
    assert "\n" not in event.data and event.data == json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert event.frame == f"id: {hub.boot}-1\nevent: {event_type}\ndata: {event.data}\n\n".encode()


@pytest.mark.parametrize("event_type", ["a\nb", "a\rb", "a\r\nevent: forged"])
def test_a_type_with_a_line_break_is_refused_and_changes_nothing(event_type: str) -> None:
    hub = EventHub()
    with pytest.raises(ValueError):
        hub.publish(event_type, 1)
    assert hub.events_after(start(hub)) == () and hub.publish("ok", 1).id == EventId(hub.boot, 1)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), [1, {"v": float("inf")}]])
def test_nan_and_infinity_never_reach_a_stream(value: object) -> None:
    hub = EventHub()
    with pytest.raises(ValueError):
        hub.publish("x", value)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        json_bytes(value)
    assert hub.events_after(start(hub)) == ()


def test_a_subscription_gets_the_missed_events_then_live_ones_without_gap_or_duplicate() -> None:
    hub = EventHub(10)
    first, second = published(hub, 2)
    with hub.subscribe(first.id) as subscription:
        third = hub.publish("tick", 3)
        assert [subscription.next_event(0), subscription.next_event(0)] == [second, third]
        assert subscription.next_event(0) is Quiet.IDLE


def test_a_blocked_thread_wakes_for_an_event_published_on_another_thread() -> None:
    hub = EventHub()
    with hub.subscribe() as subscription:
        timer = threading.Timer(0.05, hub.publish, ("tick", 1))
        timer.start()
        started = time.monotonic()
        outcome = subscription.next_event(5)
        timer.join()
    assert isinstance(outcome, Event) and outcome.id == EventId(hub.boot, 1)
    assert time.monotonic() - started < 4


def test_an_idle_wait_ends_after_its_timeout() -> None:
    with EventHub().subscribe() as subscription:
        started = time.monotonic()
        assert subscription.next_event(0.05) is Quiet.IDLE
        assert time.monotonic() - started >= 0.05


async def test_an_async_subscriber_receives_from_its_loop_and_from_other_threads() -> None:
    hub = EventHub()
    with hub.subscribe_async() as subscription:
        hub.publish("same-loop", 1)
        threading.Timer(0.05, hub.publish, ("other-thread", 2)).start()
        first, second = await subscription.next_event(5), await subscription.next_event(5)
        assert [first.type, second.type] == ["same-loop", "other-thread"]
        assert await subscription.next_event(0.01) is Quiet.IDLE


async def test_sync_and_async_subscribers_receive_the_same_events() -> None:
    hub = EventHub()
    with hub.subscribe() as threaded, hub.subscribe_async() as looped:
        events = published(hub, 3)
        assert [threaded.next_event(0) for _ in events] == events
        assert [await looped.next_event(0) for _ in events] == events


def test_closing_frees_the_subscriber_and_wakes_its_waiter() -> None:
    hub = EventHub()
    subscription = hub.subscribe()
    outcomes: list[object] = []
    waiter = threading.Thread(target=lambda: outcomes.append(subscription.next_event(10)))
    waiter.start()
    time.sleep(0.02)
    assert hub.subscriber_count() == 1
    subscription.close()
    waiter.join(2)
    assert not waiter.is_alive() and outcomes == [Quiet.ENDED]
    assert hub.subscriber_count() == 0
    subscription.close()  # twice is harmless


async def test_closing_wakes_an_async_waiter() -> None:
    hub = EventHub()
    subscription = hub.subscribe_async()
    waiter = asyncio.ensure_future(subscription.next_event(10))
    await asyncio.sleep(0.01)
    subscription.close()
    assert await asyncio.wait_for(waiter, 2) is Quiet.ENDED
    assert hub.subscriber_count() == 0


async def test_a_cancelled_async_waiter_leaves_the_subscription_usable() -> None:
    hub = EventHub()
    with hub.subscribe_async() as subscription:
        waiter = asyncio.ensure_future(subscription.next_event(10))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        event = hub.publish("tick", 1)
        assert await subscription.next_event(1) == event
    assert hub.subscriber_count() == 0


async def test_a_heartbeat_comes_one_timeout_after_the_last_event_with_one_timer_for_every_waiter() -> None:
    # Each wait ends at its own deadline (the heartbeat after the subscriber's last frame), but the
    # loop holds one timer for all of them, and a publish arms or cancels none.
    loop = asyncio.get_running_loop()
    hub = EventHub()
    subscriptions = [subscribed(hub) for _ in range(50)]
    timeout = 0.3
    baseline = len(loop._scheduled)  # type: ignore[attr-defined]
    waits = [asyncio.ensure_future(each.next_event(timeout)) for each in subscriptions]
    await asyncio.sleep(0.05)
    assert len(loop._scheduled) == baseline + 1  # type: ignore[attr-defined]  # not one per waiter
    event = hub.publish("tick", 1)
    assert [await wait for wait in waits] == [event] * 50
    assert len(loop._scheduled) == baseline + 1  # type: ignore[attr-defined]  # the publish armed nothing
    # The first subscriber waits on from now: nothing for a timeout, then IDLE; not at the
    # deadline of its first wait, which comes 0.25 s sooner.
    started = loop.time()
    assert await subscriptions[0].next_event(timeout) is Quiet.IDLE
    assert loop.time() - started >= timeout
    # And a waiter with a shorter timeout than those already waiting is not held to theirs.
    longer = asyncio.ensure_future(subscriptions[1].next_event(30))
    await asyncio.sleep(0)
    started = loop.time()
    assert await asyncio.wait_for(subscriptions[2].next_event(0.05), 2) is Quiet.IDLE
    assert loop.time() - started < 5
    hub.close()
    assert await longer is Quiet.ENDED


def subscribed(hub: EventHub) -> AsyncHubSubscription:
    subscription = hub.subscribe_async()
    assert not isinstance(subscription, StreamsFull)
    return subscription


class CountingLoop(asyncio.SelectorEventLoop):
    """A real event loop that counts the thread-safe calls made to it (each one a self-pipe write)."""

    threadsafe_calls = 0

    def call_soon_threadsafe(self, *args: Any, **kwargs: Any) -> asyncio.Handle:
        self.threadsafe_calls += 1
        return super().call_soon_threadsafe(*args, **kwargs)


class LoopThread:
    """A thread running its own event loop with ``count`` subscribers of ``hub``, each reading
    until its stream ends; ``received`` holds what each one read, in order."""

    def __init__(self, hub: EventHub, count: int) -> None:
        self.loop = CountingLoop()
        self.received: list[list[Event]] = [[] for _ in range(count)]
        self.subscribed = threading.Event()
        self._hub = hub
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._read_all(),))

    def __enter__(self) -> LoopThread:
        self._thread.start()
        assert self.subscribed.wait(5)
        return self

    def __exit__(self, *_: object) -> None:
        self._thread.join(5)
        assert not self._thread.is_alive()
        self.loop.close()

    async def _read_all(self) -> None:
        subscriptions = [subscribed(self._hub) for _ in self.received]
        readers = [self._read(each, into) for each, into in zip(subscriptions, self.received, strict=True)]
        gathered = asyncio.gather(*readers)
        await asyncio.sleep(0)  # every reader waits before the test publishes
        self.subscribed.set()
        await asyncio.wait_for(gathered, 10)

    @staticmethod
    async def _read(subscription: AsyncHubSubscription, into: list[Event]) -> None:
        with subscription:
            while isinstance(outcome := await subscription.next_event(10), Event):
                into.append(outcome)


def test_subscribers_on_two_loops_in_two_threads_each_get_every_event_in_order() -> None:
    hub = EventHub()
    with LoopThread(hub, 3) as first, LoopThread(hub, 2) as second:
        events = published(hub, 50)
        hub.close()
    assert first.received == [events] * 3 and second.received == [events] * 2
    assert hub.subscriber_count() == 0


def test_a_publish_makes_one_threadsafe_call_per_loop_not_one_per_subscriber() -> None:
    hub = EventHub()
    with LoopThread(hub, 100) as looped:
        published(hub, 1)
        calls_for_one_event = looped.loop.threadsafe_calls
        hub.close()
    assert calls_for_one_event == 1
    assert [len(each) for each in looped.received] == [1] * 100


def test_a_publish_on_the_loops_own_thread_wakes_its_subscribers_without_a_threadsafe_call() -> None:
    loop = CountingLoop()
    hub = EventHub()

    async def scenario() -> list[Event | Quiet]:
        subscriptions = [subscribed(hub) for _ in range(10)]
        readers = asyncio.gather(*(each.next_event(5) for each in subscriptions))
        await asyncio.sleep(0)
        event = hub.publish("tick", 1)
        outcomes = await readers
        assert outcomes == [event] * 10
        for subscription in subscriptions:
            subscription.close()
        return outcomes

    try:
        assert len(loop.run_until_complete(scenario())) == 10
        assert loop.threadsafe_calls == 0
    finally:
        loop.close()


async def test_a_subscriber_closed_between_the_publish_and_its_wake_up_gets_the_event_then_ends() -> None:
    hub = EventHub()
    subscription = hub.subscribe_async()
    assert not isinstance(subscription, StreamsFull)
    waiter = asyncio.ensure_future(subscription.next_event(5))
    await asyncio.sleep(0)
    # Published on another thread: its wake-up is queued to this loop, which runs none of it until
    # this coroutine awaits, so the close below comes between the two.
    publisher = threading.Thread(target=hub.publish, args=("tick", 1))
    publisher.start()
    publisher.join(5)
    subscription.close()
    assert hub.subscriber_count() == 0
    event = await asyncio.wait_for(waiter, 5)
    assert isinstance(event, Event) and event.id == EventId(hub.boot, 1)
    assert await subscription.next_event(5) is Quiet.ENDED


def test_a_subscriber_whose_loop_closed_is_let_go_at_the_next_publish() -> None:
    hub = EventHub()
    gone = asyncio.new_event_loop()

    async def subscribe() -> AsyncHubSubscription:
        return subscribed(hub)

    subscription = gone.run_until_complete(subscribe())
    # Its coroutine, stepped by hand (no task: its loop will never run again), waits now.
    waiting = subscription.next_event(60)
    assert isinstance(waiting.send(None), asyncio.Future)
    gone.close()
    with hub.subscribe() as threaded:
        assert hub.subscriber_count() == 2
        event = hub.publish("tick", 1)  # the closed loop cannot be woken: its subscriber is let go
        assert threaded.next_event(0) == event
        assert hub.subscriber_count() == 1
    waiting.close()


def test_a_subscriber_too_far_behind_is_let_go_after_its_queued_events() -> None:
    hub = EventHub(100, subscriber_backlog=3)
    with hub.subscribe() as slow:
        events = published(hub, 5)
        assert hub.subscriber_count() == 0
        assert [slow.next_event(0) for _ in range(3)] == events[:3]
        assert slow.next_event(0) is Quiet.ENDED
    # It reconnects with the last id it saw and gets the rest from the replay buffer.
    assert hub.events_after(events[2].id) == tuple(events[3:])
    assert DEFAULT_SUBSCRIBER_BACKLOG >= 1000


def test_a_subscriber_whose_queue_passes_the_byte_bound_is_let_go() -> None:
    probe = EventHub().publish("big", "x" * 1000)
    hub = EventHub(100, replay_bytes=2 * probe.size)
    with hub.subscribe() as slow:
        events = [hub.publish("big", "x" * 1000) for _ in range(3)]
        assert hub.subscriber_count() == 0  # the third would have queued 3 x size bytes
        assert [slow.next_event(0) for _ in range(2)] == events[:2]
        assert slow.next_event(0) is Quiet.ENDED


def test_a_subscriber_that_keeps_up_is_never_let_go_by_the_byte_bound() -> None:
    hub = EventHub(100, replay_bytes=10)  # smaller than any event
    with hub.subscribe() as reader:
        for n in range(20):
            event = hub.publish("x", n)
            assert reader.next_event(0) == event
        assert hub.subscriber_count() == 1


def test_close_ends_every_subscription_and_every_later_one() -> None:
    hub = EventHub()
    first, second = hub.subscribe(), hub.subscribe()
    event = hub.publish("last", None)
    hub.close()
    assert hub.subscriber_count() == 0
    assert first.next_event(1) == event and first.next_event(1) is Quiet.ENDED
    assert second.next_event(1) == event and second.next_event(1) is Quiet.ENDED
    late = hub.subscribe(start(hub))
    assert (late.next_event(1), late.next_event(1), hub.subscriber_count()) == (event, Quiet.ENDED, 0)


@given(operations=st.lists(st.sampled_from(["publish", "subscribe", "close-oldest"]), max_size=30))
def test_the_count_is_the_subscriptions_still_open(operations: list[str]) -> None:
    hub = EventHub(5)
    open_subscriptions = []
    for operation in operations:
        if operation == "publish":
            hub.publish("tick", None)
        elif operation == "subscribe":
            open_subscriptions.append(hub.subscribe())
        elif open_subscriptions:
            open_subscriptions.pop(0).close()
        assert hub.subscriber_count() == len(open_subscriptions)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        EventHub(-1)
    with pytest.raises(ValueError):
        EventHub(subscriber_backlog=0)
    with pytest.raises(ValueError):
        EventHub(replay_bytes=-1)
    with pytest.raises(ValueError):
        EventHub(max_subscribers=-1)


async def test_the_cap_refuses_the_next_subscriber_until_one_leaves() -> None:
    hub = EventHub(max_subscribers=2)
    first, second = hub.subscribe(), hub.subscribe_async()
    assert hub.subscribe() == StreamsFull(2) and hub.subscribe_async() == StreamsFull(2)
    assert hub.subscriber_count() == 2
    first.close()  # type: ignore[union-attr]
    third = hub.subscribe()
    assert not isinstance(third, StreamsFull)
    assert hub.subscribe() == StreamsFull(2)
    second.close()  # type: ignore[union-attr]
    third.close()
    assert hub.subscriber_count() == 0


def test_the_cap_is_taken_atomically_by_racing_threads() -> None:
    hub = EventHub(max_subscribers=5)
    barrier = threading.Barrier(20)
    outcomes: list[object] = []

    def race() -> None:
        barrier.wait()
        outcomes.append(hub.subscribe())

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sum(not isinstance(outcome, StreamsFull) for outcome in outcomes) == 5
    assert hub.subscriber_count() == 5


def test_a_subscription_nobody_holds_any_more_frees_its_place() -> None:
    hub = EventHub(max_subscribers=1)
    subscription = hub.subscribe()
    assert hub.subscribe() == StreamsFull(1)
    del subscription
    gc.collect()
    assert hub.subscriber_count() == 0 and not isinstance(hub.subscribe(), StreamsFull)


@pytest.mark.parametrize(
    ("overrides", "cap"),
    [
        ({"runtime": "flask", "threads": 4, "sse_thread_share": 0.5}, 2),
        ({"runtime": "flask", "threads": 32}, 16),  # the defaults
        ({"runtime": "flask", "threads": 100, "sse_thread_share": 0.29}, 29),  # not 28 (float rounding)
        ({"runtime": "flask", "threads": 5, "sse_thread_share": 0.5}, 2),
        ({"runtime": "flask", "threads": 64, "sse_thread_share": 1.0, "sse_max_streams": 10}, 10),
        ({"runtime": "flask", "threads": 4, "sse_thread_share": 0.0}, 0),
        ({"runtime": "flask", "threads": 1, "sse_thread_share": 1.0}, 0),  # one slot: never a stream
        ({"runtime": "flask", "worker_class": "gevent", "threads": 1, "sse_max_streams": 7}, 7),  # greenlets
        ({"runtime": "quart", "server": "uvicorn", "threads": 1}, 10_000),
        ({"runtime": "quart"}, 10_000),
        ({"runtime": "quart", "threads": 1, "sse_max_streams": 3}, 3),
    ],
)
def test_the_stream_cap_is_a_share_of_gunicorns_threads_and_a_count_for_hypercorn(
    overrides: dict[str, object], cap: int
) -> None:
    from shared.config import settings_from

    settings = settings_from(overrides)
    assert stream_cap(settings) == cap
    assert event_hub_for(settings)._max_subscribers == cap


# The /events protocol.


def test_the_opening_is_the_seeds_three_lines() -> None:
    assert OPENING == b"retry: 1000\nevent: hello\ndata: world\n\n"
    assert HEARTBEAT == b": heartbeat\n\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("x", None),
        ("-1", None),
        ("4.2", None),
        (" 42", None),
        ("42 ", None),
        ("٤٢", None),
        ("9" * 19, None),
        ("abc-", None),
        ("-3", None),
        ("ABC-3", None),
        ("a b-3", None),
        ("a-b-3", None),
        ("a" * 17 + "-1", None),
        ("0", EventId("", 0)),
        ("42", EventId("", 42)),  # bare integers: ids of before boots
        ("hoolpsrjlt-0", EventId("hoolpsrjlt", 0)),
        ("z-7", EventId("z", 7)),
        ("k" * 16 + "-1", EventId("k" * 16, 1)),
        # A Redis stream's entry ids (the redis event backend's): <ms>-<seq>, 64-bit each.
        ("1764650975123-0", EventId("1764650975123", 0)),
        ("18446744073709551615-18446744073709551615", EventId("18446744073709551615", 18446744073709551615)),
        ("1" * 21 + "-0", None),
        ("1-" + "1" * 21, None),
    ],
)
def test_last_event_id_is_one_of_our_ids_or_none(value: str | None, expected: EventId | None) -> None:
    assert parse_last_event_id(value) == expected
    if expected is not None and expected.boot:
        assert str(expected) == value  # it round-trips


@given(st.text(max_size=40))
def test_any_last_event_id_parses_or_is_none_and_an_id_we_issued_reads_back(value: str) -> None:
    assert parse_last_event_id(value) is None or isinstance(parse_last_event_id(value), EventId)
    event = EventHub().publish("x", value)
    assert parse_last_event_id(str(event.id)) == event.id


def test_a_stream_opens_replays_then_beats_and_unsubscribes_when_closed() -> None:
    hub = EventHub(10)
    first, second = hub.publish("a", 1), hub.publish("b", 2)
    stream = event_stream(hub, str(first.id), heartbeat=0.01)
    assert not isinstance(stream, StreamsFull)
    assert hub.subscriber_count() == 1  # taken before the view answers, so the cap is decided then
    assert [next(stream), next(stream)] == [OPENING, second.frame]
    assert next(stream) == HEARTBEAT
    live = hub.publish("c", 3)
    assert next(stream) == live.frame
    stream.close()
    assert hub.subscriber_count() == 0


def test_a_stream_that_never_started_frees_its_place_when_dropped() -> None:
    hub = EventHub(max_subscribers=1)
    stream = event_stream(hub, None, heartbeat=5)
    assert hub.subscriber_count() == 1 and event_stream(hub, None, heartbeat=5) == StreamsFull(1)
    stream.close()  # type: ignore[union-attr]  # what WSGI servers call; the generator never ran
    del stream
    gc.collect()
    assert hub.subscriber_count() == 0


async def test_an_async_stream_that_never_started_frees_its_place_when_dropped() -> None:
    hub = EventHub(max_subscribers=1)
    stream = event_stream_async(hub, None, heartbeat=5)
    assert event_stream_async(hub, None, heartbeat=5) == StreamsFull(1)
    del stream
    gc.collect()
    assert hub.subscriber_count() == 0


def test_a_thread_stream_ends_at_a_quiet_moment_once_its_client_is_gone() -> None:
    hub = EventHub()
    gone = [False, True]
    stream = event_stream(hub, None, heartbeat=0.01, client_gone=lambda: gone.pop(0))
    assert list(stream) == [OPENING, HEARTBEAT]  # type: ignore[arg-type]
    assert hub.subscriber_count() == 0


def test_a_stream_ends_when_the_hub_lets_it_go() -> None:
    hub = EventHub()
    stream = event_stream(hub, None, heartbeat=5)
    assert next(stream) == OPENING
    hub.close()
    assert list(stream) == []


async def test_the_async_stream_sends_the_same_bytes() -> None:
    hub = EventHub(10)
    hub.publish("a", {"x": [1, "é"]})

    def collect_sync() -> list[bytes]:
        stream = event_stream(hub, f"{hub.boot}-0", heartbeat=0.01)
        assert not isinstance(stream, StreamsFull)
        try:
            return [next(stream) for _ in range(3)]
        finally:
            stream.close()

    async def collect_async() -> list[bytes]:
        stream = event_stream_async(hub, "0", heartbeat=0.01)  # a bare integer: everything kept too
        assert not isinstance(stream, StreamsFull)
        try:
            return [await anext(stream) for _ in range(3)]
        finally:
            await stream.aclose()

    assert collect_sync() == await collect_async() == [OPENING, hub.events_after(start(hub))[0].frame, HEARTBEAT]
    assert hub.subscriber_count() == 0


@given(event_type=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=64), data=json_values)
def test_every_well_formed_publication_is_accepted(event_type: str, data: object) -> None:
    body = json.dumps({"data": data, "event": event_type}).encode("utf-8")
    assert parse_publication(body) == Publication(event_type, data)


@given(st.binary(max_size=200))
def test_the_parser_never_raises(body: bytes) -> None:
    assert isinstance(parse_publication(body), (Publication, InvalidPublication))


def test_deep_nesting_is_a_400_not_a_crash() -> None:
    body = b'{"event": "x", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert isinstance(parse_publication(body), InvalidPublication)


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/cloudevents+json", True),
        ("text/json", False),
        ("application/x-www-form-urlencoded", False),
        (None, False),
        ("", False),
    ],
)
def test_publish_wants_a_json_media_type(content_type: str | None, accepted: bool) -> None:
    plan = events.publish_event(b'{"event": "x", "data": 1}', content_type, EventHub())
    assert plan.status == (202 if accepted else 415)
    if not accepted:
        assert plan.header("Accept-Post") == "application/json"


def test_publish_answers_202_with_the_id_and_a_bad_body_400() -> None:
    hub = EventHub()
    accepted = events.publish_event(b'{"event": "x", "data": {"b": 1, "a": 2}}', "application/json", hub)
    assert (accepted.status, accepted.in_memory_body()) == (202, b'{"id":"' + hub.boot.encode() + b'-1"}\n')
    assert hub.events_after(start(hub))[0].data == '{"a":2,"b":1}'
    refused = events.publish_event(b'{"event": "x\\ny", "data": 1}', "application/json", hub)
    assert (refused.status, refused.header("Content-Type")) == (400, "application/problem+json")
    assert hub.events_after(start(hub))[-1].id == EventId(hub.boot, 1)


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        (b"1e400", "1e400"),
        (b"-1e400", "-1e400"),
        (b"1E+309", "1E+309"),
        (b"-" + b"9" * 310, "-99999999999...(311 characters)"),
        (b"7" * 5000, "777777777777...(5000 characters)"),
        (b"2" + b"0" * 308, "200000000000...(309 characters)"),
    ],
)
def test_a_number_beyond_a_double_is_a_400_naming_it(number: bytes, shown: str) -> None:
    outcome = parse_publication(b'{"event": "x", "data": {"v": [' + number + b"]}}")
    assert outcome == InvalidPublication(
        f"Numbers must be finite (RFC 8259 §6): {shown} is beyond the range of a double."
    )


@pytest.mark.parametrize("number", [b"1e308", b"-1.7976931348623157e308", b"1e-400", b"9" * 308, b"-0", b"0.5"])
def test_a_large_but_finite_number_is_accepted(number: bytes) -> None:
    outcome = parse_publication(b'{"event": "x", "data": ' + number + b"}")
    assert isinstance(outcome, Publication) and outcome.data == json.loads(number)
