"""Operations: the health check a load balancer or ``twinport serve``'s user polls, and live counters."""

from __future__ import annotations

from flask import Blueprint, Response

from shared import responses

from .._events import event_hub
from .._respond import respond

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return respond(responses.healthz())


@bp.get("/ops/stats")
def stats() -> Response:
    return respond(responses.stats(event_hub()))
