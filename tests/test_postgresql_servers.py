"""Both runtimes' real servers on a real PostgreSQL: the pool the settings size, closed when the
server stops; a database that refuses or is down is a 503 problem (``/healthz`` too), never a 500
or a hang, and serving resumes by itself when it is back."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import flask_impl
import quart_impl
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess, WireClient
from parity_tests.postgres import PostgresServer, require_postgres, running_postgres
from parity_tests.servers import free_port, running_server, serve_argv, twinport_environment
from shared.service.errors import DATABASE_RETRY_SECONDS

# The data endpoints, each reading the store a different way, and the health check.
READS = ("/items/1", "/docs/1", "/api/v1/items?page=2&size=10", "/api/v1/items?after=5", "/api/v2/items/1")


def database_name(url: str) -> str:
    return str(make_url(url).database)


def wait_for_connections(postgres: PostgresServer, database: str, expected: int, within: float = 10) -> int:
    """The connections to ``database`` once they are ``expected`` (a backend ends a moment after
    its client has gone), or what they are at the deadline."""
    deadline = time.monotonic() + within
    while (found := postgres.connections(database)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def end_sessions(postgres: PostgresServer, database: str) -> int:
    """End every session on ``database`` (pg_terminate_backend); how many there were."""
    return len(postgres.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"))


def assert_unavailable(client: Client, target: str) -> None:
    response = client.request("GET", target)
    assert response.status == 503, (target, response.status, response.body)
    assert response.header("Content-Type") == "application/problem+json", target
    assert response.header("Retry-After") == str(DATABASE_RETRY_SECONDS), target
    assert response.header("Cache-Control") == "no-store", target
    problem = json.loads(response.body)
    assert (problem["status"], problem["detail"]) == (503, "The database is unavailable; try again later.")


def test_the_pool_holds_db_pool_size_connections_and_none_outlive_the_server(
    runtime: str, settings: dict[str, object], postgres: PostgresServer
) -> None:
    url = postgres.fresh_database()
    database = database_name(url)
    with running_server(runtime, {**settings, "database_url": url, "db_pool_size": 3}) as server:
        client = WireClient(server.host, server.port, runtime)
        # Many more requests at once than the pool has connections (gunicorn runs 32 threads):
        # they share three, and each is answered.
        targets = [f"/api/v1/items?page={page}&size=100" for page in range(1, 41)]
        with ThreadPoolExecutor(16) as requests:
            statuses = list(requests.map(lambda target: client.request("GET", target).status, targets))
        assert statuses == [200] * len(targets)
        assert 1 <= postgres.connections(database) <= 3
    assert server.exit_status == 0
    assert wait_for_connections(postgres, database, 0) == 0, "connections left after the server stopped"


def test_ended_connections_are_replaced_and_a_database_that_refuses_is_a_503_until_it_is_back(
    runtime: str, settings: dict[str, object], postgres: PostgresServer
) -> None:
    url = postgres.fresh_database()
    database = database_name(url)
    with running_server(runtime, {**settings, "database_url": url}) as server:
        client = WireClient(server.host, server.port, runtime)
        assert [client.request("GET", target).status for target in READS] == [200] * len(READS)
        # What a PostgreSQL restart or failover does to a pool: every connection in it is dead.
        # That costs no client an error (the store retries once on a new connection).
        assert end_sessions(postgres, database), "the server held no connection to end"
        assert [client.request("GET", target).status for target in READS] == [200] * len(READS)
        # Now the pool's connections are ended under it, and no new one is let in.
        postgres.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        end_sessions(postgres, database)
        try:
            for target in (*READS, "/healthz"):
                assert_unavailable(client, target)
            assert client.request("GET", "/files/hello.txt").status == 200  # what needs no database is still served
        finally:
            postgres.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert [client.request("GET", target).status for target in (*READS, "/healthz")] == [200] * (len(READS) + 1)
        # The driver's reason, for the operator.
        assert f'database "{database}" is not currently accepting connections' in server.log()
    assert server.exit_status == 0


def test_a_database_server_that_went_down_is_a_503_not_a_hang(runtime: str, settings: dict[str, object]) -> None:
    require_postgres()
    with running_postgres() as own:
        url = own.fresh_database()
        with running_server(runtime, {**settings, "database_url": url}) as server:
            client = WireClient(server.host, server.port, runtime, timeout=15)
            assert client.request("GET", "/items/1").status == 200
            assert own.stop() == 0  # the server's sessions are ended, then nothing listens on its port
            for target in (*READS, "/healthz"):
                assert_unavailable(client, target)
        assert server.exit_status == 0


def test_an_app_started_while_its_database_refuses_serves_503_then_prepares_it(
    runtime: str, settings: dict[str, object], postgres: PostgresServer
) -> None:
    # Started without ``twinport serve`` (which would refuse to start, tests/test_cli.py), on a
    # database never prepared: Quart's before_serving must not fail, Flask's first request must
    # not be a 500; once the database answers, the tables and the seed are made, once.
    url = postgres.fresh_database(seeded=False)
    database = database_name(url)
    postgres.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        with ExitStack() as stack:
            if runtime == "flask":
                client: Client = FlaskInProcess(flask_impl.create_app({**settings, "database_url": url}))
            else:
                client = stack.enter_context(QuartInProcess(quart_impl.create_app({**settings, "database_url": url})))
            for target in (*READS, "/healthz"):
                assert_unavailable(client, target)
            postgres.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            page = client.request("GET", "/api/v1/items?page=1&size=5")
            assert (page.status, page.header("X-Total-Count")) == (200, "10000")
            assert [client.request("GET", target).status for target in (*READS, "/healthz")] == [200] * 6
    finally:
        postgres.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


@pytest.mark.parametrize("runtime", ["quart"])  # the check runs before either server; Quart's hypercorn exits 0
def test_serve_on_a_database_that_does_not_exist_is_one_line_exit_2(
    runtime: str, tmp_path: Path, postgres: PostgresServer
) -> None:
    # A PostgreSQL that answers, and refuses: the server's reason in one line, nothing listening.
    port = free_port()
    url = postgres.url("no_such_database")
    result = subprocess.run(
        [*serve_argv(runtime, port), "--database-url", url],
        cwd=tmp_path,
        env=twinport_environment({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"twinport: error: database_url: cannot open the database {url!r}: ")
    assert result.stderr.endswith('database "no_such_database" does not exist\n')  # the server's own words
    assert len(result.stderr.splitlines()) == 1, result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_gunicorn_hook_finds_the_store_where_the_app_keeps_it(settings: dict[str, object]) -> None:
    import flask_impl
    from flask_impl import gunicorn_conf
    from shared.edge.store import SyncStore

    app = flask_impl.create_app(settings)
    assert isinstance(app.extensions.get(gunicorn_conf.STORE_EXTENSION), SyncStore)
