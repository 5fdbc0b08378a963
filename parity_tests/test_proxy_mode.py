"""Shadow mode end to end: ``python -m parity_tests.proxy`` as a real process in front of a Flask
app under gunicorn (left) and its Quart port under hypercorn (right), ``parity_tests._proxy_apps``:
one planted header difference (Cache-Control), one value new on every answer (X-Request-Id).

A client talks to the proxy with ``http.client`` or a raw socket, as any client would; the
report is read after SIGTERM, when the proxy has finished every comparison it started.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .clients import enough
from .proxy import main
from .servers import REPO_ROOT, RunningServer, free_port, running_command, stop_process, twinport_environment

# What may differ between two answers of left to the same request: the clock, the framing of
# one connection (RFC 9110 §7.6.1), and the planted per-request value.
NOT_THE_SAME_TWICE = {"date", "connection", "keep-alive", "transfer-encoding", "x-request-id"}
CACHE_CONTROL = {"kind": "difference", "field": "header cache-control", "left": "max-age=60", "right": "max-age=600"}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def comparable(self) -> tuple[int, str, list[tuple[str, str]], bytes]:
        headers = [(name, value) for name, value in self.headers if name.lower() not in NOT_THE_SAME_TWICE]
        return self.status, self.reason, headers, self.body


def ask(
    port: int,
    method: str,
    target: str,
    body: bytes | None = None,
    timeout: float = 20,
    headers: dict[str, str] | None = None,
) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.reason, response.getheaders(), response.read())
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class Apps:
    left: RunningServer
    right: RunningServer

    @property
    def left_url(self) -> str:
        return f"http://127.0.0.1:{self.left.port}"

    @property
    def right_url(self) -> str:
        return f"http://127.0.0.1:{self.right.port}"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    scratch = tmp_path_factory.mktemp("proxy-apps")
    environment = twinport_environment({})
    left_port, right_port = free_port(), free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{left_port}", "-k", "gthread", "--threads", "8"]
    hypercorn = [sys.executable, "-m", "hypercorn", "-b", f"127.0.0.1:{right_port}"]
    with (
        running_command(
            "flask",
            [*gunicorn, "parity_tests._proxy_apps:flask_app"],
            left_port,
            environment,
            scratch,
            scratch / "gunicorn.log",
        ) as left,
        running_command(
            "quart",
            [*hypercorn, "parity_tests._proxy_apps:quart_app"],
            right_port,
            environment,
            scratch,
            scratch / "hypercorn.log",
        ) as right,
    ):
        yield Apps(left, right)


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    report_path: Path
    exit_status: int | None = None

    def stop(self) -> dict[str, Any]:
        """SIGTERM, as a service manager stops it; the report it wrote on the way out."""
        self.exit_status = stop_process(self.process, signal.SIGTERM)
        report: dict[str, Any] = json.loads(self.report_path.read_text())
        return report


@contextmanager
def proxy(tmp_path: Path, *options: str) -> Iterator[Proxy]:
    """``python -m parity_tests.proxy OPTIONS --listen 127.0.0.1:0 --report FILE``, on the port it
    says it listens on."""
    report_path = tmp_path / "shadow.json"
    argv = [
        sys.executable,
        "-m",
        "parity_tests.proxy",
        *options,
        "--listen",
        "127.0.0.1:0",
        "--report",
        str(report_path),
    ]
    with (tmp_path / "proxy.log").open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=twinport_environment({}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    assert process.stdout is not None
    with process.stdout:
        try:
            line = process.stdout.readline().decode()
            assert "listening on http://127.0.0.1:" in line, (line, (tmp_path / "proxy.log").read_text())
            yield Proxy(int(line.rsplit(":", 1)[1]), process, report_path)
        finally:
            stop_process(process, signal.SIGTERM)


def test_the_client_gets_lefts_answers_and_the_report_lists_the_planted_difference_once_per_request(
    apps: Apps, tmp_path: Path
) -> None:
    requests = [("GET", "/items/1"), ("GET", "/items/2"), ("HEAD", "/items/3"), ("GET", "/items/1")]
    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url, "--left-again", apps.left_url) as shadow:
        assert json.loads(shadow.report_path.read_text())["requests"] == 0  # written before it listens
        for method, target in requests:
            through = ask(shadow.port, method, target)
            assert through.comparable() == ask(apps.left.port, method, target).comparable()
            assert "X-Request-Id" in dict(through.headers)  # relayed, though new on every answer
        report = shadow.stop()
    assert shadow.exit_status == 1
    assert report["requests"] == report["compared"] == len(requests)
    assert report["not_compared"] == {}
    assert [{key: finding[key] for key in CACHE_CONTROL} for finding in report["findings"]] == [CACHE_CONTROL] * 4
    assert sorted(finding["case"] for finding in report["findings"]) == sorted(f"{m} {t}" for m, t in requests)
    # The planted per-request value differs from right every time, and from left-again too: noise.
    assert report["noise"] == {"header x-request-id": len(requests)}


def test_a_rule_given_to_the_proxy_leaves_what_it_ignores_out_of_the_report(apps: Apps, tmp_path: Path) -> None:
    options = ["--left", apps.left_url, "--right", apps.right_url, "--rule", "header:cache-control=ignore"]
    with proxy(tmp_path, *options, "--rule", "header:x-request-id=ignore") as shadow:
        assert ask(shadow.port, "GET", "/items/1").status == 200
        report = shadow.stop()
    assert (shadow.exit_status, report["compared"], report["findings"]) == (0, 1, [])


def read_events(port: int, target: str, events: int) -> tuple[list[tuple[str, str]], bytes]:
    """The head and the first ``events`` events of an endless stream, then hang up."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        body = bytearray()
        while (keep := enough(body, None, events)) is None and (chunk := response.read1(65536)):
            body += chunk
        return response.getheaders(), bytes(body[:keep])
    finally:
        connection.close()


