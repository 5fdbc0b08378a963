"""The streams (seed §2.2) and the cookie (§2.5.2) in both runtimes, in-process and over the wire.

Each body is written once and runs as ``[flask]`` and ``[quart]``. The server-sent-event tests that
publish run against their own server per serving (``stream_server``): a short heartbeat, four gunicorn
threads, and a hub the parity cases never read, so what they publish cannot shift the ids those
cases compare.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import signal
import time
from collections.abc import Iterator
from types import TracebackType

import pytest

import flask_impl
import quart_impl
from parity_tests.clients import HOST, Client, QuartInProcess, WireClient
from parity_tests.servers import Serving, running_server, stop_process
from shared.service.events import HEARTBEAT, OPENING

HEARTBEAT_SECONDS = 0.4
STREAM_DELAY = 0.1
REPLAY = 5
# Four gunicorn threads, three of which streams may hold (stream_cap): one is left for requests.
STREAM_SETTINGS = {
    "sse_heartbeat": HEARTBEAT_SECONDS,
    "stream_delay": STREAM_DELAY,
    "sse_replay": REPLAY,
    "threads": 4,
    "sse_thread_share": 0.75,
}
JSON = (("Content-Type", "application/json"),)


@pytest.fixture(scope="session")
def stream_server(serving: Serving, settings: dict[str, object]) -> Iterator[WireClient]:
    """The serving's own server for this module, with the stream settings above."""
    with running_server(serving.runtime, {**settings, **STREAM_SETTINGS}, serving) as server:
        yield WireClient(server.host, server.port, server.runtime)


