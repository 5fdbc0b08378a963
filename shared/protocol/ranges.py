"""Range requests on bytes (RFC 9110 §14): which spans to send, or why none.

Each outcome has its own type, because they lead to different responses:
``RangeIgnored`` and ``RangeDeclined`` send the whole representation (200), ``RangeMalformed``
and ``RangeNotSatisfiable`` send 416, ``ByteRanges`` sends 206. The reference is nginx on a
static file; where it departs from the RFC we follow the RFC and say so beside the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_RANGES",
    "ByteRanges",
    "ByteSpan",
    "RangeDeclined",
    "RangeIgnored",
    "RangeMalformed",
    "RangeNotSatisfiable",
    "RangeOutcome",
    "plan_range",
]

DEFAULT_MAX_RANGES = 64

# §14.1.1: int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length.
_INT_RANGE = re.compile(r"([0-9]+)-([0-9]*)")
_SUFFIX_RANGE = re.compile(r"-([0-9]+)")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# An offset longer than this is past the end of anything we can store; comparing lengths first
# also keeps int() away from Python's 4300-digit limit on hostile input.
_MAX_DIGITS = 18


@dataclass(frozen=True, slots=True)
class ByteSpan:
    """A satisfiable range: bytes ``first`` to ``last`` inclusive, as Content-Range writes it."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


@dataclass(frozen=True, slots=True)
class ByteRanges:
    """206: one span (single part) or several (multipart/byteranges), in the client's order."""

    spans: tuple[ByteSpan, ...]


@dataclass(frozen=True, slots=True)
class RangeIgnored:
    """No usable Range: absent, another unit, or an empty set. Send the whole thing (200)."""

    reason: str


@dataclass(frozen=True, slots=True)
class RangeDeclined:
    """A valid range set we choose not to serve piecemeal (§14.2 allows ignoring it): too many
    ranges, or more bytes than the representation, which is how range-amplification attacks
    look. Sending the whole representation once is cheaper and still correct."""

    reason: str


@dataclass(frozen=True, slots=True)
class RangeMalformed:
    """A bytes range set that breaks the grammar: 416 (§14.2 lets us reject it; nginx does)."""

    value: str


@dataclass(frozen=True, slots=True)
class RangeNotSatisfiable:
    """Valid, but no range overlaps the representation: 416 with ``bytes */size`` (§15.5.17)."""

    size: int


RangeOutcome = ByteRanges | RangeIgnored | RangeDeclined | RangeMalformed | RangeNotSatisfiable


def plan_range(value: str | None, size: int, *, max_ranges: int = DEFAULT_MAX_RANGES) -> RangeOutcome:
    """Decide what a ``Range`` field asks of a representation of ``size`` bytes."""
    if value is None:
        return RangeIgnored("no Range field")
    unit, equals, range_set = value.partition("=")
    unit = unit.strip(" \t")
    # §14.1: range units are case-insensitive; one we do not know is ignored (§14.2). So is a
    # field that names no unit at all: only a bytes range set can be malformed (nginx agrees).
    if not equals or not _TOKEN.fullmatch(unit):
        return RangeIgnored("not a ranges-specifier")
    if unit.lower() != "bytes":
        return RangeIgnored(f"unit {unit!r} is not supported")
    # §5.6.1.2: empty list elements are ignored, so "bytes=0-9," is one range. (nginx answers
    # 416 to it; the RFC wins.) A set with no element at all is ignored like an unknown unit.
    elements = [element.strip(" \t") for element in range_set.split(",")]
    elements = [element for element in elements if element]
    if not elements:
        return RangeIgnored("empty range set")
    if size == 0:
        # §14.2: a server MAY ignore Range for an empty representation; nginx does.
        return RangeIgnored("the representation is empty")
    spans: list[ByteSpan] = []
    for element in elements:
        span = _resolve(element, size)
        if isinstance(span, RangeMalformed):
            return RangeMalformed(value)
        if span is not None:
            spans.append(span)
    if not spans:
        return RangeNotSatisfiable(size)
    if len(spans) > max_ranges:
        return RangeDeclined(f"{len(spans)} ranges is more than {max_ranges}")
    if len(spans) > 1 and sum(span.length for span in spans) > size:
        return RangeDeclined("the ranges add up to more than the whole representation")
    return ByteRanges(tuple(spans))


def _resolve(element: str, size: int) -> ByteSpan | RangeMalformed | None:
    """One range-spec against the size: a span, None when unsatisfiable, or malformed."""
    suffix = _SUFFIX_RANGE.fullmatch(element)
    if suffix is not None:
        digits = suffix.group(1)
        # §14.1.3: the last N bytes, all of them if N exceeds the size; N = 0 selects nothing.
        length = size if len(digits) > _MAX_DIGITS else min(int(digits), size)
        return ByteSpan(size - length, size - 1) if length > 0 else None
    int_range = _INT_RANGE.fullmatch(element)
    if int_range is None:
        return RangeMalformed(element)
    first_digits, last_digits = int_range.groups()
    first = None if len(first_digits) > _MAX_DIGITS else int(first_digits)
    last = None if not last_digits or len(last_digits) > _MAX_DIGITS else int(last_digits)
    if last_digits and len(last_digits) <= _MAX_DIGITS and (first is None or (last is not None and last < first)):
        # §14.1.1: a last-pos below first-pos makes the range-spec invalid.
        return RangeMalformed(element)
    if first is None or first >= size:
        return None  # §14.1.1: unsatisfiable: starts at or past the end.
    # §14.1.1: a last-pos at or past the end (or absent) means "to the end"; the seed's 416 for
    # it was wrong.
    return ByteSpan(first, size - 1 if last is None or last >= size else last)
