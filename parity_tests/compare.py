"""What counts as a difference between two exchanges, and the few things that do not.

Compared: the status code, every header (names case-insensitively, values exactly, repeated
fields such as Set-Cookie in order), and the body: byte for byte, except that

- two JSON bodies (both parse as JSON) are compared value by value, and each difference is
  reported at its path (``body $.items[3].name``, values as compact JSON: ``"Apple"``, ``10.0``;
  a member one side lacks is ``(absent)``). Types count: ``1``, ``1.0`` and ``"1"`` differ.
  The same value in other bytes (member order, whitespace: RFC 8259 §4 and §2 make them
  insignificant to a JSON reader) is still one ``body`` difference, shown as bytes and said
  to be the same value: a port that is byte for byte the same has none, and a cache, an ETag
  or a signature over the body sees it. With any JSON path rule (below), values alone count.
- two event streams (both ``Content-Type: text/event-stream``) are compared event by event as a
  client reads them (``sse``): ``event 3 data``, ``event 3 id``, ``event 3 event``,
  ``event 3 retry`` (events counted from 1), ``events`` when one side sent more, and
  ``events unfinished`` for a block the body ends inside of. Line ends (CRLF, CR, LF), the one
  space after a colon, field order within a block and comment lines do not count; heartbeats
  (comment-only blocks) do not either, unless the rules compare them (``heartbeats``: their count).

A body that differs in many places shows its first ``MAX_BODY_DIFFERENCES`` and one more line
(``body $`` or ``event …``) saying how many more there are. Other bodies show their bytes, or
for long ones their sizes, digests and where they part.

Normalized by default (``rules.DEFAULT_RULES``), each for a reason:

- ``Date``: its presence is compared, its value is the clock (servers add it, RFC 9110 §6.6.1).
- ``Server``: its presence is compared, its value names the server (gunicorn, hypercorn-h11),
  which is the point of running two.
- Hop-by-hop framing, RFC 9110 §7.6.1: ``Connection``, ``Keep-Alive``, ``Transfer-Encoding``,
  ``TE``, ``Trailer``, ``Upgrade``, ``Proxy-Connection`` describe one connection, not the
  response: gunicorn says ``Connection: keep-alive``, hypercorn says nothing, and both decide
  chunking themselves when there is no Content-Length.
- The reason phrase is not compared (gunicorn sends ``304 NOT MODIFIED``, hypercorn none);
  RFC 9112 §4 says clients should ignore it and HTTP/2 has none. It is not a header.
- The event hub's boot token (``without_boot``): event ids are ``<boot>-<n>``, and the boot is
  made from the process's start time so that ids survive a restart (``shared.edge.events``). Two
  runtimes are two processes, so their boots always differ. Learned per runtime, as Diffy learns
  noise: the harness reads each runtime's boot from ``/ops/stats`` (``sse_boot``), writes it into
  the request where a case says ``<boot>`` (a Last-Event-ID of that runtime), and replaces it by
  ``<boot>`` in both answers: only where an id (``<boot>-``) or the stats member (``"<boot>"``)
  holds it. The serials, the format and everything around them are still compared exactly.

A user's rules loosen more (``rules``): a header ignored, compared by presence, by what a regex
matches or as a set; a JSON path ignored or its array compared unordered; heartbeats compared.
Nothing else is normalized: a difference anywhere else is a defect in the code.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass

from .clients import Exchange
from .rules import DEFAULT_RULES, HeaderRule, Location, Rules, format_path
from .sse import parse_stream

__all__ = [
    "BOOT",
    "MAX_BODY_DIFFERENCES",
    "FieldDifference",
    "diff_exchanges",
    "fingerprint",
    "with_boot",
    "without_boot",
]

BOOT = "<boot>"
ABSENT = "(absent)"
#: How many differences one body shows before it only counts the rest.
MAX_BODY_DIFFERENCES = 50
# How much of one JSON value or event field a difference shows.
_SHOWN = 200


@dataclass(frozen=True, slots=True)
class FieldDifference:
    """One field that differs: ``status``, ``header <name>``, ``body``, ``body <JSON path>``,
    ``event <n> <field>``, ``events``, ``events unfinished`` or ``heartbeats``, and both sides."""

    field: str
    left: str
    right: str


def fingerprint(exchange: Exchange, rules: Rules = DEFAULT_RULES) -> dict[str, object]:
    """The exchange as compared: status, each header (by lowercase name) as its rule compares
    it, ignored ones left out, and the body."""
    headers = {
        name: _compared(rules.header(name), name, values)
        for name, values in _grouped(exchange.headers).items()
        if not _is_ignored(rules.header(name))
    }
    return {"status": exchange.status, "headers": headers, "body": exchange.body}


def with_boot(headers: tuple[tuple[str, str], ...], boot: str) -> tuple[tuple[str, str], ...]:
    """A case's request headers for one runtime: ``<boot>`` replaced by that runtime's boot."""
    return tuple((name, value.replace(BOOT, boot)) for name, value in headers)


def without_boot(exchange: Exchange, boot: str) -> Exchange:
    """The exchange with this runtime's boot written ``<boot>`` where ids and /ops/stats hold it."""
    if not boot:
        return exchange

    def text(value: str) -> str:
        return value.replace(f"{boot}-", f"{BOOT}-").replace(f'"{boot}"', f'"{BOOT}"')

    body = exchange.body.replace(f"{boot}-".encode(), f"{BOOT}-".encode()).replace(
        f'"{boot}"'.encode(), f'"{BOOT}"'.encode()
    )
    return Exchange(exchange.status, tuple((name, text(value)) for name, value in exchange.headers), body)


