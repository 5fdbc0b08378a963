"""The data layer against a real SQLite file and a real PostgreSQL server (``[sqlite]``,
``[postgresql]``): preparation, the seed, and the same answers through the sync store (Flask) and
the async one (Quart), checked against the seed itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.exc import StatementError
from sqlalchemy.schema import CreateTable

from parity_tests.postgres import DATABASES, PostgresServer
from shared.edge.schema import (
    SEED_EPOCH,
    Doc,
    Item,
    Query,
    docs,
    items,
    seed_docs,
    seed_items,
    select_doc,
    select_item,
    select_item_count,
    select_items_after,
    select_items_page,
)
from shared.edge.store import AsyncStore, SyncStore, default_database_url, prepare_database, sync_url

ITEMS = 10_000  # prepare_database's default, what a first start creates
DOCS = 100
SEEDED_ITEMS = [Item(**row) for row in seed_items(ITEMS)]
SEEDED_DOCS = [Doc(**row) for row in seed_docs(DOCS)]
# The dialect a later PostgreSQL deployment uses (psycopg 3); compiling needs no driver installed.
POSTGRESQL = psycopg.dialect()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module", params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database prepared as a first start does, shared by the module's reading tests."""
    url = new_database(request, str(request.param), tmp_path_factory.mktemp("data"))
    prepare_database(url)
    return url


