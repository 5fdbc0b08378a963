"""Run the parity cases against both runtimes and report what differs.

For each case the harness sends the request to Flask twice and to Quart twice (Diffy's
"learned noise"): a field that changes between two answers of one runtime is reported as
nondeterministic, a field that differs between the runtimes as a difference. Both are
defects; the only tolerated noise is the documented normalizations in ``compare``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from .cases import CASES, Case
from .cases.files import prepare_file_fixtures
from .clients import Client, Exchange, FlaskInProcess, QuartInProcess, WireClient
from .compare import with_boot, without_boot
from .pair import Finding, compare_case, send_case
from .report import Format, Run, write
from .servers import DEFAULT_SERVINGS, Serving, running_server

__all__ = [
    "MODES",
    "PROFILES",
    "Pairs",
    "format_table",
    "in_process_pair",
    "main",
    "run_case",
    "run_cases",
    "wire_pair",
]

MODES = ("in-process", "wire")
BY_ID = {case.id: case for case in CASES}
# Settings a case can ask for on top of ``parity_settings`` (Case.profile).
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    # /api/v1 with bearer tokens and a bucket of two requests that refills once in 1000 s: each
    # case uses its own token, so each has its own bucket (cases/data.py).
    # POST /events likewise (cases/streams.py): its own tokens, two publishes per address.
    "guarded": {
        "api_tokens": "t-ok,t-list,t-limited",
        "rate_limit": 0.001,
        "rate_burst": 2,
        "publish_tokens": "p-ok,p-other",
        "publish_rate": 0.001,
        "publish_burst": 2,
    },
}


def run_case(case: Case, flask: Client, quart: Client, mode: str) -> list[Finding]:
    def send(client: Client, case: Case) -> Exchange:
        boot = event_boot(client)  # compare.without_boot: the one value learned per runtime
        return without_boot(send_case(client, replace(case, headers=with_boot(case.headers, boot))), boot)

    return compare_case(case, flask, quart, mode, send=send)


_BOOTS: weakref.WeakKeyDictionary[Client, str] = weakref.WeakKeyDictionary()


def event_boot(client: Client) -> str:
    """The boot token of the event hub behind ``client`` (``/ops/stats``), asked once per client."""
    if client not in _BOOTS:
        _BOOTS[client] = str(json.loads(client.request("GET", "/ops/stats").body)["sse_boot"])
    return _BOOTS[client]


def run_cases(cases: Iterable[Case], pairs: Pairs) -> list[Finding]:
    findings: list[Finding] = []
    for case in cases:
        findings += pairs.run(case)
    return findings


class Pairs:
    """The Flask and Quart clients of one mode, per profile, started when first asked for and
    stopped with the ``ExitStack``; over the wire, on the servings given (else the defaults)."""

    def __init__(
        self,
        mode: str,
        settings: Mapping[str, Any],
        stack: ExitStack,
        servings: tuple[Serving, Serving] | None = None,
        *,
        pair_for: Callable[[Mapping[str, Any]], AbstractContextManager[tuple[Client, Client]]] | None = None,
        **started: tuple[Client, Client],
    ) -> None:
        self.mode = mode
        self._settings = dict(settings)
        self._stack = stack
        self._servings = servings or (DEFAULT_SERVINGS["flask"], DEFAULT_SERVINGS["quart"])
        # What a finding's "mode" column says: over the wire, on which servers.
        self.label = mode if mode == "in-process" else f"wire {self._servings[0].id} / {self._servings[1].id}"
        # What compares with what, for a profile's settings: by default Flask with Quart.
        self._pair_for = pair_for
        self._pairs: dict[str, tuple[Client, Client]] = dict(started)
        self._sent: dict[str, set[str]] = {}

    def run(self, case: Case) -> list[Finding]:
        """The case's findings, sent to this mode's pair for its profile; the cases it comes
        ``after`` are sent first if this pair has not had them (their findings count too)."""
        sent = self._sent.setdefault(case.profile, set())
        findings: list[Finding] = []
        for earlier in (BY_ID[case_id] for case_id in case.after if case_id not in sent):
            findings += self.run(earlier)
        flask, quart = self.get(case.profile)
        sent.add(case.id)
        return findings + run_case(case, flask, quart, self.label)

    def get(self, profile: str) -> tuple[Client, Client]:
        if profile not in self._pairs:
            settings = {**self._settings, **PROFILES[profile]}
            if self._pair_for is not None:
                pair = self._pair_for(settings)
            elif self.mode == "in-process":
                pair = in_process_pair(settings)
            else:
                pair = wire_pair(settings, *self._servings)
            self._pairs[profile] = self._stack.enter_context(pair)
        return self._pairs[profile]


def parity_settings(data_dir: Path) -> dict[str, Any]:
    """The settings both runtimes run with in the parity suite (and the fixtures its data
    directory needs: the symlinks of the traversal cases, the hidden and non-regular files).
    The state (the SQLite database) lives beside the data directory, never in it, shared by
    the in-process apps and both servers as one deployment's would be."""
    prepare_file_fixtures(str(data_dir))
    return {
        "data_dir": str(data_dir),
        "state_dir": str(data_dir.with_name(data_dir.name + "-state")),
        # Streams at test speed: /stream/gen in 50 ms, a CSV of three batches (the last one
        # partial), a client that left let go within half a second, and a replay buffer small
        # enough that the publish cases overflow it (cases/streams.py).
        "stream_delay": 0.01,
        "export_rows": 2500,
        "sse_heartbeat": 0.5,
        "sse_replay": 3,
        # Many requests from one address in a few seconds: no 429 outside the "guarded" profile.
        "rate_limit": 100_000.0,
        "rate_burst": 100_000,
        "publish_rate": 100_000.0,
        "publish_burst": 100_000,
    }


