"""Through the daemon: an inconclusive result (the monitor could not probe, out of open files)
opens no incident and sends no mail even at failure_threshold 1, is not counted by the
connectivity rule, and is kept as the check's last result so ``status`` shows it."""

from __future__ import annotations

from pathlib import Path

from monitord.daemon import Daemon
from monitord.probes.base import ProbeResult
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, Switchable, ticks
from tests.helpers.daemon import write_config as daemon_config
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer

NO_FILES = ProbeResult(
    ok=False,
    inconclusive=True,
    message="monitor error: out of open files; the site was not checked",
    details={"error": "EMFILE"},
)


async def test_an_inconclusive_result_is_no_down(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = daemon_config(tmp_path / "cfg", loop_site.url, smtp_server)  # failure_threshold 1
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False)
    await daemon.start()
    try:
        assert await ticks(daemon, clock, 1) == []
        assert daemon.states[KEY].status == "up"
        for _ in range(5):
            clock.advance(seconds=60)
            assert await daemon.tick(KEY, NO_FILES) == []
        assert daemon.states[KEY].status == "up" and daemon.states[KEY].failures == 0
        assert daemon.desk.latest_ok[KEY] is True  # the connectivity rule saw no failure
        assert daemon.store is not None
        last = (await daemon.store.latest_results())[KEY]
        assert last.message == NO_FILES.message and not last.ok
        assert await daemon.store.open_incidents() == []

        sw.status = 503  # a real failure still counts at once
        assert await ticks(daemon, clock, 1) == ["site-down"]
        mails = await smtp_server.wait_for_async(1)
        assert len(mails) == 1 and "acme-www" in mails[0].message["Subject"]
    finally:
        await daemon.stop()
