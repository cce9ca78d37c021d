"""Retention: what SqliteStore.prune deletes, in the same batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from monitord.store.base import Pruned
from monitord.store.postgres.base import PostgresBase
from monitord.store.postgres.codec import _affected, _utc
from monitord.store.sqlite import PRUNE_BATCH, PRUNED_META_PREFIX

_PRUNE_OUTBOX = (
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
    "WHERE status = $3 AND updated < $1 LIMIT $2) RETURNING notifier"
)
_COUNT_PRUNED = (
    "INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + excluded.value::bigint)::text"
)
_PRUNE_INCIDENTS = (
    "DELETE FROM incident WHERE id IN (SELECT id FROM incident "
    "WHERE started < $1 AND ended IS NOT NULL AND ended < $1 ORDER BY started LIMIT $2)"
)
_PRUNE_QUEUE = (
    "DELETE FROM patch_queue WHERE (site, advisory) IN (SELECT site, advisory FROM patch_queue "
    "WHERE ticketed_at IS NOT NULL AND ticketed_at < $1 LIMIT $2)"
)
_PRUNE_APPLIED = (
    "DELETE FROM ticket_applied WHERE (notifier, key) IN (SELECT notifier, key "
    "FROM ticket_applied WHERE at < $1 LIMIT $2)"
)
_RESOLVED_TICKETS = "SELECT id FROM ticket WHERE status = 'resolved' AND resolved_at < $1 LIMIT $2"
_PRUNE_TICKET_REFS = (
    "DELETE FROM ticket_ref WHERE (notifier, thread) IN (SELECT notifier, thread "
    "FROM ticket_ref WHERE resolved_at IS NOT NULL AND resolved_at < $1 LIMIT $2)"
)


class RetentionMixin(PostgresBase):
    async def _prune_all(
        self, doing: str, fn: Callable[[asyncpg.Connection], Awaitable[int]]
    ) -> int:
        total = 0
        while True:
            n = await self._do(doing, fn)
            total += n
            if n < PRUNE_BATCH:
                return total

    def _prune_outbox(
        self, status: str, cutoff: datetime
    ) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def run(conn: asyncpg.Connection) -> int:
            rows = await conn.fetch(_PRUNE_OUTBOX, cutoff, PRUNE_BATCH, status)
            counts: dict[str, int] = {}
            for r in rows:
                counts[str(r["notifier"])] = counts.get(str(r["notifier"]), 0) + 1
            if counts:
                await conn.executemany(
                    _COUNT_PRUNED,
                    [
                        (f"{PRUNED_META_PREFIX}{status}.{n}", str(c))
                        for n, c in sorted(counts.items())
                    ],
                )
            return len(rows)

        return run

    @staticmethod
    def _prune_sql(sql: str, cutoff: datetime) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def run(conn: asyncpg.Connection) -> int:
            return _affected(await conn.execute(sql, cutoff, PRUNE_BATCH))

        return run

    @staticmethod
    def _prune_tickets(cutoff: datetime) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def run(conn: asyncpg.Connection) -> int:
            ids = [r["id"] for r in await conn.fetch(_RESOLVED_TICKETS, cutoff, PRUNE_BATCH)]
            if ids:
                await conn.execute("DELETE FROM ticket_note WHERE ticket_id = ANY($1)", ids)
                await conn.execute("DELETE FROM ticket WHERE id = ANY($1)", ids)
            refs = _affected(await conn.execute(_PRUNE_TICKET_REFS, cutoff, PRUNE_BATCH))
            return max(len(ids), refs)

        return run

    async def prune(
        self,
        *,
        sent_before: datetime,
        failed_before: datetime,
        incidents_before: datetime,
    ) -> Pruned:
        """What SqliteStore.prune deletes, with the same retention and batches."""
        sent, failed, inc = _utc(sent_before), _utc(failed_before), _utc(incidents_before)
        return Pruned(
            sent=await self._prune_all(
                "prune delivered notifications", self._prune_outbox("sent", sent)
            ),
            failed=await self._prune_all(
                "prune failed notifications", self._prune_outbox("failed", failed)
            ),
            incidents=await self._prune_all(
                "prune ended incidents", self._prune_sql(_PRUNE_INCIDENTS, inc)
            ),
            patch_items=await self._prune_all(
                "prune ticketed patch-day items", self._prune_sql(_PRUNE_QUEUE, inc)
            ),
            ticket_applied=await self._prune_all(
                "prune ticket records", self._prune_sql(_PRUNE_APPLIED, sent)
            ),
            tickets=await self._prune_all("prune resolved tickets", self._prune_tickets(inc)),
        )
