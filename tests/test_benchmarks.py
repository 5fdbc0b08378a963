"""The benchmarks run and report; their numbers are for people, not assertions.

One ``twinport bench run --quick`` (seconds, tiny counts, every scenario) over two targets, one per
runtime, each on a server other than its runtime's default (Flask on gunicorn's gevent worker,
Quart on granian: the two spellings of an app in a server's argv), keeps the benchmark code
working: these tests check what it writes, the report made from it (a smoke run's banner, no goal
graded, the Quart-vs-Flask table), that ``compare`` catches a planted regression and refuses two
runs measured with different settings, and that each goal names the targets it reads. No test
here asserts a speed.
"""

from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from benchmarks import csv_memory
from benchmarks.goals import NOT_GRADED, evaluate_goals, pairings
from benchmarks.report import SMOKE_BANNER
from benchmarks.run import POSTGRES_RECORDED, run_benchmarks, summarize
from benchmarks.scenarios import SCENARIOS, BenchConfig, Ceiling, sse_ceiling
from benchmarks.targets import BY_NAME, TARGETS, Placement, Target, effective_settings, resolve_targets, server_argv
from benchmarks.wrk import parse_wrk_output, wrk_available
from parity_tests.postgres import require_postgres
from parity_tests.servers import SERVINGS, require_program
from shared import cli
from shared.cli import server_command

