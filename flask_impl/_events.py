"""The app's event hub and publish guard (one per app, so one per worker process), for the views
that need them."""

from __future__ import annotations

import _socket
import os
import socket
from collections.abc import Callable
from typing import cast

from flask import Flask, current_app, request

from shared.compose import event_hub_for, publish_guard as publish_guard_for
from shared.service.events import EventBackend
from shared.service.guard import BearerGuard, Limiter
from shared.settings import Settings

from ._data import COUNTERS

__all__ = ["EXTENSION", "GUARD", "client_gone_check", "event_hub", "install", "publish_guard"]

EXTENSION = "twinport.events"
GUARD = "twinport.publish_guard"


def install(app: Flask, settings: Settings) -> None:
    """The hub (bounded as the settings say, streams capped per ``stream_cap``) and the guard of
    ``POST /events`` (``publish_tokens``, ``publish_rate``)."""
    app.extensions[EXTENSION] = event_hub_for(settings)
    app.extensions[GUARD] = publish_guard_for(settings, app.extensions[COUNTERS].publish)


def event_hub() -> EventBackend:
    return cast(EventBackend, current_app.extensions[EXTENSION])


def publish_guard() -> BearerGuard[Limiter]:
    return cast(BearerGuard[Limiter], current_app.extensions[GUARD])


def client_gone_check() -> Callable[[], bool]:
    """Whether this request's client has closed its connection, for a stream to ask when quiet.

    gunicorn puts the connection in the environ (``gunicorn.socket``); without it (another WSGI
    server, a test runner) the stream learns only from a failed write. Only Flask needs this:
    hypercorn reads the connection all along and Quart cancels the request when it closes.
    """
    connection = request.environ.get("gunicorn.socket")
    if not isinstance(connection, socket.socket):
        return lambda: False
    return lambda: _peer_closed(connection)


def _peer_closed(connection: socket.socket) -> bool:
    # Peek one byte without waiting: b"" is the client's FIN, a reset is gone too, no data yet (or
    # a pipelined request) is a live client. On a duplicate of the descriptor, because a TLS
    # socket refuses recv flags and must not have its records read here. The duplicate is
    # ``_socket.socket``, the C socket, which gevent's monkey-patching leaves alone: gevent's
    # ``socket.recv`` treats the EAGAIN of ``MSG_DONTWAIT`` as "wait until readable"
    # (gevent/_socketcommon.py, ``recv``), so on gunicorn's gevent worker the stream would sleep
    # there until the client sent something, and never write its next heartbeat or event.
    try:
        raw = _socket.socket(fileno=os.dup(connection.fileno()))
    except OSError:
        return True
    try:
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        raw.close()
