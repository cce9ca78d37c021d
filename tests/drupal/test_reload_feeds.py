"""A reload (what SIGHUP runs) decides the known advisories for the new configuration at once
and polls no feed whose URL is unchanged; the conditional-GET state survives it. drupal.org's
stand-in and an SMTP server on 127.0.0.1, a real SQLite file, a driven clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from tests.drupal import test_service_daemon as sd
from tests.drupal.test_service_daemon import CORE_HC, T0, FeedServer, recipients, rss, running
from tests.helpers.clock import Clock
from tests.helpers.smtp import SmtpServer

# The loopback feed server and SMTP fixtures, registered in this module too.
feeds = sd.feeds
mailer = sd.mailer
cfg_dir = sd.cfg_dir
smtp_server = sd.smtp_server
smtp_server_factory = sd.smtp_server_factory
test_ca = sd.test_ca

NAMES = ["core.xml", "contrib.xml", "psa.xml", "all.xml"]
SHOP = """\
  - id: acme-shop
    url: https://shop.acme.example/
    drupal: {modules: {drupal/core: 10.3.8}}
"""


async def test_a_reload_decides_at_once_without_polling_unchanged_feeds(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    for name in NAMES:
        feeds.bodies[name] = rss(CORE_HC, f"<!-- {name} -->")
    cfg = sd.write_config(cfg_dir, mailer, [feeds.url(n) for n in NAMES])
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, service):
        # The daemon's own loop (the test daemon has no schedule; the service's loop is it).
        service._task = asyncio.create_task(service._loop())
        first = await mailer.wait_for_async(2)  # acme-www: security contact and agency
        assert feeds.answered == [200] * 4

        # A new Drupal site, and SIGHUP's reload: the known advisory is decided for it now.
        client = cfg / "clients" / "acme.yml"
        client.write_text(client.read_text() + SHOP)
        clock.now += timedelta(minutes=1)
        assert await daemon.reload()
        mails = await mailer.wait_for_async(4)
        assert recipients(mails[len(first) :]) == ["sec@acme.example", "support@collective.example"]
        assert "acme-shop" in mails[-1].message.as_string()
        assert feeds.answered == [200] * 4, "the reload polled feeds whose URLs did not change"

        # The next poll is conditional: 304 for every feed, nothing fetched in full again.
        clock.now += timedelta(minutes=15)
        report = await service.run_once(clock.now)
    assert feeds.answered[4:] == [304] * 4
    assert set(report.fetched.values()) == {"not-modified"}


async def test_a_reload_that_changes_the_feed_urls_polls_them(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    for name in NAMES:
        feeds.bodies[name] = rss(CORE_HC, f"<!-- {name} -->")
    cfg = sd.write_config(cfg_dir, mailer, [feeds.url(n) for n in NAMES[:3]])
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, service):
        service._task = asyncio.create_task(service._loop())
        assert await feeds.wait_answered(3) == [200] * 3
        sd.write_config(cfg_dir, mailer, [feeds.url(n) for n in NAMES])
        clock.now += timedelta(minutes=1)
        assert await daemon.reload()
        # The round the reload wakes polls: the new feed in full, the others conditionally.
        answered = await feeds.wait_answered(7)
    assert sorted(answered[3:]) == [200, 304, 304, 304]
