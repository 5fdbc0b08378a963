"""Cases from case files, HAR recordings and an app's url map (``parity_tests.sources``).

The loaders get good files and hostile ones (every refusal's text is asserted: a user reads
it); ``generate_cases`` probes small Flask and Quart apps written here the ordinary way, and
the variants it writes are sent to those apps to show they get the statuses they are for.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
import pytest
import quart
from werkzeug.serving import make_server

from parity_tests.case import Case
from parity_tests.clients import Client, Exchange, FlaskInProcess, QuartInProcess
from parity_tests.servers import require_program
from parity_tests.sources import (
    MAX_CASES,
    MAX_FILE_BYTES,
    PROBE_EVENTS,
    CaseFile,
    CaseFileError,
    HarError,
    generate_cases,
    load_case_file,
    load_har,
)

# --- case files ----------------------------------------------------------------------------------

TOML_CASES = """
[rules]
headers = { x-request-id = "ignore" }

[[case]]
target = "/items/1"

[[case]]
target = "/items/1"
headers = { Accept = "application/json" }

[[case]]
id = "create an order"
method = "POST"
target = "/orders?dry=1"
headers = [["Accept", "text/html"], ["Accept", "application/json"]]
body = '{"item": 1, "note": "café"}'
rules = { headers = { location = "presence" } }

[[case]]
target = "/events"
events = 2
read_limit = 65536

[[case]]
method = "PUT"
target = "/blob"
body_base64 = "AAH/"
repeatable = true
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_toml_case_file_reads_as_written_with_its_defaults(tmp_path: Path) -> None:
    loaded = load_case_file(write(tmp_path, "cases.toml", TOML_CASES))
    assert loaded.cases == (
        Case("GET /items/1", "/items/1"),
        Case("GET /items/1#2", "/items/1", headers=(("Accept", "application/json"),)),
        Case(
            "create an order",
            "/orders?dry=1",
            method="POST",
            headers=(("Accept", "text/html"), ("Accept", "application/json")),
            body='{"item": 1, "note": "café"}'.encode(),
            repeatable=False,
        ),
        Case("GET /events", "/events", events=2, read_limit=65536),
        Case("PUT /blob", "/blob", method="PUT", body=b"\x00\x01\xff", repeatable=True),
    )
    assert loaded.rules == {"headers": {"x-request-id": "ignore"}}
    assert loaded.case_rules == {"create an order": {"headers": {"location": "presence"}}}


def test_a_json_case_file_is_a_list_or_an_object_with_cases_and_rules(tmp_path: Path) -> None:
    cases = [{"target": "/"}, {"method": "DELETE", "target": "/items/1", "rules": {"body": {"$.at": "ignore"}}}]
    as_list = load_case_file(write(tmp_path, "list.json", json.dumps(cases)))
    as_object = load_case_file(write(tmp_path, "object.json", json.dumps({"cases": cases, "rules": {"a": 1}})))
    expected = (Case("GET /", "/"), Case("DELETE /items/1", "/items/1", method="DELETE", repeatable=False))
    assert as_list == CaseFile(expected, None, {"DELETE /items/1": {"body": {"$.at": "ignore"}}})
    assert as_object.cases == expected
    assert as_object.rules == {"a": 1}


def test_a_default_id_steps_past_an_id_given_later_in_the_file(tmp_path: Path) -> None:
    cases = [{"target": "/a"}, {"id": "GET /a", "target": "/a", "headers": {"X": "1"}}, {"target": "/a"}]
    loaded = load_case_file(write(tmp_path, "cases.json", json.dumps(cases)))
    assert [case.id for case in loaded.cases] == ["GET /a#2", "GET /a", "GET /a#3"]


def short_id(value: object) -> str | None:
    """A parameter's test id: the refusal expected, not the (long) file text."""
    return None if not isinstance(value, str) or value.startswith(("[", "{", "a =", "[[")) else value[:60]