@contextmanager
def in_process_pair(
    settings: Mapping[str, Any], flask_app: Any = None, quart_app: Any = None
) -> Iterator[tuple[Client, Client]]:
    import flask_impl
    import quart_impl

    flask = FlaskInProcess(flask_app or flask_impl.create_app(dict(settings)))
    with QuartInProcess(quart_app or quart_impl.create_app(dict(settings))) as quart:
        yield flask, quart


@contextmanager
def wire_pair(
    settings: Mapping[str, Any], flask: Serving | None = None, quart: Serving | None = None
) -> Iterator[tuple[Client, Client]]:
    with (
        running_server("flask", settings, flask) as flask_server,
        running_server("quart", settings, quart) as quart_server,
    ):
        yield (
            WireClient(flask_server.host, flask_server.port, "flask"),
            WireClient(quart_server.host, quart_server.port, "quart"),
        )


def format_table(findings: Iterable[Finding]) -> str:
    rows = [("case", "mode", "kind", "field", "flask (or 1st)", "quart (or 2nd)")]
    rows += [(f.case, f.mode, f.kind, f.field, _clip(f.left), _clip(f.right)) for f in findings]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(
    mode: str = "both",
    cases: Iterable[Case] = CASES,
    pairings: Sequence[tuple[Serving, Serving]] | None = None,
    format: Format = "text",
    output: Path | None = None,
) -> int:
    """``twinport parity``: every case, both runtimes, the chosen modes (over the wire on each of
    ``pairings``, else on the default servers), reported as ``report.write`` writes ``format``;
    exit 1 on any finding."""
    cases = tuple(cases)
    chosen: list[tuple[str, tuple[Serving, Serving] | None]] = []
    if mode in ("both", "in-process"):
        chosen.append(("in-process", None))
    if mode in ("both", "wire"):
        wire: Sequence[tuple[Serving, Serving] | None] = pairings or [None]
        chosen += [("wire", pairing) for pairing in wire]
    findings: list[Finding] = []
    labels: list[str] = []
    with tempfile.TemporaryDirectory(prefix="twinport-parity-") as scratch:
        settings = parity_settings(Path(scratch) / "data")
        for current, servings in chosen:
            # Each pairing on servers of its own, stopped before the next starts.
            with ExitStack() as servers:
                pairs = Pairs(current, settings, servers, servings)
                findings += run_cases(cases, pairs)
            labels.append(pairs.label)
            print(f"{pairs.label}: {len(cases)} cases sent to both runtimes", file=sys.stderr)
    run = Run(findings, [case.id for case in cases], labels, "flask", "quart")
    write(run, format, output)
    return 0 if run.alike else 1
