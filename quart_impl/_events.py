"""The app's event hub and publish guard (one per app, so one per worker process), for the views
that need them."""

from __future__ import annotations

from typing import cast

from quart import Quart, current_app

from shared.compose import event_hub_for, publish_guard as publish_guard_for
from shared.service.events import EventBackend
from shared.service.guard import AsyncLimiter, BearerGuard
from shared.settings import Settings

from ._data import COUNTERS

__all__ = ["EXTENSION", "GUARD", "event_hub", "install", "publish_guard"]

EXTENSION = "twinport.events"
GUARD = "twinport.publish_guard"


def install(app: Quart, settings: Settings) -> None:
    """The hub (bounded as the settings say, streams capped per ``stream_cap``) and the guard of
    ``POST /events`` (``publish_tokens``, ``publish_rate``)."""
    hub = app.extensions[EXTENSION] = event_hub_for(settings)
    app.extensions[GUARD] = publish_guard_for(settings, app.extensions[COUNTERS].publish)
    # The backend's own work on the serving loop (Redis: its client and its one reader task).
    app.before_serving(hub.open_async)
    app.after_serving(hub.close_async)


def event_hub() -> EventBackend:
    return cast(EventBackend, current_app.extensions[EXTENSION])


def publish_guard() -> BearerGuard[AsyncLimiter]:
    return cast(BearerGuard[AsyncLimiter], current_app.extensions[GUARD])
