"""The seed's versioned API (§2.6.3, §2.7.3, §2.8): ``api`` at /api, ``api_v1`` at /api/v1 and
``api_v2`` at /api/v2. v1 is guarded (bearer token when configured, per-client rate limit)."""

from __future__ import annotations

import time

from quart import Blueprint, Response, abort, request, url_for

from shared.protocol.representation import ResponsePlan
from shared.service import items
from shared.service.paging import BadParameter, KeysetQuery, parse_page_query

from .._data import answer, api_guard, count_items, store

api = Blueprint("api", __name__, url_prefix="/api")
api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")
api_v2 = Blueprint("api_v2", __name__, url_prefix="/api/v2")
ITEM = f"/items/<int(max={items.MAX_ID}):id>"


@api.get("")
async def index() -> dict[str, object]:
    return {
        "versions": {
            "v1": url_for("api_v1.list_items", _external=True),
            "v2": url_for("api_v2.v2_item", id=1, _external=True),
        }
    }


@api_v1.before_request
async def guard() -> ResponsePlan | None:
    refusal = await api_guard().check_async(
        request.headers.get("Authorization"), request.remote_addr or "", time.monotonic()
    )
    return refusal


@api_v1.after_request
async def v1_version(response: Response) -> Response:
    response.headers.set(*items.V1_HEADER)
    return response


@api_v1.get("/items")
async def list_items() -> ResponsePlan:
    query = parse_page_query(request.args.items(multi=True))
    if isinstance(query, BadParameter):
        return items.bad_parameter(query)
    policy = api_guard().policy
    if isinstance(query, KeysetQuery):
        rows = await store().items_after(query.after, query.size)
        after_url = lambda after: url_for("api_v1.list_items", after=after, size=query.size, _external=True)  # noqa: E731
        return answer(items.items_keyset(rows, query, after_url, policy))
    total, rows = await count_items(), await store().items_page(query.offset, query.size)
    page_url = lambda page: url_for("api_v1.list_items", page=page, size=query.size, _external=True)  # noqa: E731
    return answer(items.items_page(rows, query, total, page_url, policy))


@api_v1.get(ITEM)
async def v1_item(id: int) -> ResponsePlan:
    row = await store().item(id)
    if row is None:
        abort(404, f"There is no item {id}.")
    return answer(items.v1_item(row, api_guard().policy))


@api_v2.after_request
async def v2_version(response: Response) -> Response:
    response.headers.set(*items.V2_HEADER)
    return response


@api_v2.get(ITEM)
async def v2_item(id: int) -> ResponsePlan:
    row = await store().item(id)
    if row is None:
        abort(404, f"There is no item {id}.")
    return answer(items.v2_item(row, url_for("api_v2.v2_item", id=id, _external=True)))
