"""Operations: the health check a load balancer or ``twinport serve``'s user polls."""

from __future__ import annotations

from flask import Blueprint, Response

from shared import responses

from .._respond import respond

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return respond(responses.healthz())
