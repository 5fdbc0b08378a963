"""The request gate as WSGI middleware: Host, request-target and body framing, decided by
``shared.protocol.gate`` before werkzeug builds a URL or routes.

Wrapped around ``app.wsgi_app`` in ``create_app``, outside ProxyFix: it sees the request as
received, and checks a trusted X-Forwarded-Host before ProxyFix picks from it. The body is read here, under the app's
``MAX_CONTENT_LENGTH``, and handed on in memory: werkzeug wraps a chunked body (gunicorn sets
``wsgi.input_terminated``) in a ``LimitedStream`` that stops at the limit without an error, so
``get_data`` returned the first MiB of a 2 MiB body; and gunicorn raises its chunk parse errors
(``InvalidChunkSize``, ...) from ``wsgi.input.read`` into the view.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from flask import Flask
from gunicorn.http.errors import NoMoreData, ParseException  # type: ignore[import-untyped]

from shared.protocol.gate import (
    Admitted,
    Answered,
    BodyRefused,
    ReadBody,
    RequestHead,
    body_malformed,
    body_timed_out,
    body_too_large,
    gate_request,
    plan_body,
)
from shared.protocol.representation import ResponsePlan

__all__ = ["RequestGate", "write_plan"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_READ_SIZE = 64 * 1024


class RequestGate:
    """Outermost: refuse what ``gate_request`` refuses, route an absolute-form target on its own
    authority, and read the body under the limit (413 past it, 400 when its chunks are broken)."""

    def __init__(self, wsgi_app: WSGIApp, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self._methods: frozenset[str] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        trusts_proxies = bool(self.app.config["TWINPORT"].trusted_proxy_hops)
        verdict = gate_request(_head(environ, trusts_proxies), self._server_methods())
        if isinstance(verdict, Answered):
            return write_plan(verdict.plan, method, start_response)
        _admit(environ, verdict)
        refusal = self._read_body(environ)
        if refusal is not None:
            return write_plan(refusal, method, start_response)
        return self.wsgi_app(environ, start_response)

    def _server_methods(self) -> frozenset[str]:
        if self._methods is None:
            self._methods = frozenset(method for rule in self.app.url_map.iter_rules() for method in rule.methods or ())
        return self._methods

    def _read_body(self, environ: dict[str, Any]) -> ResponsePlan | None:
        """Read the whole body into memory (at most the limit), or the plan that refuses it."""
        settings = self.app.config["TWINPORT"]
        limit = self.app.config.get("MAX_CONTENT_LENGTH") or settings.publish_max_bytes
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        expects_continue = environ.get("HTTP_EXPECT", "").lower() == "100-continue"
        plan = plan_body(environ.get("CONTENT_LENGTH") or None, chunked, limit, expects_continue=expects_continue)
        if plan is None:
            return None
        stream: IO[bytes] = environ["wsgi.input"]
        deadline = time.monotonic() + settings.client_timeout
        try:
            if isinstance(plan, BodyRefused):
                _discard(stream, plan.drain, deadline)
                return body_too_large()
            body = _read_up_to(stream, plan, deadline)
            if len(body) > limit:
                _discard(stream, plan.drain, deadline)
                return body_too_large()
        except TimeoutError:
            return body_timed_out()
        except (ParseException, NoMoreData, OSError):
            # gunicorn marks the connection unusable when its body reader raised (Body.failed).
            return body_malformed()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return None


def write_plan(plan: ResponsePlan, method: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A literal plan as WSGI, no body on HEAD. (gunicorn drops a Connection header from the
    app; it closes by itself after a body it failed to read.)"""
    plan = plan.for_method(method)
    start_response(f"{plan.status} {HTTPStatus(plan.status).phrase}", list(plan.headers))
    return [plan.in_memory_body()]


def _head(environ: dict[str, Any], trusts_proxies: bool) -> RequestHead:
    # gunicorn's RAW_URI (uWSGI and others: REQUEST_URI) is the target as received; a server
    # with neither gives only the origin-form path.
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (environ.get("PATH_INFO") or "/")
    protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    return RequestHead(
        method=environ["REQUEST_METHOD"],
        target=target,
        http_version=protocol.partition("/")[2] or "1.1",
        host=environ.get("HTTP_HOST"),
        content_length=environ.get("CONTENT_LENGTH") or None,
        transfer_encoding=environ.get("HTTP_TRANSFER_ENCODING"),
        forwarded_host=environ.get("HTTP_X_FORWARDED_HOST") if trusts_proxies else None,
    )


def _admit(environ: dict[str, Any], verdict: Admitted) -> None:
    if verdict.host is not None:
        environ["HTTP_HOST"] = verdict.host
    if verdict.path is not None:
        # PEP 3333: PATH_INFO is the decoded path as latin-1 text (what gunicorn sets).
        environ["PATH_INFO"] = unquote_to_bytes(verdict.path).decode("latin-1")
        environ["QUERY_STRING"] = verdict.query or ""


def _read_up_to(stream: IO[bytes], plan: ReadBody, deadline: float) -> bytes:
    """The declared length, or chunks until the end; one byte past the limit is enough to know."""
    wanted = plan.limit + 1 if plan.declared is None else plan.declared
    parts = bytearray()
    while len(parts) < wanted:
        if time.monotonic() >= deadline:
            raise TimeoutError()
        chunk = stream.read(min(_READ_SIZE, wanted - len(parts)))
        if not chunk:
            if plan.declared is not None:
                raise NoMoreData()
            break
        parts += chunk
    return bytes(parts)


def _discard(stream: IO[bytes], budget: int, deadline: float) -> None:
    """RFC 9112 §9.6: keep reading what the client still sends, up to a bound, so that it is
    reading when the 413 comes and not told its connection was reset."""
    while budget > 0 and time.monotonic() < deadline:
        try:
            chunk = stream.read(min(_READ_SIZE, budget))
        except TimeoutError:
            return  # the 413 is the answer all the same
        if not chunk:
            return
        budget -= len(chunk)
