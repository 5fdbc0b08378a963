"""Cache-Control presets and Vary merging, checked against werkzeug's parsers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given, strategies as st
from werkzeug.datastructures import HeaderSet, ResponseCacheControl
from werkzeug.http import parse_cache_control_header, parse_set_header

from shared.protocol.cache import CachePolicy, immutable_static, merge_vary, no_store, private_revalidated, revalidated


@pytest.mark.parametrize(
    ("policy", "header"),
    [
        (immutable_static(), "public, max-age=31536000, immutable"),
        (immutable_static(600), "public, max-age=600, immutable"),
        (revalidated(60), "public, max-age=60"),
        (revalidated(0), "public, max-age=0"),
        (private_revalidated(), "private, no-cache"),
        (private_revalidated(0), "private, no-cache"),
        (private_revalidated(30), "private, max-age=30"),
        (no_store(), "no-store"),
        (
            CachePolicy(public=True, no_cache=True, no_store=True, max_age=5, must_revalidate=True, immutable=True),
            "public, no-cache, no-store, max-age=5, must-revalidate, immutable",
        ),
    ],
)
def test_header_values(policy: CachePolicy, header: str) -> None:
    assert policy.to_header() == header


@pytest.mark.parametrize("preset", [immutable_static, revalidated, private_revalidated])
def test_negative_max_age_is_refused(preset: Callable[[int], CachePolicy]) -> None:
    with pytest.raises(ValueError, match="max_age"):
        preset(-1)


def test_contradictory_or_empty_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="public and private"):
        CachePolicy(public=True, private=True, max_age=1)
    with pytest.raises(ValueError, match="empty"):
        CachePolicy()


def test_policy_is_immutable() -> None:
    policy = revalidated(60)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_age = 0  # type: ignore[misc]


def is_valid_policy(fields: dict[str, bool | int | None]) -> bool:
    has_directive = any(value is not None and value is not False for value in fields.values())
    return has_directive and not (fields["public"] and fields["private"])


policies = (
    st.fixed_dictionaries(
        {
            "public": st.booleans(),
            "private": st.booleans(),
            "no_cache": st.booleans(),
            "no_store": st.booleans(),
            "max_age": st.none() | st.integers(min_value=0, max_value=2**31),
            "must_revalidate": st.booleans(),
            "immutable": st.booleans(),
        }
    )
    .filter(is_valid_policy)
    .map(lambda fields: CachePolicy(**fields))  # type: ignore[arg-type]
)


@given(policies)
def test_werkzeug_reads_back_every_directive(policy: CachePolicy) -> None:
    parsed = parse_cache_control_header(policy.to_header(), cls=ResponseCacheControl)
    assert bool(parsed.public) == policy.public
    assert bool(parsed.private) == policy.private
    assert bool(parsed.no_cache) == policy.no_cache
    assert parsed.no_store == policy.no_store
    assert parsed.max_age == policy.max_age
    assert parsed.must_revalidate == policy.must_revalidate
    assert parsed.immutable == policy.immutable


@pytest.mark.parametrize(
    ("values", "merged"),
    [
        (("Accept-Encoding", "accept-encoding, Origin"), "Accept-Encoding, Origin"),
        ((" Origin ,, \tAccept\t, ", None, "", "ORIGIN"), "Origin, Accept"),
        (("Accept-Encoding", "*"), "*"),
        (("Origin, *", "Accept"), "*"),
        ((None, "", " , "), None),
        ((), None),
    ],
)
def test_merge_vary_examples(values: tuple[str | None, ...], merged: str | None) -> None:
    assert merge_vary(*values) == merged


field_name = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,11}", fullmatch=True)
ows = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def vary_value(draw: st.DrawFn, names: st.SearchStrategy[str] = field_name) -> str | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    members = draw(st.lists(names | st.just(""), max_size=5))
    return ",".join(draw(ows) + member + draw(ows) for member in members)


def names_in(values: tuple[str | None, ...]) -> list[str]:
    return [m.strip(" \t") for v in values for m in (v or "").split(",") if m.strip(" \t")]


@given(st.lists(vary_value(), max_size=5).map(tuple))
def test_merge_vary_without_star(values: tuple[str | None, ...]) -> None:
    merged = merge_vary(*values)
    names = names_in(values)
    if not names:
        assert merged is None
        return
    assert merged is not None
    # Reference: werkzeug's HeaderSet also de-duplicates case-insensitively, keeping the first.
    reference = HeaderSet()
    reference.update(names)
    assert merged == reference.to_header()
    assert merge_vary(merged) == merged
    assert merge_vary(*values, merged) == merged
    members = merged.split(", ")
    assert {m.lower() for m in members} == {n.lower() for n in names}
    assert len({m.lower() for m in members}) == len(members)
    first_seen = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    assert [first_seen[m.lower()] for m in members] == sorted(first_seen.values())
    assert parse_set_header(merged).as_set() == {n.lower() for n in names}


@given(st.lists(vary_value(field_name | st.just("*")), max_size=5).map(tuple))
def test_star_absorbs_everything(values: tuple[str | None, ...]) -> None:
    if "*" in names_in(values):
        assert merge_vary(*values) == "*"
    else:
        assert merge_vary(*values) != "*"