def one_case(**keys: Any) -> str:
    return json.dumps([{"target": "/fine"}, keys])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (one_case(taget="/x"), "case 2: key 'taget': is not a case key; did you mean 'target'?"),
        (one_case(method="GET"), "case 2: key 'target': is required"),
        (one_case(target="items"), "case 2 ('GET items'): key 'target': 'items' must start with '/'"),
        (one_case(target="/a b"), "key 'target': '/a b' has a space, a control or a non-ASCII character"),
        (one_case(target="/caf\u00e9"), "key 'target': '/café' has a space, a control or a non-ASCII character"),
        (one_case(target=7), "case 2: key 'target': must be a string, not an integer"),
        (one_case(target="/x", method="GE T"), "key 'method': 'GE T' is not a method (RFC 9110 §9.1: a token)"),
        (
            one_case(id="smuggle", target="/x", headers={"X-A": "1\r\nX-B: 2"}),
            "case 2 ('smuggle'): key 'headers X-A': '1\\r\\nX-B: 2' has CR, LF or another control",
        ),
        (one_case(target="/x", headers={"Bad Name": "1"}), "key 'headers': 'Bad Name' is not a field name"),
        (
            one_case(target="/x", headers={"X-Price": "5 \u20ac"}),
            "key 'headers X-Price': '5 €' has a character beyond Latin-1: a field value is octets",
        ),
        (
            '[{"target": "/x", "headers": [' + "[" * 900 + "]" * 900 + "]}]",
            "key 'headers[0]': must be a [name, value] pair, not [[[...]]]",
        ),
        (one_case(target="/x", headers={"X-Count": 3}), "key 'headers X-Count': must be a string, not an integer"),
        (one_case(target="/x", headers=[["A", "1", "2"]]), "key 'headers[0]': must be a [name, value] pair"),
        (one_case(target="/x", headers="Accept: */*"), "key 'headers': must be a table of name = value or a list"),
        (
            one_case(target="/x", headers={"Content-Length": "5"}),
            "key 'headers Content-Length': is written by the client from the body; give the body instead",
        ),
        (one_case(target="/x", events="3"), "key 'events': must be an integer, not a string"),
        (one_case(target="/x", events=0), "key 'events': must be at least 1, not 0"),
        (one_case(target="/x", read_limit=True), "key 'read_limit': must be an integer, not a boolean"),
        (one_case(target="/x", repeatable="yes"), "key 'repeatable': must be true or false, not a string"),
        (one_case(target="/x", body="a", body_base64="YQ=="), "key 'body_base64': cannot be given with 'body'"),
        (one_case(target="/x", body_base64="not base64!"), "key 'body_base64': is not base64"),
        (one_case(target="/x", rules=["ignore"]), "key 'rules': must be a table, not a list"),
        (one_case(target="/x", id=""), "key 'id': '' must be non-empty, without control characters"),
        (json.dumps([{"target": "/"}, "GET /"]), "case 2: must be a table, not a string"),
        (
            json.dumps([{"id": "same", "target": "/"}, {"id": "same", "target": "/b"}]),
            "case 2 ('same'): key 'id': is the id of case 1 too",
        ),
        (json.dumps({"cases": [], "rules": {}}), "holds no cases"),
        (json.dumps({"case": [{"target": "/"}]}), "key 'case': is not a top-level key (known: cases, rules)"),
        (json.dumps({"rules": {}}), "key 'cases': is missing"),
        (json.dumps({"cases": [{"target": "/"}], "rules": []}), "key 'rules': must be a table, not a list"),
        (json.dumps(3), "must hold a list of cases or an object with 'cases', not an integer"),
        ('[{"target": "/", "target": "/b"}]', "names key 'target' twice in one object"),
        ('[{"target": "/"', "is not valid JSON: Expecting ',' delimiter: line 1 column 16"),
        ("[" * 100_000, "nests too deeply to be read"),
        ('[{"target": "/", "events": ' + "9" * 5000 + "}]", "is not valid JSON: Exceeds the limit"),
    ],
    ids=short_id,
)
def test_a_wrong_json_case_file_is_refused_naming_the_file_the_case_and_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, "cases.json", text)
    with pytest.raises(CaseFileError) as refused:
        load_case_file(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[case]]\ntarget = "/"\n[[case]]\nmethod = 1\ntarget = "/x"', "case 2: key 'method': must be a string"),
        ('[[case]]\ntarget = "/"\nextra = true', "case 1 ('GET /'): key 'extra': is not a case key (known: id,"),
        ('title = "mine"\n[[case]]\ntarget = "/"', "key 'title': is not a top-level key (known: case, rules)"),
        ('[case]\ntarget = "/"', "key 'case': must be a list of case tables, not a table"),
        ('rules = "none"\n[[case]]\ntarget = "/"', "key 'rules': must be a table, not a string"),
        ("[[case]\n", "is not valid TOML"),
        ("a = " + "[" * 100_000, "nests too deeply to be read"),
    ],
    ids=short_id,
)
def test_a_wrong_toml_case_file_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CaseFileError, match=r"cases\.toml: ") as refused:
        load_case_file(write(tmp_path, "cases.toml", text))
    assert expected in str(refused.value)


