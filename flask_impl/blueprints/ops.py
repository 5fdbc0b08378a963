"""Operations: the health check a load balancer or ``twinport serve``'s user polls, and live counters."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from shared.protocol.representation import ResponsePlan
from shared.service import events

from .._data import store
from .._events import event_hub

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    # Healthy means able to answer: the database too (a StoreUnavailable is the app's 503).
    store().ping()
    return {"status": "ok"}, {"Cache-Control": "no-store"}


@bp.get("/ops/stats")
def stats() -> ResponsePlan:
    return events.stats(event_hub())
