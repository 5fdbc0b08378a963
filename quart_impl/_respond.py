"""Write a ``shared`` plan as a Quart response, exactly as planned."""

from __future__ import annotations

from quart import Response, request
from werkzeug.datastructures import Headers

from shared import ResponsePlan

__all__ = ["respond"]


def respond(plan: ResponsePlan) -> Response:
    """Status and every header as ``shared`` decided (the framework adds none), no body on HEAD."""
    plan = plan.for_method(request.method)
    response = Response(plan.in_memory_body(), status=plan.status)
    response.headers = Headers(plan.headers)
    return response
