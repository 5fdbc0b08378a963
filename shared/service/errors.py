"""Errors and the automatic OPTIONS: the answers both frameworks write differently on their own.

Every error the frameworks raise (404, 405, 413, ...) is one RFC 9457 problem document (Flask and
Quart write different HTML pages), and ``Allow`` comes in one fixed order (both frameworks build it
from a set). Parity cases: ``not-found``, ``method-delete``, ``method-unknown``, ``options``, ``options-healthz``
(parity_tests/cases/basic.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..protocol.gate import BODY_TOO_LARGE
from ..protocol.representation import ResponsePlan, allow_header, plan_problem

__all__ = ["http_error", "options"]


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
