"""Comparison rules, JSON bodies by path and event streams by event: each rule hides the
difference it is for, and only that one."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from flask import Flask, Response, jsonify
from hypothesis import given, strategies as st
from quart import Quart, Response as QuartResponse, jsonify as quart_jsonify

from parity_tests.clients import Exchange, FlaskInProcess, QuartInProcess, enough
from parity_tests.compare import MAX_BODY_DIFFERENCES, FieldDifference, diff_exchanges
from parity_tests.pair import Pair
from parity_tests.rules import (
    ANY,
    DEFAULT_RULES,
    BodyRule,
    HeaderRule,
    Rules,
    format_path,
    parse_path,
    parse_rule,
    rules_from_mapping,
)
from parity_tests.sse import Event, end_of_events, parse_events, parse_stream
from shared.service.events import HEARTBEAT, OPENING

JSON = (("Content-Type", "application/json"),)
EVENT_STREAM = (("Content-Type", "text/event-stream"),)


def fields(left: Exchange, right: Exchange, rules: Rules = DEFAULT_RULES) -> list[str]:
    return [difference.field for difference in diff_exchanges(left, right, rules)]


def with_headers(*headers: tuple[str, str]) -> Exchange:
    return Exchange(200, headers, b"")


def rule(text: str) -> Rules:
    return DEFAULT_RULES.extended(parse_rule(text))


# Header rules


def test_an_ignored_header_is_not_compared_whatever_its_value_or_presence() -> None:
    left = with_headers(("X-Request-Id", "a1"), ("X-Other", "same"))
    right = with_headers(("x-request-id", "b2"), ("X-Other", "same"))
    assert fields(left, right) == ["header x-request-id"]
    ignoring = DEFAULT_RULES.extended(Rules(headers=(HeaderRule("X-Request-ID", "ignore"),)))
    assert fields(left, right, ignoring) == []
    assert fields(left, with_headers(("X-Other", "same")), ignoring) == []
    assert fields(left, with_headers(("x-request-id", "b2"), ("X-Other", "changed")), ignoring) == ["header x-other"]


def test_a_presence_rule_compares_only_whether_the_header_is_there() -> None:
    left, right = with_headers(("ETag", '"v1"')), with_headers(("ETag", '"v2"'))
    assert fields(left, right) == ["header etag"]
    assert fields(left, right, rule("header:etag=presence")) == []
    [missing] = diff_exchanges(left, with_headers(), rule("header:etag=presence"))
    assert missing == FieldDifference("header etag", '"v1"', "(absent)")


def test_a_regex_rule_compares_its_groups_and_a_value_that_stops_matching_differs() -> None:
    trace = rule(r"header:x-trace=regex:^(\w+)-")
    left = with_headers(("X-Trace", "checkout-4f2a"))
    assert fields(left, with_headers(("X-Trace", "checkout-91bc"))) == ["header x-trace"]
    assert fields(left, with_headers(("X-Trace", "checkout-91bc")), trace) == []
    assert fields(left, with_headers(("X-Trace", "cart-91bc")), trace) == ["header x-trace"]
    # "checkout" without the dash no longer matches: compared as itself, not as the group "checkout".
    [stopped] = diff_exchanges(left, with_headers(("X-Trace", "checkout")), trace)
    assert stopped == FieldDifference("header x-trace", "checkout-4f2a", "checkout")


def test_a_regex_rule_without_groups_compares_the_matched_text() -> None:
    served = rule(r"header:x-served=regex:\d+ ms")
    left = with_headers(("X-Served", "node-a in 12 ms"))
    assert fields(left, with_headers(("X-Served", "node-b in 12 ms")), served) == []
    assert fields(left, with_headers(("X-Served", "node-a in 13 ms")), served) == ["header x-served"]


def test_a_set_rule_compares_list_members_order_and_repeats_aside() -> None:
    by_set = rule("header:vary=set")
    left = with_headers(("Vary", "Accept, Cookie"))
    assert fields(left, with_headers(("Vary", "Cookie, Accept"))) == ["header vary"]
    for same in (
        with_headers(("Vary", "Cookie, Accept")),
        with_headers(("Vary", "Cookie"), ("Vary", "Accept")),  # RFC 9110 §5.3: one line or several
        with_headers(("Vary", "Accept,Cookie,,Accept")),
    ):
        assert fields(left, same, by_set) == []
    assert fields(left, with_headers(("Vary", "Accept")), by_set) == ["header vary"]
    assert fields(left, with_headers(("Vary", "Accept, Origin, Cookie")), by_set) == ["header vary"]


def test_a_set_rule_keeps_a_quoted_comma_inside_its_member() -> None:
    by_set = rule("header:cache-control=set")
    left = with_headers(("Cache-Control", 'no-cache="Set-Cookie, X-Id", max-age=60'))
    assert fields(left, with_headers(("Cache-Control", 'max-age=60, no-cache="Set-Cookie, X-Id"')), by_set) == []
    # Split at every comma, these two would be the same pieces: `no-cache="Set-Cookie` and `X-Id"`.
    pieces = with_headers(("Cache-Control", 'X-Id", no-cache="Set-Cookie, max-age=60'))
    assert fields(left, pieces, by_set) == ["header cache-control"]
    # A backslash quotes the next character (RFC 9110 §5.6.4): the quoted string goes on past it.
    escaped = with_headers(("Cache-Control", r'no-cache="a\"b, c", max-age=60'))
    assert fields(escaped, with_headers(("Cache-Control", r'max-age=60, no-cache="a\"b, c"')), by_set) == []


def test_a_set_rule_on_set_cookie_takes_each_line_whole() -> None:
    # Splitting at the comma in Expires would pair each cookie with the other's date.
    by_set = rule("header:set-cookie=set")
    left = with_headers(
        ("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
        ("Set-Cookie", "b=2; Expires=Thu, 22 Oct 2026 07:28:00 GMT"),
    )
    reordered = with_headers(*reversed(left.headers))
    swapped = with_headers(
        ("Set-Cookie", "a=1; Expires=Wed, 22 Oct 2026 07:28:00 GMT"),
        ("Set-Cookie", "b=2; Expires=Thu, 21 Oct 2026 07:28:00 GMT"),
    )
    assert fields(left, reordered) == ["header set-cookie"]
    assert fields(left, reordered, by_set) == []
    assert fields(left, swapped, by_set) == ["header set-cookie"]


def test_a_later_rule_for_a_header_wins() -> None:
    left, right = with_headers(("Date", "x")), with_headers()
    assert fields(left, right) == ["header date"]
    assert fields(left, right, rule("header:date=ignore")) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: HeaderRule("x", "frob"), "kind 'frob' is not one of"),  # type: ignore[arg-type]
        (lambda: HeaderRule("x", "regex"), "a regex rule needs a pattern"),
        (lambda: HeaderRule("x", "regex", "(unclosed"), "does not compile"),
        (lambda: HeaderRule("x", "set", "a"), "only a regex rule takes a pattern"),
        (lambda: HeaderRule("bad name", "ignore"), "is not a field name"),
        (lambda: BodyRule("items", "ignore"), "must start with \\$"),
        (lambda: BodyRule("$.a", "sorted"), "kind 'sorted'"),  # type: ignore[arg-type]
    ],
    ids=["kind", "regex-without-pattern", "bad-regex", "pattern-not-regex", "name", "path", "body-kind"],
)
def test_a_rule_built_wrong_is_refused_with_what_is_wrong(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# JSON bodies, by path


def json_body(text: str) -> Exchange:
    return Exchange(200, JSON, text.encode())


def test_a_nested_difference_is_reported_at_its_path_as_compact_json() -> None:
    left = json_body('{"items": [{"name": "Apple", "price": 10.0}, {"name": "Pear", "price": 3}]}')
    right = json_body('{"items": [{"name": "Apple", "price": 10.0}, {"name": "Plum", "price": 3}]}')
    assert diff_exchanges(left, right) == [FieldDifference("body $.items[1].name", '"Pear"', '"Plum"')]


def test_an_absent_member_or_element_is_shown_as_absent() -> None:
    left = json_body('{"a": 1, "list": [1, 2, 3], "a b": {"x": null}}')
    right = json_body('{"list": [1, 2], "a b": {"x": null}, "new": [true]}')
    assert diff_exchanges(left, right) == [
        FieldDifference("body $.a", "1", "(absent)"),
        FieldDifference("body $.list[2]", "3", "(absent)"),
        FieldDifference("body $.new", "(absent)", "[true]"),
    ]


@pytest.mark.parametrize(
    ("left", "right"),
    [("1", "1.0"), ("1", '"1"'), ("1", "true"), ("0", "false"), ("null", '""'), ("[]", "{}"), ('{"a": 1}', "[1]")],
)
def test_a_change_of_type_is_a_difference(left: str, right: str) -> None:
    assert diff_exchanges(json_body(f'{{"v": {left}}}'), json_body(f'{{"v": {right}}}')) == [
        FieldDifference("body $.v", left.replace(" ", ""), right.replace(" ", ""))
    ]


def test_member_order_and_whitespace_are_one_body_difference_said_to_be_the_same_value() -> None:
    left = json_body('{"a": 1, "b": [1, 2]}')
    [difference] = diff_exchanges(left, json_body('{"b":[1,2],"a":1}'))
    assert difference.field == "body"
    assert difference.left.endswith("(the same JSON value)")
    assert fields(left, json_body('{"b": [2, 1], "a": 1}')) == ["body $.b[0]", "body $.b[1]"]


def test_a_member_name_that_is_not_a_shorthand_is_bracketed() -> None:
    [difference] = diff_exchanges(json_body('{"a b": {"it\'s": 1}}'), json_body('{"a b": {"it\'s": 2}}'))
    assert difference.field == "body $['a b']['it\\'s']"


def test_bodies_parsing_as_json_are_diffed_by_path_whatever_their_content_type() -> None:
    left, right = Exchange(200, (), b'{"n": 1}'), Exchange(200, (), b'{"n": 2}')
    assert fields(left, right) == ["body $.n"]


def test_invalid_json_on_one_side_is_a_byte_difference() -> None:
    differences = diff_exchanges(json_body('{"n": 1}'), json_body('{"n": 1'))
    assert differences == [FieldDifference("body", repr(b'{"n": 1}'), repr(b'{"n": 1'))]


def test_an_ignored_path_hides_its_value_and_its_presence_and_nothing_else() -> None:
    ignoring = rule("json:$.items[*].updated_at=ignore").extended(parse_rule("json:$.generated_at=ignore"))
    left = json_body('{"generated_at": "10:00", "items": [{"id": 1, "updated_at": "9:00"}, {"id": 2}]}')
    right = json_body(
        '{"generated_at": "10:01", "items": [{"id": 1, "updated_at": "9:30"}, {"id": 2, "updated_at": 1}]}'
    )
    assert fields(left, right) == ["body $.generated_at", "body $.items[0].updated_at", "body $.items[1].updated_at"]
    assert fields(left, right, ignoring) == []
    changed = json_body('{"generated_at": "10:01", "items": [{"id": 1, "updated_at": "9:30"}, {"id": 3}]}')
    assert diff_exchanges(left, changed, ignoring) == [FieldDifference("body $.items[1].id", "2", "3")]


def test_an_unordered_array_compares_as_a_multiset() -> None:
    unordered = rule("json:$.tags=unordered")
    left = json_body('{"tags": ["a", "b", "b"]}')
    assert fields(left, json_body('{"tags": ["b", "a", "b"]}')) == ["body $.tags[0]", "body $.tags[1]"]
    assert fields(left, json_body('{"tags": ["b", "a", "b"]}'), unordered) == []
    # Repeats count, and so do types.
    assert diff_exchanges(left, json_body('{"tags": ["b", "a"]}'), unordered) == [
        FieldDifference("body $.tags", 'only here: ["b"]', "only here: []")
    ]
    assert diff_exchanges(json_body("[1, 2]"), json_body("[2, 1.0]"), rule("json:$=unordered")) == [
        FieldDifference("body $", "only here: [1]", "only here: [1.0]")
    ]


def test_an_unordered_array_of_objects_honours_the_rules_inside_its_elements() -> None:
    rules = rule("json:$.items=unordered").extended(parse_rule("json:$.items[*].seen=ignore"))
    left = json_body('{"items": [{"id": 1, "seen": "9:00", "tags": ["x"]}, {"id": 2, "seen": "9:01"}]}')
    right = json_body('{"items": [{"id": 2, "seen": "9:05"}, {"tags": ["x"], "id": 1, "seen": "9:02"}]}')
    assert fields(left, right, rules) == []
    other = json_body('{"items": [{"id": 2, "seen": "9:05"}, {"id": 1, "tags": ["y"]}]}')
    assert diff_exchanges(left, other, rules) == [
        FieldDifference("body $.items", 'only here: [{"id":1,"tags":["x"]}]', 'only here: [{"id":1,"tags":["y"]}]')
    ]


def test_arrays_inside_an_unordered_arrays_elements_keep_their_order_unless_a_rule_says() -> None:
    outer = rule("json:$.items=unordered")
    both = outer.extended(parse_rule("json:$.items[*].tags=unordered"))
    left = json_body('{"items": [{"id": 1, "tags": ["x", "y"]}, {"id": 2, "tags": ["z"]}]}')
    right = json_body('{"items": [{"id": 2, "tags": ["z"]}, {"id": 1, "tags": ["y", "x"]}]}')
    assert fields(left, right, outer) == ["body $.items"]
    assert fields(left, right, both) == []


def test_a_body_that_differs_everywhere_shows_the_first_differences_and_counts_the_rest() -> None:
    left = json_body("[" + ",".join(str(n) for n in range(200)) + "]")
    right = json_body("[" + ",".join(str(n + 1) for n in range(200)) + "]")
    differences = diff_exchanges(left, right)
    assert len(differences) == MAX_BODY_DIFFERENCES + 1
    assert differences[0] == FieldDifference("body $[0]", "0", "1")
    summary = differences[-1]
    assert summary.field == "body $"
    assert summary.left == summary.right == f"…and {200 - MAX_BODY_DIFFERENCES} more difference(s) in this body"


def test_a_long_value_is_shown_clipped() -> None:
    [difference] = diff_exchanges(json_body('{"v": "' + "x" * 10_000 + '"}'), json_body('{"v": "y"}'))
    assert len(difference.left) <= 200 and difference.left.endswith("…")


def test_json_nested_deeper_than_the_stack_is_compared_as_bytes() -> None:
    def nested(depth: int, inner: str) -> Exchange:
        return json_body("[" * depth + inner + "]" * depth)

    assert fields(nested(500, "{}"), nested(500, "1")) == ["body $" + "[0]" * 500]
    # Near the recursion limit either the parser or the walk gives up: then the bytes are compared.
    depth = sys.getrecursionlimit() - 10
    assert fields(nested(depth, "{}"), nested(depth, "1")) == ["body"]
    assert fields(nested(100_000, "{}"), nested(100_000, "1")) == ["body"]


# JSON paths


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", ()),
        ("$.items[3].name", ("items", 3, "name")),
        ("$.items[*].updated_at", ("items", ANY, "updated_at")),
        ("$.*", (ANY,)),
        ("$['a b']['it\\'s']", ("a b", "it's")),
        ('$["tab\\there"]', ("tab\there",)),
        ("$.naïve", ("naïve",)),
    ],
)
def test_a_path_reads_as_its_steps(path: str, steps: tuple[object, ...]) -> None:
    assert parse_path(path) == steps


@pytest.mark.parametrize("path", ["$.items[3].name", "$[*]['a b']", "$['it\\'s']", "$['q\"x']", "$['back\\\\slash']"])
def test_a_path_formats_as_it_was_written(path: str) -> None:
    assert format_path(parse_path(path)) == path


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items", "must start with \\$"),
        ("$.", "cannot read '.'"),
        ("$[01]", "cannot read '\\[01\\]'"),
        ("$[-1]", "cannot read"),
        ("$['open", "cannot read"),
        ("$.a..b", "cannot read '..b'"),
        ("$['\\q']", "bad escape"),
    ],
)
def test_a_path_that_does_not_read_is_refused_naming_the_bad_part(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_path(path)


# Event streams, event by event


def stream(text: str) -> Exchange:
    return Exchange(200, EVENT_STREAM, text.encode())


THREE = "retry: 1000\nevent: hello\ndata: world\n\nid: 1\ndata: one\n\nid: 2\nevent: note\ndata: a\ndata: b\n\n"


def test_the_same_events_written_differently_agree() -> None:
    rewritten = (
        ": keep-alive\n\n"
        "data:world\nevent:hello\nretry:1000\n\n"  # field order, no space after the colon
        ": heartbeat\n\n: heartbeat\n\n"
        "data: one\n: a comment line inside an event\nid: 1\n\n"
        "id: 2\r\nevent: note\r\ndata: a\rdata: b\r\n\r\n"  # CRLF and CR line ends
    )
    assert diff_exchanges(stream(THREE), stream(rewritten)) == []
    # Byte for byte, they are not the same body: without the content type they differ.
    assert fields(Exchange(200, (), THREE.encode()), Exchange(200, (), rewritten.encode())) == ["body"]


def test_crlf_and_lf_line_ends_agree() -> None:
    assert diff_exchanges(stream(THREE), stream(THREE.replace("\n", "\r\n"))) == []


def test_a_changed_data_line_is_one_finding_at_its_event() -> None:
    changed = THREE.replace("data: b", "data: c")
    assert diff_exchanges(stream(THREE), stream(changed)) == [FieldDifference("event 3 data", '"a\\nb"', '"a\\nc"')]


def test_a_missing_event_is_one_finding_with_the_counts() -> None:
    two = THREE[: THREE.index("id: 2")]
    assert diff_exchanges(stream(THREE), stream(two)) == [FieldDifference("events", "3 events", "2 events")]


def test_a_different_id_event_or_retry_is_one_finding_each() -> None:
    assert diff_exchanges(stream(THREE), stream(THREE.replace("id: 1", "id: 7"))) == [
        FieldDifference("event 2 id", '"1"', '"7"')
    ]
    assert diff_exchanges(stream(THREE), stream(THREE.replace("id: 1\n", ""))) == [
        FieldDifference("event 2 id", '"1"', "(absent)")
    ]
    assert diff_exchanges(stream(THREE), stream(THREE.replace("event: note", "event: other"))) == [
        FieldDifference("event 3 event", '"note"', '"other"')
    ]
    assert diff_exchanges(stream(THREE), stream(THREE.replace("retry: 1000", "retry: 500"))) == [
        FieldDifference("event 1 retry", "1000", "500")
    ]


def test_heartbeats_are_compared_by_count_only_when_a_rule_says_so() -> None:
    fewer, more = stream(THREE + ": hb\n\n"), stream(": hb\n\n" + THREE + ": hb\n\n: hb\n\n")
    assert diff_exchanges(fewer, more) == []
    counting = rule("sse:heartbeats=compare")
    assert diff_exchanges(fewer, more, counting) == [FieldDifference("heartbeats", "1", "3")]
    assert diff_exchanges(fewer, stream(": other text\n\n" + THREE), counting) == []
    assert fields(fewer, stream(THREE.replace("one", "uno") + ": hb\n\n"), counting) == ["event 2 data"]


def test_a_block_the_body_ends_inside_of_is_compared() -> None:
    left, right = stream(THREE + "id: 3\ndata: par"), stream(THREE + "id: 3\ndata: pa")
    assert diff_exchanges(left, right) == [
        FieldDifference("events unfinished", '"id: 3\\ndata: par"', '"id: 3\\ndata: pa"')
    ]
    assert diff_exchanges(stream(THREE + ": heartb"), stream(THREE)) == []


def test_a_stream_that_differs_everywhere_is_capped() -> None:
    left = stream("".join(f"data: {n}\n\n" for n in range(120)))
    right = stream("".join(f"data: {n + 1}\n\n" for n in range(120)))
    differences = diff_exchanges(left, right)
    assert len(differences) == MAX_BODY_DIFFERENCES + 1
    assert differences[-1].field == "event …" and "70 more" in differences[-1].left


def test_only_two_event_streams_compare_by_event() -> None:
    differences = diff_exchanges(stream(THREE), Exchange(200, (("Content-Type", "text/plain"),), THREE.encode()[:-1]))
    assert [difference.field for difference in differences] == ["header content-type", "body"]
    charset = Exchange(200, (("content-type", "Text/Event-Stream; charset=utf-8"),), THREE.replace("\n", "\r").encode())
    assert fields(stream(THREE), charset) == ["header content-type"]


# Parsing a stream


def test_twinport_opening_and_heartbeat_parse_as_one_event_and_one_heartbeat() -> None:
    parsed = parse_stream(OPENING + HEARTBEAT)
    assert parsed.events == (Event(event="hello", data="world", retry=1000),)
    assert (parsed.heartbeats, parsed.unfinished) == (1, "")


def test_a_body_cut_by_enough_ends_after_its_last_event() -> None:
    body = OPENING + HEARTBEAT + b"id: x-1\ndata: one\n\n" + HEARTBEAT + b"id: x-2\ndata: two\n\nid: x-3\ndata: th"
    cut = enough(body, None, 2)
    assert cut is not None
    parsed = parse_stream(body[:cut])
    assert [event.id for event in parsed.events] == [None, "x-1"]
    assert parsed.unfinished == ""


_LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
_FIELD_LINE = st.sampled_from(["data: x", "data:", "id: 1", "event: e", "retry: 5", "foo", "data: é"])
_COMMENT_LINE = st.sampled_from([":", ": heartbeat", ":data: no"])
_BLOCK = st.lists(st.one_of(_FIELD_LINE, _COMMENT_LINE), min_size=1, max_size=4)


@given(st.lists(st.tuples(_BLOCK, _LINE_ENDS), max_size=8), st.text(alphabet="data:\r\n x", max_size=8))
def test_end_of_events_cuts_where_the_parser_counts_an_event(blocks: list[tuple[list[str], str]], tail: str) -> None:
    body = ("".join(end.join(lines) + end + end for lines, end in blocks) + tail).encode()
    parsed = parse_stream(body)
    for count in range(1, len(parsed.events) + 1):
        end = end_of_events(body, count)
        assert end is not None
        cut = parse_stream(body[:end])
        assert (cut.events, cut.unfinished) == (parsed.events[:count], "")
    assert end_of_events(body, len(parsed.events) + 1) is None
    if "\r" not in body.decode():  # what clients.enough reads today: LF line ends only
        assert [enough(body, None, count) for count in range(1, len(parsed.events) + 2)] == [
            end_of_events(body, count) for count in range(1, len(parsed.events) + 2)
        ]


def test_end_of_events_counts_events_in_a_crlf_stream() -> None:
    body = "\ufeff: hi\r\n\r\nid: 1\r\ndata: a\r\n\r\nid: 2\r\ndata: b\r\n\r\nid: 3\r\nda".encode()
    assert body[: end_of_events(body, 2)].endswith(b"data: b\r\n\r\n")
    assert end_of_events(body, 3) is None


def test_the_fields_are_interpreted_as_the_spec_says() -> None:
    body = (
        "\ufeffdata\n\n"  # a leading BOM is dropped; a name alone has the empty value
        "data:  two spaces\n\n"  # only one space is stripped
        "id: a\x00b\nretry: 12x\nfoo: bar\ndata: x\n\n"  # NUL id, non-digit retry, unknown field: ignored
        f"retry: {'9' * 5000}\ndata: y\n\n"  # too long to be a delay: ignored, no error
        "id: 1\nid: 2\nevent: a\nevent: b\ndata: z\n\n"  # the last of each field wins
        "id: only-an-id\n\n"  # kept: it sets the id a reconnecting client sends
    ).encode()
    assert parse_events(body) == [
        Event(data=""),
        Event(data=" two spaces"),
        Event(data="x"),
        Event(data="y"),
        Event(id="2", event="b", data="z"),
        Event(id="only-an-id"),
    ]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert parse_events(b"data: \xff\n\n") == [Event(data="\ufffd")]


# Rules from text and from a case file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("header:X-Request-Id=ignore", Rules(headers=(HeaderRule("X-Request-Id", "ignore"),))),
        ("header:etag=presence", Rules(headers=(HeaderRule("etag", "presence"),))),
        ("header:vary=set", Rules(headers=(HeaderRule("vary", "set"),))),
        ("header:x-trace=regex:^(\\w+)=", Rules(headers=(HeaderRule("x-trace", "regex", "^(\\w+)="),))),
        ("json:$.items[*].at=ignore", Rules(body=(BodyRule("$.items[*].at", "ignore"),))),
        ("json:$['a=b']=unordered", Rules(body=(BodyRule("$['a=b']", "unordered"),))),
        ("sse:heartbeats=compare", Rules(sse_heartbeats="compare")),
        ("sse:heartbeats=ignore", Rules(sse_heartbeats="ignore")),
    ],
)
def test_a_rule_reads_from_the_command_line(text: str, expected: Rules) -> None:
    assert parse_rule(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x-request-id", "expected header:, json: or sse:"),
        ("cookie:a=ignore", "unknown scope 'cookie'"),
        ("header:x-id", "expected header:NAME=KIND"),
        ("header:x-id=frob", "kind 'frob'"),
        ("header:x-id=regex", "written regex:PATTERN"),
        ("header:x-id=regex:(", "does not compile"),
        ("header:x id=ignore", "not a field name"),
        ("json:$.a=sorted", "kind 'sorted'"),
        ("json:a=ignore", "must start with"),
        ("json:$.a", "expected json:PATH=KIND"),
        ("sse:heartbeat=compare", "expected sse:heartbeats"),
        ("sse:heartbeats=sometimes", "'sometimes' is not compare or ignore"),
    ],
)
def test_a_command_line_rule_that_does_not_read_names_itself_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_rule(text)
    assert str(raised.value).startswith(f"rule {text!r}: ")


def test_a_case_files_rules_table_reads_every_form() -> None:
    rules = rules_from_mapping(
        {
            "headers": {
                "x-request-id": "ignore",
                "vary": "set",
                "x-trace": {"regex": "^(\\w+)-"},
                "x-span": "regex:^(\\d+)",
                "etag": {"kind": "presence", "reason": "built from the mtime"},
                "x-node": {"kind": "regex", "pattern": "node-(\\d)"},
            },
            "json": {"$.generated_at": "ignore", "$.tags": {"kind": "unordered", "reason": "a set"}},
            "sse": {"heartbeats": "compare"},
        }
    )
    assert rules == Rules(
        headers=(
            HeaderRule("x-request-id", "ignore"),
            HeaderRule("vary", "set"),
            HeaderRule("x-trace", "regex", "^(\\w+)-"),
            HeaderRule("x-span", "regex", "^(\\d+)"),
            HeaderRule("etag", "presence", reason="built from the mtime"),
            HeaderRule("x-node", "regex", "node-(\\d)"),
        ),
        body=(BodyRule("$.generated_at", "ignore"), BodyRule("$.tags", "unordered", "a set")),
        sse_heartbeats="compare",
    )
    assert rules_from_mapping({}) == Rules()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([], "rules must be a table"),
        ({"header": {}}, "unknown key\\(s\\) header"),
        ({"headers": ["x-id"]}, "rules.headers must be a table"),
        ({"headers": {"x-id": 3}}, "rules.headers.x-id must be a table"),
        ({"headers": {"x-id": "frob"}}, "kind 'frob'"),
        ({"headers": {"x-id": {"kind": "regex"}}}, "needs a pattern"),
        ({"headers": {"x-id": {"regex": "("}}}, "does not compile"),
        ({"headers": {"x-id": {"regex": "a", "kind": "regex"}}}, "either regex or kind and pattern"),
        ({"headers": {"x-id": {"reason": "no kind"}}}, "needs a kind"),
        ({"headers": {"x-id": {"kind": "ignore", "reason": 3}}}, "reason must be a string"),
        ({"headers": {"x-id": {"kind": "ignore", "why": "x"}}}, "unknown key\\(s\\) why"),
        ({"json": {"$.a": {"kind": "ignore", "pattern": "x"}}}, "rules.json.\\$.a: unknown key\\(s\\) pattern"),
        ({"json": {"a": "ignore"}}, "must start with"),
        ({"sse": {"heartbeats": "often"}}, "'often' is not compare or ignore"),
        ({"sse": "compare"}, "rules.sse must be a table"),
    ],
)
def test_a_rules_table_that_does_not_read_is_refused_naming_the_place(mapping: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        rules_from_mapping(mapping, "cases.toml: case 2: rules")  # type: ignore[arg-type]
    assert str(raised.value).startswith("cases.toml: case 2: rules")


def test_extended_rules_keep_heartbeats_compared_unless_told_otherwise() -> None:
    counting = DEFAULT_RULES.extended(parse_rule("sse:heartbeats=compare"))
    assert counting.extended(parse_rule("header:x=ignore")).compares_heartbeats
    assert not counting.extended(parse_rule("sse:heartbeats=ignore")).compares_heartbeats
    assert not DEFAULT_RULES.compares_heartbeats
    assert counting.extended(parse_rule("json:$.a=ignore")).body == (BodyRule("$.a", "ignore"),)


# Through a run: two real apps, in process


def noisy_flask_app() -> Flask:
    app = Flask("noisy_flask")

    @app.get("/items")
    def items() -> Response:
        response = jsonify(generated_at=time.time_ns(), tags=["a", "b"], name="Apple")
        response.headers["X-Request-Id"] = uuid.uuid4().hex
        response.headers["Vary"] = "Accept, Cookie"
        return response

    @app.get("/events")
    def events() -> Response:
        def stream() -> Iterator[str]:
            yield "retry: 1000\ndata: hello\n\n"
            yield ": heartbeat\n\n"
            yield "id: 1\nevent: item\ndata: Apple\n\n"
            yield "id: 2\nevent: item\ndata: Pear\n\n"

        return Response(stream(), mimetype="text/event-stream")

    return app


def noisy_quart_app() -> Quart:
    app = Quart("noisy_quart")

    @app.get("/items")
    async def items() -> QuartResponse:
        response: QuartResponse = quart_jsonify(name="Apple", tags=["b", "a"], generated_at=time.time_ns())
        response.headers["X-Request-Id"] = uuid.uuid4().hex
        response.headers["Vary"] = "Cookie, Accept"
        return response

    @app.get("/events")
    async def events() -> QuartResponse:
        async def stream() -> AsyncIterator[bytes]:
            yield b"data:hello\r\nretry:1000\r\n\r\n"
            yield b"id: 1\r\nevent: item\r\ndata: Apple\r\n\r\n"
            yield b": heartbeat\r\n\r\n"
            yield b"id: 2\r\nevent: item\r\ndata: Pear\r\n\r\n"

        return QuartResponse(stream(), mimetype="text/event-stream")

    return app


ITEMS_RULES = rules_from_mapping(
    {
        "headers": {"x-request-id": {"kind": "ignore", "reason": "a fresh id per request"}, "vary": "set"},
        "json": {"$.generated_at": "ignore", "$.tags": "unordered"},
    }
)


def test_a_run_of_two_real_apps_finds_only_what_its_rules_leave() -> None:
    with QuartInProcess(noisy_quart_app()) as quart:
        pair = Pair(FlaskInProcess(noisy_flask_app()), quart)
        found = {(finding.kind, finding.field) for finding in pair.check("GET", "/items")}
        assert found >= {
            ("difference", "header x-request-id"),
            ("difference", "header vary"),
            ("difference", "body $.generated_at"),
            ("difference", "body $.tags[0]"),
            ("nondeterministic in flask", "body $.generated_at"),
            ("nondeterministic in quart", "header x-request-id"),
        }
        assert pair.check("GET", "/items", rules=ITEMS_RULES) == []
        # The same events, written with other line ends, field order and heartbeats: no finding.
        assert pair.check("GET", "/events", events=3) == []
        assert pair.check("GET", "/events") == []
