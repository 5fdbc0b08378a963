"""``twinport parity proxy``: shadow mode, Diffy's proxy, for live traffic.

It listens for HTTP/1.1 clients, answers each request from the LEFT service, and meanwhile
mirrors it to the RIGHT service (and, if given, to LEFT-AGAIN: a second look at the left one)
to compare what they answered::

    twinport parity proxy --left http://127.0.0.1:8001 --right http://127.0.0.1:8002 \\
        --left-again http://127.0.0.1:8001 --listen 8080 --report shadow.json

- The client is answered from left as left answers, streams included (relayed as they come);
  it never waits for right or left-again: those are fetched and compared in the background.
- A field that differs between left's two answers (left and left-again) is noise, Diffy's
  learned noise: counted per field under ``noise``, and not reported where right differs in it
  too. Without ``--left-again`` every difference is reported. Where left-again is the left
  service itself, it gets each request twice (with ``--allow-unsafe``, a second instance is wiser).
- Safe methods only (GET, HEAD, OPTIONS, RFC 9110 §9.2.1) are mirrored unless
  ``--allow-unsafe``: a POST sent to both would do its side effect twice.
- Bounded in memory and in time: a body is compared up to ``--max-body`` bytes, beyond that by
  its length and sha256 (streamed, never held); an event stream by its first ``--events``
  events; at most ``--max-in-flight`` comparisons run at once (the excess is answered, not
  compared, and counted); at most ``--max-findings`` findings are kept (the rest counted); a
  client's request head and body have size limits, and every read, from a client or an
  upstream, has ``--timeout``.
- ``--report FILE`` is JSON, rewritten atomically every ``--report-every`` seconds and on exit
  (SIGINT or SIGTERM: stop listening, let the comparisons in flight finish, write the report,
  exit 1 if there was any finding, else 0).

The proxy adds no Via field (RFC 9110 §7.6.3 asks a proxy for one): a shadow is meant to be
invisible, and its clients get left's answer as left sent it, hop-by-hop fields aside.

Both sides speak HTTP/1.1 through h11 (the listening side as a server, the upstreams as a
client, one connection per upstream request), as its docs intend: h11 decides, this module does
the I/O. Comparison is ``compare.diff_exchanges`` under ``rules.DEFAULT_RULES`` and ``--rule``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import ssl
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import h11

from shared.settings import ConfigError

from .clients import Exchange, enough
from .compare import diff_exchanges
from .options import MIB, add_proxy_arguments
from .pair import DIFFERENCE, Finding
from .rules import DEFAULT_RULES, HOP_BY_HOP, Rules, parse_rule

__all__ = [
    "ProxySettings",
    "ShadowProxy",
    "Tally",
    "Unanswered",
    "Upstream",
    "main",
    "run",
    "serve_proxy",
    "settings_from_arguments",
]

MODE = "proxy"
#: RFC 9110 §9.2.1: the methods a client does not expect to change anything.
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
READ_SIZE = 65536
#: h11's own default bound for a request head (its line and fields): beyond it, 431.
MAX_HEAD_BYTES = 16 * 1024
LINGER_SECONDS = 2.0
LINGER_BYTES = MIB

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Upstream:
    """One service the proxy talks to, from its base URL: ``http://host:port/prefix``."""

    name: str
    scheme: Literal["http", "https"]
    host: str
    port: int
    prefix: str

    @classmethod
    def from_url(cls, name: str, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--{name} {url!r}: give a base URL, http://HOST[:PORT][/PREFIX] or https://...")
        if parts.query or parts.fragment or parts.username:
            raise ConfigError(f"--{name} {url!r}: a base URL has no query, fragment or user")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise ConfigError(f"--{name} {url!r}: {error}") from None
        scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
        return cls(name, scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        """RFC 9110 §7.2: the Host a request to this service names (the port only if not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ProxySettings:
    left: Upstream
    right: Upstream
    left_again: Upstream | None = None
    host: str = "127.0.0.1"
    port: int = 0
    report: Path | None = None
    allow_unsafe: bool = False
    keep_host: bool = False
    max_body: int = MIB
    max_request_body: int = MIB
    timeout: float = 10.0
    max_findings: int = 1000
    max_in_flight: int = 64
    events: int = 5
    report_every: float = 2.0
    rules: Rules = DEFAULT_RULES


@dataclass(frozen=True, slots=True)
class Unanswered:
    """An upstream that gave no answer to compare: nothing listened (``unreachable``), it was
    too slow (``timeout``), what it sent was not HTTP (``malformed``), or (left only) the relay
    to the client stopped before the part of left's answer that is compared had passed: the
    client hung up, or left broke off (``abandoned``)."""

    kind: Literal["unreachable", "timeout", "malformed", "abandoned"]
    detail: str

    def describe(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


Outcome = Exchange | Unanswered


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A client's request as the upstreams get it: hop-by-hop fields gone, the body whole."""

    method: bytes
    target: bytes
    headers: Headers
    body: bytes

    @property
    def case(self) -> str:
        return f"{self.method.decode('latin-1')} {self.target.decode('latin-1')}"


@dataclass
class Tally:
    """What the report says: counts, noise per field, and the findings kept."""

    max_findings: int = 1000
    requests: int = 0
    compared: int = 0
    not_compared: Counter[str] = field(default_factory=Counter)
    noise: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    findings_not_kept: int = 0

    def add_finding(self, finding: Finding) -> None:
        if len(self.findings) < self.max_findings:
            self.findings.append(finding)
        else:
            self.findings_not_kept += 1

    @property
    def any_finding(self) -> bool:
        return bool(self.findings) or self.findings_not_kept > 0

    def as_report(self) -> dict[str, object]:
        return {
            "version": 1,
            "requests": self.requests,
            "compared": self.compared,
            "not_compared": dict(sorted(self.not_compared.items())),
            "noise": dict(sorted(self.noise.items())),
            "findings": [dataclasses.asdict(finding) for finding in self.findings],
            "findings_not_kept": self.findings_not_kept,
        }

    def write(self, path: Path) -> None:
        """Write the report atomically: a reader sees the old file or the new one, never half."""
        text = json.dumps(self.as_report(), indent=2) + "\n"
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


class BodyCapture:
    """The part of a body that is compared, taken as it streams past.

    Up to ``max_body`` bytes are kept; a longer body is compared by its length and sha256,
    computed over every byte without holding them. An event stream (``events`` set) is cut
    after that many events, or at ``max_body``: then the capture is complete while the stream
    may go on (``clients.enough`` decides where)."""

    def __init__(self, max_body: int, events: int | None) -> None:
        self.max_body = max_body
        self.events = events
        self.kept = bytearray()
        self.digest = hashlib.sha256()
        self.length = 0
        self.complete = False

    def feed(self, chunk: bytes) -> None:
        if self.complete:
            return
        self.length += len(chunk)
        self.digest.update(chunk)
        if self.events is not None:
            self.kept += chunk
            if (keep := enough(self.kept, self.max_body, self.events)) is not None:
                del self.kept[keep:]
                self.complete = True
        elif self.length <= self.max_body:
            self.kept += chunk
        else:
            self.kept = bytearray()

    def body(self) -> bytes:
        if self.events is not None or self.length <= self.max_body:
            return bytes(self.kept)
        return f"<{self.length} bytes, sha256 {self.digest.hexdigest()}>".encode()


def origin_form(target: bytes) -> bytes | None:
    """RFC 9112 §3.2: the target as an origin server takes it. Origin-form (``/path?query``) and
    asterisk-form (``*``, OPTIONS) as they are; absolute-form (what a client sends to a proxy it
    was configured to use) as its path and query; None for authority-form (CONNECT's
    ``host:port``), as a shadow proxy does not tunnel."""
    if target.startswith(b"/") or target == b"*":
        return target
    parts = urlsplit(target)
    if parts.scheme.lower() not in (b"http", b"https") or not parts.netloc:
        return None
    return (parts.path or b"/") + (b"?" + parts.query if parts.query else b"")


def is_event_stream(headers: Headers) -> bool:
    return any(
        name.lower() == b"content-type" and value.split(b";")[0].strip().lower() == b"text/event-stream"
        for name, value in headers
    )


def end_to_end(headers: Sequence[tuple[bytes, bytes]]) -> Headers:
    """The fields without hop-by-hop ones (RFC 9110 §7.6.1: those of HOP_BY_HOP and those the
    Connection field names)."""
    named = {
        token.strip().lower() for name, value in headers if name.lower() == b"connection" for token in value.split(b",")
    }
    dropped = {name.encode() for name in HOP_BY_HOP} | named
    return [(name, value) for name, value in headers if name.lower() not in dropped]


class UpstreamResponse:
    """One answer from an upstream on its own connection: the head, then the body as it comes."""

    def __init__(
        self,
        connection: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: h11.Response,
        timeout: float,
    ) -> None:
        self._connection = connection
        self._reader = reader
        self._writer = writer
        self.head = head
        self._timeout = timeout

    @property
    def headers(self) -> Headers:
        return [(name, value) for name, value in self.head.headers.raw_items()]

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            event = await _next_event(self._connection, self._reader, self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader, timeout: float) -> object:
    """h11's next event, reading more (each read within ``timeout``) while it needs data."""
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        async with asyncio.timeout(timeout):
            data = await reader.read(READ_SIZE)
        connection.receive_data(data)


async def open_upstream(
    upstream: Upstream, request: Forwarded, host: bytes | None, timeout: float
) -> UpstreamResponse | Unanswered:
    """Send ``request`` to ``upstream`` and read its answer's head (connect, send and each read
    within ``timeout``). ``host`` is the Host to send: the client's, or None for the upstream's own."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                upstream.host,
                upstream.port,
                ssl=ssl.create_default_context() if upstream.scheme == "https" else None,
                limit=READ_SIZE,
            )
    except TimeoutError:
        return Unanswered("timeout", f"no connection to {upstream.name} within {timeout:g} s")
    except OSError as error:
        return Unanswered("unreachable", str(error))
    connection = h11.Connection(h11.CLIENT)
    headers = [(b"Host", host if host is not None else upstream.authority.encode())]
    headers += [(name, value) for name, value in request.headers if name.lower() != b"host"]
    if request.body or request.method not in SAFE_METHODS:
        headers.append((b"Content-Length", str(len(request.body)).encode()))
    target = request.target if request.target == b"*" else upstream.prefix.encode() + request.target
    try:
        writer.write(connection.send(h11.Request(method=request.method, target=target, headers=headers)))
        if request.body:
            writer.write(connection.send(h11.Data(data=request.body)))
        writer.write(connection.send(h11.EndOfMessage()))
        async with asyncio.timeout(timeout):
            await writer.drain()
        while True:
            event = await _next_event(connection, reader, timeout)
            if isinstance(event, h11.Response):
                return UpstreamResponse(connection, reader, writer, event, timeout)
            if not isinstance(event, h11.InformationalResponse):
                raise h11.RemoteProtocolError(f"{upstream.name} closed before answering")
    except TimeoutError:
        failed = Unanswered("timeout", f"no answer from {upstream.name} within {timeout:g} s")
    except OSError as error:
        failed = Unanswered("unreachable", str(error))
    except h11.ProtocolError as error:
        failed = Unanswered("malformed", str(error))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return failed


async def fetch_for_comparison(settings: ProxySettings, upstream: Upstream, request: Forwarded) -> Outcome:
    """What ``upstream`` answered, as compared: the whole fetch within ``timeout``, the body as
    ``BodyCapture`` keeps it; the connection closed as soon as the capture is complete."""
    host = _client_host(request) if settings.keep_host else None
    try:
        async with asyncio.timeout(settings.timeout):
            response = await open_upstream(upstream, request, host, settings.timeout)
            if isinstance(response, Unanswered):
                return response
            try:
                capture = BodyCapture(settings.max_body, settings.events if is_event_stream(response.headers) else None)
                async for chunk in response.chunks():
                    capture.feed(chunk)
                    if capture.complete:
                        break
            finally:
                await response.close()
    except TimeoutError:
        return Unanswered("timeout", f"{upstream.name} did not answer in full within {settings.timeout:g} s")
    except OSError as error:
        return Unanswered("unreachable", str(error))
    except h11.ProtocolError as error:
        return Unanswered("malformed", str(error))
    return Exchange(response.head.status_code, _text_headers(response.headers), capture.body())


def _client_host(request: Forwarded) -> bytes | None:
    return next((value for name, value in request.headers if name.lower() == b"host"), None)


def _text_headers(headers: Headers) -> tuple[tuple[str, str], ...]:
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers)


class ClientError(Exception):
    """A client's request that gets a plain error answer from the proxy, then the connection closed."""

    def __init__(self, status: int, reason: str, explanation: str) -> None:
        super().__init__(explanation)
        self.status = status
        self.reason = reason
        self.explanation = explanation

    def answer(self) -> bytes:
        body = f"{self.explanation}\n".encode()
        return (
            f"HTTP/1.1 {self.status} {self.reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """RFC 9112 §9.6: close our half, then read and drop what the client still sends (a while,
    a bounded amount), so that closing with its data unread does not reset the connection and
    lose the error answer on its way."""
    writer.write_eof()
    dropped = 0
    async with asyncio.timeout(LINGER_SECONDS):
        while dropped < LINGER_BYTES and (data := await reader.read(READ_SIZE)):
            dropped += len(data)


class ShadowProxy:
    """The proxy's state: the tally, and the comparisons and client connections in flight."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self.tally = Tally(max_findings=settings.max_findings)
        self.comparisons: set[asyncio.Task[None]] = set()
        self.connections: set[asyncio.Task[None]] = set()

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: its requests in turn (keep-alive), until it closes or errs."""
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        try:
            while await self._serve_request(connection, reader, writer):
                connection.start_next_cycle()
        except ClientError as error:
            with contextlib.suppress(OSError, TimeoutError):
                writer.write(error.answer())
                await writer.drain()
                await _linger(reader, writer)
        except (OSError, h11.ProtocolError, TimeoutError):
            pass  # the client went away, or the answer can no longer be framed: close
        finally:
            self.connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read one request, answer it from left, start its comparison; True to read another."""
        request = await self._read_request(connection, reader, writer)
        if request is None:
            return False
        self.tally.requests += 1
        left_capture: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._start_comparison(request, left_capture)
        try:
            await self._answer_from_left(request, connection, writer, left_capture)
        finally:
            if not left_capture.done():
                left_capture.set_result(Unanswered("abandoned", "the relay to the client stopped first"))
        return connection.our_state is h11.DONE and connection.their_state is h11.DONE

    async def _read_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Forwarded | None:
        """The next request, whole; None when the client closed (or idled out) between requests."""
        timeout = self.settings.timeout
        try:
            head = await _next_event(connection, reader, timeout)
            if isinstance(head, h11.ConnectionClosed):
                return None
            assert isinstance(head, h11.Request)
            # h11 bounds a head that arrives in pieces; one that arrives in a single read is measured here.
            if len(head.target) + sum(len(name) + len(value) + 4 for name, value in head.headers) > MAX_HEAD_BYTES:
                raise ClientError(
                    431, "Request Header Fields Too Large", f"a request head is at most {MAX_HEAD_BYTES} bytes"
                )
            if connection.they_are_waiting_for_100_continue:  # RFC 9110 §10.1.1
                writer.write(connection.send(h11.InformationalResponse(status_code=100, headers=[])))
            body = bytearray()
            while not isinstance(event := await _next_event(connection, reader, timeout), h11.EndOfMessage):
                if isinstance(event, h11.ConnectionClosed):
                    return None
                assert isinstance(event, h11.Data)
                body += event.data
                if len(body) > self.settings.max_request_body:
                    raise ClientError(
                        413, "Content Too Large", f"a request body is at most {self.settings.max_request_body} bytes"
                    )
        except TimeoutError:
            if connection.their_state is h11.IDLE and not connection.trailing_data[0]:
                return None  # an idle keep-alive connection: close it quietly
            raise ClientError(408, "Request Timeout", f"the request did not arrive within {timeout:g} s") from None
        except h11.RemoteProtocolError as error:
            status = error.error_status_hint
            reason = "Request Header Fields Too Large" if status == 431 else "Bad Request"
            raise ClientError(status, reason, f"malformed request: {error}") from None
        # The proxy frames the body anew for each upstream (RFC 9112 §6.3): the client's Content-Length goes.
        headers = [
            (name, value) for name, value in end_to_end(head.headers.raw_items()) if name.lower() != b"content-length"
        ]
        target = origin_form(bytes(head.target))
        if target is None:
            raise ClientError(
                400, "Bad Request", "a shadow proxy takes a path (or an absolute URL); it does not tunnel"
            )
        return Forwarded(bytes(head.method), target, headers, bytes(body))

    def _start_comparison(self, request: Forwarded, left_capture: asyncio.Future[Outcome]) -> None:
        if request.method not in SAFE_METHODS and not self.settings.allow_unsafe:
            self.tally.not_compared["unsafe method (see --allow-unsafe)"] += 1
            return
        if len(self.comparisons) >= self.settings.max_in_flight:
            self.tally.not_compared["too many comparisons in flight (see --max-in-flight)"] += 1
            return
        task = asyncio.create_task(self._compare(request, left_capture))
        self.comparisons.add(task)
        task.add_done_callback(self.comparisons.discard)

    async def _answer_from_left(
        self,
        request: Forwarded,
        connection: h11.Connection,
        writer: asyncio.StreamWriter,
        left_capture: asyncio.Future[Outcome],
    ) -> None:
        """Relay left's answer to the client as it comes, feeding the comparison's capture."""
        settings = self.settings
        host = _client_host(request) if settings.keep_host else None
        response = await open_upstream(settings.left, request, host, settings.timeout)
        if isinstance(response, Unanswered):
            left_capture.set_result(response)
            if response.kind == "timeout":
                raise ClientError(504, "Gateway Timeout", f"left: {response.describe()}")
            raise ClientError(502, "Bad Gateway", f"left: {response.describe()}")
        try:
            headers = response.headers
            capture = BodyCapture(settings.max_body, settings.events if is_event_stream(headers) else None)
            writer.write(
                connection.send(
                    h11.Response(
                        status_code=response.head.status_code,
                        headers=end_to_end(headers),
                        reason=response.head.reason,
                    )
                )
            )
            async for chunk in response.chunks():
                capture.feed(chunk)
                if capture.complete and not left_capture.done():
                    left_capture.set_result(Exchange(response.head.status_code, _text_headers(headers), capture.body()))
                writer.write(connection.send(h11.Data(data=chunk)))
                async with asyncio.timeout(settings.timeout):
                    await writer.drain()
            writer.write(connection.send(h11.EndOfMessage()))
            await writer.drain()
            if not left_capture.done():
                left_capture.set_result(Exchange(response.head.status_code, _text_headers(headers), capture.body()))
        finally:
            await response.close()

    async def _compare(self, request: Forwarded, left_capture: asyncio.Future[Outcome]) -> None:
        settings = self.settings
        right_fetch = asyncio.create_task(fetch_for_comparison(settings, settings.right, request))
        again_fetch = (
            asyncio.create_task(fetch_for_comparison(settings, settings.left_again, request))
            if settings.left_again is not None
            else None
        )
        try:
            async with asyncio.timeout(settings.timeout):
                left = await asyncio.shield(left_capture)
        except TimeoutError:
            left = Unanswered("timeout", f"left's answer was not read in full within {settings.timeout:g} s")
        right = await right_fetch
        again = await again_fetch if again_fetch is not None else None
        self.record(request, left, right, again)

    def record(self, request: Forwarded, left: Outcome, right: Outcome, again: Outcome | None) -> None:
        """Count one comparison: right unanswered is a finding; left or left-again unanswered
        leaves nothing to compare (or no noise to learn); else the differences that are not noise."""
        tally = self.tally
        if isinstance(left, Unanswered):
            tally.not_compared[f"left: {left.kind}"] += 1
            return
        if isinstance(right, Unanswered):
            tally.compared += 1
            tally.add_finding(Finding(request.case, MODE, DIFFERENCE, "answer", str(left.status), right.describe()))
            return
        if isinstance(again, Unanswered):
            tally.not_compared[f"left-again: {again.kind}"] += 1
            return
        tally.compared += 1
        rules = self.settings.rules
        noisy = {difference.field for difference in diff_exchanges(left, again, rules)} if again else set()
        tally.noise.update(noisy)
        for difference in diff_exchanges(left, right, rules):
            if difference.field not in noisy:
                tally.add_finding(
                    Finding(request.case, MODE, DIFFERENCE, difference.field, difference.left, difference.right)
                )


async def serve_proxy(settings: ProxySettings, *, listening: Callable[[str, int], None] | None = None) -> int:
    """Run the proxy until SIGINT or SIGTERM; the exit status: 1 if there was any finding, else 0.

    ``listening`` is told the address once the socket listens (by default it is printed: with
    ``--listen HOST:0`` that line names the port the system chose)."""
    proxy = ShadowProxy(settings)
    if settings.report is not None:
        try:
            proxy.tally.write(settings.report)  # there from the start, and proven writable
        except OSError as error:
            raise ConfigError(f"--report {str(settings.report)!r}: {error.strerror or error}") from None
    try:
        server = await asyncio.start_server(proxy.serve_connection, settings.host, settings.port, limit=READ_SIZE)
    except OSError as error:  # the port is taken, or the host is not this machine's
        raise ConfigError(f"--listen {settings.host}:{settings.port}: {error.strerror or error}") from None
    host, port = server.sockets[0].getsockname()[:2]
    (listening or _print_listening)(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    reporter = asyncio.create_task(_report_periodically(proxy.tally, settings)) if settings.report else None
    try:
        await stop.wait()
    finally:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signal_number)
        server.close()
        # Every comparison in flight ends within its timeout: let them finish, then hang up on
        # the clients still connected (streams, idle keep-alive connections).
        if proxy.comparisons:
            await asyncio.wait(set(proxy.comparisons))
        for connection in set(proxy.connections):
            connection.cancel()
        await asyncio.gather(*proxy.connections, return_exceptions=True)
        await server.wait_closed()
        if reporter is not None:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        if settings.report:
            proxy.tally.write(settings.report)
    tally = proxy.tally
    findings = len(tally.findings) + tally.findings_not_kept
    print(
        f"twinport parity proxy: {tally.requests} requests, {tally.compared} compared, {findings} findings",
        file=sys.stderr,
    )
    return 1 if tally.any_finding else 0


def _print_listening(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"twinport parity proxy: listening on http://{shown}:{port}", flush=True)


async def _report_periodically(tally: Tally, settings: ProxySettings) -> None:
    assert settings.report is not None
    while True:
        await asyncio.sleep(settings.report_every)
        tally.write(settings.report)


def settings_from_arguments(arguments: argparse.Namespace) -> ProxySettings:
    host, port = parse_listen(arguments.listen)
    rules = DEFAULT_RULES
    for text in arguments.rule:
        try:
            rules = rules.extended(parse_rule(text))
        except ValueError as error:
            raise ConfigError(str(error)) from error
    return ProxySettings(
        left=Upstream.from_url("left", arguments.left),
        right=Upstream.from_url("right", arguments.right),
        left_again=Upstream.from_url("left-again", arguments.left_again) if arguments.left_again else None,
        host=host,
        port=port,
        report=arguments.report,
        allow_unsafe=arguments.allow_unsafe,
        keep_host=arguments.keep_host,
        max_body=arguments.max_body,
        max_request_body=arguments.max_request_body,
        timeout=arguments.timeout,
        max_findings=arguments.max_findings,
        max_in_flight=arguments.max_in_flight,
        events=arguments.events,
        report_every=arguments.report_every,
        rules=rules,
    )


def parse_listen(text: str) -> tuple[str, int]:
    """``8080``, ``0.0.0.0:8080`` or ``[::1]:8080`` as a host and a port (0: any free one)."""
    host, colon, port = text.rpartition(":")
    host = host.strip("[]") if colon else "127.0.0.1"
    if not port.isdigit() or int(port) > 65535 or not host:
        raise ConfigError(f"--listen {text!r}: give [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080")
    return host, int(port)


def run(arguments: argparse.Namespace) -> int:
    """The handler of ``twinport parity proxy``: parsed options in, the exit status out."""
    return asyncio.run(serve_proxy(settings_from_arguments(arguments)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="twinport parity proxy", description=__doc__.split("\n\n")[0])
    add_proxy_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except ConfigError as error:
        print(f"twinport parity proxy: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
