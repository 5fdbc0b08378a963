"""The seed's ``resp`` blueprint: response patterns (§2.1), streams (§2.2), conditional JSON and
caching (§2.4), the cookie (§2.5.2), URL building (§2.6)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, request, url_for

from shared import api, event_stream, export_csv_batches, responses, stream_gen_steps
from shared._events import StreamsFull

from .._data import respond_resource, store
from .._events import client_gone_check, event_hub, publish_guard
from .._respond import paced, respond, respond_stream

bp = Blueprint("resp", __name__)


@bp.get("/basic-1")
def basic_1() -> Response:
    return respond(responses.basic_1())


@bp.get("/basic-2")
def basic_2() -> Response:
    return respond(responses.basic_2())


@bp.get("/basic-3")
def basic_3() -> Response:
    return respond(responses.basic_3())


@bp.get("/basic-4")
def basic_4() -> Response:
    return respond(responses.basic_4())


@bp.get("/basic-5")
def basic_5() -> Response:
    return respond(responses.basic_5())


@bp.get("/basic-6")
def basic_6() -> Response:
    return respond(responses.basic_6())


@bp.get("/as-json")
def as_json() -> Response:
    return respond(responses.as_json())


@bp.get("/cache-demo")
def cache_demo() -> Response:
    return respond(responses.cache_demo())


@bp.get("/stream/gen")
def stream_gen() -> Response:
    return respond_stream(responses.stream_gen(), paced(stream_gen_steps(current_app.config["TWINPORT"].stream_delay)))


@bp.get("/export.csv")
def export_csv() -> Response:
    return respond_stream(responses.export_csv(), export_csv_batches(current_app.config["TWINPORT"].export_rows))


@bp.get("/events")
def sse() -> Response:
    if request.method == "HEAD":  # the head alone: no stream, so no place taken (and no 503)
        return respond_stream(responses.sse(), iter(()))
    settings = current_app.config["TWINPORT"]
    stream = event_stream(event_hub(), request.headers.get("Last-Event-ID"), settings.sse_heartbeat, client_gone=client_gone_check())
    if isinstance(stream, StreamsFull):
        return respond(responses.streams_full(settings.sse_heartbeat))
    return respond_stream(responses.sse(), stream)


@bp.post("/events")
def publish_event() -> Response:
    # Token and rate first: a refused client's body is never parsed or published.
    refusal = publish_guard().check(request.headers.get("Authorization"), request.remote_addr or "", time.monotonic())
    if refusal is not None:
        return respond(refusal)
    body = request.get_data(cache=False)
    return respond(responses.publish_event(body, request.headers.get("Content-Type"), event_hub()))


@bp.get("/set-cookie")
def set_cookie() -> Response:
    return respond(responses.set_cookie())


@bp.get(f"/items/<int(max={api.MAX_ID}):item_id>")
def item(item_id: int) -> Response:
    row = store().item(item_id)
    return respond(api.no_such_item(item_id)) if row is None else respond_resource(api.item(row))


@bp.get(f"/docs/<int(max={api.MAX_ID}):doc_id>")
def doc(doc_id: int) -> Response:
    row = store().doc(doc_id)
    return respond(api.no_such_doc(doc_id)) if row is None else respond_resource(api.doc(row))


@bp.get("/build")
def build() -> Response:
    return respond(api.build_urls(url_for("resp.user_detail", user_id=7), url_for("resp.search", q="flask", page=2)))


@bp.get("/users/<int:user_id>")
def user_detail(user_id: int) -> Response:
    return respond(api.user_detail(user_id, url_for("resp.user_detail", user_id=user_id)))


@bp.get("/search")
def search() -> Response:
    return respond(api.search(list(request.args.items(multi=True))))


@bp.get("/abs")
def abs_url() -> Response:
    return respond(api.abs_urls(url_for("resp.abs_url", _external=True), url_for("resp.doc", doc_id=10, _external=True, _scheme="https")))


@bp.get("/links")
def links() -> Response:
    return respond(api.links(url_for("api_v1.v1_item", id=1, _external=True), url_for("api_v2.v2_item", id=1, _external=True)))
