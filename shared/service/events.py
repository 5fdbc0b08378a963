"""``/events``: what an event is, what a stream sends, what a publish accepts, and the answers.

A stream is: the seed's opening (``retry: 1000``, ``event: hello``, ``data: world``), the events a
reconnecting client missed (from its ``Last-Event-ID``), then live events, with a comment heartbeat
whenever ``heartbeat`` seconds pass without one. ``event_stream`` is that stream for a thread (Flask)
and ``event_stream_async`` for a coroutine (Quart): the same bytes from the same events. Both
subscribe when called, before the view answers, so a client beyond the backend's cap gets
``StreamsFull`` (the view's 503) instead of a stream; a HEAD calls neither, so it never takes a
place. Both unsubscribe on the way out: when the thread's stream sees its client gone (or gunicorn
closes the generator after a failed write), when the coroutine is cancelled (Quart cancels the
request on hypercorn's disconnect message, at once), and when a stream that never started is
dropped (the in-process hub holds subscribers weakly).

``EventBackend`` is the whole surface the views use; the in-process hub (``shared.edge.events``)
implements it, and so does the Redis stream (``shared.edge.redis_events``), ids and replay
included; ``RefusedEvents`` stands in where neither may serve (the in-process hub behind several
workers). A backend that cannot serve now raises ``EventsUnavailable``: the views' 503. Flask
publishes with ``publish``, Quart with ``publish_async`` (a network call must not block its
loop). How many streams a worker may hold is the composition root's decision
(``shared.compose.stream_cap``), because the servers differ.
"""

from __future__ import annotations

import enum
import json
import math
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypeAlias

from ..protocol.cache import no_store
from ..protocol.representation import ResponsePlan, plan_json, plan_problem
from ..protocol.sse import encode_comment, encode_event
from .streams import StreamHead, plan_stream

__all__ = [
    "HEARTBEAT",
    "MAX_EVENT_TYPE_LENGTH",
    "OPENING",
    "AsyncSubscription",
    "Event",
    "EventBackend",
    "EventId",
    "EventsUnavailable",
    "InvalidPublication",
    "JSONValue",
    "Publication",
    "Quiet",
    "RefusedEvents",
    "StreamsFull",
    "Subscription",
    "event_stream",
    "event_stream_async",
    "events_unavailable",
    "parse_last_event_id",
    "parse_publication",
    "publish_event",
    "publish_event_async",
    "sse",
    "stats",
    "streams_full",
]

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"


@dataclass(frozen=True, slots=True)
class EventId:
    """An event's id, ``<boot>-<serial>`` on the wire: the in-process hub's boot token and 1, 2,
    3, ...; or a Redis stream's entry id ``<ms>-<seq>`` (``boot`` the milliseconds, all digits,
    ``serial`` the sequence), which the Redis backend issues and orders (``stream_key``).

    ``boot`` is empty for a bare integer id (what this service issued before ids carried a boot):
    it names no boot, so it matches none.
    """

    boot: str
    serial: int

    def __str__(self) -> str:
        return f"{self.boot}-{self.serial}"

    def stream_key(self) -> tuple[int, int] | None:
        """The id as a Redis stream position ``(ms, seq)``, ordered as the stream orders them; None
        for an id of the in-process hub (a base-36 boot) or a bare integer: no position there.
        A hub boot of ten digits only would read as a time in 1970, older than any entry, which
        replays what is kept: what any id the stream did not issue gets."""
        return (int(self.boot), self.serial) if self.boot.isdigit() else None


@dataclass(frozen=True, slots=True)
class Event:
    """One published event: its id, its type, and its data as JSON text.

    The data is kept as compact, sorted, ASCII JSON (no line breaks, so one ``data:`` line), and
    ``frame`` is the event's bytes on an event stream, encoded once for every subscriber.
    """

    id: EventId
    type: str
    data: str
    frame: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # encode_event refuses a type with CR or LF, which would start a field of the caller's choosing.
        object.__setattr__(self, "frame", encode_event(id=str(self.id), event=self.type, data=self.data))

    @property
    def size(self) -> int:
        """What the byte bounds count: the frame's length (the data dominates it)."""
        return len(self.frame)


