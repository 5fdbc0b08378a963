"""A tiny Flask service and its Quart port, written the ordinary way, for ``test_targets``.

Not twinport's apps: what a team porting its own service would point ``targets`` at. Each
``create_app(settings)`` takes its config from a mapping (``PREFIX`` mounts the routes under a
path, ``GREETING`` changes ``/``, ``PLANT_HEADER`` adds one header the other side lacks). Also
here: the same apps as objects, an async factory, bare WSGI and ASGI apps that send a body where
HTTP allows none (HEAD, 204, 304), and the broken targets each error test names.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import flask
import quart

__all__ = [
    "asgi_with_forbidden_bodies",
    "asgi_with_lifespan",
    "async_factory_that_raises",
    "create_flask_app",
    "create_quart_app",
    "create_quart_app_async",
    "factory_that_builds_nothing",
    "factory_that_raises",
    "flask_app",
    "not_an_app",
    "quart_app",
    "wsgi_with_forbidden_bodies",
]


def create_flask_app(settings: Mapping[str, Any] | None = None) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(settings or {})
    routes = flask.Blueprint("routes", __name__)

    @routes.get("/")
    def index() -> str:
        return str(app.config.get("GREETING", "hello"))

    @routes.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, object]:
        return {"id": item_id, "name": f"item {item_id}", "tags": ["a", "b"]}

    @routes.get("/host")
    def host() -> str:
        return flask.request.host

    @routes.get("/gone")
    def gone() -> flask.typing.ResponseReturnValue:
        return flask.redirect("/items/1")

    @routes.get("/boom")
    def boom() -> str:
        raise RuntimeError("planted failure in /boom")

    @routes.get("/cookies")
    def cookies() -> flask.Response:
        response = flask.Response("two cookies")
        response.set_cookie("first", "1")
        response.set_cookie("second", "2")
        return response

    @routes.get("/ticks")
    def ticks() -> flask.Response:
        def endless() -> Iterator[str]:
            for number in itertools.count():
                yield f"id: {number}\ndata: tick {number}\n\n"
                time.sleep(0.01)

        return flask.Response(endless(), mimetype="text/event-stream")

    app.register_blueprint(routes, url_prefix=app.config.get("PREFIX") or None)
    if app.config.get("PLANT_HEADER"):

        @app.after_request
        def plant(response: flask.Response) -> flask.Response:
            response.headers["X-Planted"] = "flask-only"
            return response

    return app


def create_quart_app(settings: Mapping[str, Any] | None = None) -> quart.Quart:
    app = quart.Quart(__name__)
    app.config.update(settings or {})
    routes = quart.Blueprint("routes", __name__)

    @routes.get("/")
    async def index() -> str:
        return str(app.config.get("GREETING", "hello"))

    @routes.get("/items/<int:item_id>")
    async def item(item_id: int) -> dict[str, object]:
        return {"id": item_id, "name": f"item {item_id}", "tags": ["a", "b"]}

    @routes.get("/host")
    async def host() -> str:
        return quart.request.host

    @routes.get("/gone")
    async def gone() -> quart.typing.ResponseReturnValue:
        return quart.redirect("/items/1")

    @routes.get("/boom")
    async def boom() -> str:
        raise RuntimeError("planted failure in /boom")

    @routes.get("/cookies")
    async def cookies() -> quart.Response:
        response = quart.Response("two cookies")
        response.set_cookie("first", "1")
        response.set_cookie("second", "2")
        return response

    @routes.get("/ticks")
    async def ticks() -> quart.Response:
        async def endless() -> AsyncIterator[str]:
            for number in itertools.count():
                yield f"id: {number}\ndata: tick {number}\n\n"
                await asyncio.sleep(0.01)

        response = quart.Response(endless(), mimetype="text/event-stream")
        response.timeout = None  # Quart's RESPONSE_TIMEOUT would cut an endless stream
        return response

    @routes.get("/loop")
    async def loop() -> str:
        """Whether this request runs on the loop an async factory was awaited on."""
        built_on = app.config.get("BUILT_ON_LOOP")
        return "same loop" if built_on == id(asyncio.get_running_loop()) else f"other loop ({built_on})"

    app.register_blueprint(routes, url_prefix=app.config.get("PREFIX") or None)
    return app


async def create_quart_app_async(settings: Mapping[str, Any] | None = None) -> quart.Quart:
    """An async factory (one that would open a database pool first, say): it notes its loop."""
    app = create_quart_app(settings)
    app.config["BUILT_ON_LOOP"] = id(asyncio.get_running_loop())
    return app


async def async_factory_that_raises() -> quart.Quart:
    raise RuntimeError("the async pool is unreachable")


flask_app = create_flask_app()
quart_app = create_quart_app()
not_an_app = 42


def factory_that_raises(settings: Mapping[str, Any] | None = None) -> flask.Flask:
    raise RuntimeError("the database is unreachable")


def factory_that_builds_nothing() -> None:
    return None


# What a body where none is allowed looks like: each route sends one, with its length.
FORBIDDEN_BODY = b"a body HTTP does not allow here"
STATUS_OF = {"/no-content": 204, "/not-modified": 304, "/": 200}


def wsgi_with_forbidden_bodies(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    """A bare WSGI app that sends a body with every answer, HEAD, 204 and 304 included."""
    status = STATUS_OF.get(environ["PATH_INFO"], 404)
    start_response(
        f"{status} X",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(FORBIDDEN_BODY))), ("ETag", '"v1"')],
    )
    return [FORBIDDEN_BODY]


async def asgi_with_forbidden_bodies(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """The same as a bare ASGI app (no lifespan: it says so by raising, as many do)."""
    if scope["type"] != "http":
        raise RuntimeError("only http")
    status = STATUS_OF.get(scope["path"], 404)
    headers = [
        (b"content-type", b"text/plain"),
        (b"content-length", str(len(FORBIDDEN_BODY)).encode()),
        (b"etag", b'"v1"'),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": FORBIDDEN_BODY})


async def asgi_with_lifespan(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """A bare ASGI app that speaks the lifespan protocol: what its startup puts in the lifespan
    state (ASGI's ``state`` extension), each request answers."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            scope["state"]["opened"] = "at startup"
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = f"state: {scope['state'].get('opened')}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
