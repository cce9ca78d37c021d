"""Security advisories, decisions and the patch-day queue (store.base.SecurityStore)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg

from monitord.store.base import AdvisoryRow, DecisionRow, PatchItemRow, SecurityChanges
from monitord.store.postgres.base import PostgresBase
from monitord.store.postgres.codec import _opt, _outbox_args, _utc
from monitord.store.sqlite.codec import _dumps

_UPSERT_ADVISORY = (
    "INSERT INTO advisory (id, source, fingerprint, data, first_seen, last_seen, history) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (id, source) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "data = excluded.data, last_seen = excluded.last_seen, history = excluded.history"
)
_UPSERT_DECISION = (
    "INSERT INTO advisory_decision "
    "(advisory, site, client, fingerprint, installed, decision, patch_day, reason, decided_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (advisory, site) DO UPDATE SET client = excluded.client, "
    "fingerprint = excluded.fingerprint, installed = excluded.installed, "
    "decision = excluded.decision, patch_day = excluded.patch_day, reason = excluded.reason, "
    "decided_at = excluded.decided_at"
)
_SELECT_QUEUE = (
    "SELECT site, advisory, client, project, installed, fixed, link, patch_day, queued_at, "
    "ticketed_at FROM patch_queue WHERE (NOT $1::boolean OR ticketed_at IS NULL) "
    "ORDER BY patch_day, site, advisory"
)
_UPSERT_QUEUE = (
    "INSERT INTO patch_queue "
    "(site, advisory, client, project, installed, fixed, link, patch_day, queued_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (site, advisory) DO UPDATE SET client = excluded.client, "
    "project = excluded.project, installed = excluded.installed, fixed = excluded.fixed, "
    "link = excluded.link, patch_day = excluded.patch_day "
    "WHERE patch_queue.ticketed_at IS NULL"
)
_DELETE_QUEUE = "DELETE FROM patch_queue WHERE site = $1 AND advisory = $2 AND ticketed_at IS NULL"
_TICKET_QUEUE = (
    "UPDATE patch_queue SET ticketed_at = $1 WHERE site = $2 AND advisory = $3 "
    "AND ticketed_at IS NULL"
)


class SecurityMixin(PostgresBase):
    async def load_advisories(self) -> list[AdvisoryRow]:
        async def run(conn: asyncpg.Connection) -> list[AdvisoryRow]:
            rows = await conn.fetch(
                "SELECT id, source, fingerprint, data, first_seen, last_seen, history "
                "FROM advisory ORDER BY id, source"
            )
            return [
                AdvisoryRow(
                    id=r["id"],
                    source=r["source"],
                    fingerprint=r["fingerprint"],
                    data=json.loads(r["data"]),
                    first_seen=r["first_seen"].astimezone(UTC),
                    last_seen=r["last_seen"].astimezone(UTC),
                    history=tuple(json.loads(r["history"])),
                )
                for r in rows
            ]

        return await self._do("read advisories", run, tx=False)

    async def load_decisions(self) -> dict[tuple[str, str], DecisionRow]:
        async def run(conn: asyncpg.Connection) -> dict[tuple[str, str], DecisionRow]:
            rows = await conn.fetch(
                "SELECT advisory, site, client, fingerprint, installed, decision, patch_day, "
                "reason, decided_at FROM advisory_decision"
            )
            return {
                (r["advisory"], r["site"]): DecisionRow(
                    advisory=r["advisory"],
                    site=r["site"],
                    client=r["client"],
                    fingerprint=r["fingerprint"],
                    installed=r["installed"],
                    decision=r["decision"],
                    patch_day=_opt(r["patch_day"]),
                    reason=r["reason"],
                    decided_at=r["decided_at"].astimezone(UTC),
                )
                for r in rows
            }

        return await self._do("read advisory decisions", run, tx=False)

    async def patch_queue(self, *, pending_only: bool = True) -> list[PatchItemRow]:
        async def run(conn: asyncpg.Connection) -> list[PatchItemRow]:
            return [
                PatchItemRow(
                    site=r["site"],
                    advisory=r["advisory"],
                    client=r["client"],
                    project=r["project"],
                    installed=r["installed"],
                    fixed=r["fixed"],
                    link=r["link"],
                    patch_day=r["patch_day"].astimezone(UTC),
                    queued_at=r["queued_at"].astimezone(UTC),
                    ticketed_at=_opt(r["ticketed_at"]),
                )
                for r in await conn.fetch(_SELECT_QUEUE, pending_only)
            ]

        return await self._do("read the patch-day queue", run, tx=False)

    async def save_security(self, changes: SecurityChanges, now: datetime) -> int:
        at = _utc(now)
        advisories = [
            (
                a.id,
                a.source,
                a.fingerprint,
                _dumps(a.data, what=f"advisory {a.id!r}"),
                _utc(a.first_seen),
                _utc(a.last_seen),
                _dumps(list(a.history), what=f"history of advisory {a.id!r}"),
            )
            for a in changes.advisories
        ]
        decisions = [
            (
                d.advisory,
                d.site,
                d.client,
                d.fingerprint,
                d.installed,
                d.decision,
                _utc(d.patch_day) if d.patch_day else None,
                d.reason,
                _utc(d.decided_at),
            )
            for d in changes.decisions
        ]
        queue_add = [
            (
                q.site,
                q.advisory,
                q.client,
                q.project,
                q.installed,
                q.fixed,
                q.link,
                _utc(q.patch_day),
                _utc(q.queued_at),
            )
            for q in changes.queue_add
        ]
        outbox = [
            row for n, due in changes.notifications for row in _outbox_args([n], at, _utc(due))
        ]

        async def run(conn: asyncpg.Connection) -> int:
            if advisories:
                await conn.executemany(_UPSERT_ADVISORY, advisories)
            if decisions:
                await conn.executemany(_UPSERT_DECISION, decisions)
            if queue_add:
                await conn.executemany(_UPSERT_QUEUE, queue_add)
            if changes.queue_remove:
                await conn.executemany(_DELETE_QUEUE, list(changes.queue_remove))
            if changes.ticketed:
                await conn.executemany(
                    _TICKET_QUEUE, [(at, site, adv) for site, adv in changes.ticketed]
                )
            return await self._insert_outbox(conn, outbox)

        return await self._do("save advisory decisions", run, fenced=True)
