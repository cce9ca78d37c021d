"""Flapping in a real daemon comments on the incident's ticket (docs/tickets.md) instead of
opening one of its own, and the settled state resolves that ticket: with the built-in
tickets-local and with a ticket API (the Zendesk stand-in on 127.0.0.1).

Threshold 1/1: up, down (ticket 1), up (resolved), down (ticket 2), up — the fourth change in
the hour: the check is flapping and its recovery is not told; then an hour of quiet."""

from __future__ import annotations

from pathlib import Path

from monitord.daemon import Daemon
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0, Switchable, ticks
from tests.helpers.daemon import write_config as daemon_config
from tests.helpers.sites import LoopbackSite, serve_app
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.tickets import ZendeskStandIn

ALERT = "{failure_threshold: 1, success_threshold: 1, repeat_every: 4h}"


async def _step(daemon: Daemon, clock: Clock, minutes: float = 1) -> list[str]:
    kinds = await ticks(daemon, clock, 1, step=minutes * 60)
    assert daemon.sender is not None
    await daemon.sender.run_once()
    return kinds


async def _flap_then_settle(daemon: Daemon, clock: Clock, sw: Switchable) -> None:
    kinds: list[str] = []
    for status in (200, 503, 200, 503, 200):
        sw.status = status
        kinds += await _step(daemon, clock)
    assert kinds == ["site-down", "site-recovered", "site-down", "site-flapping"]
    assert await _step(daemon, clock, 61) == ["site-recovered"]  # stable again


async def test_flapping_comments_on_the_local_ticket_and_settling_resolves_it(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = daemon_config(tmp_path / "cfg", loop_site.url, smtp_server, alert=ALERT)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        await _flap_then_settle(daemon, clock, sw)
        tickets = sorted(await daemon.store.local_tickets(), key=lambda t: t.id)
        # Two incidents, two tickets; none for the flapping itself, none left open.
        assert [(t.kind, t.status) for t in tickets] == [
            ("site-down", "resolved"),
            ("site-down", "resolved"),
        ]
        found = await daemon.store.local_ticket(tickets[1].id)
        assert found is not None
        assert [n.kind for n in found[1]] == ["opened", "comment", "recovered"]
        assert "site-flapping" in found[1][1].text
    finally:
        await daemon.stop()


async def test_flapping_comments_on_the_zendesk_ticket_and_settling_solves_it(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    standin = ZendeskStandIn()
    async with serve_app(standin.app()) as api:
        notifiers = (
            "notifiers:\n"
            f"  tickets: {{type: zendesk, base_url: '{api.url}', email: {standin.email}, "
            f"api_token: {standin.token}}}\n"
        )
        cfg = daemon_config(
            tmp_path / "cfg", loop_site.url, smtp_server, alert=ALERT, main_extra=notifiers
        )
        clock = Clock(T0)
        daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
        await daemon.start()
        try:
            await _flap_then_settle(daemon, clock, sw)
        finally:
            await daemon.stop()
    assert standin.creates() == 2
    first, second = standin.tickets[1], standin.tickets[2]
    assert (first.status, second.status) == ("solved", "solved")
    assert len(second.comments) == 2  # the flapping notice, then the settled recovery
    assert "FLAPPING" in second.comments[0]
