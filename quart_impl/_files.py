"""Serve a file of the data directory: open it safely, let ``shared`` decide the answer, stream it.

The twin of ``flask_impl/_files.py``: Quart opens, stats and reads in worker threads, in
``file_chunk_size`` pieces (Quart's own file body reads 8 KiB at a time, about 49x slower),
so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from quart import Response, current_app, request
from werkzeug.datastructures import Headers

from shared.edge.files import iter_body_async, open_data_file
from shared.protocol.representation import ResponsePlan
from shared.service import files

__all__ = ["accel_redirect", "send_data_file"]


async def send_data_file(
    name: str, presentation: files.Presentation, *, root: str | None = None
) -> Response | ResponsePlan:
    settings = current_app.config["TWINPORT"]
    opened = await asyncio.to_thread(open_data_file, root or settings.data_dir, name)
    if opened is None:
        return files.no_such_file()
    file, facts = opened
    plan = files.answer_file(
        facts,
        presentation,
        request.method,
        request.headers.items(),
        now=datetime.now(UTC),
        max_ranges=settings.max_ranges,
    )
    if not plan.body:
        await asyncio.to_thread(file.close)
        return plan
    return _stream(plan, iter_body_async(file, plan.body, settings.file_chunk_size))


async def accel_redirect(name: str) -> ResponsePlan:
    opened = await asyncio.to_thread(open_data_file, current_app.config["TWINPORT"].data_dir, name)
    if opened is None:
        return files.no_such_file()
    file, facts = opened
    await asyncio.to_thread(file.close)
    return files.plan_accel_redirect(facts)


def _stream(plan: ResponsePlan, body: AsyncIterator[bytes]) -> Response:
    response = Response(body, status=plan.status)
    response.headers = Headers(plan.headers)
    response.timeout = None  # a slow client on a large file must not be cut at RESPONSE_TIMEOUT
    return response
