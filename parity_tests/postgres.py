"""A real PostgreSQL server for tests and benchmarks: a throwaway cluster, never a system service.

``running_postgres()`` runs Debian's PostgreSQL 15 (``initdb`` and ``postgres`` from
/usr/lib/postgresql/15/bin) on a cluster in a temporary directory, listening on a free loopback
port and on a unix socket in that directory, and stops it (fast shutdown) and removes the
directory when the block ends: nothing is left running or on disk. PostgreSQL refuses to run as
root, so under root (CI, this machine) both programs run as the ``postgres`` user, which owns the
directory. Durability is switched off (fsync, synchronous_commit, full_page_writes): the cluster
dies with the test run, and a start takes a second or two, not more.

A database per test or per app is cheap: ``PostgresServer.fresh_database`` is a ``CREATE
DATABASE ... TEMPLATE``, a file copy of the template. ``seeded_template`` prepares, once per
server, a template with twinport's tables and seed (``prepare_database``), so a copy of it is a
database as ``twinport serve`` would leave it, in milliseconds rather than a 10,000-row seed.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from sqlalchemy.engine import URL

from .servers import free_port, stop_process

__all__ = [
    "DATABASES",
    "POSTGRES_BIN",
    "PostgresServer",
    "find_postgres",
    "require_postgres",
    "running_postgres",
]

# The stores' backends, as test ids: the embedded default, and a real server started here.
DATABASES = ("sqlite", "postgresql")
# Debian's postgresql-15 (the version bookworm ships); TWINPORT_POSTGRES_BIN names another.
POSTGRES_BIN = Path(os.environ.get("TWINPORT_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
_RUN_AS = "postgres"
STARTUP_SECONDS = 30.0
# Settings for a cluster that lives as long as a test run: no durability (nothing survives it
# anyway), no background work to wait for, and connections enough for several servers' pools.
_FAST = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def find_postgres() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, or None."""
    if all((POSTGRES_BIN / program).is_file() for program in ("initdb", "postgres")):
        return POSTGRES_BIN
    return None


def require_postgres() -> Path:
    """For a test: PostgreSQL's programs, or a skip; a failure where ``TWINPORT_TEST_REQUIRE``
    names ``postgresql`` (CI), as ``servers.require_program`` does for nginx."""
    import pytest  # only tests call this; the benchmarks call find_postgres

    found = find_postgres()
    if found is None:
        if "postgresql" in os.environ.get("TWINPORT_TEST_REQUIRE", "").split(","):
            pytest.fail(f"postgresql is required here (TWINPORT_TEST_REQUIRE) but {POSTGRES_BIN} has no initdb")
        pytest.skip(f"postgresql is not installed ({POSTGRES_BIN}; apt-get install postgresql, or let .ci/run do it)")
    pytest.importorskip("psycopg", reason="the postgresql extra (psycopg[binary]) is not installed")
    return found


@dataclass
class PostgresServer:
    """A running cluster: its loopback port, its socket directory, and databases made on demand."""

    host: str
    port: int
    socket_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    user: str = "postgres"
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _template: str | None = None

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database`` over TCP on loopback, as a deployment's would be."""
        return URL.create("postgresql", self.user, None, self.host, self.port, database).render_as_string(
            hide_password=False
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """Fast shutdown (SIGINT): sessions are ended and the server exits at once, where SIGTERM
        would wait for every client to leave. Its exit status; again, it changes nothing."""
        return stop_process(self.process, signal.SIGINT)

    def execute(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """One statement in autocommit (CREATE DATABASE cannot run in a transaction), its rows."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=database, autocommit=True) as db:
            cursor = db.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []

    def fresh_database(self, *, seeded: bool = True, prefix: str = "twinport") -> str:
        """The URL of a new database of its own: a copy of ``seeded_template`` (tables and the
        default seed, as a first ``twinport serve`` leaves it), or an empty one."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        template = self.seeded_template() if seeded else "template0"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def seeded_template(self) -> str:
        """A database prepared once with the default seed, that ``fresh_database`` copies."""
        if self._template is None:
            from shared.edge.store import prepare_database

            name = "twinport_seeded"
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            prepare_database(self.url(name))  # its engine is disposed: no session left to block a copy
            self._template = name
        return self._template

    def connections(self, database: str) -> int:
        """Client connections to ``database`` now (pg_stat_activity), other than this query's own."""
        rows = self.execute(
            "SELECT count(*) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return int(cast(int, rows[0][0]))


@contextmanager
def running_postgres(bin_dir: Path | None = None) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster on a free loopback port until the block ends, then stopped and
    removed; a start that fails raises RuntimeError with the server's log."""
    programs = bin_dir or find_postgres()
    if programs is None:
        raise RuntimeError(f"PostgreSQL is not installed: no initdb in {POSTGRES_BIN}")
    as_root = os.geteuid() == 0
    scratch = Path(tempfile.mkdtemp(prefix="twinport-postgres-"))
    try:
        if as_root:
            owner = pwd.getpwnam(_RUN_AS)
            os.chown(scratch, owner.pw_uid, owner.pw_gid)
        user = _RUN_AS if as_root else None
        data, log_path = scratch / "data", scratch / "postgres.log"
        # Popen(user=...) rather than runuser: the server is our own child, so signals reach it.
        subprocess.run(
            [
                str(programs / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            cwd=scratch,
            user=user,
        )
        port = free_port()
        settings = {
            **_FAST,
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(scratch),
        }
        argv = [str(programs / "postgres"), "-D", str(data)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        with log_path.open("wb") as log:
            if as_root:
                os.chown(log_path, owner.pw_uid, owner.pw_gid)
            process = subprocess.Popen(
                argv, cwd=scratch, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, user=user
            )
        server = PostgresServer("127.0.0.1", port, scratch, process, log_path)
        try:
            _wait_until_ready(server)
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _wait_until_ready(server: PostgresServer) -> None:
    import psycopg

    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.process.returncode} before accepting:\n{server.log()}")
        try:
            with psycopg.connect(
                host=server.host, port=server.port, user=server.user, dbname="postgres", connect_timeout=2
            ):
                return
        except psycopg.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(f"postgres did not accept connections within {STARTUP_SECONDS:.0f}s:\n{server.log()}")
