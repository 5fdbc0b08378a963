"""Fixtures shared by tests/ and parity_tests/: both apps, a client per runtime, real servers.

A test that takes ``client`` runs once per runtime (``[flask]`` and ``[quart]``), in-process;
one that takes ``wire_client`` (or ``serving``) runs once per serving offered, each runtime on each
of its servers (``parity_tests.servers.SERVINGS``: ``[flask-gunicorn-gthread]`` ...
``[quart-granian-uvloop]``), against the real server. The test body is written once, in the
synchronous ``Client`` interface of ``parity_tests.clients``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import flask_impl
import quart_impl
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess, WireClient
from parity_tests.harness import parity_settings
from parity_tests.postgres import DATABASES, PostgresServer, require_postgres, running_postgres
from parity_tests.redis_server import RedisServer, redis_server
from parity_tests.servers import DEFAULT_SERVINGS, SERVINGS, Serving, running_server

RUNTIMES = ("flask", "quart")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``serving`` over every serving offered, grouped so that one server of each runs at a time;
    else ``runtime`` over both runtimes (a test that has a serving has its runtime from it)."""
    chosen = {
        name.strip()
        for marker in metafunc.definition.iter_markers("parametrize")
        for name in (marker.args[0].split(",") if isinstance(marker.args[0], str) else marker.args[0])
    }
    if "serving" in metafunc.fixturenames and "serving" not in chosen:
        metafunc.parametrize("serving", SERVINGS, ids=[each.id for each in SERVINGS], scope="session")
    elif "runtime" in metafunc.fixturenames and not {"runtime", "serving"} & chosen:
        metafunc.parametrize("runtime", RUNTIMES, indirect=True)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> dict[str, object]:
    return parity_settings(data_dir)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session (skipped where it is not installed, unless
    TWINPORT_TEST_REQUIRE names postgresql); each user takes a database of its own from it."""
    require_postgres()
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_settings(settings: dict[str, object], postgres: PostgresServer) -> dict[str, object]:
    """``settings`` on a seeded PostgreSQL database of their own, shared by the tests that only read."""
    return {**settings, "database_url": postgres.fresh_database()}


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """A test that takes ``database`` runs once per backend, ``[sqlite]`` and ``[postgresql]``."""
    return str(request.param)


@pytest.fixture
def store_client(runtime: str, database: str, request: pytest.FixtureRequest) -> Iterator[Client]:
    """``client`` on each backend: the embedded SQLite file, then PostgreSQL, with the same seed."""
    chosen: dict[str, object] = request.getfixturevalue("settings" if database == "sqlite" else "postgres_settings")
    yield from in_process_client(runtime, (flask_impl if runtime == "flask" else quart_impl).create_app(dict(chosen)))


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> str:
    if hasattr(request, "param"):
        return str(request.param)
    serving: Serving = request.getfixturevalue("serving")
    return serving.runtime


@pytest.fixture
def app(runtime: str, settings: dict[str, object]) -> object:
    return (flask_impl if runtime == "flask" else quart_impl).create_app(dict(settings))


@pytest.fixture
def client(runtime: str, app: object) -> Iterator[Client]:
    yield from in_process_client(runtime, app)


def in_process_client(runtime: str, app: object) -> Iterator[Client]:
    if runtime == "flask":
        yield FlaskInProcess(app)
    else:
        with QuartInProcess(app) as quart:
            yield quart


@pytest.fixture(scope="session")
def servers(settings: dict[str, object]) -> Iterator[dict[str, WireClient]]:
    """One real server per runtime for the whole session, each on its default serving.

    Never publish events through these: the parity cases read their hubs' ids back in a fixed
    order (parity_tests/cases/streams.py). A test that publishes starts servers of its own."""
    with running_server("flask", settings) as flask_server, running_server("quart", settings) as quart_server:
        yield {
            server.runtime: WireClient(server.host, server.port, server.runtime)
            for server in (flask_server, quart_server)
        }


@pytest.fixture(scope="session")
def wire_client(serving: Serving, settings: dict[str, object], servers: dict[str, WireClient]) -> Iterator[WireClient]:
    """The serving's real server, shared by its tests (the session's own for a default serving)."""
    if serving == DEFAULT_SERVINGS[serving.runtime]:
        yield servers[serving.runtime]
        return
    with running_server(serving.runtime, settings, serving) as server:
        yield WireClient(server.host, server.port, server.runtime)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of the test's own, for a test that kills, freezes or restarts it, or counts its clients."""
    with redis_server() as server:
        yield server
