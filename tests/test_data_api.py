"""The data endpoints in both runtimes (seed §2.4, §2.6 to §2.8): what a client of each notices.

A test that reads the store takes ``store_client``: it runs on SQLite and on a real PostgreSQL
server (``[sqlite]``, ``[postgresql]``), and must see the same answers on both."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import brotli
import pytest

import flask_impl
import quart_impl
from parity_tests.clients import Client, FlaskInProcess, QuartInProcess
from shared.service.paging import MAX_PAGE_SIZE


def links_of(header: str | None) -> dict[str, str]:
    found = {}
    for part in (header or "").split(", <"):
        target, _, rel = part.partition(">; rel=")
        found[rel.strip('"')] = target.lstrip("<")
    return found


def test_item_etag_comes_from_identity_and_version_and_revalidates(store_client: Client) -> None:
    response = store_client.request("GET", "/items/42")
    assert (response.status, response.header("ETag"), response.header("Cache-Control")) == (
        200,
        '"item-42-v3"',
        "public, max-age=60",
    )
    assert json.loads(response.body) == {"id": 42, "name": "Item 42", "ver": 3}
    for tag in ('"item-42-v3"', 'W/"item-42-v3"', '"a", "item-42-v3"', "*"):
        not_modified = store_client.request("GET", "/items/42", (("If-None-Match", tag),))
        assert (not_modified.status, not_modified.body) == (304, b""), tag
        assert not_modified.header("ETag") == '"item-42-v3"'
        assert not_modified.header("Cache-Control") == "public, max-age=60"
        assert not_modified.header("Vary") == "Accept-Encoding"
    # The seed's substring test said 304 to these.
    assert store_client.request("GET", "/items/42", (("If-None-Match", '"item-42-v3x"'),)).status == 200
    assert store_client.request("GET", "/items/4", (("If-None-Match", '"item-42-v3"'),)).status == 200


def test_missing_item_is_a_json_404(store_client: Client) -> None:
    response = store_client.request("GET", "/items/999999")
    assert (response.status, response.header("Content-Type")) == (404, "application/problem+json")
    assert json.loads(response.body)["detail"] == "There is no item 999999."
    assert store_client.request("GET", "/items/99999999999999999999").status == 404  # never an overflow 500


def test_doc_is_validated_by_last_modified(store_client: Client) -> None:
    response = store_client.request("GET", "/docs/1")
    modified = response.header("Last-Modified")
    assert modified == "Wed, 01 Oct 2025 12:00:00 GMT"
    assert response.header("Cache-Control") == "public, max-age=120"
    assert store_client.request("GET", "/docs/1", (("If-Modified-Since", modified),)).status == 304
    assert (
        store_client.request("GET", "/docs/1", (("If-Modified-Since", "Wed, 01 Oct 2025 11:59:59 GMT"),)).status == 200
    )
    assert store_client.request("GET", "/docs/1", (("If-Modified-Since", "soon"),)).status == 200
    # If-None-Match present: If-Modified-Since is not evaluated (RFC 9110 §13.1.3).
    assert (
        store_client.request("GET", "/docs/1", (("If-Modified-Since", modified), ("If-None-Match", '"x"'))).status
        == 200
    )


@pytest.mark.parametrize(
    ("accept", "coding", "decode"), [("gzip", "gzip", gzip.decompress), ("br;q=1, gzip;q=0.5", "br", brotli.decompress)]
)
def test_large_json_is_compressed_with_its_own_validator(
    client: Client, accept: str, coding: str, decode: object
) -> None:
    plain = client.request("GET", "/api/v1/items?size=100")
    coded = client.request("GET", "/api/v1/items?size=100", (("Accept-Encoding", accept),))
    assert coded.header("Content-Encoding") == coding
    assert decode(coded.body) == plain.body  # type: ignore[operator]
    assert coded.header("Vary") == plain.header("Vary") == "Accept-Encoding"
    assert coded.header("ETag") not in (None, plain.header("ETag"))
    assert plain.header("Content-Encoding") is None
    # Each tag revalidates its own representation only.
    assert (
        client.request(
            "GET",
            "/api/v1/items?size=100",
            (("Accept-Encoding", accept), ("If-None-Match", coded.header("ETag") or "")),
        ).status
        == 304
    )
    assert (
        client.request("GET", "/api/v1/items?size=100", (("If-None-Match", coded.header("ETag") or ""),)).status == 200
    )
    assert (
        client.request("GET", "/api/v1/items?size=100", (("If-None-Match", plain.header("ETag") or ""),)).status == 304
    )


def test_small_json_is_not_compressed(client: Client) -> None:
    response = client.request("GET", "/items/42", (("Accept-Encoding", "gzip"),))
    assert response.header("Content-Encoding") is None and response.header("Vary") == "Accept-Encoding"


def test_url_building_as_the_seed(client: Client) -> None:
    assert json.loads(client.request("GET", "/build").body) == {
        "user_url": "/users/7",
        "q_url": "/search?q=flask&page=2",
    }
    assert json.loads(client.request("GET", "/abs").body) == {
        "self": "http://localhost/abs",
        "doc": "https://localhost/docs/10",
    }
    assert json.loads(client.request("GET", "/links").body) == {
        "v1": "http://localhost/api/v1/items/1",
        "v2": "http://localhost/api/v2/items/1",
    }


def test_untrusted_forwarded_headers_change_no_url(client: Client) -> None:
    forwarded = (("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-For", "10.0.0.1"))
    assert json.loads(client.request("GET", "/abs", forwarded).body)["self"] == "http://localhost/abs"


def test_v1_and_v2_differ_visibly_and_say_which_they_are(store_client: Client) -> None:
    v1, v2 = store_client.request("GET", "/api/v1/items/7"), store_client.request("GET", "/api/v2/items/7")
    assert json.loads(v1.body) == {"id": 7, "name": "Item 7"}
    assert json.loads(v2.body) == {
        "data": {"id": 7, "name": "Item 7", "version": 3, "updated_at": "2025-10-01T11:54:00Z"},
        "links": {"self": "http://localhost/api/v2/items/7"},
    }
    assert (v1.header("X-API-Version"), v2.header("X-API-Version")) == ("v1", "v2")
    assert v1.header("ETag") != v2.header("ETag")
    assert store_client.request("GET", "/api/v1/items/999999").header("X-API-Version") == "v1"  # errors too


def test_paging_links_total_and_validators(store_client: Client) -> None:
    first = store_client.request("GET", "/api/v1/items?page=1&size=25")
    assert first.header("X-Total-Count") == "10000"
    assert [item["id"] for item in json.loads(first.body)["items"]] == list(range(1, 26))
    links = links_of(first.header("Link"))
    assert set(links) == {"first", "next", "last"}  # no prev on page 1
    assert parse_qs(urlsplit(links["last"]).query) == {"page": ["400"], "size": ["25"]}
    last = store_client.request("GET", "/api/v1/items?page=400&size=25")
    assert set(links_of(last.header("Link"))) == {"first", "prev", "last"}  # no next on the last page
    middle = store_client.request("GET", links_of(first.header("Link"))["next"].removeprefix("http://localhost"))
    assert json.loads(middle.body)["items"][0]["id"] == 26
    assert (
        store_client.request(
            "GET", "/api/v1/items?page=1&size=25", (("If-None-Match", first.header("ETag") or ""),)
        ).status
        == 304
    )
    assert first.header("Cache-Control") == "public, max-age=30"


def test_keyset_pages_chain_to_the_end(store_client: Client) -> None:
    seen, target = [], "/api/v1/items?after=9950&size=20"
    while target:
        response = store_client.request("GET", target)
        seen += [item["id"] for item in json.loads(response.body)["items"]]
        target = links_of(response.header("Link")).get("next", "").removeprefix("http://localhost")
    assert seen == list(range(9951, 10001))


def test_the_largest_ids_and_pages_are_empty_answers_not_errors(store_client: Client) -> None:
    # The largest values the parameters accept: on PostgreSQL an offset past 2**31 must not
    # overflow its INTEGER (a 500 there, an empty page on SQLite).
    deepest = store_client.request("GET", "/api/v1/items?page=999999999&size=100")
    assert deepest.status == 200, deepest.body
    assert json.loads(deepest.body)["items"] == []
    assert deepest.header("X-Total-Count") == "10000"
    after = store_client.request("GET", "/api/v1/items?after=999999999&size=100")
    assert (after.status, json.loads(after.body)["items"]) == (200, [])
    assert store_client.request("GET", "/items/2147483647").status == 404  # MAX_ID itself
    assert store_client.request("GET", "/api/v2/items/2147483647").status == 404


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("size=0", "size"),
        ("size=-2", "size"),
        ("size=x", "size"),
        (f"size={MAX_PAGE_SIZE + 1}", "size"),
    ],
)
def test_bad_paging_input_is_a_400_naming_the_parameter(client: Client, query: str, parameter: str) -> None:
    response = client.request("GET", f"/api/v1/items?{query}")
    assert (response.status, response.header("Content-Type")) == (400, "application/problem+json")
    assert json.loads(response.body)["parameter"] == parameter


@pytest.fixture(params=["flask", "quart"])
def guarded(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[Client]:
    guarded_settings = {**settings, "api_tokens": "secret,other", "rate_limit": 1.0, "rate_burst": 3}
    if request.param == "flask":
        yield FlaskInProcess(flask_impl.create_app(guarded_settings))
    else:
        with QuartInProcess(quart_impl.create_app(guarded_settings)) as client:
            yield client


def test_tokens_are_required_when_configured(guarded: Client) -> None:
    for headers in (
        (),
        (("Authorization", "Bearer wrong"),),
        (("Authorization", "Basic c2VjcmV0"),),
        (("Authorization", "Bearer"),),
    ):
        response = guarded.request("GET", "/api/v1/items/1", headers)
        assert response.status == 401, headers
        assert response.header("WWW-Authenticate") == 'Bearer realm="twinport"'
    ok = guarded.request("GET", "/api/v1/items/1", (("Authorization", "bearer secret"),))
    assert ok.status == 200
    # An answer that depends on Authorization is not for shared caches.
    assert ok.header("Cache-Control") == "private, max-age=60"
    assert ok.header("Vary") == "Authorization, Accept-Encoding"
    assert guarded.request("GET", "/api/v2/items/1").status == 200  # only v1 is guarded


def test_each_client_has_its_own_rate_limit(guarded: Client) -> None:
    secret, other = (("Authorization", "Bearer secret"),), (("Authorization", "Bearer other"),)
    statuses = [guarded.request("GET", "/api/v1/items/1", secret).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = guarded.request("GET", "/api/v1/items/1", secret)
    assert limited.header("Retry-After") == "1"
    assert json.loads(limited.body)["status"] == 429
    assert guarded.request("GET", "/api/v1/items/1", other).status == 200


def test_site_page_and_versioned_static_file(client: Client) -> None:
    page = client.request("GET", "/")
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    href = page.body.decode().split('rel="stylesheet" href="')[1].split('"')[0]
    assert href.startswith("/site-static/css/site.css?v=")
    assert client.request("GET", href).header("Cache-Control") == "public, max-age=31536000, immutable"
    assert client.request("GET", "/site-static/css/site.css").header("Cache-Control") == "no-cache"
    assert client.request("GET", "/site-static/css/site.css?v=stale").header("Cache-Control") == "no-cache"
    assert client.request("GET", href).header("Content-Type") == "text/css; charset=utf-8"
