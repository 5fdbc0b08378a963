"""The request gate: what a request's head and framing allow, decided before any URL is built.

Sans-I/O. The adapters' middlewares (``flask_impl/_gate.py`` for WSGI, ``quart_impl/_gate.py``
for ASGI) gather the facts the servers hand over (the request-target as received, the HTTP
version, Host, Content-Length, Transfer-Encoding), call ``gate_request``, and either answer the
plan themselves or pass the request on with the authority it must be routed on. Bodies are read
by the middlewares under ``plan_body``'s bound, so the two servers' readers (gunicorn's, which
raises its parse errors into the app, and hypercorn's) end in the same answers.

Where the servers diverge, and the parity case or test that proves each rule:
- werkzeug's ``Map.bind`` raises on a Host label over 63 characters inside Quart's request
  context (500; Flask 400), and an invalid Host is copied into URLs (``http:///abs``):
  ``host-label-too-long``, ``host-with-space`` (parity_tests/cases/gate.py).
- HTTP/1.1 without Host: gunicorn passes it to the app (200), h11 answers its own 400:
  ``test_http11_without_host_is_400``.
- An absolute-form target: both ignore its authority (RFC 9112 §3.2.2 says use it):
  ``test_absolute_form_target_authority_is_used``. granian hands the app only the target's path
  and query, so there the authority cannot be used (a strict xfail in that test), and it invents
  a Host for a request without one (the target's authority, else empty), which its worker module
  undoes for the empty case (``quart_impl/granian_worker.py``).
- ``OPTIONS *``: both route ``*`` as a path (404): ``options-asterisk``.
- Content-Length with Transfer-Encoding: hypercorn (h11) serves it and keeps the connection:
  ``test_content_length_with_transfer_encoding_closes``.
- A chunked body over the limit: werkzeug truncates it (a 202 for the first MiB), Quart 413;
  a malformed chunk size: gunicorn raises ``InvalidChunkSize`` into the view (500):
  ``test_body_over_the_limit_is_413[chunked]``, ``test_malformed_chunked_body_is_400``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .representation import ResponsePlan, allow_header, plan_problem

__all__ = [
    "BODY_TOO_LARGE",
    "DRAIN_FACTOR",
    "DRAIN_FLOOR",
    "Admitted",
    "Answered",
    "BodyRefused",
    "ReadBody",
    "RequestHead",
    "body_malformed",
    "body_timed_out",
    "body_too_large",
    "gate_request",
    "invalid_host",
    "is_valid_host",
    "missing_host",
    "plan_body",
]

# RFC 9112 §9.6: a server that refuses a body it has not read should keep reading (and
# discarding) for a while before it closes, or the client may see a reset, not the answer. The
# middlewares discard at most this many times the limit, and at least DRAIN_FLOOR bytes (a
# limit of 64 KiB would otherwise cut a 1 MiB upload short), within the client timeout.
# The frameworks' own limit (MAX_CONTENT_LENGTH) answers with the same detail (service.errors).
BODY_TOO_LARGE = "The request body is larger than this server accepts."
DRAIN_FACTOR = 4
DRAIN_FLOOR = 4 * 1024 * 1024

# RFC 3986 §3.2.2: unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~"). reg-name also
# allows pct-encoded octets and sub-delims ("!$&'()*+,;="): they name nothing DNS can resolve
# (RFC 1123 §2.1), werkzeug would copy them into URLs as they are, and no client sends them, so
# they are refused.
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~]+")
# RFC 3986 §3.2.3: port = *DIGIT. An empty port (``host:``) is grammatical, but URLs built from
# it would carry the bare colon; refused, with anything above 65535.
_PORT = re.compile(r"[0-9]{1,5}")
_MAX_LABEL = 63  # RFC 1035 §2.3.4
_MAX_NAME = 253  # RFC 1035 §2.3.4 (255 octets on the wire: 253 characters of dotted text)
_DETAILS = {
    "host": "The Host (or trusted X-Forwarded-Host) is not a valid host[:port].",
    "asterisk": 'Only OPTIONS may be sent to the asterisk-form target "*".',
    "target": "The request-target is not a valid origin-form or absolute-form http URI.",
    "framing": "Content-Length with Transfer-Encoding is not a request this server accepts.",
    "length": "The Content-Length is not a valid length.",
}


@dataclass(frozen=True, slots=True)
class RequestHead:
    """The facts: ``target`` exactly as received (gunicorn's ``RAW_URI``, hypercorn's
    ``raw_path`` and query), ``http_version`` as "1.0", "1.1" or "2", and each field's value or
    None when absent (several fields of one name joined with commas). ``forwarded_host``: the
    X-Forwarded-Host field, given only when the settings trust proxies (it then replaces Host)."""

    method: str
    target: str
    http_version: str
    host: str | None
    content_length: str | None = None
    transfer_encoding: str | None = None
    forwarded_host: str | None = None


@dataclass(frozen=True, slots=True)
class Admitted:
    """Pass the request on. ``host``: the authority the app must see as Host (the target's, for
    an absolute-form target; else the Host field's, None when HTTP/1.0 sent none). ``path`` and
    ``query``: set when the target was absolute-form, the origin-form parts to route on."""

    host: str | None
    path: str | None = None
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Answered:
    """Answer ``plan`` without calling the app; ``close``: the connection must not be reused
    (its framing is unknown)."""

    plan: ResponsePlan
    close: bool = False


@dataclass(frozen=True, slots=True)
class ReadBody:
    """Read the body (``declared`` bytes, or chunked when None), refusing it past ``limit``
    after discarding up to ``drain`` more bytes."""

    limit: int
    declared: int | None
    drain: int


@dataclass(frozen=True, slots=True)
class BodyRefused:
    """The declared length is already over ``limit``: discard up to ``drain`` bytes, then 413."""

    limit: int
    drain: int


def is_valid_host(value: str) -> bool:
    """RFC 9110 §7.2 / RFC 3986 §3.2.2-3: ``host [":" port]`` with host an IP-literal, an IPv4
    address or a reg-name of labels of at most 63 characters, at most 253 in all.

    An IP-literal must be an IPv6 address: IPvFuture (``[v1.x]``) is grammatical, but no address
    family defines one, so it cannot name this server. An IPv6 zone (RFC 6874) is refused: it
    means something only on the client's machine. Empty is refused (RFC 9110 §4.2.1: an http URI
    with an empty host is invalid)."""
    host, port = _split_port(value)
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= 65535):
        return False
    if host.startswith("["):
        return host.endswith("]") and _is_ipv6(host[1:-1])
    if not _REG_NAME.fullmatch(host):
        return False
    # A trailing dot is a fully qualified name (RFC 1034 §3.1), not an empty label.
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    return len(name) <= _MAX_NAME and all(0 < len(label) <= _MAX_LABEL for label in labels)


def gate_request(head: RequestHead, methods: Iterable[str]) -> Admitted | Answered:
    """The head's verdict, in the order a server meets the facts; ``methods``: every method
    some route accepts (the server-wide Allow of ``OPTIONS *``)."""
    if head.content_length is not None and head.transfer_encoding is not None:
        # RFC 9112 §6.1: a server MAY reject such a request, and MUST close the connection
        # after it either way; it is the shape of request smuggling behind a lenient proxy.
        return Answered(plan_problem(400, _DETAILS["framing"]), close=True)
    if head.content_length is not None and not _is_length(head.content_length):
        return Answered(plan_problem(400, _DETAILS["length"]), close=True)
    if head.target == "*":
        return _asterisk(head.method, methods)
    host = head.host
    path = query = None
    if not head.target.startswith("/"):
        # RFC 9112 §3.2.2: with an absolute-form target the server MUST ignore Host and use
        # the target's authority (and still 400 a request without Host, §3.2).
        absolute = _absolute_form(head.target)
        if absolute is None:
            return Answered(plan_problem(400, _DETAILS["target"]))
        if head.host is None and head.http_version == "1.1":
            return Answered(missing_host(), close=True)
        host, path, query = absolute
    if host is None:
        # RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host;
        # HTTP/1.0 had none to send (HTTP/2 carries :authority, which the servers map to Host).
        return Answered(missing_host(), close=True) if head.http_version == "1.1" else Admitted(None)
    if not is_valid_host(host) or not _forwarded_hosts_valid(head.forwarded_host):
        return Answered(invalid_host())
    return Admitted(host, path, query)


def invalid_host() -> ResponsePlan:
    """RFC 9112 §3.2: a Host with an invalid value (or several Host fields) is a 400; the same
    for a trusted X-Forwarded-Host, which takes Host's place when URLs are built."""
    return plan_problem(400, _DETAILS["host"])


