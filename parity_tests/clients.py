"""Send one request to one runtime and record exactly what it answered.

In-process, each app is driven through its own server interface: Flask through werkzeug's
WSGI test runner (``run_wsgi_app``, without the test client's response wrapper, which adds a
default Content-Type), Quart through a minimal ASGI driver (Quart's test client rebuilds the
response: it adds Content-Length to streamed bodies and returns a body on HEAD, none of which
is on the wire). Both drivers drop what the servers drop (``body_suppressed``), so in-process
and wire answers agree. Over the wire, ``http.client`` talks to the real servers, one
connection per request, headers in the order they arrived; ``UrlClient`` talks to a base URL
anywhere (http or https, HTTP/1.1 or HTTP/2) through httpx.
"""

from __future__ import annotations

import asyncio
import http.client
import inspect
from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_to_bytes, urlsplit

from werkzeug.test import EnvironBuilder, run_wsgi_app

from .sse import end_of_events

if TYPE_CHECKING:
    import ssl

__all__ = [
    "Client",
    "Exchange",
    "FlaskInProcess",
    "QuartInProcess",
    "ResponseTooLarge",
    "UrlClient",
    "WireClient",
    "body_suppressed",
    "enough",
]

Headers = tuple[tuple[str, str], ...]
#: The most of an event stream read while waiting for a case's events (``enough``).
STREAM_LIMIT = 16 * 1024 * 1024
# Both runtimes see the same Host, in-process and on the wire, so URLs they build agree.
HOST = "localhost"


def with_host(headers: Iterable[tuple[str, str]], host: str = HOST) -> Headers:
    """The request's fields with exactly the Host it names, or ``host`` when it names none (a
    case about Host sends its own, the same way in every client)."""
    given = tuple(headers)
    return given if any(name.lower() == "host" for name, _ in given) else (("Host", host), *given)


def body_suppressed(method: str, status: int) -> bool:
    """Whether a response carries no body whatever the app sent: the answer to HEAD (RFC 9110
    §9.3.2), a 1xx, a 204 (§15.3.5) or a 304 (§15.4.5). gunicorn and hypercorn drop such a body
    on the wire (and every client would ignore it), so the in-process drivers drop it too."""
    return method == "HEAD" or 100 <= status < 200 or status in (204, 304)


def enough(body: bytes | bytearray, read_limit: int | None, events: int | None) -> int | None:
    """How many bytes of a partial body to keep, once there are enough; None to read on.

    ``read_limit`` is a byte count. ``events`` counts the complete server-sent events at the
    start of the body (blocks ending in a blank line, comment-only blocks such as heartbeats not
    counted); the body is cut right after the last one, so a comparison never depends on how the
    bytes that followed were chunked (``sse.end_of_events``: LF, CRLF or CR line ends). A stream
    that never sends that many events (heartbeats only) is cut at ``STREAM_LIMIT`` bytes.
    """
    if read_limit is not None and len(body) >= read_limit:
        return read_limit
    if events is None:
        return None
    end = end_of_events(body, events)
    if end is None and len(body) >= STREAM_LIMIT:
        return STREAM_LIMIT
    return end


@dataclass(frozen=True, slots=True)
class Exchange:
    """What came back: the status code, every header in order (names as sent), the body."""

    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


class Client(Protocol):
    name: str

    def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        read_limit: int | None = None,
        events: int | None = None,
    ) -> Exchange: ...


