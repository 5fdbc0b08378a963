"""The core's file decisions against a real nginx serving the same file.

nginx with ``if_modified_since before`` and ``max_ranges 64`` is the reference for Range and
conditional GET on a static file. For any mix of Range, If-Range, If-None-Match,
If-Modified-Since, If-Match and If-Unmodified-Since, ``plan_representation`` must give the same
status, Content-Range, Content-Length and bytes. Where nginx departs from RFC 9110 the test
sends nginx the request the RFC says is equivalent, one rewrite per departure (``rfc_equivalent``):

1. ``bytes=0-9,``: nginx answers 416; §5.6.1.2 says empty list elements are ignored. An empty
   set (``bytes=``) is ignored entirely, as an unknown unit would be.
2. If-None-Match with If-Modified-Since: nginx wants both to match before a 304; §13.2.2 step 4
   says If-Modified-Since is not evaluated when If-None-Match is present.
3. If-Match with If-Unmodified-Since: nginx evaluates both; §13.2.2 step 2 evaluates
   If-Unmodified-Since only without If-Match.
4. An invalid If-Unmodified-Since: nginx answers 412; §13.1.4 says the field is ignored.
5. A range-spec whose last-pos is below its first-pos (``5-2``) is invalid (§14.1.1), and a
   set holding one is an invalid ranges-specifier, which §14.2 lets a server reject: we answer
   416 for the whole field. nginx skips just that spec and serves the others.
6. HEAD with Range: nginx answers 206; §14.2 defines Range for GET only. Only GET is compared.
"""

from __future__ import annotations

import functools
import http.client
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require_tool
from parity_tests.nginx import RunningNginx, running_nginx
from shared import ByteSpan, EntityTag, Representation, ResponsePlan, Validators, format_http_date, parse_http_date, plan_representation

MODIFIED = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
SIZES = {"small.bin": 1000, "one.bin": 1, "large.bin": 1_048_583}


