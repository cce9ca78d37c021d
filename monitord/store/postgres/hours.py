"""The hours ledger in the PostgreSQL store (``state.url``): :class:`PgTimeEntryStore` has the
methods and meaning of contracts.store.SqliteTimeEntryStore, so every node of a cluster reads
and writes one ledger (only the leader pulls and warns; any node's ``monitord hours`` command
sees the same entries).

Synchronous, like the SQLite one, through store.postgres.side.SyncPostgres (the store's own
driver on a loop thread of its own). Its tables are versioned in ``contracts_schema_version``
with the SQLite tables' version numbers (PG_MIGRATIONS mirrors contracts.store.MIGRATIONS).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import asyncpg

from monitord.contracts.ledger import Statement, TimeEntry, statement_from_json, statement_json
from monitord.contracts.models import Month
from monitord.contracts.store import (
    MIGRATIONS,
    Estimate,
    Migration,
    Outcome,
    SqliteTimeEntryStore,
    _entry,
    _iso,
)
from monitord.errors import StoreError
from monitord.store.postgres.side import PgSideTables
from monitord.store.sqlite.side import SideMigration

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        MIGRATIONS[0].description,
        (
            """CREATE TABLE hours_entry (
                source text NOT NULL,
                source_id text NOT NULL,
                client text NOT NULL,
                at timestamptz NOT NULL,
                seconds integer NOT NULL CHECK (seconds >= 0),
                ticket text,
                note text NOT NULL,
                person text,
                billable boolean NOT NULL,
                deleted_at timestamptz,
                created timestamptz NOT NULL,
                updated timestamptz NOT NULL,
                PRIMARY KEY (source, source_id)
            )""",
            "CREATE INDEX hours_entry_client ON hours_entry (client, at)",
            """CREATE TABLE hours_statement (
                client text NOT NULL,
                month text NOT NULL,
                closed_at timestamptz NOT NULL,
                statement text NOT NULL,
                PRIMARY KEY (client, month)
            )""",
        ),
    ),
    Migration(
        2,
        MIGRATIONS[1].description,
        (
            """CREATE TABLE hours_cursor (
                source text PRIMARY KEY,
                cursor text NOT NULL,
                pulled_at timestamptz NOT NULL
            )""",
            """CREATE TABLE hours_warning (
                key text PRIMARY KEY,
                client text NOT NULL,
                month text NOT NULL,
                sent_at timestamptz NOT NULL
            )""",
            """CREATE TABLE hours_estimate (
                ticket text PRIMARY KEY,
                client text NOT NULL,
                seconds integer NOT NULL CHECK (seconds > 0),
                origin text NOT NULL,
                updated timestamptz NOT NULL
            )""",
        ),
    ),
)
"""The same tables on PostgreSQL, version for version (instants as timestamptz, flags as
boolean; ``monitord state migrate`` converts)."""


_PG_UPDATE = (
    "UPDATE hours_entry SET client = $1, at = $2, seconds = $3, ticket = $4, note = $5, "
    "person = $6, billable = $7, deleted_at = $8, updated = $9 "
    "WHERE source = $10 AND source_id = $11"
)
_PG_DELETE = (
    "UPDATE hours_entry SET deleted_at = $1, updated = $1 "
    "WHERE source = $2 AND source_id = $3 AND deleted_at IS NULL"
)


def _pg_row(entry: TimeEntry) -> tuple[object, ...]:
    """:func:`_row` in PostgreSQL's types (an instant, a boolean)."""
    _iso(entry.at)  # refuses a naive time, as on SQLite
    return (
        entry.client,
        entry.at.astimezone(UTC),
        entry.seconds,
        entry.ticket,
        entry.note,
        entry.person,
        entry.billable,
    )


async def _pg_upsert(conn: asyncpg.Connection, entry: TimeEntry, now: datetime) -> Outcome:
    old = await conn.fetchrow(
        "SELECT client, at, seconds, ticket, note, person, billable, deleted_at "
        "FROM hours_entry WHERE source = $1 AND source_id = $2",
        *entry.key,
    )
    new = _pg_row(entry)
    deleted = now if entry.deleted else None
    if old is None:
        await conn.execute(
            "INSERT INTO hours_entry (source, source_id, client, at, seconds, ticket, note, "
            "person, billable, deleted_at, created, updated) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            *entry.key,
            *new,
            deleted,
            now,
        )
        return "added"
    if tuple(old)[:7] == new and (old["deleted_at"] is not None) == entry.deleted:
        return "unchanged"
    if entry.deleted:
        deleted = old["deleted_at"] or now
    await conn.execute(_PG_UPDATE, *new, deleted, now, *entry.key)
    return "updated"


