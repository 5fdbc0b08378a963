"""The Quart twin: ``create_app(settings)`` builds the ASGI app; hypercorn serves it.

Read it beside ``flask_impl/__init__.py``: the two differ only in framework names,
``async``/``await`` and the port's lessons, each commented. Where the frameworks answer alike the
views use their idioms (str, dict, tuples, ``jsonify``, ``render_template``, ``abort``); elsewhere
``shared`` decides, and a view returns its plan, which ``make_response`` writes exactly (streams go
through ``_respond.respond_stream``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart, Response, current_app
from quart.typing import ResponseReturnValue, ResponseTypes
from werkzeug.exceptions import HTTPException

from shared.compose import api_guard, async_counters, database_pool_size, prepare_state
from shared.config import settings_from
from shared.edge.access_log import install_service_log
from shared.edge.files import HandedFiles
from shared.edge.store import AsyncStore, StoreUnavailable, database_url_for
from shared.protocol.representation import ResponsePlan
from shared.service import errors
from shared.settings import Settings

from . import _data, _files, _gate
from ._events import install as install_events
from ._respond import respond
from .blueprints import api, assets, ops, resp, site

__all__ = ["create_app"]


class TwinportQuart(Quart):
    # Sends a whole file by path where the server reads files itself (``_files``).
    asgi_http_class = _files.FileSendingConnection

    async def make_response(self, result: ResponseReturnValue | HTTPException | ResponsePlan) -> ResponseTypes:
        # A view (or error handler) may return a decision of ``shared``: written exactly as planned.
        if isinstance(result, ResponsePlan):
            return respond(result)
        return await super().make_response(result)

    async def make_default_options_response(self, *args: Any) -> Response:
        # The framework knows the methods (its signature differs across releases: Quart 0.23
        # passes the context); shared decides the answer, Allow in a fixed order included: both
        # frameworks build it from a set, so parity cases options, options-healthz fail without it.
        default = await super().make_default_options_response(*args)
        return respond(errors.options(default.headers.get("Allow", "").split(", ")))


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Quart:
    """Settings from the argument, else from twinport.toml and TWINPORT_* (as ``serve`` sets)."""
    resolved = settings_from(settings)
    install_service_log()  # a Redis gone and back, on stderr with time and pid
    app = TwinportQuart(__name__, static_folder=None)
    app.config.from_mapping(
        TWINPORT=resolved,
        # The same limits in both runtimes (Quart's default is 16 MiB, Flask's none).
        MAX_CONTENT_LENGTH=resolved.publish_max_bytes,
    )
    # werkzeug would answer "//" in a path with its own 308 redirect page; a file name with an
    # empty segment is simply not found (shared.service.files.check_name), in both runtimes alike.
    app.url_map.merge_slashes = False
    # The guards' token buckets and the item count: in process, or shared through Redis by every
    # worker and host when redis_url is set (redis.asyncio: its client connects on first use, in
    # the serving loop, and is closed with serving, in close_store).
    app_counters = app.extensions[_data.COUNTERS] = async_counters(resolved)
    # One per worker process: the in-process hub (one worker), or Redis's stream read once per process.
    install_events(app, resolved)
    # The items store: its thread pool and connections live as long as serving does, so they are
    # opened and closed with it.
    database_url = database_url_for(resolved.database_url, resolved.state_dir)

    # Disk and database work, off the loop; until it has succeeded, tried again before each request.
    prepare = _once(lambda: asyncio.to_thread(prepare_state, resolved))

    @app.before_serving
    async def open_store() -> None:
        # Quart's lifespan says where serving starts (hypercorn's, ``quart run``'s), so the data
        # directory and the database are prepared here, not when the app is only loaded (``quart
        # routes``). Flask has no such hook and prepares before its first request. A database
        # that cannot answer yet does not stop serving (a worker that fails here would make
        # hypercorn's master exit 0): its requests are 503s until it answers, as in Flask.
        app.extensions[_data.EXTENSION] = AsyncStore(database_url, pool_size=database_pool_size(resolved))
        try:
            await prepare()
        except StoreUnavailable as error:
            app.logger.warning("database unavailable at start; answering 503 until it is back: %s", error)

    app.before_request(prepare)

    @app.after_serving
    async def close_store() -> None:
        await app.extensions.pop(_data.EXTENSION).close()
        await app_counters.close()

    if HandedFiles.available():
        app.extensions[_files.HANDED] = handed = HandedFiles()
        app.after_serving(functools.partial(_files.close_handed_files, handed))

    app.extensions[_data.GUARD] = api_guard(resolved, app_counters.api)
    if resolved.trusted_proxy_hops:
        # Honour X-Forwarded-For/-Proto/-Host from that many proxies, and only then.
        hops = resolved.trusted_proxy_hops
        app.asgi_app = ProxyFixMiddleware(app.asgi_app, mode="legacy", trusted_hops=hops)  # type: ignore[method-assign]
    # Outside ProxyFix, before any URL is built or route matched: Host (and a trusted
    # X-Forwarded-Host), the request-target, the body's framing and limit.
    app.asgi_app = _gate.RequestGate(app.asgi_app, app)  # type: ignore[method-assign, assignment]
    app.register_blueprint(resp.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(site.bp)
    app.register_blueprint(api.api)
    app.register_blueprint(api.api_v1)
    app.register_blueprint(api.api_v2)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(StoreUnavailable, database_unavailable)
    return app


def _once(step: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """``step`` as a ``before_request`` function that runs it to completion once: the first
    request runs it, requests arriving meanwhile wait for it, and a step that raised (that
    request's error) is tried again by the next request. The twin of Flask's, with a lock of
    the serving loop's instead of a thread lock."""
    lock: asyncio.Lock | None = None
    done = False

    async def before_request() -> None:
        nonlocal lock, done
        if done:
            return
        lock = lock or asyncio.Lock()
        async with lock:
            if not done:
                await step()
                done = True

    return before_request


async def http_error(error: HTTPException) -> ResponsePlan:
    # A problem document, not werkzeug's HTML page (README); a 405's Allow in a fixed order, as
    # OPTIONS. werkzeug keeps a description given to abort() on the instance, its default on the class.
    detail = vars(error).get("description")
    return errors.http_error(error.code or 500, getattr(error, "valid_methods", None), detail)


async def database_unavailable(error: StoreUnavailable) -> ResponsePlan:
    # A 503 for the client; the driver's reason for whoever reads the log.
    current_app.logger.warning("database unavailable: %s", error)
    return errors.database_unavailable()
