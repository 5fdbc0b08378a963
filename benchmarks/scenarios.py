"""The scenarios: what each measures, with which load, and how its answer is checked first.

Every scenario checks the server's answer once before it loads it (a 304 that is really a 200,
a Range that is not byte-exact, a CSV that is short, would make a fast number meaningless), then
measures ``repeats`` times. Each repeat yields one headline ``value`` (the figure compared across
targets and runs) plus its details: latency percentiles, errors, and the CPU the server and the
client used.
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parity_tests.servers import RunningServer
from shared.settings import Settings

from .csv_memory import peak_rss_kib, process_tree
from .direct_apps import AS_JSON_BODY, IO_WAIT_BODY, IO_WAIT_SECONDS
from .probes import download, fetch, hold_event_streams, percentile, publish, time_to_first_body_byte
from .system import children_cpu_seconds, tree_cpu_seconds, tree_rss_kib
from .targets import Target
from .wrk import WrkResult, run_wrk

__all__ = [
    "SCENARIOS",
    "BenchConfig",
    "Ceiling",
    "Context",
    "Measured",
    "Scenario",
    "SkipScenario",
    "resolve_scenarios",
    "sse_ceiling",
]

LARGE_FILE = "/files/large.bin"
LARGE_FILE_SIZE = 1_048_583
RANGE_SPAN = (65_536, 131_071)  # 64 KiB, away from the file's start
IO_WAIT_CONNECTIONS = (64, 512)  # the io-wait scenarios' wrk connections, in full and quick runs alike
# The benchmark's own apps (benchmarks/direct_apps.py), which answer /io-wait: never twinport's.
IO_WAIT_FACTORIES: Mapping[str, str] = {
    "flask": "benchmarks.direct_apps:flask_app",
    "quart": "benchmarks.direct_apps:quart_app",
}
# The event stream's heartbeat as twinport ships it: the SSE scenario measures what users run
# (a 1 s heartbeat alone kept 0.6-0.7 of a core busy at 10,000 idle clients, issue 10).
SSE_HEARTBEAT = Settings().sse_heartbeat


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Durations and counts of one run (``--quick`` shrinks them to seconds)."""

    duration: int = 4  # seconds per wrk repeat (a full run stays under 15 minutes on 2 cores)
    repeats: int = 3
    warmup: int = 1  # seconds of unrecorded wrk load before the repeats
    connections: int = 64  # small requests (the goals are read at 64 connections)
    file_connections: int = 16  # 1 MB downloads and Range
    csv_rows: int = 100_000  # and ten times as many in csv-export-10x
    ttfb_samples: int = 20  # per repeat
    sse_levels: tuple[int, ...] = (1000, 10_000)
    sse_events: int = 5  # published one per sse_interval to every held client
    sse_interval: float = 1.0
    quick: bool = False

    @classmethod
    def quick_config(cls) -> BenchConfig:
        return cls(
            duration=1,
            repeats=2,
            warmup=0,
            connections=16,
            file_connections=4,
            csv_rows=2000,
            ttfb_samples=3,
            sse_levels=(5, 20),
            sse_events=2,
            sse_interval=0.2,
            quick=True,
        )


class SkipScenario(Exception):
    """The target cannot run this scenario at all (said why), which is not a failure."""


@dataclass
class Context:
    target: Target
    server: RunningServer
    config: BenchConfig
    overrides: Mapping[str, object] = field(default_factory=dict)  # the server settings of its group
    argv: Sequence[str] = ()  # the server's command line
    note: Callable[[str], None] = lambda text: None

    def url(self, path: str) -> str:
        return f"http://{self.server.host}:{self.server.port}{path}"


@dataclass
class Measured:
    values: list[float]
    repeats: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    unit: str
    higher_is_better: bool
    measure: Callable[[Context], Measured]
    # Server settings this scenario needs; scenarios that need the same share one server start.
    server_settings: Callable[[BenchConfig], Mapping[str, object]] = lambda config: {}
    server_group: str = "main"
    # The app the server runs instead of twinport's, by runtime ("module:function"); None: twinport's.
    factories: Mapping[str, str] | None = None
    # The store behind the server: the embedded SQLite file, or "postgresql", a local PostgreSQL
    # server the bench starts for the group (parity_tests.postgres), a fresh database per target.
    database: str = "sqlite"
    # Where /events keeps and fans out events: "memory" (the in-process hub), or "redis", a local
    # redis-server the bench starts for the group (the settings' event_backend and redis_url).
    events: str = "memory"

    def factory(self, runtime: str) -> str | None:
        return None if self.factories is None else self.factories[runtime]


