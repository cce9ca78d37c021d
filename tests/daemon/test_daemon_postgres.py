"""The real daemon with its state on a real PostgreSQL (tests/helpers/postgres.py): a site goes
down and recovers, one DOWN and one RECOVERED reach the SMTP catcher; a restart carries the
incident on; a second daemon on the same database is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.daemon import Daemon
from monitord.errors import StoreError
from tests.daemon.test_retention_daemon import on
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0, Switchable, ticks, write_config
from tests.helpers.postgres import open_postgres_store
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer


def on_postgres(cfg: Path, url: str) -> Path:
    yml = cfg / "monitord.yml"
    yml.write_text(yml.read_text().replace(f"state: {{path: {cfg / 'state.sqlite3'}}}", ""))
    with yml.open("a") as f:
        f.write(f'state: {{url: "{url}"}}\n')
    return cfg


async def test_down_and_recovered_once_each_with_the_state_on_postgres(
    tmp_path: Path,
    site: tuple[Switchable, LoopbackSite],
    smtp_server: SmtpServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The report and hours tables are on PostgreSQL too: nothing is written under the
    # default state.path's directory ($STATE_DIRECTORY).
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    sw, loop_site = site
    cfg = on_postgres(write_config(tmp_path / "cfg", loop_site.url, smtp_server), postgres_url)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, notifier_factory=on(clock))
    await daemon.start()
    try:
        assert type(daemon.store).__name__ == "PostgresStore"
        sw.status = 503
        assert await ticks(daemon, clock, 2) == ["site-down"]
        # A second daemon of the same node (the host name) is refused, naming the first.
        second = Daemon(cfg, clock=clock, schedule=False, notifier_factory=on(clock))
        with pytest.raises(StoreError, match="another monitord is already running as node"):
            await second.start()
        await smtp_server.wait_for_async(1)
    finally:
        await daemon.stop()

    # A restart reads the open incident back from PostgreSQL: the recovery is its end.
    daemon = Daemon(cfg, clock=clock, schedule=False, notifier_factory=on(clock))
    await daemon.start()
    try:
        sw.status = 200
        assert await ticks(daemon, clock, 1) == ["site-recovered"]
        mails = await smtp_server.wait_for_async(2)
    finally:
        await daemon.stop()  # the sender records its outcomes before it stops
    async with open_postgres_store(postgres_url) as store:
        assert (await store.outbox_stats(clock())).depth == 0
        sent = sorted(i.notifier for i in await store.outbox_items("sent"))
        assert sent == ["email", "email", "tickets", "tickets"]
        [ticket] = await store.local_tickets()
        assert ticket.status == "resolved"
        [incident] = await store.incidents()
        assert incident.ended is not None
    assert list((tmp_path / "state").iterdir()) == []
    # Stopped: the sender has finished; exactly one DOWN, then one RECOVERED.
    assert len(mails) == 2
    kinds = [m.message["X-Monitord-Kind"] for m in smtp_server.messages]
    assert kinds == ["site-down", "site-recovered"]
