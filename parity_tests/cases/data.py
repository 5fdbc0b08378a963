"""Cases for the data endpoints (seed §2.4, §2.6 to §2.8): conditional JSON, content coding,
URL building, blueprints and hooks, the paging API, and its 304/400/401/404/429 answers."""

from __future__ import annotations

from shared.edge.schema import SEED_EPOCH
from shared.protocol.dates import format_http_date

from ..case import Case, get_and_head

__all__ = ["DATA_CASES"]

_ITEM_42 = '"item-42-v3"'  # identity and version: tests/test_data_api.py checks it
_DOC_1_MODIFIED = format_http_date(SEED_EPOCH)
_GZIP, _BR = (("Accept-Encoding", "gzip"),), (("Accept-Encoding", "br, gzip;q=0.5"),)
_OK, _LIST, _LIMITED = ((("Authorization", f"Bearer {token}"),) for token in ("t-ok", "t-list", "t-limited"))

DATA_CASES: tuple[Case, ...] = (
    # /items/<id>: ETag from identity and version; If-None-Match per RFC 9110.
    *get_and_head("item", "/items/42"),
    Case("item-not-modified", "/items/42", headers=(("If-None-Match", _ITEM_42),)),
    Case("item-not-modified-weak", "/items/42", headers=(("If-None-Match", f"W/{_ITEM_42}"),)),
    Case("item-not-modified-star", "/items/42", headers=(("If-None-Match", "*"),)),
    Case("item-not-modified-list", "/items/42", headers=(("If-None-Match", f'"x", {_ITEM_42}'),)),
    Case("item-substring-is-not-a-match", "/items/42", headers=(("If-None-Match", '"item-42-v3x"'),)),
    Case("item-seed-unquoted-tag", "/items/42", headers=(("If-None-Match", "item-42-v3"),)),
    Case("item-missing", "/items/999999"),
    Case("item-id-too-large", "/items/99999999999999999999"),
    Case("item-id-negative", "/items/-1"),
    Case("item-gzip-below-threshold", "/items/42", headers=_GZIP),
    # /docs/<id>: Last-Modified from the row; If-Modified-Since ignored next to If-None-Match.
    *get_and_head("doc", "/docs/1"),
    Case("doc-not-modified", "/docs/1", headers=(("If-Modified-Since", _DOC_1_MODIFIED),)),
    Case("doc-modified-since", "/docs/1", headers=(("If-Modified-Since", "Tue, 30 Sep 2025 12:00:00 GMT"),)),
    Case("doc-ims-garbage", "/docs/1", headers=(("If-Modified-Since", "last week"),)),
    Case(
        "doc-ims-ignored-with-inm",
        "/docs/1",
        headers=(("If-Modified-Since", _DOC_1_MODIFIED), ("If-None-Match", '"x"')),
    ),
    Case("doc-gzip", "/docs/29", headers=_GZIP),
    Case("doc-br", "/docs/29", headers=_BR),
    Case("doc-identity-refused", "/docs/1", headers=(("Accept-Encoding", "identity;q=0, gzip"),)),
    Case("doc-missing", "/docs/100000"),
    # URL building (§2.6).
    Case("build", "/build"),
    Case("user-detail", "/users/7"),
    Case("search", "/search?q=flask&page=2"),
    Case("search-korean", "/search?q=%ED%94%8C%EB%9D%BC%EC%8A%A4%ED%81%AC"),
    Case("abs", "/abs"),
    Case(
        "abs-forwarded-untrusted",
        "/abs",
        headers=(("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example")),
    ),
    Case("links", "/links"),
    # Blueprints (§2.7): the site page, its versioned static file, the API index, v1 and v2.
    *get_and_head("site", "/"),
    Case("site-static", "/site-static/css/site.css"),
    Case("site-static-missing", "/site-static/css/none.css"),
    Case("site-static-traversal", "/site-static/..%2f..%2fdata%2fhello.txt"),
    Case("api-index", "/api"),
    Case("v1-item", "/api/v1/items/1"),
    Case("v2-item", "/api/v2/items/1"),
    Case("v2-item-missing", "/api/v2/items/999999"),
    # The paging API (§2.8).
    *get_and_head("list", "/api/v1/items"),
    Case("list-page-2", "/api/v1/items?page=2&size=5"),
    Case("list-last-page", "/api/v1/items?page=2000&size=5"),
    Case("list-beyond-last", "/api/v1/items?page=5000&size=5"),
    Case("list-max-size-gzip", "/api/v1/items?size=100", headers=_GZIP),
    Case("list-max-size-br", "/api/v1/items?size=100", headers=_BR),
    Case("list-keyset", "/api/v1/items?after=9990&size=5"),
    Case("list-keyset-end", "/api/v1/items?after=9998&size=5"),
    Case("list-unknown-parameter", "/api/v1/items?page=1&sort=name"),
    *(
        Case(f"list-bad-{name}", f"/api/v1/items?{query}")
        for name, query in {
            "page-zero": "page=0",
            "page-negative": "page=-3",
            "page-text": "page=two",
            "page-float": "page=1.5",
            "page-twice": "page=1&page=2",
            "size-zero": "size=0",
            "size-too-large": "size=101",
            "size-text": "size=ten",
            "after-negative": "after=-1",
            "after-with-page": "after=5&page=2",
        }.items()
    ),
    # api_v1 guarded by bearer tokens and a tiny rate limit (harness.PROFILES["guarded"]).
    Case("guarded-no-token", "/api/v1/items/1", profile="guarded"),
    Case("guarded-bad-token", "/api/v1/items/1", headers=(("Authorization", "Bearer nope"),), profile="guarded"),
    Case("guarded-basic-scheme", "/api/v1/items/1", headers=(("Authorization", "Basic dDpvaw=="),), profile="guarded"),
    Case("guarded-item", "/api/v1/items/1", headers=_OK, profile="guarded"),
    Case("guarded-list", "/api/v1/items?size=2", headers=_LIST, profile="guarded"),
    Case("guarded-rate-limited", "/api/v1/items/1", headers=_LIMITED, profile="guarded", prelude=2),
    Case("guarded-v2-is-open", "/api/v2/items/1", profile="guarded"),
)
