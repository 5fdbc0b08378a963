"""Server-sent events encoding (WHATWG HTML §9.2.5 parsing, §9.2.6 interpretation).

Each call returns the UTF-8 bytes of one complete block, ending in the blank line that makes the
client dispatch, so the adapters only write what they get. Fields are written ``name: value`` in the
order ``id``, ``retry``, ``event``, ``data``: the order the seed service opens its stream with
(``retry: 1000``, ``event: hello``, ``data: world``), so both twins can reproduce it byte for byte.

Every value follows one space, which the parser strips, so a value starting with a space survives.
``data=""`` is the line ``data: ``: a client dispatches it as a message whose data is empty, while
``data=None`` writes no data line and dispatches nothing (it only sets id or retry).
"""

from __future__ import annotations

import re

__all__ = ["encode_comment", "encode_event"]

# §9.2.5: end-of-line = ( cr lf / cr / lf ). str.splitlines() would also split on VT, FF, NEL,
# U+2028 and others that the event stream keeps as data, so split on exactly these three.
_END_OF_LINE = re.compile(r"\r\n|\r|\n")


def encode_event(
    *,
    data: str | None = None,
    event: str | None = None,
    id: str | int | None = None,  # the field's own name in the event stream format
    retry: int | None = None,
) -> bytes:
    """Encode one event; at least one field must be given."""
    lines: list[str] = []
    if id is not None:
        lines.append(f"id: {_event_id(id)}")
    if retry is not None:
        # §9.2.6: a retry value that is not all ASCII digits is ignored, so refuse it here.
        if isinstance(retry, bool) or retry < 0:
            raise ValueError(f"retry must be a non-negative int of milliseconds, got {retry!r}")
        lines.append(f"retry: {retry}")
    if event is not None:
        # §9.2.5: a CR or LF would end the field and start another one chosen by the caller.
        _refuse_line_breaks("event", event)
        lines.append(f"event: {event}")
    if data is not None:
        # §9.2.6: the client joins consecutive data fields with LF, so each line is its own field.
        lines.extend(f"data: {line}" for line in _END_OF_LINE.split(data))
    if not lines:
        raise ValueError("an event needs at least one of data, event, id or retry")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """Encode a comment block (a heartbeat that keeps proxies from timing the stream out).

    §9.2.6: a line starting with a colon is ignored. Each line of ``text`` becomes ``: line``
    (a bare ``:`` for an empty line), and the block ends with a blank line.
    """
    lines = (f": {line}" if line else ":" for line in _END_OF_LINE.split(text))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _event_id(value: str | int) -> str:
    if isinstance(value, bool):
        raise ValueError("an event id is a string or an int, not a bool")
    event_id = str(value)
    _refuse_line_breaks("id", event_id)
    # §9.2.6: a client ignores an id field whose value contains NULL.
    if "\x00" in event_id:
        raise ValueError("an event id must not contain NUL: the client would ignore it")
    return event_id


def _refuse_line_breaks(field: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {field} field must not contain CR or LF: {value!r}")
