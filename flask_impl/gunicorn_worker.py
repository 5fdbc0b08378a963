"""gunicorn's gthread worker, with a deadline for a client's request (the ``client_timeout`` setting).

gunicorn 27's gthread worker hands a new connection to a thread and that thread waits up to 5 s
for a first byte, then blocks in ``recv`` until the head (and, while the app reads it, the body)
has arrived, with no deadline at all: 32 clients that send their heads slowly, or declare a large
body and stall, hold the 32 threads, and ``/healthz`` is accepted and never answered (issue 8,
item 4). gunicorn 27 has no setting for it (``timeout`` watches the worker's main loop, not a
client; ``keepalive`` only the idle time between requests). This worker changes four things:

- **The head is gathered in the main loop**, without a thread: a new (or kept-alive) connection
  waits in the poller, each readable event is a non-blocking ``recv``, and only a connection whose
  head has arrived whole (``CRLF CRLF``, or more than the largest head gunicorn accepts, which its
  parser then refuses) is handed to a thread. A head not complete within ``client_timeout`` of
  the connection's start (or of its previous response) is closed without an answer, as hypercorn
  closes it (its ``keep_alive_timeout`` runs from the same moment until the head arrives).
- **The body has ``client_timeout`` from the head's arrival**, as a total deadline, not per
  ``recv``: each read waits at most the time left, so a client trickling a byte a second is cut
  off too. Past it the read raises ``TimeoutError``, which the request gate (``_gate.py``,
  reading the body under the same deadline) answers with its 408, as Quart's gate does.
- **No ``100 Continue`` for a body that will be refused** (RFC 9110 §10.1.1: a server MAY omit it
  and answer the final status instead): gunicorn writes it before the app runs, so a declared
  ``Content-Length`` over ``publish_max_bytes`` (the apps' ``MAX_CONTENT_LENGTH``) gets none.
- **The lingering close is the main loop's, not a blocking one** (RFC 9112 §9.6): gunicorn 27
  half-closes, then drains up to 64 KiB for up to 2 s with a blocking ``recv`` *on the main
  loop*; a client that keeps its end open stalls every other connection, and a body longer
  than 64 KiB is cut with a reset, so the client never reads the 413. Here the socket waits in the
  poller and is drained up to ``shared.edge.lifecycle.LINGER_BYTES`` or ``client_timeout``.

Loaded by ``gunicorn_conf.py`` from this file's path (``import flask_impl`` would load Flask into
the master); gunicorn's own threads, keep-alive and shutdown are unchanged.

``gevent_worker()`` builds the counterpart on gunicorn's gevent worker (``worker_class = "gevent"``),
with the same four features; see its docstring. It is built only when chosen: importing gevent
costs the master (and each forked worker) 5 MiB (measured), which a gthread deployment would pay
for nothing.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

# gunicorn ships no type information (27.0): its classes are Any here.
from gunicorn import http  # type: ignore[import-untyped]
from gunicorn.http.unreader import SocketUnreader  # type: ignore[import-untyped]
from gunicorn.workers import gthread  # type: ignore[import-untyped]

from shared.edge.lifecycle import LINGER_BYTES, declared_length, head_complete

__all__ = ["ThreadWorker", "gevent_worker"]

_RECV = 64 * 1024


class _DeadlineUnreader(SocketUnreader):  # type: ignore[misc]  # an untyped base
    """gunicorn's socket reader, each ``recv`` bounded by the time left before ``conn.deadline``."""

    def __init__(self, conn: _Conn) -> None:
        super().__init__(conn.sock)
        self.conn = conn

    def chunk(self, size_hint: int | None = None) -> bytes:
        remaining = self.conn.deadline - time.monotonic()
        prior = self.sock.gettimeout()
        try:
            if remaining <= 0:
                raise TimeoutError
            # finish_body (gunicorn's keep-alive drain) sets a shorter timeout of its own.
            self.sock.settimeout(remaining if prior is None else min(prior, remaining))
            return bytes(super().chunk(size_hint))
        except TimeoutError:
            if self.conn.in_body:
                raise
            # An unfinished head: the same quiet close as a head that never came.
            raise http.errors.NoMoreData(b"") from None
        finally:
            self.sock.settimeout(prior)