class EventsUnavailable(Exception):
    """The backend cannot take or serve events now (Redis unreachable), or may not here at all (the
    in-process hub behind several workers): the views' 503, with ``detail``, and ``Retry-After``
    when waiting helps."""

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class StreamsFull:
    """A subscription refused: this hub already serves ``limit`` subscribers."""

    limit: int


class Quiet(enum.Enum):
    """What a wait that brought no event means."""

    IDLE = "idle"  # nothing arrived within the timeout: time for a heartbeat
    ENDED = "ended"  # the subscription is over (closed, or let go for being too slow)


class Subscription(Protocol):
    """A thread's view of a backend: the missed events first, then each live one, in id order.
    Use it as a context manager, or call ``close``; either lets the backend forget it."""

    def __enter__(self) -> Subscription: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    def next_event(self, timeout: float) -> Event | Quiet:
        """Block this thread until the next event, at most ``timeout`` seconds."""
        ...

    def close(self) -> None: ...


class AsyncSubscription(Protocol):
    """The same subscription for a coroutine on one event loop."""

    def __enter__(self) -> AsyncSubscription: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    async def next_event(self, timeout: float) -> Event | Quiet:
        """Wait for the next event, at most ``timeout`` seconds, without blocking the loop."""
        ...

    def close(self) -> None: ...


class EventBackend(Protocol):
    """What ``/events`` needs from wherever events live (this process's hub, or a Redis stream)."""

    @property
    def boot(self) -> str:
        """The token this backend's ids start with (``/ops/stats`` reports it)."""
        ...

    def publish(self, event_type: str, data: JSONValue) -> Event:
        """Publish from a thread (Flask); raises ``EventsUnavailable`` when it cannot."""
        ...

    async def publish_async(self, event_type: str, data: JSONValue) -> Event:
        """Publish from a coroutine (Quart) without blocking its loop; raises as ``publish``."""
        ...

    def events_after(self, last_id: EventId | None) -> tuple[Event, ...]: ...

    def subscribe(self, last_id: EventId | None = None) -> Subscription | StreamsFull: ...

    def subscribe_async(self, last_id: EventId | None = None) -> AsyncSubscription | StreamsFull: ...

    def subscriber_count(self) -> int: ...

    def close(self) -> None: ...

    async def open_async(self) -> None:
        """Quart's ``before_serving``: start what the backend runs on the serving loop."""
        ...

    async def close_async(self) -> None:
        """Quart's ``after_serving``: stop it again."""
        ...


class RefusedEvents:
    """The backend of a worker whose events could not reach the others: ``/events`` GET and POST
    refuse with ``detail`` (a 503), rather than lose events silently. The in-process hub behind
    ``workers > 1``: each worker would have its own, and a client would get only the events
    published through the worker it happens to reach (sse-starlette#75, gunicorn#3069)."""

    def __init__(self, detail: str) -> None:
        self._detail = detail

    @property
    def boot(self) -> str:
        return ""

    def publish(self, event_type: str, data: JSONValue) -> Event:
        raise EventsUnavailable(self._detail)

    async def publish_async(self, event_type: str, data: JSONValue) -> Event:
        raise EventsUnavailable(self._detail)

    def events_after(self, last_id: EventId | None) -> tuple[Event, ...]:
        raise EventsUnavailable(self._detail)

    def subscribe(self, last_id: EventId | None = None) -> Subscription | StreamsFull:
        raise EventsUnavailable(self._detail)

    def subscribe_async(self, last_id: EventId | None = None) -> AsyncSubscription | StreamsFull:
        raise EventsUnavailable(self._detail)

    def subscriber_count(self) -> int:
        return 0

    def close(self) -> None:
        pass

    async def open_async(self) -> None:
        pass

    async def close_async(self) -> None:
        pass


