"""The database edge: URLs, first-start preparation, and the two stores that run ``schema``'s
statements, ``SyncStore`` for Flask and ``AsyncStore`` for Quart.

The sync/async twin, side by side: both stores execute the same statements on a sync engine
and shape rows with the same helpers; they differ only by where a statement runs. SyncStore runs
it on the calling thread (gunicorn's); AsyncStore hands it to a bounded pool of threads of its
own and awaits the result, so it never blocks Quart's event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, RowMapping, Table, create_engine, func, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    TimeoutError as PoolTimeout,
)

from .schema import (
    Doc,
    Item,
    Query,
    docs as docs_table,
    items as items_table,
    metadata,
    seed_docs,
    seed_items,
    select_any,
    select_doc,
    select_item,
    select_item_count,
    select_items_after,
    select_items_page,
    select_one,
)

__all__ = [
    "DATABASE_FILE",
    "DRIVER_MODULES",
    "AsyncStore",
    "StoreUnavailable",
    "SyncStore",
    "database_backend",
    "database_url_for",
    "default_database_url",
    "driver_message",
    "prepare_database",
    "sync_url",
]

DATABASE_FILE = "twinport.sqlite3"
# One driver per backend, for both stores: the standard library's sqlite3, and psycopg 3.
_SYNC_DRIVER = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
# The modules each backend's engine imports (twinport[postgresql] installs psycopg).
DRIVER_MODULES = {"sqlite": ("sqlite3",), "postgresql": ("psycopg",)}
_ACCEPTED = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
}
# Another process preparing the same SQLite file at the same moment shows up as one of these;
# the next attempt finds its work done. Five attempts span about 1.5 s of backoff.
_PREPARE_ATTEMPTS = 5
_RACE_ERRORS = (IntegrityError, OperationalError, ProgrammingError)
# libpq waits for ever on a host that does not answer (a dropped packet, a dead VM): a request,
# or a start, would hang. A URL's own ?connect_timeout= wins.
CONNECT_TIMEOUT_SECONDS = 5
# How long a request waits for a pooled connection when all are in use (Flask with db_pool_size
# below threads) before its 503: a client is told to come back rather than held.
POOL_WAIT_SECONDS = 10.0
# PostgreSQL: the advisory lock every preparer of one database queues on; the key is any constant
# ("twin" in ASCII), an advisory lock's scope being its database.
_PREPARE_LOCK = select(func.pg_advisory_xact_lock(0x7477696E))
_Record = TypeVar("_Record", Item, Doc)


def sync_url(database_url: str) -> str:
    """The URL for the stores' engine: ``sqlite://`` (``sqlite+aiosqlite://`` too, as accepted
    before) goes to sqlite3, PostgreSQL to psycopg 3."""
    url = _parse(database_url)
    # render_as_string: str(url) would write the password as "***".
    return url.set(drivername=_SYNC_DRIVER[_ACCEPTED[url.drivername]]).render_as_string(hide_password=False)


def _parse(database_url: str) -> URL:
    try:
        url = make_url(database_url)
    except Exception as error:  # sqlalchemy raises ArgumentError, or ValueError for a bad port
        raise ValueError(f"not a database URL: {database_url!r} ({error})") from None
    if url.drivername not in _ACCEPTED:
        allowed = ", ".join(f"{scheme}://" for scheme in _ACCEPTED)
        raise ValueError(f"unsupported database URL scheme {url.drivername!r}; use one of {allowed}")
    return url


def database_backend(database_url: str) -> str:
    """ "sqlite" or "postgresql" for a URL both engines can use, or ValueError (one line) naming
    why not. Pure (sqlalchemy's ``make_url`` parses, connects to nothing): the settings layer
    validates ``database_url`` with it, before anything is served."""
    url = _parse(database_url)
    backend = _ACCEPTED[url.drivername]
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        # Each pooled connection would get a database of its own, without the tables.
        raise ValueError(
            f"an in-memory SQLite database ({database_url!r}) is not shared between connections; name a file"
        )
    return backend


class StoreUnavailable(Exception):
    """The database cannot answer now: down, refusing connections, or every pooled connection
    busy. The apps answer it with a 503 problem and Retry-After (``errors.database_unavailable``),
    never a 500; the message is the driver's first line, for the log."""


def _connect_args(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return {}


def _store_engine(database_url: str, pool_size: int) -> Engine:
    """A store's engine: at most ``pool_size`` connections (no overflow), so ``workers x
    db_pool_size`` bounds what a deployment opens on its database server."""
    url = _parse(sync_url(database_url))
    return create_engine(
        url, pool_size=pool_size, max_overflow=0, pool_timeout=POOL_WAIT_SECONDS, connect_args=_connect_args(url)
    )


def driver_message(error: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's wrapper with its SQL and link), first line."""
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def default_database_url(state_dir: str) -> str:
    """The embedded default: a SQLite file in the state directory, never in the data directory
    that the file routes serve (an absolute path, so the URL means the same file whatever the
    worker's working directory)."""
    path = os.path.abspath(os.path.join(state_dir, DATABASE_FILE))
    return URL.create("sqlite", database=path).render_as_string(hide_password=False)


def database_url_for(database_url: str, state_dir: str) -> str:
    """The ``database_url`` setting, or the embedded default: SQLite in the state directory."""
    return database_url or default_database_url(state_dir)


def prepare_database(database_url: str, *, items: int = 10_000, docs: int = 100) -> None:
    """Create the tables and seed each empty one, once; safe when several workers and hosts
    start at once.

    Both seeds are one transaction that inserts only into empty tables, so the data appears
    whole or not at all. On PostgreSQL that transaction first takes an advisory lock
    (``pg_advisory_xact_lock``, released at its commit) and creates the tables in it too (DDL is
    transactional there): however many processes start, on however many hosts, they prepare one
    after the other, the first does the work, the others find it done. No error, no retry, and it
    holds behind a transaction-pooling proxy (PgBouncer), which a session lock would not.
    SQLite has no such lock, and a file has one host: two processes that both saw a table empty
    cannot both insert, the second collides on the primary key (or on the snapshot it read) and
    rolls back, and its next attempt finds the rows; two CREATE TABLEs racing end the same way.
    Test: tests/shared/test_store.py::test_workers_starting_at_once_seed_exactly_once.
    """
    url = _parse(sync_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
    engine = create_engine(url, connect_args=_connect_args(url))
    try:
        if engine.dialect.name == "postgresql":
            _prepare_locked(engine, item_count=items, doc_count=docs)
            return
        for attempt in range(_PREPARE_ATTEMPTS):
            try:
                _prepare_sqlite(engine, item_count=items, doc_count=docs)
                return
            except _RACE_ERRORS:
                if attempt == _PREPARE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
    except (OperationalError, InterfaceError) as error:
        raise StoreUnavailable(driver_message(error)) from error
    finally:
        engine.dispose()


def _prepare_sqlite(engine: Engine, *, item_count: int, doc_count: int) -> None:
    # WAL lets readers go on while a writer writes. The mode is stored in the database file,
    # so setting it once here covers every later connection, sync or async.
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(engine)
    with engine.begin() as connection:
        _seed_if_empty(connection, items_table, seed_items(item_count))
        _seed_if_empty(connection, docs_table, seed_docs(doc_count))


def _prepare_locked(engine: Engine, *, item_count: int, doc_count: int) -> None:
    with engine.begin() as connection:
        connection.execute(_PREPARE_LOCK)
        metadata.create_all(connection)
        _seed_if_empty(connection, items_table, seed_items(item_count))
        _seed_if_empty(connection, docs_table, seed_docs(doc_count))


def _seed_if_empty(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    query = select_any(table)
    if connection.execute(query.statement, query.parameters).first() is not None:
        return
    batch = list(rows)
    if batch:
        connection.execute(insert(table), batch)


class SyncStore:
    """The items and docs through a sync engine (Flask; gunicorn's threads share its pool)."""

    def __init__(self, database_url: str, *, pool_size: int = 5) -> None:
        self._engine = _store_engine(database_url, pool_size)
        # A Flask app has no "after serving" hook: when an app (and its store) is dropped without
        # close(), as tests that build many apps do, its pooled connections are still closed,
        # not left to the garbage collector (Python 3.13 warns about every unclosed one).
        weakref.finalize(self, self._engine.dispose)

    def item(self, item_id: int) -> Item | None:
        return _first(Item, self._rows(select_item(item_id)))

    def doc(self, doc_id: int) -> Doc | None:
        return _first(Doc, self._rows(select_doc(doc_id)))

    def items_page(self, offset: int, limit: int) -> list[Item]:
        return _all(self._rows(select_items_page(offset, limit)))

    def items_after(self, after_id: int, limit: int) -> list[Item]:
        return _all(self._rows(select_items_after(after_id, limit)))

    def count_items(self) -> int:
        return _count(self._rows(select_item_count()))

    def ping(self) -> None:
        """A round trip to the database (``/healthz``), or StoreUnavailable."""
        self._rows(select_one())

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SyncStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _rows(self, query: Query) -> Sequence[RowMapping]:
        return _execute(self._engine, query)


class AsyncStore:
    """The same reads for Quart: SyncStore's statements on a sync engine, each run in a pool of
    ``pool_size`` threads of the store's own, so the event loop never waits on the database and
    at most ``pool_size`` queries (and connections) are under way at once. Open it where serving
    starts and close it where serving ends (Quart's before_serving/after_serving).

    Chosen by measurement over SQLAlchemy asyncio, which runs each query as a greenlet on the
    loop thread and hands the driver call on (aiosqlite's thread per connection, psycopg's async
    connection): from one loop, 32 tasks, ``item`` and ``items_page`` took 1.4-5x fewer µs per
    call on SQLite and 1.6-3x on PostgreSQL, and 6-15x less CPU on the loop thread. Hence one
    engine kind for both backends. The threads are not the loop's default executor, so database reads never
    queue behind file reads (``asyncio.to_thread``) or the reverse.
    """

    def __init__(self, database_url: str, *, pool_size: int = 5) -> None:
        # A connection per thread, and never more threads than pool_size.
        self._engine = _store_engine(database_url, pool_size)
        self._threads = ThreadPoolExecutor(pool_size, thread_name_prefix="twinport-db")
        # As SyncStore's: a store dropped without close() still closes its connections (its idle
        # threads end when the executor is collected).
        weakref.finalize(self, self._engine.dispose)

    async def item(self, item_id: int) -> Item | None:
        return _first(Item, await self._rows(select_item(item_id)))

    async def doc(self, doc_id: int) -> Doc | None:
        return _first(Doc, await self._rows(select_doc(doc_id)))

    async def items_page(self, offset: int, limit: int) -> list[Item]:
        return _all(await self._rows(select_items_page(offset, limit)))

    async def items_after(self, after_id: int, limit: int) -> list[Item]:
        return _all(await self._rows(select_items_after(after_id, limit)))

    async def count_items(self) -> int:
        return _count(await self._rows(select_item_count()))

    async def ping(self) -> None:
        """A round trip to the database (``/healthz``), or StoreUnavailable."""
        await self._rows(select_one())

    async def close(self) -> None:
        """Let the queries under way finish, then stop the store's threads and close its
        connections; a later call raises RuntimeError. Joining threads waits: done off the loop."""
        await asyncio.to_thread(self._close)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def _rows(self, query: Query) -> Sequence[RowMapping]:
        return await asyncio.get_running_loop().run_in_executor(self._threads, _execute, self._engine, query)

    def _close(self) -> None:
        self._threads.shutdown(wait=True)
        self._engine.dispose()


def _execute(engine: Engine, query: Query) -> Sequence[RowMapping]:
    """Run one read, or raise StoreUnavailable when the database cannot answer it.

    A pooled connection the server has dropped (PostgreSQL restarted, or ended the session)
    fails its next statement; SQLAlchemy then discards the whole pool, and the read is tried
    once more on a new connection: reads are idempotent, so after a restart no client sees it.
    """
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                return connection.execute(query.statement, query.parameters).mappings().all()
        except DBAPIError as error:
            if error.connection_invalidated and attempt == 1:
                continue
            if isinstance(error, OperationalError | InterfaceError):
                raise StoreUnavailable(driver_message(error)) from error
            raise
        except PoolTimeout as error:
            raise StoreUnavailable(f"every database connection stayed busy for {POOL_WAIT_SECONDS:.0f} s") from error
    raise AssertionError("unreachable: the second attempt returns or raises")


def _first(kind: type[_Record], rows: Sequence[RowMapping]) -> _Record | None:
    return kind.from_row(rows[0]) if rows else None


def _all(rows: Sequence[RowMapping]) -> list[Item]:
    return [Item.from_row(row) for row in rows]


def _count(rows: Sequence[RowMapping]) -> int:
    return int(rows[0]["count"])
