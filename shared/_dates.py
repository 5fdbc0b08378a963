"""HTTP-date parsing and formatting (RFC 9110 §5.6.7), at the one-second resolution HTTP has."""

from __future__ import annotations

from datetime import datetime, timezone

from werkzeug.http import http_date, parse_date

__all__ = ["format_http_date", "parse_http_date", "to_http_seconds"]


def parse_http_date(value: str | None) -> datetime | None:
    """An aware UTC datetime, or None where the field is absent or not one valid HTTP-date.

    werkzeug's ``parse_date`` accepts the three formats §5.6.7 asks recipients to accept, but
    it also takes the first member of a list; §13.1.3 and §13.1.4 say a field "with more than
    one member" is ignored. No valid HTTP-date has more than one comma, so more means a list.
    """
    if value is None or value.count(",") > 1:
        return None
    parsed = parse_date(value)
    if parsed is None:
        return None
    return parsed.astimezone(timezone.utc)


def to_http_seconds(moment: datetime) -> datetime:
    """Drop sub-seconds: a Last-Modified of 12:00:00.7 must compare equal to the 12:00:00 the
    client echoes back, or every conditional request on a fresh file would miss."""
    if moment.tzinfo is None:
        raise ValueError("HTTP dates are compared as aware datetimes")
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def format_http_date(moment: datetime) -> str:
    """IMF-fixdate, the only format §5.6.7 lets a sender generate."""
    return http_date(to_http_seconds(moment))
