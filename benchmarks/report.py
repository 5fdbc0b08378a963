"""``twinport bench report results.json``: a Markdown report with PNG charts, from the file alone.

Everything shown is read from the results file (no re-measuring), so every figure in the report
can be traced to that file and the command recorded in it. A ``--quick`` run's report says at its
top that it is a smoke run, and grades no goal. Charts colour each target by its runtime: Flask in
blues, Quart in oranges, anything else (the bare ASGI floor) grey.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display: CI and servers have none

import matplotlib.pyplot as plt  # only after matplotlib.use: the backend must be chosen first

from .goals import BEST_SCENARIOS, evaluate_goals, pairings, runtime_defaults, runtime_of

__all__ = ["COMPARED_SCENARIOS", "SMOKE_BANNER", "WRK_SCENARIOS", "write_report"]

WRK_SCENARIOS = (
    "tiny-json",
    "revalidate-304",
    "paging",
    "revalidate-304-postgresql",
    "paging-postgresql",
    "file-1mb",
    "range-64k",
    "io-wait-64",
    "io-wait-512",
)
# The columns of the Quart-vs-Flask table, each with its heading.
COMPARED_SCENARIOS = {
    "tiny-json": "tiny JSON",
    "revalidate-304": "304",
    "paging": "paging",
    "file-1mb": "1 MB file",
    "range-64k": "64 KB Range",
    "io-wait-512": "I/O wait, 512 conn.",
}
_FAMILIES = {"flask": "Blues", "quart": "Oranges"}
SMOKE_BANNER = (
    "> **Smoke run (`--quick`), not a measurement.** Seconds of load at tiny counts: it checks that the "
    "benchmark code runs end to end. Its figures say nothing about speed, no goal is graded, and "
    "`twinport bench compare` refuses to set it beside a full run."
)


def _ok(document: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(entry["target"], entry["scenario"]): entry for entry in document["results"] if entry["status"] == "ok"}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _repeat_median(entry: Mapping[str, Any], *path: str) -> float:
    def dig(repeat: Mapping[str, Any]) -> float:
        value: Any = repeat
        for key in path:
            value = value[key]
        return float(value)

    return statistics.median(dig(repeat) for repeat in entry["repeats"])


def _headline_table(document: Mapping[str, Any], targets: Sequence[str]) -> str:
    ok = _ok(document)
    rows = []
    for scenario, facts in document["scenarios"].items():
        cells = []
        for target in targets:
            entry = ok.get((target, scenario))
            cells.append(f"{entry['median']:.4g} ±{entry['spread']['relative'] / 2:.0%}" if entry else "—")
        if any(cell != "—" for cell in cells):
            rows.append(
                [scenario, f"{facts['unit']} ({'higher' if facts['higher_is_better'] else 'lower'} better)", *cells]
            )
    return _table(["scenario", "unit", *targets], rows)


def _latency_and_cpu_table(document: Mapping[str, Any]) -> str:
    rows = []
    for (target, scenario), entry in _ok(document).items():
        if scenario not in WRK_SCENARIOS:
            continue
        errors = sum(sum(repeat["errors"].values()) for repeat in entry["repeats"])
        rows.append(
            [
                target,
                scenario,
                f"{_repeat_median(entry, 'requests_per_second'):.0f}",
                f"{_repeat_median(entry, 'latency_ms', 'p50'):.1f}",
                f"{_repeat_median(entry, 'latency_ms', 'p99'):.1f}",
                f"{_repeat_median(entry, 'server_cpu'):.2f}",
                f"{_repeat_median(entry, 'client_cpu'):.2f}",
                str(errors),
            ]
        )
    return _table(
        ["target", "scenario", "req/s", "p50 ms", "p99 ms", "server CPU (cores)", "wrk CPU (cores)", "errors"], rows
    )


def _sse_table(document: Mapping[str, Any]) -> str:
    rows = []
    for (target, scenario), entry in _ok(document).items():
        if not scenario.startswith("sse-fanout"):
            continue
        # The in-process hub as the target's name; over Redis, with the scenario's (redis-1w, ...).
        label = target if scenario == "sse-fanout" else f"{target}, {scenario.removeprefix('sse-fanout-')}"
        for level in entry["extra"]["levels"]:
            latency = level["latency_ms"]
            rows.append(
                [
                    label,
                    f"{level['clients']:,}",
                    f"{level['held']:,}",
                    f"{level['kib_per_client']:.1f}",
                    f"{latency.get('p50', float('nan')):.0f}",
                    f"{latency.get('p99', float('nan')):.0f}",
                    f"{level['delivered']:,} / {level['expected']:,}",
                    f"{level['connect_seconds']:.1f}",
                ]
            )
    return _table(
        ["target", "clients asked", "held", "KiB RSS per client", "p50 ms", "p99 ms", "events delivered", "connect s"],
        rows,
    )


def _csv_table(document: Mapping[str, Any]) -> str:
    rows = []
    for (target, scenario), entry in _ok(document).items():
        if not scenario.startswith("csv-export"):
            continue
        extra = entry["extra"]
        rows.append(
            [
                target,
                f"{extra['rows']:,}",
                f"{entry['median']:.2f}",
                f"{_repeat_median(entry, 'first_body_byte_ms'):.1f}",
                f"{extra['warm_peak_kib'] / 1024:.1f}",
                f"{extra['peak_kib'] / 1024:.1f}",
                f"{extra['worker_peak_kib'] / 1024:.1f}",
            ]
        )
    return _table(
        [
            "target",
            "rows",
            "seconds (median)",
            "first byte ms",
            "tree peak after warm-up MiB",
            "tree peak after export MiB",
            "worker peak MiB",
        ],
        rows,
    )


def _goals_table(document: Mapping[str, Any]) -> str:
    verdict = {True: "met", False: "**missed**", None: "—"}
    return _table(
        ["goal", "reads", "wanted", "measured", "gap", ""],
        [
            [goal.goal, goal.pair, goal.wanted, goal.measured, goal.gap, verdict[goal.met]]
            for goal in evaluate_goals(document)
        ],
    )


def _comparison_section(document: Mapping[str, Any]) -> str:
    """Quart / Flask on each scenario, for the three pairings (the README's Results table)."""
    ok = _ok(document)
    rows = []
    for pairing in pairings(document):
        cells = []
        for scenario in COMPARED_SCENARIOS:
            quart, flask = ok.get((pairing.quart, scenario)), ok.get((pairing.flask, scenario))
            if quart is None or flask is None or not flask["median"]:
                cells.append("—")
                continue
            ratio = quart["median"] / flask["median"]
            cells.append(f"{ratio:.2f}x ({quart['median']:.4g} / {flask['median']:.4g})")
        rows.append([pairing.label, f"`{pairing.quart}` vs `{pairing.flask}`", *cells])
    best = pairings(document)[1]
    return (
        "## Quart vs Flask (median of Quart / median of Flask; above 1 Quart is ahead on every column)\n\n"
        f"Each runtime's best in this run: Quart `{best.quart}`, Flask `{best.flask}` (the highest geometric "
        f"mean of the medians of {', '.join(BEST_SCENARIOS)}).\n\n"
        + _table(["comparison", "targets", *COMPARED_SCENARIOS.values()], rows)
        + "\n"
    )


def _goals_section(document: Mapping[str, Any]) -> str:
    defaults = runtime_defaults(document)
    named = ", ".join(f"{runtime.capitalize()} `{target}`" for runtime, target in sorted(defaults.items()))
    best = pairings(document)[1].quart
    heading = f"## Goals (the issue's targets); each runtime's default: {named}; Quart's best in this run: `{best}`\n\n"
    if document["config"].get("quick"):
        heading += (
            "**Not graded: this is a smoke run.** The goals are listed with the targets each would read; "
            "only a full run grades them.\n\n"
        )
    return heading + _goals_table(document) + "\n"


def _sse_heartbeat(document: Mapping[str, Any]) -> object:
    """The heartbeat the SSE server ran with, as recorded (per scenario, or per target before schema 2)."""
    settings = document["scenarios"].get("sse-fanout", {}).get("server_settings")
    if settings is None:
        settings = next(
            (
                record["server_settings"]["sse"]
                for record in document["targets"].values()
                if "sse" in record.get("server_settings", {})
            ),
            {},
        )
    return settings.get("sse_heartbeat", "its default")


def _not_measured(document: Mapping[str, Any]) -> str:
    lines = [
        f"- {entry['target']} / {entry['scenario']}: {entry['status']}: "
        + (entry["reason"].splitlines()[0] if entry["reason"] else "")
        for entry in document["results"]
        if entry["status"] != "ok"
    ]
    return "\n".join(lines) or "none"


def _colours(document: Mapping[str, Any], targets: Sequence[str]) -> dict[str, Any]:
    """One colour per target, from its runtime's family (shades in the targets' order)."""
    by_runtime: dict[str, list[str]] = {}
    for target in targets:
        by_runtime.setdefault(runtime_of(target, document["targets"].get(target, {})), []).append(target)
    colours: dict[str, Any] = {}
    for runtime, names in by_runtime.items():
        family = _FAMILIES.get(runtime)
        for index, name in enumerate(names):
            shade = 0.85 - 0.45 * index / max(1, len(names) - 1)
            colours[name] = plt.get_cmap(family)(shade) if family else "0.55"
    return colours


def _runtime_legend(figure: Any, document: Mapping[str, Any], targets: Sequence[str]) -> None:
    from matplotlib.patches import Patch

    runtimes = {runtime_of(target, document["targets"].get(target, {})) for target in targets}
    handles = [
        Patch(color=plt.get_cmap(family)(0.65), label=runtime.capitalize())
        for runtime, family in _FAMILIES.items()
        if runtime in runtimes
    ]
    if "other" in runtimes:
        handles.append(Patch(color="0.55", label="no framework"))
    figure.legend(handles=handles, loc="upper right", fontsize=8)


def _chart_throughput(document: Mapping[str, Any], targets: Sequence[str], path: Path) -> None:
    ok = _ok(document)
    scenarios = [name for name in document["scenarios"] if any((target, name) in ok for target in targets)]
    columns = 3
    rows = (len(scenarios) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.4 * rows), squeeze=False)
    for index, scenario in enumerate(scenarios):
        axis = axes[index // columns][index % columns]
        names = [target for target in targets if (target, scenario) in ok]
        medians = [ok[(target, scenario)]["median"] for target in names]
        low = [median - ok[(target, scenario)]["spread"]["min"] for target, median in zip(names, medians, strict=True)]
        high = [ok[(target, scenario)]["spread"]["max"] - median for target, median in zip(names, medians, strict=True)]
        colours = _colours(document, targets)
        axis.bar(names, medians, yerr=[low, high], capsize=3, color=[colours[name] for name in names])
        facts = document["scenarios"][scenario]
        axis.set_title(f"{scenario} ({'higher' if facts['higher_is_better'] else 'lower'} is better)", fontsize=10)
        axis.set_ylabel(facts["unit"])
        axis.tick_params(axis="x", labelrotation=35, labelsize=8)
    for index in range(len(scenarios), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.suptitle("Median of the repeats; bars span min to max")
    figure.tight_layout()
    _runtime_legend(figure, document, targets)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _chart_latency(document: Mapping[str, Any], targets: Sequence[str], path: Path) -> None:
    ok = _ok(document)
    scenarios = [name for name in WRK_SCENARIOS if any((target, name) in ok for target in targets)]
    figure, axes = plt.subplots(1, max(1, len(scenarios)), figsize=(4.2 * max(1, len(scenarios)), 3.8), squeeze=False)
    colours = _colours(document, targets)
    for axis, scenario in zip(axes[0], scenarios, strict=False):  # no scenario: one empty axis
        names = [target for target in targets if (target, scenario) in ok]
        positions = range(len(names))
        colour = [colours[name] for name in names]
        p50 = [_repeat_median(ok[(target, scenario)], "latency_ms", "p50") for target in names]
        p99 = [_repeat_median(ok[(target, scenario)], "latency_ms", "p99") for target in names]
        # p99 drawn behind, hatched and pale; p50 in front, solid: one bar pair per target.
        axis.bar(positions, p99, width=0.7, color=colour, alpha=0.45, hatch="//", edgecolor="0.3", label="p99")
        axis.bar(positions, p50, width=0.4, color=colour, edgecolor="0.3", label="p50")
        for position, value in zip(positions, p99, strict=True):
            axis.annotate(f"{value:.0f}", (position, value), ha="center", va="bottom", fontsize=7)
        if p50 and min(p50) > 0 and max(p99) / min(p50) > 30:
            axis.set_yscale("log")
        axis.set_xticks(list(positions), names, rotation=35, ha="right", fontsize=8)
        axis.set_title(scenario, fontsize=10)
        axis.set_ylabel("ms (wrk)" + (", log scale" if axis.get_yscale() == "log" else ""))
        axis.legend(fontsize=8, loc="upper left")
    figure.suptitle("Latency: p50 solid, p99 hatched (medians of the repeats; p99 written on top)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _chart_sse(document: Mapping[str, Any], path: Path) -> None:
    figure, (memory_axis, latency_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    entries = [(target, entry) for (target, scenario), entry in _ok(document).items() if scenario == "sse-fanout"]
    colours = _colours(document, [target for target, _entry in entries])
    for target, entry in entries:
        levels = entry["extra"]["levels"]
        held = [level["held"] for level in levels]
        series = (
            (memory_axis, [level["kib_per_client"] for level in levels]),
            (latency_axis, [level["latency_ms"].get("p99", float("nan")) for level in levels]),
        )
        for axis, values in series:
            axis.plot(held, values, marker="o", label=target, color=colours[target])
            for level, x, y in zip(levels, held, values, strict=True):
                # Each point names its client count: held, and asked where fewer were held.
                text = f"{x:,}" if x == level["clients"] else f"{x:,} of {level['clients']:,}"
                axis.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    memory_axis.set(xlabel="clients held", ylabel="KiB of server RSS per client", title="SSE memory per connection")
    latency_axis.set(
        xlabel="clients held", ylabel="ms, log scale", title="SSE delivery p99 (1 event/s to each)", yscale="log"
    )
    for axis in (memory_axis, latency_axis):
        axis.set_xscale("symlog", linthresh=10)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _chart_csv(document: Mapping[str, Any], path: Path) -> None:
    by_target: dict[str, list[tuple[int, float, float]]] = {}
    for (target, scenario), entry in _ok(document).items():
        if scenario.startswith("csv-export"):
            extra = entry["extra"]
            by_target.setdefault(target, []).append((extra["rows"], extra["peak_kib"] / 1024, entry["median"]))
    figure, (memory_axis, time_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    colours = _colours(document, list(by_target))
    for target, points in by_target.items():
        points.sort()
        rows = [p[0] for p in points]
        memory_axis.plot(rows, [p[1] for p in points], marker="o", label=target, color=colours[target])
        time_axis.plot(rows, [p[2] for p in points], marker="o", label=target, color=colours[target])
    memory_axis.set(
        xlabel="rows", ylabel="MiB (server tree, peak RSS)", title="CSV export: peak memory vs rows", xscale="log"
    )
    time_axis.set(xlabel="rows", ylabel="seconds", title="CSV export: wall time vs rows", xscale="log", yscale="log")
    for axis in (memory_axis, time_axis):
        axis.legend(fontsize=8)
    memory_axis.set_ylim(bottom=0)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _preamble(document: Mapping[str, Any], source: Path) -> str:
    machine, config, placement = document["machine"], document["config"], document["placement"]
    versions = ", ".join(f"{name} {version}" for name, version in document["versions"].items() if version)
    pinning = (
        f"server pinned to core(s) {placement['server_cores']}, "
        f"client (wrk and the asyncio client) to {placement['client_cores']} with taskset"
        if placement["mode"] == "pinned"
        else "no pinning: server and client share both cores"
    )
    banner = f"\n{SMOKE_BANNER}\n" if config.get("quick") else ""
    return f"""# twinport benchmarks: {source.name}{" (smoke run)" if config.get("quick") else ""}
{banner}
- **When**: {document["created"]} ({document["elapsed_seconds"]:.0f} s)
- **Command**: `{document["command"]}`
- **Machine**: {machine["cores"]} cores ({machine["cpu_model"]}), {machine["memory_gib"]} GiB, {machine["os"]}, Python {machine["python"]};
  load average {machine["load_average_at_start"][0]:.2f} at start, {machine["load_average_at_end"][0]:.2f} at end
- **Versions**: {versions}
- **Placement**: {pinning}. Client and server share this one machine: the client's CPU is reported beside the server's.
- **Load**: wrk (one thread) for request/response, {config["duration"]} s x {config["repeats"]} repeats after {config["warmup"]} s of warm-up,
  {config["connections"]} connections for small answers and {config["file_connections"]} for files; an asyncio client for time to first byte and SSE.
- **Servers**: every target on its own fresh data directory and database, started by the benchmark with
  {", ".join(f"{key}={value}" for key, value in document["pinned_settings"].items())} (rate limit lifted so the paging API is measured, not its 429);
  each with the argv `twinport serve` execs for its server and worker class (recorded per target as `argv`), so the servers
  are otherwise as twinport ships them (hypercorn: backlog 100, keep-alive 5 s, `keep_alive_max_requests=1000`), access logs on.
  The SSE server runs with `sse_heartbeat={_sse_heartbeat(document)}` s;
  it is asked to hold {", ".join(f"{level:,}" for level in config["sse_levels"])} clients.
- **Reading it**: `±` is half the range of the repeats relative to the median. Medians only count as different
  where the ranges do not overlap (`twinport bench compare`).
"""  # noqa: E501 - the report's Markdown, line for line as it is written out


def write_report(document: Mapping[str, Any], out_dir: Path, *, source: Path) -> Path:
    """Write ``report.md`` and its charts into ``out_dir``; returns the Markdown file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [name for name, record in document["targets"].items() if record["status"] == "ok"]
    charts = {
        "throughput.png": "Throughput (or time) per scenario and target",
        "latency.png": "Latency percentiles (wrk)",
        "sse.png": "SSE: memory per connection and delivery p99 vs clients",
        "csv_memory.png": "CSV export: memory and time vs rows",
    }
    _chart_throughput(document, targets, out_dir / "throughput.png")
    _chart_latency(document, targets, out_dir / "latency.png")
    _chart_sse(document, out_dir / "sse.png")
    _chart_csv(document, out_dir / "csv_memory.png")
    target_lines = "\n".join(f"- `{name}`: {record['description']}" for name, record in document["targets"].items())
    sections = [
        _preamble(document, source),
        f"## Targets\n\n{target_lines}\n",
        _comparison_section(document),
        _goals_section(document),
        "## Headline figure per scenario (median ± half-range of the repeats)\n\n"
        f"{_headline_table(document, targets)}\n",
        "## Latency and CPU (wrk scenarios, medians of the repeats)\n\n"
        "CPU is seconds of CPU per second of wall time (1.00 = one core busy).\n\n"
        f"{_latency_and_cpu_table(document)}\n",
        f"## Server-sent events\n\n{_sse_table(document)}\n",
        f"## CSV export\n\n{_csv_table(document)}\n",
        f"## Not measured\n\n{_not_measured(document)}\n",
        "## Charts\n\n" + "\n\n".join(f"![{title}]({name})" for name, title in charts.items()) + "\n",
    ]
    markdown = out_dir / "report.md"
    markdown.write_text("\n".join(sections))
    return markdown
