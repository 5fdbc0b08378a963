"""The Python API that ``twinport parity`` rests on: a pair of clients, a case, a run, a finding.

    from parity_tests.targets import AppTarget, open_pair

    flask, quart = AppTarget("myapp:create_app", "wsgi"), AppTarget("myapp_quart:create_app", "asgi")
    with open_pair(flask, quart, mode="in-process") as pair:
        findings = pair.check("GET", "/items/1")  # [] when both answer alike

A **client** (``clients.Client``) sends one request to one side and records what came back (an
``Exchange``): in process (WSGI or ASGI, no server), over the wire to a server twinport started,
or to a base URL. A **case** (``cases.Case``) is one request and how much of its answer to read.
A **run** sends each case to both sides, twice each unless the case has side effects (Diffy's
learned noise: a field that changes between two answers of one side is *nondeterministic*, not a
difference), and compares under the pair's **rules** (``rules.Rules``: the built-in
normalizations unless told otherwise). A **finding** is one field that differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .case import Case
from .clients import Client, Exchange
from .compare import diff_exchanges
from .rules import DEFAULT_RULES, Rules

__all__ = ["DIFFERENCE", "Finding", "Pair", "Sender", "compare_case"]

DIFFERENCE = "difference"

#: How a run sends a case to one side: by default the case's request as it is
#: (``send_case``); twinport's own harness writes each runtime's event boot into it.
Sender = Callable[[Client, Case], Exchange]


@dataclass(frozen=True, slots=True)
class Finding:
    """One field that differs. ``kind`` is ``"difference"`` (left and right answered
    differently) or ``"nondeterministic in NAME"`` (one side answered the same request twice
    differently: ``left`` and ``right`` are then its first and second answer). ``field`` is
    ``status``, ``header <name>``, ``body``, a JSON path (``body $.items[3].name``) or an
    event's field (``event 2 data``)."""

    case: str
    mode: str
    kind: str
    field: str
    left: str
    right: str


def send_case(client: Client, case: Case) -> Exchange:
    for _ in range(case.prelude):
        client.request(case.method, case.target, case.headers, case.body)
    return client.request(
        case.method, case.target, case.headers, case.body, read_limit=case.read_limit, events=case.events
    )


def compare_case(
    case: Case,
    left: Client,
    right: Client,
    mode: str,
    rules: Rules = DEFAULT_RULES,
    send: Sender = send_case,
) -> list[Finding]:
    """Send ``case`` to both sides (twice each when it is repeatable) and return its findings.
    A case's own rules (``Case.rules``) come on top of the pair's."""
    if case.rules is not None:
        rules = rules.extended(case.rules)
    first_left, first_right = send(left, case), send(right, case)
    findings = [
        Finding(case.id, mode, DIFFERENCE, difference.field, difference.left, difference.right)
        for difference in diff_exchanges(first_left, first_right, rules)
    ]
    if case.repeatable:
        for client, first in ((left, first_left), (right, first_right)):
            for difference in diff_exchanges(first, send(client, case), rules):
                findings.append(
                    Finding(
                        case.id,
                        mode,
                        f"nondeterministic in {client.name}",
                        difference.field,
                        difference.left,
                        difference.right,
                    )
                )
    return findings


@dataclass
class Pair:
    """Two clients compared under ``rules``; ``mode`` labels the findings (``in-process``,
    ``wire``, ``url``...)."""

    left: Client
    right: Client
    mode: str = "in-process"
    rules: Rules = DEFAULT_RULES
    send: Sender = send_case
    findings: list[Finding] = field(default_factory=list)
    #: (case id, side, status) of every answer 5xx, in order: a report shows the server's log for them.
    server_errors: list[tuple[str, str, int]] = field(default_factory=list)

    def run(self, cases: Iterable[Case]) -> list[Finding]:
        """Every case's findings, in order; also kept in ``findings``."""
        found: list[Finding] = []
        for case in cases:
            found += compare_case(case, self.left, self.right, self.mode, self.rules, self._send_noting_errors)
        self.findings += found
        return found

    def _send_noting_errors(self, client: Client, case: Case) -> Exchange:
        exchange = self.send(client, case)
        if exchange.status >= 500 and (case.id, client.name, exchange.status) not in self.server_errors:
            self.server_errors.append((case.id, client.name, exchange.status))
        return exchange

    def check(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        id: str | None = None,
        events: int | None = None,
        read_limit: int | None = None,
        repeatable: bool | None = None,
        rules: Rules | None = None,
    ) -> list[Finding]:
        """One request as a case (``id`` defaults to ``METHOD target``); a method other than
        GET, HEAD and OPTIONS is sent once to each side, as a case with side effects."""
        if repeatable is None:
            repeatable = method.upper() in ("GET", "HEAD", "OPTIONS")
        case = Case(
            id or f"{method.upper()} {target}",
            target,
            method=method.upper(),
            headers=tuple(headers),
            body=body,
            read_limit=read_limit,
            events=events,
            repeatable=repeatable,
            rules=rules,
        )
        return self.run([case])
