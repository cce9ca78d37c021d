"""The hours tables on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.contracts.ledger import Terms, TimeEntry, close
from monitord.contracts.models import Month
from monitord.contracts.store import LATEST_VERSION, SqliteTimeEntryStore
from monitord.errors import StoreError
from monitord.store.sqlite import SqliteStore

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
E = TimeEntry("freshdesk", "42", "acme", datetime(2026, 1, 5, 10, tzinfo=UTC), 3600, "T-1", "x")


def test_upsert_is_idempotent_edits_update_and_deletions_are_kept(tmp_path: Path) -> None:
    with SqliteTimeEntryStore(tmp_path / "s.sqlite3") as store:
        assert store.upsert(E, NOW) == "added"
        assert store.upsert(E, NOW) == "unchanged"
        assert store.upsert(replace(E, seconds=5400), NOW) == "updated"
        assert store.delete("freshdesk", "42", NOW) is True
        assert store.delete("freshdesk", "42", NOW) is False
        assert store.entries("acme") == [replace(E, seconds=5400, deleted=True)]
        assert store.upsert(replace(E, seconds=5400, deleted=True), NOW) == "unchanged"
        assert store.upsert(replace(E, seconds=5400), NOW) == "updated"  # back at the source
        assert store.entries("acme") == [replace(E, seconds=5400)]
        assert store.entries("riverside") == []


def test_an_issued_statement_is_kept_once(tmp_path: Path) -> None:
    terms = Terms(start=Month(2026, 1), allowances=((Month(2026, 1), 600),))
    path = tmp_path / "s.sqlite3"
    with SqliteTimeEntryStore(path) as store:
        store.upsert(E, NOW)
        st = close("acme", terms, Month(2026, 1), store.entries("acme"), {}, NOW, LONDON)
        store.save_closed(st, LONDON)
        with pytest.raises(StoreError, match="already closed"):
            store.save_closed(st, LONDON)
    with SqliteTimeEntryStore(path) as store:  # reopened: the migration is not run again
        assert store.schema_version() == LATEST_VERSION
        assert store.closed("acme") == {Month(2026, 1): st}


async def test_the_daemons_store_opens_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with SqliteTimeEntryStore(path) as store:
        store.upsert(E, NOW)
    daemon = SqliteStore(path)
    await daemon.open()
    await daemon.close()
    with SqliteTimeEntryStore(path) as store:
        assert store.entries("acme") == [E]


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="is not a monitord state store"):
        SqliteTimeEntryStore(path)
