"""Retention: delete what is finished and older than its retention, a batch at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from monitord.store.base import Pruned
from monitord.store.sqlite.base import SqliteBase
from monitord.store.sqlite.codec import to_iso

PRUNE_BATCH = 2000
"""Rows deleted per transaction by a retention pass: each batch holds the store's thread (and
the file's write lock) for milliseconds, so probe writes and sends interleave with a long pass."""

PRUNED_META_PREFIX = "pruned.outbox."
"""Meta rows ``pruned.outbox.<status>.<notifier>``: outbox rows pruned so far, so the
notifications-sent/failed counters (/metrics) never go down when old rows are deleted."""

# Retention: only finished rows, oldest first, a batch at a time.
# The status is literal (not bound), as the partial indexes outbox_sent/failed need; named, as
# the planner would otherwise walk every delivered row through outbox_claimed.
_PRUNE_OUTBOX = {
    "sent": (
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_sent "
        "WHERE status = 'sent' AND updated < ?1 LIMIT ?2) RETURNING notifier"
    ),
    "failed": (
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_failed "
        "WHERE status = 'failed' AND updated < ?1 LIMIT ?2) RETURNING notifier"
    ),
}
_COUNT_PRUNED = (
    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + CAST(?2 AS INTEGER) "
    "AS TEXT)"
)
_PRUNE_INCIDENTS = (
    "DELETE FROM incident WHERE id IN (SELECT id FROM incident "
    "WHERE started < ?1 AND ended IS NOT NULL AND ended < ?1 ORDER BY started LIMIT ?2)"
)
_PRUNE_QUEUE = (
    "DELETE FROM patch_queue WHERE rowid IN (SELECT rowid FROM patch_queue "
    "WHERE ticketed_at IS NOT NULL AND ticketed_at < ?1 LIMIT ?2)"
)
_PRUNE_APPLIED = (
    "DELETE FROM ticket_applied WHERE rowid IN (SELECT rowid FROM ticket_applied "
    "WHERE at < ?1 LIMIT ?2)"
)

_RESOLVED_TICKETS = "SELECT id FROM ticket WHERE status = 'resolved' AND resolved_at < ? LIMIT ?"
_PRUNE_TICKET_REFS = (
    "DELETE FROM ticket_ref WHERE rowid IN (SELECT rowid FROM ticket_ref "
    "WHERE resolved_at IS NOT NULL AND resolved_at < ?1 LIMIT ?2)"
)


class RetentionMixin(SqliteBase):
    def _prune_outbox_sync(self, status: str, cutoff: str) -> int:
        with self._tx() as conn:
            rows = conn.execute(_PRUNE_OUTBOX[status], (cutoff, PRUNE_BATCH)).fetchall()
            counts: dict[str, int] = {}
            for (notifier,) in rows:
                counts[str(notifier)] = counts.get(str(notifier), 0) + 1
            conn.executemany(
                _COUNT_PRUNED,
                [(f"{PRUNED_META_PREFIX}{status}.{n}", str(c)) for n, c in sorted(counts.items())],
            )
            return len(rows)

    def _prune_tickets_sync(self, cutoff: str) -> int:
        with self._tx() as conn:
            ids = [r[0] for r in conn.execute(_RESOLVED_TICKETS, (cutoff, PRUNE_BATCH))]
            conn.executemany("DELETE FROM ticket_note WHERE ticket_id = ?", [(i,) for i in ids])
            conn.executemany("DELETE FROM ticket WHERE id = ?", [(i,) for i in ids])
            refs = conn.execute(_PRUNE_TICKET_REFS, (cutoff, PRUNE_BATCH)).rowcount
            return max(len(ids), refs)

    def _prune_sync(self, sql: str, cutoff: str) -> int:
        with self._tx() as conn:
            return conn.execute(sql, (cutoff, PRUNE_BATCH)).rowcount

    async def _prune_all(self, doing: str, fn: Callable[[], int]) -> int:
        total = 0
        while True:
            n = await self._run(doing, fn)
            total += n
            if n < PRUNE_BATCH:
                return total

    async def prune(
        self,
        *,
        sent_before: datetime,
        failed_before: datetime,
        incidents_before: datetime,
    ) -> Pruned:
        """Delete what is finished and older than its retention (config ``state.retention``):
        outbox rows delivered before ``sent_before`` (and the ticket operations' idempotency
        records of that age), rows given up on before ``failed_before``, incidents ended and
        patch-day items ticketed, local tickets (with their notes) and external ticket
        references resolved before ``incidents_before``. Pending and sending rows, open
        incidents and unresolved tickets are never touched. In batches of PRUNE_BATCH rows, one transaction
        each."""
        sent_s, failed_s, inc_s = (
            to_iso(sent_before),
            to_iso(failed_before),
            to_iso(incidents_before),
        )
        return Pruned(
            sent=await self._prune_all(
                "prune delivered notifications",
                lambda: self._prune_outbox_sync("sent", sent_s),
            ),
            failed=await self._prune_all(
                "prune failed notifications",
                lambda: self._prune_outbox_sync("failed", failed_s),
            ),
            incidents=await self._prune_all(
                "prune ended incidents", lambda: self._prune_sync(_PRUNE_INCIDENTS, inc_s)
            ),
            patch_items=await self._prune_all(
                "prune ticketed patch-day items", lambda: self._prune_sync(_PRUNE_QUEUE, inc_s)
            ),
            ticket_applied=await self._prune_all(
                "prune ticket records", lambda: self._prune_sync(_PRUNE_APPLIED, sent_s)
            ),
            tickets=await self._prune_all(
                "prune resolved tickets", lambda: self._prune_tickets_sync(inc_s)
            ),
        )