class FlaskInProcess:
    """The Flask app (or any WSGI app) called as WSGI, in this thread, seen as gunicorn shows it
    to a client: ``host`` is the Host a request names when its case names none."""

    def __init__(self, app: Any, name: str = "flask", host: str = HOST) -> None:
        self.app = app
        self.name = name
        self.host = host
        self.log_path: Path | None = None

    def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        read_limit: int | None = None,
        events: int | None = None,
    ) -> Exchange:
        path, _, query = target.partition("?")
        fields = with_host(headers, self.host)
        builder = EnvironBuilder(
            path=path,
            query_string=query,
            method=method,
            headers=[field for field in fields if field[0].lower() != "host"],
            data=body,
            base_url=f"http://{self.host}/",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        # As gunicorn presents them: the target as received, and the Host field as sent.
        environ["RAW_URI"] = target
        environ["HTTP_HOST"] = ",".join(value for name, value in fields if name.lower() == "host")
        app_iter, status_line, response_headers = run_wsgi_app(self.app, environ, buffered=False)
        status = int(status_line.split()[0])
        # As gunicorn writes them: its own Date and Server, never the app's (werkzeug's
        # make_conditional writes a Date; gunicorn.util.hop_headers drops it).
        header_fields = tuple(
            (name, value) for name, value in response_headers.items() if name.lower() not in ("date", "server")
        )
        if 100 <= status < 200 or status == 204:
            # RFC 9110 §8.6: no Content-Length on a 1xx or 204; gunicorn removes an app's.
            header_fields = tuple(field for field in header_fields if field[0].lower() != "content-length")
        collected = bytearray()
        try:
            # A suppressed body is not read at all: nothing of it reaches a client, and an
            # endless stream answering HEAD would otherwise never end here.
            for chunk in () if body_suppressed(method, status) else app_iter:
                collected += chunk
                if (keep := enough(collected, read_limit, events)) is not None:
                    del collected[keep:]
                    break
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        return Exchange(status, header_fields, bytes(collected))


class QuartInProcess:
    """The Quart app (or any ASGI app) called as ASGI on a private event loop, lifespan
    included, seen as hypercorn shows it to a client. ``app`` may also be an awaitable of the
    app (what an async factory returns): it is awaited on this loop when the block starts, so
    whatever the factory binds to its loop is bound to the one the requests run on. ``host`` is
    the Host a request names when its case names none."""

    def __init__(self, app: Any | Awaitable[Any], name: str = "quart", host: str = HOST) -> None:
        self.app: Any = app
        self.name = name
        self.host = host
        self.log_path: Path | None = None
        self._runner = asyncio.Runner()
        self._lifespan: _Lifespan | None = None
        self._test_app: Any = None

    def __enter__(self) -> QuartInProcess:
        try:
            if inspect.isawaitable(self.app):
                self.app = self._runner.run(_awaited(self.app))
            if hasattr(self.app, "test_app"):
                # Quart's own startup, as its test client runs it (app context and all).
                self._test_app = self.app.test_app()
                self._runner.run(self._test_app.startup())
            else:
                self._lifespan = _Lifespan(self.app)
                self._runner.run(self._lifespan.startup())
        except BaseException:
            self._runner.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._test_app is not None:
                self._runner.run(self._test_app.shutdown())
            elif self._lifespan is not None:
                self._runner.run(self._lifespan.shutdown())
        finally:
            self._runner.close()

    def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        read_limit: int | None = None,
        events: int | None = None,
    ) -> Exchange:
        return self._runner.run(self._request(method, target, tuple(headers), body, read_limit, events))

    async def _request(
        self, method: str, target: str, headers: Headers, body: bytes, read_limit: int | None, events: int | None
    ) -> Exchange:
        split = urlsplit(target)
        # As hypercorn presents it: raw_path is the target as received, the query split off.
        raw_path = target.partition("?")[0].encode("ascii")
        request_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in with_host(headers, self.host)
        ]
        if body:
            request_headers.append((b"content-length", str(len(body)).encode()))
        authority = urlsplit(f"//{self.host}")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
            "raw_path": raw_path,
            "query_string": split.query.encode("ascii"),
            "root_path": "",
            "headers": request_headers,
            "client": ("127.0.0.1", 50000),
            "server": (authority.hostname or self.host, authority.port or 80),
            "extensions": {},
        }
        if self._lifespan is not None:
            scope["state"] = dict(self._lifespan.state)
        received: list[dict[str, Any]] = [{"type": "http.request", "body": body, "more_body": False}]
        disconnected = asyncio.Event()
        start: dict[str, Any] = {}
        collected = bytearray()
        finished = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if received:
                return received.pop()
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                # Nothing more reaches the client (hypercorn's suppress_body). A body of a
                # declared length is still let run to its end, as a server on a kept-alive
                # connection lets it: cut short, Quart cancels a file body as it opens the file,
                # which then leaks. A stream (no Content-Length, maybe endless) ends here, as a
                # client reading HEAD has its answer after the fields.
                declared = any(name.lower() == b"content-length" for name, _ in message.get("headers", ()))
                if body_suppressed(method, int(message["status"])) and not declared:
                    finished.set()
            elif message["type"] == "http.response.body":
                if not body_suppressed(method, int(start["status"])):
                    # As hypercorn (every ASGI server) does, a body sent to HEAD, or with a 204
                    # or a 304, never reaches the client: Quart leaves dropping it to the server.
                    collected.extend(message.get("body", b""))
                if not message.get("more_body", False) or enough(collected, read_limit, events) is not None:
                    finished.set()

        task = asyncio.ensure_future(self.app(scope, receive, send))
        waiter = asyncio.ensure_future(finished.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        disconnected.set()  # like a client that hangs up once it has what it wanted
        await task
        waiter.cancel()
        if (keep := enough(collected, read_limit, events)) is not None:
            del collected[keep:]
        headers_out = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in start.get("headers", ())
        )
        return Exchange(int(start["status"]), headers_out, bytes(collected))


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class _Lifespan:
    """The ASGI lifespan protocol for an app that is not Quart, as hypercorn runs it: startup
    before the first request, shutdown after the last; an app that does not speak it (raises on
    the lifespan scope) is served without (hypercorn's ``lifespan = auto``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Future[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._to_app.get, self._from_app.put))
        await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        if self._task is not None and not self._task.done():
            await self._exchange("lifespan.shutdown")
            await self._task

    async def _exchange(self, event: str) -> None:
        assert self._task is not None
        await self._to_app.put({"type": event})
        answer = asyncio.ensure_future(self._from_app.get())
        waited: set[asyncio.Future[Any]] = {answer, self._task}
        await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            with suppress(Exception):  # an app without lifespan support raises: served without
                self._task.result()
            return
        message = answer.result()
        if message["type"] == f"{event}.failed":
            raise RuntimeError(f"the app's {event} failed: {message.get('message', '')}")


class WireClient:
    """A real HTTP/1.1 client against a real server on loopback.

    A server may answer (413) and close before the body is all sent: the send then fails with a
    broken pipe or a reset, and the answer is read all the same, as curl does (RFC 9112 §9.6 has
    the server keep reading a while so that the answer is not lost; this client does its part)."""

    def __init__(
        self,
        host: str,
        port: int,
        name: str,
        timeout: float = 20.0,
        *,
        host_header: str = HOST,
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.timeout = timeout
        #: The Host a request names when its case names none.
        self.host_header = host_header
        #: The log of the server behind this client, where twinport started it.
        self.log_path = log_path

    def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        read_limit: int | None = None,
        events: int | None = None,
    ) -> Exchange:
        with self._connection() as connection:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in with_host(headers, self.host_header):
                connection.putheader(name, value)
            if body:
                connection.putheader("Content-Length", str(len(body)))
            # The server may stop reading: its answer may already be here.
            with suppress(BrokenPipeError, ConnectionResetError):
                connection.endheaders(body or None)
            response = connection.getresponse()
            if read_limit is None and events is None:
                return Exchange(response.status, tuple(response.getheaders()), response.read())
            collected = bytearray()
            # read1: whatever has arrived (one chunk of a chunked body), without waiting for more.
            while (keep := enough(collected, read_limit, events)) is None and (chunk := response.read1(65536)):
                collected += chunk
            return Exchange(response.status, tuple(response.getheaders()), bytes(collected[:keep]))

    @contextmanager
    def _connection(self) -> Iterator[http.client.HTTPConnection]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            yield connection
        finally:
            connection.close()


class ResponseTooLarge(ValueError):
    """A body longer than the client keeps (``UrlClient.max_body``): a service anywhere may
    answer with anything, and a comparison holds both bodies in memory."""


class UrlClient:
    """A real client of a service at a base URL anywhere, through httpx: http or https
    (``verify``: False, or the path of a CA bundle, for a self-signed certificate), HTTP/1.1 or
    with ``http2`` HTTP/2 (over TLS by ALPN, h2c with prior knowledge on http, RFC 9113 §3.3).

    Each request goes to ``base URL path + prefix + target``, the target's bytes as given. It
    names the Host of its case, else ``host``, else the URL's authority. It sends only the
    case's fields (httpx's default Accept, Accept-Encoding and User-Agent would change what a
    service answers: a compressed body, for one), keeps the answer's fields in order with
    repeats as received, never follows a redirect, and reads an endless stream only to
    ``read_limit`` bytes or ``events`` events, as ``WireClient`` does, then closes it. HTTP/2
    has no reason phrase and lowercase names: the comparison ignores both. A context manager
    (its connection pool)."""

    def __init__(
        self,
        url: str,
        name: str,
        *,
        host: str | None = None,
        prefix: str = "",
        http2: bool = False,
        verify: bool | str = True,
        timeout: float = 20.0,
        max_body: int = 64 * 1024 * 1024,
    ) -> None:
        import httpx  # only a run against a URL needs it (the "parity" extra)

        split = urlsplit(url)
        self.url = url
        self.name = name
        self.host_header = host or split.netloc
        self.path_prefix = split.path.rstrip("/") + prefix.rstrip("/")
        self.max_body = max_body
        self.log_path: Path | None = None
        self._base = httpx.URL(url)
        self._client = httpx.Client(
            http1=not http2,
            http2=http2,
            verify=_ssl_context(verify) if isinstance(verify, str) else verify,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self._client.headers.clear()

    def __enter__(self) -> UrlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        read_limit: int | None = None,
        events: int | None = None,
    ) -> Exchange:
        import httpx

        try:
            raw_path = (self.path_prefix + target).encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(
                f"{self.name}: target {target!r} is not ASCII: percent-encode it (RFC 3986 §2.1)"
            ) from None
        url = self._base.copy_with(raw_path=raw_path)
        request = self._client.build_request(
            method, url, headers=list(with_host(headers, self.host_header)), content=body or None
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as error:
            raise ConnectionError(f"{self.name}: {method} {url}: {error}") from error
        try:
            collected = bytearray()
            for chunk in response.iter_raw():
                collected += chunk
                if (keep := enough(collected, read_limit, events)) is not None:
                    del collected[keep:]
                    break
                if len(collected) > self.max_body:
                    raise ResponseTooLarge(
                        f"{self.name}: {method} {url}: the body is over {self.max_body} bytes"
                        " (give the case a read_limit, or the client a larger max_body)"
                    )
        except httpx.HTTPError as error:
            raise ConnectionError(f"{self.name}: {method} {url}: {error}") from error
        finally:
            response.close()
        fields = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in response.headers.raw)
        return Exchange(response.status_code, fields, bytes(collected))


def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """Verification against one CA bundle (a self-signed server's own certificate): httpx 0.28
    deprecates a path as ``verify``."""
    import ssl

    return ssl.create_default_context(cafile=ca_bundle)
