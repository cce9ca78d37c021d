"""The hours tables on a real SQLite file and a real PostgreSQL database (the same tests)."""

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
from tests.contracts.conftest import HoursStoreFactory

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
E = TimeEntry("freshdesk", "42", "acme", datetime(2026, 1, 5, 10, tzinfo=UTC), 3600, "T-1", "x")


def test_upsert_is_idempotent_edits_update_and_deletions_are_kept(
    hours_store_factory: HoursStoreFactory,
) -> None:
    with hours_store_factory() as store:
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


def test_an_issued_statement_is_kept_once(hours_store_factory: HoursStoreFactory) -> None:
    terms = Terms(start=Month(2026, 1), allowances=((Month(2026, 1), 600),))
    with hours_store_factory() as store:
        store.upsert(E, NOW)
        st = close("acme", terms, Month(2026, 1), store.entries("acme"), {}, NOW, LONDON)
        store.save_closed(st, LONDON)
        with pytest.raises(StoreError, match="already closed"):
            store.save_closed(st, LONDON)
    with hours_store_factory() as store:  # reopened: the migration is not run again
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


def test_pulls_warnings_and_estimates_are_kept(hours_store_factory: HoursStoreFactory) -> None:
    later = replace(E, source_id="43", at=datetime(2026, 1, 20, 9, tzinfo=UTC), billable=False)
    with hours_store_factory() as store:
        assert store.cursor("freshdesk") is None
        counts = store.apply_page("freshdesk", [E, later], (), ("freshdesk", "c-1"), NOW)
        assert counts == {"added": 2, "updated": 0, "unchanged": 0, "deleted": 0}
        assert store.upsert_many([E, replace(later, note="y")], NOW) == {
            "added": 0,
            "updated": 1,
            "unchanged": 1,
        }
        span = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC))
        assert store.live_ids("freshdesk", "acme", *span) == {"42"}
        counts = store.apply_page("freshdesk", (), ["42", "99"], ("freshdesk", "c-2"), NOW)
        assert counts["deleted"] == 1
        assert store.entry("freshdesk", "42") == replace(E, deleted=True)
        assert store.entry("freshdesk", "nope") is None
        assert store.live_ids("freshdesk", "acme", *span) == set()
        assert store.mark_warned("k1", "acme", Month(2026, 2), NOW) is True
        assert store.mark_warned("k1", "acme", Month(2026, 2), NOW) is False
        assert store.set_estimate("jira:ACME-2", "acme", 3600, "cli", NOW) is True
        assert store.set_estimate("jira:ACME-2", "acme", 3600, "jira", NOW) is False
        assert store.set_estimate("jira:ACME-1", "acme", 7200, "cli", NOW) is True
    with hours_store_factory() as store:
        assert store.cursor("freshdesk") == "c-2"
        assert store.warned("k1") and not store.warned("k2")
        assert [(e.ticket, e.seconds) for e in store.estimates()] == [
            ("jira:ACME-1", 7200),
            ("jira:ACME-2", 3600),
        ]
        assert [e.source_id for e in store.entries("acme")] == ["42", "43"]
        assert store.entries("acme")[1].billable is False


def test_a_naive_time_is_refused(hours_store_factory: HoursStoreFactory) -> None:
    with hours_store_factory() as store, pytest.raises(ValueError, match="no time zone"):
        store.upsert(replace(E, at=datetime(2026, 1, 5, 10)), NOW)
