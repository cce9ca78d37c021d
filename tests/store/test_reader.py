"""The read-only view of a store (store.sqlite.reader, store.postgres.reader): what another
process reads, and what it says when it cannot (the contract suite has what both show)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.errors import StoreError
from monitord.store.base import StoreExtras, StoreReader
from monitord.store.postgres.reader import APPLICATION, PgReader
from monitord.store.sqlite import SqliteStore
from monitord.store.sqlite.reader import SqliteReader
from tests.helpers.postgres import PgServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLOSE_SEEN_WITHIN_S = 10
"""How long the server may take to drop a closed session from pg_stat_activity."""


def test_no_store_yet_reads_empty(tmp_path: Path) -> None:
    reader: StoreReader = SqliteReader(tmp_path / "absent.sqlite3")
    assert reader.extras() == StoreExtras()
    assert reader.meta("x.") == {}
    assert not (tmp_path / "absent.sqlite3").exists()


def test_a_file_that_is_not_a_store_says_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"not a database, " * 100)
    reader = SqliteReader(path)
    with pytest.raises(StoreError, match=r"cannot read the state store .*check that this user"):
        reader.extras()
    with pytest.raises(StoreError, match="cannot read the state store"):
        reader.meta("x.")


async def test_reads_beside_an_open_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    await store.open()
    try:
        await store.set_meta("hb.a", "1")
        await store.set_meta("hb.b", "2")
        await store.set_meta("other", "3")
        reader = SqliteReader(path)
        assert reader.meta("hb.") == {"hb.a": "1", "hb.b": "2"}
        extras = reader.extras()
        assert extras.notifications == {}
        assert extras.advisories_seen == 0
        assert extras.patch_queue_pending == 0
    finally:
        await store.close()


def test_an_unreadable_postgresql_store_says_what_to_check(postgres_server: PgServer) -> None:
    """A database that is not there: the error names it without the password and says what
    to check; the reader can be closed after."""
    url = postgres_server.url("nosuchdb").replace("postgres@", "postgres:s3cret@")
    reader = PgReader(url)
    try:
        with pytest.raises(StoreError) as err:
            reader.extras()
        assert "Check that PostgreSQL is running" in str(err.value)
        assert "nosuchdb" in str(err.value)
        assert "s3cret" not in str(err.value)
        with pytest.raises(StoreError, match="could not read stored values"):
            reader.meta("x.")
    finally:
        reader.close()
    with pytest.raises(StoreError, match="is closed"):
        reader.meta("x.")


def test_a_reader_kept_open_reads_on_one_connection(
    postgres_server: PgServer, postgres_url: str
) -> None:
    """The daemon's API keeps one reader: its reads share one connection, not one each, and
    closing it lets go of that connection."""
    database = postgres_url.rsplit("/", 1)[1]

    def readers() -> int:
        return int(
            postgres_server.psql(
                "SELECT COUNT(*) FROM pg_stat_activity "
                f"WHERE application_name = '{APPLICATION}' AND datname = '{database}'"
            )
        )

    reader = PgReader(postgres_url)
    try:
        assert readers() == 0  # opened on first use
        for _ in range(3):
            reader.extras()
            reader.meta("x.")
        assert readers() == 1
    finally:
        reader.close()
    deadline = time.monotonic() + CLOSE_SEEN_WITHIN_S
    while readers() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server's bookkeeping of an ended session, polled
    assert readers() == 0