def missing_host() -> ResponsePlan:
    """HTTP/1.1 without Host: the empty 400 that h11 (hypercorn's parser) answers before any app
    sees the request, so that gunicorn+Flask, which passes it on, answers the same on the wire."""
    return ResponsePlan(400, (("Content-Length", "0"),))


def plan_body(
    content_length: str | None, chunked: bool, limit: int, *, expects_continue: bool = False
) -> ReadBody | BodyRefused | None:
    """How to read a body admitted by ``gate_request``: None when there is none (RFC 9112 §6.3:
    neither field, or Content-Length 0), a refusal when the declared length is over the limit.

    A refused body is discarded up to a bound first, unless the client sent ``Expect:
    100-continue``: it then waits for a 100 that is not coming (RFC 9110 §10.1.1: the server may
    answer the final status instead), and reading would wait for bytes it has not sent."""
    drain = max(DRAIN_FACTOR * limit, DRAIN_FLOOR)
    if chunked:
        return ReadBody(limit, None, drain)
    if content_length is None or int(content_length) == 0:
        return None
    declared = int(content_length)
    if declared > limit:
        return BodyRefused(limit, 0 if expects_continue else min(declared, drain))
    return ReadBody(limit, declared, 0)


def body_too_large() -> ResponsePlan:
    """RFC 9110 §15.5.14, for a declared or a chunked body alike: the same 413 the frameworks'
    own limit answers. The caller closes the connection after it (the rest is not read)."""
    return plan_problem(413, BODY_TOO_LARGE)