QUICK_TARGETS = ("flask-gevent", "quart-granian")
QUICK_TARGET = QUICK_TARGETS[1]  # the one the compare tests read
WRK_SCENARIOS = ("tiny-json", "revalidate-304", "paging", "file-1mb", "range-64k", "io-wait-64", "io-wait-512")
# Run where PostgreSQL is installed (and required in CI); the bench starts it itself.
POSTGRESQL_SCENARIOS = ("revalidate-304-postgresql", "paging-postgresql")
REDIS_SCENARIOS = ("sse-fanout-redis-1w", "sse-fanout-redis-2w")
OPTIONAL_SCENARIOS = (*POSTGRESQL_SCENARIOS, *REDIS_SCENARIOS)  # each needs a server installed here


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads peak memory from Linux /proc")
def test_csv_memory_prints_a_table_row_per_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert csv_memory.main(["--rows", "10"]) == 0
    header, rule, *rows = capsys.readouterr().out.strip().splitlines()
    assert "tree peak after export MiB" in header and set(rule) == {"|", "-"}
    assert [(row.split("|")[1].strip(), row.split("|")[2].strip()) for row in rows] == [
        ("flask", "10"),
        ("quart", "10"),
    ]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quick run through the real command line (``twinport bench run``), shared by the tests."""
    require_program("wrk")
    if not os.path.isdir("/proc/self"):
        pytest.skip("the benchmarks read CPU and memory from Linux /proc")
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    scenarios = [scenario.name for scenario in SCENARIOS]
    try:
        require_postgres()
    except pytest.skip.Exception:  # not installed and not required: the rest still runs
        scenarios = [name for name in scenarios if name not in POSTGRESQL_SCENARIOS]
    try:
        require_program("redis-server")
    except pytest.skip.Exception:
        scenarios = [name for name in scenarios if name not in REDIS_SCENARIOS]
    command = ["bench", "run", "--quick", "--targets", *QUICK_TARGETS, "--scenarios", *scenarios, "--out", str(out)]
    assert cli.main(command) == 0
    return out


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_quick_run_writes_every_scenario_with_repeats_median_and_spread(quick_run: Path) -> None:
    document = _document(quick_run)
    assert {
        "cores",
        "memory_gib",
        "cpu_model",
        "python",
        "os",
        "load_average_at_start",
        "load_average_at_end",
    } <= document["machine"].keys()
    assert all(document["versions"][package] for package in ("flask", "quart", "gunicorn", "gevent", "granian"))
    assert document["config"]["quick"] is True and document["placement"]["mode"] == "pinned"
    flask, quart = (document["targets"][name] for name in QUICK_TARGETS)
    assert (flask["server"], flask["worker_class"], quart["server"], quart["worker_class"]) == (
        "gunicorn",
        "gevent",
        "granian",
        "uvloop",
    )
    assert flask["argv"][1:3] == ["-m", "gunicorn"] and flask["argv"][-1] == "flask_impl:create_app()"
    assert quart["argv"][1:3] == ["-m", "granian"] and quart["argv"][-2:] == [
        "--factory",
        "quart_impl.granian_worker:create_app",
    ]
    assert (flask["apps"], quart["apps"]) == (
        {"io-wait": "benchmarks.direct_apps:flask_app"},
        {"io-wait": "benchmarks.direct_apps:quart_app"},
    )
    assert document["scenarios"]["sse-fanout"]["server_settings"] == {"sse_heartbeat": 15.0}
    for target in QUICK_TARGETS:
        results = {entry["scenario"]: entry for entry in document["results"] if entry["target"] == target}
        assert set(results) == set(document["scenarios"]), target
        assert set(document["scenarios"]) >= {scenario.name for scenario in SCENARIOS} - set(OPTIONAL_SCENARIOS)
        assert [name for name, entry in results.items() if entry["status"] != "ok"] == [], target
        for name, entry in results.items():
            assert entry["values"] and len(entry["repeats"]) == len(entry["values"]), (target, name)
            assert entry["spread"]["min"] <= entry["median"] <= entry["spread"]["max"], (target, name)
        for name in (*WRK_SCENARIOS, *(name for name in POSTGRESQL_SCENARIOS if name in results)):
            repeats = results[name]["repeats"]
            assert len(repeats) == document["config"]["repeats"]
            assert {"p50", "p99", "p99.9"} <= repeats[0]["latency_ms"].keys() and {
                "server_cpu",
                "client_cpu",
                "errors",
            } <= repeats[0].keys()
        assert results["range-64k"]["extra"]["byte_exact"] is True
        if "paging-postgresql" in results:  # its database_url said, not its port (it changes every run)
            recorded = document["targets"][target]["server_settings"]["postgresql"]
            assert recorded == {"database_url": POSTGRES_RECORDED}
        assert [results[name]["repeats"][0]["connections"] for name in ("io-wait-64", "io-wait-512")] == [64, 512]
        assert results["csv-export-10x"]["extra"]["rows"] == 10 * results["csv-export"]["extra"]["rows"]
        levels = results["sse-fanout"]["extra"]["levels"]
        assert [level["clients"] for level in levels] == list(document["config"]["sse_levels"]), target
        assert all(level["held"] == level["clients"] and level["delivered"] == level["expected"] for level in levels)
        # The server counts this level's streams only: the level before had let go of all of its own.
        assert [level["subscribers_seen"] for level in levels] == list(document["config"]["sse_levels"]), target


def test_every_target_runs_twinport_serves_argv_with_only_its_app_swapped() -> None:
    """Each target's server is started with the argv ``twinport serve`` builds for its settings; a
    direct app or a scenario's own app replaces only the app, in the server's own spelling."""
    offered = {(serving.runtime, serving.server, serving.worker_class) for serving in SERVINGS}
    assert {(target.runtime, target.server, target.worker_class) for target in TARGETS} == offered
    for target in TARGETS:
        settings = effective_settings(target, {}, 8123, "/tmp/twinport-bench-data")
        assert (settings.server, settings.worker_class) == (target.server, target.worker_class)
        served, swapped = server_argv(target, settings), server_argv(target, settings, "benchmarks.direct_apps:x")
        assert served[:-1] == swapped[:-1] == server_command(settings)[:-1], target.name
        app = (target.app or "").removesuffix("()")
        if served[-2] == "--factory":  # uvicorn, granian: the server calls the factory
            assert target.server in ("uvicorn", "granian") and swapped[-1] == "benchmarks.direct_apps:x"
            assert served[-1] == (app or server_command(settings)[-1])
        else:  # gunicorn, hypercorn: the call, module:function()
            assert target.server in ("gunicorn", "hypercorn") and swapped[-1] == "benchmarks.direct_apps:x()"
            assert served[-1] == (f"{app}()" if app else server_command(settings)[-1])


def test_each_flask_targets_sse_ceiling_is_read_from_its_servers_argv() -> None:
    ceilings = {}
    for target in resolve_targets(["flask-gthread", "flask-gevent", "quart-granian"]):
        ceiling = sse_ceiling(server_argv(target, effective_settings(target, {}, 8123, "/tmp/twinport-bench-data")))
        ceilings[target.name] = None if ceiling is None else ceiling.streams
    # One thread (or greenlet) of the one worker is kept for the publish; an event loop has no ceiling.
    # gevent: sse_max_streams (pinned at 1,000,000 here) plus 1,000 connections for requests.
    assert ceilings == {"flask-gthread": 31, "flask-gevent": 1_000_999, "quart-granian": None}
    # Two gthread workers hold no more than one can: every stream may reach the same worker.
    argv = server_argv(
        BY_NAME["flask-gthread"], effective_settings(BY_NAME["flask-gthread"], {"workers": 2}, 8123, "/x")
    )
    assert sse_ceiling(argv) == Ceiling(31, "threads of one worker (32), whatever the workers (2)")


def test_a_target_whose_server_is_not_installed_is_skipped_not_measured_elsewhere() -> None:
    if not wrk_available():
        pytest.skip("wrk is not installed")
    absent = Target("quart-absent", "not installed", "quart", "granian", "uvloop", needs=("no_such_server_xyz",))
    progress = io.StringIO()
    document = run_benchmarks([absent], SCENARIOS[:2], BenchConfig.quick_config(), Placement("shared"), ["x"], progress)
    assert document["targets"]["quart-absent"]["status"] == "skipped"
    assert {(entry["scenario"], entry["status"], entry["reason"]) for entry in document["results"]} == {
        (scenario.name, "skipped", "not installed: no_such_server_xyz") for scenario in SCENARIOS[:2]
    }


def test_report_writes_markdown_tables_and_charts(quick_run: Path, tmp_path: Path) -> None:
    assert cli.main(["bench", "report", str(quick_run), "--out-dir", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text()
    for section in (
        "## Goals",
        "## Headline figure per scenario",
        "## Latency and CPU",
        "## Server-sent events",
        "## CSV export",
    ):
        assert section in markdown
    assert "twinport bench run --quick" in markdown
    title, _blank, banner = markdown.splitlines()[:3]
    assert title.endswith("(smoke run)") and banner == SMOKE_BANNER
    goals = markdown.split("## Goals", 1)[1].split("\n## ", 1)[0]
    assert "Not graded: this is a smoke run" in goals and NOT_GRADED in goals
    versus = markdown.split("## Quart vs Flask", 1)[1].split("\n## ", 1)[0]
    table = [line.split("|")[1:3] for line in versus.splitlines() if line.startswith("| ")][1:]
    assert [(label.strip(), pair.strip()) for label, pair in table] == [
        ("default vs default", "`quart-granian` vs `flask-gthread`"),
        ("best vs best", "`quart-granian` vs `flask-gevent`"),
    ]  # no "granian vs granian": twinport offers Flask only on gunicorn
    rows = [line for line in goals.splitlines() if line.startswith("| ")][1:]
    assert rows and {row.split("|")[-2].strip() for row in rows} == {"—"}
    for chart in ("throughput.png", "latency.png", "sse.png", "csv_memory.png"):
        assert f"]({chart})" in markdown
        assert (tmp_path / chart).read_bytes().startswith(b"\x89PNG")


def _degraded(document: dict[str, Any], scenario: str, factor: float) -> dict[str, Any]:
    """A copy of the run in which one scenario's repeats all came out ``factor`` times as high."""
    planted = copy.deepcopy(document)
    for entry in planted["results"]:
        if entry["scenario"] == scenario:
            entry["values"] = [value * factor for value in entry["values"]]
            entry["median"], entry["spread"] = summarize(entry["values"])
    return planted


