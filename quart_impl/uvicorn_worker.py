"""uvicorn's app factory and HTTP protocol, as twinport runs them: ``--factory
quart_impl.uvicorn_worker:create_app --http quart_impl.uvicorn_worker:H11Protocol``.

uvicorn runs this in each worker process (in its only process when ``workers`` is 1); the app is
``quart_impl.create_app``, unchanged. uvicorn imports the ``--http`` class just before it calls the
factory (``Config.load``), so the factory configures the class it finds there. What the worker
arranges around the app:

- **It exits when its master dies** (``shared.edge.lifecycle.exit_with_parent``), when there is one.
- **It writes the access log line gunicorn writes** (``AsgiAccessLog``): the server's own is off.
- **Its heap is settled once the app is loaded** (``settle_heap``, the ``gc_freeze`` setting).
- **A request head has ``client_timeout`` to arrive**, from the connection's start or the previous
  response's end, and a connection whose head is not whole by then is closed without an answer,
  as on gunicorn and hypercorn. uvicorn's own ``timeout_keep_alive`` cannot do it: it is armed only
  when a response ends, and any byte received cancels it (``H11Protocol.data_received``), so a
  client trickling a head, or sending nothing at all, held its connection for ever.
- **An unparsable request gets hypercorn's answer**: h11's status (400; 431 for a head over the
  limit, 501 for a Transfer-Encoding it does not know) with ``Content-Length: 0`` and no body,
  which the app's gate also answers where the server passes the request on
  (``shared.protocol.gate.missing_host``). uvicorn's own is always 400 with a chunked
  "Invalid HTTP request received." (``H11Protocol.send_400_response``).
- **Open event streams end when the worker starts to stop**, as on gunicorn and hypercorn: uvicorn
  calls each connection's ``shutdown()`` first thing in its shutdown, and the first call closes the
  app's event hub, so each stream ends after what it has queued, uvicorn closes the connection and
  the client reconnects with Last-Event-ID.
- **Connections still open ``GRACEFUL_TIMEOUT`` after that are closed** (a download to a client
  that stopped reading), as hypercorn closes them after its graceful timeout. The app sees the
  disconnect and ends cleanly. uvicorn's own ``timeout_graceful_shutdown``, set later than this in
  ``shared/cli.py``, cancels the tasks still running instead, and logs each as "Exception in ASGI
  application" with a CancelledError traceback (``uvicorn/server.py`` ``Server.shutdown``,
  ``RequestResponseCycle.run_asgi``'s ``except BaseException``).
- **SIGTERM exits 0** once the worker has stopped, as gunicorn and hypercorn exit. uvicorn 0.29+
  raises the signal again after its graceful shutdown, with the default handler back, so the
  process dies of it (status -15; uvicorn PR 1600, ``Server.capture_signals``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, ClassVar

import h11
import uvicorn.server
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from quart import Quart
from uvicorn.protocols.http import h11_impl

from shared.config import load_settings
from shared.edge.access_log import AsgiAccessLog
from shared.edge.lifecycle import exit_with_parent, settle_heap

__all__ = ["GRACEFUL_TIMEOUT", "H11Protocol", "create_app"]

#: Seconds an open connection has to finish once the worker starts to stop (hypercorn's default
#: graceful timeout, which the hypercorn serving keeps).
GRACEFUL_TIMEOUT = 3.0


def create_app() -> Quart:
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        exit_with_parent(parent.pid)
    _exit_0_on_sigterm()
    settings = load_settings().settings
    from quart_impl import create_app as create_quart_app
    from quart_impl._events import EXTENSION as EVENTS_EXTENSION

    app = create_quart_app(settings)
    H11Protocol.head_timeout = settings.client_timeout
    H11Protocol.end_streams = app.extensions[EVENTS_EXTENSION].close
    app.asgi_app = AsgiAccessLog(app.asgi_app)  # type: ignore[method-assign,assignment]
    settle_heap(settings.gc_freeze)  # last: what is loaded by now is frozen
    return app


def _exit_0_on_sigterm() -> None:
    """SIGTERM stops uvicorn's server as its own handler does (``should_exit``, the attribute
    uvicorn documents for stopping a ``Server``), without recording the signal to raise again.
    The factory runs inside ``Server.serve``, so the handler in place is the server's."""
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    if not isinstance(server, uvicorn.server.Server):
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)


class Connection(h11.Connection):
    """Keeps the error h11 raised, for its status hint."""

    error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as error:
            self.error = error
            raise


class H11Protocol(h11_impl.H11Protocol):
    """uvicorn's h11 protocol with a head deadline, hypercorn's error answer, and a graceful stop
    that ends event streams and closes what is still open after ``GRACEFUL_TIMEOUT``."""

    head_timeout: ClassVar[float | None] = None  # client_timeout, set by create_app
    end_streams: ClassVar[Callable[[], None] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.config.h11_max_incomplete_event_size
        self.conn = Connection(h11.SERVER, DEFAULT_MAX_INCOMPLETE_EVENT_SIZE if size is None else size)
        self.head_deadline: asyncio.TimerHandle | None = None
        self.stop_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        for deadline in (self.head_deadline, self.stop_deadline):
            if deadline is not None:
                deadline.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
        if (timeout := type(self).head_timeout) is not None:
            self.head_deadline = self.loop.call_later(timeout, self._head_deadline_passed)

    def _head_deadline_passed(self) -> None:
        # h11 leaves the client IDLE until a whole head has arrived (it buffers a partial one).
        if self.conn.their_state is h11.IDLE:
            self.timeout_keep_alive_handler()  # closes without an answer, as the server's idle timer does

    def send_400_response(self, msg: str) -> None:
        # hypercorn's answer (hypercorn/protocol/h11.py _send_error_response): h11's status hint,
        # and a response only where one can still be sent (not after the app's has started).
        if self.conn.our_state in {h11.IDLE, h11.SEND_RESPONSE}:
            error = self.conn.error if isinstance(self.conn, Connection) else None
            status = 400 if error is None else error.error_status_hint
            headers = [*self.server_state.default_headers, (b"content-length", b"0"), (b"connection", b"close")]
            reason = h11_impl.STATUS_PHRASES[status]
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()

    def shutdown(self) -> None:
        end_streams = type(self).end_streams
        if end_streams is not None:
            end_streams()  # the hub's close is idempotent: the first connection's call ends them all
        super().shutdown()
        # Also after close(): a transport closes only once its buffer is sent, to a client that may
        # not be reading. connection_lost cancels it.
        self.stop_deadline = self.loop.call_later(GRACEFUL_TIMEOUT, self.transport.abort)
