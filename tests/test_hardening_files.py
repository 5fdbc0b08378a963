"""Issue 8, items 1 and 9, over the wire against both real servers: what the service writes is
never served, hidden files are never served, and a FIFO or socket in the data directory is a
quick 404 that blocks no thread."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from parity_tests.cases.files import FIFO, HIDDEN, NOT_SERVED, SOCKET
from parity_tests.clients import WireClient
from parity_tests.servers import running_server
from shared.edge.store import DATABASE_FILE

FILE_ROUTES = ("/files/", "/video/", "/nginx-download/")
# More requests at once than Flask has threads (32) and Quart has file threads (8 on 2 cores):
# before the fix, each of these held one for good.
CONCURRENT = 40


def test_the_database_is_written_to_state_dir_and_never_served(runtime: str) -> None:
    """The defaults (state_dir "state" beside data_dir "data"): the SQLite file and its -wal and
    -shm exist, and no file route serves them."""
    with running_server(runtime) as server:
        client = WireClient(server.host, server.port, runtime)
        assert client.request("GET", "/items/1").status == 200  # the store is open and used
        for route in FILE_ROUTES:
            for suffix in ("", "-wal", "-shm"):
                response = client.request("GET", f"{route}{DATABASE_FILE}{suffix}")
                assert response.status == 404, (route, suffix)
                assert b"SQLite format" not in response.body
        scratch = server.log_path.parent
        assert (scratch / "state" / DATABASE_FILE).is_file()
        assert not (scratch / "data" / DATABASE_FILE).exists()


def test_hidden_files_are_never_served(wire_client: WireClient, data_dir: Path) -> None:
    for name, content in HIDDEN.items():
        assert (data_dir / name).read_bytes() == content  # they are there
    for route in (*FILE_ROUTES, "/site-static/"):
        for case, name in NOT_SERVED.items():
            response = wire_client.request("GET", route + name)
            assert response.status == 404, (route, case)
            assert response.header("X-Accel-Redirect") is None
            assert not any(content in response.body for content in HIDDEN.values())


@pytest.mark.parametrize("name", [FIFO, SOCKET], ids=["fifo", "socket"])
def test_a_fifo_or_socket_is_a_quick_404_that_holds_no_thread(
    wire_client: WireClient, data_dir: Path, name: str
) -> None:
    assert (data_dir / name).exists() and not (data_dir / name).is_file()
    client = WireClient(wire_client.host, wire_client.port, wire_client.name, timeout=10)
    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        statuses = list(pool.map(lambda _: client.request("GET", f"/files/{name}").status, range(CONCURRENT)))
    assert statuses == [404] * CONCURRENT
    # Generous: a blocking open never returns, an O_NONBLOCK one takes microseconds.
    assert time.monotonic() - started < 8
    assert client.request("GET", "/healthz").status == 200
    assert client.request("GET", "/files/hello.txt").status == 200  # file serving still answers
