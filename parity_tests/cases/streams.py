"""Cases for the streams (seed §2.2), the event hub's publish side, and the cookie (§2.5.2).

Streamed bodies are compared whole (``/stream/gen``, the CSV export at the suite's
``export_rows``), an event stream up to a number of events: the opening, then what the replay
buffer holds for a Last-Event-ID. Those come before the stream first waits, so no heartbeat can
fall between them and the compared prefix is the same on every run. The publish cases change
the hub (``repeatable=False``) and come first, in a fixed order, so both runtimes' hubs hold the
same events when the replay cases read them: ``parity_settings`` keeps three (``sse_replay``).

Ids are ``<boot>-<n>``; each runtime's boot differs (two processes), so the harness learns it
from ``/ops/stats``, writes it where a case's Last-Event-ID says ``<boot>`` and compares answers
with it written ``<boot>`` (``compare.without_boot``).
"""

from __future__ import annotations

import json

from shared.service.events import HEARTBEAT, OPENING

from ..case import Case, get_and_head

__all__ = ["PUBLISHED", "STREAM_CASES"]

JSON = (("Content-Type", "application/json"),)
# Published in this order, so ids <boot>-1 to <boot>-4; a replay buffer of three keeps 2, 3 and 4.
PUBLISHED = (
    ("greeting", {"text": "hello, 세계", "n": 1}),
    ("greeting", None),
    ("tick", [1, 2.5, True, "line\nbreak"]),
    ("한국어-type", {"nested": {"b": 2, "a": 1}}),
)


_OK_BODY = b'{"event": "x", "data": 1}'
_PUBLISHES = tuple(f"publish-event-{index + 1}" for index in range(len(PUBLISHED)))


def _publish(index: int, event_type: str, data: object) -> Case:
    body = json.dumps({"event": event_type, "data": data}).encode("utf-8")
    return Case(f"publish-event-{index + 1}", "/events", method="POST", headers=JSON, body=body, repeatable=False)


def _replay(name: str, last_event_id: str, events: int = 4) -> Case:
    """A reconnection with ``Last-Event-ID``, read back after the publish cases."""
    headers = (("Last-Event-ID", last_event_id),)
    return Case(f"events-replay-{name}", "/events", headers=headers, events=events, after=_PUBLISHES)


def _bad_publish(case_id: str, body: bytes, headers: tuple[tuple[str, str], ...] = JSON) -> Case:
    return Case(f"publish-event-{case_id}", "/events", method="POST", headers=headers, body=body)


def _guarded_publish(case_id: str, authorization: str | None, *, repeatable: bool = True, prelude: int = 0) -> Case:
    """A valid publication to the "guarded" profile (publish_tokens and a bucket of two)."""
    headers = JSON if authorization is None else (*JSON, ("Authorization", authorization))
    return Case(
        f"publish-guarded-{case_id}",
        "/events",
        method="POST",
        headers=headers,
        body=_OK_BODY,
        profile="guarded",
        repeatable=repeatable,
        prelude=prelude,
    )


STREAM_CASES: tuple[Case, ...] = (
    # §2.2.1 and §2.2.2: whole streamed bodies, and HEAD (headers only, the generator never runs).
    *get_and_head("stream-gen", "/stream/gen"),
    *get_and_head("export-csv", "/export.csv"),
    # A stream answers 200 whatever the conditional and Range headers say.
    Case("export-csv-range", "/export.csv", headers=(("Range", "bytes=0-9"), ("If-None-Match", "*"))),
    # Live counters, before any stream of this module has opened.
    *get_and_head("ops-stats", "/ops/stats"),
    # §2.2.3: the opening, and HEAD on an endless stream.
    Case("events-opening", "/events", events=1),
    Case("events-head", "/events", method="HEAD"),
    Case("events-last-id-garbage", "/events", headers=(("Last-Event-ID", "not-an-id"),), events=1),
    # Publishing, then reading back from the replay buffer.
    *(_publish(index, event_type, data) for index, (event_type, data) in enumerate(PUBLISHED)),
    _replay("all-kept", "<boot>-0"),
    _replay("newer", "<boot>-3", events=2),
    # Up to date: the opening, then the first heartbeat (nothing replayed before it).
    Case(
        "events-replay-up-to-date",
        "/events",
        headers=(("Last-Event-ID", "<boot>-4"),),
        read_limit=len(OPENING) + len(HEARTBEAT),
        after=_PUBLISHES,
    ),
    # An id of an earlier process (another boot), of before ids carried a boot (a bare integer),
    # or of this boot but never issued: that client missed everything kept.
    _replay("after-restart", "0000000001-2"),
    _replay("bare-integer", "999"),
    _replay("not-issued-yet", "<boot>-999"),
    # Bodies that cannot be published: 400 (or 415), the same problem document in both.
    _bad_publish("malformed-json", b'{"event": "x", "data": '),
    _bad_publish("empty-body", b""),
    _bad_publish("not-utf8", b'{"event": "\xff", "data": 1}'),
    _bad_publish("not-an-object", b'["x", 1]'),
    _bad_publish("missing-data", b'{"event": "x"}'),
    _bad_publish("missing-event", b'{"data": 1}'),
    _bad_publish("unknown-member", b'{"event": "x", "data": 1, "id": 7}'),
    _bad_publish("duplicate-member", b'{"event": "x", "event": "y", "data": 1}'),
    _bad_publish("type-not-string", b'{"event": 5, "data": 1}'),
    _bad_publish("type-empty", b'{"event": "", "data": 1}'),
    _bad_publish("type-too-long", b'{"event": "' + b"x" * 65 + b'", "data": 1}'),
    _bad_publish("type-crlf", b'{"event": "x\\r\\nevent: forged", "data": 1}'),
    _bad_publish("type-lone-surrogate", b'{"event": "\\ud800", "data": 1}'),
    _bad_publish("nan", b'{"event": "x", "data": NaN}'),
    # RFC 8259 §6: numbers beyond a double are refused, not turned into Infinity.
    _bad_publish("overflowing-number", b'{"event": "x", "data": 1e400}'),
    _bad_publish("overflowing-negative", b'{"event": "x", "data": {"v": -1e400}}'),
    _bad_publish("infinity", b'{"event": "x", "data": -Infinity}'),
    _bad_publish("huge-integer", b'{"event": "x", "data": ' + b"7" * 5000 + b"}"),
    _bad_publish("form-encoded", b"event=x&data=1", (("Content-Type", "application/x-www-form-urlencoded"),)),
    _bad_publish("no-content-type", b'{"event": "x", "data": 1}', ()),
    _bad_publish("too-large", b'{"event": "x", "data": "' + b"x" * (1024 * 1024) + b'"}'),
    # publish_tokens (the "guarded" profile): 401 with the /api/v1 challenge, then 429 per address.
    _guarded_publish("no-token", None),
    _guarded_publish("wrong-token", "Bearer nope"),
    _guarded_publish("not-bearer", "Basic cC1vazo="),
    _guarded_publish("ok", "Bearer p-ok", repeatable=False),
    # The bucket holds two; the publish above took one, the prelude takes the other.
    _guarded_publish("rate-limited", "Bearer p-other", prelude=1),
    # §2.5.2: the cookie, one Set-Cookie value in both.
    *get_and_head("set-cookie", "/set-cookie"),
)
