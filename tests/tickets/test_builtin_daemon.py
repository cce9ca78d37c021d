"""The built-in ``tickets`` notifier (tickets-local) in a real daemon with the DEFAULT routes: a
real site on 127.0.0.1, aiosmtpd, a real SQLite file, a driven clock.

Every problem becomes a ticket without any ``routes:`` or ``notifiers:`` in the configuration:
a DOWN opens one, its reminder and flapping comment on it, the recovery resolves it; the store
stays attached across a reload; a configuration with a tickets-local notifier of its own (under
another name) gets its tickets there and no built-in ``tickets`` beside it. Outside a daemon,
``monitord notify test tickets`` says how to give the built-in a store, and uses one it is given.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.daemon import Daemon
from monitord.notify.tickets_local import LocalTicketsNotifier
from monitord.store.base import SENT
from monitord.store.sqlite import SqliteStore
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0, Switchable, ticks
from tests.helpers.daemon import write_config as daemon_config
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer


def write_config(d: Path, site_url: str, smtp: SmtpServer, notifiers: str = "") -> Path:
    """No ``routes:``; ``notifiers:`` only when the test passes some; a reminder every hour."""
    return daemon_config(
        d,
        site_url,
        smtp,
        main_extra=notifiers,
        alert="{failure_threshold: 1, success_threshold: 1, repeat_every: 1h}",
    )


async def step(daemon: Daemon, clock: Clock, minutes: float = 1) -> list[str]:
    """Advance the clock, probe once, and deliver what is due now (the test drives the
    outbox instead of waiting for the sender task)."""
    kinds = await ticks(daemon, clock, 1, step=minutes * 60)
    assert daemon.sender is not None
    await daemon.sender.run_once()
    return kinds


async def outbox(daemon: Daemon) -> list[tuple[str, str, str]]:
    """(notifier, event kind, status) of every outbox item, oldest first."""
    assert daemon.store is not None
    items = sorted(await daemon.store.outbox_items(limit=1000), key=lambda i: i.id)
    return [(i.notifier, i.notification.event.kind, i.status) for i in items]


async def test_default_routes_ticket_a_down_its_reminder_and_its_recovery(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert sorted(daemon.notifiers) == ["email", "tickets"]
        assert isinstance(daemon.notifiers["tickets"], LocalTicketsNotifier)
        assert daemon.store is not None
        store = daemon.store

        assert await step(daemon, clock) == []
        sw.status = 503
        assert await step(daemon, clock) == ["site-down"]
        (ticket,) = await store.local_tickets()
        assert (ticket.kind, ticket.priority, ticket.status, ticket.site) == (
            "site-down",
            "high",
            "open",
            "acme-www",
        )
        assert ticket.respond_by == T0 + timedelta(hours=1, minutes=2)

        assert await step(daemon, clock, 60) == ["site-reminder"]
        sw.status = 200
        assert await step(daemon, clock) == ["site-recovered"]

        (after,) = await store.local_tickets()
        assert after.id == ticket.id and after.status == "resolved"
        found = await store.local_ticket(ticket.id)
        assert found is not None
        assert [n.kind for n in found[1]] == ["opened", "comment", "recovered"]
        assert "site-reminder" in found[1][1].text
        # Jo's three mails and the ticket's three changes: each sent once, nothing stuck.
        assert await outbox(daemon) == [
            ("email", "site-down", SENT),
            ("tickets", "site-down", SENT),
            ("email", "site-reminder", SENT),
            ("tickets", "site-reminder", SENT),
            ("email", "site-recovered", SENT),
            ("tickets", "site-recovered", SENT),
        ]
        assert len(await smtp_server.wait_for_async(3)) == 3
    finally:
        await daemon.stop()


async def test_a_reload_gives_the_new_ticket_notifier_the_store(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        before = daemon.notifiers["tickets"]
        assert await daemon.reload()
        assert daemon.notifiers["tickets"] is not before  # built again from the new config
        sw.status = 503
        assert await step(daemon, clock) == ["site-down"]
        assert daemon.store is not None
        (ticket,) = await daemon.store.local_tickets()
        assert ticket.status == "open"
        assert ("tickets", "site-down", SENT) in await outbox(daemon)
    finally:
        await daemon.stop()


async def test_the_configs_own_tickets_local_takes_the_tickets(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(
        tmp_path / "cfg",
        loop_site.url,
        smtp_server,
        notifiers="notifiers:\n  local: {type: tickets-local}\n",
    )
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        # No built-in `tickets` beside the configuration's own tickets-local.
        assert sorted(daemon.notifiers) == ["email", "local"]
        sw.status = 503
        assert await step(daemon, clock) == ["site-down"]
        assert await outbox(daemon) == [
            ("email", "site-down", SENT),
            ("local", "site-down", SENT),
        ]
        assert daemon.store is not None
        (ticket,) = await daemon.store.local_tickets()
        assert ticket.status == "open"
    finally:
        await daemon.stop()


# ---------------------------------------------------------------- `monitord notify test tickets`


async def _notify_test(cfg: Path) -> int:
    return await asyncio.to_thread(main, ["notify", "test", "tickets", "--config", str(cfg)])


async def test_notify_test_on_the_builtin_says_how_to_give_it_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "monitord.yml").write_text(
        "agency: {name: Collective, support_email: support@collective.example}\n"
        "state: {path: state.sqlite3}\n"
    )
    assert await _notify_test(tmp_path) == 1
    err = capsys.readouterr().err
    assert "notifier 'tickets' (tickets-local) has no state store yet" in err
    # The built-in has no entry to add a `path` to: the message writes one out.
    assert "`notifiers: {tickets: {type: tickets-local, path: state.sqlite3}}`" in err


async def test_notify_test_with_a_path_opens_a_test_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "monitord.yml").write_text(
        "agency: {name: Collective, support_email: support@collective.example}\n"
        "state: {path: state.sqlite3}\n"
        "notifiers: {tickets: {type: tickets-local, path: state.sqlite3}}\n"
    )
    assert await _notify_test(tmp_path) == 0
    assert capsys.readouterr().out == "sent: local-1\n"
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.open()
    try:
        (ticket,) = await store.local_tickets()
        assert (ticket.id, ticket.kind, ticket.priority) == (1, "test", "low")
    finally:
        await store.close()
