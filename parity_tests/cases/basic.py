"""Cases for the responses of seed §2.1, §2.4.4, health, and errors."""

from __future__ import annotations

from ..case import Case, get_and_head

BASIC_CASES: tuple[Case, ...] = (
    # Operations.
    *get_and_head("healthz", "/healthz"),
    # §2.1 response patterns.
    *get_and_head("basic-1", "/basic-1"),
    *get_and_head("basic-2", "/basic-2"),
    *get_and_head("basic-3", "/basic-3"),
    *get_and_head("basic-4", "/basic-4"),
    *get_and_head("basic-5", "/basic-5"),
    *get_and_head("basic-6", "/basic-6"),
    *get_and_head("as-json", "/as-json"),
    # §2.4.4 cache policy.
    *get_and_head("cache-demo", "/cache-demo"),
    Case("cache-demo-gzip-accepted", "/cache-demo", headers=(("Accept-Encoding", "gzip, br"),)),
    # The query string and unknown headers change nothing.
    Case("as-json-query", "/as-json?x=1&y=%ED%95%9C"),
    Case("as-json-odd-headers", "/as-json", headers=(("X-Unknown", "1"), ("Accept", "text/html"))),
    # Errors, identical problem documents.
    Case("not-found", "/no-such-page"),
    Case("not-found-head", "/no-such-page", method="HEAD"),
    Case("not-found-korean", "/%EB%B3%B4%EA%B3%A0%EC%84%9C"),
    Case("trailing-slash", "/basic-1/"),
    Case(
        "method-not-allowed",
        "/basic-1",
        method="POST",
        body=b"x=1",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    ),
    Case("method-delete", "/as-json", method="DELETE"),
    Case("method-unknown", "/as-json", method="BREW"),
    Case("options", "/as-json", method="OPTIONS"),
    Case("options-healthz", "/healthz", method="OPTIONS"),
    # Malformed conditional and range headers on endpoints that ignore them: never a 500.
    Case(
        "garbage-conditionals",
        "/as-json",
        headers=(
            ("If-None-Match", 'W/"x", garbage, "'),
            ("If-Modified-Since", "not a date"),
            ("Range", "bytes=9-1"),
            ("If-Range", "???"),
        ),
    ),
)

# Issue 8, items 2 and 14 (tests/test_hardening_dates.py): a date no HTTP-date can name is
# ignored on every conditional route, never a 500 (RFC 9110 §13.1.3, §13.1.4; an If-Range that
# cannot hold sends the whole representation, §13.1.5); problem titles are RFC 9110's names.
_CONDITIONAL_ROUTES = {
    "files": "/files/hello.txt",
    "video": "/video/sample.mp4",
    "report-pdf": "/reports/pdf",
    "items": "/items/1",
    "docs": "/docs/1",
    "api-v1-item": "/api/v1/items/1",
    "api-v1-page": "/api/v1/items?page=2&size=5",
    "api-v2-item": "/api/v2/items/1",
}
_PAST_9999 = "Fri, 31 Dec 9999 23:59:59 -0100"  # the date: past 9999 once the offset applies
_HUGE_YEARS = (
    f"Fri, 31 Dec {2**63} 23:59:59 GMT",
    f"Friday, 31-Dec-{2**31} 23:59:59 GMT",
    "Mon, 30 Feb 2026 00:00:00 GMT",
)
HARDENING_DATE_CASES: tuple[Case, ...] = (
    *(
        Case(f"unrepresentable-{field.lower()}-{name}", target, headers=((field, _PAST_9999),))
        for name, target in _CONDITIONAL_ROUTES.items()
        for field in ("If-Modified-Since", "If-Unmodified-Since")
    ),
    *(
        Case(f"unrepresentable-if-range-{name}", target, headers=(("Range", "bytes=0-3"), ("If-Range", _PAST_9999)))
        for name, target in _CONDITIONAL_ROUTES.items()
    ),
    *(
        Case(
            f"unrepresentable-all-{index}-{name}",
            target,
            headers=(
                ("If-Modified-Since", date),
                ("If-Unmodified-Since", date),
                ("Range", "bytes=0-3"),
                ("If-Range", date),
            ),
        )
        for name, target in _CONDITIONAL_ROUTES.items()
        for index, date in enumerate(_HUGE_YEARS)
    ),
    Case("title-range-not-satisfiable", "/files/hello.txt", headers=(("Range", "bytes=999999-"),)),
)
BASIC_CASES = (*BASIC_CASES, *HARDENING_DATE_CASES)
