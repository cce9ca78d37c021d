"""The outbox in a real daemon: a loopback site, a real SMTP server (aiosmtpd), a real SQLite
file, a driven clock; the daemon's own sender task delivers (woken as the daemon wakes it).

- out of hours, the on-call page goes out at once while the client's mail is held to Monday
  09:00 (one person's held mail never holds another's page; storm grouping never delays a
  page);
- a webhook that never answers does not hold another destination's DOWN mail.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from monitord.daemon import Daemon, check_key
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, Switchable, agency_yaml, smtp_yaml, ticks
from tests.helpers.sites import LoopbackSite, serve_app
from tests.helpers.smtp import SmtpServer

SUNDAY = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
"""Sunday 29 November 2026, 14:00 in London: out of hours."""
MONDAY_NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

ROUTES = """\
routes:
  - {match: {kind: security-now}, when: always, notify: [tickets, client-contacts, oncall-pager]}
  - {match: {kind: site-down, client_cover: out_of_hours}, when: out_of_hours, notify: [oncall-pager]}
  - {match: {kind: [site-down, site-recovered]}, when: office_hours, notify: [tickets, client-contacts]}
oncall:
  rota: [{name: Sam, email: sam@collective.example}]
  handover: "mon 09:00"
  start: 2024-01-01
  notifier: email
"""
"""docs/routing.md's routes, with the on-call person reached by e-mail."""

SHOP = check_key("acme", "acme-shop", "http")

MAIL_WAIT = 5.0
"""Seconds a mail due now may take to arrive (it takes milliseconds; the old code never
sent it, so the test fails in this time rather than hanging)."""


def write_config(d: Path, site_url: str, smtp: SmtpServer, main_extra: str) -> Path:
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp.port)
        + "security: {enabled: false}\nhttp: {listen: off}\n"
        + main_extra
    )
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            cover: out_of_hours
            contacts:
              - {{name: Jo Bloggs, email: jo@acme.example, notify: [site-down, site-recovered]}}
            sites:
              - id: acme-www
                url: {site_url}
                checks:
                  - {{type: http, interval: 60s, timeout: 5s}}
                alert: {{failure_threshold: 1, success_threshold: 1, repeat_every: 4h}}
            """
        )
    )
    return d


async def test_out_of_hours_the_page_goes_at_once_while_the_client_mail_waits_to_monday(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path, loop_site.url, smtp_server, ROUTES)
    clock = Clock(SUNDAY)
    daemon = Daemon(cfg, clock=clock, schedule=False)
    await daemon.start()
    try:
        sw.status = 503
        assert await ticks(daemon, clock, 1) == ["site-down"]
        # Due now, and the daemon woke its sender: Sam is paged at once, on the same
        # (driven) instant, while Jo's mail of the same thread and notifier is held.
        (page,) = await smtp_server.wait_for_async(1, timeout=MAIL_WAIT)
        assert page.rcpt_tos == ("sam@collective.example",)
        assert page.message["X-Monitord-Kind"] == "site-down"
        assert daemon.store is not None
        held = await daemon.store.outbox_items("pending")
        assert sorted((i.notifier, i.notification.recipient, i.due_at) for i in held) == [
            ("email", "jo@acme.example", MONDAY_NINE),
            ("tickets", "", MONDAY_NINE),
        ]

        clock.now = MONDAY_NINE - timedelta(seconds=1)
        assert daemon.sender is not None
        await daemon.sender.run_once()
        assert len(smtp_server.messages) == 1  # not a second early
        (jo,) = [i for i in await daemon.store.outbox_items("pending") if i.notifier == "email"]
        assert jo.notification.recipient == "jo@acme.example"
        clock.advance(seconds=1)
        daemon.sender.wake()
        mails = await smtp_server.wait_for_async(2, timeout=MAIL_WAIT)
        assert mails[1].rcpt_tos == ("jo@acme.example",)
        assert len(smtp_server.messages) == 2
    finally:
        await daemon.stop()


class HangingHook:
    """A webhook receiver on 127.0.0.1 that takes the request and does not answer until
    ``release`` is set (a destination that hangs until the notifier's timeout)."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.requests = 0

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            self.requests += 1
            self.arrived.set()
            await self.release.wait()
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/hook", hook)
        return app


@pytest.fixture
async def hanging_hook() -> AsyncIterator[tuple[HangingHook, LoopbackSite]]:
    h = HangingHook()
    async with serve_app(h.app()) as loop_site:
        try:
            yield h, loop_site
        finally:
            h.release.set()


async def test_a_hanging_webhook_does_not_hold_another_site_s_down_mail(
    tmp_path: Path,
    site: tuple[Switchable, LoopbackSite],
    hanging_hook: tuple[HangingHook, LoopbackSite],
    smtp_server: SmtpServer,
) -> None:
    sw, loop_site = site
    hook, hook_site = hanging_hook
    cfg = tmp_path / "cfg"
    write_config(
        cfg,
        loop_site.url,
        smtp_server,
        textwrap.dedent(
            f"""\
            notifiers:
              hook: {{type: webhook, url: "{hook_site.url_for("hook")}", timeout: 60s}}
            routes:
              - {{match: {{kind: site-down, site: [acme-www]}}, notify: [hook]}}
              - {{match: {{kind: site-down, site: [acme-shop]}}, notify: [client-contacts]}}
            grouping: {{window: 0s}}
            """
        ),
    )
    acme = cfg / "clients" / "acme.yml"
    acme.write_text(
        acme.read_text() + f"  - id: acme-shop\n"
        f"    url: {loop_site.url_for('?shop')}\n"
        "    checks: [{type: http, interval: 60s, timeout: 5s}]\n"
        "    alert: {failure_threshold: 1, success_threshold: 1, repeat_every: 4h}\n"
    )
    clock = Clock(SUNDAY.replace(day=26))  # Thursday 14:00: office hours
    daemon = Daemon(cfg, clock=clock, schedule=False)
    await daemon.start()
    try:
        sw.status = 503  # both sites answer from the same switchable server
        assert await ticks(daemon, clock, 1, key=KEY) == ["site-down"]
        await asyncio.wait_for(hook.arrived.wait(), timeout=MAIL_WAIT)  # the webhook hangs
        assert await ticks(daemon, clock, 1, key=SHOP) == ["site-down"]
        (mail,) = await smtp_server.wait_for_async(1, timeout=MAIL_WAIT)
        assert mail.rcpt_tos == ("jo@acme.example",)
        assert not hook.release.is_set() and hook.requests == 1  # still hanging meanwhile
    finally:
        hook.release.set()
        await daemon.stop()
