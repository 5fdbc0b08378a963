"""The items store and JSON representations: fetch rows, let ``shared`` decide the answer.

The twin of flask_impl/_data.py: Flask queries on its request thread (``SyncStore``), Quart
awaits the same statements run on the store's own bounded thread pool (``AsyncStore``), so Quart
never blocks its event loop on the database. The queries are the same (``shared.edge.schema``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from quart import current_app, request

from shared.compose import AsyncCounters
from shared.edge.store import AsyncStore
from shared.protocol.representation import ResponsePlan
from shared.service.guard import AsyncLimiter
from shared.service.items import ApiGuard, JsonResource, answer_resource

__all__ = ["COUNTERS", "EXTENSION", "GUARD", "answer", "api_guard", "count_items", "counters", "store"]

EXTENSION = "twinport.store"
GUARD = "twinport.api_guard"
COUNTERS = "twinport.counters"


def store() -> AsyncStore:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def api_guard() -> ApiGuard[AsyncLimiter]:
    return current_app.extensions[GUARD]  # type: ignore[no-any-return]


async def count_items() -> int:
    """The item count, reused for total_count_ttl seconds (one COUNT per period, not per page;
    with redis_url, one for every worker and host)."""
    cache = counters().total
    now = time.monotonic()
    cached = await cache.get_async(now)
    if cached is not None:
        return cached
    return await cache.put_async(await store().count_items(), now)


def counters() -> AsyncCounters:
    return current_app.extensions[COUNTERS]  # type: ignore[no-any-return]


def answer(resource: JsonResource) -> ResponsePlan:
    """Content coding, preconditions and Range for this request: one decision of ``shared``."""
    return answer_resource(
        resource,
        request.method,
        request.headers.items(),
        request.headers.get("Accept-Encoding"),
        now=datetime.now(UTC),
        min_size=current_app.config["TWINPORT"].compress_min_bytes,
    )