def test_an_endless_stream_is_relayed_as_it_comes_and_a_large_body_compared_by_digest(
    apps: Apps, tmp_path: Path
) -> None:
    # The stream never ends: the client could not get its first events if the proxy buffered it.
    # 8 events read: the proxy compares the first 5 of each side.
    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url, "--max-body", "65536") as shadow:
        headers, events = read_events(shadow.port, "/events", 8)
        direct_headers, direct_events = read_events(apps.left.port, "/events", 8)
        assert events == direct_events
        assert events.startswith(b"id: 1\ndata: tick 1\n\n") and events.endswith(b"id: 8\ndata: tick 8\n\n")
        assert [field for field in headers if field[0].lower() not in NOT_THE_SAME_TWICE] == [
            field for field in direct_headers if field[0].lower() not in NOT_THE_SAME_TWICE
        ]
        # 2 MiB, over --max-body: relayed whole, compared by length and sha256 (and alike).
        big = ask(shadow.port, "GET", "/big")
        assert big.comparable() == ask(apps.left.port, "GET", "/big").comparable()
        assert len(big.body) == 2 * 1024 * 1024
        report = shadow.stop()
    assert shadow.exit_status == 0
    assert (report["requests"], report["compared"], report["findings"]) == (2, 2, [])


def hits(port: int) -> int:
    return int(ask(port, "GET", "/hits").body)


def test_a_post_goes_to_left_only_unless_allowed(apps: Apps, tmp_path: Path) -> None:
    left_before, right_before = hits(apps.left.port), hits(apps.right.port)
    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url) as shadow:
        answer = ask(shadow.port, "POST", "/hits", body=b"")
        report = shadow.stop()
    assert (answer.status, answer.body) == (200, str(left_before + 1).encode())
    assert hits(apps.right.port) == right_before, "right saw the POST"
    assert report["not_compared"] == {"unsafe method (see --allow-unsafe)": 1}
    assert (report["requests"], report["compared"], shadow.exit_status) == (1, 0, 0)

    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url, "--allow-unsafe") as shadow:
        ask(shadow.port, "POST", "/hits", body=b"")
        report = shadow.stop()
    assert hits(apps.right.port) == right_before + 1
    assert (report["requests"], report["compared"], report["not_compared"]) == (1, 1, {})


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung service."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_the_client_is_served_when_right_is_down_or_hangs(apps: Apps, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with proxy(tmp_path, "--left", apps.left_url, "--right", down, "--max-findings", "1") as shadow:
        for _ in range(3):
            assert (
                ask(shadow.port, "GET", "/items/7").comparable() == ask(apps.left.port, "GET", "/items/7").comparable()
            )
        report = shadow.stop()
    assert shadow.exit_status == 1
    assert report["compared"] == 3
    [finding] = report["findings"]  # --max-findings 1: the other two counted only
    assert report["findings_not_kept"] == 2
    assert (finding["case"], finding["field"], finding["left"]) == ("GET /items/7", "answer", "200")
    assert finding["right"].startswith("unreachable")

    # Right hangs for longer than the client will wait (5 s against 2.5 s): answered all the same.
    options = ("--timeout", "5", "--max-in-flight", "1")
    with (
        silent_server() as port,
        proxy(tmp_path, "--left", apps.left_url, "--right", f"http://127.0.0.1:{port}", *options) as shadow,
    ):
        assert ask(shadow.port, "GET", "/items/8", timeout=2.5).status == 200
        # --max-in-flight 1: the first comparison waits for right, so the next is not compared.
        assert ask(shadow.port, "GET", "/items/9", timeout=2.5).status == 200
        report = shadow.stop()
    [finding] = report["findings"]
    assert (finding["case"], finding["field"], finding["left"]) == ("GET /items/8", "answer", "200")
    assert finding["right"].startswith("timeout")
    assert report["not_compared"] == {"too many comparisons in flight (see --max-in-flight)": 1}


