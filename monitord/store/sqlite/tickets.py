"""Local tickets, their notes and reminders; the external ticket map (store.base.TicketStore)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from monitord.notify.base import Notification
from monitord.store.base import LocalTicketRow, TicketNoteRow, TicketOutcome, TicketRefRow
from monitord.store.sqlite.base import _INSERT_OUTBOX, SqliteBase
from monitord.store.sqlite.codec import (
    _opt_time,
    _outbox_params,
    _OutboxParams,
    _ticket_row,
    from_iso,
    to_iso,
)

_TICKET_SELECT = (
    "SELECT id, thread, client, site, check_id, kind, priority, title, body, opened_at, "
    "respond_by, status, acked_at, acked_by, resolved_at, reminded_at FROM ticket "
)
_SELECT_TICKETS = (
    _TICKET_SELECT + "WHERE (:open_only = 0 OR status != 'resolved') "
    "AND (:client IS NULL OR client = :client) ORDER BY id DESC LIMIT :limit"
)
_SELECT_TICKET_BY_ID = _TICKET_SELECT + "WHERE id = ?"
_SELECT_TICKET_BY_THREAD = _TICKET_SELECT + "WHERE thread = ?"
_INSERT_TICKET = (
    "INSERT INTO ticket (thread, client, site, check_id, kind, priority, title, body, "
    "opened_at, respond_by, status, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)"
)
_INSERT_NOTE = (
    "INSERT INTO ticket_note (ticket_id, key, at, kind, text, by) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO NOTHING"
)
_SELECT_NOTES = (
    "SELECT ticket_id, key, at, kind, text, by FROM ticket_note WHERE ticket_id = ? ORDER BY id"
)
_NOTE_EXISTS = "SELECT 1 FROM ticket_note WHERE key = ?"
_ACK_TICKET = (
    "UPDATE ticket SET status = 'acked', acked_at = :now, acked_by = :by, updated = :now "
    "WHERE id = :id AND status = 'open'"
)
_RESOLVE_TICKET = (
    "UPDATE ticket SET status = 'resolved', resolved_at = :now, updated = :now "
    "WHERE id = :id AND status != 'resolved'"
)
_REMIND_TICKET = (
    "UPDATE ticket SET reminded_at = :now, updated = :now "
    "WHERE id = :id AND status = 'open' AND reminded_at IS NULL"
)
_SELECT_REF = (
    "SELECT notifier, thread, external_id, created, resolved_at FROM ticket_ref "
    "WHERE notifier = ? AND thread = ?"
)
_UPSERT_REF = (
    "INSERT INTO ticket_ref (notifier, thread, external_id, created) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (notifier, thread) DO NOTHING"
)
_RESOLVE_REF = (
    "UPDATE ticket_ref SET resolved_at = ? WHERE notifier = ? AND thread = ? "
    "AND resolved_at IS NULL"
)
_INSERT_APPLIED = (
    "INSERT INTO ticket_applied (notifier, key, external_id, at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (notifier, key) DO NOTHING"
)
_SELECT_APPLIED = "SELECT external_id FROM ticket_applied WHERE notifier = ? AND key = ?"


class TicketsMixin(SqliteBase):
    def _apply_local_sync(
        self, ticket: Any, key: str, resolving: bool, text: str, now: str
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        from monitord.tickets import OUTCOMES, plan_action

        with self._tx() as conn:
            found = conn.execute(_SELECT_TICKET_BY_THREAD, (ticket.thread,)).fetchone()
            applied = conn.execute(_NOTE_EXISTS, (key,)).fetchone() is not None
            action = plan_action(resolving, found is not None, applied)
            if action == "open":
                cur = conn.execute(
                    _INSERT_TICKET,
                    (
                        ticket.thread,
                        ticket.client,
                        ticket.site,
                        ticket.check,
                        ticket.kind,
                        ticket.priority,
                        ticket.title,
                        ticket.body,
                        to_iso(ticket.opened_at),
                        to_iso(ticket.respond_by),
                        now,
                    ),
                )
                conn.execute(_INSERT_NOTE, (cur.lastrowid, key, now, "opened", text, None))
            elif action in ("comment", "resolve"):
                kind = "recovered" if action == "resolve" else "comment"
                conn.execute(_INSERT_NOTE, (found["id"], key, now, kind, text, None))
                if action == "resolve":
                    conn.execute(_RESOLVE_TICKET, {"id": found["id"], "now": now})
            row = conn.execute(_SELECT_TICKET_BY_THREAD, (ticket.thread,)).fetchone()
        return OUTCOMES[action], (_ticket_row(row) if row is not None else None)

    async def apply_local_ticket(
        self, ticket: Any, key: str, resolving: bool, text: str, now: datetime
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        """See store.base.TicketStore.apply_local_ticket."""
        result: tuple[TicketOutcome, LocalTicketRow | None] = await self._run(
            "record a ticket", self._apply_local_sync, ticket, key, resolving, text, to_iso(now)
        )
        return result

    def _tickets_sync(
        self, open_only: bool, client: str | None, limit: int
    ) -> list[LocalTicketRow]:
        params = {"open_only": int(open_only), "client": client, "limit": limit}
        return [_ticket_row(r) for r in self._db().execute(_SELECT_TICKETS, params)]

    async def local_tickets(
        self, *, open_only: bool = False, client: str | None = None, limit: int = 1000
    ) -> list[LocalTicketRow]:
        rows: list[LocalTicketRow] = await self._run(
            "read tickets", self._tickets_sync, open_only, client, limit
        )
        return rows

    def _ticket_sync(self, ticket_id: int) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        conn = self._db()
        row = conn.execute(_SELECT_TICKET_BY_ID, (ticket_id,)).fetchone()
        if row is None:
            return None
        notes = [
            TicketNoteRow(
                ticket_id=n["ticket_id"],
                key=n["key"],
                at=from_iso(n["at"]),
                kind=n["kind"],
                text=n["text"],
                by=n["by"],
            )
            for n in conn.execute(_SELECT_NOTES, (ticket_id,))
        ]
        return _ticket_row(row), notes

    async def local_ticket(
        self, ticket_id: int
    ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        found: tuple[LocalTicketRow, list[TicketNoteRow]] | None = await self._run(
            "read a ticket", self._ticket_sync, ticket_id
        )
        return found

    def _change_sync(
        self, ticket_id: int, sql: str, kind: str, text: str, by: str | None, now: str
    ) -> LocalTicketRow | None:
        with self._tx() as conn:
            if conn.execute(_SELECT_TICKET_BY_ID, (ticket_id,)).fetchone() is None:
                return None
            cur = conn.execute(sql, {"id": ticket_id, "now": now, "by": by})
            if cur.rowcount:
                key = f"{kind}|{ticket_id}|{now}"
                conn.execute(_INSERT_NOTE, (ticket_id, key, now, kind, text, by))
            row = conn.execute(_SELECT_TICKET_BY_ID, (ticket_id,)).fetchone()
        return _ticket_row(row)

    async def ack_local_ticket(
        self, ticket_id: int, by: str | None, now: datetime
    ) -> LocalTicketRow | None:
        row: LocalTicketRow | None = await self._run(
            "acknowledge a ticket",
            self._change_sync,
            ticket_id,
            _ACK_TICKET,
            "ack",
            f"acknowledged by {by}" if by else "acknowledged",
            by,
            to_iso(now),
        )
        return row

    async def resolve_local_ticket(
        self, ticket_id: int, note: str | None, now: datetime
    ) -> LocalTicketRow | None:
        row: LocalTicketRow | None = await self._run(
            "resolve a ticket",
            self._change_sync,
            ticket_id,
            _RESOLVE_TICKET,
            "resolve",
            note or "resolved",
            None,
            to_iso(now),
        )
        return row

    def _remind_sync(self, reminders: list[tuple[int, list[_OutboxParams]]], now: str) -> int:
        marked = 0
        with self._tx() as conn:
            for ticket_id, outbox in reminders:
                if not conn.execute(_REMIND_TICKET, {"id": ticket_id, "now": now}).rowcount:
                    continue
                marked += 1
                text = f"overdue: {len(outbox)} reminder(s) queued"
                conn.execute(
                    _INSERT_NOTE, (ticket_id, f"reminder|{ticket_id}", now, "reminder", text, None)
                )
                conn.executemany(_INSERT_OUTBOX, outbox)
        return marked

    async def remind_local_tickets(
        self, reminders: Mapping[int, Sequence[Notification]], now: datetime
    ) -> int:
        """See store.base.TicketStore.remind_local_tickets."""
        now_s = to_iso(now)
        rows = [(tid, _outbox_params(ns, now_s, now_s)) for tid, ns in reminders.items()]
        marked: int = await self._run("record ticket reminders", self._remind_sync, rows, now_s)
        return marked

    def _applied_sync(self, notifier: str, key: str) -> str | None:
        row = self._db().execute(_SELECT_APPLIED, (notifier, key)).fetchone()
        return None if row is None else str(row["external_id"])

    async def ticket_applied(self, notifier: str, key: str) -> str | None:
        found: str | None = await self._run(
            "read the ticket map", self._applied_sync, notifier, key
        )
        return found

    def _ref_sync(self, notifier: str, thread: str) -> TicketRefRow | None:
        row = self._db().execute(_SELECT_REF, (notifier, thread)).fetchone()
        if row is None:
            return None
        return TicketRefRow(
            notifier=row["notifier"],
            thread=row["thread"],
            external_id=row["external_id"],
            created=from_iso(row["created"]),
            resolved_at=_opt_time(row["resolved_at"]),
        )

    async def ticket_ref(self, notifier: str, thread: str) -> TicketRefRow | None:
        found: TicketRefRow | None = await self._run(
            "read the ticket map", self._ref_sync, notifier, thread
        )
        return found

    def _record_sync(
        self,
        notifier: str,
        thread: str,
        key: str | None,
        external_id: str,
        now: str,
        resolved: bool,
    ) -> None:
        with self._tx() as conn:
            conn.execute(_UPSERT_REF, (notifier, thread, external_id, now))
            if key is not None:
                conn.execute(_INSERT_APPLIED, (notifier, key, external_id, now))
            if resolved:
                conn.execute(_RESOLVE_REF, (now, notifier, thread))

    async def record_ticket(
        self,
        notifier: str,
        thread: str,
        key: str | None,
        external_id: str,
        now: datetime,
        *,
        resolved: bool = False,
    ) -> None:
        await self._run(
            "record a ticket in the ticket map",
            self._record_sync,
            notifier,
            thread,
            key,
            external_id,
            to_iso(now),
            resolved,
        )
