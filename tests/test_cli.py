"""The ``twinport`` command: config, errors before anything starts, and serve on real servers."""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import os
import platform
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
    return subprocess.run(
        twinport(*arguments), cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )


def test_config_shows_each_value_and_its_source(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text('runtime = "quart"\n')
    result = run(tmp_path, "config", "--port", "9100", env={"workers": "2"})
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split(None, 2)[1:] for line in result.stdout.splitlines()[1:]}
    assert lines["runtime"] == ["quart", "twinport.toml"]
    assert lines["server"] == ["granian", "default (follows runtime)"]
    assert lines["port"] == ["9100", "--port"]
    assert lines["workers"] == ["2", "env TWINPORT_WORKERS"]


def test_config_json_is_for_machines(tmp_path: Path) -> None:
    result = run(tmp_path, "config", "--json")
    document = json.loads(result.stdout)
    assert document["settings"]["runtime"] == "flask"
    assert document["settings"]["data_dir"] == str(tmp_path / "data")
    assert document["sources"]["port"] == "default"


def entry_point(kind: str) -> list[str]:
    if kind == "module":
        return [sys.executable, "-m", "shared.cli"]
    script = Path(sys.executable).parent / "twinport"
    if not script.exists():
        pytest.skip("the twinport console script is not installed (pip install -e .)")
    return [str(script)]


