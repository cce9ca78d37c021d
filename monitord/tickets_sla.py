"""The office-hours SLA on local tickets: a daemon service (:class:`monitord.runtime.Service`).

Every :data:`SLA_CHECK_INTERVAL` it runs the pure rule :func:`monitord.tickets.overdue` on the
open local tickets at the daemon clock's ``now``. A ticket neither acknowledged nor resolved by
its respond-by time raises ONE ``ticket-overdue`` event (kept once by the ticket's
``reminded_at``, set in the same transaction as the reminders are queued): to the agency's
support address, and for an urgent ticket out of office hours also to whoever is on call
(routing's on-call resolution, monitord.routing.oncall_recipients). The reminders take the
daemon's one event pipeline (:meth:`monitord.runtime.Runtime.emit`): stored with the tickets'
``reminded_at``, then told and logged, and the outbox sender woken.

``run_once(now)`` does one round (tests call it with a driven clock).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitord.logsetup import get_logger
from monitord.notify.base import Notification
from monitord.tickets import overdue, reminder_event, reminder_recipients

if TYPE_CHECKING:
    from monitord.events import Event
    from monitord.runtime import Runtime

SLA_CHECK_INTERVAL = timedelta(minutes=1)
"""How often open tickets are checked: respond-by times are whole minutes of office time, so a
reminder is at most a minute late; a round is one indexed query."""

SLA_TICKETS_READ = 10_000
"""Open tickets read per round: far above any real backlog, a bound on a runaway one."""


class TicketSlaService:
    """Reminds the agency (and on-call, for urgent tickets out of hours) of overdue tickets."""

    name = "tickets-sla"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.log = get_logger(component="tickets-sla")
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        if runtime.background:
            self._task = asyncio.create_task(self._loop(), name="tickets-sla")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def reload(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once(self.runtime.clock())
            except Exception:  # keep the SLA alive; the next round tries again
                self.log.exception("tickets_sla.round_failed")
            await asyncio.sleep(SLA_CHECK_INTERVAL.total_seconds())

    async def run_once(self, now: datetime) -> list[Notification]:
        """One round at ``now``: queue the reminders of tickets that became overdue."""
        store = self.runtime.store
        config = self.runtime.config()
        self.rounds += 1
        tickets = await store.local_tickets(open_only=True, limit=SLA_TICKETS_READ)
        due = overdue(tickets, now)
        if not due:
            return []
        tz = ZoneInfo(config.main.agency.timezone)
        reminders: dict[int, list[Notification]] = {}
        told: list[tuple[Event, list[Notification]]] = []
        for ticket in due:
            event = reminder_event(ticket, now, tz)
            reminders[ticket.id] = reminder_recipients(ticket, event, config, now)
            told.append((event, reminders[ticket.id]))
        marked = await self.runtime.emit(
            "ticket reminders", told, lambda: store.remind_local_tickets(reminders, now)
        )
        notes = [n for ns in reminders.values() for n in ns]
        for ticket in due:
            self.log.warning(
                "tickets_sla.overdue",
                ticket=ticket.id,
                priority=ticket.priority,
                client=ticket.client,
                site=ticket.site,
                respond_by=ticket.respond_by.isoformat(),
            )
        if marked == 0:
            return []
        return notes


def tickets_sla_service(runtime: Runtime) -> TicketSlaService:
    """The daemon's service factory (always on: it costs one query a minute)."""
    return TicketSlaService(runtime)
