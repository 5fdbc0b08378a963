"""Request/response load from wrk (a C load generator), read back as JSON.

A Python loop would be the bottleneck against any of these servers; wrk on one thread is not.
Its ``done`` hook (a Lua script) prints the summary and latency percentiles as one JSON line,
so nothing is scraped from the human-readable output.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from parity_tests.servers import find_program

__all__ = ["WrkResult", "parse_wrk_output", "run_wrk", "wrk_available", "wrk_version"]

_MARKER = "WRK_JSON "
# wrk's latency histogram is in microseconds; percentile() takes 0-100.
_DONE_SCRIPT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d}}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
""".replace("MARKER", _MARKER)


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    bytes: int
    errors: Mapping[str, int]  # status counts answers >= 400; connect/read/write/timeout are socket errors
    latency_ms: Mapping[str, float]  # mean, max, p50, p90, p99, p99.9

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def wrk_available() -> bool:
    return find_program("wrk") is not None


def wrk_version() -> str | None:
    """The first line of ``wrk -v`` (e.g. ``wrk debian/4.1.0-3+b2 [epoll] ...``), its version words;
    None without wrk. wrk prints it and exits 1, so the status is not read."""
    program = find_program("wrk")
    if program is None:
        return None
    completed = subprocess.run([program, "-v"], capture_output=True, text=True, timeout=10)
    words = (completed.stdout or completed.stderr).split()
    return " ".join(words[1:3]) if len(words) >= 3 else None


def parse_wrk_output(stdout: str) -> WrkResult:
    """The JSON line the done script printed; a wrk that could not run has none."""
    for line in stdout.splitlines():
        if line.startswith(_MARKER):
            document = json.loads(line[len(_MARKER) :])
            return WrkResult(
                requests=document["requests"],
                seconds=document["duration_us"] / 1e6,
                bytes=document["bytes"],
                errors=dict(document["errors"]),
                latency_ms={name: value / 1000 for name, value in document["latency_us"].items()},
            )
    raise RuntimeError(f"wrk printed no summary:\n{stdout[-2000:]}")


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    headers: Sequence[str] = (),
    threads: int = 1,
    timeout_seconds: int = 10,
) -> WrkResult:
    """One wrk run of ``seconds`` (wrk takes whole seconds) with ``connections`` kept open.

    The timeout is raised from wrk's 2 s so that a slow server (gunicorn sync with 64 waiting
    connections) shows up as latency, not as dropped requests.
    """
    with tempfile.TemporaryDirectory(prefix="twinport-wrk-") as scratch:
        script = Path(scratch) / "done.lua"
        script.write_text(_DONE_SCRIPT)
        argv = [
            "wrk",
            f"-t{threads}",
            f"-c{max(connections, threads)}",
            f"-d{seconds}s",
            f"--timeout={timeout_seconds}s",
            "-s",
            str(script),
        ]
        for header in headers:
            argv += ["-H", header]
        completed = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + timeout_seconds + 30)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited with {completed.returncode}: {completed.stderr.strip()[-500:]}")
    return parse_wrk_output(completed.stdout)
