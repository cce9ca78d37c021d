"""The daemon's retention pass on its real store: what ``state.retention`` allows it deletes,
after a real DOWN and RECOVERED were sent; the notification counts of /metrics stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitord.api.storeview import read_extras
from monitord.daemon import Daemon, NotifierFactory
from monitord.notify.plugins import build_notifiers
from monitord.store.base import Pruned
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0, Switchable, ticks, write_config
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer

DAY = timedelta(days=1)


def on(clock: Clock) -> NotifierFactory:
    """The daemon's notifiers on the test's clock (tickets-local stamps its changes with it)."""
    return lambda config, ssl, store: build_notifiers(config, ssl, clock, store=store)


async def test_sent_notifications_then_ended_incidents_are_pruned_after_their_retention(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    yml = cfg / "monitord.yml"
    state = f"state: {{path: {cfg / 'state.sqlite3'}}}"
    kept = f"state: {{path: {cfg / 'state.sqlite3'}, retention: {{sent: 2d, incidents: 5d}}}}"
    yml.write_text(yml.read_text().replace(state, kept))
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, notifier_factory=on(clock))
    await daemon.start()
    try:
        sw.status = 503
        assert await ticks(daemon, clock, 1) == ["site-down"]
        sw.status = 200
        assert await ticks(daemon, clock, 1) == ["site-recovered"]
        await smtp_server.wait_for_async(2)
    finally:
        await daemon.stop()  # the sender records its outcomes before it stops

    daemon = Daemon(cfg, clock=clock, schedule=False, notifier_factory=on(clock))
    await daemon.start()
    try:
        assert daemon.config is not None and daemon.store is not None
        counted = read_extras(daemon.config).notifications
        assert counted[("email", "sent")] == 2
        assert (await daemon.store.outbox_stats(clock())).depth == 0

        assert not await daemon.prune(clock() + DAY)
        pruned = await daemon.prune(clock() + 3 * DAY)
        assert pruned.sent == sum(n for (_, status), n in counted.items() if status == "sent")
        assert pruned.incidents == 0  # ended 3 days ago: kept 5
        assert [i.ended is not None for i in await daemon.store.incidents()] == [True]
        # The incident's local ticket, resolved by the recovery, goes with the incident.
        [ticket] = await daemon.store.local_tickets()
        assert ticket.status == "resolved"
        assert await daemon.prune(clock() + 6 * DAY) == Pruned(incidents=1, tickets=1)
        assert await daemon.store.incidents() == []
        assert await daemon.store.local_tickets() == []
        assert read_extras(daemon.config).notifications == counted
    finally:
        await daemon.stop()