def test_compare_of_a_run_with_itself_finds_nothing(quick_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "compare", str(quick_run), str(quick_run)]) == 0
    table = capsys.readouterr().out
    assert "| tiny-json |" in table and "REGRESSION" not in table and "no regression" in table


def test_compare_exits_nonzero_on_a_planted_throughput_regression(
    quick_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(_degraded(_document(quick_run), "tiny-json", 0.5)))
    assert cli.main(["bench", "compare", str(quick_run), str(planted), "--threshold", "20"]) == 1
    rows = {
        line.split("|")[2].strip(): line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith(f"| {QUICK_TARGET} |")
    }
    assert "0.50x" in rows["tiny-json"] and "REGRESSION: worse by 50%" in rows["tiny-json"]
    assert [name for name, row in rows.items() if "REGRESSION" in row] == ["tiny-json"]


def test_compare_does_not_fail_below_the_threshold(
    quick_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(_degraded(_document(quick_run), "tiny-json", 0.5)))
    assert cli.main(["bench", "compare", str(quick_run), str(planted), "--threshold", "60"]) == 0
    assert "worse by 50%" in capsys.readouterr().out


def _with_setting(document: dict[str, Any], section: str, key: str, value: object) -> dict[str, Any]:
    """A copy with one setting changed; ``section`` may be a dotted path (``scenarios.sse-fanout``)."""
    changed = copy.deepcopy(document)
    place = changed
    for name in section.split("."):
        place = place[name]
    place[key] = value
    return changed


