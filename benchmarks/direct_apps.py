"""The cheapest endpoint on a bare framework app, to price twinport's app and the frameworks.

``/as-json`` answers ``{"items":[1,2,3],"ok":true}`` plus a newline, the bytes twinport's
own ``/as-json`` sends. Served by the same servers with the same settings:

- ``flask_app()`` and ``quart_app()``: the endpoint written directly on the framework
  (``jsonify``, as twinport's view now is too): against twinport's own app, the cost of what
  surrounds the view (the request gate, the hooks; issue goal: <= 5%).
- ``floor_app``: a bare ASGI callable with no framework at all: the floor of what Python and
  the server can do here, so the report shows how far each target is from it.

Each also answers ``/healthz``, which the benchmark waits for before it measures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["AS_JSON_BODY", "flask_app", "floor_app", "quart_app"]

AS_JSON_BODY = b'{"items":[1,2,3],"ok":true}\n'
_HEALTHZ_BODY = b'{"status":"ok"}\n'

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def flask_app() -> Any:
    from flask import Flask, jsonify

    app = Flask(__name__)

    @app.get("/as-json")
    def as_json() -> Any:
        return jsonify(ok=True, items=[1, 2, 3])

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app


def quart_app() -> Any:
    from quart import Quart, jsonify

    app = Quart(__name__)

    @app.get("/as-json")
    async def as_json() -> Any:
        return jsonify(ok=True, items=[1, 2, 3])

    @app.get("/healthz")
    async def healthz() -> Any:
        return jsonify(status="ok")

    return app


async def floor_app(
    scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    """ASGI 3 with nothing in between: one dictionary lookup, two sends."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = {"/as-json": AS_JSON_BODY, "/healthz": _HEALTHZ_BODY}.get(scope["path"])
    status = 200 if body is not None else 404
    body = body or b""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