@pytest.mark.parametrize("kind", ["console-script", "module"])
def test_version_names_twinport_python_and_the_packages_it_runs_on(tmp_path: Path, kind: str) -> None:
    result = subprocess.run(
        [*entry_point(kind), "--version"],
        cwd=tmp_path,
        env=twinport_environment({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"twinport {importlib.metadata.version('twinport')}", f"Python {platform.python_version()}"]
    assert [line.split()[0] for line in lines[2:]] == [
        *("Flask", "Werkzeug", "gunicorn", "Quart", "hypercorn", "uvicorn", "granian", "gevent")
    ]


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    # `twinport config --json | head -1`, made certain: the reader is gone before the first write.
    command = twinport("config", "--json")
    with subprocess.Popen(
        command, cwd=tmp_path, env=twinport_environment({}), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read()
    assert (process.returncode, stderr) == (1, b"")  # 1: what the Python docs' recipe exits with


# Issue 9: parity and bench are plug-ins (the twinport.commands entry points), never imported by
# serve or config.
PLUGIN_PACKAGES = ("parity_tests", "benchmarks")


def test_serve_and_config_never_import_the_plugin_commands(tmp_path: Path) -> None:
    # In a fresh interpreter: this one has imported both packages long ago. serve stops at the busy
    # port, after everything else it does before the exec.
    program = (
        "import sys; from shared.cli import main\n"
        "statuses = [main(['config']), main(['serve', '--host', '127.0.0.1', '--port', sys.argv[1]])]\n"
        "print(statuses, sorted(name for name in sys.modules if name.split('.')[0] in sys.argv[2:]))\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-c", program, port, *PLUGIN_PACKAGES],
            cwd=tmp_path,
            env=twinport_environment({}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.stdout.splitlines()[-1] == "[0, 2] []", result.stdout + result.stderr


def test_the_plugin_commands_are_listed_and_loaded_from_their_entry_points(tmp_path: Path) -> None:
    installed = {entry.name for entry in importlib.metadata.entry_points(group="twinport.commands")}
    if installed != {"parity", "bench"}:
        pytest.skip("this environment's twinport metadata predates the plug-ins (pip install -e .)")
    result = run(tmp_path, "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert "{serve,config,bench,parity}" in result.stdout
    result = run(tmp_path, "parity", "--mode", "sideways")
    assert result.returncode == 2
    assert result.stderr == (
        "twinport: error: argument --mode: invalid choice: 'sideways' (choose from 'in-process', 'wire', 'both')"
        " (see twinport parity --help)\n"
    )


def test_a_plugin_that_cannot_be_loaded_is_one_line_and_spares_serve_and_config(tmp_path: Path) -> None:
    # A real distribution on the path (its metadata is all importlib.metadata reads) whose command
    # names a module that does not exist.
    site = tmp_path / "site"
    (site / "twinport_broken-1.0.dist-info").mkdir(parents=True)
    (site / "twinport_broken-1.0.dist-info" / "METADATA").write_text("Name: twinport-broken\nVersion: 1.0\n")
    (site / "twinport_broken-1.0.dist-info" / "entry_points.txt").write_text(
        "[twinport.commands]\nbroken = twinport_no_such_module:register\n"
    )
    environment = {"PYTHONPATH": os.pathsep.join([str(site), twinport_environment({})["PYTHONPATH"]])}

    def twinport_with_the_broken_plugin(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shared.cli", *arguments],
            cwd=tmp_path,
            env=twinport_environment({}) | environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    error = (
        "twinport: error: the 'broken' command (twinport_no_such_module:register) cannot be loaded: "
        "ModuleNotFoundError: No module named 'twinport_no_such_module'\n"
    )
    shown = twinport_with_the_broken_plugin("--help")
    assert (shown.returncode, shown.stderr) == (0, error)
    assert "config" in shown.stdout and "broken" not in shown.stdout
    chosen = twinport_with_the_broken_plugin("broken", "--flag")
    assert (chosen.returncode, chosen.stdout, chosen.stderr) == (2, "", error)
    config = twinport_with_the_broken_plugin("config", "--json")
    assert (config.returncode, config.stderr) == (0, "")
    assert json.loads(config.stdout)["settings"]["runtime"] == "flask"


def test_the_config_flag_wins_over_twinport_config(tmp_path: Path) -> None:
    (tmp_path / "flag.toml").write_text("[twinport]\nport = 8100\n")
    (tmp_path / "variable.toml").write_text("port = 8200\n")
    (tmp_path / "pyproject.toml").write_text("[tool.twinport]\nworkers = 3\n")
    result = run(tmp_path, "config", "--json", "--config", "flag.toml", env={"config": "variable.toml"})
    document = json.loads(result.stdout)
    assert (document["settings"]["port"], document["settings"]["workers"]) == (8100, 3)
    assert document["sources"]["port"] == f"{tmp_path / 'flag.toml'} [twinport]"


@pytest.mark.parametrize(
    ("arguments", "env", "expected"),
    [
        (("serve", "--port", "abc"), {}, "--port='abc': expected an integer from 1 to 65535"),
        (("serve", "--runtime", "flask", "--server", "hypercorn"), {}, "not offered for runtime 'flask'"),
        (("serve",), {"runtime": "pyramid"}, "TWINPORT_RUNTIME='pyramid': expected flask or quart"),
        (("serve", "--colour", "red"), {}, "unrecognized arguments: --colour red"),
        (("config", "--workers", "0"), {}, "--workers='0': expected an integer from 1 to 64"),
        # Issue 8, item 13: each of these was a traceback, or a server that started and then failed.
        (("serve", "--data-dir", "a-file"), {}, "data_dir: 'a-file' (--data-dir) is not a directory"),
        (("serve",), {"data_dir": "a-file/data"}, "data_dir: 'a-file/data' (env TWINPORT_DATA_DIR) is under "),
        (("serve", "--state-dir", "data/state"), {}, "overlaps data_dir"),
        (
            ("serve", "--state-dir", "/proc/twinport-state"),
            {},
            "state_dir: cannot create or fill '/proc/twinport-state': No such file or directory",
        ),
        (
            ("serve",),
            {"database_url": "sqlite+foo:///x.db"},
            "TWINPORT_DATABASE_URL='sqlite+foo:///x.db': expected empty (SQLite in state_dir)",
        ),
        (("serve",), {"database_url": "sqlite:"}, "TWINPORT_DATABASE_URL='sqlite:': expected empty"),
        (
            ("serve",),
            {"database_url": "sqlite:////proc/twinport/x.db"},
            "database_url: cannot open the database 'sqlite:////proc/twinport/x.db': ",
        ),
        (
            ("serve",),
            {"port": "\u0668\u0660\u0660\u0660"},
            "TWINPORT_PORT='\u0668\u0660\u0660\u0660': expected an integer from 1 to 65535",
        ),
        (("serve", "--port", "1_000"), {}, "--port='1_000': expected an integer from 1 to 65535"),
        # Issue 9: the conventions a Flask or Quart user expects.
        (("serve", "--prot", "8000"), {}, "unrecognized arguments: --prot 8000; did you mean --port?"),
        (("serve", "--config", "nope.toml"), {}, "--config='nope.toml': no such file"),
        (("config",), {"log_levl": "INFO"}, "; did you mean TWINPORT_LOG_LEVEL?"),
    ],
)
def test_bad_settings_are_one_line_exit_2_and_start_nothing(
    tmp_path: Path, arguments: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    port = free_port()
    result = run(
        tmp_path, *arguments, "--host", "127.0.0.1", env={"port": port, **env} if "--port" not in arguments else env
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something is listening: a server started"


def test_a_nul_in_data_dir_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "twinport.toml").write_text('data_dir = "da\\u0000ta"\n')  # only TOML can carry a NUL
    result = run(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(free_port()))
    assert (result.returncode, result.stderr) == (
        2,
        "twinport: error: data_dir = 'da\\x00ta' in twinport.toml: expected a directory path\n",
    )


@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_a_busy_port_is_one_line_exit_2_before_the_server_starts(tmp_path: Path, runtime: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(tmp_path, "serve", "--runtime", runtime, "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 2
    assert (
        result.stderr == f"twinport: error: cannot listen on 127.0.0.1:{port}: "
        "Address already in use (another process is listening there)\n"
    )


def test_a_postgresql_url_without_its_driver_is_one_line_exit_2(tmp_path: Path) -> None:
    # The real command in a process where psycopg cannot be imported (None in sys.modules is how
    # Python marks a module as absent), whether or not this machine has it installed.
    port = free_port()
    program = "import sys; sys.modules['psycopg'] = None; from shared.cli import main; sys.exit(main(sys.argv[1:]))"
    arguments = (
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        "postgresql://u:s3cret@127.0.0.1/app",
    )
    result = subprocess.run(
        [sys.executable, "-c", program, *arguments],
        cwd=tmp_path,
        env=twinport_environment({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "twinport: error: database_url: a postgresql database needs the psycopg package, "
        "which is not installed (pip install 'twinport[postgresql]')\n"
    )
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_a_postgresql_server_that_does_not_answer_is_one_line_exit_2(tmp_path: Path, runtime: str) -> None:
    pytest.importorskip("psycopg", reason="the postgresql extra (psycopg[binary]) is not installed")
    database_port, port = free_port(), free_port()  # nothing listens on either
    url = f"postgresql://twinport:s3cret@127.0.0.1:{database_port}/twinport"
    result = run(
        tmp_path, "serve", "--runtime", runtime, "--host", "127.0.0.1", "--port", str(port), "--database-url", url
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "twinport: error: database_url: cannot open the database "
        f"'postgresql://twinport:***@127.0.0.1:{database_port}/twinport': "
    )
    assert "s3cret" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_serve_prepares_state_dir_and_the_database_before_the_server_starts(tmp_path: Path) -> None:
    # A busy port stops serve after the preparation and before the exec: what it left is what
    # serve does itself, not a worker.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run(
            tmp_path, "serve", "--host", "127.0.0.1", "--port", str(taken.getsockname()[1]), "--seed-items", "7"
        )
    assert result.returncode == 2, result.stderr
    assert (tmp_path / "state" / "twinport.sqlite3").is_file()
    assert (tmp_path / "data" / "hello.txt").is_file()
    assert (
        sorted(path.name for path in (tmp_path / "data").iterdir() if path.name.startswith(".")) == []
    )  # no temporary left


def test_server_command_is_gunicorn_gthread_for_flask_and_granian_for_quart() -> None:
    flask = server_command(resolve_settings(cli={"port": "8001", "threads": "16"}).settings, python="py")
    assert flask[:3] == ["py", "-m", "gunicorn"]
    assert "--worker-class" not in flask  # gunicorn_conf.py's worker_class: twinport's gthread worker
    assert flask[flask.index("--threads") + 1] == "16"
    assert flask[-1] == "flask_impl:create_app()"
    assert flask[flask.index("--forwarded-allow-ips") + 1] == ""  # gunicorn trusts no proxy by itself
    quart = server_command(resolve_settings(cli={"runtime": "quart"}).settings, python="py")
    assert quart[:3] == ["py", "-m", "granian"]
    hypercorn = {"runtime": "quart", "server": "hypercorn", "host": "::1"}
    quart = server_command(resolve_settings(cli=hypercorn).settings, python="py")
    assert quart[:3] == ["py", "-m", "hypercorn"]
    assert quart[quart.index("--bind") + 1] == "[::1]:8000"
    assert quart[-1] == "quart_impl.hypercorn_worker:create_app()"


def test_server_command_gives_gunicorn_gevent_twinports_worker_and_a_place_beside_every_stream() -> None:
    from flask_impl import gunicorn_conf

    settings = resolve_settings(cli={"worker_class": "gevent", "sse_max_streams": "2000"}).settings
    flask = server_command(settings, python="py")
    # A --worker-class would win over gunicorn_conf.py's, which it picks from the exported setting.
    assert "--worker-class" not in flask
    assert settings.as_environ()[gunicorn_conf.WORKER_CLASS_ENV] == "gevent"
    # Each stream is one of the worker's connections: gunicorn's 1000 are left for requests.
    assert flask[flask.index("--worker-connections") + 1] == "3000"


@pytest.mark.parametrize(
    ("chosen", "program", "factory"),
    [
        ({"runtime": "quart", "server": "uvicorn"}, "uvicorn", "quart_impl.uvicorn_worker:create_app"),
        ({"runtime": "quart", "server": "granian"}, "granian", "quart_impl.granian_worker:create_app"),
    ],
)
def test_server_command_runs_uvicorn_and_granian_as_production_does(
    chosen: dict[str, str], program: str, factory: str
) -> None:
    argv = server_command(resolve_settings(cli={**chosen, "sse_max_streams": "10000"}).settings, python="py")
    assert argv[:3] == ["py", "-m", program]
    assert argv[-2:] == ["--factory", factory]
    if program == "uvicorn":
        assert "--no-proxy-headers" in argv  # uvicorn trusts loopback's X-Forwarded-* by default
        # uvicorn's h11 protocol, subclassed (httptools answers an unknown method 400 itself).
        assert argv[argv.index("--http") + 1] == "quart_impl.uvicorn_worker:H11Protocol"
    else:
        # granian's default backpressure (the backlog) would cap open event streams.
        assert int(argv[argv.index("--backpressure") + 1]) > 10_000
        assert argv[argv.index("--interface") + 1] == "asgi"


SEED_ENDPOINTS = {
    "/healthz": 200,
    "/basic-1": 200,
    "/basic-2": 200,
    "/basic-3": 202,
    "/basic-4": 200,
    "/basic-5": 200,
    "/basic-6": 201,
    "/as-json": 200,
    "/cache-demo": 200,
}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
@pytest.mark.parametrize("runtime", ["flask", "quart"])
def test_serve_answers_on_the_port_asked_for_and_exits_cleanly(
    tmp_path: Path, runtime: str, stop: signal.Signals
) -> None:
    port = free_port()
    argv = twinport("serve", "--runtime", runtime, "--port", str(port), "--host", "127.0.0.1")
    environment = twinport_environment({"data_dir": str(tmp_path / "data")})
    with running_command(runtime, argv, port, environment, tmp_path, tmp_path / "serve.log") as server:
        client = WireClient("127.0.0.1", port, runtime)
        for path, status in SEED_ENDPOINTS.items():
            assert client.request("GET", path).status == status, path
        assert client.request("GET", "/healthz").header("Server") == ("gunicorn" if runtime == "flask" else "granian")
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
        assert response.getheader("server") == "granian"
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
