"""The reports of a parity run, as their readers meet them: a console, a CI's JUnit parser, a browser.

The findings come from a real run where one can (two small Flask apps, one of which adds a header
to every answer and fails one route, compared by ``Pair``); the hostile ones (a megabyte, markup,
control characters, quotes) are planted as findings, since no real server would send them all.
The HTML page is opened by Debian's /usr/bin/chromium driven by playwright (nothing downloaded).
"""

from __future__ import annotations

import importlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask, Response

from parity_tests.case import Case
from parity_tests.clients import FlaskInProcess
from parity_tests.pair import Finding, Pair
from parity_tests.report import FORMATS, Format, Group, Run, group, render, write
from parity_tests.servers import LOG_READ_LIMIT, log_tail, require_program

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ITEMS = 386
MEGABYTE = "m" * 1_000_000
SCRIPT = '<script>window.ran = true</script><img src=x onerror="window.ran = true">'
HOSTILE = "quote\" apostrophe' <tag> & amp \x00nul \x1b[31mred \x7f é ☃ \udcff \r\nsplit"
# HOSTILE as the reports show a value they do not quote: control characters escaped, the rest kept.
HOSTILE_ESCAPED = "quote\" apostrophe' <tag> & amp \\x00nul \\x1b[31mred \\x7f é ☃ \\udcff \\r\\nsplit"
ODD_CASE = "GET /odd\x00\x1b<&\"'é"


def make_app(name: str, *, added: str | None) -> Flask:
    """A tiny service: items, and /boom, which the right side fails."""
    app = Flask(name)

    @app.get("/items/<int:item>")
    def item(item: int) -> dict[str, object]:
        return {"id": item}

    @app.get("/boom")
    def boom() -> tuple[str, int]:
        return ("boom", 500) if added else ("fine", 200)

    if added is not None:

        @app.after_request
        def add_header(response: Response) -> Response:
            response.headers["X-Added"] = added
            return response

    return app


@pytest.fixture(scope="module")
def real_run() -> Run:
    """Flask against a copy that adds ``X-Added: yes`` to every answer and answers /boom with 500."""
    cases = [Case(f"GET /items/{n}", f"/items/{n}") for n in range(ITEMS)] + [Case("GET /boom", "/boom")]
    pair = Pair(
        FlaskInProcess(make_app("left", added=None), "flask"), FlaskInProcess(make_app("right", added="yes"), "port")
    )
    findings = pair.run(cases)
    return Run(
        findings,
        [case.id for case in cases],
        ["in-process"],
        "flask",
        "port",
        server_errors=[("GET /boom", "port", 500)],
    )


def finding(case: str, field: str, left: str, right: str, *, mode: str = "wire", kind: str = "difference") -> Finding:
    return Finding(case, mode, kind, field, left, right)


@pytest.fixture
def planted() -> Run:
    """One finding per kind of difference a reader must see, hostile values included."""
    findings = [
        finding("GET /items/1", "header x-added", "(absent)", "yes"),
        finding("GET /items/2", "status", "200", "404"),
        finding("GET /items/3", "status", "200", "500"),
        finding("GET /items/3", "body $.items[0].name", '"Apple"', '"apple"'),
        finding("GET /items/4", "header etag", '"v1"', '"v2"', kind="nondeterministic in quart"),
        finding("GET /big", "header x-big", MEGABYTE, "small"),
        finding("GET /script", "header x-script", "plain", SCRIPT),
        finding("GET /hostile", "header x-hostile", HOSTILE, "(absent)"),
        finding(ODD_CASE, "event 1 data", HOSTILE, "x"),  # raw, as a case file and an event may hold it
    ]
    cases = list(dict.fromkeys(f.case for f in findings))
    return Run(findings, cases, ["wire"], "flask", "quart")


# --- grouping -----------------------------------------------------------------------------------


def test_a_header_added_to_every_answer_is_one_group(real_run: Run) -> None:
    added = [g for g in group(real_run.findings) if g.field == "header x-added"]
    assert added == [Group("difference", "header x-added", "(absent)", "yes", tuple(real_run.cases), ("in-process",))]
    assert len(added[0].cases) == ITEMS + 1


def test_one_field_with_two_pairs_of_values_is_two_groups_most_cases_first() -> None:
    findings = [finding(f"GET /gone/{n}", "status", "200", "404") for n in range(3)]
    findings += [finding("GET /boom", "status", "200", "500"), finding("GET /x", "header a", "1", "2")]
    findings += [finding(f"GET /gone/{n}", "status", "200", "404", mode="in-process") for n in range(3)]
    groups = group(findings)
    assert [(g.field, g.right, len(g.cases), g.modes) for g in groups] == [
        ("status", "404", 3, ("wire", "in-process")),  # one case in two modes is one case
        ("header a", "2", 1, ("wire",)),  # equal counts: by field name
        ("status", "500", 1, ("wire",)),
    ]


