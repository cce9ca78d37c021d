"""The outbox: enqueue, claim, record deliveries, recover (store.base.Store)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg

from monitord import limits
from monitord.notify.base import Notification
from monitord.store.base import OUTBOX_STATUSES, OutboxItem, OutboxStats
from monitord.store.postgres.base import NODE_LOCK_CLASS, PostgresBase
from monitord.store.postgres.codec import _outbox_args, _outbox_item, _sorted, _utc

_CLAIM_OUTBOX = (
    "UPDATE outbox SET status = 'sending', claimed_at = $1, updated = $1, "
    "attempts = attempts + 1, run_id = $2, attempt_started = NULL "
    "WHERE id IN (SELECT id FROM outbox o "
    "  WHERE status = 'pending' AND due_at <= $1 AND NOT (notifier = ANY($4::text[])) "
    "    AND NOT EXISTS (SELECT 1 FROM outbox p "
    "      WHERE p.notifier = o.notifier AND p.recipient = o.recipient "
    "        AND p.thread = o.thread AND p.id < o.id "
    "        AND p.status IN ('pending', 'sending')) "
    "  ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_CLAIM_GROUP = (
    "UPDATE outbox SET status = 'sending', claimed_at = $1, updated = $1, "
    "attempts = attempts + 1, run_id = $2, attempt_started = NULL "
    "WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND due_at <= $1 "
    "  AND grp = $3 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_MARK_ATTEMPT = (
    "UPDATE outbox SET attempt_started = $2, updated = $2 "
    "WHERE id = ANY($1::bigint[]) AND status = 'sending' AND run_id = $3"
)
# Whose claims a run may take back (claimed_at <= $3, the caller's cut-off, and):
# with no node ($4 = '', one daemon per database) or from a run of no node, any; else a claim
# of an earlier run of its own node (one daemon per node: that run is gone), of a gone node,
# or past limits.OUTBOX_LEASE ($5). A node is gone when its heartbeat is older than
# limits.NODE_DEAD_AFTER ($6), or when its node lock is not held (its session ended: the
# process died or lost the database) and it has missed a heartbeat ($7) — so a killed
# node's claims are taken within seconds, while a node that only reconnects (a database
# restart) has retaken its lock long before. A live node's claims in flight are never taken.
# A run id is "<node>/<token>": its node is what comes before the last "/".
_TAKEABLE = (
    "($4 = '' OR strpos(COALESCE(run_id, ''), '/') = 0 OR claimed_at <= $5 "
    "OR left(run_id, length(run_id) - strpos(reverse(run_id), '/')) = $4 "
    "OR EXISTS (SELECT 1 FROM cluster_node n "
    "  WHERE n.id = left(outbox.run_id, "
    "    length(outbox.run_id) - strpos(reverse(outbox.run_id), '/')) "
    "  AND (n.heartbeat < $6 OR (n.heartbeat < $7 "
    "    AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' "
    "      AND l.granted AND l.objsubid = 2 AND l.classid = $8::int4::oid "
    "      AND l.objid = hashtext(n.id)::oid "
    "      AND l.database = (SELECT oid FROM pg_database "
    "        WHERE datname = current_database()))))))"
)
_RECOVER_UNSTARTED = (
    "UPDATE outbox SET status = 'pending', attempts = GREATEST(attempts - 1, 0), "  # noqa: S608
    "run_id = NULL, updated = $2 WHERE status = 'sending' AND run_id IS DISTINCT FROM $1 "
    "AND claimed_at <= $3 AND attempt_started IS NULL AND " + _TAKEABLE
)
_RECOVER_UNCERTAIN = (
    "UPDATE outbox SET run_id = $1, claimed_at = $2, updated = $2 "  # noqa: S608
    "WHERE status = 'sending' AND run_id IS DISTINCT FROM $1 AND claimed_at <= $3 AND "
    + _TAKEABLE
    + " RETURNING id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id"
)
_SELECT_OUTBOX = (
    "SELECT id, key, notifier, notification, attempts, due_at, status, last_error, "
    "created, external_id FROM outbox WHERE ($1::text IS NULL OR status = $1) "
    "ORDER BY id DESC LIMIT $2"
)
_MARK_SENT = (
    "UPDATE outbox SET status = 'sent', sent_at = $2, updated = $2, external_id = $3, "
    "last_error = NULL WHERE id = $1"
)
_MARK_RETRY = (
    "UPDATE outbox SET status = 'pending', due_at = $3, last_error = $4, updated = $2 "
    "WHERE id = $1 AND status = 'sending'"
)
_MARK_FAILED = (
    "UPDATE outbox SET status = 'failed', last_error = $3, updated = $2 "
    "WHERE id = $1 AND status <> 'sent'"
)


class OutboxMixin(PostgresBase):
    async def enqueue(
        self,
        notifications: Sequence[Notification],
        now: datetime,
        due_at: datetime | None = None,
    ) -> int:
        at = _utc(now)
        rows = _outbox_args(notifications, at, _utc(due_at) if due_at else at)
        if not rows:
            return 0
        return await self._do(
            "add notifications to the outbox",
            lambda c: self._insert_outbox(c, rows),
            fenced=True,
        )

    async def claim_due(
        self, now: datetime, limit: int, run_id: str = "", busy: Collection[str] = ()
    ) -> list[OutboxItem]:
        if limit < 1:
            return []
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            rows = await conn.fetch(_CLAIM_OUTBOX, at, run_id, limit, sorted(busy))
            return _sorted([_outbox_item(r) for r in rows])

        return await self._do("claim outbox items", run)

    async def claim_group(self, group: str, now: datetime, run_id: str = "") -> list[OutboxItem]:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            rows = await conn.fetch(_CLAIM_GROUP, at, run_id, group)
            return _sorted([_outbox_item(r) for r in rows])

        return await self._do("claim outbox items of a group", run)

    async def mark_attempt(self, item_ids: Sequence[int], now: datetime, run_id: str) -> None:
        await self._exec(
            "record a delivery attempt", _MARK_ATTEMPT, list(item_ids), _utc(now), run_id
        )

    async def recover(
        self, run_id: str, now: datetime, claimed_before: datetime
    ) -> list[OutboxItem]:
        """See store.base.Store.recover; several nodes on one database: _TAKEABLE."""
        at, before = _utc(now), _utc(claimed_before)
        node = run_id.rpartition("/")[0]
        args = (
            run_id,
            at,
            before,
            node,
            at - limits.OUTBOX_LEASE,
            at - limits.NODE_DEAD_AFTER,
            at - limits.NODE_HEARTBEAT,
            NODE_LOCK_CLASS,
        )

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            await conn.execute(_RECOVER_UNSTARTED, *args)
            rows = await conn.fetch(_RECOVER_UNCERTAIN, *args)
            return _sorted([dataclasses.replace(_outbox_item(r), uncertain=True) for r in rows])

        return await self._do("recover unfinished deliveries", run)

    async def mark_sent(self, item_id: int, now: datetime, external_id: str | None) -> None:
        await self._exec("record a delivery", _MARK_SENT, item_id, _utc(now), external_id)

    async def mark_retry(self, item_id: int, now: datetime, due_at: datetime, error: str) -> None:
        await self._exec(
            "record a delivery failure", _MARK_RETRY, item_id, _utc(now), _utc(due_at), error
        )

    async def mark_failed(self, item_id: int, now: datetime, error: str) -> None:
        await self._exec("record a failed delivery", _MARK_FAILED, item_id, _utc(now), error)

    async def outbox_stats(self, now: datetime) -> OutboxStats:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> OutboxStats:
            depth, oldest = await conn.fetchrow(
                "SELECT COUNT(*), MIN(created) FROM outbox WHERE status IN ('pending', 'sending')"
            )
            failed = await conn.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
            age = max(0.0, (at - oldest).total_seconds()) if oldest is not None else 0.0
            return OutboxStats(depth=int(depth), oldest_age_seconds=age, failed=int(failed))

        return await self._do("read outbox statistics", run, tx=False)

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        if status is not None and status not in OUTBOX_STATUSES:
            raise ValueError(
                f"unknown outbox status {status!r}; use one of {', '.join(OUTBOX_STATUSES)}"
            )

        async def run(conn: asyncpg.Connection) -> list[OutboxItem]:
            return [_outbox_item(r) for r in await conn.fetch(_SELECT_OUTBOX, status, limit)]

        return await self._do("read the outbox", run, tx=False)
