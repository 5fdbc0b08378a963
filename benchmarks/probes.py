"""A small asyncio HTTP/1.1 client for what wrk cannot measure: time to the first body byte of a
stream, a whole CSV export, and server-sent events held open by many clients at once.

Deliberately minimal (a request line, headers, chunked or sized bodies): it only has to time
bytes on the wire, and a full client library would add its own cost to what is measured.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "Download",
    "SseLevel",
    "download",
    "fetch",
    "hold_event_streams",
    "percentile",
    "publish",
    "time_to_first_body_byte",
]

_EVENT_LINE = re.compile(rb"event: bench-(\d+)\n")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def _request_bytes(method: str, target: str, host: str, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


async def _read_chunk(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The next piece of the body as it arrives ("" at its end), whatever its framing."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b""
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        return chunk
    return await reader.read(65536)


@dataclass(frozen=True, slots=True)
class Download:
    status: int
    body_bytes: int
    lines: int
    first_body_byte_seconds: float
    seconds: float
    body: bytes = b""  # kept only when asked for (byte-exact checks)


async def fetch(
    host: str,
    port: int,
    target: str,
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    keep_body: bool = False,
) -> Download:
    """One request on a new connection (``Connection: close``), read to the end of the body.

    The clock starts when the request is written (the connection is already open), so the times
    are the server's, not the TCP handshake's.
    """
    reader, writer = await asyncio.open_connection(host, port, limit=2**20)
    try:
        request = _request_bytes(method, target, host, [*headers, ("Connection", "close")], body)
        started = time.perf_counter()
        writer.write(request)
        await writer.drain()
        status, response_headers = await _read_head(reader)
        first_byte = 0.0
        size = lines = 0
        kept = bytearray()
        remaining = int(response_headers.get("content-length", "-1"))
        while remaining != 0 and method != "HEAD" and status not in (204, 304):
            chunk = await _read_chunk(reader, response_headers)
            if not chunk:
                break
            if not first_byte:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
            remaining -= len(chunk) if remaining > 0 else 0
            if keep_body:
                kept += chunk
        return Download(status, size, lines, first_byte, time.perf_counter() - started, bytes(kept))
    finally:
        writer.close()


async def time_to_first_body_byte(host: str, port: int, target: str) -> float:
    """Seconds from writing the request to the first byte of the body; the rest is not waited for."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        started = time.perf_counter()
        writer.write(_request_bytes("GET", target, host, [("Connection", "close")], b""))
        await writer.drain()
        _status, headers = await _read_head(reader)
        await _read_chunk(reader, headers)
        return time.perf_counter() - started
    finally:
        writer.close()


def download(
    host: str, port: int, target: str, *, headers: Sequence[tuple[str, str]] = (), keep_body: bool = False
) -> Download:
    return asyncio.run(fetch(host, port, target, headers=headers, keep_body=keep_body))


@dataclass(frozen=True, slots=True)
class SseLevel:
    """One fan-out level: how many of the asked-for clients the server held, what they cost, and how
    long a published event took to reach them."""

    clients: int
    held: int
    subscribers_seen: int  # the server's own count (/ops/stats) once everyone connected
    rss_before_kib: int
    rss_held_kib: int
    events: int
    delivered: int
    latency_ms: dict[str, float]  # p50, p90, p99, max over every (client, event) delivery
    connect_seconds: float

    @property
    def kib_per_client(self) -> float:
        return (self.rss_held_kib - self.rss_before_kib) / self.held if self.held else 0.0


