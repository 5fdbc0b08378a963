"""Targets: any app factory or app object (in-process and behind gunicorn/hypercorn) and any base
URL (http, https, HTTP/2), opened as a Pair; the apps are ``_target_apps``, a tiny Flask service
and its Quart port, not twinport's own."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parity_tests.case import Case
from parity_tests.clients import Exchange, ResponseTooLarge, UrlClient, WireClient
from parity_tests.compare import diff_exchanges
from parity_tests.pair import Finding
from parity_tests.rules import DEFAULT_RULES
from parity_tests.servers import free_port, log_tail, require_program
from parity_tests.targets import (
    SERVER_FIELDS,
    AppTarget,
    Mode,
    Target,
    TargetError,
    UrlTarget,
    open_pair,
    serve_target,
)

APPS = "parity_tests._target_apps"
FLASK = AppTarget(f"{APPS}:create_flask_app", "wsgi")
QUART = AppTarget(f"{APPS}:create_quart_app", "asgi")
QUART_ASYNC = AppTarget(f"{APPS}:create_quart_app_async", "asgi")
# What a port is compared on: plain answers, HEAD, JSON, 404, 500, a redirect (not followed),
# the Host the app saw, repeated Set-Cookie fields, and the first two events of an endless stream.
CASES = (
    Case("index", "/"),
    Case("index-head", "/", method="HEAD"),
    Case("item", "/items/3"),
    Case("missing", "/missing"),
    Case("boom", "/boom"),
    Case("redirect", "/gone"),
    Case("host", "/host"),
    Case("cookies", "/cookies"),
    Case("ticks", "/ticks", events=2),
)


def table(findings: list[Finding]) -> list[tuple[str, str, str, str, str]]:
    """The findings without their mode: what two modes must agree on."""
    return [(f.case, f.kind, f.field, f.left, f.right) for f in findings]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost and 127.0.0.1, made by openssl."""
    openssl = require_program("openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="module")
def flask_under_api(logs: Path) -> Iterator[WireClient]:
    """The Flask app on a real gunicorn, its routes under /api (as behind a path-routing proxy)."""
    with serve_target(AppTarget(FLASK.factory, "wsgi", settings={"PREFIX": "/api"}), logs, "api") as client:
        yield client


@pytest.fixture(scope="module")
def quart_over_tls(logs: Path, certificate: Certificate) -> Iterator[WireClient]:
    """The Quart port on a real hypercorn over TLS (it offers h2 and http/1.1 by ALPN)."""
    with serve_target(QUART, logs, "tls", certfile=certificate.cert, keyfile=certificate.key) as client:
        yield client


# Factories, app objects, names


@pytest.mark.parametrize("target", [FLASK, QUART, QUART_ASYNC], ids=["flask", "quart", "quart-async"])
def test_a_factory_is_called_with_its_settings_or_with_none(target: AppTarget) -> None:
    configured = AppTarget(target.factory, target.interface, settings={"GREETING": "howdy"})
    with open_pair(target, configured) as pair:
        assert pair.left.request("GET", "/").body == b"hello"
        assert pair.right.request("GET", "/").body == b"howdy"
        assert [f.field for f in pair.check("GET", "/")] == ["body"]


@pytest.mark.parametrize("mode", ["in-process", "wire"])
def test_an_async_factory_is_awaited_on_the_loop_its_app_runs_on(mode: str, tmp_path: Path) -> None:
    with open_pair(FLASK, QUART_ASYNC, mode=mode, logs_dir=tmp_path) as pair:  # type: ignore[arg-type]
        assert pair.right.name == "quart"
        assert pair.right.request("GET", "/loop").body == b"same loop"
        assert pair.check("GET", "/items/1") == []


def test_an_app_object_is_used_as_it_is_and_named_by_its_framework() -> None:
    with open_pair(AppTarget(f"{APPS}:flask_app", "wsgi"), AppTarget(f"{APPS}:quart_app", "asgi")) as pair:
        assert (pair.left.name, pair.right.name, pair.mode) == ("flask", "quart", "in-process")
        assert pair.run(CASES) == []


def test_sides_of_no_known_framework_or_of_one_are_named_by_position() -> None:
    bare = AppTarget(f"{APPS}:wsgi_with_forbidden_bodies", "wsgi")
    with open_pair(bare, AppTarget(f"{APPS}:asgi_with_forbidden_bodies", "asgi")) as pair:
        assert (pair.left.name, pair.right.name) == ("left", "right")
    with open_pair(FLASK, AppTarget(FLASK.factory, "wsgi", settings={"GREETING": "howdy"})) as pair:
        assert (pair.left.name, pair.right.name) == ("left", "right")
        assert [f.kind for f in pair.check("GET", "/")] == ["difference"]
    with open_pair(AppTarget(FLASK.factory, "wsgi", name="old"), AppTarget(QUART.factory, "asgi", name="new")) as pair:
        assert (pair.left.name, pair.right.name) == ("old", "new")


@pytest.mark.parametrize(
    ("factory", "interface", "message"),
    [
        ("no_such_package.app:create_app", "wsgi", "no module 'no_such_package'"),
        (f"{APPS}:no_such_factory", "wsgi", "has no 'no_such_factory'"),
        (f"{APPS}:factory_that_raises", "wsgi", "the factory raised RuntimeError('the database is unreachable')"),
        (
            f"{APPS}:async_factory_that_raises",
            "asgi",
            "the factory raised RuntimeError('the async pool is unreachable')",
        ),
        (f"{APPS}:factory_that_builds_nothing", "wsgi", "built None, not a WSGI app"),
        (f"{APPS}:not_an_app", "wsgi", "is a int, neither an app nor a factory"),
        (f"{APPS}:flask_app", "asgi", "built flask.app.Flask, not an ASGI app"),
        (f"{APPS}:quart_app", "wsgi", "built quart.app.Quart, not a WSGI app"),
        (f"{APPS}:create_quart_app_async", "wsgi", "is an async factory: a WSGI app is built synchronously"),
    ],
    ids=lambda value: str(value)[:32],
)
def test_a_target_that_cannot_run_is_a_clear_error(factory: str, interface: str, message: str) -> None:
    with pytest.raises(TargetError, match=re.escape(message)):
        open_and_close(AppTarget(factory, interface), FLASK)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AppTarget("create_app", "wsgi"), "is not pkg.module:name"),
        (lambda: AppTarget(FLASK.factory, "rsgi"), "neither 'wsgi' nor 'asgi'"),  # type: ignore[arg-type]
        (lambda: UrlTarget("ftp://example.test/"), "is not an http:// or https:// URL"),
        (lambda: UrlTarget("http://"), "is not an http:// or https:// URL"),
        (lambda: UrlTarget("http://example.test/?q=1"), "no query or fragment"),
        (lambda: UrlTarget("http://example.test", prefix="api"), "must start with '/'"),
        (lambda: UrlTarget("https://example.test", verify="/no/such/ca.pem"), "no CA bundle there"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_target_that_is_not_one_is_refused_when_made(make: object, message: str) -> None:
    with pytest.raises(TargetError, match=re.escape(message)):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("failing", "log", "message"),
    [
        (AppTarget(f"{APPS}:factory_that_raises", "wsgi"), "left-gunicorn.log", "the database is unreachable"),
        (AppTarget(f"{APPS}:async_factory_that_raises", "asgi"), "left-hypercorn.log", "the async pool is unreachable"),
    ],
    ids=["sync-on-gunicorn", "async-on-hypercorn"],
)
def test_over_the_wire_a_factory_that_raises_is_told_with_its_servers_log(
    failing: AppTarget, log: str, message: str, tmp_path: Path
) -> None:
    """The server exits (hypercorn on a failed lifespan startup); the error quotes its log."""
    with pytest.raises(TargetError, match="exited with") as raised:
        open_and_close(failing, QUART, mode="wire", logs_dir=tmp_path)
    assert message in str(raised.value)
    assert message in (tmp_path / log).read_text()


