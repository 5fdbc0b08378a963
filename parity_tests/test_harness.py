"""The harness itself: it catches planted differences, learns noise, and normalizes only
what ``compare`` documents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from parity_tests import planted
from parity_tests.case import Case
from parity_tests.clients import Exchange, WireClient
from parity_tests.compare import diff_exchanges
from parity_tests.harness import format_table, in_process_pair, main, run_case
from parity_tests.servers import REPO_ROOT, free_port, running_command, twinport_environment
from shared.cli import server_command
from shared.config import settings_from

CASE = Case("planted", "/as-json")


def test_in_process_catches_a_planted_header(settings: dict[str, object]) -> None:
    with in_process_pair(settings, flask_app=planted.flask_with_extra_header(dict(settings))) as (flask, quart):
        findings = run_case(CASE, flask, quart, "in-process")
    assert [(f.kind, f.field, f.left, f.right) for f in findings] == [
        ("difference", "header x-planted", "flask-only", "(absent)")
    ]
    assert "x-planted" in format_table(findings)


def test_wire_catches_a_planted_header(
    settings: dict[str, object], servers: dict[str, WireClient], tmp_path: Path
) -> None:
    # The planted app behind the real gunicorn, with the exact argv `twinport serve` uses.
    port = free_port()
    argv = server_command(settings_from({**settings, "port": port}))
    argv[-1] = "parity_tests.planted:flask_with_extra_header()"
    environment = twinport_environment({**settings, "port": port})
    with running_command("flask", argv, port, environment, tmp_path, tmp_path / "planted.log") as server:
        findings = run_case(CASE, WireClient(server.host, port, "flask"), servers["quart"], "wire")
    assert [(f.kind, f.field) for f in findings] == [("difference", "header x-planted")]
    assert server.exit_status == 0


def test_a_value_that_changes_between_two_runs_is_reported_as_nondeterministic(settings: dict[str, object]) -> None:
    with in_process_pair(settings, quart_app=planted.quart_with_changing_header(dict(settings))) as (flask, quart):
        findings = run_case(CASE, flask, quart, "in-process")
    kinds = {(f.kind, f.field) for f in findings}
    assert ("nondeterministic in quart", "header x-request-serial") in kinds
    assert ("difference", "header x-request-serial") in kinds
    assert not any(kind == "nondeterministic in flask" for kind, _ in kinds)


def test_only_the_documented_fields_are_normalized() -> None:
    base = Exchange(
        200,
        (
            ("Date", "Thu, 26 Nov 2026 01:00:00 GMT"),
            ("Server", "gunicorn"),
            ("Connection", "keep-alive"),
            ("Content-Type", "text/plain"),
        ),
        b"OK",
    )
    same = Exchange(
        200,
        (
            ("content-type", "text/plain"),
            ("date", "Fri, 27 Nov 2026 09:00:00 GMT"),
            ("server", "hypercorn-h11"),
            ("transfer-encoding", "chunked"),
        ),
        b"OK",
    )
    assert diff_exchanges(base, same) == []
    # Presence of Date still counts; values of every other header count exactly.
    no_date = Exchange(200, (("Server", "x"), ("Content-Type", "text/plain")), b"OK")
    assert [d.field for d in diff_exchanges(base, no_date)] == ["header date"]
    other_type = Exchange(200, (("Date", "x"), ("Server", "x"), ("Content-Type", "text/plain; charset=utf-8")), b"OK")
    assert [d.field for d in diff_exchanges(base, other_type)] == ["header content-type"]


def test_repeated_headers_compare_in_order() -> None:
    first = Exchange(200, (("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")), b"")
    swapped = Exchange(200, (("set-cookie", "b=2"), ("set-cookie", "a=1")), b"")
    assert [d.field for d in diff_exchanges(first, swapped)] == ["header set-cookie"]


def test_status_and_body_differences_are_shown() -> None:
    differences = diff_exchanges(Exchange(200, (), b"x" * 500), Exchange(201, (), b"x" * 499 + b"y"))
    assert [d.field for d in differences] == ["status", "body"]
    assert "from byte 499" in differences[1].left


def test_parity_main_prints_the_table_and_fails_on_a_difference(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import flask_impl

    monkeypatch.setattr(flask_impl, "create_app", planted.flask_with_extra_header)
    assert main(mode="in-process", cases=[CASE]) == 1
    output = capsys.readouterr().out
    assert "planted" in output and "header x-planted" in output and "flask-only" in output and "(absent)" in output


def test_twinport_parity_command_passes_on_the_real_apps() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "parity", "--mode", "in-process"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: flask and quart answer alike" in result.stdout


def test_twinport_parity_runs_over_the_servers_asked_for_and_names_them() -> None:
    argv = [sys.executable, "-m", "shared.cli", "parity", "--mode", "wire", "--quart-server", "granian"]
    result = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wire flask-gunicorn-gthread / quart-granian-uvloop: " in result.stderr
    refused = subprocess.run([*argv[:-1], "gunicorn"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert (refused.returncode, refused.stderr) == (
        2,
        "twinport: error: --quart-server 'gunicorn': quart is offered on granian, hypercorn, uvicorn\n",
    )


def test_a_replay_case_selected_alone_first_publishes_what_it_reads(tmp_path: Path) -> None:
    # `pytest -k replay` once hung: the replay cases waited for events only the deselected publish
    # cases would have published. Pairs.run sends a case's ``after`` cases first, once per pair.
    from contextlib import ExitStack

    from parity_tests.harness import BY_ID, Pairs, event_boot, parity_settings

    with ExitStack() as stack:
        pairs = Pairs("in-process", parity_settings(tmp_path / "data"), stack)
        assert pairs.run(BY_ID["events-replay-all-kept"]) == []
        flask, _ = pairs.get("default")
        # Exactly the four publications, once: a second replay case publishes nothing more.
        assert pairs.run(BY_ID["events-replay-newer"]) == []
        boot = event_boot(flask)
        answer = flask.request("GET", "/events", (("Last-Event-ID", f"{boot}-0"),), events=4)
        ids = [line for line in answer.body.split(b"\n") if line.startswith(b"id: ")]
        assert ids == [f"id: {boot}-{n}".encode() for n in (2, 3, 4)]  # sse_replay keeps three of four
