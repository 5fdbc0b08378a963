"""granian's app factory, as twinport runs it: ``--interface asgi --factory quart_impl.granian_worker:create_app``.

granian runs this in each worker process (in its only process when ``workers`` is 1); the app is
``quart_impl.create_app``, unchanged. What the worker arranges around it:

- **It exits when its master dies** (``shared.edge.lifecycle.exit_with_parent``), when there is
  one, also while it is still loading: granian forks its workers with the master's SIGTERM
  handler in place (``granian/server/common.py``, ``signal_handler_interrupt``), which swallows
  the signal in a worker until granian installs the worker's own, after this factory. SIGTERM is
  set back to its default action here, so a worker told to stop before it serves simply ends.
  The notice comes once, however many times the kernel repeats it: a second SIGTERM before
  granian serves blocks the worker for good (``exit_with_parent`` says how).
- **The gate sees the request as the client sent it** (``GranianScope``): granian's scope
  (``src/asgi/utils.rs``, ``build_scope_common``) says ``"1"`` for HTTP/1.0, and invents a
  ``host`` header when the request has no Host field: the target's authority, else empty.
- **A broken chunked body is answered** (``GranianScope``): granian hands the app
  ``http.disconnect`` for it and keeps the connection open for an answer.
- **It writes the access log line gunicorn writes** (``AsgiAccessLog``): the server's own is off.
- **Its heap is settled once the app is loaded** (``settle_heap``, the ``gc_freeze`` setting).
"""

from __future__ import annotations

import multiprocessing
import signal

from quart import Quart

from shared.config import load_settings
from shared.edge.access_log import BYTES_SENT, RESPONSE_START, AsgiAccessLog
from shared.edge.lifecycle import exit_with_parent, settle_heap
from shared.protocol.gate import body_malformed

from ._gate import ASGIApp, Message, Receive, Scope, Send, write_plan

__all__ = ["GranianScope", "create_app"]


def create_app() -> Quart:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        exit_with_parent(parent.pid)
    settings = load_settings().settings
    from quart_impl import create_app as create_quart_app

    app = create_quart_app(settings)
    app.asgi_app = AsgiAccessLog(GranianScope(app.asgi_app))  # type: ignore[method-assign,assignment]
    settle_heap(settings.gc_freeze)  # last: what is loaded by now is frozen
    return app


class GranianScope:
    """Outermost but for the log: the scope as hypercorn would have built it from the same
    request, where granian's differs in what the gate (``_gate.py``) decides on, and the answer
    to a body granian could not parse.

    - ``http_version``: ``"1.0"`` (granian writes ``"1"``, which the ASGI spec does not allow), which
      the gate reads to admit an HTTP/1.0 request without Host, and the log writes.
    - ``headers``: the empty ``host`` that granian inserts first for a request with no Host field
      and no authority in its target is removed, so that RFC 9112 §3.2's 400 is answered (and
      HTTP/1.0 served). A client that sends an empty Host as its first field gets the same 400:
      granian's scope is the same.
    - A chunked body that breaks RFC 9112 §7.1 (a chunk size that is not hex): hyper's error
      reaches the app as ``http.disconnect`` before the body's end (``src/asgi/io.rs``,
      ``receive``: ``Some(Err(_)) => None``), on a connection still open, where hypercorn
      answers its own 400 first. The gate, taking the disconnect for a client gone, answers
      nothing; this answers the 400 that hypercorn's h11 and the WSGI twin answer. A client that
      really went away mid-body looks the same to the app; the answer then goes nowhere.
    """

    def __init__(self, asgi_app: ASGIApp) -> None:
        self.asgi_app = asgi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.asgi_app(scope, receive, send)
            return
        if scope.get("http_version") == "1":
            scope["http_version"] = "1.0"
        headers = scope["headers"]
        if headers and tuple(headers[0]) == (b"host", b""):  # where granian inserts its own
            scope["headers"] = headers[1:]
        body_ended = broken = False

        async def receive_body() -> Message:
            nonlocal body_ended, broken
            message = await receive()
            if message["type"] == "http.request":
                body_ended = body_ended or not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not body_ended:
                broken = True
            return message

        await self.asgi_app(scope, receive_body, send)
        if broken and RESPONSE_START not in scope:
            await write_plan(body_malformed(), scope["method"], _recording(send, scope), close=True)


def _recording(send: Send, scope: Scope) -> Send:
    """``send``, keeping the answer's start and size in the scope for the access log, as the
    gate does for the app's answers."""
    scope[BYTES_SENT] = 0

    async def recorded(message: Message) -> None:
        if message["type"] == "http.response.start":
            scope[RESPONSE_START] = message
        else:
            scope[BYTES_SENT] += len(message.get("body", b""))
        await send(message)

    return recorded
