"""The office-hours SLA on local tickets: a daemon :class:`~monitord.daemon.Service`.

Every :data:`SLA_CHECK_INTERVAL` it runs the pure rule :func:`monitord.tickets.overdue` on the
open local tickets at the daemon clock's ``now``. A ticket neither acknowledged nor resolved by
its respond-by time raises ONE ``ticket-overdue`` event (kept once by the ticket's
``reminded_at``, set in the same transaction as the reminders are queued): to the agency's
support address, and for an urgent ticket out of office hours also to whoever is on call
(routing's on-call resolution, monitord.routing.oncall_recipients).

``run_once(now)`` does one round (tests call it with a driven clock).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitord.logsetup import get_logger
from monitord.notify.base import Notification
from monitord.tickets import overdue, reminder_event, reminder_recipients

if TYPE_CHECKING:
    from monitord.daemon import Daemon

SLA_CHECK_INTERVAL = timedelta(minutes=1)
"""How often open tickets are checked: respond-by times are whole minutes of office time, so a
reminder is at most a minute late; a round is one indexed query."""

SLA_TICKETS_READ = 10_000
"""Open tickets read per round: far above any real backlog, a bound on a runaway one."""


class TicketSlaService:
    """Reminds the agency (and on-call, for urgent tickets out of hours) of overdue tickets."""

    name = "tickets-sla"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.log = get_logger(component="tickets-sla")
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    async def start(self, daemon: Daemon) -> None:
        self.daemon = daemon
        if daemon.schedule:
            self._task = asyncio.create_task(self._loop(), name="tickets-sla")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def reload(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once(self.daemon.clock())
            except Exception:  # keep the SLA alive; the next round tries again
                self.log.exception("tickets_sla.round_failed")
            await asyncio.sleep(SLA_CHECK_INTERVAL.total_seconds())

    async def run_once(self, now: datetime) -> list[Notification]:
        """One round at ``now``: queue the reminders of tickets that became overdue."""
        store: Any = self.daemon.store
        config = self.daemon.config
        if store is None or config is None:
            return []
        self.rounds += 1
        tickets = await store.local_tickets(open_only=True, limit=SLA_TICKETS_READ)
        due = overdue(tickets, now)
        if not due:
            return []
        tz = ZoneInfo(config.main.agency.timezone)
        reminders: dict[int, list[Notification]] = {}
        for ticket in due:
            event = reminder_event(ticket, now, tz)
            reminders[ticket.id] = reminder_recipients(ticket, event, config, now)
        marked: int = await self.daemon.pipeline.persist(
            "ticket reminders", lambda: store.remind_local_tickets(reminders, now)
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
        if notes and self.daemon.sender is not None:
            self.daemon.sender.wake()
        if marked == 0:
            return []
        return notes


def tickets_sla_service(daemon: Daemon) -> TicketSlaService:
    """The daemon's service factory (always on: it costs one query a minute)."""
    return TicketSlaService(daemon)
