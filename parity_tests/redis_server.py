"""A real Redis server for tests and benchmarks: Debian's ``redis-server`` on a free loopback port,
its files in a temporary directory, stopped (and its directory removed) on the way out.

Nothing is persisted (no RDB snapshot, no AOF): a test that restarts Redis to prove the service
survives it gets an empty server back, as an operator whose Redis lost its memory would; one
that needs the data to survive restarts the same instance with ``restart()``, which keeps the
port and, with ``persist=True``, the append-only file.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .servers import free_port, require_program, stop_process

__all__ = ["RedisServer", "redis_server"]

STARTUP_SECONDS = 10.0


class RedisServer:
    """One ``redis-server`` process; ``url`` is what ``redis_url`` is set to."""

    def __init__(self, program: str, directory: Path, *, persist: bool = False) -> None:
        self._program = program
        self._directory = directory
        self._persist = persist
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # --save "": no snapshots; --appendonly when persisting, so a restart keeps every entry.
        argv = [
            self._program,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self._directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self._persist else "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self._directory / "redis.log"),
        ]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}:\n{self.log()}")
            if self._answers_ping():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer PING within {STARTUP_SECONDS:.0f}s:\n{self.log()}")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL): the service's clients see their connections drop."""
        if self._process is not None:
            stop_process(self._process, signal.SIGTERM)
            self._process = None

    def kill(self) -> None:
        """Kill it (SIGKILL) as a crash would: no goodbye to its clients."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL)
            self._process = None

    def pause(self) -> None:
        """Freeze it (SIGSTOP), as a Redis that hangs: connections stay open, nothing answers."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        path = self._directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def redis_server(*, persist: bool = False) -> Iterator[RedisServer]:
    """A running Redis for the block (a skip where redis-server is missing, a failure where
    ``TWINPORT_TEST_REQUIRE`` names ``redis-server``)."""
    program = require_program("redis-server")
    with tempfile.TemporaryDirectory(prefix="twinport-redis-") as directory:
        server = RedisServer(program, Path(directory), persist=persist)
        server.start()
        try:
            yield server
        finally:
            server.stop()
