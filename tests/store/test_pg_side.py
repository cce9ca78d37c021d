"""The synchronous facade over asyncpg (store.postgres.side) on a real PostgreSQL: calls from
many threads are served one at a time on the one connection; a restarted server is
reconnected to; a newer schema of a part's tables is refused; closing twice is harmless."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest

from monitord.contracts.ledger import TimeEntry
from monitord.contracts.store import LATEST_VERSION
from monitord.errors import StoreError
from monitord.store.postgres.hours import PgTimeEntryStore
from monitord.store.postgres.side import SyncPostgres
from tests.helpers.postgres import PgServer

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)
E = TimeEntry("csv", "0", "acme", datetime(2026, 1, 5, 10, tzinfo=UTC), 60, None, "x")


def test_calls_from_many_threads_share_one_connection(postgres_url: str) -> None:
    with PgTimeEntryStore(postgres_url) as store:
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(
                pool.map(lambda i: store.upsert(replace(E, source_id=str(i)), NOW), range(64))
            )
        assert outcomes == ["added"] * 64
        assert len(store.entries("acme")) == 64
        assert store.schema_version() == LATEST_VERSION


def test_a_restarted_server_is_reconnected_to(postgres_server: PgServer, postgres_url: str) -> None:
    with PgTimeEntryStore(postgres_url) as store:
        store.upsert(E, NOW)
        postgres_server.restart()  # every session is ended
        assert store.entries("acme") == [E]
        assert store.upsert(replace(E, seconds=120), NOW) == "updated"


def test_a_failed_call_says_what_and_the_next_one_reconnects(postgres_url: str) -> None:
    pg = SyncPostgres(postgres_url, "test")
    try:

        async def broken(conn: asyncpg.Connection) -> None:
            await conn.execute("SELECT * FROM no_such_table")

        with pytest.raises(StoreError, match="could not read a thing: UndefinedTableError"):
            pg.call("read a thing", broken)

        async def one(conn: asyncpg.Connection) -> int:
            return int(await conn.fetchval("SELECT 1"))

        assert pg.call("read one", one) == 1
    finally:
        pg.close()
        pg.close()
    with pytest.raises(StoreError, match="is closed"):
        pg.call("read one", one)


def test_a_newer_schema_of_the_hours_tables_is_refused(
    postgres_server: PgServer, postgres_url: str
) -> None:
    PgTimeEntryStore(postgres_url).close()
    db = postgres_url.rsplit("/", 1)[1]
    postgres_server.psql(
        "INSERT INTO contracts_schema_version VALUES (99, 'from the future', now())", db
    )
    with pytest.raises(StoreError, match="schema version 99, but this monitord only knows"):
        PgTimeEntryStore(postgres_url)