# The seed's three lines, byte for byte: the client retries after 1 s, and hears "hello".
OPENING = encode_event(retry=1000, event="hello", data="world")
# WHATWG HTML §9.2.6: a line starting with ":" is ignored; it keeps proxies from timing the stream
# out, and a write to a client that has gone is how a thread-per-stream server finds out.
HEARTBEAT = encode_comment("heartbeat")
MAX_EVENT_TYPE_LENGTH = 64
# Our ids: ``<boot>-<serial>`` (``EventId``), a Redis stream's ``<ms>-<seq>`` (two 64-bit
# integers: at most 20 digits each), and the bare decimal integers of before boots.
_EVENT_ID = re.compile(r"(?:([0-9a-z]{1,16}|[0-9]{17,20})-([0-9]{1,20}))|([0-9]{1,18})")


def parse_last_event_id(value: str | None) -> EventId | None:
    """The Last-Event-ID request header as one of our ids; anything else means "none".

    A browser's EventSource sends back the last ``id:`` it saw verbatim (WHATWG HTML §9.2.4), so a
    value we did not issue (another server's, or garbage) cannot name a position in our sequence:
    the client gets the opening and live events, as on a first connection. A bare integer is an
    id of this service from before ids carried a boot: ``EventId("", n)``, which matches no boot,
    so the hub replays everything it keeps. A Redis stream's id (``<ms>-<seq>``) comes back as
    ``EventId("<ms>", seq)``, whose ``str`` is the same id again.
    """
    match = _EVENT_ID.fullmatch(value or "")
    if match is None:
        return None
    boot, serial, bare = match.groups()
    return EventId("", int(bare)) if bare is not None else EventId(boot, int(serial))


def event_stream(
    hub: EventBackend, last_event_id: str | None, heartbeat: float, *, client_gone: Callable[[], bool] = lambda: False
) -> Iterator[bytes] | StreamsFull | EventsUnavailable:
    """The stream's bytes for a thread, or ``StreamsFull``; it ends when the hub lets the
    subscriber go, or when ``client_gone()`` says so at a quiet moment.

    A thread-per-stream server learns of a closed connection only when a write fails, and the first
    write after the client's FIN still succeeds (the peer answers it with RST): two heartbeats. A
    server that can look at the connection passes ``client_gone``, asked before each heartbeat, so
    a client that left is let go within one.
    """
    try:
        subscription = hub.subscribe(parse_last_event_id(last_event_id))
    except EventsUnavailable as refusal:
        return refusal
    if isinstance(subscription, StreamsFull):
        return subscription
    return _thread_stream(subscription, heartbeat, client_gone)


def event_stream_async(
    hub: EventBackend, last_event_id: str | None, heartbeat: float
) -> AsyncIterator[bytes] | StreamsFull | EventsUnavailable:
    """``event_stream`` for a coroutine: the same bytes, waiting without blocking the loop. Call
    it on the serving loop (the subscription wakes through it)."""
    try:
        subscription = hub.subscribe_async(parse_last_event_id(last_event_id))
    except EventsUnavailable as refusal:
        return refusal
    if isinstance(subscription, StreamsFull):
        return subscription
    return _async_stream(subscription, heartbeat)


def _thread_stream(subscription: Subscription, heartbeat: float, client_gone: Callable[[], bool]) -> Iterator[bytes]:
    with subscription:
        yield OPENING
        while (frame := _frame(subscription.next_event(heartbeat))) is not None:
            if frame is HEARTBEAT and client_gone():
                return
            yield frame


async def _async_stream(subscription: AsyncSubscription, heartbeat: float) -> AsyncIterator[bytes]:
    with subscription:
        yield OPENING
        while (frame := _frame(await subscription.next_event(heartbeat))) is not None:
            yield frame


def _frame(outcome: Event | Quiet) -> bytes | None:
    """An event's frame, a heartbeat after a quiet wait, or None: the stream is over."""
    if isinstance(outcome, Event):
        return outcome.frame
    return HEARTBEAT if outcome is Quiet.IDLE else None


@dataclass(frozen=True, slots=True)
class Publication:
    """A valid ``POST /events`` body: ``{"event": "<type>", "data": <any JSON>}``."""

    event_type: str
    data: JSONValue


