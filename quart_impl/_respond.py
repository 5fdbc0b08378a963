"""Write a ``shared`` plan as a Quart response, exactly as planned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from quart import Response, request
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


def respond_stream(head: StreamHead, chunks: AsyncIterator[bytes] | Iterable[bytes]) -> Response:
    """Stream ``chunks`` (an async generator, or a sync one Quart runs in a worker thread), each
    sent as it comes. HEAD gets the same head and never starts ``chunks``: Quart would otherwise run
    the body to its end and hypercorn throw it away, which for an event stream is forever."""
    response = Response(b"" if request.method == "HEAD" else chunks, status=head.status)
    response.headers = Headers(head.headers)
    # A stream lives as long as its client; RESPONSE_TIMEOUT (60 s) would cut it mid-body.
    response.timeout = None
    return response


async def paced(steps: Iterable[tuple[float, bytes]]) -> AsyncIterator[bytes]:
    """Yield each chunk after its pause, without holding up the event loop."""
    for pause, chunk in steps:
        if pause:
            await asyncio.sleep(pause)
        yield chunk
