"""Opening the SQLite store: versioned migrations, WAL, refusing a newer schema, clear errors."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.errors import StoreError
from monitord.store import SqliteStore
from monitord.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, migrate

NOW = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)

TABLES = {"schema_version", "check_state", "latest_result", "incident", "meta", "outbox"}
"""The core tables (the first migration); later migrations add their own, checked by their own tests."""


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows} - {"sqlite_sequence"}


def versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]


async def test_open_creates_directories_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "monitord.sqlite3"
    store = SqliteStore(path)
    await store.open()
    try:
        assert path.exists()
        assert tables(path) >= TABLES
        assert versions(path) == [m.version for m in MIGRATIONS]
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await store.close()


async def test_reopen_keeps_data_and_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.set_meta("feed:etag", '"abc"')
    await store.close()

    again = SqliteStore(path)
    await again.open()
    try:
        assert await again.get_meta("feed:etag") == '"abc"'
        assert versions(path) == [m.version for m in MIGRATIONS]
    finally:
        await again.close()


async def test_open_twice_and_close_twice_are_harmless(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    await store.open()
    await store.set_meta("k", "v")
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.get_meta("k")


async def test_a_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (LATEST_VERSION + 1, "from the future", NOW.isoformat()),
        )
    newer = SqliteStore(path)
    with pytest.raises(StoreError) as info:
        await newer.open()
    message = str(info.value)
    assert f"schema version {LATEST_VERSION + 1}" in message
    assert "Upgrade monitord" in message
    assert str(path) in message
    with pytest.raises(StoreError, match="not open"):
        await newer.load_states()


def test_a_later_migration_upgrades_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path, NOW) == LATEST_VERSION
    conn.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    upgraded = (
        *MIGRATIONS,
        Migration(LATEST_VERSION + 1, "meta notes", ("ALTER TABLE meta ADD COLUMN note TEXT",)),
    )
    assert migrate(conn, path, NOW, upgraded) == LATEST_VERSION + 1
    assert conn.execute("SELECT key, value, note FROM meta").fetchall() == [("kept", "yes", None)]
    # Running again is a no-op.
    assert migrate(conn, path, NOW, upgraded) == LATEST_VERSION + 1
    conn.close()
    assert versions(path) == [*(m.version for m in MIGRATIONS), LATEST_VERSION + 1]


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, NOW)
    broken = (
        *MIGRATIONS,
        Migration(LATEST_VERSION + 1, "broken", ("CREATE TABLE half (a)", "THIS IS NOT SQL")),
    )
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, path, NOW, broken)
    assert not conn.in_transaction
    conn.close()
    assert "half" not in tables(path)
    assert versions(path)[-1] == LATEST_VERSION


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite\n" * 100)
    with pytest.raises(StoreError, match="not a monitord state store"):
        await SqliteStore(path).open()


async def test_an_uncreatable_directory_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"state\.path"):
        await SqliteStore(blocker / "sub" / "s.sqlite3").open()


async def test_using_a_store_before_open_is_an_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    with pytest.raises(StoreError, match="call open"):
        await store.write("k", {}, None, now=NOW)
    with pytest.raises(StoreError, match="call open"):
        await store.claim_due(NOW, 10)


async def test_naive_datetimes_are_rejected(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        with pytest.raises(ValueError, match="no time zone"):
            await store.write("k", {}, None, now=datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="no time zone"):
            await store.claim_due(datetime(2026, 1, 1), 1)
    finally:
        await store.close()
