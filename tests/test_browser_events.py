"""Issue 8, item 12, as a user sees it: a real browser's EventSource (headless Chromium, Debian's
``chromium`` package, driven by playwright) follows a server restart and misses nothing.

Ids used to restart at 1 with the process, so the browser came back with ``Last-Event-ID: 3``
and the new process, whose newest id was 3 too, replayed nothing: its events 1-3 were lost. Now
ids carry the process's boot (``<boot>-<n>``) and an id of another boot replays everything kept.
The restart happens on the same port (the page's origin), and the new process's first events are
published while the browser is kept from reconnecting (its /events requests are refused), so they
can only reach it through the replay the reconnect asks for: the path that used to lose them.
Nothing is downloaded: playwright drives the installed /usr/bin/chromium.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from parity_tests.clients import WireClient
from parity_tests.servers import (
    RunningServer,
    free_port,
    require_program,
    running_command,
    serve_argv,
    twinport_environment,
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
JSON = (("Content-Type", "application/json"),)
WAIT_MS = 20_000

# Collects every "tick" event with the id the browser saw, and counts the times the stream opened.
COLLECT = """() => {
    window.received = [];
    window.opened = 0;
    const source = new EventSource("/events");
    source.onopen = () => { window.opened += 1; };
    source.addEventListener("tick", (event) => window.received.push([event.lastEventId, event.data]));
    window.source = source;
}"""


@contextmanager
def serving(runtime: str, port: int, settings: dict[str, object], directory: Path) -> Iterator[RunningServer]:
    environment = twinport_environment({**settings, "port": port})
    log = directory / f"{runtime}-{port}.log"
    with running_command(runtime, serve_argv(runtime, port), port, environment, directory, log) as server:
        yield server


def publish(server: RunningServer, n: int) -> str:
    client = WireClient(server.host, server.port, server.runtime)
    answer = client.request("POST", "/events", JSON, json.dumps({"event": "tick", "data": n}).encode())
    assert answer.status == 202, answer.body
    return str(json.loads(answer.body)["id"])


def test_the_browsers_reconnect_after_a_restart_misses_no_event(
    runtime: str, settings: dict[str, object], tmp_path: Path
) -> None:
    chromium = require_program("chromium")
    from playwright.sync_api import sync_playwright  # the test extra installs it (pyproject.toml)

    port = free_port()
    server_settings = {**settings, "sse_heartbeat": 1.0, "sse_replay": 100, "state_dir": str(tmp_path / "state")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            with serving(runtime, port, server_settings, tmp_path) as first:
                page.goto(f"http://127.0.0.1:{port}/healthz")  # same origin as /events
                page.evaluate(COLLECT)
                page.wait_for_function("window.opened === 1", timeout=WAIT_MS)
                before = [publish(first, n) for n in range(3)]
                page.wait_for_function("window.received.length === 3", timeout=WAIT_MS)
                # Keep the browser out while the server restarts and publishes: a refused request
                # is a network error, which EventSource retries (WHATWG HTML §9.2.3).
                page.route("**/events", lambda route: route.abort())
            with serving(runtime, port, server_settings, tmp_path) as second:
                after = [publish(second, n) for n in range(3, 6)]
                # Published with no subscriber: only the reconnect's replay can bring them.
                assert (
                    json.loads(WireClient(second.host, second.port, runtime).request("GET", "/ops/stats").body)[
                        "sse_subscribers"
                    ]
                    == 0
                )
                page.unroute("**/events")
                page.wait_for_function("window.opened === 2", timeout=WAIT_MS)
                after += [publish(second, n) for n in range(6, 8)]  # and live ones after the reconnect
                page.wait_for_function(f"window.received.length >= {len(before) + len(after)}", timeout=WAIT_MS)
                received = page.evaluate("window.received")
                page.evaluate("window.source.close()")
        finally:
            browser.close()
    assert before[0].rpartition("-")[0] != after[0].rpartition("-")[0]  # two processes, two boots
    assert [tuple(event) for event in received] == [(event_id, str(n)) for n, event_id in enumerate(before + after)]