def test_each_service_is_sent_its_own_host_unless_keep_host(apps: Apps, tmp_path: Path) -> None:
    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url) as shadow:
        assert (
            ask(shadow.port, "GET", "/host", headers={"Host": "shop.example"}).body
            == f"127.0.0.1:{apps.left.port}".encode()
        )
        report = shadow.stop()
    # Each side named its own authority: a difference the rewrite itself makes.
    [finding] = [finding for finding in report["findings"] if finding["field"] == "body"]
    assert (finding["field"], finding["right"]) == ("body", repr(f"127.0.0.1:{apps.right.port}".encode()))

    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url, "--keep-host") as shadow:
        assert ask(shadow.port, "GET", "/host", headers={"Host": "shop.example"}).body == b"shop.example"
        report = shadow.stop()
    assert (report["compared"], report["findings"]) == (1, [])


def test_a_client_configured_to_use_a_proxy_is_served_too(apps: Apps, tmp_path: Path) -> None:
    # RFC 9112 §3.2.2: such a client names the whole URL; each service gets its path and query.
    with proxy(tmp_path, "--left", apps.left_url, "--right", apps.right_url, "--left-again", apps.left_url) as shadow:
        answer = ask(shadow.port, "GET", "http://shop.example/items/5?color=red")
        report = shadow.stop()
    assert answer.comparable() == ask(apps.left.port, "GET", "/items/5?color=red").comparable()
    assert [finding["case"] for finding in report["findings"]] == ["GET /items/5?color=red"]


def test_left_down_is_a_502_and_nothing_compared(apps: Apps, tmp_path: Path) -> None:
    with proxy(tmp_path, "--left", f"http://127.0.0.1:{free_port()}", "--right", apps.right_url) as shadow:
        answer = ask(shadow.port, "GET", "/items/1")
        report = shadow.stop()
    assert answer.status == 502 and answer.body.startswith(b"left: unreachable")
    assert (report["requests"], report["compared"], report["not_compared"]) == (1, 0, {"left: unreachable": 1})
    assert shadow.exit_status == 0


def exchange_raw(port: int, request: bytes) -> bytes:
    """Send ``request`` as it is and read until the proxy closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request)
        received = bytearray()
        while chunk := connection.recv(65536):
            received += chunk
        return bytes(received)


@pytest.mark.parametrize(
    ("request_bytes", "status_line"),
    [
        pytest.param(b"GET /items/1 HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", b"HTTP/1.1 400 ", id="malformed-field"),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 400 ", id="not-http"),
        pytest.param(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", b"HTTP/1.1 400 ", id="connect"
        ),
        pytest.param(
            b"GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
            b"HTTP/1.1 431 ",
            id="head-too-large",
        ),
        pytest.param(
            # Far more than is read: the answer still arrives (no reset), RFC 9112 §9.6.
            b"POST /hits HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + b"x" * 300000,
            b"HTTP/1.1 413 ",
            id="body-too-large",
        ),
        pytest.param(b"GET /items/1 HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.1 408 ", id="head-never-ends"),
        pytest.param(
            b"POST /hits HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", b"HTTP/1.1 408 ", id="body-never-ends"
        ),
    ],
)
def test_a_bad_or_slow_request_gets_an_error_and_the_connection_closed(
    apps: Apps, tmp_path: Path, request_bytes: bytes, status_line: bytes
) -> None:
    with proxy(
        tmp_path, "--left", apps.left_url, "--right", apps.right_url, "--timeout", "1", "--max-request-body", "64"
    ) as shadow:
        answer = exchange_raw(shadow.port, request_bytes)
        report = shadow.stop()
    assert answer.startswith(status_line), answer
    assert b"\r\nConnection: close\r\n" in answer
    assert (report["requests"], shadow.exit_status) == (0, 0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--left", "ftp://127.0.0.1", "give a base URL"),
        ("--right", "http://127.0.0.1:99999", "--right 'http://127.0.0.1:99999'"),
        ("--listen", "localhost:http", "give [HOST:]PORT"),
        ("--report", "/nonexistent/shadow.json", "--report '/nonexistent/shadow.json': No such file or directory"),
        ("--rule", "header:x=frob", "rule 'header:x=frob'"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_status_2(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    arguments = {"--left": "http://127.0.0.1:1", "--right": "http://127.0.0.1:2", "--listen": "127.0.0.1:0"}
    arguments[option] = value
    assert main([part for pair in arguments.items() for part in pair]) == 2
    error = capsys.readouterr().err
    assert error.startswith("twinport parity proxy: ") and message in error and error.count("\n") == 1


def test_a_port_in_use_is_one_line_and_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status = main(
            ["--left", "http://127.0.0.1:1", "--right", "http://127.0.0.1:2", "--listen", f"127.0.0.1:{port}"]
        )
    assert status == 2
    assert f"--listen 127.0.0.1:{port}: " in capsys.readouterr().err
