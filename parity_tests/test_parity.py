"""Every parity case, both runtimes, both modes: no difference, no nondeterminism."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from parity_tests.cases import CASES, Case
from parity_tests.clients import WireClient
from parity_tests.harness import PROFILES, Pairs, format_table
from parity_tests.servers import PAIRINGS, Serving

# In-process, then over the wire on every pairing of servers (parity_tests.servers.PAIRINGS).
MODES: list[tuple[Serving, Serving] | None] = [None, *PAIRINGS]


@pytest.fixture(
    scope="session",
    params=MODES,
    ids=["in-process", *(f"wire-{flask.id}-vs-{quart.id}" for flask, quart in PAIRINGS)],
)
def pairs(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[Pairs]:
    """Both runtimes per mode; the default profile over the default servers is the session's."""
    servings: tuple[Serving, Serving] | None = request.param
    with ExitStack() as stack:
        if servings is None:
            yield Pairs("in-process", settings, stack)
        elif servings == PAIRINGS[0]:
            servers: dict[str, WireClient] = request.getfixturevalue("servers")
            yield Pairs("wire", settings, stack, servings, default=(servers["flask"], servers["quart"]))
        else:
            yield Pairs("wire", settings, stack, servings)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_runtimes_answer_alike(case: Case, pairs: Pairs) -> None:
    findings = pairs.run(case)
    assert not findings, "the runtimes differ:\n" + format_table(findings)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_every_case_names_a_known_profile() -> None:
    assert {case.profile for case in CASES} <= set(PROFILES)
