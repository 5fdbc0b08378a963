"""The issue's goals ("targets the report is read against"), evaluated on one results file.

Each goal is a ratio or a figure from one run on one machine, and names the exact targets it reads
(``pair``: "quart-asyncio vs flask-gthread"): what was wanted, what was measured, the gap, and met
or missed. The goals are issue 10's:

- **default vs default**: Quart on the server ``twinport serve --runtime quart`` runs by default
  against Flask on its default, >= 1.0x on tiny JSON, 304, paging and 64 KB Range, >= 0.9x on the
  1 MB file, p99 latency <= 1.25x on each;
- **best vs Flask's default**: Quart on its best server in the run (one target for every row: the
  Quart target with the highest geometric mean over tiny JSON, 304, paging and Range, named in the
  report) against Flask on gunicorn as shipped, >= 1.3x on tiny JSON and Range, >= 1.1x on 304 and
  paging;
- **I/O-bound**: at 512 connections each waiting 50 ms, Quart's default >= 10x Flask's default
  (gthread, 32 threads), Flask gevent beside it where measured;
- **SSE** on one Quart process: 10,000 clients held at <= 30 KB each, delivery p99 <= 250 ms
  (stretch 100 ms) at one event per second, on each Quart server; each Flask target (gevent
  included) beside it, with its ceiling where it has one;
- **same server**: one server serving both runtimes (granian: WSGI for Flask, ASGI for Quart),
  reported beside the goals: the framework's cost apart from the server's;

and, kept from the issue before it, time to first byte, CSV time and memory, and the shared core's
cost. A ``--quick`` run grades nothing: its goals are listed with the pairs they would read.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BEST_SCENARIOS", "Goal", "Pairing", "evaluate_goals", "pairings", "runtime_defaults", "runtime_of"]

# The defaults of results files written before they recorded which target is a runtime's default.
_FORMER_DEFAULTS = {"flask": "flask-gthread", "quart": "quart-asyncio"}
SSE_CLIENTS_WANTED = 10_000
# What a runtime's best target is chosen on: the scenarios the "best" goals read.
BEST_SCENARIOS = ("tiny-json", "revalidate-304", "paging", "range-64k")
# The server that serves both runtimes, compared Flask against Quart on it.
SAME_SERVER = "granian"
NOT_GRADED = "not graded: smoke run (--quick)"


@dataclass(frozen=True, slots=True)
class Goal:
    goal: str
    pair: str  # the targets read: "A vs B" for a ratio (A / B), one name for a figure
    wanted: str
    measured: str
    gap: str
    met: bool | None  # None: not measured (target or scenario missing from the run), or not graded


def runtime_of(name: str, record: Mapping[str, Any]) -> str:
    """flask, quart, or other: from the record, or (files before schema 2) the target's name."""
    recorded = record.get("runtime")
    if isinstance(recorded, str):
        return recorded
    prefix = name.split("-", 1)[0]
    return prefix if prefix in ("flask", "quart") else "other"


def _serves_twinport(record: Mapping[str, Any]) -> bool:
    """Whether a target runs twinport's own app (not a direct or floor app of the benchmark)."""
    if "app" in record:
        return bool(record["app"] == "twinport")
    argv = record.get("argv") or [""]
    return "benchmarks." not in str(argv[-1])


def runtime_defaults(document: Mapping[str, Any]) -> dict[str, str]:
    """Each runtime's default target in this run (``runtime_default`` in its record)."""
    targets: Mapping[str, Mapping[str, Any]] = document["targets"]
    found = {runtime_of(name, record): name for name, record in targets.items() if record.get("runtime_default")}
    return found or dict(_FORMER_DEFAULTS)


