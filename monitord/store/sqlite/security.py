"""Security advisories, decisions and the patch-day queue (store.base.SecurityStore)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitord.store.base import AdvisoryRow, DecisionRow, PatchItemRow, SecurityChanges
from monitord.store.sqlite.base import _INSERT_OUTBOX, SqliteBase
from monitord.store.sqlite.codec import _dumps, _outbox_params, _OutboxParams, from_iso, to_iso

_SELECT_ADVISORIES = (
    "SELECT id, source, fingerprint, data, first_seen, last_seen, history FROM advisory "
    "ORDER BY id, source"
)
_UPSERT_ADVISORY = (
    "INSERT INTO advisory (id, source, fingerprint, data, first_seen, last_seen, history) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id, source) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "data = excluded.data, last_seen = excluded.last_seen, history = excluded.history"
)
_SELECT_DECISIONS = (
    "SELECT advisory, site, client, fingerprint, installed, decision, patch_day, reason, "
    "decided_at FROM advisory_decision"
)
_UPSERT_DECISION = (
    "INSERT INTO advisory_decision "
    "(advisory, site, client, fingerprint, installed, decision, patch_day, reason, decided_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (advisory, site) DO UPDATE SET client = excluded.client, "
    "fingerprint = excluded.fingerprint, installed = excluded.installed, "
    "decision = excluded.decision, patch_day = excluded.patch_day, reason = excluded.reason, "
    "decided_at = excluded.decided_at"
)
_SELECT_QUEUE = (
    "SELECT site, advisory, client, project, installed, fixed, link, patch_day, queued_at, "
    "ticketed_at FROM patch_queue WHERE (:pending = 0 OR ticketed_at IS NULL) "
    "ORDER BY patch_day, site, advisory"
)
_UPSERT_QUEUE = (
    "INSERT INTO patch_queue "
    "(site, advisory, client, project, installed, fixed, link, patch_day, queued_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (site, advisory) DO UPDATE SET client = excluded.client, "
    "project = excluded.project, installed = excluded.installed, fixed = excluded.fixed, "
    "link = excluded.link, patch_day = excluded.patch_day "
    "WHERE patch_queue.ticketed_at IS NULL"
)
_DELETE_QUEUE = "DELETE FROM patch_queue WHERE site = ? AND advisory = ? AND ticketed_at IS NULL"
_TICKET_QUEUE = (
    "UPDATE patch_queue SET ticketed_at = ? WHERE site = ? AND advisory = ? AND ticketed_at IS NULL"
)


class SecurityMixin(SqliteBase):
    def _load_advisories_sync(self) -> list[AdvisoryRow]:
        rows = self._db().execute(_SELECT_ADVISORIES).fetchall()
        return [
            AdvisoryRow(
                id=row["id"],
                source=row["source"],
                fingerprint=row["fingerprint"],
                data=json.loads(row["data"]),
                first_seen=from_iso(row["first_seen"]),
                last_seen=from_iso(row["last_seen"]),
                history=tuple(json.loads(row["history"])),
            )
            for row in rows
        ]

    async def load_advisories(self) -> list[AdvisoryRow]:
        """Every advisory known, from every source."""
        return await self._run("read advisories", self._load_advisories_sync)

    def _load_decisions_sync(self) -> dict[tuple[str, str], DecisionRow]:
        out: dict[tuple[str, str], DecisionRow] = {}
        for row in self._db().execute(_SELECT_DECISIONS):
            out[(row["advisory"], row["site"])] = DecisionRow(
                advisory=row["advisory"],
                site=row["site"],
                client=row["client"],
                fingerprint=row["fingerprint"],
                installed=row["installed"],
                decision=row["decision"],
                patch_day=from_iso(row["patch_day"]) if row["patch_day"] else None,
                reason=row["reason"],
                decided_at=from_iso(row["decided_at"]),
            )
        return out

    async def load_decisions(self) -> dict[tuple[str, str], DecisionRow]:
        """Every (advisory, site) decision, keyed by that pair."""
        return await self._run("read advisory decisions", self._load_decisions_sync)

    def _patch_queue_sync(self, pending_only: bool) -> list[PatchItemRow]:
        rows = self._db().execute(_SELECT_QUEUE, {"pending": int(pending_only)}).fetchall()
        return [
            PatchItemRow(
                site=row["site"],
                advisory=row["advisory"],
                client=row["client"],
                project=row["project"],
                installed=row["installed"],
                fixed=row["fixed"],
                link=row["link"],
                patch_day=from_iso(row["patch_day"]),
                queued_at=from_iso(row["queued_at"]),
                ticketed_at=from_iso(row["ticketed_at"]) if row["ticketed_at"] else None,
            )
            for row in rows
        ]

    async def patch_queue(self, *, pending_only: bool = True) -> list[PatchItemRow]:
        """Queued patch-day items (only those not yet ticketed unless ``pending_only=False``)."""
        return await self._run("read the patch-day queue", self._patch_queue_sync, pending_only)

    def _save_security_sync(
        self,
        advisories: list[tuple[Any, ...]],
        decisions: list[tuple[Any, ...]],
        queue_add: list[tuple[Any, ...]],
        queue_remove: list[tuple[str, str]],
        ticketed: list[tuple[str, str, str]],
        outbox: list[_OutboxParams],
    ) -> int:
        with self._tx() as conn:
            conn.executemany(_UPSERT_ADVISORY, advisories)
            conn.executemany(_UPSERT_DECISION, decisions)
            conn.executemany(_UPSERT_QUEUE, queue_add)
            conn.executemany(_DELETE_QUEUE, queue_remove)
            conn.executemany(_TICKET_QUEUE, ticketed)
            before = conn.total_changes
            conn.executemany(_INSERT_OUTBOX, outbox)
            return conn.total_changes - before

    async def save_security(self, changes: SecurityChanges, now: datetime) -> int:
        """Apply one poll's advisories, decisions, queue changes and notifications atomically.

        Returns how many notifications were new (a key already in the outbox is ignored).
        """
        now_s = to_iso(now)
        advisories = [
            (
                a.id,
                a.source,
                a.fingerprint,
                _dumps(a.data, what=f"advisory {a.id!r}"),
                to_iso(a.first_seen),
                to_iso(a.last_seen),
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
                to_iso(d.patch_day) if d.patch_day else None,
                d.reason,
                to_iso(d.decided_at),
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
                to_iso(q.patch_day),
                to_iso(q.queued_at),
            )
            for q in changes.queue_add
        ]
        ticketed = [(now_s, site, adv) for site, adv in changes.ticketed]
        outbox = [
            row
            for n, due in changes.notifications
            for row in _outbox_params([n], now_s, to_iso(due))
        ]
        return await self._run(
            "save advisory decisions",
            self._save_security_sync,
            advisories,
            decisions,
            queue_add,
            list(changes.queue_remove),
            ticketed,
            outbox,
        )