@pytest.fixture(params=DATABASES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of the test's own, with nothing in it yet."""
    return new_database(request, str(request.param), tmp_path / "data")


def new_database(request: pytest.FixtureRequest, backend: str, state_dir: Path) -> str:
    if backend == "sqlite":
        return default_database_url(str(state_dir))
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.fresh_database(seeded=False)


@pytest.fixture(scope="module")
def sync_store(database_url: str) -> Iterator[SyncStore]:
    with SyncStore(database_url) as store:
        yield store


class AsyncRunner:
    """An AsyncStore on one event loop of its own, so that sync (and hypothesis) tests can ask
    it, opened and closed on that loop as Quart does."""

    def __init__(self, database_url: str) -> None:
        self.runner = asyncio.Runner()
        self.store = AsyncStore(database_url)

    def close(self) -> None:
        self.runner.run(self.store.close())
        self.runner.close()


@pytest.fixture(scope="module")
def async_store(database_url: str) -> Iterator[AsyncRunner]:
    runner = AsyncRunner(database_url)
    yield runner
    runner.close()


# -- the seed ---------------------------------------------------------------------------------


def test_seed_is_deterministic_and_documented() -> None:
    assert list(seed_items(50)) == list(seed_items(50))
    assert list(seed_docs(50)) == list(seed_docs(50))
    first, forty_second = SEEDED_ITEMS[0], SEEDED_ITEMS[41]
    assert first == Item(1, "Item 1", 2, datetime(2025, 10, 1, 12, 0, tzinfo=UTC))
    assert (forty_second.name, forty_second.version) == ("Item 42", 3)  # the seed's item 42, "ver": 3
    assert forty_second.updated_at == SEED_EPOCH - timedelta(minutes=41)
    assert SEEDED_DOCS[0].updated_at == datetime(2025, 10, 1, 12, 0, tzinfo=UTC)  # §2.4.3's date
    assert {len(doc.content.encode()) for doc in SEEDED_DOCS} >= {84, 2520}  # below and above 1 KiB


def test_seed_times_are_whole_seconds_in_utc() -> None:
    for updated_at in [record.updated_at for record in SEEDED_ITEMS] + [record.updated_at for record in SEEDED_DOCS]:
        assert updated_at.tzinfo is UTC
        assert updated_at.microsecond == 0


# -- preparation ------------------------------------------------------------------------------


def test_prepare_is_idempotent_and_seeds_each_table_once(empty_url: str) -> None:
    url = empty_url
    prepare_database(url, items=30, docs=3)
    with SyncStore(url) as store:
        before = store.items_page(0, 100), [store.doc(doc_id) for doc_id in range(1, 5)]
    prepare_database(url, items=30, docs=3)
    prepare_database(url, items=60, docs=6)  # a table is seeded once, when empty
    with SyncStore(url) as store:
        assert (store.items_page(0, 100), [store.doc(doc_id) for doc_id in range(1, 5)]) == before
        assert store.count_items() == 30


def test_prepare_creates_the_sqlite_file_with_write_ahead_logging(tmp_path: Path) -> None:
    url = default_database_url(str(tmp_path / "data"))
    prepare_database(url, items=1, docs=1)
    assert (tmp_path / "data" / "twinport.sqlite3").is_file()
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


_RACER = """
import sys
from shared.edge.store import SyncStore, prepare_database
prepare_database(sys.argv[1], items=2000, docs=20)
with SyncStore(sys.argv[1]) as store:
    print(store.count_items())
"""


def test_workers_starting_at_once_seed_exactly_once(empty_url: str, request: pytest.FixtureRequest) -> None:
    # Real processes, as gunicorn's or hypercorn's workers are: each must come up with the full
    # seed, whichever of them wrote it, and none may fail or double it.
    url = empty_url
    postgres: PostgresServer | None = request.getfixturevalue("postgres") if url.startswith("postgresql") else None
    log_before = len(postgres.log()) if postgres else 0
    root = str(Path(__file__).resolve().parents[2])
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    racers = [
        subprocess.Popen(
            [sys.executable, "-W", "error", "-c", _RACER, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environ,
            text=True,
        )
        for _ in range(4)
    ]
    results = [racer.communicate(timeout=60) for racer in racers]
    assert [(racer.returncode, out.strip()) for racer, (out, _) in zip(racers, results, strict=True)] == [
        (0, "2000")
    ] * 4, [err for _, err in results]
    with SyncStore(url) as store:
        assert store.items_page(0, 3000) == SEEDED_ITEMS[:2000]
    if postgres:
        # On PostgreSQL they queue on the advisory lock: no statement failed, so none retried.
        assert "ERROR" not in postgres.log()[log_before:], postgres.log()[log_before:]


# -- the same answers, sync and async ---------------------------------------------------------


def test_the_store_holds_exactly_the_seed(sync_store: SyncStore, async_store: AsyncRunner) -> None:
    assert sync_store.items_page(0, ITEMS + 1) == SEEDED_ITEMS
    assert async_store.runner.run(async_store.store.items_page(0, ITEMS + 1)) == SEEDED_ITEMS
    assert [sync_store.doc(doc_id) for doc_id in range(1, DOCS + 1)] == SEEDED_DOCS
    assert [async_store.runner.run(async_store.store.doc(doc_id)) for doc_id in range(1, DOCS + 1)] == SEEDED_DOCS
    assert sync_store.count_items() == async_store.runner.run(async_store.store.count_items()) == ITEMS


@given(st.integers(0, ITEMS + 50), st.integers(0, 250))
def test_offset_pages_agree_with_the_seed(
    sync_store: SyncStore, async_store: AsyncRunner, offset: int, limit: int
) -> None:
    expected = SEEDED_ITEMS[offset : offset + limit]
    assert sync_store.items_page(offset, limit) == expected
    assert async_store.runner.run(async_store.store.items_page(offset, limit)) == expected


@given(st.integers(-5, ITEMS + 50), st.integers(0, 250))
def test_keyset_pages_agree_with_the_seed(
    sync_store: SyncStore, async_store: AsyncRunner, after_id: int, limit: int
) -> None:
    expected = [item for item in SEEDED_ITEMS if item.id > after_id][:limit]
    assert sync_store.items_after(after_id, limit) == expected
    assert async_store.runner.run(async_store.store.items_after(after_id, limit)) == expected


@given(st.integers(-3, ITEMS + 3))
def test_one_item_or_none(sync_store: SyncStore, async_store: AsyncRunner, item_id: int) -> None:
    expected = SEEDED_ITEMS[item_id - 1] if 1 <= item_id <= ITEMS else None
    assert sync_store.item(item_id) == expected
    assert async_store.runner.run(async_store.store.item(item_id)) == expected


def test_missing_ids_are_none(sync_store: SyncStore, async_store: AsyncRunner) -> None:
    for missing in (0, -1, ITEMS + 1, 2**31 - 1):
        assert sync_store.item(missing) is None
        assert async_store.runner.run(async_store.store.item(missing)) is None
    for missing in (0, DOCS + 1):
        assert sync_store.doc(missing) is None
        assert async_store.runner.run(async_store.store.doc(missing)) is None


@pytest.mark.parametrize("size", [37, 1000, ITEMS])
def test_keyset_pages_chain_over_every_item_once(sync_store: SyncStore, async_store: AsyncRunner, size: int) -> None:
    def chain(fetch: Callable[[int, int], list[Item]]) -> list[int]:
        seen: list[int] = []
        after = 0
        while page := fetch(after, size):
            assert len(page) <= size
            seen.extend(item.id for item in page)
            after = page[-1].id
        return seen

    every_id = list(range(1, ITEMS + 1))
    assert chain(sync_store.items_after) == every_id
    assert chain(lambda after, limit: async_store.runner.run(async_store.store.items_after(after, limit))) == every_id


async def test_the_async_store_on_the_tests_own_event_loop(database_url: str) -> None:
    # How Quart uses it: opened, queried concurrently and closed on the serving loop.
    async with AsyncStore(database_url) as store:
        found = await asyncio.gather(*(store.item(item_id) for item_id in range(1, 21)), store.count_items())
    assert found == [*SEEDED_ITEMS[:20], ITEMS]


@pytest.fixture
def statement_threads() -> Iterator[list[threading.Thread]]:
    """The thread that executes each statement, on any engine, while the test runs."""
    seen: list[threading.Thread] = []

    def record(*_: object) -> None:
        seen.append(threading.current_thread())

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


async def test_the_async_store_never_queries_on_the_event_loop(
    database_url: str, statement_threads: list[threading.Thread]
) -> None:
    # What "never blocks the loop" means: while the database works, the loop serves other requests.
    store = AsyncStore(database_url, pool_size=3)
    try:
        pages = await asyncio.gather(*(store.items_page(offset, 10) for offset in range(0, 400, 10)))
        found = await asyncio.gather(*(store.item(item_id) for item_id in range(1, 41)), store.count_items())
    finally:
        await store.close()
    assert [item for page in pages for item in page] == SEEDED_ITEMS[:400]
    assert found == [*SEEDED_ITEMS[:40], ITEMS]
    assert len(statement_threads) == 81
    assert threading.current_thread() not in statement_threads
    assert 1 <= len(set(statement_threads)) <= 3  # bounded by pool_size, however many requests wait


async def test_closing_the_async_store_stops_its_threads(
    database_url: str, statement_threads: list[threading.Thread]
) -> None:
    store = AsyncStore(database_url, pool_size=4)
    # Queries still under way when close() is called finish first, and their callers get rows.
    reads = [asyncio.ensure_future(store.items_page(offset, 100)) for offset in range(0, 2000, 100)]
    await asyncio.sleep(0)
    await store.close()
    assert [item for page in await asyncio.gather(*reads) for item in page] == SEEDED_ITEMS[:2000]
    assert statement_threads
    assert not [thread for thread in set(statement_threads) if thread.is_alive()]
    with pytest.raises(RuntimeError):  # a closed store refuses, rather than starting a thread again
        await store.item(1)


def test_negative_windows_are_refused_the_same_on_every_backend() -> None:
    # SQLite would read LIMIT -1 as "no limit"; PostgreSQL would reject it.
    with pytest.raises(ValueError):
        select_items_page(-1, 10)
    with pytest.raises(ValueError):
        select_items_page(0, -1)
    with pytest.raises(ValueError):
        select_items_after(0, -1)


# -- time zones ------------------------------------------------------------------------------


def test_times_are_stored_as_utc_and_come_back_aware(empty_url: str) -> None:
    url = empty_url
    prepare_database(url, items=0, docs=0)
    seoul = timezone(timedelta(hours=9))
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(items),
                [{"id": 1, "name": "a", "version": 1, "updated_at": datetime(2025, 10, 1, 21, 0, tzinfo=seoul)}],
            )
            connection.execute(
                insert(docs),
                [
                    {
                        "id": 1,
                        "title": "t",
                        "content": "c",
                        "updated_at": datetime(2025, 10, 1, 12, 0, tzinfo=UTC),
                    }
                ],
            )
        with engine.begin() as connection, pytest.raises(StatementError, match="naive"):
            connection.execute(
                insert(items), [{"id": 2, "name": "b", "version": 1, "updated_at": datetime(2025, 10, 1, 12, 0)}]
            )
    finally:
        engine.dispose()
    noon_utc = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
    with SyncStore(url) as store:
        item, doc = store.item(1), store.doc(1)
    runner = AsyncRunner(url)
    try:
        async_item = runner.runner.run(runner.store.item(1))
    finally:
        runner.close()
    for record in (item, doc, async_item):
        assert record is not None
        assert record.updated_at == noon_utc
        assert record.updated_at.tzinfo is UTC


# -- portability -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (select_item(42), "WHERE items.id = %(item_id)s::INTEGER"),
        (select_doc(7), "FROM docs WHERE docs.id = %(doc_id)s::INTEGER"),
        (select_items_page(40, 20), "ORDER BY items.id LIMIT %(limit)s::INTEGER OFFSET %(offset)s::BIGINT"),
        (
            select_items_after(40, 20),
            "WHERE items.id > %(after_id)s::INTEGER ORDER BY items.id LIMIT %(limit)s::INTEGER",
        ),
        (select_item_count(), "SELECT count(*) AS count FROM items"),
    ],
    ids=["item", "doc", "page", "after", "count"],
)
def test_statements_compile_for_postgresql(query: Query, expected: str) -> None:
    compiled = query.statement.compile(dialect=POSTGRESQL)
    assert expected in " ".join(str(compiled).split())
    assert set(query.parameters) == set(compiled.params)  # every value this call binds, and no other


