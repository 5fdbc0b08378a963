"""From request fields and a representation's facts to a full response plan.

This is where the conditional logic (``conditional``), the Range logic (``ranges``) and the
header choices meet, so that an adapter's whole job is: gather facts, call ``plan_*``, then
write ``plan.status``, ``plan.headers`` and the body parts, which are literal bytes or spans
of the representation the adapter knows how to read (a file, a bytes object).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any

from .conditional import NotModified, PreconditionFailed, RequestConditions, Validators, evaluate_preconditions
from .dates import format_http_date
from .ranges import DEFAULT_MAX_RANGES, ByteRanges, ByteSpan, RangeMalformed, RangeNotSatisfiable, plan_range

__all__ = [
    "Representation",
    "ResponsePlan",
    "allow_header",
    "json_bytes",
    "plan_bytes",
    "plan_json",
    "plan_problem",
    "plan_representation",
]

Headers = tuple[tuple[str, str], ...]
BodyPart = bytes | ByteSpan

# RFC 9110 §15.4.5: a 304 MUST carry these if the 200 would have; we send nothing else of the
# representation's metadata (SHOULD NOT), and Flask strips the rest from a 304 anyway.
_NOT_MODIFIED_FIELDS = frozenset({"cache-control", "content-location", "date", "etag", "expires", "vary"})
# A fixed order for Allow: frameworks build it from a set, whose order follows PYTHONHASHSEED.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """Status, every header the application decides, and the body in parts.

    ``ByteSpan`` parts are slices of the representation; the adapter reads them. Servers add
    only Date, Server and framing (Transfer-Encoding, Connection), which the parity suite
    documents as the normalized fields.
    """

    status: int
    headers: Headers
    body: tuple[BodyPart, ...] = ()

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def in_memory_body(self) -> bytes:
        """The body when every part is literal (all ``plan_bytes``/``plan_json`` plans)."""
        if any(isinstance(part, ByteSpan) for part in self.body):
            raise TypeError("this plan has spans of a representation; read them from its source")
        return b"".join(part for part in self.body if isinstance(part, bytes))

    def with_source(self, source: bytes) -> ResponsePlan:
        """The same plan with every span cut out of ``source``, for representations held in
        memory (JSON): the adapters then write it like any literal plan."""
        body = tuple(part if isinstance(part, bytes) else source[part.first : part.last + 1] for part in self.body)
        return ResponsePlan(self.status, self.headers, body)

    def for_method(self, method: str) -> ResponsePlan:
        """HEAD gets every header GET would, Content-Length included, and no body (§9.3.2)."""
        return ResponsePlan(self.status, self.headers) if method.upper() == "HEAD" else self


@dataclass(frozen=True, slots=True)
class Representation:
    """The selected representation's facts: how long, what type, how to validate it, and the
    headers that belong to it whatever the status (Cache-Control, Vary, Content-Disposition)."""

    size: int
    content_type: str | None
    validators: Validators = field(default_factory=Validators)
    headers: Headers = ()
    accept_ranges: bool = True


def json_bytes(value: Any) -> bytes:
    """JSON as Flask's ``jsonify`` writes it outside debug: compact, sorted keys, ASCII-escaped,
    one trailing newline. Written here so neither framework's JSON provider decides the bytes."""
    # allow_nan=False: NaN and Infinity are not JSON (RFC 8259 §6); a ValueError, never such bytes.
    return (
        json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("ascii")
        + b"\n"
    )


def plan_bytes(
    body: bytes, *, status: int = 200, content_type: str, headers: Iterable[tuple[str, str]] = ()
) -> ResponsePlan:
    return ResponsePlan(
        status,
        (("Content-Type", content_type), ("Content-Length", str(len(body))), *headers),
        (body,),
    )


