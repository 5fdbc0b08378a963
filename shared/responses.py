"""The answers ``shared`` decides for the adapters: the seed's §2.2 stream heads, §2.5.2's cookie,
the event publication, the live counters, errors, the automatic OPTIONS, and how the data
directory's files are presented.

One function per endpoint, named after the view that calls it in both adapters. The seed's §2.1
responses (``/basic-1`` … ``/basic-6``, ``/as-json``, ``/cache-demo``) and ``/healthz`` are not
here: Flask and Quart answer those idioms alike, so the views write them as the seed does.

The §2.2 streams answer with a ``StreamHead`` (status and headers; the adapter writes the body from
a generator of ``shared``), the rest with a whole ``ResponsePlan``, which a view returns and the
app class's ``make_response`` writes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from werkzeug.http import dump_cookie

from ._cache import no_store
from ._disposition import content_disposition
from ._event_stream import InvalidPublication, parse_publication
from ._events import EventBackend
from ._files import FileFacts, content_type_for, file_representation
from ._representation import Representation, ResponsePlan, allow_header, plan_json, plan_problem
from ._streams import StreamHead, plan_stream

__all__ = [
    "I18N_FILE",
    "REPORT_PDF",
    "download",
    "export_csv",
    "http_error",
    "i18n_file",
    "no_such_file",
    "options",
    "publish_event",
    "report_pdf",
    "set_cookie",
    "sse",
    "stats",
    "stream_gen",
    "streams_full",
    "video",
]

REPORT_PDF = "report.pdf"
I18N_FILE = "보고서.pdf"


def stream_gen() -> StreamHead:
    """§2.2.1: the seed's mimetype ``text/plain`` with the charset Flask added; unbuffered, so a
    proxy passes each chunk on as it comes (the seed's own warning)."""
    return plan_stream("text/plain; charset=utf-8", unbuffered=True)


def export_csv() -> StreamHead:
    """§2.2.2: a download, so a proxy may buffer it (see ``plan_stream``)."""
    return plan_stream(
        "text/csv; charset=utf-8",
        unbuffered=False,
        headers=[("Content-Disposition", content_disposition("export.csv", attachment=True))],
    )


def sse() -> StreamHead:
    """§2.2.3: an event stream. WHATWG HTML §9.2.5: the stream is always UTF-8, so the charset
    parameter says nothing new; it is kept because the seed's Flask sent it."""
    return plan_stream("text/event-stream; charset=utf-8", unbuffered=True)


def streams_full(heartbeat: float) -> ResponsePlan:
    """``/events`` beyond the worker's stream cap (``stream_cap``): 503 (RFC 9110 §15.6.4, a
    temporary overload) so that the threads left keep answering /healthz and the API.

    ``Retry-After`` (§10.2.3) is one heartbeat, rounded up: a place held by a client that has gone
    is freed within one. The cap itself is not in the body: it differs per server (threads), and
    a client can do nothing with it. A browser's EventSource does not retry a 503 (WHATWG HTML
    §9.2.3 fails the connection), so a page must reconnect itself after Retry-After.
    """
    return plan_problem(
        503,
        "This server holds as many event streams as it allows; try again later.",
        headers=(("Retry-After", str(max(1, math.ceil(heartbeat)))), ("Cache-Control", no_store().to_header())),
    )


def publish_event(body: bytes, content_type: str | None, hub: EventBackend) -> ResponsePlan:
    """``POST /events``: publish ``{"event": ..., "data": ...}``; 202 with the event's id.

    202, not 201: the event has no URL of its own to put in a Location, and it reaches
    subscribers after this answer. A body of another media type is a 415 (RFC 9110 §15.5.16) that
    names the accepted one in ``Accept-Post`` (the field the W3C's LDP registered for POST). The
    id is a string, ``<boot>-<n>`` (``shared._events.EventId``). The views run ``publish_guard``
    (401, 429) before reading the body; the body limit (413) is ``publish_max_bytes``.
    """
    if not _is_json(content_type):
        return plan_problem(415, "Send the event as application/json.", headers=[("Accept-Post", "application/json")])
    publication = parse_publication(body)
    if isinstance(publication, InvalidPublication):
        return plan_problem(400, publication.detail)
    event = hub.publish(publication.event_type, publication.data)
    return plan_json({"id": str(event.id)}, status=202)


def _is_json(content_type: str | None) -> bool:
    # RFC 6838 §4.2.8: a "+json" suffix names a JSON-based type; parameters (charset) change nothing.
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def set_cookie() -> ResponsePlan:
    """§2.5.2: ``sid=s-1`` for an hour, HttpOnly, Secure, SameSite=Lax, Path=/.

    No ``Expires``: Flask's ``set_cookie(max_age=...)`` adds one computed from the clock, so the
    header would change every second and differ between two servers. RFC 6265 §5.3 step 3: a user
    agent that sees Max-Age ignores Expires, and every browser in use implements Max-Age. And
    ``no-store``: Set-Cookie does not keep a cache from storing a response (RFC 9111 says nothing
    of it), and one that hands out a session must never be replayed to someone else.
    """
    cookie = dump_cookie(
        "sid", "s-1", max_age=3600, path="/", secure=True, httponly=True, samesite="Lax", sync_expires=False
    )
    return plan_json({"ok": True}, headers=[("Set-Cookie", cookie), ("Cache-Control", no_store().to_header())])


def stats(hub: EventBackend) -> ResponsePlan:
    """Live counters for operators (and for the tests that count streams let go), and the hub's
    boot: the token its event ids start with, which changes with every start of the process (the
    parity harness learns it per runtime and compares ids with it replaced, compare.py)."""
    body = {"sse_boot": hub.boot, "sse_subscribers": hub.subscriber_count()}
    return plan_json(body, headers=[("Cache-Control", no_store().to_header())])


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
    415: "This resource does not accept the request's media type.",
    500: "The server failed to answer this request.",
}


def http_error(status: int, allowed_methods: Iterable[str] | None = None) -> ResponsePlan:
    """Every error the frameworks raise (404, 405, ...) as one problem document."""
    headers = [("Allow", allow_header(allowed_methods))] if status == 405 and allowed_methods else []
    return plan_problem(status, _DETAILS.get(status), headers=headers)
