"""Every parity case, both runtimes, both modes: no difference, no nondeterminism."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from parity_tests.cases import CASES, Case
from parity_tests.clients import WireClient
from parity_tests.harness import PROFILES, Pairs, format_table, run_case


@pytest.fixture(scope="session", params=["in-process", "wire"])
def pairs(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[Pairs]:
    """Both runtimes per mode; the default profile over the wire is the session's servers."""
    mode = str(request.param)
    with ExitStack() as stack:
        if mode == "wire":
            servers: dict[str, WireClient] = request.getfixturevalue("servers")
            yield Pairs(mode, settings, stack, default=(servers["flask"], servers["quart"]))
        else:
            yield Pairs(mode, settings, stack)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_runtimes_answer_alike(case: Case, pairs: Pairs) -> None:
    flask, quart = pairs.get(case.profile)
    findings = run_case(case, flask, quart, pairs.mode)
    assert not findings, "the runtimes differ:\n" + format_table(findings)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_every_case_names_a_known_profile() -> None:
    assert {case.profile for case in CASES} <= set(PROFILES)
