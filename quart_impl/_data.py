"""The items store and JSON representations: fetch rows, let ``shared`` decide the answer.

The twin of flask_impl/_data.py: Flask uses the sync engine, Quart the async one
(aiosqlite), so Quart never blocks its event loop on the database. The queries are the same
(``shared.edge.schema``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from quart import Response, current_app, request

from shared.edge.counters import TotalCache
from shared.edge.store import AsyncStore
from shared.protocol.encoding import plan_encoded
from shared.protocol.representation import plan_representation
from shared.service.items import ApiGuard, JsonResource

from ._respond import respond

__all__ = ["EXTENSION", "api_guard", "count_items", "respond_resource", "store"]

EXTENSION = "twinport.store"
GUARD = "twinport.api_guard"
TOTAL = "twinport.total_count"


def store() -> AsyncStore:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def api_guard() -> ApiGuard:
    return current_app.extensions[GUARD]  # type: ignore[no-any-return]


async def count_items() -> int:
    """The item count, reused for total_count_ttl seconds (one COUNT per period, not per page)."""
    cache: TotalCache = current_app.extensions[TOTAL]
    now = time.monotonic()
    cached = cache.get(now)
    if cached is not None:
        return cached
    return cache.put(await store().count_items(), now)


def respond_resource(resource: JsonResource) -> Response:
    """Negotiate the content coding, evaluate the preconditions, write the answer."""
    settings = current_app.config["TWINPORT"]
    encoded = plan_encoded(
        resource.body,
        resource.representation(),
        request.headers.get("Accept-Encoding"),
        min_size=settings.compress_min_bytes,
    )
    plan = plan_representation(request.method, request.headers.items(), encoded.representation, now=datetime.now(UTC))
    return respond(plan.with_source(encoded.body))
