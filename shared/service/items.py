"""What the data endpoints answer: conditional JSON (seed §2.4.2, §2.4.3), the versioned item
representations (§2.6.3) and the paging API (§2.8), from rows the adapters fetched.

Bodies are JSON bytes written here; validators come from identities and versions, never from
the bytes; content coding is negotiated here (``shared.protocol.encoding``), so a gzip body is its own
representation with its own ETag. The adapters run the queries and build URLs with url_for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..protocol.cache import CachePolicy, merge_vary, private_revalidated, revalidated
from ..protocol.conditional import Validators
from ..protocol.encoding import plan_encoded
from ..protocol.etag import EntityTag
from ..protocol.link import Link, format_link_header
from ..protocol.representation import Representation, ResponsePlan, json_bytes, plan_problem, plan_representation
from .guard import BearerGuard, LimiterT
from .paging import BadParameter, KeysetQuery, PageQuery, keyset_links, page_etag, page_links

__all__ = [
    "API_VERSION_HEADER",
    "DOC_CACHE",
    "ITEM_CACHE",
    "LIST_CACHE",
    "MAX_ID",
    "V1_HEADER",
    "V2_HEADER",
    "ApiGuard",
    "ApiPolicy",
    "JsonResource",
    "answer_resource",
    "bad_parameter",
    "doc",
    "item",
    "items_keyset",
    "items_page",
    "v1_item",
    "v2_item",
]

API_VERSION_HEADER = "X-API-Version"
# What api_v1.after_request and api_v2.after_request add to every answer of their version.
V1_HEADER = (API_VERSION_HEADER, "v1")
V2_HEADER = (API_VERSION_HEADER, "v2")
# Ids in URLs are bounded by the route converter (<int(max=MAX_ID):...>): a larger number is
# simply not found, instead of an integer the database cannot bind.
MAX_ID = 2**31 - 1
ITEM_CACHE = revalidated(60)  # the seed's "public, max-age=60"
DOC_CACHE = revalidated(120)
LIST_CACHE = revalidated(30)


class ItemRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def updated_at(self) -> datetime: ...


class DocRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def updated_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class JsonResource:
    """A JSON representation before content coding: its bytes, validators and headers."""

    body: bytes
    etag: EntityTag | None
    last_modified: datetime | None
    cache: CachePolicy
    vary: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def representation(self) -> Representation:
        vary = merge_vary(*self.vary)
        headers = (("Cache-Control", self.cache.to_header()), *((("Vary", vary),) if vary else ()), *self.headers)
        return Representation(
            len(self.body), "application/json", Validators(self.etag, self.last_modified), headers, accept_ranges=False
        )


def answer_resource(
    resource: JsonResource,
    method: str,
    fields: Iterable[tuple[str, str]],
    accept_encoding: str | None,
    *,
    now: datetime,
    min_size: int,
) -> ResponsePlan:
    """The whole answer to a request for a JSON resource, in one call: the content coding
    negotiated (a gzip or br body is its own representation, with its own ETag), then the
    preconditions and Range on that representation, and the bytes cut from the coded body.

    Flask and Quart have no content coding of their own (flask-compress is Flask-only and
    compresses after the ETag is set) and neither answers 304 for a JSON view: the parity cases
    ``item-not-modified*``, ``doc-not-modified``, ``doc-gzip`` and ``doc-br`` fail without it.
    """
    encoded = plan_encoded(resource.body, resource.representation(), accept_encoding, min_size=min_size)
    return plan_representation(method, fields, encoded.representation, now=now).with_source(encoded.body)


@dataclass(frozen=True, slots=True)
class ApiPolicy:
    """How /api/v1 guards itself: with tokens configured, answers depend on Authorization, so
    they are private and vary on it (the seed's ``public`` on an authenticated list is a bug)."""

    authenticated: bool

    def cache(self, policy: CachePolicy) -> CachePolicy:
        if not self.authenticated:
            return policy
        return private_revalidated(policy.max_age or 0)

    def vary(self) -> tuple[str, ...]:
        return ("Authorization",) if self.authenticated else ()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def item(row: ItemRow) -> JsonResource:
    """``/items/<id>``: the seed's payload, ETag from identity and version (§2.4.2 tip)."""
    return JsonResource(
        json_bytes({"id": row.id, "name": row.name, "ver": row.version}),
        EntityTag.from_version("item", row.id, f"v{row.version}"),
        None,
        ITEM_CACHE,
    )


def doc(row: DocRow) -> JsonResource:
    """``/docs/<id>``: validated by Last-Modified (the row's updated_at), as in §2.4.3."""
    return JsonResource(
        json_bytes({"id": row.id, "title": row.title, "content": row.content}), None, row.updated_at, DOC_CACHE
    )


def v1_item(row: ItemRow, policy: ApiPolicy) -> JsonResource:
    """``/api/v1/items/<id>``: flat, as v1 clients have always had it."""
    return JsonResource(
        json_bytes({"id": row.id, "name": row.name}),
        EntityTag.from_version("v1-item", row.id, f"v{row.version}"),
        None,
        policy.cache(ITEM_CACHE),
        vary=policy.vary(),
    )


def v2_item(row: ItemRow, self_url: str) -> JsonResource:
    """``/api/v2/items/<id>``: an envelope with version, timestamp and a self link: the visible
    difference between the versions that url prefixes keep apart."""
    body = {
        "data": {"id": row.id, "name": row.name, "version": row.version, "updated_at": _iso(row.updated_at)},
        "links": {"self": self_url},
    }
    return JsonResource(
        json_bytes(body), EntityTag.from_version("v2-item", row.id, f"v{row.version}"), None, ITEM_CACHE
    )


def items_page(
    rows: Sequence[ItemRow], query: PageQuery, total: int, url_for_page: Callable[[int], str], policy: ApiPolicy
) -> JsonResource:
    """``/api/v1/items?page=N&size=S``: the page, a Link header, the total in X-Total-Count."""
    body: dict[str, Any] = {
        "items": [{"id": row.id, "name": row.name} for row in rows],
        "page": query.page,
        "size": query.size,
    }
    links = page_links(query, total, url_for_page)
    return _page(
        body,
        links,
        page_etag("items", query, [(row.id, row.version) for row in rows], total),
        policy,
        (("X-Total-Count", str(total)),),
    )


def items_keyset(
    rows: Sequence[ItemRow], query: KeysetQuery, url_for_after: Callable[[int], str], policy: ApiPolicy
) -> JsonResource:
    """``/api/v1/items?after=ID&size=S``: keyset pagination, a next link by cursor."""
    body: dict[str, Any] = {
        "items": [{"id": row.id, "name": row.name} for row in rows],
        "after": query.after,
        "size": query.size,
    }
    links = keyset_links(query, [row.id for row in rows], url_for_after)
    return _page(body, links, page_etag("items", query, [(row.id, row.version) for row in rows], None), policy, ())


def _page(
    body: dict[str, Any],
    links: tuple[Link, ...],
    etag: EntityTag,
    policy: ApiPolicy,
    extra: tuple[tuple[str, str], ...],
) -> JsonResource:
    link_header = format_link_header(links)
    headers = ((("Link", link_header),) if link_header else ()) + extra
    return JsonResource(json_bytes(body), etag, None, policy.cache(LIST_CACHE), vary=policy.vary(), headers=headers)


def bad_parameter(problem: BadParameter) -> ResponsePlan:
    """RFC 9457: 400 naming the query parameter (an extension member, ``parameter``)."""
    return plan_problem(400, problem.detail, headers=(), extra={"parameter": problem.name})


class ApiGuard(BearerGuard[LimiterT]):
    """``api_v1.before_request`` (seed §2.7.3): a bearer token when tokens are configured, then
    a per-client token bucket. The client is its token when there is one, else its address."""

    def __init__(self, tokens: str, limiter: LimiterT) -> None:
        super().__init__(tokens, limiter, subject="This API", per_token=True)
        self.policy = ApiPolicy(authenticated=self.authenticated)
