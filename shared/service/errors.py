"""Errors and the automatic OPTIONS: the answers both frameworks write differently on their own.

Every error the frameworks raise (404, 405, 413, ...) is one RFC 9457 problem document (Flask and
Quart write different HTML pages), and ``Allow`` comes in one fixed order (both frameworks build it
from a set). Parity cases: ``not-found``, ``method-delete``, ``method-unknown``, ``options``, ``options-healthz``
(parity_tests/cases/basic.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..protocol.cache import no_store
from ..protocol.gate import BODY_TOO_LARGE
from ..protocol.representation import ResponsePlan, allow_header, plan_problem

__all__ = ["DATABASE_RETRY_SECONDS", "database_unavailable", "http_error", "options"]

# Retry-After on a 503 for a database that cannot answer: the stores' connect timeout, so a
# client that waits as told finds a database that is back, or this answer again as quickly.
DATABASE_RETRY_SECONDS = 5


def options(methods: Iterable[str]) -> ResponsePlan:
    """The automatic OPTIONS answer, with Allow in a fixed order (both frameworks use a set)."""
    return ResponsePlan(200, (("Allow", allow_header(methods)), ("Content-Length", "0")))


_DETAILS = {
    404: "No resource lives at this URL.",
    405: "This resource does not support the request method.",
    413: BODY_TOO_LARGE,
    415: "This resource does not accept the request's media type.",
    500: "The server failed to answer this request.",
}


def http_error(status: int, allowed_methods: Iterable[str] | None = None, detail: str | None = None) -> ResponsePlan:
    """Every error the frameworks raise (404, 405, ...) as one problem document; ``detail`` is what
    a view said in ``abort(status, detail)``, else this status's own sentence."""
    headers = [("Allow", allow_header(allowed_methods))] if status == 405 and allowed_methods else []
    return plan_problem(status, detail or _DETAILS.get(status), headers=headers)


def database_unavailable() -> ResponsePlan:
    """The database is down, refuses connections, or has none free: 503 (RFC 9110 §15.6.4: a
    temporary state) with Retry-After (§10.2.3), not a 500 that says the request was wrong, and
    never cached. The reason (the driver's message) is for the server's log, not the client.
    The data endpoints and ``/healthz`` answer it alike. Test:
    tests/test_postgresql_servers.py."""
    return plan_problem(
        503,
        "The database is unavailable; try again later.",
        headers=(("Retry-After", str(DATABASE_RETRY_SECONDS)), ("Cache-Control", no_store().to_header())),
    )
