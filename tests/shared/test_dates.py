"""HTTP-date (RFC 9110 §5.6.7): the whole grammar, what is valid, and that nothing raises.

Dates are generated from their parts (format, names in any case, year, month, day, time, zone,
whitespace), so each test knows the instant it wrote, or that it wrote none; werkzeug (that is,
``email.utils``) is the independent reference wherever it does not raise and agrees with the RFC.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, example, given, settings, strategies as st
from werkzeug.http import http_date, parse_date

from shared.protocol.dates import format_http_date, parse_http_date, to_http_seconds

NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Zones other than GMT: every one makes the date invalid (§5.6.7: GMT "without exception").
OTHER_ZONES = ("UTC", "UT", "Z", "EST", "PST", "CET", "+0000", "-0000", "-0100", "+2359", "GMT+1", "", "GMT0")


@dataclass(frozen=True)
class Written:
    """A date as text, and the instant it names (None when it names none a client could mean)."""

    text: str
    instant: datetime | None
    format: str
    year: int


def instant(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime | None:
    """The oracle: the instant, or None when the calendar has none (or it is a leap second)."""
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def any_case(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda flips: "".join(letter.swapcase() if flip else letter for letter, flip in zip(word, flips, strict=True))
    )


def rfc850_year(two_digits: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """§5.6.7's rule, written differently from the parser: of the two candidate centuries, the
    latest year not more than 50 years after NOW."""
    horizon = (NOW.year + 50, NOW.month, NOW.day, NOW.hour, NOW.minute, NOW.second)
    candidates = [century + two_digits for century in (1900, 2000, 2100)]
    return max(year for year in candidates if (year, month, day, hour, minute, second) <= horizon)


@st.composite
def http_dates(draw: st.DrawFn, *, valid_zone: bool = True, in_range: bool = False) -> Written:
    """Any date of the three formats; ``in_range`` keeps every part within its calendar range
    (a day past the month's end still possible), for tests that want mostly valid dates."""
    kind = draw(st.sampled_from(["imf", "rfc850", "asctime"]))
    month = draw(st.integers(1, 12))
    if in_range:
        day, hour, minute, second = draw(
            st.tuples(st.integers(1, 31), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
        )
    else:
        day = draw(st.one_of(st.integers(1, 31), st.integers(0, 99)))
        hour = draw(st.one_of(st.integers(0, 23), st.sampled_from([24, 25, 99])))
        minute = draw(st.one_of(st.integers(0, 59), st.sampled_from([60, 99])))
        second = draw(st.one_of(st.integers(0, 59), st.sampled_from([60, 61, 99])))
    month_name = draw(any_case(MONTHS[month - 1]))
    time = f"{hour:02d}:{minute:02d}:{second:02d}"
    # asctime has no zone; an invalid one is a zone appended, and "" would append only a space,
    # which is whitespace around the value (trimmed), so that one stays a valid date.
    other_zones = [each for each in OTHER_ZONES if each or kind != "asctime"]
    zone = draw(any_case("GMT")) if valid_zone else draw(st.sampled_from(other_zones))
    if kind == "rfc850":
        two_digits = draw(st.integers(0, 99))
        year = rfc850_year(two_digits, month, day, hour, minute, second)
        name = draw(st.sampled_from(DAY_NAMES_LONG).flatmap(any_case))
        text = f"{name}, {day:02d}-{month_name}-{two_digits:02d} {time} {zone}"
    else:
        year = draw(st.integers(0, 9999))
        name = draw(st.sampled_from(DAY_NAMES).flatmap(any_case))
        if kind == "imf":
            text = f"{name}, {day:02d} {month_name} {year:04d} {time} {zone}"
        else:
            padded = draw(st.sampled_from([f"{day:02d}", f"{day:2d}"])) if day < 10 else f"{day:02d}"
            text = f"{name} {month_name} {padded} {time} {year:04d}" + ("" if valid_zone else f" {zone}")
    return Written(text, instant(year, month, day, hour, minute, second) if valid_zone else None, kind, year)


def parse(text: str) -> datetime | None:
    return parse_http_date(text, now=NOW)


@given(http_dates())
def test_every_date_of_the_grammar_names_its_instant_or_is_invalid(written: Written) -> None:
    assert parse(written.text) == written.instant


@given(http_dates(valid_zone=False))
def test_a_zone_other_than_gmt_is_invalid(written: Written) -> None:
    assert parse(written.text) is None


@given(http_dates(), st.text(" \t", max_size=3), st.text(" \t", max_size=3))
def test_optional_whitespace_around_the_value_is_trimmed(written: Written, before: str, after: str) -> None:
    assert parse(before + written.text + after) == written.instant


@given(http_dates(), st.data())
def test_any_other_whitespace_inside_makes_it_invalid(written: Written, data: st.DataObject) -> None:
    spaces = [index for index, character in enumerate(written.text) if character == " "]
    index = data.draw(st.sampled_from(spaces))
    extra = data.draw(st.sampled_from(["\t", "  ", " \t", "\xa0", "\n"]))
    assert parse(written.text[:index] + extra + written.text[index + 1 :]) is None


@pytest.mark.parametrize(
    "year",
    [
        "10000",
        "99999",
        "020250",
        str(2**31 - 1),
        str(2**31),
        str(2**63),
        str(2**64),
        "9" * 400,
        "0000",
        "-001",
        "+2025",
        "２０２５",  # noqa: RUF001 - fullwidth digits on purpose: HTTP-date digits are ASCII only
        "٢٠٢٥",
    ],
)
@pytest.mark.parametrize("kind", ["imf", "asctime"])
def test_years_that_four_digits_cannot_hold_or_the_calendar_lacks_are_invalid(year: str, kind: str) -> None:
    text = f"Fri, 31 Dec {year} 23:59:59 GMT" if kind == "imf" else f"Fri Dec 31 23:59:59 {year}"
    assert parse(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Fri, 31 Dec 9999 23:59:59 -0100",  # issue 8's 500: past 9999 once the offset is applied
        "Fri, 31 Dec 9999 23:59:59 +0100",
        "Sat, 01 Jan 10000 00:00:00 GMT",
        f"Fri, 31 Dec {2**31} 23:59:59 GMT",
        f"Fri, 31 Dec {2**63} 23:59:59 GMT",
        "Fri, 32 Dec 2025 23:59:59 GMT",
        "Mon, 30 Feb 2024 00:00:00 GMT",
        "Sat, 29 Feb 2025 00:00:00 GMT",
        "Mon, 29 Feb 1900 00:00:00 GMT",  # a century, not a leap year
        "Mon, 01 Jan 2025 24:00:00 GMT",
        "Mon, 01 Jan 2025 23:60:00 GMT",
        "Wed, 31 Dec 2016 23:59:60 GMT",  # a real leap second: datetime cannot hold it
        "Wed, 31 Dec 2016 23:59:61 GMT",
        "Mon, 00 Jan 2025 00:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",  # a list: ignored
        "Sun, 06 Nov 1994 08:49:37 GMT,",
        "Sun, 6 Nov 1994 08:49:37 GMT",  # day = 2DIGIT
        "Sun, 06 Nov 94 08:49:37 GMT",  # year = 4DIGIT in IMF-fixdate
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",  # rfc850's year is 2DIGIT
        "Sun, 06-Nov-94 08:49:37 GMT",  # rfc850 takes the long day name
        "Sunday, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate takes the short one
        "Sun Nov 6 08:49:37 1994",  # asctime pads the day with a space
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMT garbage",
        "Sun, 06 November 1994 08:49:37 GMT",
        "Dim, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 \u212aMT",  # not G: only ASCII case folds
        "Sun, ٠٦ Nov 1994 08:49:37 GMT",  # Arabic-Indic digits: int() would take them
        "1994-11-06T08:49:37Z",
        "784111777",
        "",
        " ",
        "0",
        "-1",
    ],
)
def test_invalid_dates(text: str) -> None:
    assert parse(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The three examples of §5.6.7.
        ("Sun, 06 Nov 1994 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sun Nov 06 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),  # date3's 2DIGIT
        ("sUN, 06 nOV 1994 08:49:37 gmt", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("\t Sun, 06 Nov 1994 08:49:37 GMT \t", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Mon, 01 Jan 0001 00:00:00 GMT", datetime(1, 1, 1, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Thu, 29 Feb 2024 00:00:00 GMT", datetime(2024, 2, 29, tzinfo=UTC)),
        ("Tue, 29 Feb 2000 00:00:00 GMT", datetime(2000, 2, 29, tzinfo=UTC)),
        # The day-name is syntax only: 6 Nov 1994 was a Sunday.
        ("Mon, 06 Nov 1994 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        # Two-digit years, NOW being 2026-05-15 12:00 UTC: more than 50 years ahead goes back a century.
        ("Thursday, 01-Jan-70 00:00:00 GMT", datetime(2070, 1, 1, tzinfo=UTC)),
        ("Friday, 15-May-76 12:00:00 GMT", datetime(2076, 5, 15, 12, 0, tzinfo=UTC)),  # exactly 50
        ("Friday, 15-May-76 12:00:01 GMT", datetime(1976, 5, 15, 12, 0, 1, tzinfo=UTC)),  # just more
        ("Friday, 31-Dec-99 23:59:59 GMT", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Saturday, 01-Jan-00 00:00:00 GMT", datetime(2000, 1, 1, tzinfo=UTC)),
        ("Saturday, 29-Feb-76 00:00:00 GMT", datetime(2076, 2, 29, tzinfo=UTC)),
    ],
)
def test_valid_dates(text: str, expected: datetime) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("year", [2023, 2024, 1900, 2000])
def test_every_day_of_every_month(year: int) -> None:
    for month in range(1, 13):
        last = calendar.monthrange(year, month)[1]
        for day in range(0, 33):
            text = f"Mon, {day:02d} {MONTHS[month - 1]} {year} 12:00:00 GMT"
            expected = datetime(year, month, day, 12, tzinfo=UTC) if 1 <= day <= last else None
            assert parse(text) == expected, text


def test_a_two_digit_year_near_the_end_of_the_calendar_is_invalid_not_an_error() -> None:
    # A century after 9999 does not exist; a century before year 1 neither.
    assert parse_http_date("Friday, 01-Jan-99 00:00:00 GMT", now=datetime(9999, 1, 1, tzinfo=UTC)) == datetime(
        9999, 1, 1, tzinfo=UTC
    )
    assert parse_http_date("Friday, 01-Jan-99 00:00:00 GMT", now=datetime(1, 1, 1, tzinfo=UTC)) is None


@settings(max_examples=500)
@given(st.text())
@example("Fri, 31 Dec 9999 23:59:59 -0100")
@example(f"Fri, 31 Dec {2**63} 23:59:59 GMT")
@example("\x00")
def test_nothing_raises_for_any_string(text: str) -> None:
    parsed = parse_http_date(text, now=NOW)
    assert parsed is None or parsed.utcoffset() == timedelta(0)


@given(http_dates().map(lambda written: written.text), st.integers(0, 40), st.text(max_size=3))
def test_nothing_raises_for_a_near_miss(text: str, position: int, inserted: str) -> None:
    """Dates with a few characters spliced in (the fuzzing that finds parser edges)."""
    position = min(position, len(text))
    for mangled in (text[:position] + inserted + text[position:], text[:position] + inserted + text[position + 1 :]):
        parsed = parse(mangled)
        assert parsed is None or parsed.utcoffset() == timedelta(0)


def _email_utils_agrees(written: Written) -> bool:
    """Where werkzeug's reading is the RFC's: email.utils reads a year under 100 as two-digit
    (pivot 69), and its rfc850 pivot is fixed where §5.6.7's moves with the clock."""
    if written.format == "rfc850":
        return written.year % 100 <= 68 or written.year % 100 >= 77
    return written.year >= 100


@settings(max_examples=300)
@given(http_dates(in_range=True))
def test_werkzeug_agrees_wherever_it_reads_a_valid_date(written: Written) -> None:
    if written.instant is None or not _email_utils_agrees(written):
        return
    try:
        reference = parse_date(written.text)
    except (OverflowError, ValueError):
        return  # werkzeug raising is issue 8's bug, not a reference
    event(f"compared with werkzeug: {written.format}")
    assert reference == written.instant == parse(written.text)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()))
def test_format_writes_what_werkzeug_writes_and_parses_back(moment: datetime) -> None:
    text = format_http_date(moment)
    assert text == http_date(moment)
    assert parse(text) == to_http_seconds(moment)
