"""The real daemon with its state on a real PostgreSQL (tests/helpers/postgres.py): a site goes
down and recovers, one DOWN and one RECOVERED reach the SMTP catcher; a restart carries the
incident on; a second daemon on the same database is refused."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

import aiohttp
import pytest

from monitord.cli import main
from monitord.daemon import Daemon
from monitord.errors import StoreError
from monitord.probes.heartbeat import META_PREFIX
from tests.daemon.test_retention_daemon import on
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0, Switchable, ticks, write_config
from tests.helpers.postgres import open_postgres_store
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer
from tests.service.conftest import api_of
from tests.service.test_api import eventually, metrics_of


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


HEARTBEAT_CLIENT = """\
client: cron
name: Cron Co
sites:
  - id: cron-jobs
    url: http://127.0.0.1:9/
    checks:
      - {type: heartbeat, every: 1h, grace: 10m}
"""


async def _cli(*argv: str) -> tuple[int, str]:
    """A ``monitord`` command in a thread (it runs its own event loop); its stdout."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return main(list(argv))

    return await asyncio.to_thread(run), out.getvalue()


async def test_metrics_tickets_and_status_read_the_postgresql_store(
    tmp_path: Path,
    site: tuple[Switchable, LoopbackSite],
    smtp_server: SmtpServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What reads the store beside the daemon reads PostgreSQL, not a SQLite file at the
    default state.path: the notification counters of /metrics, ``monitord tickets`` (list and
    ack while the daemon runs), the heartbeat URL of ``monitord status --store``."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    sw, loop_site = site
    cfg = on_postgres(write_config(tmp_path / "cfg", loop_site.url, smtp_server), postgres_url)
    yml = cfg / "monitord.yml"
    yml.write_text(yml.read_text().replace("http: {listen: off}", "http: {listen: '127.0.0.1:0'}"))
    (cfg / "clients" / "cron.yml").write_text(HEARTBEAT_CLIENT)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, notifier_factory=on(clock))
    await daemon.start()
    try:
        api = api_of(daemon)
        assert api.url is not None
        sw.status = 503
        assert await ticks(daemon, clock, 2) == ["site-down"]
        await smtp_server.wait_for_async(1)
        store = daemon.store
        assert store is not None

        async def delivered() -> bool:
            return (await store.outbox_stats(clock())).depth == 0

        await eventually(delivered, "the DOWN mail and the ticket are recorded as sent")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            async with http.get(f"{api.url}metrics") as r:
                assert r.status == 200
                m = metrics_of(await r.text())
            async with http.get(f"{api.url}api/v1/status") as r:
                assert r.status == 200
                status = await r.json()
        # The advisory tables are there (none seen yet), not "no store".
        assert (status["advisories_seen"], status["patch_queue_pending"]) == (0, 0)
        assert m[("monitord_notifications_sent_total", (("notifier", "email"),))] == 1
        assert m[("monitord_notifications_sent_total", (("notifier", "tickets"),))] == 1

        # The tickets commands on the same database while the daemon runs.
        code, out = await _cli("tickets", "list", "--open", "--json", "--config", str(cfg))
        assert code == 0, out
        (listed,) = json.loads(out)
        assert (listed["status"], listed["site"]) == ("open", "acme-www")
        code, out = await _cli(
            "tickets", "ack", str(listed["id"]), "--by", "Sam", "--config", str(cfg)
        )
        assert code == 0, out
        (ticket,) = await store.local_tickets()
        assert (ticket.status, ticket.acked_by) == ("acked", "Sam")

        # The heartbeat URL with the token the daemon stored (the store read, not the API).
        token = json.loads(await store.get_meta(f"{META_PREFIX}cron/cron-jobs/heartbeat") or "{}")
        assert token.get("token")
        code, out = await _cli("status", "--store", "--json", "--config", str(cfg))
        assert code == 0, out
        beats = [
            c["heartbeat"]
            for s in json.loads(out)["sites"]
            for c in s["checks"]
            if c.get("heartbeat")
        ]
        assert [b["url"].rsplit("/", 1)[1] for b in beats] == [token["token"]]
        assert beats[0]["note"] is None
    finally:
        await daemon.stop()
    assert list((tmp_path / "state").iterdir()) == []
