"""Issue 8, items 2 and 14, over the wire on both real servers.

Item 2: a date that cannot be represented (or is not valid) in If-Modified-Since,
If-Unmodified-Since or If-Range was a 500 (``OverflowError`` from ``email.utils``) on every
conditional route. RFC 9110 §13.1.3 and §13.1.4 say such a field is ignored, and §13.1.5 that an
If-Range that does not match means the whole representation: so each answer must be exactly the
answer to the same request without the field (without Range too, for If-Range).

Item 14: problem titles are RFC 9110 §15's names of the status codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from parity_tests.clients import Exchange, WireClient
from parity_tests.servers import running_server

CONDITIONAL_ROUTES = (
    "/files/hello.txt",
    "/video/sample.mp4",
    "/reports/pdf",
    "/items/1",
    "/docs/1",
    "/api/v1/items/1",
    "/api/v1/items?page=2&size=5",
    "/api/v2/items/1",
)
UNREPRESENTABLE = (
    "Fri, 31 Dec 9999 23:59:59 -0100",  # the command: past 9999 once the offset applies
    "Sat, 01 Jan 10000 00:00:00 GMT",
    f"Fri, 31 Dec {2**31} 23:59:59 GMT",
    f"Fri, 31 Dec {2**63} 23:59:59 GMT",
    f"Fri Dec 31 23:59:59 {2**63}",  # asctime-date
    f"Friday, 31-Dec-{2**31} 23:59:59 GMT",  # rfc850-date
    "Fri, 32 Dec 2025 23:59:59 GMT",
    "Mon, 30 Feb 2026 00:00:00 GMT",
    "Sun, 29 Feb 2025 00:00:00 GMT",
    "Wed, 31 Dec 2016 23:59:60 GMT",
)


def without_date(exchange: Exchange) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    """Status, headers and body; Date is the clock, so two answers a second apart differ in it."""
    return (
        exchange.status,
        tuple((name, value) for name, value in exchange.headers if name.lower() != "date"),
        exchange.body,
    )


@pytest.mark.parametrize("route", CONDITIONAL_ROUTES)
@pytest.mark.parametrize("field", ["If-Modified-Since", "If-Unmodified-Since"])
def test_an_unrepresentable_date_is_ignored(wire_client: WireClient, route: str, field: str) -> None:
    expected = without_date(wire_client.request("GET", route))
    assert expected[0] == 200
    for value in UNREPRESENTABLE:
        assert without_date(wire_client.request("GET", route, [(field, value)])) == expected, value


@pytest.mark.parametrize("route", CONDITIONAL_ROUTES)
def test_an_unrepresentable_if_range_date_gets_the_whole_representation(wire_client: WireClient, route: str) -> None:
    expected = without_date(wire_client.request("GET", route))
    for value in UNREPRESENTABLE:
        answer = wire_client.request("GET", route, [("Range", "bytes=0-3"), ("If-Range", value)])
        assert without_date(answer) == expected, value
        # Without a Range, an If-Range is ignored altogether (§13.1.5).
        assert without_date(wire_client.request("GET", route, [("If-Range", value)])) == expected, value


def test_a_valid_date_still_counts(wire_client: WireClient) -> None:
    """The same field with the route's own Last-Modified: a 304, so the tests above would see a
    date that was read."""
    last_modified = wire_client.request("GET", "/files/hello.txt").header("Last-Modified")
    assert last_modified is not None
    assert wire_client.request("GET", "/files/hello.txt", [("If-Modified-Since", last_modified)]).status == 304


def problem(exchange: Exchange) -> dict[str, object]:
    assert exchange.header("Content-Type") == "application/problem+json"
    document = json.loads(exchange.body)
    assert isinstance(document, dict)
    return document


def test_a_416_is_titled_range_not_satisfiable(wire_client: WireClient) -> None:
    answer = wire_client.request("GET", "/files/hello.txt", [("Range", "bytes=999999-")])
    assert answer.status == 416
    assert problem(answer)["title"] == "Range Not Satisfiable"  # RFC 9110 §15.5.17


@pytest.fixture(scope="module")
def small_body_servers() -> Iterator[dict[str, WireClient]]:
    """Both servers with the smallest body limit, so a 413's body is a few bytes: the whole
    request is read before the answer, and closing cannot reset an unread body (item 8)."""
    settings = {"publish_max_bytes": 64, "publish_rate": 1000.0, "publish_burst": 1000}
    with running_server("flask", settings) as flask_server, running_server("quart", settings) as quart_server:
        yield {
            server.runtime: WireClient(server.host, server.port, server.runtime)
            for server in (flask_server, quart_server)
        }


def test_a_413_is_titled_content_too_large(small_body_servers: dict[str, WireClient], runtime: str) -> None:
    body = json.dumps({"event": "big", "data": "x" * 100}).encode()
    answer = small_body_servers[runtime].request("POST", "/events", [("Content-Type", "application/json")], body)
    assert answer.status == 413
    assert problem(answer)["title"] == "Content Too Large"  # RFC 9110 §15.5.14


def test_other_titles_are_the_rfc_names_too(wire_client: WireClient) -> None:
    assert problem(wire_client.request("GET", "/no-such-route"))["title"] == "Not Found"  # §15.5.5
    assert problem(wire_client.request("DELETE", "/healthz"))["title"] == "Method Not Allowed"  # §15.5.6
