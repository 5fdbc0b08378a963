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

from parity_tests.nginx import RunningNginx, running_nginx
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
    shipped = (REPO / "deploy" / "nginx-twinport.conf").read_text()
    with running_server(runtime, {**settings, "trusted_proxy_hops": hops}) as app:

        def server(port: int) -> str:
            return (
                shipped.replace(
                    "listen 127.0.0.1:8080;",
                    f"listen 127.0.0.1:{port} ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};",
                )
                .replace("127.0.0.1:8000", f"{app.host}:{app.port}")
                .replace("/srv/twinport/data/", f"{settings['data_dir']}/")
            )

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
    nginx, app_port, hops = proxied
    urls = json.loads(get(nginx, "/abs").read_body)  # type: ignore[attr-defined]
    if hops:
        assert urls == {"self": f"https://{HOST}/abs", "doc": f"https://{HOST}/docs/10"}
    else:
        # Untrusted: the app sees nginx's own request to it, http and its upstream address.
        assert urls == {"self": f"http://127.0.0.1:{app_port}/abs", "doc": f"https://127.0.0.1:{app_port}/docs/10"}


def test_link_headers_follow_the_trusted_proxy_only(proxied: tuple[RunningNginx, int, int]) -> None:
    nginx, app_port, hops = proxied
    link = get(nginx, "/api/v1/items?page=2&size=5").getheader("Link") or ""
    base = f"https://{HOST}" if hops else f"http://127.0.0.1:{app_port}"
    assert f'<{base}/api/v1/items?page=1&size=5>; rel="first"' in link
    assert f'<{base}/api/v1/items?page=3&size=5>; rel="next"' in link
