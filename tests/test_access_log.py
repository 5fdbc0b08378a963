"""Both servers write the same access log line: gunicorn's Combined Log Format, with the bytes sent
and quotes escaped (shared/edge/access_log.py). An operator's log parser must not care which runtime
answered, and a client must not be able to break a line's fields."""

from __future__ import annotations

import base64
import re
import time

from parity_tests.clients import WireClient
from parity_tests.servers import RunningServer, Serving, running_server

TIME = r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"
BASIC = "Basic " + base64.b64encode(b"alice:secret").decode()
# (method, target, request headers, Referer and User-Agent as the line must show them)
EXCHANGES = [
    (
        "GET",
        "/as-json?x=1&y=%ED%95%9C",
        (("Referer", "http://example.test/from"), ("User-Agent", 'agent/1 "quoted" \\ x')),
        ("http://example.test/from", 'agent/1 \\"quoted\\" \\ x'),
    ),
    ("HEAD", "/files/hello.txt", (("Authorization", BASIC),), ("-", "-")),
    ("GET", "/stream/gen", (), ("-", "-")),
    ("GET", "/no/such/page", (), ("-", "-")),
]


def _access_lines(server: RunningServer, count: int) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in server.log().splitlines() if '"GET /healthz' not in line and ' HTTP/1.1" ' in line]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_every_server_writes_the_combined_log_line_gunicorn_writes(
    serving: Serving, settings: dict[str, object]
) -> None:
    with running_server(serving.runtime, {**settings, "stream_delay": 0.01}, serving) as server:
        client = WireClient(server.host, server.port, serving.runtime)
        answers = [client.request(method, target, headers) for method, target, headers, _ in EXCHANGES]
        lines = _access_lines(server, len(EXCHANGES))
    assert len(lines) == len(EXCHANGES), lines
    for line, answer, (method, target, headers, (referer, agent)) in zip(lines, answers, EXCHANGES, strict=True):
        user = "alice" if dict(headers).get("Authorization") == BASIC else "-"
        # %(b)s: the body bytes sent (a HEAD's none, a stream's all of them), as the client counted them.
        rest = f'"{method} {target} HTTP/1.1" {answer.status} {len(answer.body)} "{referer}" "{agent}"'
        assert re.fullmatch(rf"127\.0\.0\.1 - {user} {TIME} " + re.escape(rest), line), line