def _wrk_repeats(
    context: Context, path: str, headers: Sequence[str], connections: int, headline: Callable[[WrkResult], float]
) -> Measured:
    """Warm up, then ``repeats`` wrk runs, each with the CPU the server and wrk used meanwhile."""
    url = context.url(path)
    config = context.config
    if config.warmup:
        context.note("warm-up")
        _settle(context)
        run_wrk(url, connections=connections, seconds=config.warmup, headers=headers)
    values: list[float] = []
    repeats: list[dict[str, Any]] = []
    for index in range(config.repeats):
        context.note(f"repeat {index + 1}/{config.repeats}")
        _settle(context)
        server_before, client_before = tree_cpu_seconds(context.server.process.pid), children_cpu_seconds()
        result = run_wrk(url, connections=connections, seconds=config.duration, headers=headers)
        server_cpu = tree_cpu_seconds(context.server.process.pid) - server_before
        client_cpu = children_cpu_seconds() - client_before
        values.append(headline(result))
        repeats.append(
            {
                "value": headline(result),
                "requests_per_second": result.requests_per_second,
                "megabytes_per_second": result.megabytes_per_second,
                "requests": result.requests,
                "seconds": result.seconds,
                "latency_ms": dict(result.latency_ms),
                "errors": dict(result.errors),
                "connections": connections,
                # CPU seconds per second of wall time: 1.0 is one core busy all the time.
                "server_cpu": server_cpu / result.seconds if result.seconds else 0.0,
                "client_cpu": client_cpu / result.seconds if result.seconds else 0.0,
            }
        )
    return Measured(values, repeats)


SETTLE_SECONDS = 60.0


def _settle(context: Context) -> None:
    """Wait until the server answers ``/healthz``: the requests of a load that has ended may still be
    queued (a thread pool serves the requests of connections wrk has closed: at 512 connections
    each waiting 50 ms, 32 threads take 0.8 s to drain them, measured as a repeat of 150 req/s after
    one of 600), and would take the next repeat's first second."""
    fetching = fetch(context.server.host, context.server.port, "/healthz")
    answer = asyncio.run(asyncio.wait_for(fetching, SETTLE_SECONDS))
    _expect(answer.status == 200, f"/healthz answered {answer.status} between two loads")


def _requests_per_second(result: WrkResult) -> float:
    return result.requests_per_second


def _megabytes_per_second(result: WrkResult) -> float:
    return result.megabytes_per_second


def _expect(condition: bool, why: str) -> None:
    if not condition:
        raise RuntimeError(why)


def _tiny_json(context: Context) -> Measured:
    answer = download(context.server.host, context.server.port, "/as-json", keep_body=True)
    _expect(answer.status == 200 and answer.body == AS_JSON_BODY, f"/as-json answered {answer.status} {answer.body!r}")
    return _wrk_repeats(context, "/as-json", (), context.config.connections, _requests_per_second)


def _revalidate_304(context: Context) -> Measured:
    host, port = context.server.host, context.server.port
    first = asyncio.run(_etag_of(host, port, "/items/42"))
    revalidated = download(host, port, "/items/42", headers=[("If-None-Match", first)])
    _expect(revalidated.status == 304, f"If-None-Match {first} answered {revalidated.status}, not 304")
    measured = _wrk_repeats(
        context, "/items/42", (f"If-None-Match: {first}",), context.config.connections, _requests_per_second
    )
    measured.extra["etag"] = first
    return measured