class _Conn(gthread.TConn):  # type: ignore[misc]
    def __init__(self, worker: ThreadWorker, sock: socket.socket, client: Any, server: Any) -> None:
        super().__init__(worker.cfg, sock, client, server)
        self.worker = worker
        self.data_ready = True  # readiness is the poller's business here, never a thread's
        self.head = bytearray()
        self.deadline = 0.0
        self.in_body = False
        self.gathering = False

    def init(self) -> None:
        fresh = not self.initialized
        super().init()
        if fresh and not self.is_http2 and isinstance(self.parser.unreader, SocketUnreader):
            pending = self.parser.unreader.take_buffered()
            self.parser.unreader = _DeadlineUnreader(self)
            self.parser.unreader.unread(pending)
            self.hand_over_head()

    def hand_over_head(self) -> None:
        """Give the parser the head bytes the main loop gathered (it reads them before the socket)."""
        if self.parser is not None and self.head:
            self.parser.unreader.unread(bytes(self.head))
            self.head.clear()

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.worker.linger(self.sock)
        else:
            super().close()


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    def init_process(self) -> None:
        from shared.config import load_settings

        settings = load_settings().settings
        self.client_timeout = settings.client_timeout
        self.body_limit = settings.publish_max_bytes
        self.max_head = _max_head(self.cfg)
        self.gathering: deque[_Conn] = deque()  # by deadline; entries handed over are skipped
        self.lingering: deque[tuple[float, socket.socket]] = deque()  # by deadline
        self.stop_at = float("inf")
        super().init_process()

    # -- the head, gathered in the main loop

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._gather(_Conn(self, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn: _Conn, client: socket.socket) -> None:
        # A kept-alive connection's next request: its head is gathered like a new one's.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._gather(conn)

    def _gather(self, conn: _Conn) -> None:
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.client_timeout
        conn.in_body = False
        conn.gathering = True
        self.gathering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_readable, conn))

    def _on_head_readable(self, conn: _Conn, client: socket.socket) -> None:
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.head += data
        if head_complete(bytes(conn.head), self.max_head):
            conn.gathering = False
            self.poller.unregister(client)
            conn.hand_over_head()
            super().enqueue_req(conn)  # keeping the deadline the head was given

    def _drop(self, conn: _Conn) -> None:
        conn.gathering = False
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        gthread.TConn.close(conn)

    def murder_pending(self) -> None:
        # Called by gunicorn's main loop (and its stop loop) once a second at least.
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:
            # Stopping: a head still on its way gets what a kept-alive connection gets.
            self.stop_at = min(self.stop_at, now + gthread.STOP_KEEPALIVE_LINGER)
        while self.gathering and (
            not self.gathering[0].gathering or min(self.gathering[0].deadline, self.stop_at) <= now
        ):
            conn = self.gathering.popleft()
            if conn.gathering:
                self._drop(conn)
        while self.lingering and self.lingering[0][0] <= now:
            self._unlinger(self.lingering.popleft()[1])

    def run(self) -> None:
        try:
            super().run()
        finally:
            for _, sock in self.lingering:
                sock.close()

    def enqueue_req(self, conn: _Conn) -> None:
        # gunicorn's path for a pipelined request, whose head was read ahead with the previous
        # body: it may still be incomplete, so it gets a head deadline of its own.
        conn.deadline = time.monotonic() + self.client_timeout
        super().enqueue_req(conn)

    # -- the body's deadline and Expect: 100-continue

    def handle_request(self, req: Any, conn: _Conn) -> bool:
        conn.deadline = time.monotonic() + self.client_timeout
        conn.in_body = True
        _no_continue_over(req, self.body_limit)
        try:
            return bool(super().handle_request(req, conn))
        finally:
            conn.in_body = False

    def _keepalive_after(self, conn: _Conn, keepalive: bool) -> bool:
        conn.in_body = False  # past the deadline the drain gives up: the connection closes
        return bool(super()._keepalive_after(conn, keepalive))

    # -- the lingering close (RFC 9112 §9.6), in the poller

    def linger(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._on_linger_readable, [0]))
        except (OSError, ValueError, KeyError):
            self._unlinger(sock)
            return
        self.lingering.append((time.monotonic() + self.client_timeout, sock))

    def _on_linger_readable(self, drained: list[int], sock: socket.socket) -> None:
        try:
            data = sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        drained[0] += len(data)
        if not data or drained[0] >= LINGER_BYTES:
            self._unlinger(sock)

    def _unlinger(self, sock: socket.socket) -> None:
        if sock.fileno() < 0:
            return
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(sock)
        sock.close()


