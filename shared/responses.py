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
from ._files import FileFacts, content_type_for, file_representation
from ._representation import Representation, ResponsePlan, allow_header, plan_bytes, plan_json, plan_problem, plan_text

__all__ = [
    "I18N_FILE",
    "REPORT_PDF",
    "as_json",
    "basic_1",
    "basic_2",
    "basic_3",
    "basic_4",
    "basic_5",
    "basic_6",
    "cache_demo",
    "download",
    "healthz",
    "http_error",
    "i18n_file",
    "no_such_file",
    "options",
    "report_pdf",
    "video",
]

REPORT_PDF = "report.pdf"
I18N_FILE = "보고서.pdf"


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


# §2.3 and §2.5.1: the file routes. Each says how a file of the data directory is presented; the
# adapters open the file and plan Range and conditional answers from this representation.


def download(facts: FileFacts) -> Representation:
    """``/files/<name>``: send_from_directory(..., as_attachment=True, download_name=name)."""
    return file_representation(facts, attachment=True, download_name=_leaf(facts.relative))


def report_pdf(facts: FileFacts) -> Representation:
    """``/reports/pdf``: the PDF inline, still named so "save as" has a name."""
    return file_representation(facts, attachment=False, download_name=REPORT_PDF, content_type="application/pdf")


def i18n_file(facts: FileFacts) -> Representation:
    """``/i18n-file``: 보고서.pdf downloaded as 보고서_2025Q4.pdf (RFC 8187 name, ASCII fallback)."""
    return file_representation(facts, attachment=True, download_name="보고서_2025Q4.pdf")


def video(facts: FileFacts) -> Representation | None:
    """``/video/<name>``: videos only, inline, seekable by Range; anything else is not found."""
    if not content_type_for(facts.relative).startswith("video/"):
        return None
    return file_representation(facts, attachment=False, download_name=_leaf(facts.relative))


def no_such_file() -> ResponsePlan:
    """Missing, not a regular file, outside the data directory, or a refused name: one answer."""
    return plan_problem(404, "No file by that name.")


def _leaf(relative: str) -> str:
    return relative.rsplit("/", 1)[-1]


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
