"""The app's event hub (one per app, so one per worker process), for the views that need it."""

from __future__ import annotations

from typing import cast

from quart import current_app

from shared import EventBackend

__all__ = ["EXTENSION", "event_hub"]

EXTENSION = "twinport.events"


def event_hub() -> EventBackend:
    return cast(EventBackend, current_app.extensions[EXTENSION])
