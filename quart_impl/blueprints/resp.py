"""The seed's ``resp`` blueprint: response patterns (§2.1), streams (§2.2), conditional JSON and
caching (§2.4), the cookie (§2.5.2), URL building (§2.6)."""

from __future__ import annotations

import time

from quart import Blueprint, Response, abort, current_app, jsonify, make_response, request, url_for
from quart.typing import ResponseReturnValue

from shared.protocol.representation import ResponsePlan
from shared.service import cookies, events, items, streams
from shared.service.events import EventsUnavailable, StreamsFull, event_stream_async
from shared.service.streams import export_csv_batches, stream_gen_steps

from .._data import answer, store
from .._events import event_hub, publish_guard
from .._respond import paced, respond_stream

bp = Blueprint("resp", __name__)


@bp.get("/basic-1")
async def basic_1() -> Response:
    # The seed's comment says text/plain; a bare str would be text/html. The one change to its answer.
    return Response("OK", mimetype="text/plain")


@bp.get("/basic-2")
async def basic_2() -> ResponseReturnValue:
    return {"ok": True, "version": 1}


@bp.get("/basic-3")
async def basic_3() -> ResponseReturnValue:
    # text/plain as /basic-1, where a bare str would be text/html.
    return "Accepted", 202, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/basic-4")
async def basic_4() -> ResponseReturnValue:
    headers = {"X-App": "my-service"}
    return {"ok": True}, 200, headers


@bp.get("/basic-5")
async def basic_5() -> Response:
    resp = Response(b"binary", status=200, mimetype="application/octet-stream")
    resp.headers["X-Trace-Id"] = "abc-123"
    return resp


@bp.get("/basic-6")
async def basic_6() -> ResponseReturnValue:
    resp = await make_response({"message": "created"}, 201)
    # A relative Location is fine (RFC 9110 §10.2.2); werkzeug stopped rewriting it in 2.1.
    resp.headers["Location"] = "/items/123"
    return resp


@bp.get("/as-json")
async def as_json() -> Response:
    return jsonify(ok=True, items=[1, 2, 3])


@bp.get("/cache-demo")
async def cache_demo() -> Response:
    resp = jsonify(ok=True)
    resp.headers["Cache-Control"] = "public, max-age=60"
    resp.headers["Vary"] = "Accept-Encoding"
    return resp


@bp.get("/stream/gen")
async def stream_gen() -> Response:
    return respond_stream(streams.stream_gen(), paced(stream_gen_steps(current_app.config["TWINPORT"].stream_delay)))


@bp.get("/export.csv")
async def export_csv() -> Response:
    return respond_stream(streams.export_csv(), export_csv_batches(current_app.config["TWINPORT"].export_rows))


@bp.get("/events")
async def sse() -> Response | ResponsePlan:
    if request.method == "HEAD":  # the head alone: no stream, so no place taken (and no 503)
        return respond_stream(events.sse(), iter(()))
    settings = current_app.config["TWINPORT"]
    stream = event_stream_async(event_hub(), request.headers.get("Last-Event-ID"), settings.sse_heartbeat)
    if isinstance(stream, StreamsFull):
        return events.streams_full(settings.sse_heartbeat)
    if isinstance(stream, EventsUnavailable):
        return events.events_unavailable(stream)
    return respond_stream(events.sse(), stream)


@bp.post("/events")
async def publish_event() -> ResponsePlan:
    # Token and rate first: a refused client's body is never parsed or published.
    refusal = await publish_guard().check_async(
        request.headers.get("Authorization"), request.remote_addr or "", time.monotonic()
    )
    if refusal is not None:
        return refusal
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    # The async publish: with Redis, the asyncio client's XADD, never a blocking call on the loop.
    return await events.publish_event_async(body, request.headers.get("Content-Type"), event_hub())


@bp.get("/set-cookie")
async def set_cookie() -> ResponsePlan:
    # Not resp.set_cookie(max_age=3600): both frameworks add an Expires from the clock (werkzeug's
    # dump_cookie), which changes every second: parity case set-cookie (and test_streaming's exact
    # cookie) fails without the core's cookie.
    return cookies.set_cookie()


@bp.get(f"/items/<int(max={items.MAX_ID}):item_id>")
async def item(item_id: int) -> ResponsePlan:
    row = await store().item(item_id)
    if row is None:
        abort(404, f"There is no item {item_id}.")
    return answer(items.item(row))


@bp.get(f"/docs/<int(max={items.MAX_ID}):doc_id>")
async def doc(doc_id: int) -> ResponsePlan:
    row = await store().doc(doc_id)
    if row is None:
        abort(404, f"There is no doc {doc_id}.")
    return answer(items.doc(row))


@bp.get("/build")
async def build() -> dict[str, str]:
    user_url = url_for("resp.user_detail", user_id=7)
    q_url = url_for("resp.search", q="flask", page=2)
    return {"user_url": user_url, "q_url": q_url}


@bp.get("/users/<int:user_id>")
async def user_detail(user_id: int) -> dict[str, object]:
    return {"id": user_id, "url": url_for("resp.user_detail", user_id=user_id)}


@bp.get("/search")
async def search() -> dict[str, str | None]:
    # The seed's search has no engine: the first q and page, echoed as given (strings).
    return {"q": request.args.get("q", ""), "page": request.args.get("page")}


@bp.get("/abs")
async def abs_url() -> dict[str, str]:
    return {
        "self": url_for("resp.abs_url", _external=True),
        "doc": url_for("resp.doc", doc_id=10, _external=True, _scheme="https"),
    }


@bp.get("/links")
async def links() -> dict[str, str]:
    return {
        "v1": url_for("api_v1.v1_item", id=1, _external=True),
        "v2": url_for("api_v2.v2_item", id=1, _external=True),
    }
