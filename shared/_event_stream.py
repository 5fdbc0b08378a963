"""The ``/events`` protocol over an ``EventBackend``: what a stream sends, and what a publish accepts.

A stream is: the seed's opening (``retry: 1000``, ``event: hello``, ``data: world``), the events a
reconnecting client missed (from its ``Last-Event-ID``), then live events, with a comment heartbeat
whenever ``heartbeat`` seconds pass without one. ``event_stream`` is that stream for a thread (Flask)
and ``event_stream_async`` for a coroutine (Quart): the same bytes from the same events. Both
subscribe when first iterated, not when called, so a HEAD that never iterates subscribes to
nothing, and both unsubscribe on the way out: when the thread's stream sees its client gone (or
gunicorn closes the generator after a failed write), and when the coroutine is cancelled (Quart
cancels the request on hypercorn's disconnect message, at once).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._events import Event, EventBackend, JSONValue, Quiet
from ._sse import encode_comment, encode_event

__all__ = [
    "HEARTBEAT",
    "MAX_EVENT_TYPE_LENGTH",
    "OPENING",
    "InvalidPublication",
    "Publication",
    "event_stream",
    "event_stream_async",
    "parse_last_event_id",
    "parse_publication",
]

# The seed's three lines, byte for byte: the client retries after 1 s, and hears "hello".
OPENING = encode_event(retry=1000, event="hello", data="world")
# WHATWG HTML §9.2.6: a line starting with ":" is ignored; it keeps proxies from timing the stream
# out, and a write to a client that has gone is how a thread-per-stream server finds out.
HEARTBEAT = encode_comment("heartbeat")
MAX_EVENT_TYPE_LENGTH = 64
# Our ids are what ``EventHub`` issues: decimal integers from 1, no sign, no spaces.
_EVENT_ID = re.compile(r"[0-9]{1,18}")


def parse_last_event_id(value: str | None) -> int | None:
    """The Last-Event-ID request header as one of our ids; anything else means "none".

    A browser's EventSource sends back the last ``id:`` it saw verbatim (WHATWG HTML §9.2.4), so a
    value we did not issue (another server's, or garbage) cannot name a position in our sequence:
    the client gets the opening and live events, as on a first connection.
    """
    if value is None or not _EVENT_ID.fullmatch(value):
        return None
    return int(value)


def event_stream(
    hub: EventBackend, last_event_id: str | None, heartbeat: float, *, client_gone: Callable[[], bool] = lambda: False
) -> Iterator[bytes]:
    """The stream's bytes for a thread; it ends when the hub lets the subscriber go, or when
    ``client_gone()`` says so at a quiet moment.

    A thread-per-stream server learns of a closed connection only when a write fails, and the first
    write after the client's FIN still succeeds (the peer answers it with RST): two heartbeats. A
    server that can look at the connection passes ``client_gone``, asked before each heartbeat, so
    a client that left is let go within one.
    """
    with hub.subscribe(parse_last_event_id(last_event_id)) as subscription:
        yield OPENING
        while (frame := _frame(subscription.next_event(heartbeat))) is not None:
            if frame is HEARTBEAT and client_gone():
                return
            yield frame


async def event_stream_async(hub: EventBackend, last_event_id: str | None, heartbeat: float) -> AsyncIterator[bytes]:
    """``event_stream`` for a coroutine: the same bytes, waiting without blocking the loop."""
    with hub.subscribe_async(parse_last_event_id(last_event_id)) as subscription:
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
    and a duplicate is refused rather than resolved silently; ``NaN`` and ``Infinity`` are not JSON.
    """
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_members, parse_constant=_not_json)
    except UnicodeDecodeError:
        return InvalidPublication("The body is not UTF-8.")
    except _DuplicateMember as duplicate:
        return InvalidPublication(f"The member {duplicate.args[0]!r} appears more than once.")
    except (ValueError, RecursionError):
        return InvalidPublication("The body is not a JSON document.")
    if not isinstance(document, dict):
        return InvalidPublication('The body must be a JSON object: {"event": "<type>", "data": <any JSON>}.')
    missing = sorted({"event", "data"} - document.keys())
    unknown = sorted(document.keys() - {"event", "data"})
    if missing or unknown:
        parts = ([f"missing member(s): {', '.join(missing)}"] if missing else []) + ([f"unknown member(s): {', '.join(unknown)}"] if unknown else [])
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
