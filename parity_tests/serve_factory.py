"""What gunicorn and hypercorn load to serve a user's app for a parity run over the wire.

    TWINPORT_PARITY_FACTORY=myapp:create_app TWINPORT_PARITY_SETTINGS='{"DEBUG": false}' \
        gunicorn -k gthread 'parity_tests.serve_factory:wsgi()'
    TWINPORT_PARITY_FACTORY=myapp_quart:create_app hypercorn 'parity_tests.serve_factory:asgi()'

Each function builds the target the environment names (``targets.FACTORY_ENV``, its settings as
JSON in ``targets.SETTINGS_ENV``) exactly as the in-process drivers do (``targets.build_app``),
and writes which framework it built to ``targets.BUILT_ENV``'s path, so a side is named alike in
both modes. An async factory is awaited on the server's own event loop, during the lifespan
startup that hypercorn runs before it serves; if it fails, startup fails and the server exits.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .targets import BUILT_ENV, FACTORY_ENV, SETTINGS_ENV, AppTarget, Interface, build_app, framework_of

__all__ = ["asgi", "wsgi"]

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def wsgi() -> object:
    """The WSGI app for gunicorn: ``gunicorn 'parity_tests.serve_factory:wsgi()'``."""
    app = build_app(target_from_environment("wsgi"))
    _record_built(app)
    return app


def asgi() -> object:
    """The ASGI app for hypercorn: ``hypercorn 'parity_tests.serve_factory:asgi()'``."""
    built = build_app(target_from_environment("asgi"))
    if inspect.isawaitable(built):
        return BuiltAtStartup(built)
    _record_built(built)
    return built


def target_from_environment(interface: Interface) -> AppTarget:
    factory = os.environ.get(FACTORY_ENV)
    if not factory:
        raise SystemExit(f"serve_factory: set {FACTORY_ENV} to pkg.module:create_app (or pkg.module:app)")
    try:
        settings = json.loads(os.environ.get(SETTINGS_ENV) or "null")
    except ValueError as error:
        raise SystemExit(f"serve_factory: {SETTINGS_ENV} is not JSON: {error}") from None
    if settings is not None and not isinstance(settings, dict):
        raise SystemExit(f"serve_factory: {SETTINGS_ENV} must be a JSON object, not {type(settings).__name__}")
    return AppTarget(factory, interface, settings)


class BuiltAtStartup:
    """An ASGI app whose async factory is awaited on the server's loop at lifespan startup (or
    at the first request, for a server that runs no lifespan), then called for every scope."""

    def __init__(self, built: Awaitable[object]) -> None:
        self._built = built
        self._app: Any = None

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if self._app is None:
            try:
                self._app = await self._built
            except Exception as error:
                if scope["type"] != "lifespan":
                    raise
                # Startup failed: said so on the lifespan protocol, the server stops.
                traceback.print_exc(file=sys.stderr)
                await receive()
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            _record_built(self._app)
        await self._app(scope, receive, send)


def _record_built(app: object) -> None:
    if path := os.environ.get(BUILT_ENV):
        Path(path).write_text(json.dumps({"framework": framework_of(app)}))
