"""The options of ``twinport parity`` and ``twinport parity proxy``, cheap to import.

The ``twinport`` command builds every plug-in's parser when it starts (``serve`` included), so
what ``command.register`` imports must not load the harness, the clients or the proxy: this
module imports nothing of them. ``FORMATS`` and ``DEFAULT_REDACT`` live here for that reason;
``report`` and ``sources`` take them from here.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from shared.settings import ConfigError

__all__ = [
    "DEFAULT_REDACT",
    "FORMATS",
    "Format",
    "add_parity_arguments",
    "add_proxy_arguments",
    "has_targets",
    "refuse_options_without_targets",
]

Format = Literal["text", "json", "junit", "html"]
FORMATS: tuple[Format, ...] = ("text", "json", "junit", "html")
#: The request fields a recording keeps that a replay must not: credentials (RFC 9110 §11.6.2, §11.7.1; RFC 6265 §5.4).
DEFAULT_REDACT = ("authorization", "cookie", "proxy-authorization")
MIB = 1024 * 1024

_TARGET_OPTIONS = ("flask", "quart", "left", "right")
_CASE_OPTIONS = ("cases", "har", "generate", "rule", "examples", "settings")


def add_parity_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_argument_group("targets (without any: twinport's own two apps)")
    targets.add_argument("--flask", metavar="MODULE:FACTORY", help="the left side: a WSGI app factory or app object")
    targets.add_argument("--quart", metavar="MODULE:FACTORY", help="the right side: an ASGI app factory or app object")
    targets.add_argument("--left", metavar="URL", help="the left side: a service's base URL (http or https)")
    targets.add_argument("--right", metavar="URL", help="the right side: a service's base URL (http or https)")
    targets.add_argument(
        "--settings",
        metavar="FILE",
        type=Path,
        help="a TOML or JSON table passed to both factories as their one argument",
    )
    for side in ("left", "right"):
        targets.add_argument(f"--{side}-host", metavar="HOST", help=f"the Host header the {side} side is sent")
        targets.add_argument(f"--{side}-prefix", metavar="PATH", default="", help=f"put in front of each {side} target")
    targets.add_argument("--http2", action="store_true", help="speak HTTP/2 to the URLs (ALPN on https, h2c on http)")
    targets.add_argument("--ca-file", metavar="FILE", help="trust this CA bundle for the https URLs")
    targets.add_argument("--insecure", action="store_true", help="do not verify the https URLs' certificates")
    cases = parser.add_argument_group("cases")
    cases.add_argument("--cases", metavar="FILE", type=Path, action="append", default=[], help="TOML or JSON cases")
    cases.add_argument("--har", metavar="FILE", type=Path, action="append", default=[], help="a HAR recording")
    cases.add_argument(
        "--redact",
        metavar="HEADER",
        action="append",
        help=f"leave this request header out of HAR cases (default: {', '.join(DEFAULT_REDACT)}); repeatable",
    )
    cases.add_argument("--har-origin", metavar="ORIGIN", action="append", help="replay this origin's HAR entries")
    cases.add_argument("--generate", action="store_true", help="cases from the left app's url map (or the right's)")
    cases.add_argument(
        "--examples",
        metavar="FILE",
        type=Path,
        help='converter values for --generate, TOML or JSON: {"/items/<int:item_id>": {"item_id": "7"}}',
    )
    compared = parser.add_argument_group("comparison and report")
    compared.add_argument(
        "--rule",
        metavar="RULE",
        action="append",
        default=[],
        help="header:NAME=ignore|presence|set|regex:PATTERN, json:PATH=ignore|unordered, sse:heartbeats=compare",
    )
    compared.add_argument("--format", choices=FORMATS, default="text", help="the report's format (default: text)")
    compared.add_argument("--output", metavar="FILE", type=Path, help="write the report here (default: stdout)")
    compared.add_argument(
        "--logs",
        metavar="DIR",
        type=Path,
        help="keep the servers' logs here (default: a new folder under ./.twinport-parity/)",
    )


def has_targets(arguments: argparse.Namespace) -> bool:
    """Whether the command names a pair of its own (else it runs twinport's own apps)."""
    return any(getattr(arguments, option) for option in _TARGET_OPTIONS)


def refuse_options_without_targets(arguments: argparse.Namespace) -> None:
    given = [option for option in _CASE_OPTIONS if getattr(arguments, option)]
    if given:
        raise ConfigError(
            f"--{given[0]} needs two targets: --flask and --quart (app factories) or --left and --right (URLs)"
        )


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``twinport parity proxy`` (and of ``python -m parity_tests.proxy``)."""
    parser.add_argument("--left", required=True, metavar="URL", help="the service that answers the clients")
    parser.add_argument("--right", required=True, metavar="URL", help="the service compared with it")
    parser.add_argument(
        "--left-again",
        metavar="URL",
        help="left once more (itself, or a second instance): what differs between left's two answers is noise",
    )
    parser.add_argument(
        "--listen", required=True, metavar="[HOST:]PORT", help="where clients connect; HOST defaults to 127.0.0.1"
    )
    parser.add_argument("--report", type=Path, metavar="FILE", help="JSON report, rewritten while running and on exit")
    parser.add_argument(
        "--allow-unsafe",
        action="store_true",
        help="mirror every method, not only GET, HEAD and OPTIONS (side effects happen on each service)",
    )
    parser.add_argument(
        "--keep-host", action="store_true", help="send each service the client's Host, not the service's own"
    )
    parser.add_argument(
        "--rule",
        metavar="RULE",
        action="append",
        default=[],
        help="a comparison rule, as twinport parity takes it (header:NAME=ignore, json:PATH=unordered...)",
    )
    parser.add_argument("--max-body", type=_count, default=MIB, metavar="BYTES", help="compare bodies up to this size")
    parser.add_argument(
        "--max-request-body", type=_count, default=MIB, metavar="BYTES", help="a larger request body gets 413"
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=10.0, metavar="SECONDS", help="for every read, client or upstream"
    )
    parser.add_argument(
        "--max-findings", type=_count, default=1000, metavar="N", help="findings kept; the rest counted"
    )
    parser.add_argument("--max-in-flight", type=_positive, default=64, metavar="N", help="comparisons at once")
    parser.add_argument("--events", type=_positive, default=5, metavar="N", help="events compared per stream")
    parser.add_argument(
        "--report-every", type=_seconds, default=2.0, metavar="SECONDS", help="how often --report is rewritten"
    )


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number of at least 0: {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return seconds