# --- text ---------------------------------------------------------------------------------------


def test_text_shows_each_field_once_with_its_groups_counts_and_one_example(real_run: Run) -> None:
    text = render(real_run, "text")
    lines = text.splitlines()
    assert lines[0] == f"parity: {ITEMS + 1} cases x 1 mode (in-process), flask vs port"
    assert f"header x-added -- {ITEMS + 1} cases" in lines
    assert f"  {ITEMS + 1} cases: (absent) vs 'yes'   e.g. GET /items/0 (in-process)" in lines
    assert text.count("GET /items/") == 1  # one example, not 386 lines
    assert "  1 case: b'fine' vs b'boom'   e.g. GET /boom (in-process)" in lines
    assert "  1 case: 200 vs 500   e.g. GET /boom (in-process)" in lines
    assert any(line.startswith("FAIL: ") and "flask and port do not answer alike" in line for line in lines)


def test_text_shows_a_field_under_one_heading_with_each_pair_counted() -> None:
    findings = [finding(f"GET /gone/{n}", "status", "200", "404") for n in range(3)]
    findings.append(finding("GET /boom", "status", "200", "500"))
    lines = render(Run(findings, [f.case for f in findings], ["wire"], "flask", "quart"), "text").splitlines()
    at = lines.index("status -- 4 cases")
    assert lines[at + 1 : at + 3] == [
        "  3 cases: 200 vs 404   e.g. GET /gone/0 (wire)",
        "  1 case: 200 vs 500   e.g. GET /boom (wire)",
    ]


def test_text_keeps_a_field_whose_values_differ_per_case_short() -> None:
    findings = [finding(f"GET /t/{n}", "header x-time", f"{n}", f"{n + 1}") for n in range(200)]
    text = render(Run(findings, [f.case for f in findings], ["wire"], "flask", "quart"), "text")
    assert len(text.splitlines()) < 15
    assert "... and 195 other pairs of values in 195 cases" in text


def test_text_is_plain_ascii_with_hostile_values_clipped_and_escaped(planted: Run) -> None:
    text = render(planted, "text")
    assert text.isascii()
    assert "\x1b" not in text and "\x00" not in text
    assert len(text) < 5_000  # the megabyte is clipped
    assert f"'{'m' * 80}'... (1,000,000 chars) vs 'small'" in text
    hostile = "'quote\" apostrophe\\' <tag> & amp \\x00nul \\x1b[31mred \\x7f \\xe9 \\u2603 \\udcff \\r\\nsplit'"
    assert f"{hostile} vs (absent)" in text
    assert "GET /odd\\x00\\x1b<&\"'\\xe9" in text  # a case id is escaped too
    assert "nondeterministic in quart: header etag (1st vs 2nd answer) -- 1 case" in text


def test_text_is_coloured_only_when_asked(planted: Run) -> None:
    assert "\x1b[" not in render(planted, "text")
    coloured = render(planted, "text", color=True)
    assert "\x1b[1;31mFAIL: " in coloured
    assert "\x1b[1;32mOK: " in render(Run([], ["GET /"], ["wire"], "flask", "quart"), "text", color=True)


def test_text_says_alike_when_nothing_differs() -> None:
    text = render(Run([], ["GET /", "GET /a"], ["in-process", "wire"], "flask", "quart"), "text")
    assert text == (
        "parity: 2 cases x 2 modes (in-process, wire), flask vs quart\n\n"
        "OK: flask and quart answer alike (2 cases x 2 modes).\n"
    )


def test_text_shows_the_end_of_the_log_of_a_side_that_answered_5xx(tmp_path: Path) -> None:
    log = tmp_path / "quart.log"
    log.write_text("".join(f"request {n}\n" for n in range(100)) + "Traceback: ZeroDivisionError \x1b[0m\n")
    run = Run(
        [],
        ["GET /boom", "GET /fail"],
        ["wire"],
        "flask",
        "quart",
        logs={"quart": log},
        server_errors=[("GET /boom", "quart", 500), ("GET /fail", "quart", 503)],
    )
    lines = render(run, "text").splitlines()
    at = lines.index(f"quart answered 5xx: GET /boom (500), GET /fail (503); last 40 lines of {log}:")
    assert lines[at + 1 :] == [
        *(f"  | request {n}" for n in range(61, 100)),
        "  | Traceback: ZeroDivisionError \\x1b[0m",
    ]


def test_a_side_without_a_readable_log_is_said_so(tmp_path: Path) -> None:
    missing = tmp_path / "gone.log"
    run = Run(
        [],
        ["GET /boom"],
        ["wire"],
        "flask",
        "quart",
        logs={"quart": missing},
        server_errors=[("GET /boom", "quart", 500), ("GET /boom", "flask", 502)],
    )
    text = render(run, "text")
    assert (
        f"quart answered 5xx: GET /boom (500); its log {missing} could not be read (No such file or directory):" in text
    )
    assert "flask answered 5xx: GET /boom (502); no server log kept:" in text


