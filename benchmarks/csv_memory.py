"""Does the CSV export's memory stay flat as the row count grows? A measurement, not a test.

For each runtime and row count, start the real server (``twinport serve``: gunicorn + Flask,
hypercorn + Quart) with ``export_rows`` set, download ``/export.csv`` to the end, and read the
peak resident set (``VmHWM`` in ``/proc/<pid>/status``) of every process in the server's tree:
once after a warm-up request and once after the export. Flat means the peak after the export is
about the same for 100,000 and 1,000,000 rows, and close to the warm-up peak.

    python -m benchmarks.csv_memory                       # 100k and 1M rows, both runtimes
    python -m benchmarks.csv_memory --rows 1000 --runtimes quart

Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from parity_tests.servers import running_server

__all__ = ["Measurement", "format_table", "main", "measure", "peak_rss_kib", "process_tree", "status_kib"]

RUNTIMES = ("flask", "quart")
ROW_COUNTS = (100_000, 1_000_000)


@dataclass(frozen=True, slots=True)
class Measurement:
    runtime: str
    rows: int
    body_bytes: int
    seconds: float
    warm_peak_kib: int  # the tree's summed VmHWM after a warm-up request
    peak_kib: int  # the same after the whole export
    worker_peak_kib: int  # the process that made the CSV (the largest after the export)


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it, from the parent ids in ``/proc/*/stat``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name (field 2) is in parentheses and may hold spaces; the ppid follows it.
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def status_kib(pid: int, field: str) -> int:
    """A memory field of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``...), in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set so far (VmHWM), in KiB; 0 if it is gone."""
    return status_kib(pid, "VmHWM")


def _download(host: str, port: int, target: str) -> tuple[int, int]:
    """Read the whole body in 64 KiB pieces; returns (bytes, lines)."""
    connection = http.client.HTTPConnection(host, port, timeout=120)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {target}: {response.status}")
        size = lines = 0
        while chunk := response.read(65536):
            size += len(chunk)
            lines += chunk.count(b"\n")
        return size, lines
    finally:
        connection.close()


def measure(runtime: str, rows: int) -> Measurement:
    with running_server(runtime, {"export_rows": rows}) as server:
        _download(server.host, server.port, "/healthz")
        warm = sum(peak_rss_kib(pid) for pid in process_tree(server.process.pid))
        started = time.monotonic()
        size, lines = _download(server.host, server.port, "/export.csv")
        seconds = time.monotonic() - started
        if lines != rows + 1:
            raise RuntimeError(f"{runtime}: expected {rows + 1} lines, got {lines}")
        peaks = [peak_rss_kib(pid) for pid in process_tree(server.process.pid)]
    return Measurement(runtime, rows, size, seconds, warm, sum(peaks), max(peaks))


def format_table(measurements: Sequence[Measurement]) -> str:
    rows = [
        (
            "runtime",
            "rows",
            "body MB",
            "seconds",
            "tree peak after warm-up MiB",
            "tree peak after export MiB",
            "worker peak MiB",
        )
    ]
    rows += [
        (
            m.runtime,
            f"{m.rows:,}",
            f"{m.body_bytes / 1e6:.1f}",
            f"{m.seconds:.2f}",
            f"{m.warm_peak_kib / 1024:.1f}",
            f"{m.peak_kib / 1024:.1f}",
            f"{m.worker_peak_kib / 1024:.1f}",
        )
        for m in measurements
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.csv_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(ROW_COUNTS), help="row counts to export")
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    arguments = parser.parse_args(argv)
    if not os.path.isdir("/proc/self"):
        print("needs Linux /proc to read peak memory", file=sys.stderr)
        return 2
    measurements = [measure(runtime, rows) for runtime in arguments.runtimes for rows in arguments.rows]
    print(format_table(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
