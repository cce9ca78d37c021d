"""Security events through PagerDuty inside a real daemon: the feed server, the PagerDuty
Events API stand-in and an SMTP server on 127.0.0.1, a real SQLite file, a driven clock.

A PSA heads-up pages on-call before its window and the alert resolves (same dedup_key) when the
window ends, with no mail about it; a security-now alert names the site's host as
``payload.source``, never the configured URL's secrets.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitord.store.base import SENT
from tests.drupal import test_service_daemon as sd
from tests.drupal.test_service_daemon import CORE_HC, FeedServer, psa_item, recipients, rss, running
from tests.helpers.clock import Clock
from tests.helpers.daemon import agency_yaml, smtp_yaml
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.pagerduty import PagerDutyStandIn

# The loopback feed server and SMTP fixtures, registered in this module too.
feeds = sd.feeds
mailer = sd.mailer
smtp_server = sd.smtp_server
smtp_server_factory = sd.smtp_server_factory
test_ca = sd.test_ca

ROUTING_KEY = "0123456789abcdef0123456789abcdef"
SECRET = "s3cr3t-t0ken"
PSA = psa_item(
    "PSA-2026-11-16",
    "Drupal core - Highly critical - Public Service announcement",
    "There will be a security release of Drupal core on Wednesday, November 18th, 2026 "
    "between 17:00 and 21:00 UTC. The risk is highly critical.",
)
# Monday 16 November 2026, 20:00 GMT: out of hours, so security-now pages on-call too.
MONDAY_EVENING = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)
HEADS_UP_DUE = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # two hours before the window
WINDOW_END = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)


class PagerDuty(PagerDutyStandIn):
    """The stand-in, telling the test each time it has answered an event."""

    def __init__(self) -> None:
        super().__init__(routing_keys={ROUTING_KEY})
        self.answered = asyncio.Condition()

    async def _enqueue(self, request: web.Request) -> web.StreamResponse:
        resp = await super()._enqueue(request)
        async with self.answered:
            self.answered.notify_all()
        return resp

    async def wait_events(self, count: int) -> list[dict[str, Any]]:
        async with self.answered:
            await asyncio.wait_for(
                self.answered.wait_for(lambda: len(self.requests) >= count), timeout=10
            )
        return [r.json() for r in self.requests]


@pytest.fixture
async def pagerduty() -> AsyncIterator[tuple[PagerDuty, str]]:
    standin = PagerDuty()
    async with serve_app(standin.app()) as site:
        yield standin, site.url.rstrip("/")


def write_config(d: Path, smtp: SmtpServer, feed_url: str, pd_url: str) -> Path:
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp.port)
        + textwrap.dedent(
            f"""\
            notifiers:
              pagerduty: {{type: pagerduty, routing_key: {ROUTING_KEY}, base_url: "{pd_url}"}}
            oncall:
              rota: [{{name: Sam, email: sam@collective.example, pagerduty_user: P123}}]
              notifier: pagerduty
            security:
              feeds: [{feed_url}]
              psa_json: null
            """
        )
    )
    (d / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            f"""\
            client: acme
            name: ACME Charity
            contacts:
              - {{name: Sec Person, email: sec@acme.example, notify: [security]}}
            sites:
              - id: acme-www
                url: "https://deploy:{SECRET}@www.acme.example/?token=${{ACME_TOKEN}}"
                drupal: {{modules: {{drupal/core: 10.3.8}}}}
            """
        )
    )
    return d


async def test_psa_heads_up_pages_then_resolves_at_the_window_end_and_mails_nothing_more(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    feeds: FeedServer,
    mailer: SmtpServer,
    pagerduty: tuple[PagerDuty, str],
) -> None:
    pd, pd_url = pagerduty
    monkeypatch.setenv("ACME_TOKEN", SECRET)
    feeds.bodies["all.xml"] = rss(PSA)
    cfg = write_config(tmp_path / "cfg", mailer, feeds.url("all.xml"), pd_url)
    clock = Clock(MONDAY_EVENING)
    async with running(cfg, clock) as (daemon, service):
        assert daemon.store is not None and daemon.sender is not None
        report = await service.run_once(clock.now)
        assert [e.kind for e in report.events] == ["psa-heads-up", "psa-heads-up"]
        items = {i.key: i for i in await daemon.store.outbox_items()}
        over = [i for i in items.values() if i.notification.event.details.get("resolves")]
        # The follow-up goes to PagerDuty only, due when the window ends.
        assert [(i.notifier, i.due_at) for i in over] == [("pagerduty", WINDOW_END)]
        assert pd.requests == []

        clock.now = HEADS_UP_DUE
        daemon.sender.wake()
        (trigger,) = await pd.wait_events(1)
        assert trigger["event_action"] == "trigger"
        assert trigger["dedup_key"] == "PSA-2026-11-16"
        assert pd.alerts["PSA-2026-11-16"].status == "triggered"

        clock.now = WINDOW_END
        daemon.sender.wake()
        _, resolve = await pd.wait_events(2)
        assert resolve == {
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": "PSA-2026-11-16",
        }
        assert pd.alerts["PSA-2026-11-16"].status == "resolved"
    statuses, _tickets = await sd.settled(cfg)
    assert set(statuses.values()) == {SENT}
    # The agency was mailed the heads-up once; the window's end is no news by mail.
    mails = mailer.messages
    assert recipients(mails) == ["support@collective.example"]
    assert "PSA-2026-11-16" in str(mails[0].message["Subject"])


async def test_security_now_alert_names_the_site_host_as_source_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    feeds: FeedServer,
    mailer: SmtpServer,
    pagerduty: tuple[PagerDuty, str],
) -> None:
    pd, pd_url = pagerduty
    monkeypatch.setenv("ACME_TOKEN", SECRET)
    feeds.bodies["all.xml"] = rss(CORE_HC)
    cfg = write_config(tmp_path / "cfg", mailer, feeds.url("all.xml"), pd_url)
    clock = Clock(MONDAY_EVENING)
    async with running(cfg, clock) as (_daemon, service):
        report = await service.run_once(clock.now)
        (event,) = report.events
        assert event.kind == "security-now"
        assert event.details["url"] == "https://deploy:***@www.acme.example/?token=***"
        (trigger,) = await pd.wait_events(1)
    assert trigger["payload"]["source"] == "www.acme.example"
    assert (
        trigger["payload"]["custom_details"]["url"]
        == "https://deploy:***@www.acme.example/?token=***"
    )
    assert SECRET not in json.dumps(trigger)
    await mailer.wait_for_async(1)
    assert SECRET not in "".join(m.message.as_string() for m in mailer.messages)
