"""Fixtures shared by tests/ and parity_tests/: both apps, a client per runtime, real servers.

A test that takes ``client`` runs once per runtime (``[flask]`` and ``[quart]``), in-process;
one that takes ``wire_client`` runs once per runtime against the real server. The test body is
written once, in the synchronous ``Client`` interface of ``parity_tests.clients``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import flask_impl
import quart_impl
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess, WireClient
from parity_tests.harness import parity_settings
from parity_tests.servers import running_server

RUNTIMES = ("flask", "quart")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> dict[str, object]:
    return parity_settings(data_dir)


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(runtime: str, settings: dict[str, object]) -> object:
    return (flask_impl if runtime == "flask" else quart_impl).create_app(dict(settings))


@pytest.fixture
def client(runtime: str, app: object) -> Iterator[Client]:
    if runtime == "flask":
        yield FlaskInProcess(app)
    else:
        with QuartInProcess(app) as quart:
            yield quart


@pytest.fixture(scope="session")
def servers(settings: dict[str, object]) -> Iterator[dict[str, WireClient]]:
    """One real server per runtime for the whole session (gunicorn+Flask, hypercorn+Quart).

    Never publish events through these: the parity cases read their hubs' ids back in a fixed
    order (parity_tests/cases/streams.py). A test that publishes starts servers of its own."""
    with running_server("flask", settings) as flask_server, running_server("quart", settings) as quart_server:
        yield {
            server.runtime: WireClient(server.host, server.port, server.runtime)
            for server in (flask_server, quart_server)
        }


@pytest.fixture
def wire_client(runtime: str, servers: dict[str, WireClient]) -> WireClient:
    return servers[runtime]
