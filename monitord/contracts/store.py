"""Time entries and issued statements, in the daemon's SQLite file (``state.path``); on
PostgreSQL (``state.url``) the same in store.postgres.hours, and store.side.open_time_entries
opens the one the configuration names.

The tables are this module's own, created by its own versioned migrations (recorded in
``contracts_schema_version``), so they never collide with the daemon's schema. Entries are
keyed by (source, source id): a re-import or a re-pull of the same id updates the entry, and
one deleted at its source is kept, marked deleted, so a closed month that billed it can be
corrected in the open month. An issued statement is written once and never changed.

The store is synchronous (sqlite3, write-ahead log, short transactions): commands call it
directly; the daemon calls it from its services.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol
from zoneinfo import ZoneInfo

from monitord.contracts.ledger import Statement, TimeEntry, statement_from_json, statement_json
from monitord.contracts.models import Month
from monitord.errors import StoreError
from monitord.store.sqlite.side import SideMigration, SideTables

Outcome = Literal["added", "updated", "unchanged"]


Migration = SideMigration


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "time entries and issued hours statements",
        (
            """CREATE TABLE hours_entry (
                source TEXT NOT NULL,
                source_id TEXT NOT NULL,
                client TEXT NOT NULL,
                at TEXT NOT NULL,
                seconds INTEGER NOT NULL CHECK (seconds >= 0),
                ticket TEXT,
                note TEXT NOT NULL,
                person TEXT,
                billable INTEGER NOT NULL,
                deleted_at TEXT,
                created TEXT NOT NULL,
                updated TEXT NOT NULL,
                PRIMARY KEY (source, source_id)
            )""",
            "CREATE INDEX hours_entry_client ON hours_entry (client, at)",
            """CREATE TABLE hours_statement (
                client TEXT NOT NULL,
                month TEXT NOT NULL,
                closed_at TEXT NOT NULL,
                statement TEXT NOT NULL,
                PRIMARY KEY (client, month)
            )""",
        ),
    ),
    Migration(
        2,
        "helpdesk pull cursors, hours warnings sent, ticket estimates",
        (
            """CREATE TABLE hours_cursor (
                source TEXT PRIMARY KEY,
                cursor TEXT NOT NULL,
                pulled_at TEXT NOT NULL
            )""",
            """CREATE TABLE hours_warning (
                key TEXT PRIMARY KEY,
                client TEXT NOT NULL,
                month TEXT NOT NULL,
                sent_at TEXT NOT NULL
            )""",
            """CREATE TABLE hours_estimate (
                ticket TEXT PRIMARY KEY,
                client TEXT NOT NULL,
                seconds INTEGER NOT NULL CHECK (seconds > 0),
                origin TEXT NOT NULL,
                updated TEXT NOT NULL
            )""",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version


@dataclass(frozen=True, slots=True)
class Estimate:
    """How long a ticket's work is expected to take, before it starts."""

    ticket: str
    """``<notifier>:<id>`` (``jira:ACME-12``), or ``local:<n>`` for a local ticket."""
    client: str
    seconds: int
    origin: str
    """``cli`` (``monitord hours estimate``) or the helpdesk notifier it was read from."""


class TimeEntryStore(Protocol):
    """What the ledger's callers need; the helpdesk pulls write through the same methods."""

    def upsert(self, entry: TimeEntry, now: datetime) -> Outcome: ...

    def delete(self, source: str, source_id: str, now: datetime) -> bool: ...

    def entries(self, client: str) -> list[TimeEntry]: ...

    def closed(self, client: str) -> dict[Month, Statement]: ...

    def save_closed(self, st: Statement, zone: ZoneInfo) -> None: ...


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware datetime")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _row(entry: TimeEntry) -> tuple[object, ...]:
    """The columns that make an entry what it is (compared to tell an update from a repeat)."""
    return (
        entry.client,
        _iso(entry.at),
        entry.seconds,
        entry.ticket,
        entry.note,
        entry.person,
        int(entry.billable),
    )


