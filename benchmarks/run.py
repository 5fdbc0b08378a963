"""``twinport bench run``: every target x scenario, each server started here and stopped on every
exit path, into one JSON results file.

A target that cannot start, or a scenario that fails, is recorded as failed with its reason and
the run goes on; a target whose server is not installed is recorded as skipped.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import resource
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from parity_tests.postgres import POSTGRES_BIN, find_postgres, running_postgres
from parity_tests.redis_server import RedisServer
from parity_tests.servers import find_program

from .scenarios import BenchConfig, Context, Measured, Scenario, SkipScenario
from .system import code_version, load_average, machine_facts, package_versions
from .targets import PINNED_SETTINGS, Placement, Target, is_runtime_default, missing_modules, started
from .wrk import wrk_available, wrk_version

__all__ = ["SCHEMA", "Progress", "run_benchmarks", "summarize"]

# 2: records each target's runtime and server, each scenario's server settings and app, the wrk
# version, the code's commit, and the cores this process may use (what compare checks). 3: a
# target's server is twinport's server setting (gunicorn, hypercorn, uvicorn, granian), no longer
# "twinport" or "uvicorn"; the SSE scenario records its ceiling's reason.
SCHEMA = 3


class Progress:
    """A one-line progress bar on a terminal; one line per finished step elsewhere (CI logs)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 24) -> None:
        self.total, self.done, self.stream, self.width = total, 0, stream, width
        self.started = time.monotonic()
        self.label = ""
        self.interactive = stream.isatty()

    def _bar(self) -> str:
        filled = round(self.width * self.done / self.total) if self.total else self.width
        elapsed = time.monotonic() - self.started
        return f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {elapsed:5.0f}s"

    def begin(self, label: str) -> None:
        self.label = label
        self.note("")

    def note(self, detail: str) -> None:
        if self.interactive:
            self.stream.write(f"\r\033[K{self._bar()} {self.label} {detail}")
            self.stream.flush()

    def finish(self, outcome: str) -> None:
        self.done += 1
        line = f"{self._bar()} {self.label}: {outcome}"
        self.stream.write(f"\r\033[K{line}\n" if self.interactive else f"{line}\n")
        self.stream.flush()


def summarize(values: Sequence[float]) -> tuple[float, dict[str, float]]:
    """Median and spread (min, max, and max - min relative to the median) of the repeats."""
    median = statistics.median(values)
    low, high = min(values), max(values)
    return median, {"min": low, "max": high, "relative": (high - low) / median if median else 0.0}


def _result(
    target: Target, scenario: Scenario, status: str, reason: str = "", measured: Measured | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "target": target.name,
        "scenario": scenario.name,
        "status": status,
        "reason": reason,
        "unit": scenario.unit,
        "higher_is_better": scenario.higher_is_better,
    }
    if measured is not None:
        median, spread = summarize(measured.values)
        entry.update(
            values=measured.values, median=median, spread=spread, repeats=measured.repeats, extra=measured.extra
        )
    return entry


def _groups(scenarios: Sequence[Scenario]) -> list[list[Scenario]]:
    """Scenarios by the server they need, in first-seen order: one server start per group."""
    groups: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        groups.setdefault(scenario.server_group, []).append(scenario)
    return list(groups.values())