def test_tables_are_portable_ddl() -> None:
    ddl = " ".join(str(CreateTable(items).compile(dialect=POSTGRESQL)).split())
    assert "updated_at TIMESTAMP WITH TIME ZONE NOT NULL" in ddl
    assert "id INTEGER NOT NULL" in ddl and "SERIAL" not in ddl  # ids come from the seed
    assert "name TEXT NOT NULL" in ddl


# -- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_url", "engine_url"),
    [
        ("sqlite:////srv/data/twinport.sqlite3", "sqlite:////srv/data/twinport.sqlite3"),
        ("sqlite+aiosqlite:///rel.db", "sqlite:///rel.db"),  # accepted as before: the same file
        ("postgresql://u:p%40ss@db:5432/app", "postgresql+psycopg://u:p%40ss@db:5432/app"),
        ("postgresql+psycopg://db/app?sslmode=require", "postgresql+psycopg://db/app?sslmode=require"),
    ],
)
def test_urls_for_the_engine_keep_everything_but_the_driver(given_url: str, engine_url: str) -> None:
    assert sync_url(given_url) == engine_url


@pytest.mark.parametrize(
    "bad", ["mysql://db/app", "postgresql+psycopg2://db/app", "postgresql+asyncpg://db/app", "not a url", ""]
)
def test_other_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        sync_url(bad)


def test_the_default_is_an_absolute_sqlite_file_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_database_url("data") == f"sqlite:///{tmp_path}/data/twinport.sqlite3"
