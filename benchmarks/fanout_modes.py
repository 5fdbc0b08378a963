"""One task writing an event to every subscriber, or a coroutine per subscriber? A measurement.

Issue 10 asked whether an SSE fan-out would be cheaper if one task wrote each frame to every open
stream, instead of waking one coroutine per subscriber that writes its own. This measures the two
on the real ASGI servers, with no framework in the way: a bare ASGI app (``app`` below) in either
``MODE``, on uvicorn (h11, uvloop) or granian (ASGI, uvloop), pinned to one core, and an asyncio
client on the other core that holds ``--clients`` streams, publishes 15 events one by one, and
records for each the time until every client has it and the server's CPU time it took.

- ``coro``: each stream's coroutine awaits one shared future; a publish resolves it, and every
  coroutine wakes and awaits its own ``send`` (what twinport's hub does through Quart).
- ``task``: each stream parks its ``send``; a publish's own task awaits every one in turn.

    python -m benchmarks.fanout_modes --server granian --clients 5000

Measured (2026-12-02, this 2-core machine, 5,000 clients, two rounds each, server CPU per
subscriber per event): uvicorn 22-26 us a coroutine each, 20 us from one task; granian 14-16 us
and 12 us; delivery to all p50 uvicorn 111-124 ms vs 103 ms, granian 69-84 ms vs 61-75 ms. One task
saves 10-20%, and twinport keeps a coroutine per subscriber: in one task a client that stops
reading stops everyone behind it as soon as its socket buffer fills (``send`` waits for it to
drain), and Quart streams a response only from the request's own task (its body generator), so
one writer would have to bypass the framework the port is about. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from parity_tests.servers import free_port

__all__ = ["app", "main"]

Send = Callable[[dict[str, Any]], Awaitable[None]]
FRAME = b'event: tick\ndata: {"n":1}\n\n'
EVENTS = 15
_sends: list[Send] = []  # MODE=task: every open stream's send
_current: asyncio.Future[bytes] | None = None  # MODE=coro: what every stream awaits


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Send) -> None:
    """The bare ASGI app: ``/events`` (a stream), ``/publish`` (one event to every stream)."""
    global _current
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    mode = os.environ.get("MODE", "coro")
    if scope["path"] == "/publish":
        if mode == "task":
            message = {"type": "http.response.body", "body": FRAME, "more_body": True}
            for each in list(_sends):
                await each(message)
        else:
            future, _current = _current, asyncio.get_running_loop().create_future()
            if future is not None:
                future.set_result(FRAME)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
    if mode == "task":
        _sends.append(send)
        try:
            await asyncio.get_running_loop().create_future()  # until the client leaves (cancelled)
        finally:
            _sends.remove(send)
        return
    while True:
        if _current is None:
            _current = asyncio.get_running_loop().create_future()
        frame = await _current
        await send({"type": "http.response.body", "body": frame, "more_body": True})


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(port: int, clients: int, pid: int) -> tuple[list[float], list[float]]:
    loop = asyncio.get_running_loop()
    received = [0] * EVENTS
    everyone: list[asyncio.Future[float]] = [loop.create_future() for _ in range(EVENTS)]
    opened = 0

    async def subscriber() -> None:
        nonlocal opened
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        await reader.readuntil(b": open\n\n")
        opened += 1
        for index in range(EVENTS):
            await reader.readuntil(b"\n\n")
            received[index] += 1
            if received[index] == clients:
                everyone[index].set_result(time.perf_counter())
        writer.close()

    tasks = []
    for index in range(clients):
        tasks.append(asyncio.create_task(subscriber()))
        if index % 200 == 199:
            await asyncio.sleep(0.05)  # the server's backlog
    while opened < clients:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    spans, cpus = [], []
    for index in range(EVENTS):
        cpu, start = _cpu_seconds(pid), time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /publish HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        await reader.read()
        writer.close()
        spans.append(await everyone[index] - start)
        await asyncio.sleep(0.3)  # the server is idle again before its CPU time is read
        cpus.append(_cpu_seconds(pid) - cpu)
    for task in tasks:
        task.cancel()
    return sorted(spans), sorted(cpus)


def _server_argv(server: str, port: int) -> list[str]:
    common = [sys.executable, "-m", server]
    if server == "uvicorn":
        return [*common, "benchmarks.fanout_modes:app", "--port", str(port), "--loop", "uvloop", "--http", "h11"]
    return [
        *common,
        *("--interface", "asgi", "--loop", "uvloop", "--http", "1", "--port", str(port)),
        *("--backpressure", "100000", "--backlog", "4096", "benchmarks.fanout_modes:app"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="granian")
    parser.add_argument("--modes", nargs="+", choices=("coro", "task"), default=["coro", "task"])
    parser.add_argument("--clients", type=int, default=5000)
    arguments = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    for mode in arguments.modes:
        port = free_port()
        environment = {**os.environ, "MODE": mode, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        argv_ = ["taskset", "-c", str(cores[0]), *_server_argv(arguments.server, port)]
        with subprocess.Popen(argv_, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
            try:
                time.sleep(2)
                children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout
                worker = int(children.split()[0]) if children.split() else server.pid  # granian's worker
                os.sched_setaffinity(0, cores[-1:])
                spans, cpus = asyncio.run(_measure(port, arguments.clients, worker))
            finally:
                server.terminate()
        print(
            f"{arguments.server} {mode}: {arguments.clients} clients, delivery to all p50 "
            f"{spans[len(spans) // 2] * 1e3:.1f} ms (max {spans[-1] * 1e3:.1f}), server CPU per subscriber "
            f"p50 {cpus[len(cpus) // 2] / arguments.clients * 1e6:.1f} us"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
