"""Serve a file of the data directory: open it safely, let ``shared`` decide the answer, stream it.

The twin of ``quart_impl/_files.py``: Flask opens and reads synchronously and hands a whole file to
the server's ``wsgi.file_wrapper`` (gunicorn then uses sendfile).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from flask import Response, current_app, request
from werkzeug.datastructures import Headers
from werkzeug.wsgi import FileWrapper

from shared.edge.files import iter_body, open_data_file
from shared.protocol.ranges import ByteSpan
from shared.protocol.representation import ResponsePlan
from shared.service import files

__all__ = ["accel_redirect", "send_data_file"]


def send_data_file(name: str, presentation: files.Presentation, *, root: str | None = None) -> Response | ResponsePlan:
    settings = current_app.config["TWINPORT"]
    opened = open_data_file(root or settings.data_dir, name)
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
        file.close()
        return plan
    if plan.body == (ByteSpan(0, facts.size - 1),):
        # The whole file: the server's file wrapper (gunicorn: sendfile, no copy through Python).
        wrapper = request.environ.get("wsgi.file_wrapper", FileWrapper)
        return _stream(plan, wrapper(file, settings.file_chunk_size))
    return _stream(plan, iter_body(file, plan.body, settings.file_chunk_size))


def accel_redirect(name: str) -> ResponsePlan:
    opened = open_data_file(current_app.config["TWINPORT"].data_dir, name)
    if opened is None:
        return files.no_such_file()
    file, facts = opened
    file.close()
    return files.plan_accel_redirect(facts)


def _stream(plan: ResponsePlan, body: Iterable[bytes]) -> Response:
    response = Response(body, status=plan.status, direct_passthrough=True)
    response.headers = Headers(plan.headers)
    return response
