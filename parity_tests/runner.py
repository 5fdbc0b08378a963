"""``twinport parity`` with targets: prove any Flask app and its Quart port (or any two services)
answer alike.

    twinport parity --flask myapp:create_app --quart myapp_quart:create_app           # cases from the url map
    twinport parity --flask myapp:create_app --quart myapp_quart:create_app --cases cases.toml --mode wire
    twinport parity --left https://old.example.com --right https://new.example.com --har recorded.har
    twinport parity ... --rule 'header:x-request-id=ignore' --format junit --output parity.xml

Targets: ``--flask``/``--quart`` are app factories (or app objects), run in-process and over the
wire behind gunicorn and hypercorn (``--mode``); ``--left``/``--right`` are base URLs of services
running anywhere. One of each side: ``--flask`` with ``--right URL`` compares your Flask app with a
deployed port. Cases: ``--cases`` (TOML or JSON), ``--har`` (a recording), ``--generate`` (every GET
route of the left app's url map, with its conditional and Range variants); with none of them,
``--generate`` where an app is at hand. Rules: the built-in normalizations, then each case file's
``[rules]``, then ``--rule``. Exit status: 0 when both answer alike, 1 on any finding, 2 when the
run could not be made (a bad option, file or target: one line says why).

This module is the command line only; the run is ``targets.open_pair`` and ``pair.Pair``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tomllib
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shared.settings import ConfigError

from .case import Case
from .clients import Client
from .options import DEFAULT_REDACT
from .report import Run, write
from .rules import DEFAULT_RULES, Rules, parse_rule, rules_from_mapping
from .sources import SourceError, generate_cases, load_case_file, load_har
from .targets import AppTarget, Mode, Target, TargetError, UrlTarget, build_app, open_pair

__all__ = ["run"]


def run(arguments: argparse.Namespace) -> int:
    """The run the options ask for; ``ConfigError`` (one line, exit 2) for what cannot be run."""
    try:
        return _run(arguments)
    except (SourceError, TargetError, ValueError, OSError) as error:
        raise ConfigError(str(error)) from error


@dataclass(frozen=True, slots=True)
class _Cases:
    """The cases given (files and HAR), and whether to generate more from a url map."""

    given: tuple[Case, ...]
    generate: bool
    examples: Mapping[str, Mapping[str, str]]


def _run(arguments: argparse.Namespace) -> int:
    left, right = _targets(arguments)
    rules, given = _given_cases_and_rules(arguments)
    app_side = next((target for target in (left, right) if isinstance(target, AppTarget)), None)
    generate = arguments.generate or not given
    if generate and app_side is None:
        raise ConfigError("two URLs have no url map: give --cases or --har (or an app factory with --flask or --quart)")
    cases = _Cases(given, generate, _examples(arguments.examples))
    modes: list[Mode] = ["in-process", "wire"] if arguments.mode == "both" else [arguments.mode]
    if app_side is None:
        modes = modes[:1]  # URLs answer the same whatever the mode
    findings: list[Any] = []
    labels: list[str] = []
    server_errors: list[tuple[str, str, int]] = []
    logs: dict[str, Path] = {}
    sent: list[str] = []
    names = ("left", "right")
    for mode in modes:
        with open_pair(left, right, mode=mode, rules=rules, logs_dir=arguments.logs) as pair:
            names = (pair.left.name, pair.right.name)
            if not sent:
                all_cases = cases.given + _generated(cases, app_side, pair.left if app_side is left else pair.right)
                all_cases = _unique(all_cases)
                sent = [case.id for case in all_cases]
            findings += pair.run(all_cases)
            labels.append(pair.mode)
            server_errors += pair.server_errors
            for client in (pair.left, pair.right):
                log_path = getattr(client, "log_path", None)
                if isinstance(log_path, Path):
                    logs[client.name] = log_path
        print(f"{labels[-1]}: {len(all_cases)} cases sent to {names[0]} and {names[1]}", file=sys.stderr)
    report = Run(findings, sent, labels, names[0], names[1], logs, server_errors)
    write(report, arguments.format, arguments.output)
    if arguments.output is not None:
        verdict = "alike" if report.alike else f"{len(findings)} finding(s)"
        print(f"{arguments.format} report written to {arguments.output}: {verdict}", file=sys.stderr)
    return 0 if report.alike else 1


def _targets(arguments: argparse.Namespace) -> tuple[Target, Target]:
    if arguments.flask and arguments.left:
        raise ConfigError("--flask and --left both name the left side: give one")
    if arguments.quart and arguments.right:
        raise ConfigError("--quart and --right both name the right side: give one")
    settings = _table(arguments.settings, "--settings") if arguments.settings else None
    verify: bool | str = False if arguments.insecure else (arguments.ca_file or True)

    def side(name: str, factory: str | None, url: str | None, interface: str) -> Target:
        host, prefix = getattr(arguments, f"{name}_host"), getattr(arguments, f"{name}_prefix")
        if factory:
            return AppTarget(factory, interface, settings, host=host or "localhost")  # type: ignore[arg-type]
        if url:
            return UrlTarget(url, host=host, prefix=prefix, http2=arguments.http2, verify=verify)
        other = "--quart or --right" if name == "right" else "--flask or --left"
        raise ConfigError(f"the {name} side is missing: give {other}")

    left = side("left", arguments.flask, arguments.left, "wsgi")
    return left, side("right", arguments.quart, arguments.right, "asgi")


def _given_cases_and_rules(arguments: argparse.Namespace) -> tuple[Rules, tuple[Case, ...]]:
    """The cases of ``--cases`` and ``--har``, and the rules: the defaults, each case file's
    ``[rules]``, then ``--rule``; a case's own rules ride on the case."""
    rules = DEFAULT_RULES
    cases: list[Case] = []
    for path in arguments.cases:
        case_file = load_case_file(path)
        if case_file.rules:
            rules = rules.extended(rules_from_mapping(case_file.rules, where=f"{path}: rules"))
        own = case_file.case_rules or {}
        for case in case_file.cases:
            if case.id in own:
                case = replace(case, rules=rules_from_mapping(own[case.id], where=f"{path}: case {case.id!r}: rules"))
            cases.append(case)
    redact = tuple(arguments.redact) if arguments.redact else DEFAULT_REDACT
    for path in arguments.har:
        cases += load_har(path, redact=redact, include=arguments.har_origin)
    for text in arguments.rule:
        rules = rules.extended(parse_rule(text))
    return rules, tuple(cases)