def test_a_log_is_tailed_from_its_end_however_big(tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    with log.open("wb") as file:
        file.truncate(50 * 1024**3)  # 50 GB, sparse: reading it all would not end in a test's time
        file.seek(0, os.SEEK_END)
        file.write(b"".join(b"line %d\n" % n for n in range(50)))
    assert log_tail(log).splitlines() == [f"line {n}" for n in range(10, 50)]
    endless = tmp_path / "endless.log"
    endless.write_bytes(b"x" * (4 * LOG_READ_LIMIT))
    assert len(log_tail(endless)) == LOG_READ_LIMIT


# --- json ---------------------------------------------------------------------------------------


def test_json_holds_every_finding_and_group_in_the_documented_schema(real_run: Run) -> None:
    document = json.loads(render(real_run, "json"))
    assert list(document) == [
        "version",
        "left",
        "right",
        "modes",
        "cases",
        "verdict",
        "findings",
        "groups",
        "server_errors",
        "logs",
    ]
    assert document["version"] == 1
    assert (document["left"], document["right"], document["modes"], document["cases"]) == (
        "flask",
        "port",
        ["in-process"],
        ITEMS + 1,
    )
    assert document["verdict"] == "differ"
    assert len(document["findings"]) == len(real_run.findings)
    assert document["findings"][0] == {
        "case": "GET /items/0",
        "mode": "in-process",
        "kind": "difference",
        "field": "header x-added",
        "left": "(absent)",
        "right": "yes",
    }
    added = document["groups"][0]
    assert (added["field"], added["count"], len(added["cases"]), added["modes"]) == (
        "header x-added",
        ITEMS + 1,
        ITEMS + 1,
        ["in-process"],
    )
    assert document["server_errors"] == [{"case": "GET /boom", "side": "port", "status": 500}]
    assert render(real_run, "json") == render(real_run, "json")


def test_json_keeps_hostile_values_whole(planted: Run) -> None:
    text = render(planted, "json")
    assert text.isascii()
    rights = {f["field"]: f["right"] for f in json.loads(text)["findings"]}
    lefts = {f["field"]: f["left"] for f in json.loads(text)["findings"]}
    assert lefts["header x-big"] == MEGABYTE
    assert lefts["header x-hostile"] == HOSTILE and rights["header x-script"] == SCRIPT


# --- junit --------------------------------------------------------------------------------------


def parse_junit(text: str) -> ET.Element:
    """The report parsed as a CI does: ElementTree, the JUnit schema's required attributes, and
    junitparser where it is installed."""
    root = ET.fromstring(text.encode("ascii"))
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        assert {"name", "tests", "failures", "errors"} <= set(suite.attrib)
        for testcase in suite.iter("testcase"):
            assert {"name", "classname"} <= set(testcase.attrib)
            for failure in testcase.iter("failure"):
                assert "message" in failure.attrib
    try:
        junitparser = importlib.import_module("junitparser")  # not a dependency: checked where installed
    except ImportError:
        return root
    suites = list(junitparser.JUnitXml.fromstring(text.encode("ascii")))
    assert [suite.name for suite in suites] == [suite.attrib["name"] for suite in root.iter("testsuite")]
    assert sum(suite.tests for suite in suites) == int(root.attrib["tests"])
    assert sum(suite.failures for suite in suites) == int(root.attrib["failures"])
    return root


def test_junit_has_one_suite_per_mode_and_one_testcase_per_case(real_run: Run) -> None:
    two_modes = Run(
        [*real_run.findings, finding("GET /boom", "status", "500", "200", mode="wire")],
        real_run.cases,
        ["in-process", "wire"],
        "flask",
        "port",
    )
    root = parse_junit(render(two_modes, "junit"))
    suites = root.findall("testsuite")
    assert [s.attrib["name"] for s in suites] == ["parity.in-process", "parity.wire"]
    assert [(s.attrib["tests"], s.attrib["failures"]) for s in suites] == [
        (str(ITEMS + 1), str(ITEMS + 1)),
        (str(ITEMS + 1), "1"),
    ]
    assert (root.attrib["tests"], root.attrib["failures"]) == (str(2 * (ITEMS + 1)), str(ITEMS + 2))
    in_process = suites[0].findall("testcase")
    assert [t.attrib["name"] for t in in_process] == list(real_run.cases)
    assert {t.attrib["classname"] for t in in_process} == {"parity.in-process"}
    boom = in_process[-1].find("failure")
    assert boom is not None
    assert boom.attrib["message"] == "status: 200 vs 500 (and 2 more findings)"
    assert (boom.text or "").splitlines() == [
        "[difference] status: 200 vs 500",
        "[difference] header x-added: (absent) vs 'yes'",
        "[difference] body: b'fine' vs b'boom'",
    ]
    passing = [t for t in suites[1].findall("testcase") if t.find("failure") is None]
    assert len(passing) == ITEMS


def test_junit_parses_whatever_the_values_hold(planted: Run) -> None:
    text = render(planted, "junit")
    assert text.isascii()
    root = parse_junit(text)
    failures = {t.attrib["name"]: t.find("failure") for t in root.iter("testcase")}
    hostile, script = failures["GET /hostile"], failures["GET /script"]
    assert hostile is not None and script is not None
    assert hostile.attrib["message"] == "header x-hostile: " + repr(HOSTILE) + " vs (absent)"
    assert SCRIPT in (script.text or "")
    # What XML 1.0 allows arrives as it was; what it forbids (even as a reference) as a visible escape.
    assert "GET /odd\\x00\\x1b<&\"'é" in failures
    odd = failures["GET /odd\\x00\\x1b<&\"'é"]
    assert odd is not None
    assert odd.attrib["message"] == "event 1 data: " + HOSTILE_ESCAPED + " vs x"
    big = failures["GET /big"]
    assert big is not None and len(big.attrib["message"]) < 400 and len(big.text or "") < 5_000


# --- html ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_program("chromium")
    from playwright.sync_api import sync_playwright  # the test extra installs it (pyproject.toml)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


def test_the_html_page_shows_each_difference_and_runs_nothing(planted: Run, browser: Browser, tmp_path: Path) -> None:
    page_file = tmp_path / "report" / "parity.html"
    write(planted, "html", page_file)
    assert page_file.stat().st_size < 60_000  # the megabyte is clipped
    page = browser.new_page()
    try:
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(page_file.as_uri())
        assert requested == [page_file.as_uri()]  # self-contained
        assert page.inner_text("h1") == "parity: flask vs quart"
        assert page.inner_text(".verdict") == (
            "FAIL: 9 findings in 8 fields, in 8 of 8 cases x 1 mode: flask and quart do not answer alike."
        )
        for field, left, right in [
            ("header x-added", "(absent)", "'yes'"),
            ("status", "200", "404"),
            ("status", "200", "500"),
            ("body $.items[0].name", '"Apple"', '"apple"'),
            ("nondeterministic in quart: header etag", "'\"v1\"'", "'\"v2\"'"),
            ("header x-script", "'plain'", repr(SCRIPT)),
        ]:
            row = page.locator("section", has=page.locator("h2", has_text=field)).locator("tr", has_text=right)
            assert row.count() == 1, (field, right)
            assert [cell.strip() for cell in row.locator("td").all_inner_texts()][2:] == [left, right]
        # Markup in a value is text: no element was made of it, nothing ran.
        assert page.evaluate("document.querySelectorAll('body script, body img').length") == 0
        assert page.evaluate("window.ran === undefined")
        # The megabyte is folded: its preview shows, its clipped whole is one click away.
        big = page.locator("section", has=page.locator("h2", has_text="header x-big")).locator("details")
        assert big.locator("summary").inner_text() == f"'{'m' * 80}'... (1,000,000 chars)"
        assert not big.locator("pre").is_visible()
        big.locator("summary").click()
        assert big.locator("pre").inner_text().endswith("'... (1,000,000 chars)")
        hostile = page.locator("section", has=page.locator("h2", has_text="header x-hostile")).locator("td.left")
        assert hostile.inner_text() == repr(HOSTILE)
        event = page.locator("section", has=page.locator("h2", has_text="event 1 data")).locator("td")
        assert event.all_inner_texts()[0] == "GET /odd\\x00\\x1b<&\"'é"
        assert event.all_inner_texts()[2] == HOSTILE_ESCAPED
    finally:
        page.close()


def test_the_html_page_of_a_run_that_agrees_says_so(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content(render(Run([], ["GET /"], ["wire"], "flask", "quart"), "html"))
        assert page.inner_text(".verdict") == "OK: flask and quart answer alike (1 case x 1 mode)."
        assert page.locator("table").count() == 0
    finally:
        page.close()


# --- write --------------------------------------------------------------------------------------


@pytest.mark.parametrize("format", FORMATS)
def test_write_puts_the_report_on_stdout_without_colour_when_not_a_terminal(
    format: Format, planted: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    write(planted, format, None)
    out = capsys.readouterr().out
    assert out == render(planted, format)
    assert out.isascii() and "\x1b" not in out


def test_write_to_a_file(real_run: Run, tmp_path: Path) -> None:
    output = tmp_path / "deep" / "er" / "parity.xml"
    write(real_run, "junit", output)
    assert parse_junit(output.read_text(encoding="ascii")).attrib["failures"] == str(ITEMS + 1)
