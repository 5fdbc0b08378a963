"""The seed's ``resp`` blueprint: response patterns (§2.1), streams (§2.2), caching (§2.4.4), the cookie (§2.5.2)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, request

from shared import event_stream_async, export_csv_batches, responses, stream_gen_steps

from .._events import event_hub
from .._respond import paced, respond, respond_stream

bp = Blueprint("resp", __name__)


@bp.get("/basic-1")
async def basic_1() -> Response:
    return respond(responses.basic_1())


@bp.get("/basic-2")
async def basic_2() -> Response:
    return respond(responses.basic_2())


@bp.get("/basic-3")
async def basic_3() -> Response:
    return respond(responses.basic_3())


@bp.get("/basic-4")
async def basic_4() -> Response:
    return respond(responses.basic_4())


@bp.get("/basic-5")
async def basic_5() -> Response:
    return respond(responses.basic_5())


@bp.get("/basic-6")
async def basic_6() -> Response:
    return respond(responses.basic_6())


@bp.get("/as-json")
async def as_json() -> Response:
    return respond(responses.as_json())


@bp.get("/cache-demo")
async def cache_demo() -> Response:
    return respond(responses.cache_demo())


@bp.get("/stream/gen")
async def stream_gen() -> Response:
    return respond_stream(responses.stream_gen(), paced(stream_gen_steps(current_app.config["TWINPORT"].stream_delay)))


@bp.get("/export.csv")
async def export_csv() -> Response:
    return respond_stream(responses.export_csv(), export_csv_batches(current_app.config["TWINPORT"].export_rows))


@bp.get("/events")
async def sse() -> Response:
    settings = current_app.config["TWINPORT"]
    stream = event_stream_async(event_hub(), request.headers.get("Last-Event-ID"), settings.sse_heartbeat)
    return respond_stream(responses.sse(), stream)


@bp.post("/events")
async def publish_event() -> Response:
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    return respond(responses.publish_event(body, request.headers.get("Content-Type"), event_hub()))


@bp.get("/set-cookie")
async def set_cookie() -> Response:
    return respond(responses.set_cookie())
