"""The ``twinport`` command: config, errors before anything starts, and serve on real servers."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parity_tests.clients import WireClient
from parity_tests.servers import free_port, running_command, twinport_environment
from shared.cli import server_command
from shared.settings import resolve_settings


def twinport(*arguments: str) -> list[str]:
    """The installed console script when there is one (``make test``), else the module."""
    script = Path(sys.executable).parent / "twinport"
    return [str(script), *arguments] if script.exists() else [sys.executable, "-m", "shared.cli", *arguments]


def run(tmp_path: Path, *arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = twinport_environment(env or {})
    return subprocess.run(twinport(*arguments), cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)


def test_config_shows_each_value_and_its_source(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text('runtime = "quart"\n')
    result = run(tmp_path, "config", "--port", "9100", env={"workers": "2"})
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split(None, 2)[1:] for line in result.stdout.splitlines()[1:]}
    assert lines["runtime"] == ["quart", "twinport.toml"]
    assert lines["server"] == ["hypercorn", "default (follows runtime)"]
    assert lines["port"] == ["9100", "--port"]
    assert lines["workers"] == ["2", "env TWINPORT_WORKERS"]


def test_config_json_is_for_machines(tmp_path: Path) -> None:
    result = run(tmp_path, "config", "--json")
    document = json.loads(result.stdout)
    assert document["settings"]["runtime"] == "flask"
    assert document["settings"]["data_dir"] == str(tmp_path / "data")
    assert document["sources"]["port"] == "default"


@pytest.mark.parametrize(
    ("arguments", "env", "expected"),
    [
        (("serve", "--port", "abc"), {}, "--port='abc': expected an integer from 1 to 65535"),
        (("serve", "--runtime", "flask", "--server", "hypercorn"), {}, "not offered for runtime 'flask'"),
        (("serve",), {"runtime": "pyramid"}, "TWINPORT_RUNTIME='pyramid': expected flask or quart"),
        (("serve", "--colour", "red"), {}, "unrecognized arguments: --colour red"),
        (("config", "--workers", "0"), {}, "--workers='0': expected an integer from 1 to 64"),
    ],
)
def test_bad_settings_are_one_line_exit_2_and_start_nothing(tmp_path: Path, arguments: tuple[str, ...], env: dict[str, str], expected: str) -> None:
    port = free_port()
    result = run(tmp_path, *arguments, "--host", "127.0.0.1", env={"port": port, **env} if "--port" not in arguments else env)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something is listening: a server started"


def test_server_command_is_gunicorn_gthread_for_flask_and_hypercorn_for_quart() -> None:
    flask = server_command(resolve_settings(cli={"port": "8001", "threads": "16"}).settings, python="py")
    assert flask[:3] == ["py", "-m", "gunicorn"]
    assert "--worker-class" not in flask  # gunicorn_conf.py's worker_class: twinport's gthread worker
    assert flask[flask.index("--threads") + 1] == "16"
    assert flask[-1] == "flask_impl:create_app()"
    assert flask[flask.index("--forwarded-allow-ips") + 1] == ""  # gunicorn trusts no proxy by itself
    quart = server_command(resolve_settings(cli={"runtime": "quart", "host": "::1"}).settings, python="py")
    assert quart[:3] == ["py", "-m", "hypercorn"]
    assert quart[quart.index("--bind") + 1] == "[::1]:8000"
    assert quart[-1] == "quart_impl.hypercorn_worker:create_app()"


SEED_ENDPOINTS = {"/healthz": 200, "/basic-1": 200, "/basic-2": 200, "/basic-3": 202, "/basic-4": 200, "/basic-5": 200, "/basic-6": 201, "/as-json": 200, "/cache-demo": 200}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_serve_answers_on_the_port_asked_for_and_exits_cleanly(tmp_path: Path, runtime: str, stop: signal.Signals) -> None:
    port = free_port()
    argv = twinport("serve", "--runtime", runtime, "--port", str(port), "--host", "127.0.0.1")
    environment = twinport_environment({"data_dir": str(tmp_path / "data")})
    with running_command(runtime, argv, port, environment, tmp_path, tmp_path / "serve.log") as server:
        client = WireClient("127.0.0.1", port, runtime)
        for path, status in SEED_ENDPOINTS.items():
            assert client.request("GET", path).status == status, path
        assert client.request("GET", "/healthz").header("Server") == ("gunicorn" if runtime == "flask" else "hypercorn-h11")
        server.process.send_signal(stop)
        assert server.process.wait(timeout=20) == 0, server.log()
    assert f"serving runtime={runtime}" in server.log()


def test_serve_logs_to_stderr_and_reads_twinport_toml(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "twinport.toml").write_text(f'runtime = "quart"\nport = {port}\nhost = "127.0.0.1"\n')
    process = subprocess.Popen(
        twinport("serve"), cwd=tmp_path, env=twinport_environment({}), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", "/as-json")
                response = connection.getresponse()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("twinport serve did not start")
        assert response.getheader("server") == "hypercorn-h11"
        assert response.read() == b'{"items":[1,2,3],"ok":true}\n'
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert stdout == b""
    assert b"serving runtime=quart" in stderr
    assert b"GET /as-json" in stderr  # the access log, on stderr too
    assert (tmp_path / "data").is_dir()