def test_over_the_wire_settings_must_travel_as_json(tmp_path: Path) -> None:
    unsendable = AppTarget(FLASK.factory, "wsgi", settings={"OPENED": object()})
    with pytest.raises(TargetError, match="settings travel as JSON"):
        open_and_close(unsendable, QUART, mode="wire", logs_dir=tmp_path)


# In-process and over the wire


def test_in_process_and_wire_report_the_same_planted_difference(tmp_path: Path) -> None:
    planted = AppTarget(FLASK.factory, "wsgi", settings={"PLANT_HEADER": True})
    found = {}
    for mode in ("in-process", "wire"):
        with open_pair(planted, QUART, mode=mode, logs_dir=tmp_path) as pair:
            found[pair.mode] = pair.run(CASES)
    assert set(found) == {"in-process", "wire gunicorn / hypercorn"}
    expected = [(case.id, "difference", "header x-planted", "flask-only", "(absent)") for case in CASES]
    assert table(found["in-process"]) == table(found["wire gunicorn / hypercorn"]) == expected


BARE_WSGI = AppTarget(f"{APPS}:wsgi_with_forbidden_bodies", "wsgi")
BARE_ASGI = AppTarget(f"{APPS}:asgi_with_forbidden_bodies", "asgi")
FORBIDDEN = [(method, path) for method in ("GET", "HEAD") for path in ("/", "/no-content", "/not-modified")]


