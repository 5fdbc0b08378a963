"""The benchmarks run and report; their numbers are for people, not assertions.

One ``twinport bench run --quick`` (seconds, tiny counts, one target, every scenario) keeps the
benchmark code working: these tests check what it writes, the report made from it (a smoke run's
banner, no goal graded), that ``compare`` catches a planted regression and refuses two runs
measured with different settings, and that each goal names the targets it reads. No test here
asserts a speed.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from benchmarks import csv_memory
from benchmarks.goals import NOT_GRADED, evaluate_goals
from benchmarks.report import SMOKE_BANNER
from benchmarks.run import summarize
from benchmarks.scenarios import SCENARIOS
from benchmarks.wrk import parse_wrk_output
from parity_tests.servers import require_program
from shared import cli

QUICK_TARGET = "quart-asyncio"
WRK_SCENARIOS = ("tiny-json", "revalidate-304", "paging", "file-1mb", "range-64k", "io-wait-64", "io-wait-512")


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
    assert cli.main(["bench", "run", "--quick", "--targets", QUICK_TARGET, "--out", str(out)]) == 0
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
    assert document["versions"]["quart"] and document["versions"]["hypercorn"]
    assert document["config"]["quick"] is True and document["placement"]["mode"] == "pinned"
    assert document["targets"][QUICK_TARGET]["argv"][1:3] == ["-m", "hypercorn"]
    results = {entry["scenario"]: entry for entry in document["results"]}
    assert set(results) == {scenario.name for scenario in SCENARIOS}
    assert [name for name, entry in results.items() if entry["status"] != "ok"] == []
    for name, entry in results.items():
        assert entry["target"] == QUICK_TARGET and entry["values"] and len(entry["repeats"]) == len(entry["values"])
        assert entry["spread"]["min"] <= entry["median"] <= entry["spread"]["max"], name
    for name in WRK_SCENARIOS:
        repeats = results[name]["repeats"]
        assert len(repeats) == document["config"]["repeats"]
        assert {"p50", "p99", "p99.9"} <= repeats[0]["latency_ms"].keys() and {
            "server_cpu",
            "client_cpu",
            "errors",
        } <= repeats[0].keys()
    assert results["range-64k"]["extra"]["byte_exact"] is True
    assert [results[name]["repeats"][0]["connections"] for name in ("io-wait-64", "io-wait-512")] == [64, 512]
    assert document["targets"][QUICK_TARGET]["apps"] == {"io-wait": "benchmarks.direct_apps:quart_app"}
    assert document["scenarios"]["sse-fanout"]["server_settings"] == {"sse_heartbeat": 15.0}
    assert results["csv-export-10x"]["extra"]["rows"] == 10 * results["csv-export"]["extra"]["rows"]
    levels = results["sse-fanout"]["extra"]["levels"]
    assert [level["clients"] for level in levels] == list(document["config"]["sse_levels"])
    assert all(level["held"] == level["clients"] and level["delivered"] == level["expected"] for level in levels)


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
    def entry(target: str, scenario: str, median: float, p99: float) -> dict[str, Any]:
        return {
            "target": target,
            "scenario": scenario,
            "status": "ok",
            "median": median,
            "repeats": [{"latency_ms": {"p99": p99}}],
        }

    def record(runtime: str, worker_class: str, default: bool) -> dict[str, Any]:
        return {"runtime": runtime, "worker_class": worker_class, "app": "twinport", "runtime_default": default}

    document = {
        "config": {"quick": False},
        "targets": {
            "flask-gthread": record("flask", "gthread", True),
            "quart-asyncio": record("quart", "asyncio", True),
            "quart-uvicorn": record("quart", "asyncio", False),
        },
        "results": [
            entry("flask-gthread", "tiny-json", 1000, 10),
            entry("quart-asyncio", "tiny-json", 800, 20),
            entry("quart-uvicorn", "tiny-json", 1400, 8),
            entry("flask-gthread", "io-wait-512", 600, 900),
            entry("quart-asyncio", "io-wait-512", 6600, 80),
        ],
    }
    goals = {(goal.goal, goal.pair): goal for goal in evaluate_goals(document)}
    default = goals[("tiny JSON, default vs default: median", "quart-asyncio vs flask-gthread")]
    assert (default.measured, default.gap, default.met) == ("0.80x (800 / 1000)", "-20%", False)
    best = goals[("tiny JSON, Quart's best vs Flask's default: median", "quart-uvicorn vs flask-gthread")]
    assert (best.wanted, best.measured, best.met) == (">= 1.3x", "1.40x (1400 / 1000)", True)
    io_wait = goals[("I/O-bound (50 ms wait), 512 connections: req/s", "quart-asyncio vs flask-gthread")]
    assert (io_wait.measured, io_wait.met) == ("11.00x (6600 / 600)", True)
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