@contextmanager
def _client_placement(placement: Placement) -> Iterator[None]:
    """Pin this process (the asyncio client, and wrk, which inherits it) to the client's cores."""
    if placement.client_cores is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, placement.client_cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _raise_open_file_limit() -> int:
    """Thousands of event streams need thousands of descriptors, here and in the server (which
    inherits the limit): raise the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _run_group(
    target: Target,
    group: Sequence[Scenario],
    config: BenchConfig,
    placement: Placement,
    progress: Progress,
    target_record: dict[str, Any],
) -> list[dict[str, Any]]:
    overrides = dict(group[0].server_settings(config))
    factory = group[0].factory(target.runtime)
    results: list[dict[str, Any]] = []
    pending = list(group)
    missing = _missing_database(group[0].database) or _missing_events(group[0].events)
    if missing:
        for scenario in pending:
            progress.begin(f"{target.name} {scenario.name}")
            results.append(_result(target, scenario, "skipped", missing))
            progress.finish(f"skipped ({missing})")
        return results
    try:
        with ExitStack() as database:
            recorded = dict(overrides)
            if group[0].database == "postgresql":
                # Started from here, so it runs where this process may (the client's core when
                # pinned): off the server's core, as a database on another host would be, and
                # outside the server's process tree, so server_cpu counts the app's work alone.
                postgres = database.enter_context(running_postgres())
                overrides["database_url"] = postgres.fresh_database()  # the seed, as a first start leaves it
                recorded["database_url"] = POSTGRES_RECORDED
            if group[0].events == "redis":
                # Started from here too: off the server's core and outside its process tree.
                redis = database.enter_context(_running_redis())
                overrides["redis_url"] = redis.url
                recorded["redis_url"] = REDIS_RECORDED
            server, argv = database.enter_context(started(target, overrides, placement, factory))
            target_record.setdefault("argv", argv)
            target_record.setdefault("server_settings", {})[group[0].server_group] = recorded
            if factory is not None:
                target_record.setdefault("apps", {})[group[0].server_group] = factory
            while pending:
                scenario = pending.pop(0)
                progress.begin(f"{target.name} {scenario.name}")
                if server.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log()[-1500:]}")
                context = Context(target, server, config, overrides, argv, progress.note)
                try:
                    entry = _result(target, scenario, "ok", measured=scenario.measure(context))
                    progress.finish(f"{entry['median']:.4g} {scenario.unit} (spread {entry['spread']['relative']:.0%})")
                except SkipScenario as why:
                    entry = _result(target, scenario, "skipped", str(why))
                    progress.finish(f"skipped: {why}")
                except Exception as error:  # a failed scenario is a result; the run goes on
                    entry = _result(target, scenario, "failed", f"{type(error).__name__}: {error}")
                    progress.finish(f"failed: {error}")
                results.append(entry)
    except Exception as error:  # the server did not start, or died: every scenario left fails
        for scenario in pending:
            progress.begin(f"{target.name} {scenario.name}")
            results.append(_result(target, scenario, "failed", f"{type(error).__name__}: {error}"))
            progress.finish(f"failed: {str(error).splitlines()[0]}")
    return results


# What a results file says of the PostgreSQL groups' database_url (its port changes every run).
POSTGRES_RECORDED = "postgresql://postgres@127.0.0.1/<fresh database> (PostgreSQL 15 started by the bench, fsync off)"


REDIS_RECORDED = "redis://127.0.0.1/0 (redis-server started by the bench, no persistence)"


def _missing_events(events: str) -> str | None:
    """Why a group with ``events`` cannot run here, or None."""
    if events != "redis":
        return None
    if find_program("redis-server") is None:
        return "redis-server is not installed"
    if importlib.util.find_spec("redis") is None:
        return "not installed: redis (pip install 'twinport[redis]')"
    return None


@contextmanager
def _running_redis() -> Iterator[RedisServer]:
    program = find_program("redis-server")
    assert program is not None
    with tempfile.TemporaryDirectory(prefix="twinport-bench-redis-") as directory:
        server = RedisServer(program, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _missing_database(database: str) -> str | None:
    """Why a group on ``database`` cannot run here, or None."""
    if database != "postgresql":
        return None
    if find_postgres() is None:
        return f"PostgreSQL is not installed ({POSTGRES_BIN})"
    if importlib.util.find_spec("psycopg") is None:
        return "not installed: psycopg (pip install 'twinport[postgresql]')"
    return None


def run_benchmarks(
    targets: Sequence[Target],
    scenarios: Sequence[Scenario],
    config: BenchConfig,
    placement: Placement,
    command: Sequence[str],
    progress_stream: TextIO = sys.stderr,
) -> dict[str, Any]:
    """Measure every target on every scenario it supports; returns the results document."""
    if not wrk_available():
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    pairs = [(target, scenario) for target in targets for scenario in scenarios if target.runs(scenario.name)]
    progress = Progress(len(pairs), progress_stream)
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(command),
        "machine": machine_facts(),
        "versions": {**package_versions(), "wrk": wrk_version()},
        "code": code_version(),
        "config": asdict(config),
        "placement": asdict(placement),
        "open_file_limit": _raise_open_file_limit(),
        "pinned_settings": dict(PINNED_SETTINGS),
        "targets": {},
        "scenarios": {
            scenario.name: {
                "description": scenario.description,
                "unit": scenario.unit,
                "higher_is_better": scenario.higher_is_better,
                "server_settings": dict(scenario.server_settings(config)),
                "apps": dict(scenario.factories or {}),
            }
            for scenario in scenarios
        },
        "results": [],
    }
    started_at = time.monotonic()
    with _client_placement(placement):
        for target in targets:
            own = [scenario for scenario in scenarios if target.runs(scenario.name)]
            if not own:
                continue
            record: dict[str, Any] = {
                "description": target.description,
                "runtime": target.runtime,
                "server": target.server,
                "app": target.app or "twinport",
                "worker_class": target.worker_class,
                "runtime_default": is_runtime_default(target),
                "status": "ok",
            }
            document["targets"][target.name] = record
            missing = missing_modules(target)
            if missing:
                record.update(status="skipped", reason=f"not installed: {', '.join(missing)}")
                for scenario in own:
                    progress.begin(f"{target.name} {scenario.name}")
                    document["results"].append(_result(target, scenario, "skipped", record["reason"]))
                    progress.finish(f"skipped ({record['reason']})")
                continue
            for group in _groups(own):
                document["results"] += _run_group(target, group, config, placement, progress, record)
    document["machine"]["load_average_at_end"] = list(load_average())
    document["elapsed_seconds"] = round(time.monotonic() - started_at, 1)
    return document


def write_results(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