@pytest.mark.parametrize(
    ("target", "requests"),
    [
        (BARE_WSGI, FORBIDDEN),
        (BARE_ASGI, FORBIDDEN),
        (FLASK, [("HEAD", "/"), ("HEAD", "/ticks"), ("HEAD", "/missing")]),
        (QUART, [("HEAD", "/"), ("HEAD", "/ticks"), ("HEAD", "/missing")]),
    ],
    ids=["bare-wsgi", "bare-asgi", "flask", "quart"],
)
def test_bodies_http_forbids_are_dropped_in_process_as_on_the_wire(
    target: AppTarget, requests: list[tuple[str, str]], tmp_path: Path
) -> None:
    """RFC 9110 §9.3.2 (HEAD), §15.3.5 (204), §15.4.5 (304): no body reaches a client, whatever
    the app sent (the bare apps send one every time; HEAD of an endless stream ends at once)."""
    with open_pair(target, target) as in_process:
        seen = {request: in_process.left.request(*request) for request in requests}
    with serve_target(target, tmp_path) as wire:
        for request, exchange in seen.items():
            assert diff_exchanges(exchange, wire.request(*request), DEFAULT_RULES.extended(SERVER_FIELDS)) == []
    assert all(exchange.body == b"" for (method, path), exchange in seen.items() if method == "HEAD" or path != "/")


def test_a_204s_content_length_is_dropped_by_gunicorn_and_kept_by_hypercorn_in_process_too() -> None:
    """RFC 9110 §8.6 forbids Content-Length on a 204: gunicorn removes an app's, hypercorn sends
    it; each in-process driver does as its server (the wire agreement is the test above)."""
    with open_pair(BARE_WSGI, BARE_ASGI) as pair:
        assert pair.left.request("GET", "/").body == b"a body HTTP does not allow here"
        assert [(f.field, f.left, f.right) for f in pair.check("GET", "/no-content")] == [
            ("header content-length", "(absent)", "31")
        ]


def test_a_bare_asgi_apps_lifespan_runs_in_process_as_on_hypercorn(tmp_path: Path) -> None:
    lifespan = AppTarget(f"{APPS}:asgi_with_lifespan", "asgi")
    with open_pair(lifespan, lifespan) as in_process:
        seen = in_process.left.request("GET", "/")
    assert seen.body == b"state: at startup"
    with serve_target(lifespan, tmp_path) as wire:
        assert diff_exchanges(seen, wire.request("GET", "/"), DEFAULT_RULES.extended(SERVER_FIELDS)) == []


def test_the_servers_log_keeps_the_traceback_of_a_500(tmp_path: Path) -> None:
    with open_pair(FLASK, QUART, mode="wire", logs_dir=tmp_path) as pair:
        assert pair.check("GET", "/boom") == []
        assert pair.left.request("GET", "/boom").status == 500
        left_log, right_log = pair.left.log_path, pair.right.log_path  # type: ignore[attr-defined]
    assert (left_log, right_log) == (tmp_path / "left-gunicorn.log", tmp_path / "right-hypercorn.log")
    for log in (left_log, right_log):
        tail = log_tail(log)  # after the servers stopped: the log is kept
        assert "RuntimeError: planted failure in /boom" in tail
        assert len(tail.splitlines()) == 40
    assert log_tail(left_log, lines=1) == log_tail(left_log).splitlines()[-1]


def test_logs_go_to_a_new_directory_under_dot_twinport_parity_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_pair(FLASK, QUART, mode="wire") as pair:
        left_log = pair.left.log_path  # type: ignore[attr-defined]
    assert left_log is not None and left_log.parent.parent == tmp_path / ".twinport-parity"
    assert left_log.parent.name.startswith("logs-") and left_log.is_file()


# URLs


