"""A server-sent event stream read as a client reads it (WHATWG HTML §9.2.5 parsing, §9.2.6
interpretation), so that two streams compare event by event rather than byte by byte.

The unit is the *block*: lines up to a blank line. A block with at least one field line is an
``Event`` (as ``clients.enough`` counts them); a block of comment lines only is a heartbeat.
Each event holds the fields its own block set, interpreted as the spec interprets them: ``data``
lines joined with LF, ``event``, ``id`` and ``retry`` the last of the block, an ``id`` holding
NUL and a ``retry`` that is not all ASCII digits ignored, unknown fields ignored. Unlike a
browser's ``MessageEvent`` the id is not carried over from earlier blocks and a block without
data is kept: what each block says is what a port must reproduce, and a reconnecting client
depends on both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Event", "EventStream", "end_of_events", "parse_events", "parse_stream"]

# §9.2.5: end-of-line = ( cr lf / cr / lf ); str.splitlines() would split on more.
_END_OF_LINE = re.compile(r"\r\n|\r|\n")
_END_OF_LINE_BYTES = re.compile(rb"\r\n|\r|\n")
_BOM = "\ufeff".encode()
_DIGITS = re.compile(r"[0-9]+")
# int() refuses more digits than sys.get_int_max_str_digits() (4300): a longer retry is ignored,
# as no client could keep such a delay anyway.
_MAX_RETRY_DIGITS = 4000


@dataclass(frozen=True, slots=True)
class Event:
    """The fields one block set; None where it set none."""

    id: str | None = None  # the field's own name in the event stream format
    event: str | None = None
    data: str | None = None
    retry: int | None = None


@dataclass(frozen=True, slots=True)
class EventStream:
    """A body as events: the complete ones in order, how many heartbeats (complete comment-only
    blocks) came among them, and the field lines of a block the body ends inside of (``""``
    when it ends at a block's end, as a body cut by ``clients.enough`` does)."""

    events: tuple[Event, ...]
    heartbeats: int
    unfinished: str


def parse_events(body: bytes) -> list[Event]:
    """The complete events of an event-stream body, in order."""
    return list(parse_stream(body).events)


def parse_stream(body: bytes) -> EventStream:
    # §9.2.5: UTF-8, errors replaced, one leading BOM ignored.
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    *lines, last = _END_OF_LINE.split(text)  # ``last`` is what follows the final line end
    events: list[Event] = []
    heartbeats = 0
    block: list[str] = []
    for line in lines:
        if line:
            block.append(line)
            continue
        fields = [field_line for field_line in block if not field_line.startswith(":")]
        if fields:
            events.append(_event(fields))
        elif block:
            heartbeats += 1
        block = []
    unfinished = [line for line in (*block, last) if line and not line.startswith(":")]
    return EventStream(tuple(events), heartbeats, "\n".join(unfinished))


def end_of_events(body: bytes | bytearray, count: int) -> int | None:
    """Where the ``count``-th complete event of a partial body ends (just after its blank line),
    or None while the body holds fewer: how far to read an endless stream so that what is
    compared never depends on how the bytes after it were chunked. Counted as ``parse_stream``
    counts (comment-only blocks are heartbeats, not events), on any of the three line ends;
    line ends are ASCII, so the bytes need no decoding."""
    seen, position, fields = 0, len(_BOM) if body.startswith(_BOM) else 0, False
    for line_end in _END_OF_LINE_BYTES.finditer(body, position):
        line, position = body[position : line_end.start()], line_end.end()
        if line:
            fields = fields or not line.startswith(b":")
        elif fields:
            seen, fields = seen + 1, False
            if seen == count:
                return position
    return None


def _event(lines: list[str]) -> Event:
    data: list[str] = []
    event = event_id = None
    retry = None
    for line in lines:
        # §9.2.5: the name up to the first colon, the value after it less one leading space;
        # a line without a colon is a name with an empty value.
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\x00" not in value:
            event_id = value
        elif name == "retry" and _DIGITS.fullmatch(value) and len(value) <= _MAX_RETRY_DIGITS:
            retry = int(value)
    return Event(event_id, event, "\n".join(data) if data else None, retry)
