"""Serve a file of the data directory: open it safely, plan the answer in ``shared``, stream it.

The twin of ``flask_impl/_files.py``: Quart opens, stats and reads in worker threads, in
``file_chunk_size`` pieces (Quart's own file body reads 8 KiB at a time, about 49x slower),
so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import BinaryIO

from quart import Response, current_app, request
from werkzeug.datastructures import Headers

from shared.edge.files import BodyPart, body_steps, open_data_file, read
from shared.protocol.representation import Representation, ResponsePlan, plan_representation
from shared.service import files
from shared.service.files import FileFacts, plan_accel_redirect

from ._respond import respond

__all__ = ["accel_redirect", "send_data_file"]


async def send_data_file(
    name: str, describe: Callable[[FileFacts], Representation | None], *, root: str | None = None
) -> Response:
    settings = current_app.config["TWINPORT"]
    opened = await asyncio.to_thread(open_data_file, root or settings.data_dir, name)
    if opened is None:
        return respond(files.no_such_file())
    file, facts = opened
    representation = describe(facts)
    if representation is None:
        await asyncio.to_thread(file.close)
        return respond(files.no_such_file())
    plan = plan_representation(
        request.method,
        request.headers.items(),
        representation,
        now=datetime.now(UTC),
        max_ranges=settings.max_ranges,
    ).for_method(request.method)
    if not plan.body:
        await asyncio.to_thread(file.close)
        return respond(plan)
    return _stream(plan, _iter_body(file, plan.body, settings.file_chunk_size))


async def accel_redirect(name: str) -> Response:
    opened = await asyncio.to_thread(open_data_file, current_app.config["TWINPORT"].data_dir, name)
    if opened is None:
        return respond(files.no_such_file())
    file, facts = opened
    await asyncio.to_thread(file.close)
    return respond(plan_accel_redirect(facts))


async def _iter_body(file: BinaryIO, parts: tuple[BodyPart, ...], chunk_size: int) -> AsyncIterator[bytes]:
    """shared.edge.files.iter_body, with each read in a worker thread."""
    try:
        for step in body_steps(parts, chunk_size):
            chunk = step if isinstance(step, bytes) else await asyncio.to_thread(read, file, step)
            yield chunk
            if not isinstance(step, bytes) and len(chunk) < step.length:
                return
    finally:
        await asyncio.to_thread(file.close)


def _stream(plan: ResponsePlan, body: AsyncIterator[bytes]) -> Response:
    response = Response(body, status=plan.status)
    response.headers = Headers(plan.headers)
    response.timeout = None  # a slow client on a large file must not be cut at RESPONSE_TIMEOUT
    return response
