"""Read-only aggregate queries on the SQLite store that the Store protocol does not offer yet.

Notifications by notifier and status (the outbox), advisories seen and the patch-day queue
(tables added by the advisories part; absent in an older store, so every query is guarded).
A separate read-only connection is opened per call, on a worker thread: WAL lets it read
beside the daemon's own connection without blocking it. When a PostgreSQL store arrives these
become Store methods.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from monitord.store.sqlite import PRUNED_META_PREFIX, STORE_BUSY_TIMEOUT

PATCH_QUEUE_SHOWN = 500
"""Queued patch-day items listed at most (status page, JSON): a month's queue for every site is
far below it; past it the count is still exact."""


@dataclass(frozen=True, slots=True)
class QueuedItem:
    client: str
    site: str
    advisory: str
    project: str
    installed: str
    fixed: str | None
    link: str
    patch_day: str


@dataclass(frozen=True, slots=True)
class StoreExtras:
    notifications: dict[tuple[str, str], int] = field(default_factory=dict)
    """(notifier, outbox status) -> items."""
    advisories_seen: int | None = None
    """Distinct advisories ever seen; None when the store has no advisory table."""
    patch_queue_pending: int | None = None
    """Items queued for a patch day and not yet ticketed; None without the table."""
    patch_queue: tuple[QueuedItem, ...] = ()


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(r[0]) for r in rows}


def read_extras(path: Path) -> StoreExtras:
    """The aggregates, read from the store file at ``path`` (blocking: run it on a thread)."""
    if not path.exists():
        return StoreExtras()
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=STORE_BUSY_TIMEOUT.total_seconds())
    try:
        tables = _tables(conn)
        notes: dict[tuple[str, str], int] = {}
        if "outbox" in tables:
            for notifier, status, n in conn.execute(
                "SELECT notifier, status, COUNT(*) FROM outbox GROUP BY notifier, status"
            ):
                notes[(str(notifier), str(status))] = int(n)
        if "meta" in tables:
            # Rows a retention pass deleted still count (monitord.store.sqlite.prune).
            prefix = PRUNED_META_PREFIX
            for key, value in conn.execute(
                "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ):
                status, _, notifier = str(key)[len(prefix) :].partition(".")
                with contextlib.suppress(ValueError):
                    notes[(notifier, status)] = notes.get((notifier, status), 0) + int(value)
        seen: int | None = None
        if "advisory" in tables:
            (seen,) = conn.execute("SELECT COUNT(DISTINCT id) FROM advisory").fetchone()
        pending: int | None = None
        queue: list[QueuedItem] = []
        if "patch_queue" in tables:
            (pending,) = conn.execute(
                "SELECT COUNT(*) FROM patch_queue WHERE ticketed_at IS NULL"
            ).fetchone()
            rows = conn.execute(
                "SELECT client, site, advisory, project, installed, fixed, link, patch_day "
                "FROM patch_queue WHERE ticketed_at IS NULL "
                "ORDER BY patch_day, client, site, advisory LIMIT ?",
                (PATCH_QUEUE_SHOWN,),
            ).fetchall()
            queue = [
                QueuedItem(
                    client=str(r[0]),
                    site=str(r[1]),
                    advisory=str(r[2]),
                    project=str(r[3]),
                    installed=str(r[4]),
                    fixed=None if r[5] is None else str(r[5]),
                    link=str(r[6]),
                    patch_day=str(r[7]),
                )
                for r in rows
            ]
        return StoreExtras(notes, seen, pending, tuple(queue))
    finally:
        conn.close()


def read_meta(path: Path, prefix: str) -> dict[str, str]:
    """Meta rows whose key starts with ``prefix`` (blocking; a read-only connection).

    Raises ``sqlite3.Error`` (or ``OSError``) when the file cannot be read — e.g. the store of
    a ``DynamicUser=`` service read by another user.
    """
    if not path.exists():
        return {}
    uri = path.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=STORE_BUSY_TIMEOUT.total_seconds())
    try:
        if "meta" not in _tables(conn):
            return {}
        rows = conn.execute(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        ).fetchall()
        return {str(k): str(v) for k, v in rows}
    finally:
        conn.close()
