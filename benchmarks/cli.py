"""``twinport bench run|report|compare``: the benchmark's command line.

A plug-in command of ``twinport`` (``shared.cli``), registered in ``pyproject.toml`` under the
``twinport.commands`` entry points: ``register`` adds ``bench`` to ``twinport``'s commands, and
``python -m benchmarks.cli`` is the same command on its own (``main``). ``twinport serve`` never
imports this package; ``report`` needs matplotlib, from the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.cli import Commands

__all__ = ["main", "register"]

PROG = "twinport bench"
DESCRIPTION = "Benchmarks of the two runtimes: measurements, not tests."


def register(commands: Commands) -> None:
    help = "benchmarks of the two runtimes: run, report, compare (twinport bench --help)"
    _add_commands(commands.add_parser("bench", help=help, description=DESCRIPTION))


def _add_commands(parser: argparse.ArgumentParser) -> None:
    from .scenarios import SCENARIOS
    from .targets import DEFAULT_TARGETS

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
    run.set_defaults(handler=_run)
    report = commands.add_parser("report", help="a Markdown report with PNG charts from a results file")
    report.add_argument("results", type=Path)
    report.add_argument("--out-dir", type=Path, help="default: next to the results file, in <name>-report/")
    report.set_defaults(handler=_report)
    compare = commands.add_parser(
        "compare",
        help="ratio B/A per target x scenario; exit 1 on a regression beyond the threshold, "
        "2 (refused) when the runs' settings differ",
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
    compare.add_argument(
        "--allow-different-settings",
        action="store_true",
        help="compare runs measured with different settings (quick vs full, counts, machine, versions) "
        "anyway, each difference printed as a WARNING first",
    )
    compare.set_defaults(handler=_compare)


def _run(arguments: argparse.Namespace) -> int:
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
        document = run_benchmarks(targets, scenarios, config, placement, _command_line(arguments))
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


def _command_line(arguments: argparse.Namespace) -> list[str]:
    """The command that repeats this run, for the results file: ``run`` with each option that
    differs from its default; ``--quick`` first, since it sets the counts the others override."""
    from .scenarios import SCENARIOS
    from .targets import DEFAULT_TARGETS

    words = ["twinport", "bench", "run", *(["--quick"] if arguments.quick else [])]
    if arguments.targets != list(DEFAULT_TARGETS):
        words += ["--targets", *arguments.targets]
    if arguments.scenarios != [scenario.name for scenario in SCENARIOS]:
        words += ["--scenarios", *arguments.scenarios]
    for name in ("duration", "repeats", "warmup"):
        if getattr(arguments, name) is not None:
            words += [f"--{name}", str(getattr(arguments, name))]
    if arguments.sse_levels is not None:
        words += ["--sse-levels", *map(str, arguments.sse_levels)]
    if arguments.pinning != "pinned":
        words += ["--pinning", arguments.pinning]
    return [*words, "--out", str(arguments.out)]


def _report(arguments: argparse.Namespace) -> int:
    try:
        from .report import write_report
    except ImportError as error:
        print(f"{PROG} report: error: {error} (pip install 'twinport[bench]')", file=sys.stderr)
        return 2
    out_dir = arguments.out_dir or arguments.results.with_name(arguments.results.stem + "-report")
    markdown = write_report(_load(arguments.results), out_dir, source=arguments.results)
    print(f"wrote {markdown}")
    return 0


def _compare(arguments: argparse.Namespace) -> int:
    from .compare import compare_documents, format_comparison, format_differences, setting_differences

    a, b = _load(arguments.a), _load(arguments.b)
    differences = setting_differences(a, b)
    if differences and not arguments.allow_different_settings:
        print(
            f"{PROG} compare: refused: {arguments.a} and {arguments.b} were measured with different settings "
            "(--allow-different-settings compares them anyway):",
            file=sys.stderr,
        )
        for difference in differences:
            print(f"  {difference.line()}", file=sys.stderr)
        return 2
    comparison = compare_documents(
        a, b, threshold_percent=arguments.threshold, target_a=arguments.target_a, target_b=arguments.target_b
    )
    if differences:
        warning = format_differences(differences)
        print(warning, file=sys.stderr)
        print(warning + "\n")
    print(format_comparison(comparison, arguments.threshold))
    return 1 if comparison.regressions else 0


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.cli``: the same command as ``twinport bench``."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    _add_commands(parser)
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    status: int = arguments.handler(arguments)
    return status


if __name__ == "__main__":
    sys.exit(main())