@pytest.mark.parametrize(
    ("section", "key", "value", "line"),
    [
        ("config", "duration", 30, "config.duration: A 1, B 30"),
        ("config", "connections", 512, "config.connections: A 16, B 512"),
        ("config", "csv_rows", 1_000_000, "config.csv_rows: A 2000, B 1000000"),
        ("config", "quick", False, "run: A quick (--quick), B full"),
        ("machine", "cpu_model", "Intel Xeon", "machine.cpu_model: A "),
        ("machine", "cores", 64, "machine.cores: A "),
        ("placement", "mode", "shared", "placement.mode: A pinned, B shared"),
        ("versions", "quart", "0.0.1", "versions.quart: A "),
        ("versions", "hypercorn", "0.0.1", "versions.hypercorn: A "),
        ("pinned_settings", "threads", 8, "pinned_settings.threads: A 32, B 8"),
        (
            "scenarios.sse-fanout.server_settings",
            "sse_heartbeat",
            1.0,
            "scenarios.sse-fanout.server_settings: A {'sse_heartbeat': 15.0}, B {'sse_heartbeat': 1.0}",
        ),
    ],
)
def test_compare_refuses_two_runs_measured_with_different_settings(
    quick_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    section: str,
    key: str,
    value: object,
    line: str,
) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_with_setting(_document(quick_run), section, key, value)))
    assert cli.main(["bench", "compare", str(quick_run), str(other)]) == 2
    out, err = capsys.readouterr()
    refusal, *lines = err.strip().splitlines()
    assert out == "" and "refused" in refusal and "--allow-different-settings" in refusal
    assert (
        len(lines) == 1
        and lines[0].strip().startswith(line)
        and lines[0].endswith(f", B {value}" if line.endswith(": A ") else line)
    )


def test_compare_flags_different_settings_loudly_when_allowed(
    quick_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_with_setting(_document(quick_run), "config", "duration", 30)))
    assert cli.main(["bench", "compare", str(quick_run), str(other), "--allow-different-settings"]) == 0
    out = capsys.readouterr().out
    first, second, *_ = out.splitlines()
    assert first.startswith("WARNING: these runs were measured with 1 different setting")
    assert second == "WARNING:   config.duration: A 1, B 30" and "| tiny-json |" in out