async def _etag_of(host: str, port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    finally:
        writer.close()
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "etag":
            return value.strip()
    raise RuntimeError(f"{path} has no ETag")


def _paging(context: Context) -> Measured:
    path = "/api/v1/items?page=2&size=20"
    answer = download(context.server.host, context.server.port, path)
    _expect(answer.status == 200, f"{path} answered {answer.status}")
    return _wrk_repeats(context, path, (), context.config.connections, _requests_per_second)


def _file_1mb(context: Context) -> Measured:
    answer = download(context.server.host, context.server.port, LARGE_FILE)
    _expect(
        answer.status == 200 and answer.body_bytes == LARGE_FILE_SIZE,
        f"{LARGE_FILE}: {answer.status}, {answer.body_bytes} bytes",
    )
    return _wrk_repeats(context, LARGE_FILE, (), context.config.file_connections, _megabytes_per_second)


def _range_64k(context: Context) -> Measured:
    host, port = context.server.host, context.server.port
    first, last = RANGE_SPAN
    whole = download(host, port, LARGE_FILE, keep_body=True)
    part = download(host, port, LARGE_FILE, headers=[("Range", f"bytes={first}-{last}")], keep_body=True)
    byte_exact = part.status == 206 and part.body == whole.body[first : last + 1]
    _expect(byte_exact, f"Range bytes={first}-{last}: {part.status}, {part.body_bytes} bytes, not the file's bytes")
    measured = _wrk_repeats(
        context, LARGE_FILE, (f"Range: bytes={first}-{last}",), context.config.file_connections, _requests_per_second
    )
    measured.extra["byte_exact"] = byte_exact
    return measured


def _ttfb_stream(context: Context) -> Measured:
    """Time to the first body byte of ``/stream/gen`` (its ``start`` line, sent before any pause)."""
    host, port = context.server.host, context.server.port
    values: list[float] = []
    repeats: list[dict[str, Any]] = []
    for index in range(context.config.repeats):
        context.note(f"repeat {index + 1}/{context.config.repeats}")
        samples = [
            asyncio.run(time_to_first_body_byte(host, port, "/stream/gen")) * 1000
            for _ in range(context.config.ttfb_samples)
        ]
        values.append(statistics.median(samples))
        repeats.append(
            {
                "value": statistics.median(samples),
                "samples_ms": samples,
                "latency_ms": {"p50": percentile(samples, 0.5), "p99": percentile(samples, 0.99), "max": max(samples)},
            }
        )
    return Measured(values, repeats)


def _csv_export(context: Context) -> Measured:
    """The whole ``/export.csv``: wall time, time to first byte, and the peak memory of the server's
    tree, read once after a warm-up request and once after the exports (VmHWM only grows)."""
    rows = int(str(context.overrides["export_rows"]))
    host, port, pid = context.server.host, context.server.port, context.server.process.pid
    download(host, port, "/healthz")
    warm_peak = sum(peak_rss_kib(process) for process in process_tree(pid))
    values: list[float] = []
    repeats: list[dict[str, Any]] = []
    for index in range(context.config.repeats):
        context.note(f"repeat {index + 1}/{context.config.repeats} ({rows:,} rows)")
        server_before = tree_cpu_seconds(pid)
        answer = download(host, port, "/export.csv")
        _expect(
            answer.status == 200 and answer.lines == rows + 1,
            f"/export.csv: {answer.status}, {answer.lines} lines for {rows} rows",
        )
        server_cpu = tree_cpu_seconds(pid) - server_before
        values.append(answer.seconds)
        repeats.append(
            {
                "value": answer.seconds,
                "body_bytes": answer.body_bytes,
                "first_body_byte_ms": answer.first_body_byte_seconds * 1000,
                "server_cpu": server_cpu / answer.seconds if answer.seconds else 0.0,
            }
        )
    peaks = [peak_rss_kib(process) for process in process_tree(pid)]
    return Measured(
        values,
        repeats,
        {"rows": rows, "warm_peak_kib": warm_peak, "peak_kib": sum(peaks), "worker_peak_kib": max(peaks)},
    )


def _io_wait(connections: int) -> Callable[[Context], Measured]:
    def measure(context: Context) -> Measured:
        answer = download(context.server.host, context.server.port, "/io-wait", keep_body=True)
        _expect(
            answer.status == 200 and answer.body == IO_WAIT_BODY and answer.seconds >= IO_WAIT_SECONDS,
            f"/io-wait answered {answer.status} {answer.body!r} in {answer.seconds * 1000:.0f} ms "
            f"(wanted 200 after at least {IO_WAIT_SECONDS * 1000:.0f} ms)",
        )
        return _wrk_repeats(context, "/io-wait", (), connections, _requests_per_second)

    return measure


@dataclass(frozen=True, slots=True)
class Ceiling:
    """How many event streams a server can hold while it still answers the publish (one request
    must stay free for the POST, and for the count on /ops/stats), and what bounds it."""

    streams: int
    reason: str


def sse_ceiling(argv: Sequence[str]) -> Ceiling | None:
    """The ceiling of the server ``argv`` starts, read from that argv (what the server was told),
    or None where an event loop holds any number of streams. A gunicorn gthread thread holds one
    stream for as long as it is open; a gevent worker holds one greenlet per connection, up to its
    pool of worker_connections (gunicorn/workers/ggevent.py: ``Pool(self.worker_connections)``)."""

    def flag(name: str, default: int | None = None) -> int:
        if name in argv:
            return int(argv[list(argv).index(name) + 1])
        if default is None:
            raise ValueError(f"{name} is not in the server's argv {list(argv)!r}")
        return default

    workers = flag("--workers", 1)
    if "gunicorn" in argv:
        # twinport's gevent worker comes from gunicorn_conf.py (no --worker-class in the argv), and
        # only it is given --worker-connections (shared/cli.py, _gevent_connections).
        if "--worker-connections" in argv:
            connections = flag("--worker-connections")
            return Ceiling(workers * connections - 1, f"workers x worker_connections ({workers} x {connections})")
        # Not workers x threads: the kernel hands connections to whichever worker accepts first, so
        # one worker may get every stream, and a connection queued behind its held threads waits
        # for ever, the publish too (a 2-worker run hung so).
        threads = flag("--threads")
        return Ceiling(threads - 1, f"threads of one worker ({threads}), whatever the workers ({workers})")
    return None


def _wait_until_no_subscribers(context: Context) -> None:
    """Let one level's streams go before the next level connects, so they take none of its threads
    and get none of its events. A thread (or greenlet) per stream sees a gone client only when a
    write to it fails, at its next heartbeat: so while any remain, an event named ``settle`` (not a
    measured ``bench-<n>``) is published every half second, and the second write to a closed
    connection fails (the first draws the peer's RST). Bounded by a heartbeat and then some."""
    host, port = context.server.host, context.server.port
    deadline = time.monotonic() + float(str(context.overrides.get("sse_heartbeat", SSE_HEARTBEAT))) + 5.0
    # /ops/stats counts the streams of the worker that answers it: with several, zero from each
    # is wanted, so a few zeros in a row (each request may reach any worker).
    zeros_wanted, zeros = 3 * int(str(context.overrides.get("workers", 1))), 0
    while time.monotonic() < deadline:
        answer = download(host, port, "/ops/stats", keep_body=True)
        zeros = zeros + 1 if json.loads(answer.body)["sse_subscribers"] == 0 else 0
        if zeros >= zeros_wanted:
            return
        if zeros == 0:
            asyncio.run(publish(host, port, "settle", {}))
            time.sleep(0.5)


def _sse_fanout(context: Context) -> Measured:
    ceiling = sse_ceiling(context.argv)
    limit = None if ceiling is None else ceiling.streams
    levels = sorted({level if limit is None else min(level, limit) for level in context.config.sse_levels})
    pid = context.server.process.pid
    results = []
    for clients in levels:
        _wait_until_no_subscribers(context)
        context.note(f"{clients:,} clients")
        level = asyncio.run(
            hold_event_streams(
                context.server.host,
                context.server.port,
                clients,
                events=context.config.sse_events,
                interval=context.config.sse_interval,
                rss_kib=lambda: tree_rss_kib(pid),
            )
        )
        results.append(level)
    top = results[-1]
    _expect(bool(top.latency_ms), f"no event reached any of {top.clients} clients ({top.held} held)")
    levels_out = [
        {
            "clients": level.clients,
            "held": level.held,
            "subscribers_seen": level.subscribers_seen,
            "rss_before_kib": level.rss_before_kib,
            "rss_held_kib": level.rss_held_kib,
            "kib_per_client": level.kib_per_client,
            "events": level.events,
            "delivered": level.delivered,
            "expected": level.events * level.held,
            "latency_ms": level.latency_ms,
            "connect_seconds": level.connect_seconds,
        }
        for level in results
    ]
    # One pass per level (each is many deliveries): the headline is the top level's p99.
    return Measured(
        [top.latency_ms["p99"]],
        [{"value": top.latency_ms["p99"], **levels_out[-1]}],
        {
            "levels": levels_out,
            "ceiling": limit,
            "ceiling_reason": None if ceiling is None else f"{ceiling.reason}, one kept for the publish",
        },
    )


_REVALIDATE_304 = "GET /items/42 with a matching If-None-Match: 304 (wrk, 64 connections)"
_PAGING = "GET /api/v1/items?page=2&size=20 (wrk, 64 connections)"


def _sse_over_redis(config: BenchConfig, *, workers: int) -> Mapping[str, object]:
    return {"sse_heartbeat": SSE_HEARTBEAT, "event_backend": "redis", "workers": workers}


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("tiny-json", "GET /as-json (wrk, 64 connections)", "req/s", True, _tiny_json),
    Scenario("revalidate-304", _REVALIDATE_304, "req/s", True, _revalidate_304),
    Scenario("paging", _PAGING, "req/s", True, _paging),
    *(
        Scenario(
            f"{name}-postgresql",
            f"{description}, the store on PostgreSQL 15 (local, loopback TCP, started by the bench)",
            "req/s",
            True,
            measure,
            server_group="postgresql",
            database="postgresql",
        )
        for name, description, measure in (
            ("revalidate-304", _REVALIDATE_304, _revalidate_304),
            ("paging", _PAGING, _paging),
        )
    ),
    Scenario("file-1mb", "GET /files/large.bin, 1,048,583 bytes (wrk, 16 connections)", "MB/s", True, _file_1mb),
    Scenario(
        "range-64k",
        "GET /files/large.bin with Range: bytes=65536-131071, checked byte-exact (wrk, 16 connections)",
        "req/s",
        True,
        _range_64k,
    ),
    Scenario(
        "ttfb-stream",
        "time to the first body byte of /stream/gen (asyncio client, one request at a time)",
        "ms",
        False,
        _ttfb_stream,
    ),
    Scenario(
        "csv-export",
        "the whole /export.csv (100,000 rows), one download at a time",
        "s",
        False,
        _csv_export,
        lambda config: {"export_rows": config.csv_rows},
        "csv",
    ),
    Scenario(
        "csv-export-10x",
        "the whole /export.csv at 10x the rows (1,000,000)",
        "s",
        False,
        _csv_export,
        lambda config: {"export_rows": config.csv_rows * 10},
        "csv-10x",
    ),
    Scenario(
        "sse-fanout",
        f"clients held open on /events (heartbeat {SSE_HEARTBEAT:g} s, as shipped); "
        "p99 delivery of one event per second to each (asyncio client)",
        "ms",
        False,
        _sse_fanout,
        lambda config: {"sse_heartbeat": SSE_HEARTBEAT},
        "sse",
    ),
    *(
        Scenario(
            f"sse-fanout-redis-{workers}w",
            f"sse-fanout with event_backend = redis (a local redis-server started by the bench), "
            f"{workers} worker{'s' if workers > 1 else ''}: each event through the stream, read once per worker",
            "ms",
            False,
            _sse_fanout,
            functools.partial(_sse_over_redis, workers=workers),
            f"sse-redis-{workers}w",
            events="redis",
        )
        for workers in (1, 2)
    ),
    *(
        Scenario(
            f"io-wait-{connections}",
            f"GET /io-wait on the benchmark's own app: the view waits {IO_WAIT_SECONDS * 1000:.0f} ms on I/O "
            f"(time.sleep in Flask, await asyncio.sleep in Quart) (wrk, {connections} connections)",
            "req/s",
            True,
            _io_wait(connections),
            server_group="io-wait",
            factories=IO_WAIT_FACTORIES,
        )
        for connections in IO_WAIT_CONNECTIONS
    ),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def resolve_scenarios(names: Sequence[str]) -> list[Scenario]:
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [BY_NAME[name] for name in names]
