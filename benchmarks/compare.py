"""``twinport bench compare A.json B.json``: the ratio B/A of each target x scenario's median.

A change counts only where it exceeds what the repeats themselves showed: the ranges [min, max]
of A's and B's repeats do not overlap. Otherwise two runs of the same code would "regress" by
their own noise. A counted change in the wrong direction by more than the threshold is a
regression, and the command exits 1.

Two runs are compared only when they were measured alike: ``setting_differences`` lists every
recorded setting that differs (quick or full, each count and duration in ``config``, the machine,
the pinning, the pinned server settings and each scenario's own, the Python, package and wrk
versions). The command refuses such a pair unless told to go on, and then says so first.
What is measured (the code, its commit) and when (date, load average) are not settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .system import TOOLING

__all__ = [
    "Comparison",
    "Difference",
    "Row",
    "compare_documents",
    "format_comparison",
    "format_differences",
    "recorded_settings",
    "setting_differences",
]

# The machine facts a result depends on (not the load average or the OS string's glibc).
_MACHINE = ("cpu_model", "cores", "usable_cores", "memory_gib", "kernel", "python", "python_implementation")
NOT_RECORDED = "not recorded"


@dataclass(frozen=True, slots=True)
class Row:
    label: str  # the target, or "A-target -> B-target" when two targets are compared
    scenario: str
    unit: str
    higher_is_better: bool
    a: Mapping[str, Any]  # median and spread of A's repeats
    b: Mapping[str, Any]
    threshold_percent: float

    @property
    def ratio(self) -> float:
        return float(self.b["median"]) / float(self.a["median"]) if self.a["median"] else float("inf")

    @property
    def exceeds_spread(self) -> bool:
        """B's repeats all above or all below A's: a change the noise does not explain."""
        a_spread, b_spread = self.a["spread"], self.b["spread"]
        return bool(b_spread["min"] > a_spread["max"] or b_spread["max"] < a_spread["min"])

    @property
    def worse_percent(self) -> float:
        """How much worse B is than A, in percent (negative: better)."""
        return (1 - self.ratio) * 100 if self.higher_is_better else (self.ratio - 1) * 100

    @property
    def regression(self) -> bool:
        return self.exceeds_spread and self.worse_percent > self.threshold_percent

    @property
    def verdict(self) -> str:
        if not self.exceeds_spread:
            return "within spread"
        direction = "worse" if self.worse_percent > 0 else "better"
        text = f"{direction} by {abs(self.worse_percent):.0f}%"
        return f"REGRESSION: {text} (threshold {self.threshold_percent:g}%)" if self.regression else text


@dataclass(frozen=True, slots=True)
class Comparison:
    rows: tuple[Row, ...]
    unmatched: tuple[str, ...]  # measured in one file only, or failed/skipped in either

    @property
    def regressions(self) -> tuple[Row, ...]:
        return tuple(row for row in self.rows if row.regression)


def _measured(document: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(entry["target"], entry["scenario"]): entry for entry in document["results"] if entry["status"] == "ok"}


def compare_documents(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    threshold_percent: float = 10.0,
    target_a: str | None = None,
    target_b: str | None = None,
) -> Comparison:
    """Pair A's and B's results by target and scenario, or, given ``target_a`` and ``target_b``,
    A's target_a with B's target_b scenario by scenario (Flask against Quart)."""
    a_results, b_results = _measured(a), _measured(b)
    if (target_a is None) != (target_b is None):
        raise ValueError("give both --target-a and --target-b, or neither")
    if target_a is not None and target_b is not None:
        scenarios = [scenario for target, scenario in a_results if target == target_a]
        pairs = [((target_a, scenario), (target_b, scenario)) for scenario in scenarios]
        every = {scenario for target, scenario in [*a_results, *b_results] if target in (target_a, target_b)}
    else:
        pairs = [(key, key) for key in a_results]
        every = {f"{target}/{scenario}" for target, scenario in [*a_results, *b_results]}
    rows = []
    matched: set[str] = set()
    for a_key, b_key in pairs:
        if b_key not in b_results:
            continue
        a_entry, b_entry = a_results[a_key], b_results[b_key]
        label = a_key[0] if a_key[0] == b_key[0] else f"{a_key[0]} -> {b_key[0]}"
        rows.append(
            Row(
                label, a_key[1], a_entry["unit"], bool(a_entry["higher_is_better"]), a_entry, b_entry, threshold_percent
            )
        )
        matched.add(a_key[1] if target_a is not None else f"{a_key[0]}/{a_key[1]}")
    return Comparison(tuple(rows), tuple(sorted(every - matched)))


@dataclass(frozen=True, slots=True)
class Difference:
    """One setting two runs were measured with that is not the same in both."""

    field: str  # e.g. "config.duration", "machine.cpu_model", "versions.quart"
    a: object
    b: object

    def line(self) -> str:
        return f"{self.field}: A {_shown(self.a)}, B {_shown(self.b)}"


def _shown(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def _by_scenario(document: Mapping[str, Any]) -> dict[str, object]:
    """Each scenario's own server settings and app (schema 2 on)."""
    found: dict[str, object] = {}
    for name, facts in document.get("scenarios", {}).items():
        if "server_settings" in facts:
            found[f"scenarios.{name}.server_settings"] = facts["server_settings"]
            found[f"scenarios.{name}.apps"] = facts.get("apps", {})
    return found