class _Subscriber:
    """One open ``/events`` stream: records when each ``bench-<n>`` event arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._tail = b""

    async def open(self, host: str, port: int, timeout: float) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            self.writer = writer
            writer.write(_request_bytes("GET", "/events", host, [("Accept", "text/event-stream")], b""))
            status, _headers = await asyncio.wait_for(_read_head(reader), timeout)
            if status != 200:
                return False
            buffer = await asyncio.wait_for(reader.readuntil(b"data: world\n\n"), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False
        self._reader = reader
        self._tail = buffer[-64:]
        return True

    async def listen(self) -> None:
        """Read until cancelled. The raw stream is scanned (chunk-size lines and all): an event line
        cannot be mistaken for framing, and one split across two reads is found in the joined tail."""
        if self._reader is None:
            return
        tail = self._tail
        while chunk := await self._reader.read(65536):
            now = time.perf_counter()
            tail += chunk
            for match in _EVENT_LINE.finditer(tail):
                self.arrivals.setdefault(int(match.group(1)), now)
            tail = tail[-64:]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _subscriber_count(host: str, port: int) -> int:
    answer = await fetch(host, port, "/ops/stats", keep_body=True)
    return int(json.loads(answer.body)["sse_subscribers"])


async def _publish(host: str, port: int, sequence: int) -> None:
    await publish(host, port, f"bench-{sequence}", {"sequence": sequence})


async def publish(host: str, port: int, event: str, data: object) -> None:
    """POST one event to ``/events``, for every open stream."""
    body = json.dumps({"event": event, "data": data}).encode()
    answer = await fetch(
        host, port, "/events", method="POST", headers=[("Content-Type", "application/json")], body=body
    )
    if answer.status >= 300:
        raise RuntimeError(f"POST /events answered {answer.status}")


async def hold_event_streams(
    host: str,
    port: int,
    clients: int,
    *,
    events: int,
    interval: float,
    rss_kib: Callable[[], int],
    connect_concurrency: int = 64,
    timeout: float = 10.0,
    connect_budget: float = 90.0,
) -> SseLevel:
    """Open ``clients`` streams on ``/events``, then publish ``events`` events ``interval`` seconds
    apart, and time each event from just before its POST to its arrival at each client.

    Connections are opened at most ``connect_concurrency`` at a time: hypercorn's backlog is 100,
    and a SYN dropped from a full backlog is retried after a second, which would time the kernel.
    Clients not connected within ``connect_budget`` seconds count as not held.
    """
    rss_before = rss_kib()
    subscribers = [_Subscriber() for _ in range(clients)]
    gate = asyncio.Semaphore(connect_concurrency)

    async def open_one(subscriber: _Subscriber) -> bool:
        async with gate:
            return await subscriber.open(host, port, timeout)

    connect_started = time.perf_counter()
    openings = [asyncio.create_task(open_one(subscriber)) for subscriber in subscribers]
    # Bounded: a server that stops accepting must not hold the run for clients x timeout / concurrency.
    _done, late = await asyncio.wait(openings, timeout=connect_budget)
    for opening in late:
        opening.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    connect_seconds = time.perf_counter() - connect_started
    held = [
        subscriber
        for subscriber, opening in zip(subscribers, openings, strict=True)
        if not opening.cancelled() and opening.result()
    ]
    listeners = [asyncio.create_task(subscriber.listen()) for subscriber in held]
    try:
        seen = await _subscriber_count(host, port)
        rss_held = rss_kib()
        published_at: dict[int, float] = {}
        for sequence in range(events):
            published_at[sequence] = time.perf_counter()
            await _publish(host, port, sequence)
            await asyncio.sleep(max(0.0, published_at[sequence] + interval - time.perf_counter()))
        await _wait_for_deliveries(held, events, deadline=time.perf_counter() + timeout)
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        for subscriber in subscribers:
            subscriber.close()
    latencies = [
        (arrival - published_at[sequence]) * 1000
        for subscriber in held
        for sequence, arrival in subscriber.arrivals.items()
    ]
    summary = (
        {
            "p50": percentile(latencies, 0.5),
            "p90": percentile(latencies, 0.9),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies),
            "mean": statistics.fmean(latencies),
        }
        if latencies
        else {}
    )
    return SseLevel(clients, len(held), seen, rss_before, rss_held, events, len(latencies), summary, connect_seconds)


async def _wait_for_deliveries(subscribers: Sequence[_Subscriber], events: int, deadline: float) -> None:
    while time.perf_counter() < deadline and any(len(subscriber.arrivals) < events for subscriber in subscribers):
        await asyncio.sleep(0.05)
