"""The example pair (``parity_tests.example``), in process: a run over every route finds the four
planted differences, each exactly once, and nothing else.

Each case says what Flask answers it with, so a case that stopped exercising what it is named
for (a 304 that became a 200) fails here rather than passing by comparing two 200s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from parity_tests.case import Case
from parity_tests.clients import Exchange, FlaskInProcess, QuartInProcess
from parity_tests.example import EXAMPLE_RULES, flask_app, quart_app
from parity_tests.pair import Finding, Pair

FILE = "/files/brewing.txt"
JSON = (("Content-Type", "application/json"),)


@dataclass(frozen=True, slots=True)
class Planted:
    """A planted difference: its case, the fields that name it (``body`` under a byte comparison,
    the JSON path or the event's field once ``compare`` diffs bodies that way), and a piece of
    each side's value that shows it is this plant and not another difference in the same field
    (in both ways of showing it)."""

    case: str
    fields: tuple[str, ...]
    left: str
    right: str


PLANTED = (
    Planted("items", ("header cache-control",), "max-age=60", "no-cache"),
    Planted("item 2", ("body", "body $.price"), "2.67", "2.66"),
    # The port's side of the stream reads "Opening hours:" as an event's data, but as bytes from
    # the first difference on it is the two lines that lost their "data: ": no piece shows both.
    Planted("events", ("body", "event 3 data"), "Mon-Fri 9-18", ""),
    Planted("range suffix", ("header content-range",), "bytes 4027-4126/4127", "bytes 4027-4126/4126"),
)


def example_cases(etag: str, last_modified: str) -> list[tuple[Case, int]]:
    """Every route of the example, each with the status Flask answers it with."""
    new_item = b'{"name": "Genmaicha", "unit_price": "1.995"}'
    return [
        (Case("index", "/"), 200),
        (Case("index head", "/", method="HEAD"), 200),
        (Case("items", "/items"), 200),
        (Case("items options", "/items", method="OPTIONS"), 200),
        (Case("item 1", "/items/1"), 200),
        (Case("item 2", "/items/2"), 200),
        (Case("item unknown", "/items/99"), 404),
        (Case("item not a number", "/items/two"), 404),
        (Case("no such route", "/teapot"), 404),
        (Case("item wrong method", "/items/1", method="DELETE", repeatable=False), 405),
        (Case("create", "/items", method="POST", headers=JSON, body=new_item, repeatable=False), 201),
        (Case("created", "/items/4"), 200),
        (Case("create invalid", "/items", method="POST", headers=JSON, body=b'{"name": ""}', repeatable=False), 400),
        (Case("create not json", "/items", method="POST", body=b"name=Genmaicha", repeatable=False), 400),
        (Case("file", FILE), 200),
        (Case("file head", FILE, method="HEAD"), 200),
        (Case("file missing", "/files/nothing.txt"), 404),
        (Case("file outside", "/files/..%2Fcatalog.json"), 404),
        (Case("file if-none-match", FILE, headers=(("If-None-Match", etag),)), 304),
        (Case("file if-modified-since", FILE, headers=(("If-Modified-Since", last_modified),)), 304),
        (Case("file if-match fails", FILE, headers=(("If-Match", '"another"'),)), 412),
        (Case("range", FILE, headers=(("Range", "bytes=0-99"),)), 206),
        (Case("range head", FILE, method="HEAD", headers=(("Range", "bytes=100-199"),)), 206),
        (Case("range open", FILE, headers=(("Range", "bytes=4000-"),)), 206),
        (Case("range suffix", FILE, headers=(("Range", "bytes=-100"),)), 206),
        (Case("range suffix too long", FILE, headers=(("Range", "bytes=-9999"),)), 416),
        (Case("range if-range etag", FILE, headers=(("Range", "bytes=0-99"), ("If-Range", etag))), 206),
        (Case("range if-range date", FILE, headers=(("Range", "bytes=0-99"), ("If-Range", last_modified))), 206),
        (Case("range if-range stale", FILE, headers=(("Range", "bytes=0-99"), ("If-Range", '"old"'))), 200),
        (Case("range unsatisfiable", FILE, headers=(("Range", "bytes=5000-"),)), 416),
        (Case("range multiple", FILE, headers=(("Range", "bytes=0-9,20-29"),)), 416),
        (Case("range malformed", FILE, headers=(("Range", "bytes=abc"),)), 416),
        (Case("range other unit", FILE, headers=(("Range", "items=0-9"),)), 416),
        (Case("events", "/events", events=5), 200),
    ]


@dataclass
class ExampleRun:
    findings: list[Finding]
    flask_statuses: dict[str, int]
    expected_statuses: dict[str, int]
    flask_events: Exchange


@pytest.fixture(scope="module")
def example_run() -> Iterator[ExampleRun]:
    flask = FlaskInProcess(flask_app.create_app())
    with QuartInProcess(quart_app.create_app()) as quart:
        probe = flask.request("GET", FILE)
        etag, last_modified = probe.header("ETag"), probe.header("Last-Modified")
        assert etag is not None and last_modified is not None
        cases = example_cases(etag, last_modified)
        findings = Pair(flask, quart, rules=EXAMPLE_RULES).run(case for case, _ in cases)
        # What Flask answers each case with, in order, on a fresh app of its own.
        fresh = FlaskInProcess(flask_app.create_app())
        statuses: dict[str, int] = {}
        for case, _ in cases:
            statuses[case.id] = fresh.request(case.method, case.target, case.headers, case.body).status
        yield ExampleRun(
            findings,
            statuses,
            {case.id: status for case, status in cases},
            fresh.request("GET", "/events"),
        )


def test_the_run_finds_the_four_planted_differences_and_nothing_else(example_run: ExampleRun) -> None:
    found = [(finding.case, finding.kind, finding.field) for finding in example_run.findings]
    assert sorted(case for case, _, _ in found) == sorted(planted.case for planted in PLANTED), found
    assert {kind for _, kind, _ in found} == {"difference"}


@pytest.mark.parametrize("planted", PLANTED, ids=[planted.case for planted in PLANTED])
def test_a_planted_difference_is_one_field_with_both_values(example_run: ExampleRun, planted: Planted) -> None:
    (finding,) = [each for each in example_run.findings if each.case == planted.case]
    assert finding.field in planted.fields
    assert planted.left in finding.left and planted.right in finding.right, finding


def test_each_case_gets_the_answer_it_is_named_for(example_run: ExampleRun) -> None:
    assert example_run.flask_statuses == example_run.expected_statuses


def test_the_event_stream_ends_after_five_events_with_ids_1_to_5(example_run: ExampleRun) -> None:
    answer = example_run.flask_events
    assert answer.header("Content-Type") == "text/event-stream; charset=utf-8"
    ids = [line for line in answer.body.decode().split("\n") if line.startswith("id: ")]
    assert ids == [f"id: {n}" for n in range(1, 6)]


def test_the_event_count_comes_from_settings() -> None:
    answer = FlaskInProcess(flask_app.create_app({"EVENT_COUNT": 2})).request("GET", "/events")
    with QuartInProcess(quart_app.create_app({"EVENT_COUNT": 2})) as quart:
        assert quart.request("GET", "/events").body == answer.body
    assert answer.body.count(b"id: ") == 2
