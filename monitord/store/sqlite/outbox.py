"""The outbox: enqueue, claim in order per destination, recover another run's items, mark
the outcome, statistics (store.base.Store)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from monitord.notify.base import Notification
from monitord.store.base import OUTBOX_STATUSES, OutboxItem, OutboxStats
from monitord.store.sqlite.base import _INSERT_OUTBOX, SqliteBase
from monitord.store.sqlite.codec import (
    _outbox_item,
    _outbox_params,
    _OutboxParams,
    from_iso,
    to_iso,
)

# Due items, in order per destination within a thread: not while an older item to the same
# notifier and recipient in the thread is open (another recipient's held mail never holds a
# page). Notifiers in :busy (their send slots are full) are left for a later round.
_CLAIM_OUTBOX = (
    "UPDATE outbox SET status = 'sending', claimed_at = :now, updated = :now, "
    "attempts = attempts + 1, run_id = :run, attempt_started = NULL "
    "WHERE id IN (SELECT id FROM outbox o "
    "  WHERE status = 'pending' AND due_at <= :now "
    "    AND notifier NOT IN (SELECT value FROM json_each(:busy)) "
    "    AND NOT EXISTS (SELECT 1 FROM outbox p "
    "      WHERE p.notifier = o.notifier AND p.recipient = o.recipient "
    "        AND p.thread = o.thread AND p.id < o.id "
    "        AND p.status IN ('pending', 'sending')) "
    "  ORDER BY due_at, id LIMIT :limit) "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_CLAIM_GROUP = (
    "UPDATE outbox SET status = 'sending', claimed_at = :now, updated = :now, "
    "attempts = attempts + 1, run_id = :run, attempt_started = NULL "
    "WHERE status = 'pending' AND due_at <= :now AND grp = :grp "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_MARK_ATTEMPT = (
    "UPDATE outbox SET attempt_started = :now, updated = :now "
    "WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'sending' AND run_id = :run"
)
# Items another sender run claimed (before :before) and left SENDING: that run is gone (one
# daemon per store). Those whose send had not begun go back to pending, as if never claimed;
# the others may have been delivered: this run takes them over to resolve them.
_RECOVER_UNSTARTED = (
    "UPDATE outbox SET status = 'pending', attempts = max(attempts - 1, 0), run_id = NULL, "
    "updated = :now WHERE status = 'sending' AND run_id IS NOT :run "
    "AND claimed_at <= :before AND attempt_started IS NULL"
)
_RECOVER_UNCERTAIN = (
    "UPDATE outbox SET run_id = :run, claimed_at = :now, updated = :now "
    "WHERE status = 'sending' AND run_id IS NOT :run AND claimed_at <= :before "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_SELECT_OUTBOX = (
    "SELECT id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id FROM outbox WHERE (:status IS NULL OR status = :status) "
    "ORDER BY id DESC LIMIT :limit"
)
_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = :now, updated = :now, "
    "external_id = :external_id, last_error = NULL WHERE id = :id"
)
# Only a claimed item goes back to pending or to failed: one already sent stays sent.
_MARK_RETRY = (
    "UPDATE outbox SET status = 'pending', due_at = :due_at, last_error = :error, "
    "updated = :now WHERE id = :id AND status = 'sending'"
)
_MARK_FAILED = (
    "UPDATE outbox SET status = 'failed', last_error = :error, updated = :now "
    "WHERE id = :id AND status != 'sent'"
)
_OUTBOX_DEPTH = "SELECT COUNT(*), MIN(created) FROM outbox WHERE status IN ('pending', 'sending')"
_OUTBOX_FAILED = "SELECT COUNT(*) FROM outbox WHERE status = 'failed'"


class OutboxMixin(SqliteBase):
    def _enqueue_sync(self, rows: list[_OutboxParams]) -> int:
        with self._tx() as conn:
            before = conn.total_changes
            conn.executemany(_INSERT_OUTBOX, rows)
            return conn.total_changes - before

    async def enqueue(
        self,
        notifications: Sequence[Notification],
        now: datetime,
        due_at: datetime | None = None,
    ) -> int:
        now_s = to_iso(now)
        rows = _outbox_params(notifications, now_s, to_iso(due_at) if due_at else now_s)
        if not rows:
            return 0
        return await self._run("add notifications to the outbox", self._enqueue_sync, rows)

    def _claim_sync(self, params: dict[str, Any]) -> list[OutboxItem]:
        with self._tx() as conn:
            rows = conn.execute(_CLAIM_OUTBOX, params).fetchall()
        items = [_outbox_item(row) for row in rows]
        items.sort(key=lambda i: (i.due_at, i.id))
        return items

    async def claim_due(
        self, now: datetime, limit: int, run_id: str = "", busy: Collection[str] = ()
    ) -> list[OutboxItem]:
        if limit < 1:
            return []
        params = {
            "now": to_iso(now),
            "limit": limit,
            "run": run_id,
            "busy": json.dumps(sorted(busy)),
        }
        return await self._run("claim outbox items", self._claim_sync, params)

    def _claim_group_sync(self, group: str, now: str, run_id: str) -> list[OutboxItem]:
        with self._tx() as conn:
            params = {"now": now, "grp": group, "run": run_id}
            rows = conn.execute(_CLAIM_GROUP, params).fetchall()
        return sorted((_outbox_item(row) for row in rows), key=lambda i: (i.due_at, i.id))

    async def claim_group(self, group: str, now: datetime, run_id: str = "") -> list[OutboxItem]:
        return await self._run(
            "claim outbox items of a group", self._claim_group_sync, group, to_iso(now), run_id
        )

    async def mark_attempt(self, item_ids: Sequence[int], now: datetime, run_id: str) -> None:
        params = {"ids": json.dumps(list(item_ids)), "now": to_iso(now), "run": run_id}
        await self._run("record a delivery attempt", self._update_sync, _MARK_ATTEMPT, params)

    def _recover_sync(self, params: dict[str, Any]) -> list[OutboxItem]:
        with self._tx() as conn:
            conn.execute(_RECOVER_UNSTARTED, params)
            rows = conn.execute(_RECOVER_UNCERTAIN, params).fetchall()
        items = [dataclasses.replace(_outbox_item(row), uncertain=True) for row in rows]
        items.sort(key=lambda i: (i.due_at, i.id))
        return items

    async def recover(
        self, run_id: str, now: datetime, claimed_before: datetime
    ) -> list[OutboxItem]:
        params = {"run": run_id, "now": to_iso(now), "before": to_iso(claimed_before)}
        return await self._run("recover unfinished deliveries", self._recover_sync, params)

    async def mark_sent(self, item_id: int, now: datetime, external_id: str | None) -> None:
        params = {"id": item_id, "now": to_iso(now), "external_id": external_id}
        await self._run("record a delivery", self._update_sync, _MARK_SENT, params)

    async def mark_retry(self, item_id: int, now: datetime, due_at: datetime, error: str) -> None:
        params = {"id": item_id, "now": to_iso(now), "due_at": to_iso(due_at), "error": error}
        await self._run("record a delivery failure", self._update_sync, _MARK_RETRY, params)

    async def mark_failed(self, item_id: int, now: datetime, error: str) -> None:
        params = {"id": item_id, "now": to_iso(now), "error": error}
        await self._run("record a failed delivery", self._update_sync, _MARK_FAILED, params)

    def _stats_sync(self, now: datetime) -> OutboxStats:
        conn = self._db()
        depth, oldest = conn.execute(_OUTBOX_DEPTH).fetchone()
        (failed,) = conn.execute(_OUTBOX_FAILED).fetchone()
        age = max(0.0, (now - from_iso(oldest)).total_seconds()) if oldest else 0.0
        return OutboxStats(depth=int(depth), oldest_age_seconds=age, failed=int(failed))

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        to_iso(now)  # validates it is aware
        return await self._run("read outbox statistics", self._stats_sync, now)

    def _items_sync(self, status: str | None, limit: int) -> list[OutboxItem]:
        params = {"status": status, "limit": limit}
        return [_outbox_item(row) for row in self._db().execute(_SELECT_OUTBOX, params)]

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        if status is not None and status not in OUTBOX_STATUSES:
            raise ValueError(
                f"unknown outbox status {status!r}; use one of {', '.join(OUTBOX_STATUSES)}"
            )
        return await self._run("read the outbox", self._items_sync, status, limit)
