"""Conditional requests: which preconditions hold, in the order RFC 9110 §13.2.2 fixes.

The adapters hand in the request's header fields and the selected representation's
validators; this module answers "go on (and may Range apply?)", "304" or "412". It never
looks at a body: the seed's ``etag in inm`` substring test matched ``"ab"`` against ``"abc"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .dates import parse_http_date, to_http_seconds
from .etag import AnyTag, EntityTag, TagCondition, parse_tag_condition

__all__ = [
    "InvalidIfRange",
    "NotModified",
    "PreconditionFailed",
    "Proceed",
    "RequestConditions",
    "Validators",
    "evaluate_preconditions",
    "header_field",
]


def header_field(fields: Iterable[tuple[str, str]], name: str) -> str | None:
    """One field's value from a request's (name, value) pairs, repeated lines combined with
    ", " as RFC 9110 §5.3 allows. A repeated singleton (two Range lines) thus becomes a
    value that fails to parse, which is the safe reading of a sender error."""
    wanted = name.lower()
    values = [value for key, value in fields if key.lower() == wanted]
    return ", ".join(values) if values else None


@dataclass(frozen=True, slots=True)
class InvalidIfRange:
    """An If-Range that is neither an entity-tag nor an HTTP-date: it can never hold."""

    value: str


@dataclass(frozen=True, slots=True)
class RequestConditions:
    """The conditional fields of one request, parsed. None means absent (or, for the two
    date fields, present but invalid, which §13.1.3/§13.1.4 say to treat as absent)."""

    if_match: TagCondition | None = None
    if_none_match: TagCondition | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None
    if_range: EntityTag | datetime | InvalidIfRange | None = None
    range: str | None = None

    @classmethod
    def from_fields(cls, fields: Iterable[tuple[str, str]], *, now: datetime) -> RequestConditions:
        """``now`` dates a two-digit rfc850 year in the date fields (RFC 9110 §5.6.7)."""
        pairs = tuple(fields)
        if_match = header_field(pairs, "If-Match")
        if_none_match = header_field(pairs, "If-None-Match")
        return cls(
            if_match=None if if_match is None else parse_tag_condition(if_match),
            if_none_match=None if if_none_match is None else parse_tag_condition(if_none_match),
            if_modified_since=parse_http_date(header_field(pairs, "If-Modified-Since"), now=now),
            if_unmodified_since=parse_http_date(header_field(pairs, "If-Unmodified-Since"), now=now),
            if_range=_parse_if_range(header_field(pairs, "If-Range"), now),
            range=header_field(pairs, "Range"),
        )


def _parse_if_range(value: str | None, now: datetime) -> EntityTag | datetime | InvalidIfRange | None:
    # §13.1.5: If-Range = entity-tag / HTTP-date.
    if value is None:
        return None
    tag = EntityTag.parse(value)
    if tag is not None:
        return tag
    date = parse_http_date(value, now=now)
    return InvalidIfRange(value) if date is None else date


@dataclass(frozen=True, slots=True)
class Validators:
    """What the selected representation can be validated by; Last-Modified in whole seconds."""

    etag: EntityTag | None = None
    last_modified: datetime | None = None

    def __post_init__(self) -> None:
        if self.last_modified is not None:
            object.__setattr__(self, "last_modified", to_http_seconds(self.last_modified))


@dataclass(frozen=True, slots=True)
class Proceed:
    """Send the representation; ``honour_range`` says whether a Range field may be applied."""

    honour_range: bool


@dataclass(frozen=True, slots=True)
class NotModified:
    """304: the client's copy is current (GET and HEAD only)."""


@dataclass(frozen=True, slots=True)
class PreconditionFailed:
    """412: a precondition the client set does not hold."""


Decision = Proceed | NotModified | PreconditionFailed


def evaluate_preconditions(
    method: str, conditions: RequestConditions, validators: Validators, *, now: datetime
) -> Decision:
    """RFC 9110 §13.2.2, for a representation that exists. ``now`` is the response's Date."""
    method = method.upper()
    safe = method in ("GET", "HEAD")
    # Step 1 (§13.1.1): If-Match uses the strong comparison.
    if conditions.if_match is not None:
        if not _any_matches(conditions.if_match, validators.etag, weak=False):
            return PreconditionFailed()
    # Step 2 (§13.1.4): If-Unmodified-Since, only without If-Match, only with a date to compare.
    elif conditions.if_unmodified_since is not None and validators.last_modified is not None:  # noqa: SIM102
        # Nested as steps 1 and 3 must be: the outer test picks the RFC's step, the inner its outcome.
        if validators.last_modified > conditions.if_unmodified_since:
            return PreconditionFailed()
    # Step 3 (§13.1.2): If-None-Match uses the weak comparison; GET/HEAD get 304, others 412.
    if conditions.if_none_match is not None:
        if _any_matches(conditions.if_none_match, validators.etag, weak=True):
            return NotModified() if safe else PreconditionFailed()
    # Step 4 (§13.1.3): If-Modified-Since only without If-None-Match, only on GET/HEAD.
    elif safe and conditions.if_modified_since is not None and validators.last_modified is not None:  # noqa: SIM102
        # Nested as in step 2.
        if validators.last_modified <= conditions.if_modified_since:
            return NotModified()
    # Step 5 (§13.2.2, §14.2): Range is defined for GET only; If-Range can veto it.
    honour_range = method == "GET" and conditions.range is not None
    if honour_range and conditions.if_range is not None:
        honour_range = _if_range_holds(conditions.if_range, validators, now)
    return Proceed(honour_range=honour_range)


def _any_matches(condition: TagCondition, current: EntityTag | None, *, weak: bool) -> bool:
    if isinstance(condition, AnyTag):
        return True  # the representation exists: that is all "*" asks.
    if current is None:
        return False
    if weak:
        return any(tag.weak_match(current) for tag in condition)
    return any(tag.strong_match(current) for tag in condition)


def _if_range_holds(if_range: EntityTag | datetime | InvalidIfRange, validators: Validators, now: datetime) -> bool:
    if isinstance(if_range, InvalidIfRange):
        return False
    if isinstance(if_range, EntityTag):
        # §13.1.5: an entity-tag is compared strongly; a weak tag never holds.
        return validators.etag is not None and if_range.strong_match(validators.etag)
    # §13.1.5 + §8.8.2.2: a date holds only if it equals Last-Modified and that date is a strong
    # validator, i.e. at least one second older than the response's Date. A file written within
    # the current second might change again within it, unseen by the date.
    last_modified = validators.last_modified
    if last_modified is None or last_modified != if_range:
        return False
    return last_modified <= to_http_seconds(now) - timedelta(seconds=1)