def test_a_url_target_with_a_prefix_and_a_host_answers_as_the_app_in_process(flask_under_api: WireClient) -> None:
    url = f"http://127.0.0.1:{flask_under_api.port}"
    in_process = AppTarget(FLASK.factory, "wsgi", host="parity.example")
    with open_pair(in_process, UrlTarget(url, host="parity.example", prefix="/api", name="production")) as pair:
        assert (pair.mode, pair.right.name) == ("in-process / url", "production")
        assert pair.right.request("GET", "/host").body == b"parity.example"
        redirect = pair.right.request("GET", "/gone")
        assert (redirect.status, redirect.header("location")) == (302, "/items/1")  # not followed
        assert pair.run(CASES) == []
    # The URL's own path prefixes too, and the Host is then the URL's authority.
    with open_pair(FLASK, UrlTarget(f"{url}/api")) as pair:
        assert pair.right.request("GET", "/host").body == f"127.0.0.1:{flask_under_api.port}".encode()
    with open_pair(FLASK, UrlTarget(url)) as pair:  # without the prefix: not found
        assert ("status", "200", "404") in [(f.field, f.left, f.right) for f in pair.check("GET", "/items/3")]


def test_a_url_client_sees_the_fields_http_client_sees(flask_under_api: WireClient) -> None:
    with UrlClient(f"http://127.0.0.1:{flask_under_api.port}/api", "url") as client:
        by_url = client.request("GET", "/cookies")
    by_wire = flask_under_api.request("GET", "/api/cookies")
    assert without_date(by_url) == without_date(by_wire)
    assert [name for name, _ in by_url.headers][:3] == ["Server", "Date", "Connection"]  # as sent, in order
    assert by_url.header_values("set-cookie") == ["first=1; Path=/", "second=2; Path=/"]


def test_a_url_client_reads_an_endless_stream_only_as_far_as_asked(flask_under_api: WireClient) -> None:
    with UrlClient(f"http://127.0.0.1:{flask_under_api.port}/api", "url", max_body=4096) as client:
        assert client.request("GET", "/ticks", events=2).body == b"id: 0\ndata: tick 0\n\nid: 1\ndata: tick 1\n\n"
        assert client.request("GET", "/ticks", read_limit=5).body == b"id: 0"
        with pytest.raises(ResponseTooLarge, match="over 4096 bytes"):
            client.request("GET", "/ticks")
        assert client.request("GET", "/").status == 200  # the client is still usable


def test_a_url_that_does_not_answer_or_a_target_that_is_not_ascii_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with open_pair(FLASK, UrlTarget(url, name="production")) as pair:
        with pytest.raises(ConnectionError, match=re.escape(f"production: GET {url}/items/1: ")):
            pair.check("GET", "/items/1")
        with pytest.raises(ValueError, match="is not ASCII: percent-encode it"):
            pair.right.request("GET", "/caf\u00e9")


def test_https_with_a_self_signed_certificate(quart_over_tls: WireClient, certificate: Certificate) -> None:
    url = f"https://localhost:{quart_over_tls.port}"
    with open_pair(QUART, UrlTarget(url, verify=str(certificate.cert))) as pair:
        assert pair.right.request("GET", "/host").body == f"localhost:{quart_over_tls.port}".encode()
        assert pair.run([case for case in CASES if case.id != "host"]) == []
    with UrlClient(url, "unverified") as client, pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client.request("GET", "/")


def test_http2_over_tls_answers_as_http11_does(quart_over_tls: WireClient, certificate: Certificate) -> None:
    url = f"https://localhost:{quart_over_tls.port}"
    http11 = UrlTarget(url, verify=str(certificate.cert), name="http/1.1")
    http2 = UrlTarget(url, verify=str(certificate.cert), http2=True, name="http/2")
    with open_pair(http11, http2) as pair:
        assert pair.mode == "url"
        assert pair.run(CASES) == []
        assert pair.right.request("GET", "/").headers[0][0].islower()  # HTTP/2 names are lowercase
    assert quart_over_tls.log_path is not None
    access = quart_over_tls.log_path.read_text()
    assert '"GET /items/3 2"' in access and '"GET /items/3 1.1"' in access  # hypercorn's log: both protocols


def test_http2_without_tls_speaks_h2c_with_prior_knowledge(tmp_path: Path) -> None:
    with serve_target(QUART, tmp_path, "h2c") as server:
        url = f"http://127.0.0.1:{server.port}"
        with open_pair(UrlTarget(url, name="http/1.1"), UrlTarget(url, http2=True, name="h2c")) as pair:
            assert pair.run(CASES) == []
        assert '"GET /items/3 2"' in (tmp_path / "h2c-hypercorn.log").read_text()


def open_and_close(left: Target, right: Target, *, mode: Mode = "in-process", logs_dir: Path | None = None) -> None:
    with open_pair(left, right, mode=mode, logs_dir=logs_dir):
        pass


def without_date(exchange: Exchange) -> Exchange:
    return Exchange(exchange.status, tuple(f for f in exchange.headers if f[0].lower() != "date"), exchange.body)