class SqliteTimeEntryStore(SideTables):
    """:class:`TimeEntryStore` on the state store's SQLite file."""

    SCHEMA_TABLE: ClassVar[str] = "contracts_schema_version"
    WHAT: ClassVar[str] = "the hours tables"
    MIGRATIONS: ClassVar[tuple[SideMigration, ...]] = MIGRATIONS

    def __init__(self, path: Path) -> None:
        # Used from worker threads, one call at a time (the daemon keeps the ledger's reads
        # and writes off its event loop), so not tied to the thread that opened it.
        super().__init__(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row

    def __enter__(self) -> SqliteTimeEntryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ entries

    def upsert(self, entry: TimeEntry, now: datetime) -> Outcome:
        with self.transaction():
            return self._upsert(entry, now)

    def upsert_many(self, entries: Iterable[TimeEntry], now: datetime) -> dict[Outcome, int]:
        """All of them in one transaction; how many were added, updated and unchanged."""
        counts: dict[Outcome, int] = {"added": 0, "updated": 0, "unchanged": 0}
        with self.transaction():
            for e in entries:
                counts[self._upsert(e, now)] += 1
        return counts

    def _upsert(self, entry: TimeEntry, now: datetime) -> Outcome:
        old = self._conn.execute(
            "SELECT client, at, seconds, ticket, note, person, billable, deleted_at "
            "FROM hours_entry WHERE source = ? AND source_id = ?",
            entry.key,
        ).fetchone()
        new = _row(entry)
        deleted = _iso(now) if entry.deleted else None
        if old is None:
            self._conn.execute(
                "INSERT INTO hours_entry (source, source_id, client, at, seconds, ticket, note, "
                "person, billable, deleted_at, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*entry.key, *new, deleted, _iso(now), _iso(now)),
            )
            return "added"
        if tuple(old)[:7] == new and (old["deleted_at"] is not None) == entry.deleted:
            return "unchanged"
        if entry.deleted:
            deleted = old["deleted_at"] or _iso(now)
        self._conn.execute(
            "UPDATE hours_entry SET client = ?, at = ?, seconds = ?, ticket = ?, note = ?, "
            "person = ?, billable = ?, deleted_at = ?, updated = ? "
            "WHERE source = ? AND source_id = ?",
            (*new, deleted, _iso(now), *entry.key),
        )
        return "updated"

    def delete(self, source: str, source_id: str, now: datetime) -> bool:
        """Mark an entry deleted (kept for the ledger); False when there is none to delete."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE hours_entry SET deleted_at = ?, updated = ? "
                "WHERE source = ? AND source_id = ? AND deleted_at IS NULL",
                (_iso(now), _iso(now), source, source_id),
            )
            return cur.rowcount == 1

    def entry(self, source: str, source_id: str) -> TimeEntry | None:
        row = self._conn.execute(
            "SELECT * FROM hours_entry WHERE source = ? AND source_id = ?", (source, source_id)
        ).fetchone()
        return None if row is None else _entry(row)

    def entries(self, client: str) -> list[TimeEntry]:
        """Every entry of the client, deleted ones included, in time order."""
        rows = self._conn.execute(
            "SELECT * FROM hours_entry WHERE client = ? ORDER BY at, source, source_id",
            (client,),
        ).fetchall()
        return [_entry(r) for r in rows]

    # ------------------------------------------------------------ helpdesk pulls

    def cursor(self, source: str) -> str | None:
        """Where the last pull of ``source`` stopped (the source's own form), or None."""
        row = self._conn.execute(
            "SELECT cursor FROM hours_cursor WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else str(row["cursor"])

    def apply_page(
        self,
        source: str,
        entries: Iterable[TimeEntry],
        deleted: Iterable[str],
        cursor: tuple[str, str] | None,
        now: datetime,
    ) -> dict[str, int]:
        """One page of a pull in one transaction: its entries added or updated, the ids the
        source deleted marked deleted, and the cursor ``(name, value)`` moved on (when given) — so a crash
        repeats at most this page, which changes nothing the second time."""
        counts = {"added": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        with self.transaction() as conn:
            for e in entries:
                counts[self._upsert(e, now)] += 1
            for source_id in deleted:
                cur = conn.execute(
                    "UPDATE hours_entry SET deleted_at = ?, updated = ? "
                    "WHERE source = ? AND source_id = ? AND deleted_at IS NULL",
                    (_iso(now), _iso(now), source, source_id),
                )
                counts["deleted"] += cur.rowcount
            if cursor is not None:
                conn.execute(
                    "INSERT INTO hours_cursor (source, cursor, pulled_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, "
                    "pulled_at = excluded.pulled_at",
                    (*cursor, _iso(now)),
                )
        return counts

    def live_ids(self, source: str, client: str, since: datetime, until: datetime) -> set[str]:
        """Ids of ``source``'s entries for ``client`` dated in ``[since, until)``, not deleted
        (a pull that lists a whole window marks the ones it no longer sees deleted)."""
        rows = self._conn.execute(
            "SELECT source_id FROM hours_entry WHERE source = ? AND client = ? "
            "AND at >= ? AND at < ? AND deleted_at IS NULL",
            (source, client, _iso(since), _iso(until)),
        ).fetchall()
        return {str(r["source_id"]) for r in rows}

    # ------------------------------------------------------------ warnings and estimates

    def warned(self, key: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM hours_warning WHERE key = ?", (key,)).fetchone()
        return row is not None

    def mark_warned(self, key: str, client: str, month: Month, now: datetime) -> bool:
        """Record a warning as sent; False when it already was (it is never sent twice)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO hours_warning (key, client, month, sent_at) "
                "VALUES (?, ?, ?, ?)",
                (key, client, str(month), _iso(now)),
            )
            return cur.rowcount == 1

    def set_estimate(
        self, ticket: str, client: str, seconds: int, origin: str, now: datetime
    ) -> bool:
        """Keep a ticket's estimate (the latest one counts); False when it is unchanged."""
        with self.transaction() as conn:
            old = conn.execute(
                "SELECT client, seconds FROM hours_estimate WHERE ticket = ?", (ticket,)
            ).fetchone()
            if old is not None and (old["client"], old["seconds"]) == (client, seconds):
                return False
            conn.execute(
                "INSERT INTO hours_estimate (ticket, client, seconds, origin, updated) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket) DO UPDATE SET "
                "client = excluded.client, seconds = excluded.seconds, "
                "origin = excluded.origin, updated = excluded.updated",
                (ticket, client, seconds, origin, _iso(now)),
            )
            return True

    def estimates(self) -> list[Estimate]:
        rows = self._conn.execute(
            "SELECT ticket, client, seconds, origin FROM hours_estimate ORDER BY ticket"
        ).fetchall()
        return [Estimate(r["ticket"], r["client"], r["seconds"], r["origin"]) for r in rows]

    # ------------------------------------------------------------ statements

    def closed(self, client: str) -> dict[Month, Statement]:
        rows = self._conn.execute(
            "SELECT month, statement FROM hours_statement WHERE client = ? ORDER BY month",
            (client,),
        ).fetchall()
        return {
            Month.parse(r["month"]): statement_from_json(json.loads(r["statement"])) for r in rows
        }

    def save_closed(self, st: Statement, zone: ZoneInfo) -> None:
        """Keep an issued statement; one already issued for that month is never replaced."""
        if not st.closed:
            raise ValueError("only a closed statement is kept")
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO hours_statement (client, month, closed_at, statement) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        st.client,
                        str(st.month),
                        _iso(st.as_of),
                        json.dumps(statement_json(st, zone), sort_keys=True),
                    ),
                )
        except sqlite3.IntegrityError:
            raise StoreError(
                f"{st.month} of {st.client} was already closed; an issued statement never changes"
            ) from None


def _entry(row: sqlite3.Row | Any) -> TimeEntry:
    """An entry from its row (an sqlite3.Row, or an asyncpg Record: an instant already)."""
    at = row["at"]
    return TimeEntry(
        source=row["source"],
        source_id=row["source_id"],
        client=row["client"],
        at=at if isinstance(at, datetime) else datetime.fromisoformat(at),
        seconds=row["seconds"],
        ticket=row["ticket"],
        note=row["note"],
        person=row["person"],
        billable=bool(row["billable"]),
        deleted=row["deleted_at"] is not None,
    )
