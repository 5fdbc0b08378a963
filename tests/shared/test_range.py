"""Range planning (RFC 9110 §14), against the RFC's own examples and werkzeug's parser."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from werkzeug.http import parse_range_header

from shared.protocol.ranges import (
    ByteRanges,
    ByteSpan,
    RangeDeclined,
    RangeIgnored,
    RangeMalformed,
    RangeNotSatisfiable,
    plan_range,
)

SIZE = 10_000


def spans(value: str, size: int = SIZE) -> list[tuple[int, int]]:
    outcome = plan_range(value, size)
    assert isinstance(outcome, ByteRanges), outcome
    return [(span.first, span.last) for span in outcome.spans]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 9110 §14.1.2 examples, for a representation of 10000 bytes.
        ("bytes=0-499", [(0, 499)]),
        ("bytes=500-999", [(500, 999)]),
        ("bytes=-500", [(9500, 9999)]),
        ("bytes=9500-", [(9500, 9999)]),
        ("bytes=0-0,-1", [(0, 0), (9999, 9999)]),
        ("bytes= 0-999, 4500-5499, -1000", [(0, 999), (4500, 5499), (9000, 9999)]),
        ("bytes=500-600,601-999", [(500, 600), (601, 999)]),
        # A last-pos at or past the end is clamped (§14.1.1); the seed answered 416.
        ("bytes=9000-20000", [(9000, 9999)]),
        ("bytes=0-99999999999999999999999", [(0, 9999)]),
        # A suffix longer than the representation is the whole of it.
        ("bytes=-20000", [(0, 9999)]),
        # Range units are case-insensitive (§14.1); empty elements are ignored (§5.6.1.2).
        ("Bytes=0-9", [(0, 9)]),
        ("bytes=0-9,", [(0, 9)]),
        ("bytes=,0-9", [(0, 9)]),
        # Unsatisfiable ranges in a set are dropped when another one is satisfiable.
        ("bytes=20000-,0-9", [(0, 9)]),
    ],
)
def test_satisfiable_ranges(value: str, expected: list[tuple[int, int]]) -> None:
    assert spans(value) == expected


@pytest.mark.parametrize("value", ["bytes=10000-", "bytes=20000-30000", "bytes=-0", "bytes=10000-10001,-0"])
def test_unsatisfiable(value: str) -> None:
    assert plan_range(value, SIZE) == RangeNotSatisfiable(SIZE)


@pytest.mark.parametrize("value", ["bytes=5-2", "bytes=abc", "bytes=-", "bytes=1-2-3", "bytes=0-9,x", "bytes=0 - 9"])
def test_malformed(value: str) -> None:
    assert isinstance(plan_range(value, SIZE), RangeMalformed)


@pytest.mark.parametrize("value", [None, "items=0-9", "bytes=", "bytes= , ,", "nonsense", "=0-9", "by tes=0-9"])
def test_ignored(value: str | None) -> None:
    assert isinstance(plan_range(value, SIZE), RangeIgnored)


def test_empty_representation_ignores_range() -> None:
    assert isinstance(plan_range("bytes=0-9", 0), RangeIgnored)


def test_abusive_sets_get_the_whole_representation() -> None:
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(65))
    assert isinstance(plan_range(many, SIZE), RangeDeclined)
    assert isinstance(plan_range(many, SIZE, max_ranges=100), ByteRanges)
    overlapping = "bytes=0-,0-,0-"
    assert isinstance(plan_range(overlapping, SIZE), RangeDeclined)
    # A single range is never declined, even the whole file.
    assert spans("bytes=0-", SIZE) == [(0, SIZE - 1)]


def test_huge_numbers_do_not_hit_the_integer_parsing_limit() -> None:
    assert spans("bytes=0-" + "9" * 10_000) == [(0, SIZE - 1)]
    assert plan_range("bytes=" + "9" * 10_000 + "-", SIZE) == RangeNotSatisfiable(SIZE)


positions = st.integers(min_value=0, max_value=3 * SIZE)


@given(st.integers(min_value=1, max_value=3 * SIZE), positions, st.one_of(st.none(), positions))
def test_single_int_range_agrees_with_werkzeug(size: int, first: int, last: int | None) -> None:
    """werkzeug parses and resolves one int-range like the RFC; we must agree wherever it
    answers (it returns None for what it does not serve, and we never 500 either)."""
    if last is not None and last < first:
        return
    value = f"bytes={first}-{'' if last is None else last}"
    reference = parse_range_header(value)
    assert reference is not None
    expected = reference.range_for_length(size)
    outcome = plan_range(value, size)
    if expected is None:
        assert outcome == RangeNotSatisfiable(size)
    else:
        assert isinstance(outcome, ByteRanges)
        assert outcome.spans == (ByteSpan(expected[0], expected[1] - 1),)


@given(st.integers(min_value=1, max_value=3 * SIZE), st.integers(min_value=1, max_value=4 * SIZE))
def test_suffix_range_agrees_with_werkzeug_where_werkzeug_follows_the_rfc(size: int, length: int) -> None:
    reference = parse_range_header(f"bytes=-{length}")
    assert reference is not None
    expected = reference.range_for_length(size)
    if length > size:
        # §14.1.3: "if the selected representation is shorter than the specified suffix-length,
        # the entire representation is used". werkzeug 3.1 computes a negative start and
        # returns None here, so Flask's send_file answers 416 to `bytes=-2000` on a 1000-byte file.
        assert expected is None
        assert spans(f"bytes=-{length}", size) == [(0, size - 1)]
    else:
        assert expected is not None
        assert spans(f"bytes=-{length}", size) == [(expected[0], expected[1] - 1)]


@given(st.text(max_size=60), st.integers(min_value=0, max_value=5000))
def test_any_header_gets_a_decision_and_spans_stay_inside(value: str, size: int) -> None:
    outcome = plan_range(value, size)
    if isinstance(outcome, ByteRanges):
        assert outcome.spans
        assert all(0 <= span.first <= span.last < size for span in outcome.spans)
        assert len(outcome.spans) == 1 or sum(span.length for span in outcome.spans) <= size


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), min_size=1, max_size=8), st.integers(1, 150))
def test_each_span_is_the_rfc_resolution_of_its_spec(pairs: list[tuple[int, int]], size: int) -> None:
    specs = [(min(a, b), max(a, b)) for a, b in pairs]
    outcome = plan_range("bytes=" + ",".join(f"{a}-{b}" for a, b in specs), size)
    expected = [ByteSpan(a, min(b, size - 1)) for a, b in specs if a < size]
    if not expected:
        assert outcome == RangeNotSatisfiable(size)
    elif len(expected) > 1 and sum(span.length for span in expected) > size:
        assert isinstance(outcome, RangeDeclined)
    else:
        assert outcome == ByteRanges(tuple(expected))
