"""Copy an SQLite store into an empty PostgreSQL store (``monitord state migrate --to URL``).

Both schemas are brought to the latest version first (the same version numbers mean the same
tables on both backends, store.pg_migrations; the hours ledger's and the report's tables
likewise, each with its own schema version, store.side), then every row of COPIED_TABLES and
SIDE_TABLES is copied in ONE PostgreSQL transaction, read from the file COPY_CHUNK rows at a
time, ids included (outbox items keep their ids and keys, so a resend after
the move carries the same Message-ID, dedup key and ticket lookup). The target must be empty:
a copy never merges into a store in use. No daemon may run on either store meanwhile: the
source's lock file is held, and the copy refuses a target on which any node holds its node
lock; it holds the target's migration lock, so a node starting meanwhile waits for the copy.
The cluster's tables (CLUSTER_TABLES) are not copied: a SQLite store has no nodes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitord.errors import StoreError
from monitord.store.daemon_lock import DaemonLock
from monitord.store.pg_migrations import MIGRATION_LOCK_KEY
from monitord.store.postgres import (
    DAEMON_LOCK_KEY,
    PostgresStore,
    node_lock_holders,
    pg_connect,
)
from monitord.store.sqlite import SqliteStore, from_iso

COPIED_TABLES: tuple[str, ...] = (
    "meta",
    "check_state",
    "latest_result",
    "incident",
    "outbox",
    "advisory",
    "advisory_decision",
    "patch_queue",
    "ticket",
    "ticket_note",
    "ticket_ref",
    "ticket_applied",
)
"""The tables of the daemon's store (store.base), in an order that keeps foreign keys valid."""

SIDE_TABLES: tuple[str, ...] = (
    "hours_entry",
    "hours_statement",
    "hours_cursor",
    "hours_warning",
    "hours_estimate",
    "uptime_check",
    "uptime_hour",
    "uptime_result",
    "report_sent",
)
"""The hours ledger's (contracts.store) and the report's (report.store) own tables."""

COPY_CHUNK = 10_000
"""Rows read from the file and sent to PostgreSQL at a time: 13 months of uptime roll-ups of
10,000 checks are ~95 million rows, which must not be held in memory at once."""

CLUSTER_TABLES: tuple[str, ...] = ("cluster_node", "cluster_leader", "node_result")
"""Tables of several nodes on PostgreSQL (store.pg_migrations 7): empty in a SQLite store
(its migration 7 makes them only to keep the versions alike), never copied."""

SEQUENCES: tuple[tuple[str, str], ...] = (
    ("outbox", "id"),
    ("ticket", "id"),
    ("ticket_note", "id"),
    ("uptime_check", "id"),
)
"""Serial columns whose sequence must continue after the copied ids."""


@dataclass(frozen=True, slots=True)
class Copied:
    rows: dict[str, int]
    """Rows copied per table."""


class _Source:
    """The SQLite file, read-only, a table at a time in chunks (from the event loop's worker
    threads, one at a time)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def close(self) -> None:
        self._conn.close()

    def open(self, table: str) -> tuple[list[str], sqlite3.Cursor]:
        cur = self._conn.execute(f"SELECT * FROM {table}")  # noqa: S608 (a fixed table name)
        return [d[0] for d in cur.description], cur


def _converter(pg_type: str) -> Any:
    if pg_type == "timestamp with time zone":
        return lambda v: from_iso(v) if v is not None else None
    if pg_type == "boolean":
        return lambda v: bool(v) if v is not None else None
    return lambda v: v


async def copy_sqlite_to_postgres(source: Path, url: str, now: datetime) -> Copied:
    """Copy the store at ``source`` into the empty database at ``url``; see the module."""
    if not await asyncio.to_thread(source.exists):
        raise StoreError(
            f"there is no SQLite store at {source}; give the file to copy with --from PATH"
        )
    lock = DaemonLock(source)
    lock.acquire(started=now, config=source.parent)
    try:
        # Bring both schemas to the latest version (no-ops when they are).
        sqlite_store = SqliteStore(source)
        await sqlite_store.open()
        await sqlite_store.close()
        await asyncio.to_thread(_side_schemas, source)
        target = PostgresStore(url)
        await target.open()
        where = target.where
        await target.close()
        await asyncio.to_thread(_pg_side_schemas, url)
        data = await asyncio.to_thread(_Source, source)
        try:
            return await _write(url, where, data)
        finally:
            data.close()
    finally:
        lock.release()


def _side_schemas(path: Path) -> None:
    """The side tables of the file at their latest version (made when a part never ran)."""
    from monitord.contracts.store import SqliteTimeEntryStore
    from monitord.report.store import ReportStore

    SqliteTimeEntryStore(path).close()
    ReportStore(path).close()


def _pg_side_schemas(url: str) -> None:
    from monitord.store.postgres.hours import PgTimeEntryStore
    from monitord.store.postgres.report import PgReportStore

    PgTimeEntryStore(url).close()
    PgReportStore(url).close()


async def _write(url: str, where: str, data: _Source) -> Copied:
    conn = await pg_connect(url, application="monitord state migrate")
    try:
        async with conn.transaction():
            # A node starting now waits in its migration for this copy to commit.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            holder = await node_lock_holders(conn)
            if holder is None and not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock($1)", DAEMON_LOCK_KEY
            ):
                holder = "a monitord of an earlier version"
            if holder is not None:
                raise StoreError(
                    f"a monitord is running on {where} ({holder}): stop every node using it "
                    "before copying a store into it"
                )
            for table in COPIED_TABLES + SIDE_TABLES:
                if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):  # noqa: S608
                    raise StoreError(
                        f"the PostgreSQL store {where} is not empty (table {table} has rows): "
                        "a copy never merges into a store in use. Give --to an empty "
                        "database (createdb), or drop this one's tables first."
                    )
            rows: dict[str, int] = {}
            for table in COPIED_TABLES + SIDE_TABLES:
                rows[table] = await _copy_table(conn, where, data, table)
            for table, column in SEQUENCES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
                    f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )
        return Copied(rows=rows)
    finally:
        await conn.close()


async def _copy_table(conn: Any, where: str, data: _Source, table: str) -> int:
    """Every row of ``table`` from the file into the same table in PostgreSQL; how many."""
    columns, cur = await asyncio.to_thread(data.open, table)
    types = dict(
        await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
    )
    missing = [c for c in columns if c not in types]
    if missing:
        raise StoreError(
            f"the PostgreSQL store {where} has no column {table}.{missing[0]}; "
            "this monitord's two schemas disagree (report it as a bug)"
        )
    convert = [_converter(types[c]) for c in columns]
    total = 0
    while True:
        records = await asyncio.to_thread(cur.fetchmany, COPY_CHUNK)
        if not records:
            return total
        converted = [tuple(f(v) for f, v in zip(convert, r, strict=True)) for r in records]
        await conn.copy_records_to_table(table, records=converted, columns=columns)
        total += len(converted)