class EventReader:
    """GET /events on its own connection, read one block (event or comment) at a time."""

    def __init__(self, server: WireClient, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            self.connection.putrequest("GET", "/events", skip_host=True)
            self.connection.putheader("Host", HOST)
            for name, value in headers:
                self.connection.putheader(name, value)
            self.connection.endheaders()
            self.response = self.connection.getresponse()
        except BaseException:
            self.connection.close()
            raise
        self.pending = b""

    def __enter__(self) -> EventReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def block(self) -> bytes:
        while b"\n\n" not in self.pending:
            chunk = self.response.read1(65536)
            if not chunk:
                raise EOFError(f"the stream ended; unread: {self.pending!r}")
            self.pending += chunk
        block, _, self.pending = self.pending.partition(b"\n\n")
        return block + b"\n\n"

    def event(self) -> dict[str, object]:
        """The next event (heartbeats skipped), its fields parsed and its data decoded."""
        while (block := self.block()) == HEARTBEAT:
            pass
        fields = dict(line.split(": ", 1) for line in block.decode("utf-8").strip("\n").split("\n"))
        return {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}

    def close(self) -> None:
        self.connection.close()


def publish(server: Client, event_type: str, data: object) -> str:
    """The published event's id, ``<boot>-<n>`` with this server's boot."""
    response = server.request("POST", "/events", JSON, json.dumps({"event": event_type, "data": data}).encode())
    assert response.status == 202, response.body
    event_id = json.loads(response.body)["id"]
    boot, _, serial = event_id.rpartition("-")
    assert (boot, serial.isdigit()) == (boot_of(server), True), event_id
    return str(event_id)


def boot_of(server: Client) -> str:
    return str(json.loads(server.request("GET", "/ops/stats").body)["sse_boot"])


def previous(event_id: str) -> str:
    """The id just before ``event_id`` in its boot's sequence."""
    boot, _, serial = event_id.rpartition("-")
    return f"{boot}-{int(serial) - 1}"


def subscribers(server: Client) -> int:
    return int(json.loads(server.request("GET", "/ops/stats").body)["sse_subscribers"])


def wait_for_subscribers(server: Client, count: int, within: float) -> float:
    """Seconds until the server counts ``count`` subscribers; fails after ``within``."""
    started = time.monotonic()
    while (current := subscribers(server)) != count:
        assert time.monotonic() - started < within, f"still {current} subscribers after {within}s, expected {count}"
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.parametrize("factory", [flask_impl.create_app, quart_impl.create_app], ids=["flask", "quart"])
def test_the_endpoints_have_the_issues_names(factory: object, settings: dict[str, object]) -> None:
    app = factory(dict(settings))  # type: ignore[operator]
    rules = {(rule.rule, rule.endpoint, tuple(sorted(rule.methods))) for rule in app.url_map.iter_rules()}
    assert {
        ("/stream/gen", "resp.stream_gen", ("GET", "HEAD", "OPTIONS")),
        ("/export.csv", "resp.export_csv", ("GET", "HEAD", "OPTIONS")),
        ("/events", "resp.sse", ("GET", "HEAD", "OPTIONS")),
        ("/events", "resp.publish_event", ("OPTIONS", "POST")),
        ("/set-cookie", "resp.set_cookie", ("GET", "HEAD", "OPTIONS")),
        ("/ops/stats", "ops.stats", ("GET", "HEAD", "OPTIONS")),
    } <= rules


# §2.2.1 /stream/gen


def test_stream_gen_sends_the_seeds_chunks(client: Client) -> None:
    response = client.request("GET", "/stream/gen")
    assert response.body == b"start\nchunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nend\n"
    assert (
        response.header("Content-Type"),
        response.header("Cache-Control"),
        response.header("X-Accel-Buffering"),
    ) == (
        "text/plain; charset=utf-8",
        "no-cache",
        "no",
    )
    assert response.header("Content-Length") is None


def test_the_first_chunk_leaves_before_the_generator_finishes(stream_server: WireClient) -> None:
    connection = http.client.HTTPConnection(stream_server.host, stream_server.port, timeout=5)
    try:
        connection.request("GET", "/stream/gen")
        response = connection.getresponse()
        arrivals: list[tuple[float, bytes]] = []
        while chunk := response.read1(65536):
            arrivals.append((time.monotonic(), chunk))
    finally:
        connection.close()
    body = b"".join(chunk for _, chunk in arrivals)
    assert body.endswith(b"end\n") and arrivals[0][1].startswith(b"start\n")
    first_at = arrivals[0][0]
    end_at = next(at for at, chunk in arrivals if b"end\n" in chunk)
    # The server sleeps 5 x STREAM_DELAY between making "start" and making "end"; had it buffered
    # the body, both would arrive together.
    assert b"end\n" not in arrivals[0][1]
    assert end_at - first_at >= 0.5 * 5 * STREAM_DELAY


# §2.2.2 /export.csv


def test_the_export_reads_back_with_the_csv_module(client: Client, settings: dict[str, object]) -> None:
    response = client.request("GET", "/export.csv")
    assert response.header("Content-Type") == "text/csv; charset=utf-8"
    assert response.header("Content-Disposition") == 'attachment; filename="export.csv"'
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8"), newline="")))
    assert rows[0] == ["id", "name"]
    assert len(rows) - 1 == settings["export_rows"]
    assert rows[1:] == [[str(i), f"User {i}"] for i in range(1, len(rows))]


# §2.2.3 /events


def test_the_stream_opens_with_the_seeds_bytes_and_replays_what_was_missed(client: Client) -> None:
    first, second = publish(client, "a", 1), publish(client, "b", {"x": "y"})
    response = client.request("GET", "/events", (("Last-Event-ID", first),), events=2)
    assert response.header("Content-Type") == "text/event-stream; charset=utf-8"
    assert (response.header("Cache-Control"), response.header("X-Accel-Buffering")) == ("no-cache", "no")
    assert response.body == OPENING + f'id: {second}\nevent: b\ndata: {{"x":"y"}}\n\n'.encode()
    assert subscribers(client) == 0


def test_head_on_events_subscribes_to_nothing(client: Client) -> None:
    response = client.request("HEAD", "/events")
    assert (response.status, response.body, response.header("Content-Type")) == (
        200,
        b"",
        "text/event-stream; charset=utf-8",
    )
    assert subscribers(client) == 0


def test_head_on_events_answers_at_once_over_the_wire(wire_client: WireClient) -> None:
    started = time.monotonic()
    response = wire_client.request("HEAD", "/events")
    assert time.monotonic() - started < 2  # Quart would run the endless body until its response timeout
    assert (response.status, response.body, response.header("Content-Type")) == (
        200,
        b"",
        "text/event-stream; charset=utf-8",
    )
    assert response.header("Content-Length") is None


def test_a_published_event_reaches_a_live_subscriber(stream_server: WireClient) -> None:
    with EventReader(stream_server) as reader:
        assert reader.block() == OPENING
        event_id = publish(stream_server, "greeting", {"text": "안녕", "n": [1, 2]})
        assert reader.event() == {"id": event_id, "event": "greeting", "data": {"text": "안녕", "n": [1, 2]}}


def test_a_reconnecting_client_gets_only_newer_events_then_live_ones(stream_server: WireClient) -> None:
    seen, missed = publish(stream_server, "tick", 1), publish(stream_server, "tick", 2)
    with EventReader(stream_server, (("Last-Event-ID", seen),)) as reader:
        assert reader.block() == OPENING
        assert reader.event() == {"id": missed, "event": "tick", "data": 2}
        live = publish(stream_server, "tick", 3)
        assert reader.event() == {"id": live, "event": "tick", "data": 3}


def test_the_replay_buffer_keeps_only_the_newest_events(stream_server: WireClient) -> None:
    ids = [publish(stream_server, "burst", n) for n in range(REPLAY + 2)]
    with EventReader(stream_server, (("Last-Event-ID", previous(ids[0])),)) as reader:
        assert reader.block() == OPENING
        assert [reader.event()["id"] for _ in range(REPLAY)] == ids[-REPLAY:]
        assert reader.block() == HEARTBEAT  # nothing more was kept


def test_a_heartbeat_comment_arrives_when_nothing_happens(stream_server: WireClient) -> None:
    with EventReader(stream_server) as reader:
        assert reader.block() == OPENING
        started = time.monotonic()
        assert reader.block() == HEARTBEAT
        assert time.monotonic() - started < 2 * HEARTBEAT_SECONDS + 0.5


def test_a_client_that_leaves_is_let_go_within_one_heartbeat(stream_server: WireClient) -> None:
    wait_for_subscribers(stream_server, 0, within=3 * HEARTBEAT_SECONDS)
    with EventReader(stream_server) as reader:
        assert reader.block() == OPENING
        assert subscribers(stream_server) == 1
        # Leave just after a heartbeat: a server that noticed only through a failed write would
        # need two more (the first write after our FIN still succeeds), one that looks needs one.
        assert reader.block() == HEARTBEAT
    elapsed = wait_for_subscribers(stream_server, 0, within=3 * HEARTBEAT_SECONDS)
    assert elapsed < 1.5 * HEARTBEAT_SECONDS


def test_several_streams_at_once_and_other_requests_still_answered(stream_server: WireClient) -> None:
    # Twice: the second round needs the threads (Flask) and tasks (Quart) the first one let go.
    for _ in range(2):
        wait_for_subscribers(stream_server, 0, within=3 * HEARTBEAT_SECONDS)
        readers = [EventReader(stream_server) for _ in range(3)]  # gunicorn has 4 threads here, streams may hold 3
        try:
            assert [reader.block() for reader in readers] == [OPENING] * 3
            started = time.monotonic()
            assert stream_server.request("GET", "/healthz").status == 200
            assert time.monotonic() - started < 1
            event_id = publish(stream_server, "to-all", None)
            assert [reader.event()["id"] for reader in readers] == [event_id] * 3
            assert subscribers(stream_server) == 3
        finally:
            for reader in readers:
                reader.close()


def test_the_gunicorn_hook_finds_the_hub_where_the_app_keeps_it(settings: dict[str, object]) -> None:
    import flask_impl
    from flask_impl import gunicorn_conf
    from shared.edge.events import EventHub

    app = flask_impl.create_app(settings)
    assert isinstance(app.extensions.get(gunicorn_conf.EVENTS_EXTENSION), EventHub)


def test_stopping_gunicorn_ends_open_streams_instead_of_waiting_for_them(settings: dict[str, object]) -> None:
    server_settings = {**settings, **STREAM_SETTINGS}
    with (
        running_server("flask", server_settings) as server,
        EventReader(WireClient(server.host, server.port, "flask")) as reader,
    ):
        assert reader.block() == OPENING
        stopping = time.monotonic()
        server.exit_status = stop_process(server.process, signal.SIGTERM)
        took = time.monotonic() - stopping
        # Without the hub closing on SIGTERM: gunicorn's graceful timeout, then the master is
        # killed and its orphaned worker streams on. Bounded, so that is a failure, not a hang.
        assert (server.exit_status, took < 5) == (0, True)
        with pytest.raises(EOFError):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # heartbeats may come before the end
                assert reader.block() == HEARTBEAT


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{", "application/json", 400),
        (b'{"event": "x"}', "application/json", 400),
        (b'{"event": 1, "data": 1}', "application/json", 400),
        (b'{"event": "a\\r\\nb", "data": 1}', "application/json", 400),
        (b'{"event": "x", "data": 1}', "text/plain", 415),
        (b'{"event": "x", "data": "' + b"x" * (1024 * 1024) + b'"}', "application/json", 413),
    ],
    ids=["malformed", "missing-data", "type-not-string", "type-crlf", "not-json", "too-large"],
)
def test_a_bad_publication_is_a_problem_document(client: Client, body: bytes, content_type: str, status: int) -> None:
    response = client.request("POST", "/events", (("Content-Type", content_type),), body)
    assert (response.status, response.header("Content-Type")) == (status, "application/problem+json")
    assert json.loads(response.body)["status"] == status
    assert (
        client.request("GET", "/events", (("Last-Event-ID", f"{boot_of(client)}-0"),), events=1).body == OPENING
    )  # nothing published


def test_a_quart_stream_outlives_the_response_timeout(settings: dict[str, object]) -> None:
    app = quart_impl.create_app({**settings, "sse_heartbeat": 0.1})
    app.config["RESPONSE_TIMEOUT"] = 0.2  # 60 s by default; a stream sets its own timeout to None
    with QuartInProcess(app) as quart:
        response = quart.request("GET", "/events", read_limit=len(OPENING) + 4 * len(HEARTBEAT))
    assert response.body == OPENING + 4 * HEARTBEAT


# §2.5.2 /set-cookie


def test_the_cookie_is_the_same_exact_value_in_both(client: Client) -> None:
    response = client.request("GET", "/set-cookie")
    assert response.header_values("Set-Cookie") == ["sid=s-1; Max-Age=3600; Secure; HttpOnly; Path=/; SameSite=Lax"]
    assert (response.body, response.header("Cache-Control")) == (b'{"ok":true}\n', "no-store")