def test_a_case_file_must_be_toml_or_json_readable_and_utf8(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match=r"cases\.yaml: has suffix '\.yaml': a case file is \.toml or \.json"):
        load_case_file(write(tmp_path, "cases.yaml", "- target: /"))
    with pytest.raises(CaseFileError, match=r"absent\.json: cannot be read: No such file or directory"):
        load_case_file(tmp_path / "absent.json")
    (tmp_path / "cases.json").mkdir()
    with pytest.raises(CaseFileError, match=r"cases\.json: cannot be read: Is a directory"):
        load_case_file(tmp_path / "cases.json")
    (tmp_path / "latin1.toml").write_bytes(b'[[case]]\ntarget = "/caf\xe9"\n')
    with pytest.raises(CaseFileError, match=r"latin1\.toml: is not UTF-8 \(byte 23\)"):
        load_case_file(tmp_path / "latin1.toml")


def test_a_file_over_16_mib_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(17 * 1024 * 1024)  # sparse: no 17 MiB written, and none read if the size is checked first
    with pytest.raises(
        CaseFileError, match=rf"huge\.json: is 17825792 bytes; the limit is {MAX_FILE_BYTES} \(16 MiB\)"
    ):
        load_case_file(path)
    with pytest.raises(HarError, match=r"huge\.json: is 17825792 bytes"):
        load_har(path)


def test_a_file_that_reports_no_size_is_read_no_further_than_the_limit(tmp_path: Path) -> None:
    endless = tmp_path / "endless.json"
    endless.symlink_to("/dev/zero")  # its size is 0, and it never ends
    with pytest.raises(CaseFileError, match=r"endless\.json: is over the limit of 16777216 bytes"):
        load_case_file(endless)


def test_more_than_10000_cases_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "many.json", json.dumps([{"target": "/"}] * (MAX_CASES + 1)))
    with pytest.raises(CaseFileError, match=r"many\.json: holds 10001 cases; the limit is 10000"):
        load_case_file(path)
    alike = load_case_file(write(tmp_path, "enough.json", json.dumps([{"target": "/"}] * MAX_CASES)))
    ids = [case.id for case in alike.cases]  # made unique in linear time: 10,000 alike cases load at once
    assert (len(set(ids)), ids[:3], ids[-1]) == (10000, ["GET /", "GET /#2", "GET /#3"], "GET /#10000")


# --- HAR -----------------------------------------------------------------------------------------


def entry(method: str, url: object, headers: Sequence[tuple[str, str]] = (), text: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/2",
        "headers": [{"name": name, "value": value} for name, value in headers],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": 0,
    }
    if text is not None:
        request["postData"] = {"mimeType": "application/json", "text": text}
    return {"startedDateTime": "2026-01-01T00:00:00Z", "time": 1, "request": request, "response": {}, "_priority": "H"}


def har(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    document = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}}
    return write(tmp_path, "recorded.har", json.dumps(document))


