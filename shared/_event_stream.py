"""The ``/events`` protocol over an ``EventBackend``: what a stream sends, and what a publish accepts.

A stream is: the seed's opening (``retry: 1000``, ``event: hello``, ``data: world``), the events a
reconnecting client missed (from its ``Last-Event-ID``), then live events, with a comment heartbeat
whenever ``heartbeat`` seconds pass without one. ``event_stream`` is that stream for a thread (Flask)
and ``event_stream_async`` for a coroutine (Quart): the same bytes from the same events. Both
subscribe when called, before the view answers, so a client beyond the hub's cap gets
``StreamsFull`` (the view's 503) instead of a stream; a HEAD calls neither, so it never takes a
place. Both unsubscribe on the way out: when the thread's stream sees its client gone (or gunicorn
closes the generator after a failed write), when the coroutine is cancelled (Quart cancels the
request on hypercorn's disconnect message, at once), and when a stream that never started is
dropped (the hub holds subscribers weakly).

How many streams a worker process may hold (``stream_cap``) is decided here from the settings,
because the servers differ: a gunicorn thread holds one stream or one request, a hypercorn task
costs a coroutine. Test: tests/test_hardening_events.py (the 503 and /healthz meanwhile).
"""

from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ._events import (
    AsyncSubscription,
    Event,
    EventBackend,
    EventHub,
    EventId,
    JSONValue,
    Quiet,
    StreamsFull,
    Subscription,
)
from ._sse import encode_comment, encode_event
from .settings import Settings

__all__ = [
    "HEARTBEAT",
    "MAX_EVENT_TYPE_LENGTH",
    "OPENING",
    "InvalidPublication",
    "Publication",
    "event_hub_for",
    "event_stream",
    "event_stream_async",
    "parse_last_event_id",
    "parse_publication",
    "stream_cap",
]

# The seed's three lines, byte for byte: the client retries after 1 s, and hears "hello".
OPENING = encode_event(retry=1000, event="hello", data="world")
# WHATWG HTML §9.2.6: a line starting with ":" is ignored; it keeps proxies from timing the stream
# out, and a write to a client that has gone is how a thread-per-stream server finds out.
HEARTBEAT = encode_comment("heartbeat")
MAX_EVENT_TYPE_LENGTH = 64
# Our ids: ``<boot>-<serial>`` (``EventId``), and the bare decimal integers of before boots.
_EVENT_ID = re.compile(r"(?:([0-9a-z]{1,16})-)?([0-9]{1,18})")


def parse_last_event_id(value: str | None) -> EventId | None:
    """The Last-Event-ID request header as one of our ids; anything else means "none".

    A browser's EventSource sends back the last ``id:`` it saw verbatim (WHATWG HTML §9.2.4), so a
    value we did not issue (another server's, or garbage) cannot name a position in our sequence:
    the client gets the opening and live events, as on a first connection. A bare integer is an
    id of this service from before ids carried a boot: ``EventId("", n)``, which matches no boot,
    so the hub replays everything it keeps.
    """
    match = _EVENT_ID.fullmatch(value or "")
    if match is None:
        return None
    return EventId(match.group(1) or "", int(match.group(2)))


def stream_cap(settings: Settings) -> int:
    """How many event streams one worker process may hold at once.

    hypercorn (Quart): ``sse_max_streams``; a stream is a coroutine and requests keep being
    answered beside any number of them. gunicorn (Flask): each stream holds a thread until its
    client leaves, so streams may take at most ``floor(threads x sse_thread_share)`` of them (and
    never more than ``sse_max_streams``), leaving the rest to /healthz and the API. A worker with
    one thread (``worker_class = sync``; gunicorn runs ``sync`` with more threads as gthread) gets
    none whatever the share: one stream would hold its only request slot until the client left, and
    every other request would wait: the outage this cap exists to prevent. So there /events is
    always 503; serve streams with gthread.
    """
    if settings.server != "gunicorn":
        return settings.sse_max_streams
    if settings.threads < 2:
        return 0
    # Exact decimal arithmetic: 100 x 0.29 is 28.999999999999996 in floats.
    share = math.floor(Fraction(repr(settings.sse_thread_share)) * settings.threads)
    return min(settings.sse_max_streams, share)


def event_hub_for(settings: Settings) -> EventHub:
    """The in-process hub the settings describe: replay bounds, subscriber bounds, the stream cap."""
    return EventHub(settings.sse_replay, replay_bytes=settings.sse_replay_bytes, max_subscribers=stream_cap(settings))


def event_stream(
    hub: EventBackend, last_event_id: str | None, heartbeat: float, *, client_gone: Callable[[], bool] = lambda: False
) -> Iterator[bytes] | StreamsFull:
    """The stream's bytes for a thread, or ``StreamsFull``; it ends when the hub lets the
    subscriber go, or when ``client_gone()`` says so at a quiet moment.

    A thread-per-stream server learns of a closed connection only when a write fails, and the first
    write after the client's FIN still succeeds (the peer answers it with RST): two heartbeats. A
    server that can look at the connection passes ``client_gone``, asked before each heartbeat, so
    a client that left is let go within one.
    """
    subscription = hub.subscribe(parse_last_event_id(last_event_id))
    if isinstance(subscription, StreamsFull):
        return subscription
    return _thread_stream(subscription, heartbeat, client_gone)


def event_stream_async(
    hub: EventBackend, last_event_id: str | None, heartbeat: float
) -> AsyncIterator[bytes] | StreamsFull:
    """``event_stream`` for a coroutine: the same bytes, waiting without blocking the loop. Call
    it on the serving loop (the subscription wakes through it)."""
    subscription = hub.subscribe_async(parse_last_event_id(last_event_id))
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
    if abs(value) > sys.float_info.max:
        raise _NotFinite(_shown(literal))
    return value


def _shown(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:12]}...({len(literal)} characters)"