def _generated(cases: _Cases, target: AppTarget | None, probe: Client) -> tuple[Case, ...]:
    if not cases.generate or target is None:
        return ()
    with _url_map_app(target, probe) as app:
        generated = generate_cases(app, probe, cases.examples)
    for skipped in generated.skipped:
        print(f"--generate left out {skipped}", file=sys.stderr)
    return generated.cases


@contextmanager
def _url_map_app(target: AppTarget, probe: Client) -> Iterator[Any]:
    """The app whose url map generates the cases: the probe's own in-process, else one built
    here only to read its map (an async factory awaited on a loop of its own)."""
    app: Any = getattr(probe, "app", None)
    if app is None or not hasattr(app, "url_map"):
        built = build_app(target)
        if inspect.isawaitable(built):
            import asyncio

            async def awaited(pending: Awaitable[object]) -> object:
                return await pending

            built = asyncio.run(awaited(built))
        app = built
    yield app


def _unique(cases: Sequence[Case]) -> tuple[Case, ...]:
    """Cases with ids made unique in order (a HAR and a case file may both hold ``GET /``)."""
    seen: dict[str, int] = {}
    unique: list[Case] = []
    for case in cases:
        count = seen.get(case.id, 0) + 1
        seen[case.id] = count
        unique.append(case if count == 1 else replace(case, id=f"{case.id} #{count}"))
    return tuple(unique)


def _examples(path: Path | None) -> Mapping[str, Mapping[str, str]]:
    if path is None:
        return {}
    table = _table(path, "--examples")
    examples: dict[str, dict[str, str]] = {}
    for rule, values in table.items():
        if not isinstance(values, Mapping) or not all(isinstance(key, str) for key in values):
            raise ConfigError(f"--examples {path}: {rule!r} must map argument names to values")
        examples[rule] = {key: str(value) for key, value in values.items()}
    return examples


def _table(path: Path, option: str) -> dict[str, Any]:
    """A TOML or JSON file holding one table (by its suffix), or a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
        table = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{option} {path}: {error}") from error
    if not isinstance(table, dict):
        raise ConfigError(f"{option} {path}: not a table of names to values")
    return table
