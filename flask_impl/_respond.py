"""Write a ``shared`` plan as a Flask response, exactly as planned."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from flask import Response, request, stream_with_context
from werkzeug.datastructures import Headers

from shared.protocol.representation import ResponsePlan
from shared.service.streams import StreamHead

__all__ = ["paced", "respond", "respond_stream"]


def respond(plan: ResponsePlan) -> Response:
    """Status and every header as ``shared`` decided (the framework adds none), no body on HEAD."""
    plan = plan.for_method(request.method)
    response = Response(plan.in_memory_body(), status=plan.status)
    response.headers = Headers(plan.headers)
    return response


def respond_stream(head: StreamHead, chunks: Iterator[bytes]) -> Response:
    """Stream ``chunks`` under the request context, each written as it comes (gunicorn sends
    every item the app yields). HEAD gets the same head and never starts ``chunks``: a generator
    runs nothing, subscribes to nothing, until first iterated."""
    # An iterator, not b"": werkzeug would add Content-Length: 0 to a HEAD with a sequence body.
    body = iter(()) if request.method == "HEAD" else stream_with_context(chunks)
    response = Response(body, status=head.status)
    response.headers = Headers(head.headers)
    return response


def paced(steps: Iterable[tuple[float, bytes]]) -> Iterator[bytes]:
    """Yield each chunk after its pause, on this request's thread."""
    for pause, chunk in steps:
        if pause:
            time.sleep(pause)
        yield chunk
