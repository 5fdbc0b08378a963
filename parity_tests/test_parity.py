"""Every parity case, both runtimes, both modes: no difference, no nondeterminism."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parity_tests.cases import CASES, Case
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess, WireClient
from parity_tests.harness import format_table, run_case


@pytest.fixture(scope="session", params=["in-process", "wire"])
def pair(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[tuple[str, Client, Client]]:
    mode = str(request.param)
    if mode == "wire":
        servers: dict[str, WireClient] = request.getfixturevalue("servers")
        yield mode, servers["flask"], servers["quart"]
        return
    import flask_impl
    import quart_impl

    with QuartInProcess(quart_impl.create_app(dict(settings))) as quart:
        yield mode, FlaskInProcess(flask_impl.create_app(dict(settings))), quart


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_runtimes_answer_alike(case: Case, pair: tuple[str, Client, Client]) -> None:
    mode, flask, quart = pair
    findings = run_case(case, flask, quart, mode)
    assert not findings, "the runtimes differ:\n" + format_table(findings)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