BROWSER = [
    ("Authorization", "Bearer secret"),
    ("Cookie", "session=abc"),
    ("Accept", "application/json"),
]
RECORDING = [
    entry(
        "GET",
        "https://app.example.com/items?page=2#top",
        [(":authority", "app.example.com"), (":path", "/items?page=2"), ("host", "app.example.com"), *BROWSER],
    ),
    entry("GET", "https://cdn.example.net/app.js", [("Accept", "*/*")]),
    entry("GET", "data:image/png;base64,AAAA"),
    entry(
        "POST",
        "https://APP.example.com:443/orders",
        [("Content-Length", "11"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "5"), *BROWSER],
        '{"item": 1}',
    ),
    entry("GET", "https://app.example.com/items?page=2", [*BROWSER, ("cookie", "second=1")]),  # a repeat, redacted
    entry("POST", "https://app.example.com/orders", [("Accept", "*/*")], '{"item": 2}'),
    entry("GET", "https://app.example.com/caf\u00e9 menu", []),
    entry("GET", "http://app.example.com/plain", []),  # http: another origin than https
]


def test_a_har_recording_becomes_origin_form_cases_of_its_first_origin_secrets_dropped(tmp_path: Path) -> None:
    assert load_har(har(tmp_path, RECORDING)) == (
        Case("GET /items?page=2", "/items?page=2", headers=(("Accept", "application/json"),)),
        Case(
            "POST /orders",
            "/orders",
            method="POST",
            headers=(("Accept", "application/json"),),
            body=b'{"item": 1}',
            repeatable=False,
        ),
        Case(
            "POST /orders#2",
            "/orders",
            method="POST",
            headers=(("Accept", "*/*"),),
            body=b'{"item": 2}',
            repeatable=False,
        ),
        Case("GET /caf%C3%A9%20menu", "/caf%C3%A9%20menu"),
    )


def test_a_redacted_field_is_sent_once_with_the_value_given_for_it(tmp_path: Path) -> None:
    # HTTP/2 recorders write one cookie field per cookie (RFC 9113 §8.2.3): the replacement is sent once.
    cases = load_har(
        har(tmp_path, RECORDING[4:5]),
        redact=("authorization",),
        redact_with={"Cookie": "session=test"},
    )
    assert [case.headers for case in cases] == [(("Cookie", "session=test"), ("Accept", "application/json"))]
    nothing_redacted = load_har(har(tmp_path, RECORDING[:1]), redact=())
    assert nothing_redacted[0].headers == tuple(BROWSER)


