"""A read-only view of a SQLite store file, for another process than the daemon.

Notifications by notifier and status (the outbox), advisories seen and the patch-day queue
(tables added by later migrations; absent in an older store, so every query is guarded), meta
rows. A separate read-only connection is opened per call: WAL lets it read beside the daemon's
own connection without blocking it, and it takes no daemon lock and runs no migration.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from monitord.errors import StoreError
from monitord.store.base import QueuedItem, StoreExtras
from monitord.store.sqlite.base import STORE_BUSY_TIMEOUT
from monitord.store.sqlite.retention import PRUNED_META_PREFIX

PATCH_QUEUE_SHOWN = 500
"""Queued patch-day items listed at most (status page, JSON): a month's queue for every site is
far below it; past it the count is still exact."""

_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"
_NOTIFICATIONS = "SELECT notifier, status, COUNT(*) FROM outbox GROUP BY notifier, status"
_META_PREFIXED = "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?"
_ADVISORIES_SEEN = "SELECT COUNT(DISTINCT id) FROM advisory"
_QUEUE_PENDING = "SELECT COUNT(*) FROM patch_queue WHERE ticketed_at IS NULL"
_QUEUE_SHOWN = (
    "SELECT client, site, advisory, project, installed, fixed, link, patch_day "
    "FROM patch_queue WHERE ticketed_at IS NULL "
    "ORDER BY patch_day, client, site, advisory LIMIT ?"
)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute(_TABLES).fetchall()}


class SqliteReader:
    """store.base.StoreReader on the SQLite file at ``path``.

    Raises errors.StoreError (or ``OSError``) when the file cannot be read — e.g. the store of
    a ``DynamicUser=`` service read by another user.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=STORE_BUSY_TIMEOUT.total_seconds())

    def extras(self) -> StoreExtras:
        if not self.path.exists():
            return StoreExtras()
        try:
            return self._extras()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def meta(self, prefix: str) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            return self._meta(prefix)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        """Nothing to let go of: every call opens and closes its own connection."""

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot read the state store {self.path}: {exc}; check that this user may read "
            "the file and its directory (run as the daemon's user or root)"
        )

    def _extras(self) -> StoreExtras:
        conn = self._connect()
        try:
            tables = _tables(conn)
            notes: dict[tuple[str, str], int] = {}
            if "outbox" in tables:
                for notifier, status, n in conn.execute(_NOTIFICATIONS):
                    notes[(str(notifier), str(status))] = int(n)
            if "meta" in tables:
                # Rows a retention pass deleted still count (store.sqlite.retention).
                prefix = PRUNED_META_PREFIX
                for key, value in conn.execute(_META_PREFIXED, (len(prefix), prefix)):
                    status, _, notifier = str(key)[len(prefix) :].partition(".")
                    with contextlib.suppress(ValueError):
                        notes[(notifier, status)] = notes.get((notifier, status), 0) + int(value)
            seen: int | None = None
            if "advisory" in tables:
                (seen,) = conn.execute(_ADVISORIES_SEEN).fetchone()
            pending: int | None = None
            queue: list[QueuedItem] = []
            if "patch_queue" in tables:
                (pending,) = conn.execute(_QUEUE_PENDING).fetchone()
                rows = conn.execute(_QUEUE_SHOWN, (PATCH_QUEUE_SHOWN,)).fetchall()
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

    def _meta(self, prefix: str) -> dict[str, str]:
        conn = self._connect()
        try:
            if "meta" not in _tables(conn):
                return {}
            rows = conn.execute(_META_PREFIXED, (len(prefix), prefix)).fetchall()
            return {str(k): str(v) for k, v in rows}
        finally:
            conn.close()
