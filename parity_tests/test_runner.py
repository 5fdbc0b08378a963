"""``twinport parity`` with targets, run as a user runs it: the command line as a subprocess in an
empty working directory, on the small pair of ``_target_apps`` (``PLANT_HEADER`` plants one
header on the Flask side only, ``/boom`` raises in both) and the example tea shop.

What is asserted is what a user (or their CI) sees: the exit status (0 alike, 1 on a finding, 2
with one line saying why the run could not be made), the report in each format, the rules that
silence a known difference, the server logs kept and quoted when a side answers 5xx over the
wire, the settings reaching both factories, and the routes ``--generate`` left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from parity_tests.servers import REPO_ROOT

FLASK = "parity_tests._target_apps:create_flask_app"
QUART = "parity_tests._target_apps:create_quart_app"
PAIR = ("--flask", FLASK, "--quart", QUART)
EXAMPLE_PAIR = (
    "--flask",
    "parity_tests.example.flask_app:create_app",
    "--quart",
    "parity_tests.example.quart_app:create_app",
)
IN_PROCESS = ("--mode", "in-process")
#: The planted header as every report names it: the field, Flask's value, Quart's.
PLANTED = ("header x-planted", "flask-only", "(absent)")
ERROR_PREFIX = "twinport: error: "


def twinport_parity(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``twinport parity ARGUMENTS`` run from ``cwd``, its output captured."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "parity", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def agreeing_cases(tmp_path: Path) -> Path:
    """Two routes of ``_target_apps`` both sides answer alike (unless a header is planted)."""
    return write(tmp_path / "cases.toml", '[[case]]\ntarget = "/"\n\n[[case]]\ntarget = "/items/3"\n')


@pytest.fixture
def planting_settings(tmp_path: Path) -> Path:
    """Settings that make the Flask side add ``X-Planted`` to every answer."""
    return write(tmp_path / "settings.toml", "PLANT_HEADER = true\n")


def planted_run(agreeing_cases: Path, planting_settings: Path, *more: str) -> tuple[str, ...]:
    """The arguments of an in-process run of the agreeing cases with the header planted, and ``more``."""
    return (*PAIR, *IN_PROCESS, "--cases", str(agreeing_cases), "--settings", str(planting_settings), *more)


# --- exit status ---------------------------------------------------------------------------------


def test_routes_that_agree_exit_0_with_an_ok_report(tmp_path: Path) -> None:
    cases = write(tmp_path / "cases.toml", '[[case]]\ntarget = "/"\n\n[[case]]\ntarget = "/items/1"\n')
    done = twinport_parity(*EXAMPLE_PAIR, *IN_PROCESS, "--cases", str(cases), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "OK: flask and quart answer alike (2 cases x 1 mode)" in done.stdout


def test_a_planted_difference_exits_1_and_the_text_report_names_its_field_and_values(tmp_path: Path) -> None:
    cases = write(tmp_path / "cases.toml", '[[case]]\ntarget = "/items/1"\n\n[[case]]\ntarget = "/items/2"\n')
    done = twinport_parity(*EXAMPLE_PAIR, *IN_PROCESS, "--cases", str(cases), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "body $.price -- 1 case" in done.stdout
    assert '1 case: "2.67" vs "2.66"' in done.stdout
    assert "e.g. GET /items/2 (in-process)" in done.stdout
    assert "FAIL: 1 finding" in done.stdout


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        pytest.param(("--flask", FLASK), "the right side is missing: give --quart or --right", id="missing-side"),
        pytest.param(
            (*PAIR, "--left", "http://127.0.0.1:9"),
            "--flask and --left both name the left side",
            id="flask-with-left",
        ),
        pytest.param(
            ("--flask", "parity_tests._target_apps:factory_that_raises", "--quart", QUART),
            "the factory raised RuntimeError('the database is unreachable')",
            id="factory-raises",
        ),
        pytest.param(
            ("--flask", "parity_tests._target_apps:no_such_factory", "--quart", QUART),
            "module parity_tests._target_apps has no 'no_such_factory'",
            id="factory-not-there",
        ),
        pytest.param(
            ("--flask", "parity_tests._target_apps:not_an_app", "--quart", QUART),
            "neither an app nor a factory",
            id="not-an-app",
        ),
        pytest.param(("--flask", QUART, "--quart", FLASK), "built quart.app.Quart, not a WSGI app", id="sides-swapped"),
        pytest.param(
            (*PAIR, "--rule", "x-planted=ignore"), "rule 'x-planted=ignore': expected header:", id="rule-scope"
        ),
        pytest.param(
            (*PAIR, "--rule", "header:x-planted=hide"), "kind 'hide' is not one of ignore, presence", id="rule-kind"
        ),
        pytest.param(
            ("--left", "http://127.0.0.1:9", "--right", "http://127.0.0.1:10"),
            "two URLs have no url map: give --cases or --har",
            id="two-urls-no-cases",
        ),
        pytest.param(("--cases", "cases.toml"), "--cases needs two targets", id="cases-without-targets"),
        pytest.param(
            (*PAIR, "--every-pairing"),
            "--every-pairing, --flask-server and --quart-server are for twinport's own apps",
            id="every-pairing-with-targets",
        ),
        pytest.param((*PAIR, "--settings", "absent.toml"), "--settings absent.toml:", id="settings-missing"),
    ],
)
def test_a_run_that_cannot_be_made_exits_2_with_one_line_saying_why(
    arguments: tuple[str, ...], says: str, tmp_path: Path
) -> None:
    done = twinport_parity(*arguments, *IN_PROCESS, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(ERROR_PREFIX) and says in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        pytest.param("cases.toml", "[[case]\ntarget = '/'\n", "cases.toml: is not valid TOML", id="not-toml"),
        pytest.param("cases.json", '[{"target": "/"}', "cases.json: is not valid JSON", id="not-json"),
        pytest.param(
            "cases.toml", '[[case]]\ntarget = "items"\n', "key 'target': 'items' must start with '/'", id="bad-target"
        ),
        pytest.param("cases.toml", '[[case]]\nmethod = "GET"\n', "case 1", id="no-target"),
        pytest.param(
            "cases.toml",
            '[rules]\nheaders = 3\n\n[[case]]\ntarget = "/"\n',
            "cases.toml: rules.headers must be a table",
            id="bad-rules",
        ),
        pytest.param("cases.toml", "", "cases.toml: key 'case': is missing", id="empty"),
        pytest.param("cases.json", "[]", "cases.json: holds no cases", id="no-cases"),
        pytest.param("cases.yaml", "- target: /\n", "a case file is .toml or .json", id="yaml"),
    ],
)
def test_a_bad_case_file_exits_2_with_one_line_naming_the_file_and_the_fault(
    name: str, text: str, says: str, tmp_path: Path
) -> None:
    cases = write(tmp_path / name, text)
    done = twinport_parity(*PAIR, *IN_PROCESS, "--cases", str(cases), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(ERROR_PREFIX) and says in done.stderr, done.stderr


# --- report formats ------------------------------------------------------------------------------


def test_the_json_report_holds_the_planted_finding_in_each_case(
    agreeing_cases: Path, planting_settings: Path, tmp_path: Path
) -> None:
    output = tmp_path / "reports" / "parity.json"
    done = twinport_parity(
        *planted_run(agreeing_cases, planting_settings, "--format", "json", "--output", str(output)), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert f"json report written to {output}: 2 finding(s)" in done.stderr
    report = json.loads(output.read_text(encoding="ascii"))
    assert report["verdict"] == "differ"
    assert (report["left"], report["right"], report["modes"], report["cases"]) == ("flask", "quart", ["in-process"], 2)
    found = {(f["case"], f["kind"], f["field"], f["left"], f["right"]) for f in report["findings"]}
    assert found == {(case, "difference", *PLANTED) for case in ("GET /", "GET /items/3")}
    [planted] = report["groups"]
    assert (planted["field"], planted["left"], planted["right"], planted["count"]) == (*PLANTED, 2)


def test_the_junit_report_parses_and_fails_each_case_on_the_planted_header(
    agreeing_cases: Path, planting_settings: Path, tmp_path: Path
) -> None:
    output = tmp_path / "parity.xml"
    done = twinport_parity(
        *planted_run(agreeing_cases, planting_settings, "--format", "junit", "--output", str(output)), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    suites = ElementTree.parse(output).getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors")) == ("2", "2", "0")
    failed = {case.get("name"): case.find("failure") for case in suites.iter("testcase")}
    assert set(failed) == {"GET /", "GET /items/3"}
    for failure in failed.values():
        assert failure is not None
        assert failure.get("message") == "header x-planted: 'flask-only' vs (absent)"


def test_the_html_report_is_a_page_naming_the_planted_field(
    agreeing_cases: Path, planting_settings: Path, tmp_path: Path
) -> None:
    output = tmp_path / "parity.html"
    done = twinport_parity(
        *planted_run(agreeing_cases, planting_settings, "--format", "html", "--output", str(output)), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    page = output.read_text(encoding="ascii")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "header x-planted" in page and "flask-only" in page


# --- rules ---------------------------------------------------------------------------------------


def test_a_rule_on_the_command_line_lets_the_planted_header_pass(
    agreeing_cases: Path, planting_settings: Path, tmp_path: Path
) -> None:
    without = twinport_parity(*planted_run(agreeing_cases, planting_settings), cwd=tmp_path)
    assert without.returncode == 1, without.stderr
    assert "header x-planted -- 2 cases" in without.stdout
    ignored = twinport_parity(
        *planted_run(agreeing_cases, planting_settings, "--rule", "header:x-planted=ignore"), cwd=tmp_path
    )
    assert ignored.returncode == 0, ignored.stderr
    assert "x-planted" not in ignored.stdout


def test_a_case_files_rules_table_lets_the_planted_header_pass(planting_settings: Path, tmp_path: Path) -> None:
    cases = write(
        tmp_path / "cases.toml",
        '[rules.headers]\nx-planted = { kind = "ignore", reason = "only the Flask side plants it" }\n\n'
        '[[case]]\ntarget = "/"\n\n[[case]]\ntarget = "/items/3"\n',
    )
    done = twinport_parity(
        *PAIR, *IN_PROCESS, "--cases", str(cases), "--settings", str(planting_settings), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout
    assert "OK: flask and quart answer alike (2 cases x 1 mode)" in done.stdout


def test_a_cases_own_rules_silence_the_header_in_that_case_only(planting_settings: Path, tmp_path: Path) -> None:
    cases = write(
        tmp_path / "cases.json",
        json.dumps(
            [
                {"id": "index", "target": "/", "rules": {"headers": {"x-planted": "ignore"}}},
                {"id": "item", "target": "/items/3"},
            ]
        ),
    )
    output = tmp_path / "parity.json"
    done = twinport_parity(
        *PAIR,
        *IN_PROCESS,
        "--cases",
        str(cases),
        "--settings",
        str(planting_settings),
        "--format",
        "json",
        "--output",
        str(output),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(output.read_text(encoding="ascii"))
    assert [(f["case"], f["field"]) for f in report["findings"]] == [("item", PLANTED[0])]


# --- settings ------------------------------------------------------------------------------------


def test_settings_in_json_reach_the_factories_too(agreeing_cases: Path, tmp_path: Path) -> None:
    settings = write(tmp_path / "settings.json", json.dumps({"PLANT_HEADER": True}))
    done = twinport_parity(
        *PAIR, *IN_PROCESS, "--cases", str(agreeing_cases), "--settings", str(settings), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "'flask-only' vs (absent)" in done.stdout


def test_without_settings_the_factories_build_the_pair_that_agrees(agreeing_cases: Path, tmp_path: Path) -> None:
    done = twinport_parity(*PAIR, *IN_PROCESS, "--cases", str(agreeing_cases), cwd=tmp_path)
    assert done.returncode == 0, done.stdout


# --- over the wire: the kept logs ----------------------------------------------------------------


def test_over_the_wire_a_5xx_answer_quotes_each_sides_kept_log_with_the_traceback(
    planting_settings: Path, tmp_path: Path
) -> None:
    """One wire run (gunicorn and hypercorn start for real): the settings cross into the server
    processes (the planted header is found), each side's 500 brings its log's tail into the
    report, and the logs stay in ``--logs`` after the servers are gone."""
    cases = write(tmp_path / "cases.toml", '[[case]]\ntarget = "/boom"\n\n[[case]]\ntarget = "/"\n')
    logs = tmp_path / "server-logs"
    done = twinport_parity(
        *PAIR,
        "--mode",
        "wire",
        "--cases",
        str(cases),
        "--settings",
        str(planting_settings),
        "--logs",
        str(logs),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert "(wire gunicorn / hypercorn), flask vs quart" in done.stdout
    assert "header x-planted -- 2 cases" in done.stdout
    left_log, right_log = logs / "left-gunicorn.log", logs / "right-hypercorn.log"
    before_quart, quart_part = done.stdout.split("quart answered 5xx: ")
    _, flask_part = before_quart.split("flask answered 5xx: ")
    for part, log in ((flask_part, left_log), (quart_part, right_log)):
        assert part.startswith(f"GET /boom (500); last 40 lines of {log}:"), part[:200]
        assert "  | RuntimeError: planted failure in /boom" in part.splitlines()
    for log in (left_log, right_log):
        assert "RuntimeError: planted failure in /boom" in log.read_text(encoding="utf-8", errors="replace")
    assert not (tmp_path / ".twinport-parity").exists()


# --- generated cases -----------------------------------------------------------------------------


def test_generate_is_the_default_with_app_targets_and_names_the_routes_it_left_out(tmp_path: Path) -> None:
    output = tmp_path / "parity.json"
    done = twinport_parity(*EXAMPLE_PAIR, *IN_PROCESS, "--format", "json", "--output", str(output), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    left_out = [line for line in done.stderr.splitlines() if line.startswith("--generate left out ")]
    assert left_out == [
        "--generate left out /static/<path:filename>: the static files (include_static=True generates them)",
        "--generate left out /files/<path:name>: no example for name",
    ]
    report = json.loads(output.read_text(encoding="ascii"))
    assert {"gen GET /items", "gen GET /events"} <= {case for group in report["groups"] for case in group["cases"]}


def test_an_example_value_brings_a_left_out_route_in(tmp_path: Path) -> None:
    examples = write(tmp_path / "examples.toml", '["/files/<path:name>"]\nname = "brewing.txt"\n')
    output = tmp_path / "parity.json"
    done = twinport_parity(
        *EXAMPLE_PAIR,
        *IN_PROCESS,
        "--examples",
        str(examples),
        "--format",
        "json",
        "--output",
        str(output),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert "/files/<path:name>" not in done.stderr
    report = json.loads(output.read_text(encoding="ascii"))
    assert "header content-range" in {group["field"] for group in report["groups"]}


def test_generate_with_a_case_file_sends_both(tmp_path: Path) -> None:
    cases = write(tmp_path / "cases.toml", '[[case]]\nid = "my price"\ntarget = "/items/2"\n')
    output = tmp_path / "parity.json"
    done = twinport_parity(
        *EXAMPLE_PAIR,
        *IN_PROCESS,
        "--cases",
        str(cases),
        "--generate",
        "--format",
        "json",
        "--output",
        str(output),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    cases_by_field = {group["field"]: set(group["cases"]) for group in json.loads(output.read_text())["groups"]}
    assert "my price" in cases_by_field["body $.price"]
    assert "gen GET /items" in cases_by_field["header cache-control"]
