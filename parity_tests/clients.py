"""Send one request to one runtime and record exactly what it answered.

In-process, each app is driven through its own server interface: Flask through werkzeug's
WSGI test runner (``run_wsgi_app``, without the test client's response wrapper, which adds a
default Content-Type), Quart through a minimal ASGI driver (Quart's test client rebuilds the
response: it adds Content-Length to streamed bodies and returns a body on HEAD, none of which
is on the wire). Over the wire, ``http.client`` talks to the real servers, one connection per
request, headers in the order they arrived.
"""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes, urlsplit

from werkzeug.test import EnvironBuilder, run_wsgi_app

__all__ = ["Client", "Exchange", "FlaskInProcess", "QuartInProcess", "WireClient", "enough"]

Headers = tuple[tuple[str, str], ...]
# Both runtimes see the same Host, in-process and on the wire, so URLs they build agree.
HOST = "localhost"


def with_host(headers: Iterable[tuple[str, str]]) -> Headers:
    """The request's fields with exactly the Host it names, or ``HOST`` when it names none (a
    case about Host sends its own, the same way in every client)."""
    given = tuple(headers)
    return given if any(name.lower() == "host" for name, _ in given) else (("Host", HOST), *given)


def enough(body: bytes | bytearray, read_limit: int | None, events: int | None) -> int | None:
    """How many bytes of a partial body to keep, once there are enough; None to read on.

    ``read_limit`` is a byte count. ``events`` counts the complete server-sent events at the
    start of the body (blocks ending in a blank line, comment-only blocks such as heartbeats not
    counted); the body is cut right after the last one, so a comparison never depends on how the
    bytes that followed were chunked. Both twins end lines with LF (``shared.protocol.sse.encode_event``).
    """
    if read_limit is not None and len(body) >= read_limit:
        return read_limit
    if events is None:
        return None
    start = seen = 0
    while (end := body.find(b"\n\n", start)) != -1:
        block, start = body[start:end], end + 2
        if any(line and not line.startswith(b":") for line in block.split(b"\n")):
            seen += 1
            if seen == events:
                return start
    return None


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
    """The Flask app called as WSGI, in this thread."""

    def __init__(self, app: Any, name: str = "flask") -> None:
        self.app = app
        self.name = name

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
        fields = with_host(headers)
        builder = EnvironBuilder(
            path=path,
            query_string=query,
            method=method,
            headers=[field for field in fields if field[0].lower() != "host"],
            data=body,
            base_url=f"http://{HOST}/",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        # As gunicorn presents them: the target as received, and the Host field as sent.
        environ["RAW_URI"] = target
        environ["HTTP_HOST"] = ",".join(value for name, value in fields if name.lower() == "host")
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=False)
        collected = bytearray()
        try:
            for chunk in app_iter:
                collected += chunk
                if (keep := enough(collected, read_limit, events)) is not None:
                    del collected[keep:]
                    break
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        return Exchange(int(status.split()[0]), tuple(response_headers.items()), bytes(collected))


class QuartInProcess:
    """The Quart app called as ASGI on a private event loop, lifespan included."""

    def __init__(self, app: Any, name: str = "quart") -> None:
        self.app = app
        self.name = name
        self._runner = asyncio.Runner()
        self._test_app: Any = None

    def __enter__(self) -> QuartInProcess:
        self._test_app = self.app.test_app()
        self._runner.run(self._test_app.startup())
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._runner.run(self._test_app.shutdown())
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
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in with_host(headers)
        ]
        if body:
            request_headers.append((b"content-length", str(len(body)).encode()))
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
            "server": (HOST, 80),
            "extensions": {},
        }
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
            elif message["type"] == "http.response.body":
                # As hypercorn (every ASGI server) does, a body sent to a HEAD request never reaches
                # the client: Quart leaves dropping it to the server, werkzeug drops it itself.
                if method != "HEAD":
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


class WireClient:
    """A real HTTP/1.1 client against a real server on loopback.

    A server may answer (413) and close before the body is all sent: the send then fails with a
    broken pipe or a reset, and the answer is read all the same, as curl does (RFC 9112 §9.6 has
    the server keep reading a while so that the answer is not lost; this client does its part)."""

    def __init__(self, host: str, port: int, name: str, timeout: float = 20.0) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.timeout = timeout

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
            for name, value in with_host(headers):
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
