"""hypercorn's worker process, as twinport runs it: ``quart_impl.hypercorn_worker:create_app()``.

hypercorn loads its application in each worker process (spawned by the master), so this is where
a worker can arrange its own life; the app itself is ``quart_impl.create_app``, unchanged:

- **It exits when its master dies** (issue 8, item 10). hypercorn's master stops its workers
  through a shared event; after ``kill -9`` of the master nobody sets it, and the worker served
  on for minutes, holding the port (a restart failed with "Address already in use" while health
  checks passed). ``shared.edge.lifecycle.exit_with_parent``: the kernel's parent-death signal on Linux
  (immediate, no thread, no polling), checked against a master that died before it was set.
- (A request head has ``client_timeout`` through hypercorn's ``keep_alive_timeout``, set in
  ``hypercorn_conf.py``; the body has it through the app's request gate, ``_gate.py``.)
- **No ``100 Continue`` for a body that will be refused**, and **a lingering close**. hypercorn
  answers 100 the moment h11 says the client waits for it, before the app runs, and closes a
  connection with unread body bytes at once, so the client may get a reset instead of the 413
  (0.3% of tries). ASGI gives the app no say in either, and hypercorn no setting or hook: its
  ``ProtocolWrapper`` builds ``H11Protocol`` and its worker builds ``TCPServer`` by name. So two
  subclasses replace those names in this worker process (``_install``): a ``h11.Connection``
  that is not "waiting for 100-continue" when the declared ``Content-Length`` is over
  ``publish_max_bytes``, and a ``TCPServer`` whose close half-closes, reads and discards up to
  ``shared.edge.lifecycle.LINGER_BYTES`` for up to ``client_timeout`` (RFC 9112 §9.6), then closes.
- **Its heap is settled once the app is loaded** (``shared.edge.lifecycle.settle_heap``, the
  ``gc_freeze`` setting), as gunicorn's ``post_worker_init`` does it for Flask.
- **Open event streams end when the worker starts to stop**, as ``flask_impl/gunicorn_conf.py``
  makes them end in gunicorn: the app's event hub is closed the moment hypercorn's worker context
  is ``terminated``, so each stream ends after what it has queued, hypercorn closes the connection
  (it recycles none once terminated) and the client reconnects with Last-Event-ID. On Python 3.12+
  this is what lets the worker stop at all: ``asyncio.Server.wait_closed()``, which hypercorn awaits
  before its graceful timeout, waits for every connection to close, and a stream never would
  (measured on 3.13: SIGTERM with one /events client open hung until the client left).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from ssl import SSLError
from typing import Any

import h11
import hypercorn.asyncio.run
import hypercorn.logging
import hypercorn.protocol
from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.events import Closed, RawData
from hypercorn.protocol.h11 import H11Protocol
from quart import Quart

from shared.config import load_settings
from shared.edge.access_log import AsgiAtoms
from shared.edge.lifecycle import LINGER_BYTES, declared_length, exit_with_parent, settle_heap
from shared.settings import Settings

__all__ = ["create_app"]


def create_app() -> Quart:
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        exit_with_parent(parent.pid)
    settings = load_settings().settings
    from quart_impl import create_app as create_quart_app
    from quart_impl._events import EXTENSION as EVENTS_EXTENSION

    app = create_quart_app(settings)
    _install(settings, app.extensions[EVENTS_EXTENSION].close)
    # Only the atoms the access log's format uses, computed when it asks (hypercorn's AccessLogAtoms
    # computes ~30 and copies os.environ per request). hypercorn's Config.logger_class would need
    # an importable class, and any module of quart_impl imports the whole app into the master.
    hypercorn.logging.Logger.atoms = _atoms  # type: ignore[method-assign]
    settle_heap(settings.gc_freeze)  # last: what is loaded by now is frozen
    return app


def _atoms(self: Any, request: Any, response: Any, request_time: float) -> AsgiAtoms:
    return AsgiAtoms(request, response, request_time)


def _install(settings: Settings, end_streams: Callable[[], None]) -> None:
    limit, linger = settings.publish_max_bytes, settings.client_timeout
    # The one task per worker that waits for hypercorn's "terminated" (every connection shares the
    # worker's context), started by the first connection; kept here so it is not collected.
    stop_watch: list[asyncio.Task[None]] = []

    async def end_streams_when_stopping(context: Any) -> None:
        await context.terminated.wait()
        end_streams()

    class Connection(h11.Connection):
        refused = False

        def next_event(self) -> Any:
            event = super().next_event()
            if isinstance(event, h11.Request):
                length = declared_length(
                    (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
                )
                self.refused = length is not None and length > limit
            return event

        @property
        def they_are_waiting_for_100_continue(self) -> bool:
            # RFC 9110 §10.1.1: a server MAY omit 100 and answer the final status (the app's 413).
            return bool(super().they_are_waiting_for_100_continue) and not self.refused

    class Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.connection = Connection(h11.SERVER, max_incomplete_event_size=self.config.h11_max_incomplete_size)

    class Server(TCPServer):
        linger_until: float | None = None

        async def run(self) -> None:
            if not stop_watch:
                stop_watch.append(self.loop.create_task(end_streams_when_stopping(self.context)))
            try:
                await super().run()
            except asyncio.CancelledError:
                if not self.context.terminated.is_set():
                    raise
                # Stopping: hypercorn cancels the connections still open after its graceful
                # timeout (an event stream, a slow download). Python 3.11's start_server callback
                # then calls exception() on the cancelled task, which raises, and the loop logs
                # a CancelledError traceback (3.12 checks cancelled() first). The connection is
                # closed (run's finally); the task ends as finished.

        async def _close(self) -> None:
            # The protocol's close: half-close and let the read loop drain. run()'s own close,
            # once the read loop has ended, is the real one. Not while stopping.
            if (
                self.linger_until is None
                and not self.context.terminated.is_set()
                and not self.reader.at_eof()
                and not self.writer.is_closing()
            ):
                self.linger_until = self.loop.time() + linger
                try:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                        # Whatever the read loop is doing then, the socket closes at the deadline.
                        self.loop.call_at(self.linger_until, self.writer.close)
                        return
                except (OSError, RuntimeError):
                    pass
            await super()._close()

        async def _read_data(self) -> None:
            while not self.reader.at_eof() and self.linger_until is None:
                try:
                    data = await asyncio.wait_for(self.reader.read(MAX_RECV), self.config.read_timeout)
                except (ConnectionError, OSError, TimeoutError, SSLError):
                    break
                else:
                    await self.protocol.handle(RawData(data))
            if self.linger_until is not None:
                await self._discard(self.linger_until)
            await self.protocol.handle(Closed())

        async def _discard(self, until: float) -> None:
            drained = 0
            while drained < LINGER_BYTES and (remaining := until - self.loop.time()) > 0:
                try:
                    data = await asyncio.wait_for(self.reader.read(MAX_RECV), remaining)
                except (ConnectionError, OSError, TimeoutError, SSLError):
                    return
                if not data:
                    return
                drained += len(data)

    hypercorn.protocol.H11Protocol = Protocol  # type: ignore[attr-defined]
    hypercorn.asyncio.run.TCPServer = Server  # type: ignore[attr-defined]