@dataclass(frozen=True, slots=True)
class InvalidPublication:
    """A body that cannot be published, and why (the 400 problem's detail)."""

    detail: str


def parse_publication(body: bytes) -> Publication | InvalidPublication:
    """Validate a publish request's JSON body (the media type is the caller's check).

    The schema: an object with exactly two members, ``event`` (a string of 1 to 64 characters with
    no control characters, so it fits on one ``event:`` line) and ``data`` (any JSON value,
    ``null`` included). RFC 8259 §8.1: JSON between systems is UTF-8; §4: names SHOULD be unique,
    and a duplicate is refused rather than resolved silently; ``NaN`` and ``Infinity`` are not JSON,
    and neither is a number beyond what an IEEE 754 double holds (§6: ``1e400`` would reach every
    subscriber as ``Infinity``, and a JavaScript client's ``JSON.parse`` would make it one).
    """
    try:
        document = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_unique_members,
            parse_constant=_not_json,
            parse_float=_finite_float,
            parse_int=_finite_int,
        )
    except UnicodeDecodeError:
        return InvalidPublication("The body is not UTF-8.")
    except _DuplicateMember as duplicate:
        return InvalidPublication(f"The member {duplicate.args[0]!r} appears more than once.")
    except _NotFinite as number:
        return InvalidPublication(
            f"Numbers must be finite (RFC 8259 §6): {number.args[0]} is beyond the range of a double."
        )
    except (ValueError, RecursionError):
        return InvalidPublication("The body is not a JSON document.")
    if not isinstance(document, dict):
        return InvalidPublication('The body must be a JSON object: {"event": "<type>", "data": <any JSON>}.')
    missing = sorted({"event", "data"} - document.keys())
    unknown = sorted(document.keys() - {"event", "data"})
    if missing or unknown:
        parts = ([f"missing member(s): {', '.join(missing)}"] if missing else []) + (
            [f"unknown member(s): {', '.join(unknown)}"] if unknown else []
        )
        return InvalidPublication("The body must have exactly the members event and data; " + "; ".join(parts) + ".")
    event_type = document["event"]
    problem = _event_type_problem(event_type)
    if problem:
        return InvalidPublication(problem)
    return Publication(event_type, document["data"])


def _event_type_problem(event_type: object) -> str | None:
    if not isinstance(event_type, str):
        return "The member event must be a string."
    if not 1 <= len(event_type) <= MAX_EVENT_TYPE_LENGTH:
        return f"The member event must have 1 to {MAX_EVENT_TYPE_LENGTH} characters."
    # Cc covers CR and LF (which would end the event: line), NUL and the other controls; Cs the lone
    # surrogates a JSON \ud800 escape can produce, which cannot be written as UTF-8.
    if any(unicodedata.category(character) in ("Cc", "Cs") for character in event_type):
        return "The member event must not contain control characters or lone surrogates."
    return None


class _DuplicateMember(ValueError):
    pass


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise _DuplicateMember(name)
        members[name] = value
    return members


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


class _NotFinite(ValueError):
    pass


# 10**309 exceeds the largest double (about 1.8e308): a literal with more digits cannot be finite.
_MAX_DIGITS = 309
_LARGEST_DOUBLE = float.fromhex("0x1.fffffffffffffp+1023")  # sys.float_info.max


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NotFinite(_shown(literal))
    return value


def _finite_int(literal: str) -> int:
    # Checked before int(): Python refuses to convert more than 4300 digits (ValueError), and the
    # answer should name the number, not the interpreter's limit.
    if len(literal.lstrip("-")) > _MAX_DIGITS:
        raise _NotFinite(_shown(literal))
    value = int(literal)
    if abs(value) > _LARGEST_DOUBLE:
        raise _NotFinite(_shown(literal))
    return value


def _shown(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:12]}...({len(literal)} characters)"


# The answers of the /events views.


