"""The cheapest endpoint on a bare framework app, to price twinport's app and the frameworks.

``/as-json`` answers ``{"items":[1,2,3],"ok":true}`` plus a newline, the bytes twinport's
own ``/as-json`` sends. Served by the same servers with the same settings:

- ``flask_app()`` and ``quart_app()``: the endpoint written directly on the framework
  (``jsonify``, as twinport's view now is too): against twinport's own app, the cost of what
  surrounds the view (the request gate, the hooks; issue goal: <= 5%).
- ``floor_app``: a bare ASGI callable with no framework at all: the floor of what Python and
  the server can do here, so the report shows how far each target is from it.

Both framework apps also answer ``/io-wait`` (the ``io-wait-*`` scenarios): the view waits
``IO_WAIT_SECONDS`` on I/O it does not control, as a call to a slow upstream would, written as each
framework's users write it: ``time.sleep`` in Flask (the thread is held), ``await asyncio.sleep`` in
Quart (the event loop serves others meanwhile). It is the benchmark's endpoint, never twinport's.

Each also answers ``/healthz``, which the benchmark waits for before it measures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["AS_JSON_BODY", "IO_WAIT_BODY", "IO_WAIT_SECONDS", "flask_app", "floor_app", "floor_factory", "quart_app"]

AS_JSON_BODY = b'{"items":[1,2,3],"ok":true}\n'
_HEALTHZ_BODY = b'{"status":"ok"}\n'
IO_WAIT_SECONDS = 0.05  # a 50 ms upstream
IO_WAIT_BODY = b'{"waited_ms":50}\n'

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def flask_app() -> Any:
    import time

    from flask import Flask, Response, jsonify

    app = Flask(__name__)

    @app.get("/as-json")
    def as_json() -> Any:
        return jsonify(ok=True, items=[1, 2, 3])

    @app.get("/io-wait")
    def io_wait() -> Any:
        time.sleep(IO_WAIT_SECONDS)
        return Response(IO_WAIT_BODY, mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app


def quart_app() -> Any:
    import asyncio

    from quart import Quart, Response, jsonify

    app = Quart(__name__)

    @app.get("/as-json")
    async def as_json() -> Any:
        return jsonify(ok=True, items=[1, 2, 3])

    @app.get("/io-wait")
    async def io_wait() -> Any:
        await asyncio.sleep(IO_WAIT_SECONDS)
        return Response(IO_WAIT_BODY, mimetype="application/json")

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


def floor_factory() -> Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Any]:
    """``floor_app`` as a factory, as every target names its app (``module:function``)."""
    return floor_app
