"""Serve a file of the data directory: open it safely, let ``shared`` decide the answer, stream it.

The twin of ``flask_impl/_files.py``: Quart opens, stats and reads in worker threads, in
``file_chunk_size`` pieces (Quart's own file body reads 8 KiB at a time, about 49x slower),
so the event loop never waits on the disk. A whole file goes to a server that offers the ASGI
``http.response.pathsend`` extension (granian; hypercorn and uvicorn do not) by path, as Flask's
goes to gunicorn's ``wsgi.file_wrapper``: the server reads and sends it, no chunk through Python.
Quart has no pathsend of its own, so ``FileSendingConnection`` (the app's ``asgi_http_class``,
Quart's extension point for how a response is sent) sends it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import BinaryIO

from hypercorn.typing import ASGISendCallable
from quart import Response, current_app, request
from quart.asgi import ASGIHTTPConnection
from quart.typing import ResponseTypes
from quart.utils import encode_headers
from quart.wrappers.response import IterableBody
from werkzeug.datastructures import Headers

from shared.edge.files import HandedFiles, iter_body_async, open_data_file
from shared.protocol.ranges import ByteSpan
from shared.protocol.representation import ResponsePlan
from shared.service import files

__all__ = ["HANDED", "PATHSEND", "FileSendingConnection", "accel_redirect", "close_handed_files", "send_data_file"]

PATHSEND = "http.response.pathsend"
HANDED = "twinport.handed_files"


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
    body = iter_body_async(file, plan.body, settings.file_chunk_size)
    if plan.body == (ByteSpan(0, facts.size - 1),) and PATHSEND in (request.scope.get("extensions") or {}):
        # The whole file, to a server that reads files itself (FileSendingConnection).
        return _stream(plan, WholeFileBody(file, body))
    return _stream(plan, body)


async def accel_redirect(name: str) -> ResponsePlan:
    opened = await asyncio.to_thread(open_data_file, current_app.config["TWINPORT"].data_dir, name)
    if opened is None:
        return files.no_such_file()
    file, facts = opened
    await asyncio.to_thread(file.close)
    return files.plan_accel_redirect(facts)


class WholeFileBody(IterableBody):
    """A whole file's body: ``file``, for a server that takes it by path, else streamed as any other."""

    def __init__(self, file: BinaryIO, chunks: AsyncIterator[bytes]) -> None:
        super().__init__(chunks)
        self.file = file


class FileSendingConnection(ASGIHTTPConnection):
    """Quart's HTTP connection, sending a ``WholeFileBody`` as ``http.response.pathsend`` where the
    server offers it. The path is the open descriptor's (``shared.edge.files.HandedFiles`` says
    why, and keeps it open until the server has opened it). Test: tests/test_files.py, the whole
    file by pathsend on granian (and its bytes in the access log)."""

    async def _send_response(self, send: ASGISendCallable, response: ResponseTypes) -> None:
        body = response.response
        handed: HandedFiles | None = self.app.extensions.get(HANDED)
        if (
            not isinstance(body, WholeFileBody)
            or handed is None
            or PATHSEND not in (self.scope.get("extensions") or {})
        ):
            await super()._send_response(send, response)
            return
        path, done = handed.hand(body.file, time.monotonic())
        if done:
            await asyncio.to_thread(_close_all, done)
        if path is None:  # too many files held: stream this one
            await super()._send_response(send, response)
            return
        headers = encode_headers(response.headers)
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": PATHSEND, "path": path})


async def close_handed_files(handed: HandedFiles) -> None:
    """When serving ends: the files still held for the server."""
    await asyncio.to_thread(_close_all, handed.close())


def _close_all(opened: Iterable[BinaryIO]) -> None:
    for file in opened:
        file.close()


def _stream(plan: ResponsePlan, body: AsyncIterator[bytes] | IterableBody) -> Response:
    response = Response(body, status=plan.status)
    response.headers = Headers(plan.headers)
    response.timeout = None  # a slow client on a large file must not be cut at RESPONSE_TIMEOUT
    return response
