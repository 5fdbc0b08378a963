"""The request gate as ASGI middleware: Host, request-target and body framing, decided by
``shared.protocol.gate`` before werkzeug builds a URL or routes.

Wrapped around ``app.asgi_app`` in ``create_app``, outside hypercorn's ProxyFixMiddleware: it
sees the request as received, and checks a trusted X-Forwarded-Host before the proxy fix picks
from it. Without it, werkzeug's ``Map.bind`` raised
on a Host label over 63 characters inside Quart's request context (a 500), and hypercorn (h11)
served a request with both Content-Length and Transfer-Encoding and kept the connection open for
the next one (RFC 9112 §6.1 says close): this gate answers 400 with ``Connection: close``, which
h11 obeys. The body is read here under the app's ``MAX_CONTENT_LENGTH`` and handed on whole, so
a chunked and a declared body meet the same limit and the same 413 as in the WSGI twin.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from quart import Quart

from shared.edge.access_log import BYTES_SENT, RESPONSE_START
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

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _ClientGone(Exception):
    """http.disconnect while the body was read: nobody is left to answer."""


class RequestGate:
    """Outermost: refuse what ``gate_request`` refuses, route an absolute-form target on its own
    authority, and read the body under the limit (413 past it, 400 when its chunks are broken)."""

    def __init__(self, asgi_app: ASGIApp, app: Quart) -> None:
        self.asgi_app = asgi_app
        self.app = app
        self._methods: frozenset[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.asgi_app(scope, receive, send)
            return
        method = scope["method"]
        trusts_proxies = bool(self.app.config["TWINPORT"].trusted_proxy_hops)
        verdict = gate_request(_head(scope, trusts_proxies), self._server_methods())
        if isinstance(verdict, Answered):
            await write_plan(verdict.plan, method, send, close=verdict.close)
            return
        received = scope
        scope = _admit(scope, verdict)
        try:
            read = await self._read_body(scope, receive)
        except _ClientGone:
            return
        if isinstance(read, ResponsePlan):
            await write_plan(read, method, send, close=True)
            return
        await self.asgi_app(scope, read, _counting(send, received))

    def _server_methods(self) -> frozenset[str]:
        if self._methods is None:
            self._methods = frozenset(method for rule in self.app.url_map.iter_rules() for method in rule.methods or ())
        return self._methods

    async def _read_body(self, scope: Scope, receive: Receive) -> ResponsePlan | Receive:
        """Read the whole body into memory (at most the limit), or the plan that refuses it;
        the app then receives it as one message, and whatever comes after (a disconnect)."""
        settings = self.app.config["TWINPORT"]
        limit = self.app.config.get("MAX_CONTENT_LENGTH") or settings.publish_max_bytes
        fields = _fields(scope)
        chunked = "chunked" in (fields.get("transfer-encoding") or "").lower()
        expects_continue = (fields.get("expect") or "").lower() == "100-continue"
        plan = plan_body(fields.get("content-length"), chunked, limit, expects_continue=expects_continue)
        if plan is None:
            return receive
        deadline = time.monotonic() + settings.client_timeout
        try:
            if isinstance(plan, BodyRefused):
                await _discard(receive, plan.drain, deadline)
                return body_too_large()
            body, more = await _read_up_to(receive, plan, deadline)
            if len(body) > limit:
                if more:
                    await _discard(receive, plan.drain, deadline)
                return body_too_large()
        except TimeoutError:
            return body_timed_out()
        if plan.declared is not None and len(body) < plan.declared:
            return body_malformed()
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


async def write_plan(plan: ResponsePlan, method: str, send: Send, *, close: bool) -> None:
    """A literal plan as ASGI, no body on HEAD; ``close`` adds ``Connection: close``, which h11
    obeys (it then closes after the answer instead of reading another request)."""
    plan = plan.for_method(method)
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in plan.headers]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": plan.status, "headers": headers})
    await send({"type": "http.response.body", "body": plan.in_memory_body(), "more_body": False})


def _fields(scope: Scope) -> dict[str, str]:
    """The request's fields by lowercase name, repeated ones joined with commas (as gunicorn
    joins them for WSGI, so several Host fields fail the same check in both)."""
    fields: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        fields[name] = f"{fields[name]},{value}" if name in fields else value
    return fields


def _head(scope: Scope, trusts_proxies: bool) -> RequestHead:
    # hypercorn puts the target as received in raw_path (an absolute-form one whole), the query
    # split off into query_string.
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    fields = _fields(scope)
    return RequestHead(
        method=scope["method"],
        target=target,
        http_version=scope.get("http_version", "1.1"),
        host=fields.get("host"),
        content_length=fields.get("content-length"),
        transfer_encoding=fields.get("transfer-encoding"),
        forwarded_host=fields.get("x-forwarded-host") if trusts_proxies else None,
    )


def _admit(scope: Scope, verdict: Admitted) -> Scope:
    if verdict.path is None:
        return scope
    headers = [(name, value) for name, value in scope["headers"] if name.lower() != b"host"]
    if verdict.host is not None:
        headers.append((b"host", verdict.host.encode("latin-1")))
    return {
        **scope,
        "path": unquote_to_bytes(verdict.path).decode("utf-8", "surrogateescape"),
        "raw_path": verdict.path.encode("latin-1"),
        "query_string": (verdict.query or "").encode("latin-1"),
        "headers": headers,
    }


async def _receive_by(receive: Receive, deadline: float) -> Message:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError()
    async with asyncio.timeout(remaining):
        message = await receive()
    if message["type"] == "http.disconnect":
        # Also what hypercorn sends after answering a malformed chunked body with its own 400.
        raise _ClientGone()
    return message


async def _read_up_to(receive: Receive, plan: ReadBody, deadline: float) -> tuple[bytes, bool]:
    """The body up to one byte past the limit, and whether the client has more to send."""
    parts = bytearray()
    more = True
    while more and len(parts) <= plan.limit:
        message = await _receive_by(receive, deadline)
        parts += message.get("body", b"")
        more = bool(message.get("more_body", False))
    return bytes(parts), more


async def _discard(receive: Receive, budget: int, deadline: float) -> None:
    """RFC 9112 §9.6: keep reading what the client still sends, up to a bound, so that it is
    reading when the 413 comes and not told its connection was reset."""
    while budget > 0:
        try:
            message = await _receive_by(receive, deadline)
        except TimeoutError:
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _counting(send: Send, scope: Scope) -> Send:
    """``send``, counting the body bytes the app writes into the server's scope, where the access
    log finds them (``%(b)s``, as gunicorn logs the bytes it sent: shared.edge.access_log), and
    keeping the response's start there for a log the server does not write."""
    scope[BYTES_SENT] = 0

    async def counted(message: Message) -> None:
        if message["type"] == "http.response.body":
            scope[BYTES_SENT] += len(message.get("body", b""))
        elif message["type"] == "http.response.pathsend":
            # The whole file, as its start's Content-Length says (quart_impl/_files.py).
            start = scope.get(RESPONSE_START, {})
            length = next((value for name, value in start.get("headers", ()) if name == b"content-length"), b"0")
            scope[BYTES_SENT] += int(length)
        elif message["type"] == "http.response.start":
            scope[RESPONSE_START] = message
        await send(message)

    return counted
