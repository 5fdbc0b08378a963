"""The frameworks' own command lines on the twins: ``flask --app flask_impl`` and ``quart --app
quart_impl`` (``routes`` and ``run``), in a fresh directory with a twinport.toml, as a new user
would try them. Loading the app creates nothing; serving prepares the data and the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from parity_tests.clients import WireClient
from parity_tests.servers import free_port, running_command, twinport_environment
from shared.edge.files import SHIPPED

# Read by create_app() as `twinport serve` reads it; names unlike the defaults, to find them.
TWINPORT_TOML = 'data_dir = "served-files"\nstate_dir = "service-state"\nseed_items = 5\n'


def framework(runtime: str, *arguments: str) -> list[str]:
    """``flask --app flask_impl ...`` or ``quart --app quart_impl ...``: the installed script where
    there is one, else the same CLI as ``python -m``."""
    script = Path(sys.executable).parent / runtime
    command = [str(script)] if script.exists() else [sys.executable, "-m", runtime]
    return [*command, "--app", f"{runtime}_impl", *arguments]


def test_routes_lists_the_routes_and_creates_nothing(tmp_path: Path, runtime: str) -> None:
    (tmp_path / "twinport.toml").write_text(TWINPORT_TOML)
    result = subprocess.run(
        framework(runtime, "routes"),
        cwd=tmp_path,
        env=twinport_environment({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rules = {line.split()[-1] for line in result.stdout.splitlines()[2:]}
    assert {"/healthz", "/files/<path:filename>", "/api/v1/items", "/events"} <= rules
    assert sorted(path.name for path in tmp_path.iterdir()) == ["twinport.toml"]  # no data, state or database


def test_run_serves_the_files_and_the_database(tmp_path: Path, runtime: str) -> None:
    (tmp_path / "twinport.toml").write_text(TWINPORT_TOML)
    port = free_port()
    argv = framework(runtime, "run", "--host", "127.0.0.1", "--port", str(port))
    with running_command(runtime, argv, port, twinport_environment({}), tmp_path, tmp_path / "run.log") as server:
        client = WireClient("127.0.0.1", port, runtime)  # running_command waited for /healthz
        hello = client.request("GET", "/files/hello.txt")
        assert (hello.status, hello.body) == (200, (SHIPPED / "hello.txt").read_bytes()), server.log()
        item = client.request("GET", "/api/v1/items/5")
        assert item.status == 200, server.log()
        assert client.request("GET", "/api/v1/items/6").status == 404  # seed_items from twinport.toml
    assert (tmp_path / "served-files" / "hello.txt").is_file()
    assert (tmp_path / "service-state" / "twinport.sqlite3").is_file()