@functools.cache
def content(size: int) -> bytes:
    pattern = bytes(range(251))  # a prime period, so no two nearby spans look alike
    return (pattern * (size // 251 + 1))[:size]


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNginx]:
    binary = require_tool("nginx")
    prefix = tmp_path_factory.mktemp("nginx")
    www = prefix / "www"
    www.mkdir()
    for name, size in SIZES.items():
        path = www / name
        path.write_bytes(content(size))
        os.utime(path, (MODIFIED.timestamp(), MODIFIED.timestamp()))
    block = f"        root {www};\n        if_modified_since before;\n        max_ranges 64;\n        etag on;"
    with running_nginx(binary, prefix, block) as server:
        yield server


def fetch(nginx: RunningNginx, name: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(nginx.host, nginx.port, timeout=10)
    try:
        connection.request("GET", f"/{name}", headers=headers)
        response = connection.getresponse()
        return response.status, {key.lower(): value for key, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def body_of(plan: ResponsePlan, data: bytes) -> bytes:
    return b"".join(part if isinstance(part, bytes) else data[part.first : part.last + 1] for part in plan.body)


def parts(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(Content-Range, bytes) of each part of a multipart/byteranges body."""
    boundary = re.search(r"boundary=([^;\s]+)", content_type)
    assert boundary, content_type
    delimiter = b"--" + boundary.group(1).encode()
    found = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        content_range = re.search(rb"Content-Range: ([^\r\n]+)", head)
        assert content_range, head
        found.append((content_range.group(1).decode(), data[:-2] if data.endswith(b"\r\n") else data))
    return found


def rfc_equivalent(headers: dict[str, str]) -> dict[str, str]:
    """The request nginx should get so that its answer is the RFC's answer (see module doc)."""
    rewritten = dict(headers)
    if "Range" in rewritten:
        unit, _, ranges = rewritten["Range"].partition("=")
        elements = [element.strip() for element in ranges.split(",") if element.strip()]
        if unit.lower() == "bytes" and not elements:
            del rewritten["Range"]
        elif unit.lower() == "bytes" and any(_backwards(element) for element in elements):
            rewritten["Range"] = "bytes=x"  # a field nginx rejects with 416, as we do
        elif unit.lower() == "bytes":
            rewritten["Range"] = f"{unit}={','.join(elements)}"
    if "If-None-Match" in rewritten:
        rewritten.pop("If-Modified-Since", None)
    if "If-Match" in rewritten:
        rewritten.pop("If-Unmodified-Since", None)
    if "If-Unmodified-Since" in rewritten and parse_http_date(rewritten["If-Unmodified-Since"]) is None:
        del rewritten["If-Unmodified-Since"]
    return rewritten


def _backwards(element: str) -> bool:
    first, dash, last = element.partition("-")
    return bool(dash and first.isdigit() and last.isdigit() and int(last) < int(first))


@functools.cache
def etag_of(nginx: RunningNginx, name: str) -> EntityTag:
    tag = EntityTag.parse(fetch(nginx, name, {})[1]["etag"])
    assert tag is not None
    return tag


def compare(nginx: RunningNginx, name: str, headers: dict[str, str]) -> None:
    size = SIZES[name]
    data = content(size)
    representation = Representation(size, "application/octet-stream", Validators(etag_of(nginx, name), MODIFIED))
    plan = plan_representation("GET", headers.items(), representation, now=datetime.now(timezone.utc))
    status, reference, reference_body = fetch(nginx, name, rfc_equivalent(headers))
    context = f"request {headers} (sent to nginx as {rfc_equivalent(headers)})"
    assert plan.status == status, context
    if status in (200, 206):
        assert plan.header("Content-Range") == reference.get("content-range"), context
        ours = body_of(plan, data)
        assert plan.header("Content-Length") == str(len(ours)), context
        if reference["content-type"].startswith("multipart/byteranges"):
            # Boundaries differ, so lengths do too: compare the parts.
            assert parts(plan.header("Content-Type") or "", ours) == parts(reference["content-type"], reference_body), context
        else:
            assert plan.header("Content-Length") == reference["content-length"], context
            assert ours == reference_body, context
    if status == 416:
        assert plan.header("Content-Range") == reference["content-range"] == f"bytes */{size}", context


def http_date(delta_seconds: int) -> str:
    return format_http_date(MODIFIED + timedelta(seconds=delta_seconds))


def range_header(size: int) -> st.SearchStrategy[str]:
    position = st.one_of(st.sampled_from([0, 1, size - 1, size, size + 1, 2 * size]), st.integers(0, 2 * size))
    spec = st.one_of(
        st.tuples(position, position).map(lambda pair: f"{pair[0]}-{pair[1]}"),
        position.map(lambda first: f"{first}-"),
        position.map(lambda length: f"-{length}"),
        st.sampled_from(["x", "-", "1-2-3", ""]),
    )
    separator = st.sampled_from([",", ", ", ",,", " , "])
    listed = st.tuples(st.lists(spec, min_size=1, max_size=5), separator).map(lambda pair: "bytes=" + pair[1].join(pair[0]))
    return st.one_of(listed, st.sampled_from(["items=0-1", "bytes=", "bytes=0-9,", "nonsense", "Bytes=0-0"]))


def requests(etag: str, size: int) -> st.SearchStrategy[dict[str, str]]:
    tag = st.sampled_from([etag, f"W/{etag}", '"other"', "*", f'"other", {etag}', "garbage"])
    date = st.sampled_from([http_date(-1), http_date(0), http_date(1), "garbage"])
    return st.fixed_dictionaries(
        {},
        optional={
            "Range": range_header(size),
            "If-Range": st.sampled_from([etag, f"W/{etag}", '"other"', http_date(0), http_date(1), "garbage"]),
            "If-None-Match": tag,
            "If-Modified-Since": date,
            "If-Match": tag,
            "If-Unmodified-Since": date,
        },
    )


def nginx_etag(name: str) -> str:
    return f'"{int(MODIFIED.timestamp()):x}-{SIZES[name]:x}"'


@pytest.mark.parametrize("name", sorted(SIZES))
def test_conditional_and_range_requests_match_nginx(nginx: RunningNginx, name: str) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(requests(nginx_etag(name), SIZES[name]))
    def check(headers: dict[str, str]) -> None:
        compare(nginx, name, headers)

    assert fetch(nginx, name, {})[1]["etag"] == nginx_etag(name)  # our model of nginx's tag
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
    etag = nginx_etag("small.bin")
    assert fetch(nginx, "small.bin", {"Range": "bytes=0-9,"})[0] == 416
    assert fetch(nginx, "small.bin", {"If-None-Match": etag, "If-Modified-Since": http_date(-1)})[0] == 200
    assert fetch(nginx, "small.bin", {"If-Match": etag, "If-Unmodified-Since": http_date(-1)})[0] == 412
    assert fetch(nginx, "small.bin", {"If-Unmodified-Since": "garbage"})[0] == 412
    assert fetch(nginx, "small.bin", {"Range": "bytes=5-2,0-0"})[0] == 206
    connection = http.client.HTTPConnection(nginx.host, nginx.port, timeout=10)
    connection.request("HEAD", "/small.bin", headers={"Range": "bytes=0-9"})
    assert connection.getresponse().status == 206
    connection.close()