class _Results:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.ok = {
            (entry["target"], entry["scenario"]): entry for entry in document["results"] if entry["status"] == "ok"
        }
        targets: Mapping[str, Mapping[str, Any]] = document["targets"]
        defaults = runtime_defaults(document)
        self.flask, self.quart = defaults.get("flask", "flask-gthread"), defaults.get("quart", "quart-asyncio")
        self.quart_servers = [
            name for name, record in targets.items() if runtime_of(name, record) == "quart" and _serves_twinport(record)
        ]
        self.flask_targets = [
            name for name, record in targets.items() if runtime_of(name, record) == "flask" and _serves_twinport(record)
        ]
        self.gevent = [name for name in self.flask_targets if targets[name].get("worker_class") == "gevent"]
        self.same_server = {
            runtime_of(name, record): name
            for name, record in targets.items()
            if record.get("server") == SAME_SERVER and _serves_twinport(record)
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

    def best(self, runtime: str) -> str:
        """The runtime's best target in this run: of those measured on every one of BEST_SCENARIOS,
        the highest geometric mean of their medians; none measured: the candidates, "a|b (best)"."""
        candidates = self.quart_servers if runtime == "quart" else self.flask_targets
        scored = []
        for name in candidates:
            medians = [self.median(name, scenario) for scenario in BEST_SCENARIOS]
            if all(median is not None and median > 0 for median in medians):
                scored.append((statistics.geometric_mean(float(median or 0) for median in medians), name))
        if not scored:
            default = self.quart if runtime == "quart" else self.flask
            return "|".join(candidates or [default]) + " (best)"
        return max(scored)[1]


def _ratio_goal(
    goal: str,
    wanted: str,
    numerator: tuple[str, float | None],
    denominator: tuple[str, float | None],
    limit: float,
    at_least: bool,
    pair: str | None = None,
) -> Goal:
    (top_name, top), (bottom_name, bottom) = numerator, denominator
    pair = pair or f"{top_name} vs {bottom_name}"
    if top is None or bottom is None or bottom == 0:
        return Goal(goal, pair, wanted, "not measured", "", None)
    ratio = top / bottom
    met = ratio >= limit if at_least else ratio <= limit
    gap = (ratio - limit) / limit * 100
    return Goal(goal, pair, wanted, f"{ratio:.2f}x ({top:.4g} / {bottom:.4g})", f"{gap:+.0f}%", met)


def _scenario_ratio(
    results: _Results,
    label: str,
    scenario: str,
    quart: str,
    limit: float,
    *,
    p99: bool = False,
    flask: str | None = None,
) -> Goal:
    read = results.p99 if p99 else results.median
    flask = flask or results.flask
    return _ratio_goal(
        f"{label}: {'p99 latency' if p99 else 'median'}",
        f"{'<=' if p99 else '>='} {limit:.{1 if round(limit, 1) == limit else 2}f}x",
        (quart, read(quart, scenario)),
        (flask, read(flask, scenario)),
        limit,
        at_least=not p99,
    )


# Scenario, its label, and the ratio wanted of Quart's default (and of its best server, if any).
_DEFAULT_VS_DEFAULT: tuple[tuple[str, str, float, float | None], ...] = (
    ("tiny-json", "tiny JSON", 1.0, 1.3),
    ("revalidate-304", "304 revalidation", 1.0, 1.1),
    ("paging", "paging API", 1.0, 1.1),
    ("range-64k", "64 KB Range (byte-exact checked)", 1.0, 1.3),
    ("file-1mb", "1 MB file (median: MB/s)", 0.9, None),
)


def _request_goals(results: _Results) -> list[Goal]:
    goals = []
    for scenario, label, default_limit, _best in _DEFAULT_VS_DEFAULT:
        goals.append(_scenario_ratio(results, f"{label}, default vs default", scenario, results.quart, default_limit))
        goals.append(_scenario_ratio(results, f"{label}, default vs default", scenario, results.quart, 1.25, p99=True))
    best = results.best("quart")
    for scenario, label, _default, best_limit in _DEFAULT_VS_DEFAULT:
        if best_limit is not None:
            goals.append(
                _scenario_ratio(results, f"{label}, Quart's best vs Flask's default", scenario, best, best_limit)
            )
    return goals


def _same_server_goals(results: _Results) -> list[Goal]:
    """Flask against Quart on the one server that serves both: reported, not graded (no goal of the
    issue names it)."""
    flask, quart = results.same_server.get("flask"), results.same_server.get("quart")
    if flask is None or quart is None:
        return []
    goals = []
    for scenario, label, _default, _best in _DEFAULT_VS_DEFAULT:
        ratio = _scenario_ratio(results, f"{label}, same server ({SAME_SERVER})", scenario, quart, 1.0, flask=flask)
        goals.append(dataclasses.replace(ratio, wanted="reported", gap="", met=None))
    return goals


def _io_wait_goals(results: _Results) -> list[Goal]:
    scenario = "io-wait-512"
    goals = [
        _ratio_goal(
            "I/O-bound (50 ms wait), 512 connections: req/s",
            ">= 10x",
            (results.quart, results.median(results.quart, scenario)),
            (results.flask, results.median(results.flask, scenario)),
            10.0,
            at_least=True,
        )
    ]
    for gevent in results.gevent:
        ratio = _ratio_goal(
            "I/O-bound (50 ms wait), 512 connections: Flask gevent beside it",
            "reported",
            (gevent, results.median(gevent, scenario)),
            (results.flask, results.median(results.flask, scenario)),
            1.0,
            at_least=True,
        )
        goals.append(dataclasses.replace(ratio, gap="", met=None))
    return goals


def _sse_goals(results: _Results) -> list[Goal]:
    goals = []
    for target in results.quart_servers:
        extra = results.extra(target, "sse-fanout")
        if not extra:
            goals.append(
                Goal("SSE on one Quart process", target, f">= {SSE_CLIENTS_WANTED:,} clients", "not measured", "", None)
            )
            continue
        top = extra["levels"][-1]
        held = top["held"]
        goals.append(
            Goal(
                "SSE clients held on one process",
                target,
                f">= {SSE_CLIENTS_WANTED:,}",
                f"{held:,} of {top['clients']:,} asked",
                f"{held - SSE_CLIENTS_WANTED:+,}",
                held >= SSE_CLIENTS_WANTED,
            )
        )
        kilobytes = top["kib_per_client"] * 1.024
        goals.append(
            Goal(
                f"SSE server memory per client at {held:,} clients (RSS growth / held)",
                target,
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
                    f"SSE delivery p99 at {held:,} clients, 1 event/s each",
                    target,
                    "<= 250 ms (stretch 100 ms)",
                    f"{p99:.0f} ms",
                    f"{p99 - 250:+.0f} ms",
                    p99 <= 250,
                )
            )
    for target in results.flask_targets:
        extra = results.extra(target, "sse-fanout")
        if not extra:
            continue
        top = extra["levels"][-1]
        p99 = top["latency_ms"].get("p99", float("nan"))
        ceiling = extra.get("ceiling")
        bound = (
            f"ceiling {ceiling:,} streams ({extra.get('ceiling_reason') or 'one thread kept for the publish'}); "
            if ceiling is not None
            else "no fixed ceiling; "
        )
        goals.append(
            Goal(
                "SSE on one Flask process, beside: its ceiling, held streams and p99 there",
                target,
                "reported",
                f"{bound}{top['held']:,} of {top['clients']:,} held, p99 {p99:.0f} ms",
                "",
                None,
            )
        )
    return goals


def _earlier_goals(results: _Results) -> list[Goal]:
    """The issue before's goals, still read: first byte, CSV, the shared core's cost."""
    goals = []
    quart = results.best("quart")
    goals.append(
        _ratio_goal(
            "CSV export time, Quart's best vs Flask's default",
            "<= 1.1x",
            (quart, results.median(quart, "csv-export")),
            (results.flask, results.median(results.flask, "csv-export")),
            1.1,
            at_least=False,
        )
    )
    for target in (results.flask, *results.quart_servers):
        ttfb = results.median(target, "ttfb-stream")
        if ttfb is not None:
            goals.append(
                Goal(
                    "time to first byte of /stream/gen (median)",
                    target,
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
                    f"CSV memory flat: tree peak RSS at {large['rows']:,} / {small['rows']:,} rows",
                    "<= 1.1x",
                    ("MiB", large["peak_kib"] / 1024),
                    ("MiB", small["peak_kib"] / 1024),
                    1.1,
                    at_least=False,
                    pair=target,
                )
            )
    for app, direct in ((results.flask, "flask-direct"), (results.quart, "quart-direct")):
        goals.append(
            _ratio_goal(
                "shared core cost on tiny JSON (twinport's app vs the view written directly)",
                ">= 0.95x (<= 5% cost)",
                (app, results.median(app, "tiny-json")),
                (direct, results.median(direct, "tiny-json")),
                0.95,
                at_least=True,
            )
        )
    return goals


@dataclass(frozen=True, slots=True)
class Pairing:
    """One Quart target against one Flask target: a row of the report's comparison table."""

    label: str
    quart: str
    flask: str


def pairings(document: Mapping[str, Any]) -> list[Pairing]:
    """The comparisons the README's Results table shows: each runtime's default, each one's best in
    this run (``_Results.best``), and both on the one server that serves both, when the run has both
    (granian would; twinport offers Flask only on gunicorn, shared/settings.py says why)."""
    results = _Results(document)
    same = results.same_server
    rows = [
        Pairing("default vs default", results.quart, results.flask),
        Pairing("best vs best", results.best("quart"), results.best("flask")),
    ]
    if "quart" in same and "flask" in same:
        rows.append(Pairing(f"{SAME_SERVER} vs {SAME_SERVER}", same["quart"], same["flask"]))
    return rows


def evaluate_goals(document: Mapping[str, Any]) -> list[Goal]:
    """Every goal, graded; in a ``--quick`` run each is listed with its pair and graded as nothing."""
    results = _Results(document)
    goals: Sequence[Goal] = [
        *_request_goals(results),
        *_io_wait_goals(results),
        *_sse_goals(results),
        *_same_server_goals(results),
        *_earlier_goals(results),
    ]
    if document["config"].get("quick"):
        return [dataclasses.replace(goal, measured=NOT_GRADED, gap="", met=None) for goal in goals]
    return list(goals)