def plan_json(value: Any, *, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> ResponsePlan:
    # RFC 8259 §11: application/json defines no charset parameter (jsonify sends none either).
    return plan_bytes(json_bytes(value), status=status, content_type="application/json", headers=headers)


# RFC 9457 §4.2.1: with "about:blank" the title SHOULD be the status code's recommended phrase.
# Those are RFC 9110 §15's names (and RFC 6585's for 428, 429, 431, 511). Python's HTTPStatus took
# them only in 3.13: 3.11 still says "Request Entity Too Large", "Requested Range Not Satisfiable",
# "Unprocessable Entity" and "Request-URI Too Long", so the title would follow the interpreter.
_TITLES = {
    400: "Bad Request",  # §15.5.1
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",  # §15.5.14
    414: "URI Too Long",  # §15.5.15
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",  # §15.5.17
    417: "Expectation Failed",
    421: "Misdirected Request",
    422: "Unprocessable Content",  # §15.5.21
    426: "Upgrade Required",  # §15.5.22
    428: "Precondition Required",  # RFC 6585 §3
    429: "Too Many Requests",  # RFC 6585 §4
    431: "Request Header Fields Too Large",  # RFC 6585 §5
    500: "Internal Server Error",  # §15.6.1
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",  # §15.6.6
    511: "Network Authentication Required",  # RFC 6585 §6
}


def _status_title(status: int) -> str:
    """A problem's title: the RFC's name of the status, whatever Python's ``HTTPStatus`` says."""
    return _TITLES.get(status) or HTTPStatus(status).phrase


def plan_problem(
    status: int,
    detail: str | None = None,
    *,
    headers: Iterable[tuple[str, str]] = (),
    extra: dict[str, Any] | None = None,
) -> ResponsePlan:
    """An RFC 9457 problem document, the one error body both runtimes send; ``extra`` holds
    extension members (§3.2), e.g. the name of a bad query parameter."""
    problem: dict[str, Any] = {**(extra or {}), "type": "about:blank", "title": _status_title(status), "status": status}
    if detail:
        problem["detail"] = detail
    return plan_bytes(json_bytes(problem), status=status, content_type="application/problem+json", headers=headers)


def allow_header(methods: Iterable[str]) -> str:
    """Allow in a fixed order (well-known methods first, then the rest sorted)."""
    unique = {method.strip().upper() for method in methods if method.strip()}
    known = [method for method in _METHOD_ORDER if method in unique]
    return ", ".join(known + sorted(unique.difference(_METHOD_ORDER)))


def plan_representation(
    method: str,
    fields: Iterable[tuple[str, str]],
    representation: Representation,
    *,
    now: datetime,
    max_ranges: int = DEFAULT_MAX_RANGES,
) -> ResponsePlan:
    """GET or HEAD on a representation: 200, 206, 304, 412 or 416, headers and body parts.
    (Call ``for_method`` on the result, as the adapters do for every plan, to drop HEAD's body.)"""
    conditions = RequestConditions.from_fields(fields, now=now)
    decision = evaluate_preconditions(method, conditions, representation.validators, now=now)
    metadata = _metadata(representation)
    if isinstance(decision, NotModified):
        kept = tuple((name, value) for name, value in metadata if name.lower() in _NOT_MODIFIED_FIELDS)
        return ResponsePlan(304, kept)
    if isinstance(decision, PreconditionFailed):
        return plan_problem(412, "A precondition in the request does not hold for the current representation.")
    size = representation.size
    outcome = (
        plan_range(conditions.range, size, max_ranges=max_ranges)
        if decision.honour_range and representation.accept_ranges
        else None
    )
    if isinstance(outcome, (RangeMalformed, RangeNotSatisfiable)):
        # §15.5.17: a 416 to a byte range request SHOULD carry Content-Range: bytes */size.
        return plan_problem(
            416,
            "None of the requested ranges overlap the representation."
            if isinstance(outcome, RangeNotSatisfiable)
            else "The Range header is malformed.",
            headers=(("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes")),
        )
    if isinstance(outcome, ByteRanges) and len(outcome.spans) == 1:
        span = outcome.spans[0]
        headers = _with_type(
            representation.content_type, str(span.length), metadata, ("Content-Range", span.content_range(size))
        )
        return ResponsePlan(206, headers, (span,))
    if isinstance(outcome, ByteRanges):
        boundary = _boundary(representation)
        body = _multipart_body(outcome.spans, size, representation.content_type, boundary)
        length = sum(part.length if isinstance(part, ByteSpan) else len(part) for part in body)
        headers = _with_type(f"multipart/byteranges; boundary={boundary}", str(length), metadata)
        return ResponsePlan(206, headers, body)
    headers = _with_type(representation.content_type, str(size), metadata)
    return ResponsePlan(200, headers, (ByteSpan(0, size - 1),) if size else ())


def _metadata(representation: Representation) -> Headers:
    validators = representation.validators
    fields: list[tuple[str, str]] = []
    if validators.etag is not None:
        fields.append(("ETag", validators.etag.to_header()))
    if validators.last_modified is not None:
        fields.append(("Last-Modified", format_http_date(validators.last_modified)))
    if representation.accept_ranges:
        fields.append(("Accept-Ranges", "bytes"))  # §14.3
    return (*fields, *representation.headers)


def _with_type(content_type: str | None, length: str, metadata: Headers, *extra: tuple[str, str]) -> Headers:
    typed = (("Content-Type", content_type),) if content_type else ()
    return (*typed, ("Content-Length", length), *extra, *metadata)


def _boundary(representation: Representation) -> str:
    """The same boundary for the same representation, so both runtimes send identical bytes;
    derived from the validators, so it changes when the content does (RFC 2046 §5.1.1 wants a
    boundary that does not occur in the parts: 24 hex digits of a hash make that negligible)."""
    validators = representation.validators
    seed = f"{validators.etag.to_header() if validators.etag else ''}|{validators.last_modified}|{representation.size}"
    return "twinport-" + hashlib.blake2b(seed.encode("utf-8"), digest_size=12).hexdigest()


def _multipart_body(
    spans: Sequence[ByteSpan], size: int, content_type: str | None, boundary: str
) -> tuple[BodyPart, ...]:
    # RFC 9110 §14.6: each part carries Content-Range, and Content-Type when there is one.
    parts: list[BodyPart] = []
    for index, span in enumerate(spans):
        lines = [f"--{boundary}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Range: {span.content_range(size)}")
        separator = "\r\n" if index else ""
        parts.append((separator + "\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        parts.append(span)
    parts.append(f"\r\n--{boundary}--\r\n".encode("latin-1"))
    return tuple(parts)
