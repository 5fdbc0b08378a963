"""The issue's goals ("targets the report is read against"), evaluated on one results file.

Each goal is a ratio or a figure from one run on one machine: what was wanted, what was measured,
the gap, and met or missed. "Quart on the best server its config offers" is the faster of
hypercorn's asyncio and uvloop workers (the two ``worker_class`` values twinport accepts for
Quart), chosen per scenario and named in the row.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Goal", "evaluate_goals"]

FLASK = "flask-gthread"
QUART_CONFIGS = ("quart-asyncio", "quart-uvloop")
SSE_CLIENTS_WANTED = 10_000


@dataclass(frozen=True, slots=True)
class Goal:
    goal: str
    wanted: str
    measured: str
    gap: str
    met: bool | None  # None: not measured (target or scenario missing from the run)


class _Results:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.ok = {
            (entry["target"], entry["scenario"]): entry for entry in document["results"] if entry["status"] == "ok"
        }

    def median(self, target: str, scenario: str) -> float | None:
        entry = self.ok.get((target, scenario))
        return float(entry["median"]) if entry else None

    def p99(self, target: str, scenario: str) -> float | None:
        entry = self.ok.get((target, scenario))
        return statistics.median(repeat["latency_ms"]["p99"] for repeat in entry["repeats"]) if entry else None

    def extra(self, target: str, scenario: str) -> Mapping[str, Any] | None:
        entry = self.ok.get((target, scenario))
        return entry["extra"] if entry else None

    def best_quart(self, scenario: str, higher_is_better: bool = True) -> str | None:
        measured = [(value, target) for target in QUART_CONFIGS if (value := self.median(target, scenario)) is not None]
        if not measured:
            return None
        return (max(measured) if higher_is_better else min(measured))[1]


def _missing(goal: str, wanted: str) -> Goal:
    return Goal(goal, wanted, "not measured", "", None)


def _ratio_goal(
    goal: str,
    wanted: str,
    numerator: tuple[str, float | None],
    denominator: tuple[str, float | None],
    limit: float,
    at_least: bool,
) -> Goal:
    (top_name, top), (bottom_name, bottom) = numerator, denominator
    if top is None or bottom is None or bottom == 0:
        return _missing(goal, wanted)
    ratio = top / bottom
    met = ratio >= limit if at_least else ratio <= limit
    gap = (ratio - limit) / limit * 100
    return Goal(goal, wanted, f"{ratio:.2f}x ({top_name} {top:.4g} / {bottom_name} {bottom:.4g})", f"{gap:+.0f}%", met)


def _throughput_goals(results: _Results, scenario: str, label: str) -> list[Goal]:
    quart = results.best_quart(scenario)
    if quart is None:
        return [_missing(f"{label}: requests/s", ">= 1.0x Flask"), _missing(f"{label}: p99", "<= 1.25x Flask")]
    return [
        _ratio_goal(
            f"{label}: requests/s, {quart} / {FLASK}",
            ">= 1.0x",
            (quart, results.median(quart, scenario)),
            (FLASK, results.median(FLASK, scenario)),
            1.0,
            at_least=True,
        ),
        _ratio_goal(
            f"{label}: p99 latency, {quart} / {FLASK}",
            "<= 1.25x",
            (quart, results.p99(quart, scenario)),
            (FLASK, results.p99(FLASK, scenario)),
            1.25,
            at_least=False,
        ),
    ]


def _csv_goals(results: _Results) -> list[Goal]:
    goals = []
    quart = results.best_quart("csv-export", higher_is_better=False)
    goals.append(
        _ratio_goal(
            f"CSV export time, {quart} / {FLASK}",
            "<= 1.1x",
            (str(quart), results.median(str(quart), "csv-export")),
            (FLASK, results.median(FLASK, "csv-export")),
            1.1,
            at_least=False,
        )
    )
    for target in (FLASK, *QUART_CONFIGS):
        ttfb = results.median(target, "ttfb-stream")
        if ttfb is not None:
            goals.append(
                Goal(
                    f"time to first byte of /stream/gen, {target} (median)",
                    "<= 10 ms",
                    f"{ttfb:.1f} ms",
                    f"{ttfb - 10:+.1f} ms",
                    ttfb <= 10,
                )
            )
        small, large = results.extra(target, "csv-export"), results.extra(target, "csv-export-10x")
        if small and large:
            goals.append(
                _ratio_goal(
                    f"CSV memory flat, {target}: tree peak RSS at {large['rows']:,} / {small['rows']:,} rows",
                    "<= 1.1x",
                    ("MiB", large["peak_kib"] / 1024),
                    ("MiB", small["peak_kib"] / 1024),
                    1.1,
                    at_least=False,
                )
            )
    return goals


def _sse_goals(results: _Results) -> list[Goal]:
    goals = []
    for target in QUART_CONFIGS:
        extra = results.extra(target, "sse-fanout")
        if not extra:
            continue
        top = extra["levels"][-1]
        held = top["held"]
        goals.append(
            Goal(
                f"SSE clients held on one process, {target}",
                f">= {SSE_CLIENTS_WANTED:,}",
                f"{held:,} of {top['clients']:,} asked",
                f"{held - SSE_CLIENTS_WANTED:+,}",
                held >= SSE_CLIENTS_WANTED,
            )
        )
        kilobytes = top["kib_per_client"] * 1.024
        goals.append(
            Goal(
                f"SSE server memory per client, {target} (RSS growth / held)",
                "<= 30 KB",
                f"{kilobytes:.1f} KB",
                f"{kilobytes - 30:+.1f} KB",
                kilobytes <= 30,
            )
        )
        p99 = top["latency_ms"].get("p99")
        if p99 is not None:
            goals.append(
                Goal(
                    f"SSE delivery p99 at {held:,} clients, 1 event/s each, {target}",
                    "<= 100 ms",
                    f"{p99:.0f} ms",
                    f"{p99 - 100:+.0f} ms",
                    p99 <= 100,
                )
            )
    flask = results.extra(FLASK, "sse-fanout")
    if flask:
        ceiling = flask["ceiling"]
        goals.append(
            Goal(
                f"Flask's ceiling ({FLASK}: workers x threads, one thread kept for the publish)",
                "reported",
                f"{ceiling + 1} streams, {ceiling} measured with a free thread",
                "",
                None,
            )
        )
    return goals


def evaluate_goals(document: Mapping[str, Any]) -> list[Goal]:
    results = _Results(document)
    goals = [
        *_throughput_goals(results, "tiny-json", "tiny JSON"),
        *_throughput_goals(results, "revalidate-304", "304 revalidation"),
    ]
    file_quart = results.best_quart("file-1mb")
    goals.append(
        _ratio_goal(
            f"1 MB download MB/s, {file_quart} / {FLASK}",
            ">= 0.75x",
            (str(file_quart), results.median(str(file_quart), "file-1mb")),
            (FLASK, results.median(FLASK, "file-1mb")),
            0.75,
            at_least=True,
        )
    )
    range_quart = results.best_quart("range-64k")
    goals.append(
        _ratio_goal(
            f"64 KB Range requests/s (byte-exact checked), {range_quart} / {FLASK}",
            ">= 0.9x",
            (str(range_quart), results.median(str(range_quart), "range-64k")),
            (FLASK, results.median(FLASK, "range-64k")),
            0.9,
            at_least=True,
        )
    )
    goals += _csv_goals(results)
    goals += _sse_goals(results)

    def pair(app: str, direct: str) -> Goal:
        return _ratio_goal(
            f"shared core cost on tiny JSON: {app} / {direct}",
            ">= 0.95x (<= 5% cost)",
            (app, results.median(app, "tiny-json")),
            (direct, results.median(direct, "tiny-json")),
            0.95,
            at_least=True,
        )

    goals += [pair(FLASK, "flask-direct"), pair("quart-asyncio", "quart-direct")]
    return goals
