"""Copy an SQLite store into an empty PostgreSQL store (``monitord state migrate --to URL``).

Both schemas are brought to the latest version first (the same version numbers mean the same
tables on both backends, store.pg_migrations), then every row of COPIED_TABLES is copied in ONE
PostgreSQL transaction, ids included (outbox items keep their ids and keys, so a resend after
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

NOT_COPIED: tuple[str, ...] = (
    "the hours ledger (monitord.contracts.store) and the report and uptime tables "
    "(monitord.report.store)",
)
"""What stays in the SQLite file: those services do not run on PostgreSQL yet."""

CLUSTER_TABLES: tuple[str, ...] = ("cluster_node", "cluster_leader", "node_result")
"""Tables of several nodes on PostgreSQL (store.pg_migrations 7): empty in a SQLite store
(its migration 7 makes them only to keep the versions alike), never copied."""

SEQUENCES: tuple[tuple[str, str], ...] = (("outbox", "id"), ("ticket", "id"), ("ticket_note", "id"))
"""Serial columns whose sequence must continue after the copied ids."""


@dataclass(frozen=True, slots=True)
class Copied:
    rows: dict[str, int]
    """Rows copied per table."""


def _read_sqlite(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for table in COPIED_TABLES:
            cur = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 (a fixed table name)
            out[table] = ([d[0] for d in cur.description], cur.fetchall())
        return out
    finally:
        conn.close()


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
        target = PostgresStore(url)
        await target.open()
        where = target.where
        await target.close()
        data = await asyncio.to_thread(_read_sqlite, source)
        return await _write(url, where, data)
    finally:
        lock.release()


async def _write(
    url: str, where: str, data: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
) -> Copied:
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
            for table in COPIED_TABLES:
                if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):  # noqa: S608
                    raise StoreError(
                        f"the PostgreSQL store {where} is not empty (table {table} has rows): "
                        "a copy never merges into a store in use. Give --to an empty "
                        "database (createdb), or drop this one's tables first."
                    )
            rows: dict[str, int] = {}
            for table in COPIED_TABLES:
                columns, records = data[table]
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
                converted = [tuple(f(v) for f, v in zip(convert, r, strict=True)) for r in records]
                if converted:
                    await conn.copy_records_to_table(table, records=converted, columns=columns)
                rows[table] = len(converted)
            for table, column in SEQUENCES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
                    f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )
        return Copied(rows=rows)
    finally:
        await conn.close()
