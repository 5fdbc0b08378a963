"""The paging API's decisions (seed §2.8): which page was asked for, which links to send, and
the page's validator. Sans-I/O: the adapters run the queries and build URLs with url_for.

Two ways to page: by number (``?page=N&size=S``: first/prev/next/last links, a total) and by
keyset (``?after=ID&size=S``: a next link by cursor, no offset scan, so deep pages stay fast,
as the seed's operations tip suggests).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..protocol.etag import EntityTag
from ..protocol.link import Link

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "BadParameter",
    "KeysetQuery",
    "PageQuery",
    "keyset_links",
    "page_etag",
    "page_links",
    "parse_page_query",
]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100  # documented in the README; more is a 400, not a silent clamp
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: int() would accept "٣" and " 3 "


@dataclass(frozen=True, slots=True)
class PageQuery:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True, slots=True)
class KeysetQuery:
    after: int
    size: int


@dataclass(frozen=True, slots=True)
class BadParameter:
    """A query parameter that cannot be used: 400 with a problem document naming it."""

    name: str
    detail: str


def parse_page_query(arguments: Iterable[tuple[str, str]]) -> PageQuery | KeysetQuery | BadParameter:
    """``page``, ``size`` and ``after`` from the query's (name, value) pairs; others are ignored."""
    values: dict[str, str] = {}
    for name, value in arguments:
        if name in ("page", "size", "after"):
            if name in values:
                return BadParameter(name, f"'{name}' is given more than once")
            values[name] = value
    size = _positive(values, "size", DEFAULT_PAGE_SIZE, low=1)
    if isinstance(size, BadParameter):
        return size
    if size > MAX_PAGE_SIZE:
        return BadParameter("size", f"'size' must be at most {MAX_PAGE_SIZE}")
    if "after" in values:
        if "page" in values:
            return BadParameter("page", "'page' and 'after' cannot be combined: 'after' pages by cursor")
        after = _positive(values, "after", 0, low=0)
        return after if isinstance(after, BadParameter) else KeysetQuery(after, size)
    page = _positive(values, "page", 1, low=1)
    return page if isinstance(page, BadParameter) else PageQuery(page, size)


def _positive(values: dict[str, str], name: str, default: int, *, low: int) -> int | BadParameter:
    if name not in values:
        return default
    raw = values[name]
    if not _DIGITS.fullmatch(raw) or int(raw) < low:
        return BadParameter(name, f"'{name}' must be a whole number of at least {low}, not {raw[:40]!r}")
    return int(raw)


def last_page(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def page_links(query: PageQuery, total: int, url_for_page: Callable[[int], str]) -> tuple[Link, ...]:
    """first, prev (not on page 1), next (only when there is one; the seed always sent it), last."""
    last = last_page(total, query.size)
    links = [Link(url_for_page(1), "first")]
    if query.page > 1:
        links.append(Link(url_for_page(min(query.page - 1, last)), "prev"))
    if query.page < last:
        links.append(Link(url_for_page(query.page + 1), "next"))
    links.append(Link(url_for_page(last), "last"))
    return tuple(links)


def keyset_links(query: KeysetQuery, ids: Sequence[int], url_for_after: Callable[[int], str]) -> tuple[Link, ...]:
    """first, and next by cursor when the page was full (a short page is the end)."""
    links = [Link(url_for_after(0), "first")]
    if len(ids) == query.size and ids:
        links.append(Link(url_for_after(ids[-1]), "next"))
    return tuple(links)


def page_etag(
    kind: str, query: PageQuery | KeysetQuery, versions: Iterable[tuple[int, int]], total: int | None
) -> EntityTag:
    """A strong tag from what the page holds (ids and versions), the query and the total (which
    the links depend on), not from the serialized body."""
    digest = hashlib.blake2b(digest_size=10)
    for item_id, version in versions:
        digest.update(f"{item_id}:{version};".encode())
    shape = f"p{query.page}" if isinstance(query, PageQuery) else f"a{query.after}"
    counted = () if total is None else (f"t{total}",)
    return EntityTag.from_version(kind, shape, f"s{query.size}", *counted, digest.hexdigest())
