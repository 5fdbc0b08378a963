"""The two apps: identical url maps, and the seed's §2.1/§2.4.4 semantics in both runtimes.

Each test body is written once and runs as ``[flask]`` and ``[quart]``.
"""

from __future__ import annotations

import json

import pytest

import flask_impl
import quart_impl
from parity_tests.clients import Client


def url_map(app: object) -> list[tuple[str, str, tuple[str, ...]]]:
    rules = app.url_map.iter_rules()  # type: ignore[attr-defined]
    return sorted((rule.rule, rule.endpoint, tuple(sorted(rule.methods or ()))) for rule in rules)


def test_url_maps_are_identical(settings: dict[str, object]) -> None:
    flask_map = url_map(flask_impl.create_app(dict(settings)))
    assert flask_map == url_map(quart_impl.create_app(dict(settings)))
    assert ("/basic-1", "resp.basic_1", ("GET", "HEAD", "OPTIONS")) in flask_map
    assert ("/healthz", "ops.healthz", ("GET", "HEAD", "OPTIONS")) in flask_map


def test_blueprints_have_the_same_names(settings: dict[str, object]) -> None:
    assert (
        sorted(flask_impl.create_app(dict(settings)).blueprints)
        == sorted(quart_impl.create_app(dict(settings)).blueprints)
        == ["api", "api_v1", "api_v2", "assets", "ops", "resp", "site"]
    )


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body", "extra"),
    [
        ("/basic-1", 200, "text/plain; charset=utf-8", b"OK", {}),
        ("/basic-2", 200, "application/json", b'{"ok":true,"version":1}\n', {}),
        ("/basic-3", 202, "text/plain; charset=utf-8", b"Accepted", {}),
        ("/basic-4", 200, "application/json", b'{"ok":true}\n', {"X-App": "my-service"}),
        ("/basic-5", 200, "application/octet-stream", b"binary", {"X-Trace-Id": "abc-123"}),
        ("/basic-6", 201, "application/json", b'{"message":"created"}\n', {"Location": "/items/123"}),
        ("/as-json", 200, "application/json", b'{"items":[1,2,3],"ok":true}\n', {}),
        (
            "/cache-demo",
            200,
            "application/json",
            b'{"ok":true}\n',
            {"Cache-Control": "public, max-age=60", "Vary": "Accept-Encoding"},
        ),
        ("/healthz", 200, "application/json", b'{"status":"ok"}\n', {"Cache-Control": "no-store"}),
    ],
)
def test_seed_responses(
    client: Client, path: str, status: int, content_type: str, body: bytes, extra: dict[str, str]
) -> None:
    response = client.request("GET", path)
    assert (response.status, response.header("Content-Type"), response.body) == (status, content_type, body)
    assert response.header("Content-Length") == str(len(body))
    for name, value in extra.items():
        assert response.header_values(name) == [value]


def test_head_has_the_get_headers_and_no_body(client: Client) -> None:
    get, head = client.request("GET", "/as-json"), client.request("HEAD", "/as-json")
    assert head.body == b""
    assert head.status == get.status
    assert head.headers == get.headers


def test_unknown_path_is_a_problem_document(client: Client) -> None:
    response = client.request("GET", "/nope")
    assert response.status == 404
    assert response.header("Content-Type") == "application/problem+json"
    assert json.loads(response.body) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No resource lives at this URL.",
    }


def test_wrong_method_is_405_with_a_stable_allow(client: Client) -> None:
    response = client.request("DELETE", "/basic-1")
    assert response.status == 405
    assert response.header("Allow") == "GET, HEAD, OPTIONS"
    assert json.loads(response.body)["status"] == 405


def test_options_lists_the_methods(client: Client) -> None:
    response = client.request("OPTIONS", "/as-json")
    assert (response.status, response.header("Allow"), response.body) == (200, "GET, HEAD, OPTIONS", b"")


@pytest.mark.parametrize(
    "headers",
    [
        (("If-None-Match", '"'),),
        (("If-Modified-Since", "\x7f\x00garbage"),),
        (("Range", "bytes=" + "9" * 5000 + "-"),),
        (("Accept", "*/*;q=abc"),),
        (("Content-Length", "abc"),),
    ],
    ids=["inm", "ims", "range", "accept", "content-length"],
)
def test_malformed_headers_never_500(client: Client, headers: tuple[tuple[str, str], ...]) -> None:
    assert client.request("GET", "/as-json", headers).status < 500


@pytest.mark.parametrize(
    "headers",
    [
        (("If-None-Match", '"'),),
        (("If-Modified-Since", "garbage, garbage, garbage"),),
        (("Range", "bytes=" + "9" * 5000 + "-"),),
        (("Content-Length", "abc"),),
        (("Host", "[::1"),),
    ],
    ids=["inm", "ims", "range", "content-length", "host"],
)
def test_malformed_headers_never_500_on_the_wire(wire_client: Client, headers: tuple[tuple[str, str], ...]) -> None:
    assert wire_client.request("GET", "/as-json", headers).status < 500
