"""The office-hours SLA end to end: a real daemon (driven clock), a real site on 127.0.0.1,
aiosmtpd, a real SQLite file, tickets-local and the SLA service; the ``monitord tickets``
commands on the same store while the daemon runs.

A site goes down at 16:30 on a working day → a local ticket due 09:30 the next working day →
not acknowledged → at 09:30 (not a minute before) ONE reminder e-mail reaches the agency's
support address. An acknowledged ticket raises nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.daemon import Daemon
from monitord.tickets_sla import TicketSlaService, tickets_sla_service
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, Switchable, write_config
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer, plain_text

DOWN_AT = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)  # Thursday, GMT = UTC
DUE = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)  # Friday 09:30

TICKETS = """\
notifiers:
  tickets: {type: tickets-local}
routes:
  - {match: {kind: [site-down, site-recovered]}, when: always, notify: [tickets]}
  - {match: {kind: security-now}, when: always, notify: [tickets]}
"""


async def cli(*argv: str) -> tuple[int, str]:
    """Run a ``monitord`` command in a thread (it runs its own event loop), capturing stdout."""
    import contextlib
    import io

    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return main(list(argv))

    code = await asyncio.to_thread(run)
    return code, out.getvalue()


async def deliver(daemon: Daemon, clock: Clock) -> None:
    """Let the outbox send what is due now (the test drives it instead of waiting)."""
    assert daemon.sender is not None
    await daemon.sender.run_once()


@pytest.fixture
async def running(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> AsyncIterator[tuple[Daemon, Clock, Switchable, Path]]:
    sw, loop_site = site
    cfg = write_config(
        tmp_path / "cfg",
        loop_site.url,
        smtp_server,
        main_extra=TICKETS,
        contacts=("{name: Jo Bloggs, email: jo@acme.example, notify: [site-down]}",),
    )
    clock = Clock(DOWN_AT - timedelta(minutes=5))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[tickets_sla_service])
    await daemon.start()
    try:
        yield daemon, clock, sw, cfg
    finally:
        await daemon.stop()


def sla(daemon: Daemon) -> TicketSlaService:
    (service,) = daemon.services
    assert isinstance(service, TicketSlaService)
    return service


async def go_down(daemon: Daemon, clock: Clock, sw: Switchable) -> None:
    assert await daemon.tick(KEY) == []
    sw.status = 503
    clock.now = DOWN_AT
    assert [e.kind for e in await daemon.tick(KEY)] == ["site-down"]
    await deliver(daemon, clock)


async def test_unacknowledged_ticket_reminds_the_agency_once_at_respond_by(
    running: tuple[Daemon, Clock, Switchable, Path], smtp_server: SmtpServer
) -> None:
    daemon, clock, sw, cfg = running
    await go_down(daemon, clock, sw)
    assert daemon.store is not None
    (ticket,) = await daemon.store.local_tickets()
    assert (ticket.status, ticket.priority, ticket.site) == ("open", "high", "acme-www")
    assert ticket.respond_by == DUE

    # The CLI sees it while the daemon runs.
    code, out = await cli("tickets", "list", "--open", "--json", "--config", str(cfg))
    assert code == 0
    (listed,) = json.loads(out)
    assert listed["id"] == ticket.id and listed["respond_by"] == DUE.isoformat()

    before = len(smtp_server.messages)
    for at in (DUE - timedelta(minutes=1), DUE - timedelta(microseconds=1)):
        clock.now = at
        assert await sla(daemon).run_once(at) == []

    clock.now = DUE
    notes = await sla(daemon).run_once(DUE)
    assert [(n.notifier, n.recipient) for n in notes] == [("email", "support@collective.example")]
    await deliver(daemon, clock)
    mails = await smtp_server.wait_for_async(before + 1)
    reminder = mails[-1]
    assert reminder.rcpt_tos == ("support@collective.example",)
    text = plain_text(reminder.message)
    assert f"#{ticket.id}" in text and "monitord tickets ack" in text

    # One reminder only, however often the SLA runs.
    for minutes in (1, 60, 600):
        clock.now = DUE + timedelta(minutes=minutes)
        assert await sla(daemon).run_once(clock.now) == []
        await deliver(daemon, clock)
    assert len(smtp_server.messages) == before + 1
    (ticket,) = await daemon.store.local_tickets()
    assert ticket.reminded_at == DUE

    code, out = await cli("tickets", "show", str(ticket.id), "--config", str(cfg))
    assert code == 0
    assert "Respond by:" in out
    assert "Fri 27 Nov 2026 09:30 GMT" in out and "reminder" in out


async def test_acknowledged_ticket_raises_nothing(
    running: tuple[Daemon, Clock, Switchable, Path], smtp_server: SmtpServer
) -> None:
    daemon, clock, sw, cfg = running
    await go_down(daemon, clock, sw)
    assert daemon.store is not None
    (ticket,) = await daemon.store.local_tickets()
    code, out = await cli("tickets", "ack", str(ticket.id), "--by", "Sam", "--config", str(cfg))
    assert code == 0 and "acknowledged by Sam" in out
    before = len(smtp_server.messages)
    for at in (DUE, DUE + timedelta(hours=2)):
        clock.now = at
        assert await sla(daemon).run_once(at) == []
        await deliver(daemon, clock)
    assert len(smtp_server.messages) == before
    (ticket,) = await daemon.store.local_tickets()
    assert ticket.status == "acked" and ticket.acked_by == "Sam" and ticket.reminded_at is None


async def test_recovery_resolves_the_local_ticket_and_a_resend_changes_nothing(
    running: tuple[Daemon, Clock, Switchable, Path],
) -> None:
    daemon, clock, sw, _cfg = running
    await go_down(daemon, clock, sw)
    sw.status = 200
    clock.now = DOWN_AT + timedelta(minutes=40)
    assert [e.kind for e in await daemon.tick(KEY)] == ["site-recovered"]
    await deliver(daemon, clock)
    assert daemon.store is not None
    (ticket,) = await daemon.store.local_tickets()
    assert ticket.status == "resolved"
    found = await daemon.store.local_ticket(ticket.id)
    assert found is not None
    assert [n.kind for n in found[1]] == ["opened", "recovered"]
    # The outbox re-sends every item (as after a crash): nothing changes.
    tickets = daemon.notifiers["tickets"]
    for item in await daemon.store.outbox_items():
        if item.notifier == "tickets":
            await tickets.send(item.notification)
    again = await daemon.store.local_ticket(ticket.id)
    assert again is not None and [n.kind for n in again[1]] == ["opened", "recovered"]
    # Resolved tickets raise no reminder.
    assert await sla(daemon).run_once(DUE + timedelta(days=1)) == []


async def test_cli_list_show_ack_resolve(
    running: tuple[Daemon, Clock, Switchable, Path],
) -> None:
    daemon, clock, sw, cfg = running
    await go_down(daemon, clock, sw)
    code, out = await cli("tickets", "list", "--config", str(cfg))
    assert code == 0
    header, line = out.strip().splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "PRIORITY", "CLIENT"]
    assert line.split()[0] == "1" and "acme-www" in line and "site problem" in line
    code, out = await cli("tickets", "list", "--client", "other", "--config", str(cfg))
    assert (code, out.strip()) == (0, "no tickets for other")
    code, out = await cli(
        "tickets", "resolve", "1", "--note", "restarted php-fpm", "--config", str(cfg)
    )
    assert code == 0 and "ticket 1 resolved" in out
    code, out = await cli("tickets", "list", "--open", "--config", str(cfg))
    assert (code, out.strip()) == (0, "no tickets open")
    code, out = await cli("tickets", "show", "1", "--json", "--config", str(cfg))
    shown = json.loads(out)
    assert shown["status"] == "resolved"
    assert [n["kind"] for n in shown["notes"]] == ["opened", "resolve"]
    assert shown["notes"][-1]["text"] == "restarted php-fpm"
    code, _ = await cli("tickets", "show", "99", "--config", str(cfg))
    assert code == 1


def test_table_marks_overdue_tickets_at_now() -> None:
    from zoneinfo import ZoneInfo

    from monitord.commands.tickets_list import table
    from monitord.store.base import LocalTicketRow

    t = LocalTicketRow(
        id=3, thread="t", client="acme", site=None, check=None, kind="security-now",
        priority="urgent", title="T", body="", opened_at=DOWN_AT, respond_by=DUE, status="open",
    )  # fmt: skip
    tz = ZoneInfo("Europe/London")
    assert table([t], tz, DUE - timedelta(seconds=1)).splitlines()[1].split()[:3] == [
        "3", "open", "urgent",
    ]  # fmt: skip
    assert table([t], tz, DUE).splitlines()[1].split()[:3] == ["3", "OVERDUE", "urgent"]