def gevent_worker() -> type:
    """twinport's worker on gunicorn's gevent worker: one greenlet per connection, so the deadlines
    are the connection's own, not the main loop's.

    gunicorn 27's gevent worker (``gunicorn/workers/ggevent.py``, ``base_async.py``) bounds a
    request head by ``keepalive`` (2 s) and a body not at all: a client that declares a body and
    stalls holds its greenlet (and its place in ``worker_connections``) for ever, and the gate,
    whose deadline is checked between reads, never gets to answer its 408. It also writes ``100
    Continue`` before the app runs, and closes a connection at once, with no lingering close. So:

    - **Every read of the client socket has a deadline** (``_ClientSocket.recv``): a head has
      ``client_timeout`` from the connection's start or from the previous response, and a
      kept-alive connection gunicorn's ``keepalive`` for the next request's first byte, as in the
      gthread worker; past it the connection closes without an answer (``NoMoreData``, which
      gunicorn logs at debug). A body has ``client_timeout`` from the head's arrival, as a total,
      so a byte a second is cut off too: the read raises ``TimeoutError``, the gate's 408, and
      gunicorn closes the connection after a body it failed to read (``Body.failed``).
    - **No ``100 Continue`` for a body that will be refused** (RFC 9110 §10.1.1), as above.
    - **A lingering close** (RFC 9112 §9.6): ``_ClientSocket.close`` half-closes and drains up to
      ``LINGER_BYTES`` or ``client_timeout`` in a greenlet outside the worker's pool, so the
      client reads its 413 (or 408) instead of a reset, and a stop does not wait for it.
    - **SIGTERM's end of the event streams runs in a greenlet** (``spawn_from_signal``): a Python
      signal handler may run inside gevent's hub, where a thread's start (which waits for the
      thread) raises ``BlockingSwitchOutError`` (measured, with the gthread worker's thread).

    gunicorn monkey-patches in ``init_process`` (``monkey.patch_all()``), after the fork and
    before it loads the app, so the app, the hub's locks and SQLAlchemy's pool get gevent's
    threading; this function runs in the master, unpatched, and names gevent's socket class
    itself. A TLS socket (``certfile``, which twinport never sets: TLS is the proxy's) keeps
    gunicorn's own handling.
    """
    import gevent  # type: ignore[import-untyped]
    from gevent import socket as gsocket
    from gunicorn.workers import ggevent

    class _ClientSocket(gsocket.socket):  # type: ignore[misc]  # an untyped base
        __slots__ = ("deadline", "idle_until", "in_body", "linger_for")

        def __init__(self, fileno: int, timeout: float) -> None:
            super().__init__(fileno=fileno)
            self.deadline = time.monotonic() + timeout
            self.idle_until = float("inf")
            self.in_body = False
            self.linger_for = timeout  # 0 once the client has closed its end: nothing to wait for

        def recv(self, *args: Any) -> bytes:
            remaining = min(self.deadline, self.idle_until) - time.monotonic()
            prior = self.gettimeout()
            try:
                if remaining <= 0:
                    raise TimeoutError
                # finish_body (gunicorn's keep-alive drain) may set a shorter timeout of its own.
                self.settimeout(remaining if prior is None else min(prior, remaining))
                data = bytes(super().recv(*args))
            except TimeoutError:
                if self.in_body:
                    raise
                # An unfinished head (or none on a kept-alive connection): a quiet close.
                raise http.errors.NoMoreData(b"") from None
            finally:
                self.settimeout(prior)
            if data:
                self.idle_until = float("inf")
            else:
                self.linger_for = 0
            return data

        def close(self) -> None:
            linger_for, self.linger_for = self.linger_for, 0
            if linger_for > 0 and not self.closed:
                try:
                    self.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                else:
                    gevent.spawn(self._drain_then_close, time.monotonic() + linger_for)
                    return
            super().close()

        def _drain_then_close(self, deadline: float) -> None:
            drained = 0
            try:
                while drained < LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
                    self.settimeout(remaining)
                    data = gsocket.socket.recv(self, _RECV)
                    if not data:
                        break
                    drained += len(data)
            except OSError:  # a reset, or the deadline (TimeoutError)
                pass
            finally:
                gsocket.socket.close(self)

    class GeventWorker(ggevent.GeventWorker):  # type: ignore[misc]  # an untyped base
        def patch(self) -> None:
            super().patch()  # monkey.patch_all(): from here on, imports get gevent's threading
            from shared.config import load_settings

            settings = load_settings().settings
            self.client_timeout = settings.client_timeout
            self.body_limit = settings.publish_max_bytes

        def spawn_from_signal(self, step: Callable[[], None]) -> None:
            """Run ``step`` outside the signal handler that calls this (``gunicorn_conf.py``), in a
            greenlet: not on a thread as for gthread, whose start waits, which the hub refuses."""
            gevent.spawn(step)

        def timeout_ctx(self) -> contextlib.nullcontext[None]:
            # The head's deadlines are the socket's (_ClientSocket.recv), not one Timeout of
            # keepalive seconds around the whole head.
            return contextlib.nullcontext()

        def handle(self, listener: socket.socket, client: Any, addr: Any) -> None:
            if type(client) is gsocket.socket:
                client = _ClientSocket(client.detach(), self.client_timeout)
            super().handle(listener, client, addr)

        def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
            if not isinstance(sock, _ClientSocket):
                return super().handle_request(listener_name, req, sock, addr)
            sock.deadline = time.monotonic() + self.client_timeout
            sock.in_body = True
            _no_continue_over(req, self.body_limit)
            try:
                return super().handle_request(listener_name, req, sock, addr)
            finally:
                sock.in_body = False
                now = time.monotonic()
                sock.deadline = now + self.client_timeout
                sock.idle_until = now + self.cfg.keepalive

    return GeventWorker


def _no_continue_over(req: Any, limit: int) -> None:
    """RFC 9110 §10.1.1: no ``100 Continue`` (gunicorn writes it in ``wsgi.create``, before the app
    runs) for a declared body over ``limit``; the app answers the final status, its 413, instead."""
    length = declared_length((name, value) for name, value in req.headers)
    if length is not None and length > limit:
        req._expected_100_continue = False


def _max_head(cfg: Any) -> int:
    """The longest head gunicorn's parser can accept; a longer one is its 400/431 to answer."""
    line = cfg.limit_request_line or 8190
    field = cfg.limit_request_field_size or 8190
    return int(line + 2 + cfg.limit_request_fields * (field + 2) + 2)
