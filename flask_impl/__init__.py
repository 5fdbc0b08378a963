"""The Flask twin: ``create_app(settings)`` builds the WSGI app; gunicorn serves it.

Read it beside ``quart_impl/__init__.py``: the two differ only in framework names,
``async``/``await`` and the port's lessons, each commented. Where the frameworks answer alike the
views use their idioms (str, dict, tuples, ``jsonify``, ``render_template``, ``abort``); elsewhere
``shared`` decides, and a view returns its plan, which ``make_response`` writes exactly (streams go
through ``_respond.respond_stream``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, current_app
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.compose import api_guard, counters, database_pool_size, prepare_state
from shared.config import settings_from
from shared.edge.access_log import install_service_log
from shared.edge.store import StoreUnavailable, SyncStore, database_url_for
from shared.protocol.representation import ResponsePlan
from shared.service import errors
from shared.settings import Settings

from . import _data, _gate
from ._events import install as install_events
from ._respond import respond
from .blueprints import api, assets, ops, resp, site

__all__ = ["create_app"]


class TwinportFlask(Flask):
    def make_response(self, rv: ResponseReturnValue | ResponsePlan) -> Response:
        # A view (or error handler) may return a decision of ``shared``: written exactly as planned.
        if isinstance(rv, ResponsePlan):
            return respond(rv)
        return super().make_response(rv)

    def make_default_options_response(self, *args: Any) -> Response:
        # The framework knows the methods (its signature differs across releases: Quart 0.23
        # passes the context); shared decides the answer, Allow in a fixed order included: both
        # frameworks build it from a set, so parity cases options, options-healthz fail without it.
        default = super().make_default_options_response(*args)
        return respond(errors.options(default.headers.get("Allow", "").split(", ")))


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Settings from the argument, else from twinport.toml and TWINPORT_* (as ``serve`` sets)."""
    resolved = settings_from(settings)
    install_service_log()  # a Redis gone and back, on stderr with time and pid
    app = TwinportFlask(__name__, static_folder=None)
    app.config.from_mapping(
        TWINPORT=resolved,
        # The same limits in both runtimes (Quart's default is 16 MiB, Flask's none).
        MAX_CONTENT_LENGTH=resolved.publish_max_bytes,
    )
    # werkzeug would answer "//" in a path with its own 308 redirect page; a file name with an
    # empty segment is simply not found (shared.service.files.check_name), in both runtimes alike.
    app.url_map.merge_slashes = False
    # The guards' token buckets and the item count: in process, or shared through Redis by every
    # worker and host when redis_url is set (its client connects on first use; its connections
    # are let go with the app, or at the worker's exit).
    app_counters = app.extensions[_data.COUNTERS] = counters(resolved)
    weakref.finalize(app, app_counters.close)
    # One per worker process: the in-process hub (one worker), or Redis's stream read once per process.
    install_events(app, resolved)
    # The items store: one engine per process (it connects on first use).
    database_url = database_url_for(resolved.database_url, resolved.state_dir)
    # Flask has no lifespan hook (one of the lessons of the port): neither WSGI nor ``flask run``
    # tells an app that serving starts, and the factory also runs for introspection (``flask
    # routes``), which must not create the data directory or the database. So they are prepared
    # before the first request, once per process (``twinport serve`` has already prepared both
    # before its exec: then this only finds them ready). Quart does it in ``before_serving``.
    app.before_request(_once(lambda: prepare_state(resolved)))
    app.extensions[_data.EXTENSION] = SyncStore(database_url, pool_size=database_pool_size(resolved))
    app.extensions[_data.GUARD] = api_guard(resolved, app_counters.api)
    if resolved.trusted_proxy_hops:
        # Honour X-Forwarded-For/-Proto/-Host from that many proxies, and only then.
        hops = resolved.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    # Outside ProxyFix, before any URL is built or route matched: Host (and a trusted
    # X-Forwarded-Host), the request-target, the body's framing and limit.
    app.wsgi_app = _gate.RequestGate(app.wsgi_app, app)  # type: ignore[method-assign]
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


def _once(step: Callable[[], None]) -> Callable[[], None]:
    """``step`` as a ``before_request`` function that runs it to completion once: the first
    request runs it, requests arriving meanwhile on other threads wait for it, and a step that
    raised (that request is a 500) is tried again by the next request."""
    lock = threading.Lock()
    done = threading.Event()

    def before_request() -> None:
        if done.is_set():
            return
        with lock:
            if not done.is_set():
                step()
                done.set()

    return before_request


def http_error(error: HTTPException) -> ResponsePlan:
    # A problem document, not werkzeug's HTML page (README); a 405's Allow in a fixed order, as
    # OPTIONS. werkzeug keeps a description given to abort() on the instance, its default on the class.
    detail = vars(error).get("description")
    return errors.http_error(error.code or 500, getattr(error, "valid_methods", None), detail)


def database_unavailable(error: StoreUnavailable) -> ResponsePlan:
    # A 503 for the client; the driver's reason for whoever reads the log.
    current_app.logger.warning("database unavailable: %s", error)
    return errors.database_unavailable()
