"""The event hub (ids, the bounded replay buffer, sync and async subscribers, letting go) and the
/events protocol over it (the stream's bytes for threads and coroutines, Last-Event-ID, publish bodies)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import (
    HEARTBEAT,
    OPENING,
    Event,
    EventHub,
    InvalidPublication,
    Publication,
    Quiet,
    event_stream,
    event_stream_async,
    parse_last_event_id,
    parse_publication,
    responses,
)
from shared._events import DEFAULT_SUBSCRIBER_BACKLOG

event_types = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


def published(hub: EventHub, count: int, event_type: str = "tick") -> list[Event]:
    return [hub.publish(event_type, {"n": n}) for n in range(count)]


@given(replay=st.integers(0, 8), count=st.integers(0, 20))
def test_ids_count_from_one_and_the_buffer_keeps_the_newest(replay: int, count: int) -> None:
    hub = EventHub(replay)
    events = published(hub, count)
    assert [event.id for event in events] == list(range(1, count + 1))
    assert hub.events_after(0) == tuple(events[max(0, count - replay):])


@given(replay=st.integers(0, 8), count=st.integers(0, 20), last_id=st.none() | st.integers(0, 30))
def test_events_after_is_what_that_client_missed(replay: int, count: int, last_id: int | None) -> None:
    hub = EventHub(replay)
    kept = published(hub, count)[max(0, count - replay):]
    if last_id is None or last_id == count:
        expected: list[Event] = []  # a first connection, or up to date
    elif last_id > count:
        expected = kept  # an id from before a restart: everything kept is news
    else:
        expected = [event for event in kept if event.id > last_id]
    assert hub.events_after(last_id) == tuple(expected)


@given(event_type=event_types, data=json_values)
def test_an_event_is_one_sse_block_with_compact_sorted_json(event_type: str, data: object) -> None:
    event = EventHub().publish(event_type, data)
    assert json.loads(event.data) == data
    assert "\n" not in event.data and event.data == json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert event.frame == f"id: {event.id}\nevent: {event_type}\ndata: {event.data}\n\n".encode()


@pytest.mark.parametrize("event_type", ["a\nb", "a\rb", "a\r\nevent: forged"])
def test_a_type_with_a_line_break_is_refused_and_changes_nothing(event_type: str) -> None:
    hub = EventHub()
    with pytest.raises(ValueError):
        hub.publish(event_type, 1)
    assert hub.events_after(0) == () and hub.publish("ok", 1).id == 1


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
    assert isinstance(outcome, Event) and outcome.id == 1
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


def test_close_ends_every_subscription_and_every_later_one() -> None:
    hub = EventHub()
    first, second = hub.subscribe(), hub.subscribe()
    event = hub.publish("last", None)
    hub.close()
    assert hub.subscriber_count() == 0
    assert first.next_event(1) == event and first.next_event(1) is Quiet.ENDED
    assert second.next_event(1) == event and second.next_event(1) is Quiet.ENDED
    late = hub.subscribe(0)
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


# The /events protocol.


def test_the_opening_is_the_seeds_three_lines() -> None:
    assert OPENING == b"retry: 1000\nevent: hello\ndata: world\n\n"
    assert HEARTBEAT == b": heartbeat\n\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("0", 0), ("42", 42), ("", None), (" 42", None), ("42 ", None), ("-1", None), ("4.2", None), ("x", None), ("٤٢", None), ("9" * 19, None)],
)
def test_last_event_id_is_one_of_our_ids_or_none(value: str | None, expected: int | None) -> None:
    assert parse_last_event_id(value) == expected


def test_a_stream_opens_replays_then_beats_and_unsubscribes_when_closed() -> None:
    hub = EventHub(10)
    first, second = hub.publish("a", 1), hub.publish("b", 2)
    stream = event_stream(hub, str(first.id), heartbeat=0.01)
    assert hub.subscriber_count() == 0  # nothing runs until the server iterates
    assert [next(stream), next(stream)] == [OPENING, second.frame]
    assert next(stream) == HEARTBEAT
    live = hub.publish("c", 3)
    assert next(stream) == live.frame
    stream.close()
    assert hub.subscriber_count() == 0


def test_a_thread_stream_ends_at_a_quiet_moment_once_its_client_is_gone() -> None:
    hub = EventHub()
    gone = [False, True]
    stream = event_stream(hub, None, heartbeat=0.01, client_gone=lambda: gone.pop(0))
    assert list(stream) == [OPENING, HEARTBEAT]
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
        stream = event_stream(hub, "0", heartbeat=0.01)
        try:
            return [next(stream) for _ in range(3)]
        finally:
            stream.close()

    async def collect_async() -> list[bytes]:
        stream: AsyncIterator[bytes] = event_stream_async(hub, "0", heartbeat=0.01)
        try:
            return [await anext(stream) for _ in range(3)]
        finally:
            await stream.aclose()

    assert collect_sync() == await collect_async() == [OPENING, hub.events_after(0)[0].frame, HEARTBEAT]
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
    [("application/json", True), ("Application/JSON; charset=utf-8", True), ("application/cloudevents+json", True),
     ("text/json", False), ("application/x-www-form-urlencoded", False), (None, False), ("", False)],
)
def test_publish_wants_a_json_media_type(content_type: str | None, accepted: bool) -> None:
    plan = responses.publish_event(b'{"event": "x", "data": 1}', content_type, EventHub())
    assert plan.status == (202 if accepted else 415)
    if not accepted:
        assert plan.header("Accept-Post") == "application/json"


def test_publish_answers_202_with_the_id_and_a_bad_body_400() -> None:
    hub = EventHub()
    accepted = responses.publish_event(b'{"event": "x", "data": {"b": 1, "a": 2}}', "application/json", hub)
    assert (accepted.status, accepted.in_memory_body()) == (202, b'{"id":1}\n')
    assert hub.events_after(0)[0].data == '{"a":2,"b":1}'
    refused = responses.publish_event(b'{"event": "x\\ny", "data": 1}', "application/json", hub)
    assert (refused.status, refused.header("Content-Type")) == (400, "application/problem+json")
    assert hub.events_after(0)[-1].id == 1
