"""Cases for the responses of seed §2.1, §2.4.4, health, and errors."""

from __future__ import annotations

from ._case import Case, get_and_head

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
    Case("method-not-allowed", "/basic-1", method="POST", body=b"x=1", headers=(("Content-Type", "application/x-www-form-urlencoded"),)),
    Case("method-delete", "/as-json", method="DELETE"),
    Case("method-unknown", "/as-json", method="BREW"),
    Case("options", "/as-json", method="OPTIONS"),
    Case("options-healthz", "/healthz", method="OPTIONS"),
    # Malformed conditional and range headers on endpoints that ignore them: never a 500.
    Case("garbage-conditionals", "/as-json", headers=(
        ("If-None-Match", 'W/"x", garbage, "'), ("If-Modified-Since", "not a date"), ("Range", "bytes=9-1"), ("If-Range", "???"),
    )),
)