def test_each_goal_names_the_targets_it_reads() -> None:
    def entry(target: str, scenario: str, median: float, p99: float = 10, extra: Any = None) -> dict[str, Any]:
        return {
            "target": target,
            "scenario": scenario,
            "status": "ok",
            "median": median,
            "repeats": [{"latency_ms": {"p99": p99}}],
            "extra": extra or {},
        }

    def record(runtime: str, server: str, worker_class: str, default: bool = False) -> dict[str, Any]:
        return {
            "runtime": runtime,
            "server": server,
            "worker_class": worker_class,
            "app": "twinport",
            "runtime_default": default,
        }

    def sse(held: int, p99: float, ceiling: int | None) -> dict[str, Any]:
        level = {"clients": 1000, "held": held, "kib_per_client": 20.0, "latency_ms": {"p99": p99}}
        return {"levels": [level], "ceiling": ceiling, "ceiling_reason": "workers x worker_connections (1 x 1000)"}

    # quart-granian is the better Quart target on the four scenarios together (geometric mean), though
    # quart-uvicorn is ahead on tiny JSON alone: the best goals all read quart-granian.
    medians = {
        "flask-gthread": (1000, 500, 400, 1000),
        "flask-gevent": (900, 450, 350, 800),
        "flask-granian": (1100, 600, 450, 900),
        "quart-asyncio": (800, 300, 250, 400),
        "quart-uvicorn": (1400, 400, 300, 500),
        "quart-granian": (1300, 700, 500, 1400),
    }
    scenarios = ("tiny-json", "revalidate-304", "paging", "range-64k")
    document = {
        "config": {"quick": False},
        "targets": {
            "flask-gthread": record("flask", "gunicorn", "gthread", default=True),
            "flask-gevent": record("flask", "gunicorn", "gevent"),
            "flask-granian": record("flask", "granian", "threads"),
            "quart-asyncio": record("quart", "hypercorn", "asyncio", default=True),
            "quart-uvicorn": record("quart", "uvicorn", "uvloop"),
            "quart-granian": record("quart", "granian", "uvloop"),
        },
        "results": [
            *(
                entry(target, scenario, median)
                for target, values in medians.items()
                for scenario, median in zip(scenarios, values, strict=True)
            ),
            entry("flask-gthread", "io-wait-512", 600),
            entry("flask-gevent", "io-wait-512", 6000),
            entry("quart-asyncio", "io-wait-512", 6600),
            entry("flask-gevent", "sse-fanout", 40, extra=sse(999, 40, 999)),
        ],
    }
    goals = {(goal.goal, goal.pair): goal for goal in evaluate_goals(document)}
    default = goals[("tiny JSON, default vs default: median", "quart-asyncio vs flask-gthread")]
    assert (default.measured, default.gap, default.met) == ("0.80x (800 / 1000)", "-20%", False)
    best = {goal.goal: goal for goal in goals.values() if "Quart's best vs Flask's default" in goal.goal}
    assert {goal.pair for goal in best.values()} == {"quart-granian vs flask-gthread"} and len(best) == 5
    tiny = best["tiny JSON, Quart's best vs Flask's default: median"]
    assert (tiny.wanted, tiny.measured, tiny.met) == (">= 1.3x", "1.30x (1300 / 1000)", True)
    io_wait = goals[("I/O-bound (50 ms wait), 512 connections: req/s", "quart-asyncio vs flask-gthread")]
    assert (io_wait.measured, io_wait.met) == ("11.00x (6600 / 600)", True)
    gevent = goals[("I/O-bound (50 ms wait), 512 connections: Flask gevent beside it", "flask-gevent vs flask-gthread")]
    assert (gevent.measured, gevent.met) == ("10.00x (6000 / 600)", None)
    same = goals[("tiny JSON, same server (granian): median", "quart-granian vs flask-granian")]
    assert (same.wanted, same.measured, same.met) == ("reported", "1.18x (1300 / 1100)", None)
    beside = goals[("SSE on one Flask process, beside: its ceiling, held streams and p99 there", "flask-gevent")]
    assert beside.measured == (
        "ceiling 999 streams (workers x worker_connections (1 x 1000)); 999 of 1,000 held, p99 40 ms"
    )
    assert [(pairing.label, pairing.quart, pairing.flask) for pairing in pairings(document)] == [
        ("default vs default", "quart-asyncio", "flask-gthread"),
        ("best vs best", "quart-granian", "flask-granian"),
        ("granian vs granian", "quart-granian", "flask-granian"),
    ]
    assert all(goal.pair for goal in goals.values())
    assert all(goal.met is None for goal in evaluate_goals({**document, "config": {"quick": True}}))


def test_wrk_summary_is_read_from_the_done_script_line() -> None:
    line = (
        'WRK_JSON {"requests":500,"duration_us":2000000,"bytes":1000000,'
        '"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},'
        '"latency_us":{"mean":1500.0,"max":9000,"p50":1200,"p90":2500,"p99":7000,"p99.9":8800}}'
    )
    result = parse_wrk_output(f"Running 2s test\n{line}\n")
    assert (result.requests_per_second, result.megabytes_per_second, result.error_count) == (250, 0.5, 3)
    assert result.latency_ms["p99"] == 7.0


def test_twinport_hands_bench_help_to_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--help"])
    assert exit_info.value.code == 0 and "{run,report,compare}" in capsys.readouterr().out
