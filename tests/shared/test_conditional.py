"""Preconditions in the order of RFC 9110 §13.2.2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from shared.protocol.conditional import (
    NotModified,
    PreconditionFailed,
    Proceed,
    RequestConditions,
    Validators,
    evaluate_preconditions,
)
from shared.protocol.dates import format_http_date
from shared.protocol.etag import EntityTag

LAST_MODIFIED = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
NOW = LAST_MODIFIED + timedelta(days=30)
ETAG = EntityTag("v3")
CURRENT = Validators(ETAG, LAST_MODIFIED)
BEFORE, AT, AFTER = (format_http_date(LAST_MODIFIED + timedelta(seconds=delta)) for delta in (-1, 0, 1))


def decide(*fields: tuple[str, str], method: str = "GET", validators: Validators = CURRENT) -> object:
    return evaluate_preconditions(method, RequestConditions.from_fields(fields, now=NOW), validators, now=NOW)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((), Proceed(False)),
        ((("If-None-Match", '"v3"'),), NotModified()),
        ((("If-None-Match", 'W/"v3"'),), NotModified()),  # weak comparison
        ((("If-None-Match", '"v2", "v3"'),), NotModified()),
        ((("If-None-Match", "*"),), NotModified()),
        ((("If-None-Match", '"v2"'),), Proceed(False)),
        ((("If-None-Match", '"v3x"'),), Proceed(False)),  # the seed's substring test said 304
        ((("If-Modified-Since", AT),), NotModified()),
        ((("If-Modified-Since", AFTER),), NotModified()),
        ((("If-Modified-Since", BEFORE),), Proceed(False)),
        ((("If-Modified-Since", "yesterday"),), Proceed(False)),  # invalid: ignored
        ((("If-Modified-Since", f"{AT}, {AT}"),), Proceed(False)),  # a list: ignored
        # §13.2.2 step 4: If-Modified-Since is not evaluated when If-None-Match is present.
        ((("If-None-Match", '"v2"'), ("If-Modified-Since", AFTER)), Proceed(False)),
        ((("If-None-Match", '"v3"'), ("If-Modified-Since", BEFORE)), NotModified()),
        ((("If-Match", '"v3"'),), Proceed(False)),
        ((("If-Match", "*"),), Proceed(False)),
        ((("If-Match", 'W/"v3"'),), PreconditionFailed()),  # strong comparison
        ((("If-Match", '"v2"'),), PreconditionFailed()),
        ((("If-Match", "garbage"),), PreconditionFailed()),
        ((("If-Unmodified-Since", AT),), Proceed(False)),
        ((("If-Unmodified-Since", BEFORE),), PreconditionFailed()),
        ((("If-Unmodified-Since", "not a date"),), Proceed(False)),
        # §13.2.2 step 2: If-Unmodified-Since is not evaluated when If-Match is present.
        ((("If-Match", '"v3"'), ("If-Unmodified-Since", BEFORE)), Proceed(False)),
        # Step 1 comes before step 3.
        ((("If-Match", '"v2"'), ("If-None-Match", '"v3"')), PreconditionFailed()),
        # Repeated field lines are one list (§5.3).
        ((("If-None-Match", '"v1"'), ("If-None-Match", '"v3"')), NotModified()),
    ],
)
def test_get(fields: tuple[tuple[str, str], ...], expected: object) -> None:
    assert decide(*fields) == expected


def test_if_none_match_on_an_unsafe_method_is_412() -> None:
    assert decide(("If-None-Match", "*"), method="POST") == PreconditionFailed()
    assert decide(("If-Modified-Since", AFTER), method="POST") == Proceed(False)  # GET/HEAD only


@pytest.mark.parametrize(
    ("fields", "honour"),
    [
        ((("Range", "bytes=0-9"),), True),
        ((("Range", "bytes=0-9"), ("If-Range", '"v3"')), True),
        ((("Range", "bytes=0-9"), ("If-Range", 'W/"v3"')), False),  # weak tags never hold
        ((("Range", "bytes=0-9"), ("If-Range", '"v2"')), False),
        ((("Range", "bytes=0-9"), ("If-Range", AT)), True),
        ((("Range", "bytes=0-9"), ("If-Range", AFTER)), False),  # only an exact date holds
        ((("Range", "bytes=0-9"), ("If-Range", "whenever")), False),
        ((("If-Range", '"v3"'),), False),  # no Range, nothing to honour
    ],
)
def test_if_range(fields: tuple[tuple[str, str], ...], honour: bool) -> None:
    assert decide(*fields) == Proceed(honour)


def test_range_is_for_get_only() -> None:
    # §14.2: "GET is the only method for which range handling is defined".
    assert decide(("Range", "bytes=0-9"), method="HEAD") == Proceed(False)


def test_a_last_modified_within_the_last_second_is_weak_for_if_range() -> None:
    # §8.8.2.2: a Last-Modified equal to the Date might hide a second change in that second.
    fresh = Validators(ETAG, NOW)
    conditions = RequestConditions.from_fields([("Range", "bytes=0-9"), ("If-Range", format_http_date(NOW))], now=NOW)
    assert evaluate_preconditions("GET", conditions, fresh, now=NOW) == Proceed(False)
    assert evaluate_preconditions("GET", conditions, fresh, now=NOW + timedelta(seconds=1)) == Proceed(True)


def test_sub_second_modification_times_compare_at_http_resolution() -> None:
    validators = Validators(None, LAST_MODIFIED + timedelta(microseconds=700_000))
    assert decide(("If-Modified-Since", AT), validators=validators) == NotModified()


def test_without_validators_nothing_is_not_modified() -> None:
    assert decide(("If-None-Match", '"v3"'), ("If-Modified-Since", AFTER), validators=Validators()) == Proceed(False)
    assert decide(("If-Match", '"v3"'), validators=Validators()) == PreconditionFailed()


# Properties over arbitrary combinations.
tag_values = st.sampled_from(['"v3"', 'W/"v3"', '"v2"', "*", "garbage", '"v2", W/"v3"', ""])
date_values = st.sampled_from([BEFORE, AT, AFTER, "garbage", ""])
optional = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731
requests = st.fixed_dictionaries(
    {},
    optional={
        "If-Match": tag_values,
        "If-None-Match": tag_values,
        "If-Modified-Since": date_values,
        "If-Unmodified-Since": date_values,
        "Range": st.sampled_from(["bytes=0-9", "bytes=x"]),
        "If-Range": st.sampled_from(['"v3"', '"v2"', AT, BEFORE, "x"]),
    },
)


@given(requests, st.sampled_from(["GET", "HEAD", "POST", "DELETE"]))
def test_properties_of_the_evaluation_order(fields: dict[str, str], method: str) -> None:
    decision = decide(*fields.items(), method=method)
    if isinstance(decision, NotModified):
        assert method in ("GET", "HEAD")  # 304 only for safe retrievals
    if isinstance(decision, Proceed) and decision.honour_range:
        assert method == "GET" and "Range" in fields
    if "If-None-Match" in fields:
        # If-Modified-Since changes nothing once If-None-Match is there.
        without = {name: value for name, value in fields.items() if name != "If-Modified-Since"}
        assert decide(*without.items(), method=method) == decision
    if "If-Match" in fields:
        without = {name: value for name, value in fields.items() if name != "If-Unmodified-Since"}
        assert decide(*without.items(), method=method) == decision
    for name in ("If-Modified-Since", "If-Unmodified-Since"):
        if fields.get(name) in ("garbage", ""):
            # An invalid date is the same as no field at all.
            without = {key: value for key, value in fields.items() if key != name}
            assert decide(*without.items(), method=method) == decision
