"""The file routes in both runtimes: bytes, names, safety, nginx as the reference for Range and
conditional GET, and the X-Accel-Redirect hand-off behind a real nginx."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from parity_tests.cases.files import INSIDE_LINK, TRAVERSALS
from parity_tests.clients import Client, WireClient
from parity_tests.nginx import RunningNginx, running_nginx, shipped_server, static_server
from parity_tests.nginx_reference import Answer, differences, render, requests, rfc_equivalent
from parity_tests.servers import Serving, require_program, running_server
from shared.edge.files import LARGE_FILE, sample_facts

REPO = Path(__file__).resolve().parent.parent
ROUTES = {f"/files/{LARGE_FILE}": LARGE_FILE, "/video/sample.mp4": "sample.mp4"}


def test_whole_files_are_the_files_on_disk(client: Client, data_dir: Path) -> None:
    for target, name in {
        **ROUTES,
        "/reports/pdf": "report.pdf",
        "/i18n-file": "보고서.pdf",
        "/files/hello.txt": "hello.txt",
    }.items():
        response = client.request("GET", target)
        assert response.status == 200, target
        assert hashlib.sha256(response.body).digest() == hashlib.sha256((data_dir / name).read_bytes()).digest(), target
        assert response.header("Content-Length") == str((data_dir / name).stat().st_size)


def test_names_and_types(client: Client) -> None:
    assert client.request("GET", "/reports/pdf").header("Content-Disposition") == 'inline; filename="report.pdf"'
    assert client.request("GET", "/reports/pdf").header("Content-Type") == "application/pdf"
    assert client.request("GET", "/i18n-file").header("Content-Disposition") == (
        "attachment; filename=\"_2025Q4.pdf\"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C_2025Q4.pdf"
    )
    assert client.request("GET", "/video/sample.mp4").header("Content-Type") == "video/mp4"
    assert client.request("GET", "/files/hello.txt").header("Content-Disposition") == 'attachment; filename="hello.txt"'
    assert client.request("GET", "/files/hello.txt").header("Content-Type") == "text/plain; charset=utf-8"


def test_validators_come_from_identity_and_version(client: Client) -> None:
    response = client.request("GET", "/files/hello.txt")
    assert response.header("ETag") == '"hello.txt-{:x}-15"'.format(sample_facts("hello.txt").mtime_ns)
    assert response.header("Last-Modified") == "Wed, 01 Oct 2025 12:00:00 GMT"
    assert client.request("GET", "/files/hello.txt", (("If-None-Match", response.header("ETag") or ""),)).status == 304


@pytest.mark.parametrize("route", ["/files/", "/video/", "/nginx-download/"])
def test_nothing_outside_the_data_directory(client: Client, route: str) -> None:
    for name, path in TRAVERSALS.items():
        response = client.request("GET", route + path)
        assert response.status == 404, (name, response.status)
        assert b"root:" not in response.body
        assert response.header("X-Accel-Redirect") is None
    assert client.request("GET", f"/files/{INSIDE_LINK}").body == b"Hello from twinport.\n"


def test_nothing_outside_the_data_directory_on_the_wire(wire_client: WireClient) -> None:
    for route in ("/files/", "/video/", "/nginx-download/"):
        for name, path in TRAVERSALS.items():
            response = wire_client.request("GET", route + path)
            assert response.status in (400, 404), (route, name, response.status)
            assert b"root:" not in response.body


def test_a_filename_cannot_inject_a_header(client: Client) -> None:
    response = client.request("GET", "/files/a%0d%0aSet-Cookie:%20x=1")
    assert response.status == 404
    assert response.header("Set-Cookie") is None


# nginx, serving the same data directory, is the reference for Range and conditional GET.


@pytest.fixture(scope="session")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, servers: dict[str, WireClient]
) -> Iterator[RunningNginx]:
    binary = require_program("nginx")
    with running_nginx(binary, tmp_path_factory.mktemp("nginx-files"), static_server(data_dir)) as server:
        yield server


def fetch(host: str, port: int, target: str, headers: dict[str, str]) -> Answer:
    connection = http.client.HTTPConnection(host, port, timeout=20)
    try:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, {key.lower(): value for key, value in response.getheaders()}, response.read())
    finally:
        connection.close()


@functools.cache
def etag_of(host: str, port: int, target: str) -> str:
    return fetch(host, port, target, {}).headers["etag"]


@pytest.mark.parametrize("target", sorted(ROUTES))
def test_range_and_conditional_requests_match_nginx(wire_client: WireClient, nginx: RunningNginx, target: str) -> None:
    name = ROUTES[target]
    facts = sample_facts(name)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(requests(facts.size, facts.last_modified))
    def check(template: dict[str, str]) -> None:
        ours = render(template, etag_of(wire_client.host, wire_client.port, target))
        theirs = render(template, etag_of(nginx.host, nginx.port, f"/{name}"))
        found = differences(
            fetch(wire_client.host, wire_client.port, target, ours),
            fetch(nginx.host, nginx.port, f"/{name}", rfc_equivalent(theirs)),
        )
        assert not found, f"{wire_client.name} {target} {ours}: {found}"

    check()


# X-Accel-Redirect behind a real nginx, with the config the repo ships for users.


@pytest.fixture(params=["flask", "quart"])
def accel_nginx(
    request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path, servers: dict[str, WireClient]
) -> Iterator[RunningNginx]:
    binary = require_program("nginx")
    app = servers[str(request.param)]
    server = shipped_server(f"{app.host}:{app.port}", data_dir)
    with running_nginx(binary, tmp_path / "nginx", server) as running:
        yield running


def test_accel_redirect_serves_the_file_from_nginx_with_the_apps_headers(
    accel_nginx: RunningNginx, data_dir: Path
) -> None:
    for target, name in (
        ("/nginx-download/hello.txt", "hello.txt"),
        ("/nginx-download/%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf", "보고서.pdf"),
    ):
        answer = fetch(accel_nginx.host, accel_nginx.port, target, {})
        assert answer.status == 200, target
        assert answer.body == (data_dir / name).read_bytes()
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["content-disposition"].startswith("attachment; filename=")
        assert "x-accel-redirect" not in answer.headers
    korean = fetch(accel_nginx.host, accel_nginx.port, "/nginx-download/%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf", {})
    assert (
        korean.headers["content-disposition"]
        == "attachment; filename=\"download.pdf\"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf"
    )
    # nginx answers Range on the handed-off file.
    ranged = fetch(accel_nginx.host, accel_nginx.port, f"/nginx-download/{LARGE_FILE}", {"Range": "bytes=-10"})
    size = sample_facts(LARGE_FILE).size
    assert (ranged.status, ranged.headers["content-range"]) == (206, f"bytes {size - 10}-{size - 1}/{size}")


def test_accel_redirect_refuses_what_the_app_refuses(accel_nginx: RunningNginx) -> None:
    for path in ("../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "no-such-file.txt"):
        answer = fetch(accel_nginx.host, accel_nginx.port, "/nginx-download/" + path, {})
        assert answer.status in (400, 404), path
        assert b"root:" not in answer.body
    # The internal location is not reachable from outside.
    assert fetch(accel_nginx.host, accel_nginx.port, "/protected/hello.txt", {}).status == 404


def _descriptors_on(pid: int, path: Path) -> int:
    """Descriptors open on ``path`` in the process and its descendants (a server's workers)."""
    count, pending = 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for descriptor in os.listdir(f"/proc/{current}/fd"):
                with contextlib.suppress(FileNotFoundError):
                    count += os.readlink(f"/proc/{current}/fd/{descriptor}") == str(path)
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                pending.extend(int(child) for child in children)
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads a server's descriptors in /proc")
def test_whole_files_under_load_and_after_a_replace(serving: Serving, tmp_path: Path) -> None:
    """Every serving, its own data directory: 24 whole-file GETs at once are each the whole file; the
    server then holds no descriptor on it, except where it reads files itself (granian: one, however
    many requests, quart_impl/_files.py); and a file replaced on disk is served as it now is."""
    data_dir = tmp_path / "data"
    settings = {"data_dir": str(data_dir), "state_dir": str(tmp_path / "state")}
    with running_server(serving.runtime, settings, serving) as server:
        client = WireClient(server.host, server.port, serving.id)
        target = data_dir / LARGE_FILE
        expected = target.read_bytes()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.request("GET", f"/files/{LARGE_FILE}"), range(24)))
        assert [answer.status for answer in answers] == [200] * 24
        assert all(answer.body == expected for answer in answers)
        # Quart closes a streamed file before its last chunk is sent (shared/edge/files.iter_body);
        # gunicorn closes Flask's file_wrapper just after its sendfile returns, which can be a moment
        # after the client has the last byte: a count that settles within a few seconds is no leak.
        expected_held = 1 if serving.server == "granian" else 0
        deadline = time.monotonic() + 5
        while (held := _descriptors_on(server.process.pid, target.resolve())) != expected_held:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert held == expected_held

        replacement = data_dir / "replacement.tmp"
        replacement.write_bytes(b"the new version\n" * 1000)
        os.replace(replacement, target)  # a new inode under the same name
        answer = client.request("GET", f"/files/{LARGE_FILE}")
        assert (answer.status, answer.body) == (200, b"the new version\n" * 1000)
        assert answer.header("Content-Length") == str(16_000)
