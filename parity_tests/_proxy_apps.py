"""A small Flask app and its Quart port, for the shadow proxy's tests (``test_proxy_mode``).

Written the ordinary way, each in its framework's idioms. Planted on purpose:

- a difference: ``/items/<id>`` says ``Cache-Control: max-age=60`` in Flask, ``max-age=600`` in
  the port (the kind of slip a port makes);
- noise: ``/items/<id>`` carries an ``X-Request-Id`` that is new on every answer, on both sides.

Everything else answers alike: a 2 MiB download, an endless event stream, the Host a request
named (``/host``), and a hit counter (``POST /hits`` adds one, ``GET /hits`` says how many) that
tells whether a side saw a POST.

Served by gunicorn (``parity_tests._proxy_apps:flask_app``) and hypercorn (``...:quart_app``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import flask
import quart

__all__ = ["BIG_BODY", "flask_app", "quart_app"]

BIG_BODY = bytes(range(256)) * (8 * 1024)  # 2 MiB
TICK_SECONDS = 0.02


def event(serial: int) -> str:
    return f"id: {serial}\ndata: tick {serial}\n\n"


def create_flask_app() -> flask.Flask:
    app = flask.Flask(__name__)
    hits = itertools.count(1)
    seen = {"hits": 0}

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> flask.Response:
        response = flask.jsonify(id=item_id, name=f"item {item_id}")
        response.headers["Cache-Control"] = "max-age=60"
        response.headers["X-Request-Id"] = str(uuid.uuid4())
        return response

    @app.get("/big")
    def big() -> flask.Response:
        return flask.Response(BIG_BODY, mimetype="application/octet-stream")

    @app.get("/events")
    def events() -> flask.Response:
        def stream() -> Iterator[str]:
            for serial in itertools.count(1):
                yield event(serial)
                time.sleep(TICK_SECONDS)

        return flask.Response(stream(), mimetype="text/event-stream")

    @app.get("/host")
    def host() -> str:
        return flask.request.host

    @app.route("/hits", methods=["GET", "POST"])
    def count_hits() -> str:
        if flask.request.method == "POST":
            seen["hits"] = next(hits)
        return str(seen["hits"])

    return app


def create_quart_app() -> quart.Quart:
    app = quart.Quart(__name__)
    hits = itertools.count(1)
    seen = {"hits": 0}

    @app.get("/healthz")
    async def healthz() -> str:
        return "ok"

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> quart.Response:
        response = quart.jsonify(id=item_id, name=f"item {item_id}")
        response.headers["Cache-Control"] = "max-age=600"
        response.headers["X-Request-Id"] = str(uuid.uuid4())
        return response

    @app.get("/big")
    async def big() -> quart.Response:
        return quart.Response(BIG_BODY, mimetype="application/octet-stream")

    @app.get("/events")
    async def events() -> quart.Response:
        async def stream() -> AsyncIterator[str]:
            for serial in itertools.count(1):
                yield event(serial)
                await asyncio.sleep(TICK_SECONDS)

        response = quart.Response(stream(), mimetype="text/event-stream")
        response.timeout = None  # an endless stream: Quart's RESPONSE_TIMEOUT would cut it
        return response

    @app.get("/host")
    async def host() -> str:
        return quart.request.host

    @app.route("/hits", methods=["GET", "POST"])
    async def count_hits() -> str:
        if quart.request.method == "POST":
            seen["hits"] = next(hits)
        return str(seen["hits"])

    return app


flask_app = create_flask_app()
quart_app = create_quart_app()
