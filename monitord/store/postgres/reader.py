"""A read-only view of the PostgreSQL store (``state.url``), for another process than the daemon
or for the daemon's API: store.base.StoreReader, the counterpart of store.sqlite.reader.

The same figures with the same meaning as on SQLite: notifications by notifier and status (the
outbox, plus the rows a retention pass deleted, counted in meta under PRUNED_META_PREFIX by
store.postgres.retention), advisories seen, the patch-day queue, meta rows by prefix. Every
query is guarded by the tables present, so a database no daemon has migrated yet reads empty.

Synchronous, through store.postgres.side.SyncPostgres: one connection, opened on first use and
kept until :meth:`PgReader.close` (the daemon's API keeps one reader for every scrape; a
command closes it after one read). The reads of one call share one read-only snapshot. It
takes no daemon or node lock and runs no migration.
"""

from __future__ import annotations

import contextlib
import threading

import asyncpg

from monitord.errors import StoreError
from monitord.redact import display_url
from monitord.store.base import QueuedItem, StoreExtras
from monitord.store.postgres.side import SyncPostgres
from monitord.store.sqlite import PRUNED_META_PREFIX
from monitord.store.sqlite.reader import PATCH_QUEUE_SHOWN

_TABLES = (
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_name = ANY($1::text[])"
)
_WANTED = ["outbox", "meta", "advisory", "patch_queue"]
_NOTIFICATIONS = "SELECT notifier, status, COUNT(*) FROM outbox GROUP BY notifier, status"
_META_PREFIXED = "SELECT key, value FROM meta WHERE substr(key, 1, $1) = $2"
_ADVISORIES_SEEN = "SELECT COUNT(DISTINCT id) FROM advisory"
_QUEUE_PENDING = "SELECT COUNT(*) FROM patch_queue WHERE ticketed_at IS NULL"
_QUEUE_SHOWN = (
    "SELECT client, site, advisory, project, installed, fixed, link, patch_day "
    "FROM patch_queue WHERE ticketed_at IS NULL "
    "ORDER BY patch_day, client, site, advisory LIMIT $1"
)

APPLICATION = "monitord reader"
"""The connection's application_name (pg_stat_activity shows who reads)."""


async def _tables(conn: asyncpg.Connection) -> set[str]:
    return {str(r[0]) for r in await conn.fetch(_TABLES, _WANTED)}


async def _meta(conn: asyncpg.Connection, prefix: str) -> dict[str, str]:
    rows = await conn.fetch(_META_PREFIXED, len(prefix), prefix)
    return {str(r[0]): str(r[1]) for r in rows}


async def _notifications(conn: asyncpg.Connection, tables: set[str]) -> dict[tuple[str, str], int]:
    notes: dict[tuple[str, str], int] = {}
    if "outbox" in tables:
        for notifier, status, n in await conn.fetch(_NOTIFICATIONS):
            notes[(str(notifier), str(status))] = int(n)
    if "meta" in tables:
        # Rows a retention pass deleted still count (store.postgres.retention).
        for key, value in (await _meta(conn, PRUNED_META_PREFIX)).items():
            status, _, notifier = key[len(PRUNED_META_PREFIX) :].partition(".")
            with contextlib.suppress(ValueError):
                notes[(notifier, status)] = notes.get((notifier, status), 0) + int(value)
    return notes


async def _extras(conn: asyncpg.Connection) -> StoreExtras:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        tables = await _tables(conn)
        notes = await _notifications(conn, tables)
        seen: int | None = None
        if "advisory" in tables:
            seen = int(await conn.fetchval(_ADVISORIES_SEEN))
        pending: int | None = None
        queue: list[QueuedItem] = []
        if "patch_queue" in tables:
            pending = int(await conn.fetchval(_QUEUE_PENDING))
            queue = [
                QueuedItem(
                    client=str(r[0]),
                    site=str(r[1]),
                    advisory=str(r[2]),
                    project=str(r[3]),
                    installed=str(r[4]),
                    fixed=None if r[5] is None else str(r[5]),
                    link=str(r[6]),
                    # As the SQLite store keeps it (store.sqlite.codec.to_iso).
                    patch_day=r[7].isoformat(timespec="microseconds"),
                )
                for r in await conn.fetch(_QUEUE_SHOWN, PATCH_QUEUE_SHOWN)
            ]
        return StoreExtras(notes, seen, pending, tuple(queue))


async def _meta_guarded(conn: asyncpg.Connection, prefix: str) -> dict[str, str]:
    if "meta" not in await _tables(conn):
        return {}
    return await _meta(conn, prefix)


class PgReader:
    """store.base.StoreReader on the PostgreSQL database at ``url``.

    Raises errors.StoreError, naming the database without its password and saying what to
    check, when it cannot be read. Safe to call from several threads (calls are serialised
    on its one connection); :meth:`close` when done (harmless twice; a closed reader reads
    no more).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = display_url(url)
        self._pg: SyncPostgres | None = None
        self._closed = False
        self._lock = threading.Lock()

    def _conn(self) -> SyncPostgres:
        with self._lock:
            if self._pg is None:
                if self._closed:
                    raise StoreError(f"the reader of the state store {self.where} is closed")
                self._pg = SyncPostgres(self.url, APPLICATION)
            return self._pg

    def extras(self) -> StoreExtras:
        return self._conn().call("read the notification counts and the patch-day queue", _extras)

    def meta(self, prefix: str) -> dict[str, str]:
        return self._conn().call("read stored values", lambda c: _meta_guarded(c, prefix))

    def close(self) -> None:
        with self._lock:
            pg, self._pg = self._pg, None
            self._closed = True
        if pg is not None:
            pg.close()
