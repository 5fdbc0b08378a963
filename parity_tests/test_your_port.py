"""The example pair (``parity_tests.example``: a Flask service and its Quart port with four planted
differences) through ``twinport parity`` in every way a team would run it: factories in-process
and over the wire, two URLs, a HAR a real browser recorded, the shadow proxy in front of live
traffic, and generated cases. In each, every planted difference is reported exactly once (one
group of the report) and nothing else is.

All real: the command line as a subprocess, gunicorn and hypercorn, Debian's Chromium, the proxy
as its own process. Only the comparisons are asserted, never a time.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from parity_tests.clients import FlaskInProcess
from parity_tests.example import flask_app
from parity_tests.servers import REPO_ROOT, require_program
from parity_tests.sources import generate_cases
from parity_tests.targets import AppTarget, serve_target

FLASK = "parity_tests.example.flask_app:create_app"
QUART = "parity_tests.example.quart_app:create_app"
EXAMPLES = {"/items/<int:item_id>": {"item_id": "2"}, "/files/<path:name>": {"name": "brewing.txt"}}
# Each planted difference (parity_tests/example/quart_app.py), as the report names it: its field
# and both values.
PLANTED = {
    ("header cache-control", "max-age=60", "no-cache"),
    ("body $.price", '"2.67"', '"2.66"'),
    ("event 3 data", '"Opening hours:\\nMon-Fri 9-18\\nSat 10-14"', '"Opening hours:"'),
    ("header content-range", "bytes 4027-4126/4127", "bytes 4027-4126/4126"),
}


def planted_groups(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The report's groups as (field, left, right), after checking they are differences only."""
    assert {group["kind"] for group in report["groups"]} <= {"difference"}, report["groups"]
    found = [(group["field"], group["left"], group["right"]) for group in report["groups"]]
    assert len(found) == len(set(found)), found
    return set(found)


def twinport_parity(*arguments: str, cwd: Path) -> tuple[int, dict[str, Any], str]:
    """``twinport parity ARGUMENTS --format json``: its exit status, its report, its stderr."""
    output = cwd / "report.json"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "parity", *arguments, "--format", "json", "--output", str(output)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(output.read_text()), done.stderr


@pytest.fixture(scope="module")
def examples_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("examples") / "examples.json"
    path.write_text(json.dumps(EXAMPLES))
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The pair deployed: Flask behind gunicorn and its port behind hypercorn, as base URLs."""
    logs = tmp_path_factory.mktemp("served-logs")
    with ExitStack() as stack:
        left = stack.enter_context(serve_target(AppTarget(FLASK, "wsgi"), logs, "left"))
        right = stack.enter_context(serve_target(AppTarget(QUART, "asgi"), logs, "right"))
        yield f"http://127.0.0.1:{left.port}", f"http://127.0.0.1:{right.port}"


@pytest.fixture(scope="module")
def generated_case_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated cases written as a user's JSON case file (``--cases``), for the runs that
    have no url map to generate from."""
    flask = FlaskInProcess(flask_app.create_app())
    cases = generate_cases(flask.app, flask, EXAMPLES).cases
    path = tmp_path_factory.mktemp("cases") / "cases.json"
    entries: list[dict[str, Any]] = []
    for case in cases:
        entry: dict[str, Any] = {"id": case.id, "method": case.method, "target": case.target}
        if case.headers:
            entry["headers"] = [list(field) for field in case.headers]
        if case.events is not None:
            entry["events"] = case.events
        entries.append(entry)
    path.write_text(json.dumps(entries))
    return path


def test_factories_in_process_and_over_the_wire_find_the_four_planted_differences_alike(
    examples_file: Path, tmp_path: Path
) -> None:
    status, report, stderr = twinport_parity(
        "--flask", FLASK, "--quart", QUART, "--mode", "both", "--examples", str(examples_file), cwd=tmp_path
    )
    assert status == 1
    assert report["modes"] == ["in-process", "wire gunicorn / hypercorn"]
    assert planted_groups(report) == PLANTED
    # The in-process drivers agree with the wire: the same findings, case by case, in both modes.
    by_mode: dict[str, set[tuple[str, str, str, str]]] = {mode: set() for mode in report["modes"]}
    for finding in report["findings"]:
        by_mode[finding["mode"]].add((finding["case"], finding["field"], finding["left"], finding["right"]))
    in_process, wire = by_mode.values()
    assert in_process == wire
    assert "--generate left out /static/<path:filename>" in stderr
    # Over the wire the servers' logs are kept, beside where the command ran.
    assert {Path(path).name for path in report["logs"].values()} == {"left-gunicorn.log", "right-hypercorn.log"}
    assert all(Path(path).is_file() and Path(path).is_relative_to(tmp_path) for path in report["logs"].values())


def test_two_urls_with_a_case_file_find_the_four(
    served: tuple[str, str], generated_case_file: Path, tmp_path: Path
) -> None:
    left, right = served
    status, report, _ = twinport_parity(
        "--left", left, "--right", right, "--cases", str(generated_case_file), cwd=tmp_path
    )
    assert (status, report["modes"]) == (1, ["url"])
    assert planted_groups(report) == PLANTED


def test_a_har_recorded_by_a_real_browser_replays_to_the_four(served: tuple[str, str], tmp_path: Path) -> None:
    chromium = require_program("chromium")
    from playwright.sync_api import sync_playwright

    left, right = served
    har = tmp_path / "shop.har"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(record_har_path=str(har))
            page = context.new_page()
            page.goto(f"{left}/")
            # What the shop's pages fetch: the list, an item, the end of a file, the announcements.
            page.evaluate(
                """async () => {
                    for (const [url, options] of [
                        ["/items", {}],
                        ["/items/2", {}],
                        ["/files/brewing.txt", {headers: {Range: "bytes=-100"}}],
                        ["/events", {}],
                    ]) {
                        await (await fetch(url, {cache: "no-store", ...options})).text();
                    }
                }"""
            )
            context.close()  # writes the HAR
        finally:
            browser.close()
    status, report, _ = twinport_parity("--left", left, "--right", right, "--har", str(har), cwd=tmp_path)
    assert status == 1
    assert planted_groups(report) == PLANTED


def test_the_shadow_proxy_in_front_of_live_traffic_finds_the_four(
    served: tuple[str, str], generated_case_file: Path, tmp_path: Path
) -> None:
    left, right = served
    report_path = tmp_path / "shadow.json"
    argv = [sys.executable, "-m", "parity_tests.proxy", "--left", left, "--right", right, "--left-again", left]
    argv += ["--listen", "127.0.0.1:0", "--report", str(report_path)]
    log = tmp_path / "proxy.log"
    with log.open("w") as stderr:
        proxy = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert proxy.stdout is not None
        announced = proxy.stdout.readline()
        assert "listening on http://127.0.0.1:" in announced, announced + log.read_text()
        port = int(announced.rsplit(":", 1)[1])
        served_by_left = []
        for case in json.loads(generated_case_file.read_text()):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request(case["method"], case["target"], headers=dict(case.get("headers", [])))
                answer = connection.getresponse()
                answer.read()
                served_by_left.append(answer.status)
            finally:
                connection.close()
        proxy.send_signal(signal.SIGTERM)
        assert proxy.wait(timeout=60) == 1  # a finding
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()
        if proxy.stdout is not None:
            proxy.stdout.close()
    assert 304 in served_by_left and 206 in served_by_left and 416 in served_by_left
    report = json.loads(report_path.read_text())
    found = {(finding["field"], finding["left"], finding["right"]) for finding in report["findings"]}
    assert found == PLANTED
    assert report["noise"] == {}
