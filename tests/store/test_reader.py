"""The read-only view of a store file (store.sqlite.reader): what another process reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.errors import StoreError
from monitord.store.base import StoreExtras, StoreReader
from monitord.store.sqlite import SqliteStore
from monitord.store.sqlite.reader import SqliteReader

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


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
