"""``twinport bench run|report|compare``: the benchmark's command line.

``shared.cli`` hands everything after ``bench`` to ``main`` here, imported only when asked for,
so ``twinport serve`` never loads wrk runners or matplotlib.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from .scenarios import SCENARIOS
    from .targets import DEFAULT_TARGETS

    parser = argparse.ArgumentParser(
        prog="twinport bench", description="Benchmarks of the two runtimes: measurements, not tests."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="start each target's server, measure every scenario, write a JSON results file"
    )
    run.add_argument(
        "--targets",
        nargs="+",
        default=list(DEFAULT_TARGETS),
        metavar="TARGET",
        help=f"default: all ({', '.join(DEFAULT_TARGETS)})",
    )
    run.add_argument(
        "--scenarios",
        nargs="+",
        default=[scenario.name for scenario in SCENARIOS],
        metavar="SCENARIO",
        help=f"default: all ({', '.join(scenario.name for scenario in SCENARIOS)})",
    )
    run.add_argument("--duration", type=int, help="seconds per wrk repeat (default 4; --quick 1)")
    run.add_argument("--repeats", type=int, help="measured repeats per scenario (default 3; --quick 2)")
    run.add_argument("--warmup", type=int, help="seconds of unrecorded load first (default 1; --quick 0)")
    run.add_argument(
        "--sse-levels", type=int, nargs="+", metavar="CLIENTS", help="event-stream clients to hold (default 1000 10000)"
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of seconds with tiny counts: checks the code, measures nothing",
    )
    run.add_argument(
        "--pinning",
        choices=("pinned", "shared"),
        default="pinned",
        help="pinned: server on one core, client on the other (taskset); shared: no pinning",
    )
    run.add_argument("--out", type=Path, required=True, help="the results file to write (JSON)")
    report = commands.add_parser("report", help="a Markdown report with PNG charts from a results file")
    report.add_argument("results", type=Path)
    report.add_argument("--out-dir", type=Path, help="default: next to the results file, in <name>-report/")
    compare = commands.add_parser(
        "compare", help="ratio B/A per target x scenario; exit 1 on a regression beyond the threshold"
    )
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument(
        "--threshold",
        type=float,
        default=10.0,
        metavar="PCT",
        help="a regression worse than this many percent fails (default 10)",
    )
    compare.add_argument("--target-a", help="compare this target of A ...")
    compare.add_argument(
        "--target-b", help="... with this target of B (e.g. flask-gthread vs quart-uvloop, in one file or two)"
    )
    return parser


def _run(arguments: argparse.Namespace, argv: Sequence[str]) -> int:
    import dataclasses

    from .run import run_benchmarks, write_results
    from .scenarios import BenchConfig, resolve_scenarios
    from .targets import Placement, resolve_targets

    config = BenchConfig.quick_config() if arguments.quick else BenchConfig()
    chosen = {
        name: getattr(arguments, name)
        for name in ("duration", "repeats", "warmup", "sse_levels")
        if getattr(arguments, name) is not None
    }
    if "sse_levels" in chosen:
        chosen["sse_levels"] = tuple(chosen["sse_levels"])
    config = dataclasses.replace(config, **chosen)
    try:
        targets, scenarios = resolve_targets(arguments.targets), resolve_scenarios(arguments.scenarios)
        placement = Placement.for_mode(arguments.pinning)
        document = run_benchmarks(targets, scenarios, config, placement, ["twinport", "bench", *argv])
    except (ValueError, RuntimeError) as error:
        print(f"twinport bench: error: {error}", file=sys.stderr)
        return 2
    write_results(document, arguments.out)
    failed = [f"{entry['target']}/{entry['scenario']}" for entry in document["results"] if entry["status"] == "failed"]
    print(
        f"wrote {arguments.out} ({document['elapsed_seconds']:.0f} s)"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 0


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = _parser().parse_args(argv)
    if arguments.command == "run":
        return _run(arguments, argv)
    if arguments.command == "report":
        from .report import write_report

        out_dir = arguments.out_dir or arguments.results.with_name(arguments.results.stem + "-report")
        markdown = write_report(_load(arguments.results), out_dir, source=arguments.results)
        print(f"wrote {markdown}")
        return 0
    from .compare import compare_documents, format_comparison

    comparison = compare_documents(
        _load(arguments.a),
        _load(arguments.b),
        threshold_percent=arguments.threshold,
        target_a=arguments.target_a,
        target_b=arguments.target_b,
    )
    print(format_comparison(comparison, arguments.threshold))
    return 1 if comparison.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
