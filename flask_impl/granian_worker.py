"""granian's app factory, as twinport runs it: ``--interface wsgi --factory flask_impl.granian_worker:create_app``.

granian runs this in each worker process; the app is ``flask_impl.create_app``, unchanged. What
the worker arranges around it:

- **It exits when its master dies** (``shared.edge.lifecycle.exit_with_parent``), also while it is
  still loading: granian forks its workers with the master's SIGTERM handler in place
  (``granian/server/common.py``, ``signal_handler_interrupt``), which swallows the signal in a
  worker until granian installs the worker's own, after this factory. SIGTERM is set back to
  its default action here, so a worker told to stop before it serves simply ends.
- **The gate sees the request as the client sent it** (``GranianEnviron``): granian's environ
  (``src/wsgi/callbacks.rs``, ``build_wsgi``) says ``HTTP/1`` for HTTP/1.0, and invents
  ``HTTP_HOST`` when the request has no Host field: the target's authority, else ``""``.
- What it cannot arrange: **a deadline for the body**. granian's ``wsgi.input`` blocks in Rust
  until the bytes come, with no timeout (``src/wsgi/types.rs``, ``WSGIBody.read``; granian issue
  728, closed as wontfix), so a client that stalls mid-body holds a blocking thread until it
  sends again or goes. Reading in another thread, to answer 408 at the deadline, is worse: once
  a request ends with its body's read still waiting in that thread, the worker answers nothing
  more (measured with 40 stalled bodies: one 408, then every request times out; gdb shows the
  GIL held by a granian thread blocked in a futex, with no Python frame). Behind the shipped
  nginx, which buffers bodies, no stalled body reaches granian (tests/test_slow_clients.py).
- **It writes the access log line gunicorn writes** (``WsgiAccessLog``): the server's own is off.
- **Its heap is settled once the app is loaded** (``settle_heap``, the ``gc_freeze`` setting).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from shared.config import load_settings
from shared.edge.access_log import WsgiAccessLog
from shared.edge.lifecycle import exit_with_parent, settle_heap

__all__ = ["GranianEnviron", "create_app"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def create_app() -> Flask:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        exit_with_parent(parent.pid)
    settings = load_settings().settings
    from flask_impl import create_app as create_flask_app

    app = create_flask_app(settings)
    app.wsgi_app = WsgiAccessLog(GranianEnviron(app.wsgi_app))  # type: ignore[method-assign]
    settle_heap(settings.gc_freeze)  # last: what is loaded by now is frozen
    return app


class GranianEnviron:
    """Outermost but for the log: the environ as gunicorn would have built it from the same
    request, where granian's differs in what the gate (``_gate.py``) decides on.

    - ``SERVER_PROTOCOL``: ``HTTP/1.0`` (granian writes ``HTTP/1``), which the gate reads to admit
      an HTTP/1.0 request without Host, and the log writes.
    - ``HTTP_HOST``: removed when empty, which is what granian writes for a request with no Host
      field and no authority in its target, so that RFC 9112 §3.2's 400 is answered (and HTTP/1.0
      served). A client that sends an empty Host gets the same 400, and so does one whose Host is
      not visible ASCII (``bücher.example`` in latin-1), which granian blanks as it blanks any
      such field value (``to_str().unwrap_or_default()``): granian's environ is the same for
      all three (parity case ``host-non-ascii``, a listed server difference).
    """

    def __init__(self, wsgi_app: WSGIApp) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("SERVER_PROTOCOL") == "HTTP/1":
            environ["SERVER_PROTOCOL"] = "HTTP/1.0"
        if environ.get("HTTP_HOST") == "":
            del environ["HTTP_HOST"]
        return self.wsgi_app(environ, start_response)