def diff_exchanges(left: Exchange, right: Exchange, rules: Rules = DEFAULT_RULES) -> list[FieldDifference]:
    """Every field in which ``left`` and ``right`` differ under ``rules``: the status, then the
    headers by name, then the body's differences."""
    a, b = fingerprint(left, rules), fingerprint(right, rules)
    differences: list[FieldDifference] = []
    if a["status"] != b["status"]:
        differences.append(FieldDifference("status", str(a["status"]), str(b["status"])))
    a_headers, b_headers = a["headers"], b["headers"]
    assert isinstance(a_headers, dict) and isinstance(b_headers, dict)
    # Shown as they came, compared as their rules say.
    left_headers, right_headers = _grouped(left.headers), _grouped(right.headers)
    for name in sorted(set(a_headers) | set(b_headers)):
        if a_headers.get(name) != b_headers.get(name):
            differences.append(
                FieldDifference(
                    f"header {name}", _show_values(left_headers.get(name)), _show_values(right_headers.get(name))
                )
            )
    if left.body != right.body:
        differences += _diff_bodies(left, right, rules)
    return differences


# Headers


def _grouped(headers: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def _is_ignored(rule: HeaderRule | None) -> bool:
    return rule is not None and rule.kind == "ignore"


def _compared(rule: HeaderRule | None, name: str, values: list[str]) -> object:
    """A present header's values as ``rule`` compares them."""
    if rule is None:
        return tuple(values)
    if rule.kind == "presence":
        return True
    if rule.kind == "set":
        return frozenset(_members(name, values))
    assert rule.kind == "regex" and rule.pattern is not None
    return tuple(_matched(rule.pattern, value) for value in values)


def _matched(pattern: str, value: str) -> tuple[object, ...]:
    """What ``pattern`` finds in ``value`` (its groups, else the match), tagged so that a value it
    does not match, compared as itself, never equals another's match."""
    match = re.search(pattern, value)
    if match is None:
        return ("unmatched", value)
    return ("matched", *match.groups()) if match.re.groups else ("matched", match.group())


def _members(name: str, values: list[str]) -> list[str]:
    """The values of a list field, one per member. RFC 9110 §5.3: the field lines of a list
    field combine into one comma-separated list, so ``a, b`` is ``a`` and ``b``; Set-Cookie
    is the exception (its Expires holds a comma: RFC 6265 §3), each line one value."""
    if name == "set-cookie":
        return values
    return [member for value in values for member in _list_members(value)]


def _list_members(value: str) -> list[str]:
    """RFC 9110 §5.6.1: members split at commas outside quoted strings (§5.6.4, where a
    backslash quotes the next character), optional whitespace around each, empty ones dropped."""
    members: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for character in value:
        if escaped:
            escaped = False
        elif quoted and character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == "," and not quoted:
            members.append("".join(current))
            current = []
            continue
        current.append(character)
    members.append("".join(current))
    return [stripped for member in members if (stripped := member.strip(" \t"))]


def _show_values(values: list[str] | None) -> str:
    if values is None:
        return ABSENT
    return " | ".join(values)


# Bodies


class _Found:
    """The differences of one body: the first ``MAX_BODY_DIFFERENCES`` kept, the rest counted,
    so a body that differs everywhere stays readable and its report bounded."""

    def __init__(self) -> None:
        self.shown: list[FieldDifference] = []
        self.more = 0

    def add(self, field: str, left: str, right: str) -> None:
        if len(self.shown) < MAX_BODY_DIFFERENCES:
            self.shown.append(FieldDifference(field, left, right))
        else:
            self.more += 1

    def differences(self, summary_field: str, where: str) -> list[FieldDifference]:
        if not self.more:
            return self.shown
        summary = f"…and {self.more} more difference(s) in this {where}"
        return [*self.shown, FieldDifference(summary_field, summary, summary)]


def _diff_bodies(left: Exchange, right: Exchange, rules: Rules) -> list[FieldDifference]:
    if _is_event_stream(left) and _is_event_stream(right):
        return _diff_event_streams(left.body, right.body, rules)
    left_document, right_document = _json_document(left.body), _json_document(right.body)
    if left_document is not _NOT_JSON and right_document is not _NOT_JSON:
        found = _Found()
        try:
            _diff_json(left_document, right_document, (), rules, found)
        except RecursionError:
            pass  # nested deeper than this walk can go: compared as bytes below
        else:
            by_path = found.differences("body $", "body")
            if by_path or rules.body:  # body rules: the user chose to compare values
                return by_path
            # The same JSON value in other bytes (member order, spacing, 1.0 vs 1.00, a final
            # newline): no JSON client tells them apart, but a byte-for-byte port would not
            # differ, and a cache or a signature over the body does; shown, as bytes.
            left_shown, right_shown = _show_bodies(left.body, right.body)
            return [FieldDifference("body", f"{left_shown} (the same JSON value)", right_shown)]
    return [FieldDifference("body", *_show_bodies(left.body, right.body))]


def _show_bodies(left: bytes, right: bytes) -> tuple[str, str]:
    if len(left) <= 120 and len(right) <= 120:
        return repr(left), repr(right)
    offset = next((i for i, (x, y) in enumerate(zip(left, right, strict=False)) if x != y), min(len(left), len(right)))

    def describe(body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()[:12]
        return f"{len(body)} bytes sha256:{digest}, from byte {offset}: {body[offset : offset + 24]!r}"

    return describe(left), describe(right)


def _clipped(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# JSON bodies


class _Absent:
    """A member or element one side does not have."""

    __slots__ = ()


class _NotJson:
    """A body that does not parse as JSON (JSON's own null is None)."""

    __slots__ = ()


_ABSENT = _Absent()
_NOT_JSON = _NotJson()


def _json_document(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _NOT_JSON


def _json_text(value: object) -> str:
    """Compact JSON, which keeps apart what Python's == does not: 1, 1.0 and true."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _show_json(value: object) -> str:
    return ABSENT if value is _ABSENT else _clipped(_json_text(value))


def _diff_json(left: object, right: object, location: Location, rules: Rules, found: _Found) -> None:
    rule = rules.body_rule(location) if rules.body else None
    if rule is not None and rule.kind == "ignore":
        return
    if isinstance(left, dict) and isinstance(right, dict):
        for key, value in left.items():
            _diff_json(value, right.get(key, _ABSENT), (*location, key), rules, found)
        for key, value in right.items():
            if key not in left:
                _diff_json(_ABSENT, value, (*location, key), rules, found)
    elif isinstance(left, list) and isinstance(right, list):
        if rule is not None and rule.kind == "unordered":
            _diff_multisets(left, right, location, rules, found)
            return
        for index in range(max(len(left), len(right))):
            left_item = left[index] if index < len(left) else _ABSENT
            right_item = right[index] if index < len(right) else _ABSENT
            _diff_json(left_item, right_item, (*location, index), rules, found)
    else:
        # Two containers of one kind were walked above: a container here differs from the other side.
        container = (dict, list, _Absent)
        if isinstance(left, container) or isinstance(right, container) or _json_text(left) != _json_text(right):
            found.add(f"body {format_path(location)}", _show_json(left), _show_json(right))


def _diff_multisets(left: list[object], right: list[object], location: Location, rules: Rules, found: _Found) -> None:
    """An ``unordered`` array: the elements only one side has (repeats counted), each element
    compared as a whole under the rules for the places inside it."""
    left_items = Counter(_canonical(item, (*location, index), rules) for index, item in enumerate(left))
    right_items = Counter(_canonical(item, (*location, index), rules) for index, item in enumerate(right))
    only_left, only_right = left_items - right_items, right_items - left_items
    if only_left or only_right:

        def only_here(items: Counter[str]) -> str:
            return _clipped(f"only here: [{','.join(items.elements())}]")

        found.add(f"body {format_path(location)}", only_here(only_left), only_here(only_right))


def _canonical(value: object, location: Location, rules: Rules) -> str:
    return json.dumps(_normalized(value, location, rules), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _normalized(value: object, location: Location, rules: Rules) -> object:
    """``value`` with its ignored places left out and its unordered arrays sorted."""
    if isinstance(value, dict):
        members = {key: (*location, key) for key in value}
        return {
            key: _normalized(value[key], place, rules)
            for key, place in members.items()
            if not _ignored_place(place, rules)
        }
    if isinstance(value, list):
        items = [
            _normalized(item, (*location, index), rules)
            for index, item in enumerate(value)
            if not _ignored_place((*location, index), rules)
        ]
        rule = rules.body_rule(location)
        if rule is not None and rule.kind == "unordered":
            items.sort(key=lambda item: json.dumps(item, ensure_ascii=False, sort_keys=True))
        return items
    return value


def _ignored_place(location: Location, rules: Rules) -> bool:
    rule = rules.body_rule(location)
    return rule is not None and rule.kind == "ignore"


# Event streams


def _is_event_stream(exchange: Exchange) -> bool:
    content_type = exchange.header("content-type") or ""
    return content_type.partition(";")[0].strip().lower() == "text/event-stream"


def _diff_event_streams(left: bytes, right: bytes, rules: Rules) -> list[FieldDifference]:
    left_stream, right_stream = parse_stream(left), parse_stream(right)
    found = _Found()
    left_count, right_count = len(left_stream.events), len(right_stream.events)
    if left_count != right_count:
        found.add("events", f"{left_count} events", f"{right_count} events")
    if left_stream.unfinished != right_stream.unfinished:
        found.add("events unfinished", _show_field(left_stream.unfinished), _show_field(right_stream.unfinished))
    if rules.compares_heartbeats and left_stream.heartbeats != right_stream.heartbeats:
        found.add("heartbeats", str(left_stream.heartbeats), str(right_stream.heartbeats))
    for number, (one, other) in enumerate(zip(left_stream.events, right_stream.events, strict=False), start=1):
        fields = (("id", one.id, other.id), ("event", one.event, other.event), ("data", one.data, other.data))
        for name, left_value, right_value in (*fields, ("retry", one.retry, other.retry)):
            if left_value != right_value:
                found.add(f"event {number} {name}", _show_field(left_value), _show_field(right_value))
    return found.differences("event …", "stream")


def _show_field(value: str | int | None) -> str:
    if value is None:
        return ABSENT
    return str(value) if isinstance(value, int) else _clipped(_json_text(value))