def sse() -> StreamHead:
    """§2.2.3: an event stream. WHATWG HTML §9.2.5: the stream is always UTF-8, so the charset
    parameter says nothing new; it is kept because the seed's Flask sent it."""
    return plan_stream("text/event-stream; charset=utf-8", unbuffered=True)


def streams_full(heartbeat: float) -> ResponsePlan:
    """``/events`` beyond the worker's stream cap (``stream_cap``): 503 (RFC 9110 §15.6.4, a
    temporary overload) so that the threads left keep answering /healthz and the API.

    ``Retry-After`` (§10.2.3) is one heartbeat, rounded up: a place held by a client that has gone
    is freed within one. The cap itself is not in the body: it differs per server (threads), and
    a client can do nothing with it. A browser's EventSource does not retry a 503 (WHATWG HTML
    §9.2.3 fails the connection), so a page must reconnect itself after Retry-After.
    """
    return plan_problem(
        503,
        "This server holds as many event streams as it allows; try again later.",
        headers=(("Retry-After", str(max(1, math.ceil(heartbeat)))), ("Cache-Control", no_store().to_header())),
    )


def events_unavailable(refusal: EventsUnavailable) -> ResponsePlan:
    """``/events`` while the backend cannot serve it: 503 (RFC 9110 §15.6.4), never a 500 or a
    hang, with ``Retry-After`` (§10.2.3) when the cause is passing (Redis away), none when only
    the configuration can change it."""
    headers = [("Cache-Control", no_store().to_header())]
    if refusal.retry_after is not None:
        headers.insert(0, ("Retry-After", str(refusal.retry_after)))
    return plan_problem(503, refusal.detail, headers=headers)


def publish_event(body: bytes, content_type: str | None, hub: EventBackend) -> ResponsePlan:
    """``POST /events``: publish ``{"event": ..., "data": ...}``; 202 with the event's id.

    202, not 201: the event has no URL of its own to put in a Location, and it reaches
    subscribers after this answer. A body of another media type is a 415 (RFC 9110 §15.5.16) that
    names the accepted one in ``Accept-Post`` (the field the W3C's LDP registered for POST). The
    id is a string, ``<boot>-<n>`` (``shared.edge.events.EventId``). The views run ``publish_guard``
    (401, 429) before reading the body; the body limit (413) is ``publish_max_bytes``.
    """
    publication = _publication(body, content_type)
    if isinstance(publication, ResponsePlan):
        return publication
    try:
        event = hub.publish(publication.event_type, publication.data)
    except EventsUnavailable as refusal:
        return events_unavailable(refusal)
    return plan_json({"id": str(event.id)}, status=202)


async def publish_event_async(body: bytes, content_type: str | None, hub: EventBackend) -> ResponsePlan:
    """``publish_event`` for a coroutine: the backend's ``publish_async`` (Redis through its
    asyncio client, never a blocking call on the loop)."""
    publication = _publication(body, content_type)
    if isinstance(publication, ResponsePlan):
        return publication
    try:
        event = await hub.publish_async(publication.event_type, publication.data)
    except EventsUnavailable as refusal:
        return events_unavailable(refusal)
    return plan_json({"id": str(event.id)}, status=202)


def _publication(body: bytes, content_type: str | None) -> Publication | ResponsePlan:
    if not _is_json(content_type):
        return plan_problem(415, "Send the event as application/json.", headers=[("Accept-Post", "application/json")])
    publication = parse_publication(body)
    if isinstance(publication, InvalidPublication):
        return plan_problem(400, publication.detail)
    return publication


def _is_json(content_type: str | None) -> bool:
    # RFC 6838 §4.2.8: a "+json" suffix names a JSON-based type; parameters (charset) change nothing.
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def stats(hub: EventBackend) -> ResponsePlan:
    """Live counters for operators (and for the tests that count streams let go), and the hub's
    boot: the token its event ids start with, which changes with every start of the process (the
    parity harness learns it per runtime and compares ids with it replaced, compare.py)."""
    body = {"sse_boot": hub.boot, "sse_subscribers": hub.subscriber_count()}
    return plan_json(body, headers=[("Cache-Control", no_store().to_header())])
