"""The core's file decisions against a real nginx serving the same file.

For any mix of Range, If-Range, If-None-Match, If-Modified-Since, If-Match and If-Unmodified-Since,
``plan_representation`` must give the status, Content-Range, Content-Length and bytes nginx gives
(with the RFC-equivalent rewrites documented in ``parity_tests.nginx_reference``). The same
comparison runs against both runtimes over the wire in ``tests/test_files.py``.
"""

from __future__ import annotations

import functools
import http.client
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from parity_tests.nginx import RunningNginx, running_nginx, static_server
from parity_tests.nginx_reference import Answer, differences, render, requests, rfc_equivalent
from parity_tests.servers import require_program
from shared.protocol.conditional import Validators
from shared.protocol.dates import format_http_date
from shared.protocol.etag import EntityTag
from shared.protocol.representation import Representation, ResponsePlan, plan_representation

MODIFIED = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
SIZES = {"small.bin": 1000, "one.bin": 1, "large.bin": 1_048_583}


@functools.cache
def content(size: int) -> bytes:
    pattern = bytes(range(251))  # a prime period, so no two nearby spans look alike
    return (pattern * (size // 251 + 1))[:size]


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNginx]:
    binary = require_program("nginx")
    prefix = tmp_path_factory.mktemp("nginx")
    www = prefix / "www"
    www.mkdir()
    for name, size in SIZES.items():
        path = www / name
        path.write_bytes(content(size))
        os.utime(path, (MODIFIED.timestamp(), MODIFIED.timestamp()))
    with running_nginx(binary, prefix, static_server(www)) as server:
        yield server


def fetch(nginx: RunningNginx, name: str, headers: dict[str, str], method: str = "GET") -> Answer:
    connection = http.client.HTTPConnection(nginx.host, nginx.port, timeout=10)
    try:
        connection.request(method, f"/{name}", headers=headers)
        response = connection.getresponse()
        return Answer(response.status, {key.lower(): value for key, value in response.getheaders()}, response.read())
    finally:
        connection.close()


def answer_of(plan: ResponsePlan, data: bytes) -> Answer:
    body = b"".join(part if isinstance(part, bytes) else data[part.first : part.last + 1] for part in plan.body)
    return Answer(plan.status, {name.lower(): value for name, value in plan.headers}, body)


@functools.cache
def nginx_etag(nginx: RunningNginx, name: str) -> str:
    return fetch(nginx, name, {}).headers["etag"]


def compare(nginx: RunningNginx, name: str, template: dict[str, str]) -> None:
    etag = nginx_etag(nginx, name)
    headers = render(template, etag)
    size = SIZES[name]
    representation = Representation(size, "application/octet-stream", Validators(EntityTag.parse(etag), MODIFIED))
    plan = plan_representation("GET", headers.items(), representation, now=datetime.now(UTC))
    found = differences(answer_of(plan, content(size)), fetch(nginx, name, rfc_equivalent(headers)))
    assert not found, f"request {headers} (sent to nginx as {rfc_equivalent(headers)}): {found}"


@pytest.mark.parametrize("name", sorted(SIZES))
def test_conditional_and_range_requests_match_nginx(nginx: RunningNginx, name: str) -> None:
    # Our model of nginx's tag: "<mtime hex>-<size hex>", strong.
    assert nginx_etag(nginx, name) == f'"{int(MODIFIED.timestamp()):x}-{SIZES[name]:x}"'

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(requests(SIZES[name], MODIFIED))
    def check(template: dict[str, str]) -> None:
        compare(nginx, name, template)

    check()


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=0-0,-1"},
        {"Range": "bytes=0-499,500-999"},
        {"Range": "bytes=0-,0-"},  # overlapping beyond the size: the whole file, like nginx
        {"Range": "bytes=" + ",".join(f"{i}-{i}" for i in range(64))},
        {"Range": "bytes=" + ",".join(f"{i}-{i}" for i in range(65))},  # past max_ranges: whole
        {"Range": "bytes=900-2000", "If-Range": '"nope"'},
        {"If-None-Match": "*", "Range": "bytes=0-1"},
    ],
)
def test_notable_requests_match_nginx(nginx: RunningNginx, headers: dict[str, str]) -> None:
    compare(nginx, "small.bin", headers)


def test_the_departures_are_real(nginx: RunningNginx) -> None:
    """Each rewrite in ``rfc_equivalent`` answers a real nginx behaviour; if nginx changes, this
    fails and the rewrite can go."""
    etag = nginx_etag(nginx, "small.bin")
    before = format_http_date(MODIFIED - timedelta(seconds=1))
    assert fetch(nginx, "small.bin", {"Range": "bytes=0-9,"}).status == 416
    assert fetch(nginx, "small.bin", {"If-None-Match": etag, "If-Modified-Since": before}).status == 200
    assert fetch(nginx, "small.bin", {"If-Match": etag, "If-Unmodified-Since": before}).status == 412
    assert fetch(nginx, "small.bin", {"If-Unmodified-Since": "garbage"}).status == 412
    assert fetch(nginx, "small.bin", {"Range": "bytes=5-2,0-0"}).status == 206
    assert fetch(nginx, "small.bin", {"Range": "bytes=0-9"}, method="HEAD").status == 206
