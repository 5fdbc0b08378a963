"""HTTP-date parsing and formatting (RFC 9110 §5.6.7), at the one-second resolution HTTP has.

The parser is written here, not borrowed: werkzeug's ``parse_date`` is ``email.utils``
underneath, which raises ``OverflowError`` (not ``ValueError``) for a year past 9999 once an
offset is applied, or for numbers past a C long (issue 8, item 2), and which reads RFC 5322
dates, not HTTP's. Here every ``str`` gives a date or None, and nothing raises.

How lenient, and why. Every date this parser sees is a precondition (If-Modified-Since,
If-Unmodified-Since, If-Range), and for each of them §13.1.3, §13.1.4 and §13.1.5 make an invalid
date harmless: the field is ignored (or If-Range fails), so the client gets the full
representation. A strict parser therefore costs at most a full 200 to a client that sent
something no HTTP sender may generate (§5.6.7: senders MUST use IMF-fixdate, and clients echo
the Last-Modified we sent); a lenient one guesses what a broken sender meant and may answer 304
or 206 on that guess. So:

- The three formats §5.6.7 says a recipient MUST accept, exactly as its grammar writes them:
  single SP where it says SP (asctime's day is ``2DIGIT / ( SP DIGIT )``), ASCII digits only
  (``\\d`` and ``int()`` would take ``٠٣``), and nothing before or after except the OWS that
  field parsing trims anyway (§5.5).
- Names (day, month, ``GMT``) in any letter case: §5.6.7 calls HTTP-date case-sensitive, but
  RFC 9111 §4.2 asks a cache to match dates case-insensitively, the case of a name changes no
  instant, and a proxy in the path is a cache. ASCII case only (``re.ASCII``: ``re.IGNORECASE``
  alone would let the Kelvin sign match ``k``).
- ``GMT`` only: no ``UTC``, ``Z`` or numeric offset (werkzeug and ``email.utils`` accept
  ``-0100`` and shift by it). §5.6.7 says HTTP timestamps are GMT "without exception", and such
  a date was never sent by us.
- The day-name is checked for syntax and otherwise ignored, as nginx, Go's ``http.ParseTime``
  and ``email.utils`` do: the numbers say which instant is meant, and §5.6.7 does not ask a
  recipient to cross-check them.
- A date that names no instant datetime can hold is invalid, as issue 8 asks: day 32, 30 Feb,
  29 Feb of a common year, hour 24, minute 60, year 0000, and the leap second. The grammar's
  comment allows ``23:59:60``; Python's datetime and POSIX time cannot represent it, our
  Last-Modified never carries it, and nginx and werkzeug ignore it too. Years past 9999 cannot
  be written in ``4DIGIT`` at all.
- rfc850-date's two-digit year follows §5.6.7's rule, relative to ``now``: the year in the
  current century, unless that is more than 50 years in the future, then a century earlier
  (``email.utils`` instead pivots at 69 forever).
- A list (``date, date``) matches none of the formats, so it is invalid: §13.1.3 and §13.1.4 say
  a field with more than one member is ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["format_http_date", "parse_http_date", "to_http_seconds"]

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {name.lower(): number for number, name in enumerate(_MONTHS, start=1)}

# The grammar of RFC 9110 §5.6.7, one rule per line (h11's _abnf.py style).
# day-name     = %s"Mon" / %s"Tue" / %s"Wed" / %s"Thu" / %s"Fri" / %s"Sat" / %s"Sun"
_day_name = "(?:" + "|".join(_DAY_NAMES) + ")"
# day-name-l   = %s"Monday" / %s"Tuesday" / %s"Wednesday" / %s"Thursday" / %s"Friday"
#              / %s"Saturday" / %s"Sunday"
_day_name_l = "(?:" + "|".join(_DAY_NAMES_LONG) + ")"
# month        = %s"Jan" / %s"Feb" / ... / %s"Dec"
_month = "(?P<month>" + "|".join(_MONTHS) + ")"
# day          = 2DIGIT
_day = "(?P<day>[0-9]{2})"
# year         = 4DIGIT
_year = "(?P<year>[0-9]{4})"
# time-of-day  = hour ":" minute ":" second ; 00:00:00 - 23:59:60 (leap second)
# hour = 2DIGIT, minute = 2DIGIT, second = 2DIGIT
_time_of_day = "(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
# GMT          = %s"GMT"
_gmt = "GMT"

_FLAGS = re.ASCII | re.IGNORECASE
# IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT
# date1        = day SP month SP year ; e.g., 02 Jun 1982
_IMF_FIXDATE = re.compile(f"{_day_name}, {_day} {_month} {_year} {_time_of_day} {_gmt}", _FLAGS)
# rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT
# date2        = day "-" month "-" 2DIGIT ; e.g., 02-Jun-82
_RFC850_DATE = re.compile(f"{_day_name_l}, {_day}-{_month}-(?P<year2>[0-9]{{2}}) {_time_of_day} {_gmt}", _FLAGS)
# asctime-date = day-name SP date3 SP time-of-day SP year
# date3        = month SP ( 2DIGIT / ( SP DIGIT ) ) ; e.g., Jun  2
_ASCTIME_DATE = re.compile(f"{_day_name} {_month} (?P<day>[0-9]{{2}}| [0-9]) {_time_of_day} {_year}", _FLAGS)
# OWS          = *( SP / HTAB ), trimmed around a field value (§5.5)
_OWS = " \t"


def parse_http_date(value: str | None, *, now: datetime) -> datetime | None:
    """An aware UTC datetime, or None where the field is absent or not one valid HTTP-date
    (§13.1.3 and §13.1.4 treat the two alike: the field is ignored). See the module docstring
    for what is valid. ``now`` dates a two-digit rfc850 year (the caller reads the clock)."""
    if value is None:
        return None
    text = value.strip(_OWS)
    if match := _IMF_FIXDATE.fullmatch(text) or _ASCTIME_DATE.fullmatch(text):
        year = int(match["year"])
    elif match := _RFC850_DATE.fullmatch(text):
        year = _rfc850_year(int(match["year2"]), _moment_fields(match), now)
    else:
        return None
    month, day, hour, minute, second = _moment_fields(match)
    try:
        # Raises ValueError for every instant that does not exist or cannot be held: day 0 or
        # 31 Apr, 29 Feb of a common year, hour 24, minute or second 60, year 0000.
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _moment_fields(match: re.Match[str]) -> tuple[int, int, int, int, int]:
    """Month, day, hour, minute, second: each at most two ASCII digits, so int() is safe."""
    return (
        _MONTH_NUMBERS[match["month"].lower()],
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"]),
    )


def _rfc850_year(two_digits: int, rest: tuple[int, int, int, int, int], now: datetime) -> int:
    """§5.6.7: a two-digit year that "appears to be more than 50 years in the future" is "the
    most recent year in the past that had the same last two digits". Compared as tuples, so an
    invalid day (checked later) or 29 Feb cannot make the comparison itself fail."""
    utc = now.astimezone(UTC)
    year = utc.year - utc.year % 100 + two_digits
    horizon = (utc.year + 50, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    return year - 100 if (year, *rest) > horizon else year


def to_http_seconds(moment: datetime) -> datetime:
    """Drop sub-seconds: a Last-Modified of 12:00:00.7 must compare equal to the 12:00:00 the
    client echoes back, or every conditional request on a fresh file would miss."""
    if moment.tzinfo is None:
        raise ValueError("HTTP dates are compared as aware datetimes")
    return moment.astimezone(UTC).replace(microsecond=0)


def format_http_date(moment: datetime) -> str:
    """IMF-fixdate, the only format §5.6.7 lets a sender generate (the bytes werkzeug's
    ``http_date`` writes; English names whatever the locale)."""
    utc = to_http_seconds(moment)
    return (
        f"{_DAY_NAMES[utc.weekday()]}, {utc.day:02d} {_MONTHS[utc.month - 1]} {utc.year:04d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} GMT"
    )
