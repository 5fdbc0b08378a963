"""Start the real production servers on free loopback ports, as ``twinport serve`` does.

Each server is the real command line (``python -m shared.cli serve``) in a scratch working
directory with only the settings we pass, so the user's twinport.toml or TWINPORT_* variables
cannot leak into a test run. Stopping sends SIGTERM and records the exit status: a clean
shutdown is part of what is tested.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import CONFIG_ENV
from shared.settings import ENV_PREFIX, SERVERS

__all__ = [
    "DEFAULT_SERVINGS",
    "LOG_LINES",
    "LOG_READ_LIMIT",
    "PAIRINGS",
    "REPO_ROOT",
    "SERVINGS",
    "RunningServer",
    "Serving",
    "find_program",
    "free_port",
    "log_tail",
    "require_program",
    "running_command",
    "running_server",
    "stop_process",
    "twinport_environment",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Serving:
    """One runtime on one of its servers with one worker class: what ``twinport serve`` offers."""

    runtime: str
    server: str
    worker_class: str

    @property
    def id(self) -> str:
        return f"{self.runtime}-{self.server}-{self.worker_class}"

    def settings(self) -> dict[str, str]:
        return {"server": self.server, "worker_class": self.worker_class}


# Every serving offered (shared.settings.SERVERS), each runtime's default first.
SERVINGS = tuple(
    Serving(runtime, server, worker_class)
    for runtime, servers in SERVERS.items()
    for server, worker_classes in servers.items()
    for worker_class in worker_classes
)
DEFAULT_SERVINGS = {runtime: next(each for each in SERVINGS if each.runtime == runtime) for runtime in SERVERS}
# The Flask and Quart servings the parity suite compares over the wire: the two defaults, then every
# other serving against the other runtime's default. Answers that equal one reference equal each
# other, so every pair of servings (Flask on any, Quart on any) is proven without running all of them.
PAIRINGS: tuple[tuple[Serving, Serving], ...] = (
    (DEFAULT_SERVINGS["flask"], DEFAULT_SERVINGS["quart"]),
    *(
        (serving, DEFAULT_SERVINGS["quart"]) if serving.runtime == "flask" else (DEFAULT_SERVINGS["flask"], serving)
        for serving in SERVINGS
        if serving not in DEFAULT_SERVINGS.values()
    ),
)


@dataclass
class RunningServer:
    runtime: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    exit_status: int | None = field(default=None)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def twinport_environment(settings: Mapping[str, object]) -> dict[str, str]:
    """This process's environment without any TWINPORT_* of the user's, plus ``settings``."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX) and key != CONFIG_ENV
    }
    environment.update({f"{ENV_PREFIX}{key.upper()}": str(value) for key, value in settings.items()})
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    environment.setdefault("PYTHONUNBUFFERED", "1")
    return environment


def stop_process(process: subprocess.Popen[bytes], stop: signal.Signals, timeout: float = 20) -> int:
    """Ask a process to stop, kill it if it will not, and return its exit status."""
    if process.poll() is None:
        process.send_signal(stop)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def running_command(
    runtime: str, argv: Sequence[str], port: int, environment: Mapping[str, str], cwd: Path, log_path: Path
) -> Iterator[RunningServer]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(environment), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningServer(runtime, "127.0.0.1", port, process, log_path)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        server.exit_status = stop_process(process, signal.SIGTERM)


@contextmanager
def running_server(
    runtime: str, settings: Mapping[str, object] | None = None, serving: Serving | None = None
) -> Iterator[RunningServer]:
    """``twinport serve --runtime RUNTIME`` on a free port, until the block ends; on the server
    and worker class of ``serving`` if given (else the runtime's defaults, or ``settings``')."""
    if serving is not None:
        assert serving.runtime == runtime, (serving, runtime)
        settings = {**(settings or {}), **serving.settings()}
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"twinport-{runtime}-") as scratch:
        directory = Path(scratch)
        environment = twinport_environment({"data_dir": str(directory / "data"), **(settings or {})})
        with running_command(
            runtime, serve_argv(runtime, port), port, environment, directory, directory / "server.log"
        ) as server:
            yield server


def serve_argv(runtime: str, port: int) -> list[str]:
    """The real command line: ``twinport serve`` for ``runtime`` on loopback ``port``."""
    return [
        sys.executable,
        "-m",
        "shared.cli",
        "serve",
        "--runtime",
        runtime,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _wait_until_healthy(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.runtime} server exited with {server.process.returncode} before answering:\n{server.log()}"
            )
        # Closed on every path: a probe that times out (a server slow to boot on a busy machine)
        # would otherwise leave its socket to the garbage collector, and a ResourceWarning, which
        # the suite turns into an error in whatever test runs then.
        connection = http.client.HTTPConnection(server.host, server.port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.runtime} server did not answer /healthz within {STARTUP_SECONDS:.0f}s:\n{server.log()}"
    )


def find_program(name: str) -> str | None:
    """The path of an external program (nginx, wrk, openssl, chromium), or None. Debian puts nginx
    in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)


def require_program(name: str) -> str:
    """For a test: the program's path, or a skip; a failure where ``TWINPORT_TEST_REQUIRE`` (CI)
    says it must be there, so a missing install never passes as a skip."""
    import pytest  # only tests call this; ``twinport parity`` runs without pytest

    path = find_program(name)
    if path is None:
        if name in os.environ.get("TWINPORT_TEST_REQUIRE", "").split(","):
            pytest.fail(f"{name} is required here (TWINPORT_TEST_REQUIRE) but not installed")
        pytest.skip(f"{name} is not installed (install it, or let .ci/run do it)")
    return path


#: A server log's tail, as reports and errors show it: its last lines, read from its end.
LOG_LINES = 40
LOG_READ_LIMIT = 256 * 1024  # bytes read from a log's end, however long its lines


def log_tail(path: Path, lines: int = LOG_LINES) -> str:
    """The last ``lines`` lines of a log, read backwards from its end and at most
    ``LOG_READ_LIMIT`` bytes of it: a log of any size, or one endless line, costs the same."""
    with path.open("rb") as log:
        end = log.seek(0, os.SEEK_END)
        start, newlines = end, 0
        chunks: list[bytes] = []
        while start > 0 and end - start < LOG_READ_LIMIT and newlines <= lines:
            step = min(8192, start, LOG_READ_LIMIT - (end - start))
            start -= step
            log.seek(start)
            chunks.insert(0, log.read(step))
            newlines += chunks[0].count(b"\n")
    tail = b"".join(chunks).decode("utf-8", "replace").splitlines()
    if start > 0 and len(tail) > lines:
        tail = tail[1:]  # begun mid-line
    return "\n".join(tail[-lines:])