def _pg_count(status: str) -> int:
    """Rows an asyncpg command status names (``UPDATE 1``, ``INSERT 0 1``)."""
    return int(status.rsplit(" ", 1)[-1])


class PgTimeEntryStore(PgSideTables):
    """:class:`TimeEntryStore` in the PostgreSQL store (``state.url``): the same methods and
    meaning as :class:`SqliteTimeEntryStore`, so every node of a cluster reads one ledger."""

    SCHEMA_TABLE: ClassVar[str] = SqliteTimeEntryStore.SCHEMA_TABLE
    WHAT: ClassVar[str] = SqliteTimeEntryStore.WHAT
    APPLICATION: ClassVar[str] = "monitord hours"
    MIGRATIONS: ClassVar[tuple[SideMigration, ...]] = PG_MIGRATIONS

    # ------------------------------------------------------------ entries

    def upsert(self, entry: TimeEntry, now: datetime) -> Outcome:
        return self.upsert_many_outcomes([entry], now)[0]

    def upsert_many(self, entries: Iterable[TimeEntry], now: datetime) -> dict[Outcome, int]:
        """All of them in one transaction; how many were added, updated and unchanged."""
        counts: dict[Outcome, int] = {"added": 0, "updated": 0, "unchanged": 0}
        for o in self.upsert_many_outcomes(list(entries), now):
            counts[o] += 1
        return counts

    def upsert_many_outcomes(self, entries: list[TimeEntry], now: datetime) -> list[Outcome]:
        _iso(now)

        async def op(conn: asyncpg.Connection) -> list[Outcome]:
            async with conn.transaction():
                return [await _pg_upsert(conn, e, now) for e in entries]

        return self.pg.call("store time entries", op)

    def delete(self, source: str, source_id: str, now: datetime) -> bool:
        """Mark an entry deleted (kept for the ledger); False when there is none to delete."""

        async def op(conn: asyncpg.Connection) -> bool:
            return _pg_count(await conn.execute(_PG_DELETE, now, source, source_id)) == 1

        return self.pg.call("delete a time entry", op)

    def entry(self, source: str, source_id: str) -> TimeEntry | None:
        async def op(conn: asyncpg.Connection) -> Any:
            return await conn.fetchrow(
                "SELECT * FROM hours_entry WHERE source = $1 AND source_id = $2",
                source,
                source_id,
            )

        row = self.pg.call("read a time entry", op)
        return None if row is None else _entry(row)

    def entries(self, client: str) -> list[TimeEntry]:
        """Every entry of the client, deleted ones included, in time order."""

        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT * FROM hours_entry WHERE client = $1 "
                    'ORDER BY at, source COLLATE "C", source_id COLLATE "C"',
                    client,
                )
            )

        return [_entry(r) for r in self.pg.call("read time entries", op)]

    # ------------------------------------------------------------ helpdesk pulls

    def cursor(self, source: str) -> str | None:
        """Where the last pull of ``source`` stopped (the source's own form), or None."""

        async def op(conn: asyncpg.Connection) -> Any:
            return await conn.fetchval("SELECT cursor FROM hours_cursor WHERE source = $1", source)

        value = self.pg.call("read a pull cursor", op)
        return None if value is None else str(value)

    def apply_page(
        self,
        source: str,
        entries: Iterable[TimeEntry],
        deleted: Iterable[str],
        cursor: tuple[str, str] | None,
        now: datetime,
    ) -> dict[str, int]:
        """:meth:`SqliteTimeEntryStore.apply_page`: one page of a pull in one transaction."""
        todo, gone = list(entries), list(deleted)
        _iso(now)

        async def op(conn: asyncpg.Connection) -> dict[str, int]:
            counts = {"added": 0, "updated": 0, "unchanged": 0, "deleted": 0}
            async with conn.transaction():
                for e in todo:
                    counts[await _pg_upsert(conn, e, now)] += 1
                for source_id in gone:
                    counts["deleted"] += _pg_count(
                        await conn.execute(_PG_DELETE, now, source, source_id)
                    )
                if cursor is not None:
                    await conn.execute(
                        "INSERT INTO hours_cursor (source, cursor, pulled_at) "
                        "VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE SET "
                        "cursor = excluded.cursor, pulled_at = excluded.pulled_at",
                        *cursor,
                        now,
                    )
            return counts

        return self.pg.call("store a page of time entries", op)

    def live_ids(self, source: str, client: str, since: datetime, until: datetime) -> set[str]:
        """Ids of ``source``'s entries for ``client`` dated in ``[since, until)``, not deleted."""
        _iso(since), _iso(until)

        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT source_id FROM hours_entry WHERE source = $1 AND client = $2 "
                    "AND at >= $3 AND at < $4 AND deleted_at IS NULL",
                    source,
                    client,
                    since,
                    until,
                )
            )

        return {str(r["source_id"]) for r in self.pg.call("read time entry ids", op)}

    # ------------------------------------------------------------ warnings and estimates

    def warned(self, key: str) -> bool:
        async def op(conn: asyncpg.Connection) -> bool:
            return bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM hours_warning WHERE key = $1)", key
                )
            )

        return self.pg.call("read the hours warnings sent", op)

    def mark_warned(self, key: str, client: str, month: Month, now: datetime) -> bool:
        """Record a warning as sent; False when it already was (it is never sent twice)."""

        async def op(conn: asyncpg.Connection) -> bool:
            status = await conn.execute(
                "INSERT INTO hours_warning (key, client, month, sent_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (key) DO NOTHING",
                key,
                client,
                str(month),
                now,
            )
            return _pg_count(status) == 1

        return self.pg.call("record an hours warning", op)

    def set_estimate(
        self, ticket: str, client: str, seconds: int, origin: str, now: datetime
    ) -> bool:
        """Keep a ticket's estimate (the latest one counts); False when it is unchanged."""

        async def op(conn: asyncpg.Connection) -> bool:
            async with conn.transaction():
                old = await conn.fetchrow(
                    "SELECT client, seconds FROM hours_estimate WHERE ticket = $1 FOR UPDATE",
                    ticket,
                )
                if old is not None and (old["client"], old["seconds"]) == (client, seconds):
                    return False
                await conn.execute(
                    "INSERT INTO hours_estimate (ticket, client, seconds, origin, updated) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket) DO UPDATE SET "
                    "client = excluded.client, seconds = excluded.seconds, "
                    "origin = excluded.origin, updated = excluded.updated",
                    ticket,
                    client,
                    seconds,
                    origin,
                    now,
                )
                return True

        return self.pg.call("store an estimate", op)

    def estimates(self) -> list[Estimate]:
        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT ticket, client, seconds, origin FROM hours_estimate "
                    'ORDER BY ticket COLLATE "C"'
                )
            )

        rows = self.pg.call("read the estimates", op)
        return [Estimate(r["ticket"], r["client"], r["seconds"], r["origin"]) for r in rows]

    # ------------------------------------------------------------ statements

    def closed(self, client: str) -> dict[Month, Statement]:
        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT month, statement FROM hours_statement WHERE client = $1 "
                    'ORDER BY month COLLATE "C"',
                    client,
                )
            )

        rows = self.pg.call("read the issued statements", op)
        return {
            Month.parse(r["month"]): statement_from_json(json.loads(r["statement"])) for r in rows
        }

    def save_closed(self, st: Statement, zone: ZoneInfo) -> None:
        """Keep an issued statement; one already issued for that month is never replaced."""
        if not st.closed:
            raise ValueError("only a closed statement is kept")
        text = json.dumps(statement_json(st, zone), sort_keys=True)
        _iso(st.as_of)

        async def op(conn: asyncpg.Connection) -> bool:
            status = await conn.execute(
                "INSERT INTO hours_statement (client, month, closed_at, statement) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (client, month) DO NOTHING",
                st.client,
                str(st.month),
                st.as_of,
                text,
            )
            return _pg_count(status) == 1

        if not self.pg.call("store an issued statement", op):
            raise StoreError(
                f"{st.month} of {st.client} was already closed; an issued statement never changes"
            )