def test_include_chooses_the_origins_replayed(tmp_path: Path) -> None:
    path = har(tmp_path, RECORDING)
    assert [case.id for case in load_har(path, include="https://cdn.example.net")] == ["GET /app.js"]
    both = load_har(path, include=["https://cdn.example.net/", "HTTP://app.example.com:80"])
    assert [case.id for case in both] == ["GET /app.js", "GET /plain"]
    with pytest.raises(ValueError, match=r"include: 'app\.example\.com' is not an origin"):
        load_har(path, include="app.example.com")
    with pytest.raises(ValueError, match=r"include: 'https://app\.example\.com/api' is not an origin"):
        load_har(path, include="https://app.example.com/api")
    with pytest.raises(ValueError, match=r"redact_with Authorization: 'a\\nb' has CR, LF"):
        load_har(path, redact_with={"Authorization": "a\nb"})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "key 'log': is not a HAR file (no 'log' object)"),
        ({"log": {"entries": {}}}, "key 'log.entries': must be a list, not a table"),
        (
            {"log": {"entries": [{"response": {}}]}},
            "entry 1: key 'request': must be an object, not nothing (missing or null)",
        ),
        (
            {"log": {"entries": [entry("GET", "https://a.example/"), entry("GET", 5)]}},
            "entry 2: key 'request.url': must be a string, not an integer",
        ),
        (
            {"log": {"entries": [entry("G T", "https://a.example/")]}},
            "entry 1 ('G T https://a.example/'): key 'request.method': 'G T' is not a method",
        ),
        (
            {"log": {"entries": [entry("GET", "https://a.example/", [("X-A", "1\r\nX-B: 2")])]}},
            "entry 1 ('GET https://a.example/'): key 'request.headers[0] X-A': '1\\r\\nX-B: 2' has CR, LF",
        ),
        (
            {
                "log": {
                    "entries": [{"request": {"method": "GET", "url": "https://a.example/", "headers": [["A", "1"]]}}]
                }
            },
            "key 'request.headers[0]': must be an object with name and value, not ['A', '1']",
        ),
        (
            {
                "log": {
                    "entries": [
                        {"request": {"method": "POST", "url": "https://a.example/", "postData": {"params": [1]}}}
                    ]
                }
            },
            "key 'request.postData.text': is missing: the body cannot be rebuilt from params alone",
        ),
    ],
    ids=short_id,
)
def test_a_wrong_har_file_is_refused_naming_the_entry_and_the_key(
    tmp_path: Path, document: object, expected: str
) -> None:
    path = write(tmp_path, "bad.har", json.dumps(document))
    with pytest.raises(HarError) as refused:
        load_har(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert expected in str(refused.value)


PAGE = """<!doctype html><title>shop</title><script>
window.done = (async () => {
    await fetch("/api/items?page=2", {headers: {"Accept": "application/json"}});
    await fetch("/api/orders", {method: "POST", body: '{"item": 1}',
        headers: {"Authorization": "Bearer secret", "Content-Type": "application/json"}});
    return true;
})();
</script>"""


def create_shop_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/")
    def page() -> str:
        return PAGE

    @app.get("/api/items")
    def items() -> Any:
        return flask.jsonify(page=flask.request.args.get("page"), authorized="Authorization" in flask.request.headers)

    @app.post("/api/orders")
    def orders() -> Any:
        return flask.jsonify(ordered=flask.request.get_json(), authorized="Authorization" in flask.request.headers), 201

    return app


def test_a_har_that_chromium_recorded_replays_without_its_secrets(tmp_path: Path) -> None:
    """Chromium's own HAR (playwright's record_har_path), of a page that fetches with a token."""
    chromium = require_program("chromium")
    from playwright.sync_api import sync_playwright

    app = create_shop_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    recording = tmp_path / "shop.har"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            try:
                context = browser.new_context(record_har_path=recording)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{server.server_port}/")
                assert page.evaluate("window.done") is True
                context.close()  # writes the HAR
            finally:
                browser.close()
    finally:
        server.shutdown()
        serving.join()
        server.server_close()
    cases = {case.id: case for case in load_har(recording)}
    assert (
        {"GET /", "GET /api/items?page=2", "POST /api/orders"}
        <= set(cases)
        <= {
            "GET /",
            "GET /api/items?page=2",
            "POST /api/orders",
            "GET /favicon.ico",
        }
    )
    order = cases["POST /api/orders"]
    assert (order.body, order.repeatable) == (b'{"item": 1}', False)
    for case in cases.values():
        names = {name.lower() for name, _ in case.headers}
        assert not names & {"authorization", "host", "content-length", "connection"}, case.id
    replay = FlaskInProcess(app)
    assert json.loads(sent(replay, order).body) == {"ordered": {"item": 1}, "authorized": False}
    assert json.loads(sent(replay, cases["GET /api/items?page=2"]).body) == {"page": "2", "authorized": False}


def test_a_har_file_is_held_to_the_same_limits(tmp_path: Path) -> None:
    with pytest.raises(HarError, match=r"deep\.har: nests too deeply to be read"):
        load_har(write(tmp_path, "deep.har", '{"log": ' + "[" * 100_000))
    many = [entry("GET", f"https://a.example/{number}") for number in range(MAX_CASES + 1)]
    with pytest.raises(HarError, match=r"recorded\.har: holds more than 10000 distinct requests"):
        load_har(har(tmp_path, many))
    repeated = [entry("GET", "https://a.example/same")] * (MAX_CASES + 1)
    assert load_har(har(tmp_path, repeated)) == (Case("GET /same", "/same"),)


# --- generated from the url map ------------------------------------------------------------------

REPORT = bytes(range(256)) * 4  # 1024 bytes
NOTES = "".join(f"note {number}\n\n" for number in range(1, 200))  # blank lines, as events have them
MODIFIED = 1_700_000_000


def events_after(last_id: str | None) -> Iterator[str]:
    """An endless event stream, resumed after ``last_id`` (the SSE resume a client asks for)."""
    first = int(last_id) + 1 if last_id and last_id.isdigit() else 1
    for number in itertools.count(first):
        yield f"id: {number}\ndata: tick {number}\n\n"


def create_flask_app(static_folder: Path | None = None) -> flask.Flask:
    app = flask.Flask(__name__, static_folder=static_folder, static_url_path="/static")

    @app.get("/")
    def index() -> str:
        return "hello"

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        return flask.jsonify(id=item_id)

    @app.get("/users/<name>")
    def user(name: str) -> str:
        return f"user {name}"

    @app.get("/files/<path:name>")
    def file(name: str) -> str:
        return name

    @app.get("/report")
    def report() -> Any:
        return flask.send_file(
            io.BytesIO(REPORT), mimetype="application/octet-stream", etag="report-1", last_modified=MODIFIED
        )

    @app.get("/notes")
    def notes() -> Any:
        response = flask.make_response(NOTES)
        response.add_etag()
        return response.make_conditional(flask.request, accept_ranges=True, complete_length=len(NOTES))

    @app.get("/log")
    def log() -> Any:
        # Streamed: no Content-Length, so its length is known only by reading it all.
        response = flask.Response((line for line in NOTES.splitlines(keepends=True)), mimetype="text/plain")
        response.set_etag("log-1")
        response.implicit_sequence_conversion = False  # else make_conditional reads it all to count it
        return response.make_conditional(flask.request)

    @app.get("/events")
    def events() -> Any:
        stream = events_after(flask.request.headers.get("Last-Event-ID"))
        return flask.Response(stream, mimetype="text/event-stream")

    @app.post("/orders")
    def order() -> tuple[str, int]:
        return "", 201

    return app


def sent(client: Client, case: Case) -> Exchange:
    return client.request(
        case.method, case.target, case.headers, case.body, read_limit=case.read_limit, events=case.events
    )


def test_generated_cases_cover_every_get_route_with_its_conditional_range_and_resume_variants() -> None:
    probe = FlaskInProcess(create_flask_app())
    generated = generate_cases(probe.app, probe, {"/users/<name>": {"name": "ada lovelace"}})
    notes_etag = probe.request("GET", "/notes").header("ETag")
    assert notes_etag is not None
    assert [(case.id, case.headers) for case in generated.cases] == [
        ("gen GET /", ()),
        ("gen HEAD /", ()),
        ("gen GET /items/1", ()),
        ("gen HEAD /items/1", ()),
        ("gen GET /users/ada%20lovelace", ()),
        ("gen HEAD /users/ada%20lovelace", ()),
        ("gen GET /report", ()),
        ("gen HEAD /report", ()),
        ("gen GET /report if-none-match", (("If-None-Match", '"report-1"'),)),
        ("gen GET /report if-modified-since", (("If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"),)),
        ("gen GET /report range", (("Range", "bytes=0-99"),)),
        ("gen GET /report range-suffix", (("Range", "bytes=-100"),)),
        ("gen GET /report if-range", (("If-Range", '"report-1"'), ("Range", "bytes=0-99"))),
        ("gen GET /report range-unsatisfiable", (("Range", "bytes=2024-"),)),
        ("gen GET /notes", ()),
        ("gen HEAD /notes", ()),
        ("gen GET /notes if-none-match", (("If-None-Match", notes_etag),)),
        ("gen GET /notes range", (("Range", "bytes=0-99"),)),
        ("gen GET /notes range-suffix", (("Range", "bytes=-100"),)),
        (
            "gen GET /notes if-range",
            (("If-Range", notes_etag), ("Range", "bytes=0-99")),
        ),
        ("gen GET /notes range-unsatisfiable", (("Range", f"bytes={len(NOTES) + 1000}-"),)),
        ("gen GET /log", ()),
        ("gen HEAD /log", ()),
        ("gen GET /log if-none-match", (("If-None-Match", '"log-1"'),)),
        ("gen GET /log range", (("Range", "bytes=0-99"),)),
        ("gen GET /log range-suffix", (("Range", "bytes=-100"),)),
        ("gen GET /log if-range", (("If-Range", '"log-1"'), ("Range", "bytes=0-99"))),
        # The whole body's length, though its probe stopped at its third blank line at first.
        ("gen GET /log range-unsatisfiable", (("Range", f"bytes={len(NOTES) + 1000}-"),)),
        ("gen GET /events", ()),
        ("gen HEAD /events", ()),
        ("gen GET /events last-event-id", (("Last-Event-ID", "2"),)),
    ]
    assert generated.skipped == ("/files/<path:name>: no example for name",)
    statuses = {case.id: sent(probe, case).status for case in generated.cases}
    assert statuses["gen GET /users/ada%20lovelace"] == 200
    assert sent(probe, generated.cases[4]).body == b"user ada lovelace"
    for resource in ("/report", "/notes"):
        assert statuses[f"gen GET {resource}"] == statuses[f"gen HEAD {resource}"] == 200
        assert statuses[f"gen GET {resource} if-none-match"] == 304
        assert statuses[f"gen GET {resource} range"] == statuses[f"gen GET {resource} if-range"] == 206
        assert statuses[f"gen GET {resource} range-unsatisfiable"] == 416
    assert statuses["gen GET /report if-modified-since"] == 304
    assert statuses["gen GET /log if-none-match"] == 304
    # A streamed body is not cut into ranges by werkzeug: the whole answer (RFC 9110 §14.2 lets a server ignore Range).
    assert statuses["gen GET /log range"] == statuses["gen GET /log range-unsatisfiable"] == 200
    ranged = {case.id: case for case in generated.cases}
    assert sent(probe, ranged["gen GET /report range"]).body == REPORT[:100]
    suffix = sent(probe, ranged["gen GET /report range-suffix"])
    assert (suffix.status, suffix.header("Content-Range"), suffix.body) == (206, "bytes 924-1023/1024", REPORT[-100:])
    assert sent(probe, ranged["gen GET /report range-unsatisfiable"]).header("Content-Range") == "bytes */1024"


def test_a_generated_event_stream_case_reads_three_events_and_its_resume_starts_after_the_second() -> None:
    probe = FlaskInProcess(create_flask_app())
    cases = {case.id: case for case in generate_cases(probe.app, probe).cases}
    stream, resume = cases["gen GET /events"], cases["gen GET /events last-event-id"]
    assert stream.events == resume.events == PROBE_EVENTS
    assert sent(probe, stream).body == b"id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\nid: 3\ndata: tick 3\n\n"
    assert sent(probe, resume).body.startswith(b"id: 3\ndata: tick 3\n\n")
    head = sent(probe, cases["gen HEAD /events"])
    assert (head.status, head.header("Content-Type"), head.body) == (200, "text/event-stream; charset=utf-8", b"")


def test_examples_fill_a_route_convert_through_the_map_and_must_name_real_routes(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello, static\n")
    probe = FlaskInProcess(create_flask_app(static_folder=tmp_path))
    examples = {
        "/items/<int:item_id>": {"item_id": "42", "detail": "full"},  # a value no argument takes: the query
        "/files/<path:name>": {"name": "docs/read me.txt"},
        "/users/<name>": {"name": "ada"},
        "/static/<path:filename>": {"filename": "hello.txt"},
    }
    generated = generate_cases(probe.app, probe, examples, include_static=True)
    ids = [case.id for case in generated.cases]
    assert "gen GET /items/42?detail=full" in ids
    assert "gen GET /files/docs/read%20me.txt" in ids
    assert "gen GET /static/hello.txt if-none-match" in ids
    assert generated.skipped == ()
    static_replay = next(case for case in generated.cases if case.id == "gen GET /static/hello.txt if-none-match")
    assert sent(probe, static_replay).status == 304

    not_a_number = generate_cases(probe.app, probe, {"/items/<int:item_id>": {"item_id": "seven"}})
    assert not_a_number.skipped == (
        "/static/<path:filename>: the static files (include_static=True generates them)",
        "/items/<int:item_id>: its example does not build: invalid literal for int() with base 10: 'seven'",
        "/users/<name>: no example for name",
        "/files/<path:name>: no example for name",
    )
    with pytest.raises(ValueError, match=r"examples name routes the app does not have: /item/<int:id>"):
        generate_cases(probe.app, probe, {"/item/<int:id>": {"id": "1"}})


def create_quart_app() -> quart.Quart:
    app = quart.Quart(__name__)

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> Any:
        return {"id": item_id}

    @app.get("/things/<uuid:thing>")
    async def thing(thing: Any) -> str:
        return str(thing)

    @app.get("/report")
    async def report() -> Any:
        # Quart's send_file takes no etag for a stream: the port sets it, then makes the answer conditional.
        modified = datetime.fromtimestamp(MODIFIED, UTC)
        response = await quart.send_file(io.BytesIO(REPORT), "application/octet-stream", last_modified=modified)
        response.set_etag("report-1")
        await response.make_conditional(quart.request, accept_ranges=True, complete_length=len(REPORT))
        return response

    @app.get("/events")
    async def events() -> Any:
        resumed = events_after(quart.request.headers.get("Last-Event-ID"))

        async def stream() -> AsyncIterator[bytes]:
            for event in resumed:
                await asyncio.sleep(0)  # a real stream waits for its next event; the loop must get a turn
                yield event.encode()

        return stream(), {"Content-Type": "text/event-stream"}

    @app.post("/orders")
    async def order() -> tuple[str, int]:
        return "", 201

    @app.websocket("/live")
    async def live() -> None:
        await quart.websocket.send("hello")

    return app


def test_generated_cases_from_a_quart_url_map_get_their_statuses() -> None:
    app = create_quart_app()
    with QuartInProcess(app) as probe:
        generated = generate_cases(app, probe)
        by_id = {case.id: case for case in generated.cases}
        assert list(by_id) == [
            "gen GET /items/1",
            "gen HEAD /items/1",
            "gen GET /things/12345678-1234-5678-1234-567812345678",
            "gen HEAD /things/12345678-1234-5678-1234-567812345678",
            "gen GET /report",
            "gen HEAD /report",
            "gen GET /report if-none-match",
            "gen GET /report if-modified-since",
            "gen GET /report range",
            "gen GET /report range-suffix",
            "gen GET /report if-range",
            "gen GET /report range-unsatisfiable",
            "gen GET /events",
            "gen HEAD /events",
            "gen GET /events last-event-id",
        ]
        assert generated.skipped == ("/static/<path:filename>: the static files (include_static=True generates them)",)
        # A HEAD of the endless stream too: the driver stops at its head, as a server does.
        statuses = {case_id: sent(probe, case).status for case_id, case in by_id.items()}
        assert statuses["gen HEAD /events"] == 200
        assert statuses["gen GET /items/1"] == statuses["gen GET /report"] == 200
        assert statuses["gen GET /report if-none-match"] == statuses["gen GET /report if-modified-since"] == 304
        assert statuses["gen GET /report range"] == statuses["gen GET /report if-range"] == 206
        assert statuses["gen GET /report range-unsatisfiable"] == 416
        assert sent(probe, by_id["gen GET /events last-event-id"]).body.startswith(b"id: 3\n")


def test_a_generated_case_of_a_flask_app_also_reads_alike_from_its_quart_port() -> None:
    """The point of generating from the left side: the same cases are sent to the right."""
    flask_probe = FlaskInProcess(create_flask_app())
    generated = generate_cases(flask_probe.app, flask_probe, {"/users/<name>": {"name": "ada"}})
    quart_app = create_quart_app()
    report_cases = {case.id: case for case in generated.cases if case.target == "/report"}
    suffix = report_cases.pop("gen GET /report range-suffix")
    with QuartInProcess(quart_app) as quart_probe:
        for case in report_cases.values():
            assert sent(quart_probe, case).status == sent(flask_probe, case).status, case.id
        # The generated suffix range finds a real difference: Quart 0.22/0.23's make_conditional
        # hands werkzeug's ContentRange a negative start, which asserts (a 500; Flask: 206).
        assert (sent(flask_probe, suffix).status, sent(quart_probe, suffix).status) == (206, 500)