def _by_server_group(document: Mapping[str, Any]) -> dict[str, object]:
    """The server settings of each group of scenarios, as the targets that ran it recorded them
    (what files before schema 2 have)."""
    found: dict[str, object] = {}
    for record in document.get("targets", {}).values():
        for group, overrides in record.get("server_settings", {}).items():
            found.setdefault(f"server group {group}.server_settings", overrides)
    return found


def _scenario_settings(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[dict[str, object], dict[str, object]]:
    """The scenarios' own settings of both runs, read alike (per scenario where both files record
    that, else per server group), and only for what both ran: a scenario run in one file only is
    not compared at all (it is listed as unmatched), so its settings are no difference."""
    a_settings, b_settings = _by_scenario(a), _by_scenario(b)
    if not a_settings or not b_settings:
        a_settings, b_settings = _by_server_group(a), _by_server_group(b)
    both = a_settings.keys() & b_settings.keys()
    return {key: a_settings[key] for key in a_settings if key in both}, {key: b_settings[key] for key in both}


def recorded_settings(document: Mapping[str, Any]) -> dict[str, object]:
    """Every setting a results file records that its figures depend on, by dotted field name (the
    scenarios' own settings apart: ``setting_differences`` reads those of two files together)."""
    config = document.get("config", {})
    settings: dict[str, object] = {"run": "quick (--quick)" if config.get("quick") else "full"}
    settings.update({f"config.{key}": value for key, value in config.items() if key != "quick"})
    machine = document.get("machine", {})
    settings.update({f"machine.{key}": machine.get(key, NOT_RECORDED) for key in _MACHINE})
    settings.update({f"placement.{key}": value for key, value in document.get("placement", {}).items()})
    settings["open_file_limit"] = document.get("open_file_limit", NOT_RECORDED)
    settings.update({f"pinned_settings.{key}": value for key, value in document.get("pinned_settings", {}).items()})
    versions = document.get("versions", {})
    settings.update({f"versions.{name}": version for name, version in versions.items() if name not in TOOLING})
    return settings


def setting_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[Difference, ...]:
    """Each setting that differs between the runs, or is recorded in one only, in A's order."""
    a_scenarios, b_scenarios = _scenario_settings(a, b)
    a_settings, b_settings = {**recorded_settings(a), **a_scenarios}, {**recorded_settings(b), **b_scenarios}
    fields = [*a_settings, *(name for name in b_settings if name not in a_settings)]
    return tuple(
        Difference(name, a_settings.get(name, NOT_RECORDED), b_settings.get(name, NOT_RECORDED))
        for name in fields
        if _normal(a_settings.get(name, NOT_RECORDED)) != _normal(b_settings.get(name, NOT_RECORDED))
    )


def _normal(value: object) -> object:
    """JSON has no tuples: a list read back and a tuple written are the same setting."""
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _normal(item) for key, item in value.items()}
    return value


def format_differences(differences: tuple[Difference, ...]) -> str:
    """The loud warning above a comparison made anyway (``--allow-different-settings``)."""
    lines = [
        f"WARNING: these runs were measured with {len(differences)} different setting(s); "
        "a ratio below may show how each was measured, not what changed:",
        *(f"WARNING:   {difference.line()}" for difference in differences),
    ]
    return "\n".join(lines)


def _cell(entry: Mapping[str, Any]) -> str:
    spread = entry["spread"]
    return f"{entry['median']:.4g} ({spread['min']:.4g}-{spread['max']:.4g})"


def format_comparison(comparison: Comparison, threshold_percent: float) -> str:
    """A Markdown table; the medians with the range of their repeats in parentheses."""
    header = ("target", "scenario", "unit", "A median (range)", "B median (range)", "B/A", "verdict")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in comparison.rows:
        cells = (
            row.label,
            row.scenario,
            f"{row.unit} ({'higher' if row.higher_is_better else 'lower'} is better)",
            _cell(row.a),
            _cell(row.b),
            f"{row.ratio:.2f}x",
            row.verdict,
        )
        lines.append("| " + " | ".join(cells) + " |")
    if comparison.unmatched:
        lines.append(f"\nnot in both (or not measured in one): {', '.join(comparison.unmatched)}")
    count = len(comparison.regressions)
    lines.append(
        f"\n{count} regression(s) beyond {threshold_percent:g}% and beyond the spread of the repeats"
        if count
        else f"\nno regression beyond {threshold_percent:g}% that exceeds the spread of the repeats"
    )
    return "\n".join(lines)
