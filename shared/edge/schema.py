"""The data layer's schema, queries and seed, written once for both runtimes (SQLAlchemy 2 Core).

Nothing here opens a connection: each query is a Core statement built once, at import, that a
function pairs with the values of one call (a ``Query``); ``shared.edge.store`` (the edge) runs
them on a sync engine, Flask's on its request threads, Quart's in a thread pool of the store's
own. Only portable types and constructs are used, so the same statements run on SQLite and on
PostgreSQL (psycopg 3); ``tests/shared/test_store.py`` compiles each one for the PostgreSQL
dialect as a check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    RowMapping,
    Select,
    Table,
    Text,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "SEED_EPOCH",
    "Doc",
    "Item",
    "Query",
    "RowsQuery",
    "UTCDateTime",
    "docs",
    "items",
    "metadata",
    "seed_docs",
    "seed_items",
    "select_any",
    "select_doc",
    "select_item",
    "select_item_count",
    "select_items_after",
    "select_items_page",
    "select_one",
]

# The seed chapter's timestamp (§2.4.3: 2025-10-01 12:00 UTC), also the sample files' mtime.
SEED_EPOCH = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
# A SELECT whatever its columns (``Select[Any]`` would type every result as ``Any``).
RowsQuery: TypeAlias = Select[*tuple[Any, ...]]
_DOC_SENTENCE = "Conditional requests let a cache reuse what it has until the server says otherwise. "


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored as UTC and always returned aware in UTC.

    The one place time zones are handled: SQLite has no time zone type and SQLAlchemy's SQLite
    DATETIME drops ``tzinfo`` on the way in (12:00+09:00 would be stored as 12:00), while
    PostgreSQL's ``timestamptz`` comes back in the session's zone. So values are converted to
    UTC before binding, and naive results (SQLite) are read as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"a naive datetime is ambiguous; give it a time zone: {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

# autoincrement=False: ids are given (by the seed), so PostgreSQL gets a plain INTEGER key rather
# than a SERIAL whose sequence the seeded ids would never advance.
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

docs = Table(
    "docs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    name: str
    version: int
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Item:
        return cls(row["id"], row["name"], row["version"], row["updated_at"])


@dataclass(frozen=True, slots=True)
class Doc:
    id: int
    title: str
    content: str
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Doc:
        return cls(row["id"], row["title"], row["content"], row["updated_at"])


# Each statement is built once, here; a call binds only its values. SQLAlchemy memoizes a
# statement's cache key on the object, so executing the same one again goes straight to the
# compiled form in the engine's cache: no select() built, traversed or keyed per request.
_ITEM = select(items).where(items.c.id == bindparam("item_id", type_=Integer))
_DOC = select(docs).where(docs.c.id == bindparam("doc_id", type_=Integer))
_ITEMS_PAGE = (
    select(items)
    .order_by(items.c.id)
    # BIGINT: the deepest page a client may ask for (page 999,999,999 of 100) starts past 2**31,
    # which PostgreSQL's INTEGER refuses ("integer out of range", a 500) where SQLite answers an
    # empty page. Test: tests/test_data_api.py::test_the_largest_ids_and_pages_are_empty_answers_not_errors.
    .offset(bindparam("offset", type_=BigInteger))
    .limit(bindparam("limit", type_=Integer))
)
_ITEMS_AFTER = (
    select(items)
    .where(items.c.id > bindparam("after_id", type_=Integer))
    .order_by(items.c.id)
    .limit(bindparam("limit", type_=Integer))
)
_ITEM_COUNT = select(func.count().label("count")).select_from(items)
_ONE = select(literal(1).label("one"))


@dataclass(frozen=True, slots=True)
class Query:
    """A statement built once, and the values this call binds to it."""

    statement: RowsQuery
    parameters: Mapping[str, int]


def select_item(item_id: int) -> Query:
    return Query(_ITEM, {"item_id": item_id})


def select_doc(doc_id: int) -> Query:
    return Query(_DOC, {"doc_id": doc_id})


def select_items_page(offset: int, limit: int) -> Query:
    """Offset pagination, in id order (without ORDER BY, SQL promises no order, hence no pages)."""
    _check_window(offset=offset, limit=limit)
    return Query(_ITEMS_PAGE, {"offset": offset, "limit": limit})


def select_items_after(after_id: int, limit: int) -> Query:
    """Keyset pagination: the ``limit`` items after ``after_id``. The primary key's index finds
    the start directly, so a deep page costs what the first one does (seed §2.8 tip)."""
    _check_window(offset=0, limit=limit)
    return Query(_ITEMS_AFTER, {"after_id": after_id, "limit": limit})


def select_item_count() -> Query:
    return Query(_ITEM_COUNT, {})


def select_one() -> Query:
    """``SELECT 1``: a round trip that reads no table (the health check)."""
    return Query(_ONE, {})


def select_any(table: Table) -> Query:
    """One row of ``table`` if it has any: tells "empty" without counting every row (run only
    when a database is prepared, so built on each call)."""
    return Query(select(table).limit(1), {})


def _check_window(*, offset: int, limit: int) -> None:
    # Refused here, not by the database: SQLite reads LIMIT -1 as "no limit" while PostgreSQL
    # rejects it, and the two runtimes must not differ by backend.
    if offset < 0 or limit < 0:
        raise ValueError(f"offset and limit must be >= 0, got offset={offset}, limit={limit}")


def seed_items(count: int) -> Iterator[dict[str, Any]]:
    """Items 1..count: ``"Item {i}"``, version ``1 + i % 5``, updated ``i - 1`` minutes before
    SEED_EPOCH (whole seconds, UTC), so item 1 carries the seed's date and item 42 its version 3."""
    for item_id in range(1, count + 1):
        yield {
            "id": item_id,
            "name": f"Item {item_id}",
            "version": 1 + item_id % 5,
            "updated_at": SEED_EPOCH - timedelta(minutes=item_id - 1),
        }


def seed_docs(count: int) -> Iterator[dict[str, Any]]:
    """Docs 1..count: ``"Doc {i}"``, content of ``i % 30 + 1`` sentences (84 to 2,520 characters,
    so some bodies fall below a 1 KiB compression threshold and some above), updated ``i - 1``
    hours before SEED_EPOCH (doc 1 is the seed's 2025-10-01 12:00 UTC)."""
    for doc_id in range(1, count + 1):
        yield {
            "id": doc_id,
            "title": f"Doc {doc_id}",
            "content": _DOC_SENTENCE * (doc_id % 30 + 1),
            "updated_at": SEED_EPOCH - timedelta(hours=doc_id - 1),
        }
