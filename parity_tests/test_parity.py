"""Every parity case, both runtimes, both modes: no difference, no nondeterminism."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

import flask_impl
import quart_impl
from parity_tests.cases import CASES, Case
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess, WireClient
from parity_tests.harness import PROFILES, Pairs, format_table, run_cases
from parity_tests.servers import PAIRINGS, Serving

# In-process, then over the wire on every pairing of servers (parity_tests.servers.PAIRINGS), all
# on SQLite; then both apps on PostgreSQL, in-process and over the default pairing: the database is
# behind the servers, so one pairing on it proves what the others would.
MODES: list[tuple[tuple[Serving, Serving] | None, str]] = [
    (None, "sqlite"),
    *((pairing, "sqlite") for pairing in PAIRINGS),
    (None, "postgresql"),
    (PAIRINGS[0], "postgresql"),
]


def _mode_id(servings: tuple[Serving, Serving] | None, database: str) -> str:
    mode = "in-process" if servings is None else f"wire-{servings[0].id}-vs-{servings[1].id}"
    return mode if database == "sqlite" else f"{mode}-{database}"


@pytest.fixture(scope="session", params=MODES, ids=[_mode_id(*mode) for mode in MODES])
def pairs(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[Pairs]:
    """Both runtimes per mode; the default profile over the default servers is the session's.
    On PostgreSQL, both apps (and servers) share one seeded database, as they share the SQLite file."""
    servings, database = request.param
    if database == "postgresql":
        settings = request.getfixturevalue("postgres_settings")
    with ExitStack() as stack:
        if servings is None:
            yield Pairs("in-process", settings, stack)
        elif servings == PAIRINGS[0] and database == "sqlite":
            servers: dict[str, WireClient] = request.getfixturevalue("servers")
            yield Pairs("wire", settings, stack, servings, default=(servers["flask"], servers["quart"]))
        else:
            yield Pairs("wire", settings, stack, servings)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_runtimes_answer_alike(case: Case, pairs: Pairs) -> None:
    findings = pairs.run(case)
    assert not findings, "the runtimes differ:\n" + format_table(findings)


# The cases whose answers come from the store (the others cannot differ by backend).
READS_THE_STORE = tuple(case for case in CASES if case.target.startswith(("/items", "/docs", "/api", "/healthz")))


@contextmanager
def one_runtime_on_both_databases(
    runtime: str, settings: Mapping[str, Any], database_url: str
) -> Iterator[tuple[Client, Client]]:
    """``runtime`` on SQLite, then the same on PostgreSQL, in-process: the pair a finding compares."""
    app = (flask_impl if runtime == "flask" else quart_impl).create_app
    with ExitStack() as stack:
        clients: list[Client] = []
        for chosen in (dict(settings), {**settings, "database_url": database_url}):
            if runtime == "flask":
                clients.append(FlaskInProcess(app(chosen)))
            else:
                clients.append(stack.enter_context(QuartInProcess(app(chosen))))
        yield clients[0], clients[1]


@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_sqlite_and_postgresql_answer_alike(
    runtime: str, settings: dict[str, object], postgres_settings: dict[str, object]
) -> None:
    # Every case that reads the store, through one runtime on each backend: a difference (an order, a type, a case, a
    # time zone) is a defect of the store or the schema, not noise to normalize.
    database_url = str(postgres_settings["database_url"])
    with ExitStack() as stack:
        pairs = Pairs(
            "in-process",
            settings,
            stack,
            pair_for=lambda chosen: one_runtime_on_both_databases(runtime, chosen, database_url),
        )
        pairs.label = f"in-process {runtime}, sqlite / postgresql"
        findings = run_cases(READS_THE_STORE, pairs)
    assert not findings, "the backends differ (sqlite left, postgresql right):\n" + format_table(findings)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_every_case_names_a_known_profile() -> None:
    assert {case.profile for case in CASES} <= set(PROFILES)
