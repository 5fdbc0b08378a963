"""Behind a real nginx (the shipped deploy/nginx-twinport.conf, terminating TLS): with
trusted_proxy_hops = 1 both runtimes build absolute URLs with the proxy's scheme and the client's
host; with 0 they ignore the X-Forwarded-* headers (seed §2.6.2's ProxyFix note, in both)."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from parity_tests.clients import WireClient
from parity_tests.nginx import RunningNginx, running_nginx, shipped_server
from parity_tests.servers import require_program, running_server

REPO = Path(__file__).resolve().parent.parent
HOST = "twinport.example"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = require_program("openssl")
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={HOST}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(
    scope="module", params=[("flask", 1), ("quart", 1), ("flask", 0), ("quart", 0)], ids=lambda p: f"{p[0]}-hops{p[1]}"
)
def proxied(
    request: pytest.FixtureRequest,
    settings: dict[str, object],
    certificate: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningNginx, int, int]]:
    runtime, hops = request.param
    binary = require_program("nginx")
    cert, key = certificate
    with running_server(runtime, {**settings, "trusted_proxy_hops": hops}) as app:
        tls = f" ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key}"
        server = shipped_server(f"{app.host}:{app.port}", str(settings["data_dir"]), tls)
        with running_nginx(binary, tmp_path_factory.mktemp("nginx-proxy"), server) as nginx:
            yield nginx, app.port, hops


def get(nginx: RunningNginx, target: str) -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(nginx.host, nginx.port, context=context, timeout=20)
    connection.request("GET", target, headers={"Host": HOST})
    response = connection.getresponse()
    response.read_body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def test_absolute_urls_follow_the_trusted_proxy_only(proxied: tuple[RunningNginx, int, int]) -> None:
    nginx, _app_port, hops = proxied
    urls = json.loads(get(nginx, "/abs").read_body)  # type: ignore[attr-defined]
    if hops:
        assert urls == {"self": f"https://{HOST}/abs", "doc": f"https://{HOST}/docs/10"}
    else:
        # Untrusted: the app sees nginx's own request to it, http and its upstream's name.
        assert urls == {"self": "http://twinport/abs", "doc": "https://twinport/docs/10"}


def test_link_headers_follow_the_trusted_proxy_only(proxied: tuple[RunningNginx, int, int]) -> None:
    nginx, _app_port, hops = proxied
    link = get(nginx, "/api/v1/items?page=2&size=5").getheader("Link") or ""
    base = f"https://{HOST}" if hops else "http://twinport"
    assert f'<{base}/api/v1/items?page=1&size=5>; rel="first"' in link
    assert f'<{base}/api/v1/items?page=3&size=5>; rel="next"' in link


def test_the_shipped_config_balances_two_servers_and_rides_out_one_stopping(
    settings: dict[str, object], tmp_path: Path
) -> None:
    """Both upstreams of the shipped file, one Flask and one Quart server on the same data: each
    answers its share, and while one is down every request is answered by the other (nginx
    retries a refused connection on the next server), as an operator restarting one host sees."""
    binary = require_program("nginx")
    with running_server("flask", settings) as flask_server, running_server("quart", settings) as quart_server:
        upstreams = [f"{server.host}:{server.port}" for server in (flask_server, quart_server)]
        block = shipped_server(upstreams[0], str(settings["data_dir"]), second=upstreams[1])
        with running_nginx(binary, tmp_path / "nginx", block) as nginx:

            def answer(target: str) -> tuple[int, bytes]:
                connection = http.client.HTTPConnection(nginx.host, nginx.port, timeout=20)
                try:
                    connection.request("GET", target)
                    response = connection.getresponse()
                    return response.status, response.read()
                finally:
                    connection.close()

            def boot_of(server: WireClient) -> str:
                return str(json.loads(server.request("GET", "/ops/stats").body)["sse_boot"])

            # nginx sends its own Server header; each process's event hub has its own boot token.
            flask_boot, quart_boot = (
                boot_of(WireClient(s.host, s.port, s.runtime)) for s in (flask_server, quart_server)
            )
            answers = [answer("/ops/stats") for _ in range(8)]
            assert {status for status, _ in answers} == {200}
            assert {json.loads(body)["sse_boot"] for _, body in answers} == {flask_boot, quart_boot}
            assert answer("/as-json") == (200, b'{"items":[1,2,3],"ok":true}\n')
            flask_server.process.terminate()
            assert flask_server.process.wait(timeout=20) == 0
            after = [answer("/ops/stats") for _ in range(6)]
            assert [(status, json.loads(body)["sse_boot"]) for status, body in after] == [(200, quart_boot)] * 6
