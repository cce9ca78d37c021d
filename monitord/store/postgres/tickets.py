"""Local tickets and the ticket map (store.base.TicketStore).

In a cluster only the reminders of the ticket SLA are a leader-only (fenced) write: tickets
applied and the ticket map are recorded by whichever node delivers the notification (the
outbox's bookkeeping), and an ack or a resolve is a person's action (the CLI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from monitord.notify.base import Notification
from monitord.store.base import LocalTicketRow, TicketNoteRow, TicketOutcome, TicketRefRow
from monitord.store.postgres.base import PostgresBase
from monitord.store.postgres.codec import _affected, _opt, _outbox_args, _ticket_row, _utc

_TICKET_SELECT = (
    "SELECT id, thread, client, site, check_id, kind, priority, title, body, opened_at, "
    "respond_by, status, acked_at, acked_by, resolved_at, reminded_at FROM ticket "
)
_SELECT_TICKETS = (
    _TICKET_SELECT + "WHERE (NOT $1::boolean OR status <> 'resolved') "
    "AND ($2::text IS NULL OR client = $2) ORDER BY id DESC LIMIT $3"
)
_SELECT_TICKET_BY_ID = _TICKET_SELECT + "WHERE id = $1"
_SELECT_TICKET_BY_THREAD = _TICKET_SELECT + "WHERE thread = $1"
_INSERT_TICKET = (
    "INSERT INTO ticket (thread, client, site, check_id, kind, priority, title, body, "
    "opened_at, respond_by, status, updated) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11) RETURNING id"
)
_INSERT_NOTE = (
    "INSERT INTO ticket_note (ticket_id, key, at, kind, text, by) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING"
)
_ACK_TICKET = (
    "UPDATE ticket SET status = 'acked', acked_at = $2, acked_by = $3, updated = $2 "
    "WHERE id = $1 AND status = 'open'"
)
_RESOLVE_TICKET = (
    "UPDATE ticket SET status = 'resolved', resolved_at = $2, updated = $2 "
    "WHERE id = $1 AND status <> 'resolved'"
)
_REMIND_TICKET = (
    "UPDATE ticket SET reminded_at = $2, updated = $2 "
    "WHERE id = $1 AND status = 'open' AND reminded_at IS NULL"
)
_UPSERT_REF = (
    "INSERT INTO ticket_ref (notifier, thread, external_id, created) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (notifier, thread) DO NOTHING"
)
_RESOLVE_REF = (
    "UPDATE ticket_ref SET resolved_at = $1 WHERE notifier = $2 AND thread = $3 "
    "AND resolved_at IS NULL"
)
_INSERT_APPLIED = (
    "INSERT INTO ticket_applied (notifier, key, external_id, at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (notifier, key) DO NOTHING"
)


class TicketsMixin(PostgresBase):
    async def apply_local_ticket(
        self, ticket: Any, key: str, resolving: bool, text: str, now: datetime
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        """See store.base.TicketStore.apply_local_ticket."""
        from monitord.tickets import OUTCOMES, plan_action

        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> tuple[TicketOutcome, LocalTicketRow | None]:
            found = await conn.fetchrow(_SELECT_TICKET_BY_THREAD, ticket.thread)
            applied = (
                await conn.fetchval("SELECT 1 FROM ticket_note WHERE key = $1", key) is not None
            )
            action = plan_action(resolving, found is not None, applied)
            if action == "open":
                tid = await conn.fetchval(
                    _INSERT_TICKET,
                    ticket.thread,
                    ticket.client,
                    ticket.site,
                    ticket.check,
                    ticket.kind,
                    ticket.priority,
                    ticket.title,
                    ticket.body,
                    _utc(ticket.opened_at),
                    _utc(ticket.respond_by),
                    at,
                )
                await conn.execute(_INSERT_NOTE, tid, key, at, "opened", text, None)
            elif action in ("comment", "resolve") and found is not None:
                kind = "recovered" if action == "resolve" else "comment"
                await conn.execute(_INSERT_NOTE, found["id"], key, at, kind, text, None)
                if action == "resolve":
                    await conn.execute(_RESOLVE_TICKET, found["id"], at)
            row = await conn.fetchrow(_SELECT_TICKET_BY_THREAD, ticket.thread)
            return OUTCOMES[action], (_ticket_row(row) if row is not None else None)

        return await self._do("record a ticket", run)

    async def local_tickets(
        self, *, open_only: bool = False, client: str | None = None, limit: int = 1000
    ) -> list[LocalTicketRow]:
        async def run(conn: asyncpg.Connection) -> list[LocalTicketRow]:
            rows = await conn.fetch(_SELECT_TICKETS, open_only, client, limit)
            return [_ticket_row(r) for r in rows]

        return await self._do("read tickets", run, tx=False)

    async def local_ticket(
        self, ticket_id: int
    ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        async def run(
            conn: asyncpg.Connection,
        ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
            row = await conn.fetchrow(_SELECT_TICKET_BY_ID, ticket_id)
            if row is None:
                return None
            notes = [
                TicketNoteRow(
                    ticket_id=n["ticket_id"],
                    key=n["key"],
                    at=n["at"].astimezone(UTC),
                    kind=n["kind"],
                    text=n["text"],
                    by=n["by"],
                )
                for n in await conn.fetch(
                    "SELECT ticket_id, key, at, kind, text, by FROM ticket_note "
                    "WHERE ticket_id = $1 ORDER BY id",
                    ticket_id,
                )
            ]
            return _ticket_row(row), notes

        return await self._do("read a ticket", run)

    async def _change_ticket(
        self,
        doing: str,
        ticket_id: int,
        sql: str,
        kind: str,
        text: str,
        by: str | None,
        now: datetime,
    ) -> LocalTicketRow | None:
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> LocalTicketRow | None:
            if await conn.fetchrow(_SELECT_TICKET_BY_ID, ticket_id) is None:
                return None
            args: tuple[Any, ...] = (ticket_id, at, by) if sql == _ACK_TICKET else (ticket_id, at)
            if _affected(await conn.execute(sql, *args)):
                note_key = f"{kind}|{ticket_id}|{at.isoformat(timespec='microseconds')}"
                await conn.execute(_INSERT_NOTE, ticket_id, note_key, at, kind, text, by)
            return _ticket_row(await conn.fetchrow(_SELECT_TICKET_BY_ID, ticket_id))

        return await self._do(doing, run)

    async def ack_local_ticket(
        self, ticket_id: int, by: str | None, now: datetime
    ) -> LocalTicketRow | None:
        text = f"acknowledged by {by}" if by else "acknowledged"
        return await self._change_ticket(
            "acknowledge a ticket", ticket_id, _ACK_TICKET, "ack", text, by, now
        )

    async def resolve_local_ticket(
        self, ticket_id: int, note: str | None, now: datetime
    ) -> LocalTicketRow | None:
        return await self._change_ticket(
            "resolve a ticket", ticket_id, _RESOLVE_TICKET, "resolve", note or "resolved", None, now
        )

    async def remind_local_tickets(
        self, reminders: Mapping[int, Sequence[Notification]], now: datetime
    ) -> int:
        at = _utc(now)
        rows = [(tid, _outbox_args(ns, at, at)) for tid, ns in reminders.items()]

        async def run(conn: asyncpg.Connection) -> int:
            marked = 0
            for ticket_id, outbox in rows:
                if not _affected(await conn.execute(_REMIND_TICKET, ticket_id, at)):
                    continue
                marked += 1
                text = f"overdue: {len(outbox)} reminder(s) queued"
                await conn.execute(
                    _INSERT_NOTE, ticket_id, f"reminder|{ticket_id}", at, "reminder", text, None
                )
                await self._insert_outbox(conn, outbox)
            return marked

        return await self._do("record ticket reminders", run, fenced=True)

    async def ticket_applied(self, notifier: str, key: str) -> str | None:
        async def run(conn: asyncpg.Connection) -> str | None:
            value = await conn.fetchval(
                "SELECT external_id FROM ticket_applied WHERE notifier = $1 AND key = $2",
                notifier,
                key,
            )
            return None if value is None else str(value)

        return await self._do("read the ticket map", run, tx=False)

    async def ticket_ref(self, notifier: str, thread: str) -> TicketRefRow | None:
        async def run(conn: asyncpg.Connection) -> TicketRefRow | None:
            r = await conn.fetchrow(
                "SELECT notifier, thread, external_id, created, resolved_at FROM ticket_ref "
                "WHERE notifier = $1 AND thread = $2",
                notifier,
                thread,
            )
            if r is None:
                return None
            return TicketRefRow(
                notifier=r["notifier"],
                thread=r["thread"],
                external_id=r["external_id"],
                created=r["created"].astimezone(UTC),
                resolved_at=_opt(r["resolved_at"]),
            )

        return await self._do("read the ticket map", run, tx=False)

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
        at = _utc(now)

        async def run(conn: asyncpg.Connection) -> None:
            await conn.execute(_UPSERT_REF, notifier, thread, external_id, at)
            if key is not None:
                await conn.execute(_INSERT_APPLIED, notifier, key, external_id, at)
            if resolved:
                await conn.execute(_RESOLVE_REF, at, notifier, thread)

        await self._do("record a ticket in the ticket map", run)
