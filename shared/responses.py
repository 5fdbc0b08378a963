"""What each simple endpoint answers: the seed's §2.1 and §2.4.4 responses, health, errors.

One function per endpoint, named after the view that calls it in both adapters. The seed
wrote these as Flask idioms (a ``str``, a ``dict``, a tuple, ``make_response``); the plans below
are what those idioms put on the wire, decided once, so the two frameworks' defaults never get
a say. One deliberate change: the seed's comment says ``/basic-1`` is ``text/plain; charset=utf-8``
while Flask would have sent ``text/html`` for a bare ``str``; plain text is what the seed meant
and what a client of ``OK`` expects, so both runtimes say ``text/plain``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._cache import no_store, revalidated
from ._representation import ResponsePlan, allow_header, plan_bytes, plan_json, plan_problem, plan_text

__all__ = [
    "as_json",
    "basic_1",
    "basic_2",
    "basic_3",
    "basic_4",
    "basic_5",
    "basic_6",
    "cache_demo",
    "healthz",
    "http_error",
    "options",
]


def basic_1() -> ResponsePlan:
    return plan_text("OK")


def basic_2() -> ResponsePlan:
    return plan_json({"ok": True, "version": 1})


def basic_3() -> ResponsePlan:
    return plan_text("Accepted", status=202)


def basic_4() -> ResponsePlan:
    return plan_json({"ok": True}, headers=[("X-App", "my-service")])


def basic_5() -> ResponsePlan:
    return plan_bytes(b"binary", content_type="application/octet-stream", headers=[("X-Trace-Id", "abc-123")])


def basic_6() -> ResponsePlan:
    # A relative Location is fine (RFC 9110 §10.2.2); werkzeug stopped rewriting it in 2.1.
    return plan_json({"message": "created"}, status=201, headers=[("Location", "/items/123")])


def as_json() -> ResponsePlan:
    return plan_json({"ok": True, "items": [1, 2, 3]})


def cache_demo() -> ResponsePlan:
    return plan_json(
        {"ok": True},
        headers=[("Cache-Control", revalidated(60).to_header()), ("Vary", "Accept-Encoding")],
    )


def healthz() -> ResponsePlan:
    return plan_json({"status": "ok"}, headers=[("Cache-Control", no_store().to_header())])


def options(methods: Iterable[str]) -> ResponsePlan:
    """The automatic OPTIONS answer, with Allow in a fixed order (both frameworks use a set)."""
    return ResponsePlan(200, (("Allow", allow_header(methods)), ("Content-Length", "0")))


_DETAILS = {
    404: "No resource lives at this URL.",
    405: "This resource does not support the request method.",
    413: "The request body is larger than this server accepts.",
    500: "The server failed to answer this request.",
}


def http_error(status: int, allowed_methods: Iterable[str] | None = None) -> ResponsePlan:
    """Every error the frameworks raise (404, 405, ...) as one problem document."""
    headers = [("Allow", allow_header(allowed_methods))] if status == 405 and allowed_methods else []
    return plan_problem(status, _DETAILS.get(status), headers=headers)