def body_timed_out() -> ResponsePlan:
    """The body did not arrive within ``client_timeout`` (RFC 9110 §15.5.9)."""
    return plan_problem(408, "The request body did not arrive in time.")


def body_malformed() -> ResponsePlan:
    """A chunked body that breaks RFC 9112 §7.1 (a chunk size that is not hex, a missing CRLF):
    the empty 400 hypercorn's h11 answers itself, so gunicorn+Flask, which raises its parse error
    into the app, answers the same on the wire."""
    return missing_host()


def _asterisk(method: str, methods: Iterable[str]) -> Answered:
    """RFC 9110 §9.3.7: ``OPTIONS *`` asks about the server, not a resource. Answered 200 with
    the server-wide Allow (every method some resource accepts), as Apache does: a cheap "is it
    there, what does it speak" probe, where a 4xx would call a well-formed request wrong. RFC
    9112 §3.2.4: any other method with ``*`` is a malformed request, 400."""
    if method.upper() != "OPTIONS":
        return Answered(plan_problem(400, _DETAILS["asterisk"]))
    return Answered(ResponsePlan(200, (("Allow", allow_header(methods)), ("Content-Length", "0"))))


def _absolute_form(target: str) -> tuple[str, str, str] | None:
    """``http://authority/path?query`` (RFC 9112 §3.2.2) as (authority, path, query)."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return parts.netloc, parts.path or "/", parts.query


def _forwarded_hosts_valid(value: str | None) -> bool:
    """Every element of a trusted X-Forwarded-Host list must be a valid host, not only the one
    the proxy count picks: werkzeug's ProxyFix parses the list with quoted-strings (it dropped
    ``ev"il`` and kept Host) and hypercorn's splits on commas (it used ``ev"il``); on a list of
    valid hosts, which hold no quotes or commas, the two pick the same element."""
    if value is None:
        return True
    return all(is_valid_host(element.strip(" \t")) for element in value.split(","))


def _split_port(value: str) -> tuple[str, str | None]:
    if value.startswith("["):
        end = value.find("]")
        if end != -1 and value[end + 1 :].startswith(":"):
            return value[: end + 1], value[end + 2 :]
        return value, None
    host, colon, port = value.rpartition(":")
    return (host, port) if colon else (value, None)


def _is_ipv6(text: str) -> bool:
    if "%" in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_length(value: str) -> bool:
    # RFC 9112 §6.3: Content-Length = 1*DIGIT; a list of identical values is treated as one by
    # some servers, refused here (both servers already refuse differing ones).
    return value.isascii() and value.isdigit() and len(value) <= 18
