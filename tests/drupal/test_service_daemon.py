"""The advisory watcher inside a real daemon: a feed server and an SMTP server on 127.0.0.1,
a real SQLite file, a driven clock (no sleeping for time).

A Highly critical advisory mails the client's security contact and the agency ONCE (a second
poll and a restart change nothing); a moderately critical one is queued and mailed as ONE
maintenance notice at 09:00 on patch day; a revision raising it to Highly critical takes the
immediate path; a correction removes the queued item; hostile and failing feeds are survived.
Each of those notices also opens ONE ticket in the built-in tickets-local notifier.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from monitord.cli import main
from monitord.commands.status import collect
from monitord.daemon import Daemon
from monitord.drupal.service import SecurityService, security_service
from monitord.store.base import SENT, LocalTicketRow
from monitord.store.sqlite import SqliteStore
from tests.helpers import smtp as smtp_helpers
from tests.helpers.clock import Clock
from tests.helpers.daemon import agency_yaml, smtp_yaml
from tests.helpers.hostile_drupal import (
    composer_lock_of_brackets,
    json_deep,
    project_of_lt,
    unclosed_labels,
)
from tests.helpers.sites import serve_app
from tests.helpers.smtp import ReceivedMail, SmtpServer, plain_text
from tests.helpers.tls import test_ca as _test_ca

# The loopback SMTP fixtures, registered in this module (tests/drupal has no conftest).
smtp_server = smtp_helpers.smtp_server
smtp_server_factory = smtp_helpers.smtp_server_factory
test_ca = _test_ca

# Thursday 5 November 2026, 14:00 UTC (= London, GMT): office hours.
T0 = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
# November 2026: the third Wednesday is the 18th, so patch day is Thursday 19th, 09:00 GMT.
PATCH_DAY = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol4;</title></channel></rss>
"""


def _field(label: str, value_html: str) -> str:
    return (
        '<div class="field field-type-text field-label-inline clearfix">'
        f'<div class="field-label">{label}:&nbsp;</div><div class="field-items">'
        f'<div class="field-item even">{value_html}</div></div></div>'
    )


def sa_item(
    sa_id: str,
    project: str,
    machine: str,
    label: str,
    score: int,
    affected: str,
    *,
    solution: str = "",
    published: str = "Wed, 04 Nov 2026 17:00:00 +0000",
) -> str:
    """One RSS <item> the way drupal.org writes a security advisory."""
    desc = (
        _field("Project", f'<a href="/project/{machine}">{html.escape(project)}</a>')
        + _field("Project machine name", f"<code>{machine}</code>")
        + _field(
            "Security risk",
            f"<strong>{label}</strong> {score}\u2009\u2215\u200925 "
            "AC:None/A:None/CI:All/II:All/E:Theoretical/TD:Default",
        )
        + _field("Vulnerability", "Access bypass")
        + _field("Affected versions", html.escape(affected))
        + (_field("Solution", solution) if solution else "")
    )
    return (
        f"<item><title>{html.escape(project)} - {label} - Access bypass - {sa_id}</title>"
        f"<link>https://www.drupal.org/{sa_id.lower()}</link>"
        f"<description>{html.escape(desc)}</description>"
        f"<pubDate>{published}</pubDate>"
        f'<guid isPermaLink="false">{sa_id} at https://www.drupal.org</guid></item>'
    )


def psa_item(psa_id: str, title: str, text: str) -> str:
    desc = _field("Date", "2026-November-16") + _field("Description", f"<p>{text}</p>")
    return (
        f"<item><title>{html.escape(title)} - {psa_id}</title>"
        f"<link>https://www.drupal.org/{psa_id.lower()}</link>"
        f"<description>{html.escape(desc)}</description>"
        "<pubDate>Mon, 16 Nov 2026 15:00:00 +0000</pubDate>"
        f'<guid isPermaLink="false">{psa_id} at https://www.drupal.org</guid></item>'
    )


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Security advisories</title><link>https://www.drupal.org/security</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


CORE_HC = sa_item(
    "SA-CORE-2026-030",
    "Drupal core",
    "drupal",
    "Highly critical",
    20,
    ">=8.0.0 <10.3.9 || >=11.0.0 <11.0.8",
    solution='Update to <a href="https://www.drupal.org/project/drupal/releases/10.3.9">10.3.9</a>.',
)


def webform(label: str = "Moderately critical", score: int = 12, affected: str = "<6.2.9") -> str:
    return sa_item(
        "SA-CONTRIB-2026-300",
        "Webform",
        "webform",
        label,
        score,
        affected,
        solution='Install <a href="https://www.drupal.org/project/webform/releases/6.2.9">6.2.9</a>.',
    )


@dataclass
class FeedServer:
    """drupal.org's stand-in: serves bodies the test sets, with ETag / If-None-Match."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    """The status of each answer, in order (200 full body, 304 not modified, …)."""
    base: str = ""
    _answer_given: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_answered(self, count: int) -> list[int]:
        """Wait until ``count`` requests were answered (10 s at most); their statuses."""
        async with asyncio.timeout(10):
            while len(self.answered) < count:
                self._answer_given.clear()
                await self._answer_given.wait()
        return list(self.answered)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        resp = await self._answer(request)
        self.answered.append(resp.status)
        self._answer_given.set()
        return resp

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append((name, request.headers.get("If-None-Match")))
        status = self.statuses.get(name, 200)
        if status != 200:
            return web.Response(status=status, text="Internal Server Error")
        body = self.bodies.get(name)
        if body is None:
            return web.Response(status=404)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{name}", self.handle)
        return app


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    async with serve_app(server.app()) as site:
        server.base = site.url.rstrip("/")
        yield server


def write_config(
    d: Path,
    smtp: SmtpServer,
    feed_urls: list[str],
    *,
    drupal: str = "{modules: {drupal/core: 10.3.8, drupal/webform: 6.2.3}}",
) -> Path:
    (d / "clients").mkdir(parents=True, exist_ok=True)
    feeds = ", ".join(feed_urls)
    (d / "monitord.yml").write_text(
        agency_yaml(d)
        + smtp_yaml(smtp.port)
        + textwrap.dedent(
            f"""\
            security:
              feeds: [{feeds}]
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
              - {{name: Maint Person, email: maint@acme.example, notify: [maintenance]}}
              - {{name: Down Only, email: down@acme.example, notify: [site-down]}}
            sites:
              - id: acme-www
                url: https://www.acme.example/
                drupal: {drupal}
            """
        )
    )
    return d


@asynccontextmanager
async def running(cfg: Path, clock: Clock) -> AsyncIterator[tuple[Daemon, SecurityService]]:
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[security_service])
    await daemon.start()
    try:
        service = next(s for s in daemon.services if isinstance(s, SecurityService))
        yield daemon, service
    finally:
        await daemon.stop()


async def outbox_keys(daemon: Daemon) -> list[str]:
    assert daemon.store is not None
    return sorted(i.key for i in await daemon.store.outbox_items(limit=1000))


async def settled(cfg: Path) -> tuple[dict[str, str], list[LocalTicketRow]]:
    """After the daemon stopped: each outbox item's status by key, and the local tickets."""
    store = SqliteStore(cfg / "state.sqlite3")
    await store.open()
    try:
        items = {i.key: i.status for i in await store.outbox_items(limit=1000)}
        return items, await store.local_tickets()
    finally:
        await store.close()


def recipients(mails: list[ReceivedMail]) -> list[str]:
    return sorted(r for m in mails for r in m.rcpt_tos)


@pytest.fixture
def mailer(request: pytest.FixtureRequest) -> SmtpServer:
    server = request.getfixturevalue("smtp_server")
    assert isinstance(server, SmtpServer)
    return server


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "cfg"


async def test_highly_critical_mails_client_and_agency_once_across_polls_and_restart(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    feeds.bodies["core.xml"] = rss(CORE_HC)
    feeds.bodies["all.xml"] = rss(CORE_HC, webform(affected="<6.0.0"))  # same SA, two feeds
    cfg = write_config(cfg_dir, mailer, [feeds.url("core.xml"), feeds.url("all.xml")])
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, service):
        report = await service.run_once(clock.now)
        assert [e.kind for e in report.events] == ["security-now"]
        event = report.events[0]
        assert event.thread == "SA-CORE-2026-030:acme-www"
        assert event.severity == "critical"
        assert event.details["installed"] == "10.3.8"
        assert event.details["fixed"] == "10.3.9"
        assert event.details["constraint"] == ">=8.0.0 <10.3.9 || >=11.0.0 <11.0.8"
        mails = await mailer.wait_for_async(2)
        assert recipients(mails) == ["sec@acme.example", "support@collective.example"]
        body = plain_text(mails[0].message)
        assert "SA-CORE-2026-030" in body and "10.3.8" in body

        clock.now += timedelta(minutes=15)
        again = await service.run_once(clock.now)
        assert again.events == [] and again.notifications == 0
        # Conditional GET: the second poll sent the ETag and got 304.
        assert feeds.requests[-1][1] is not None
        assert set(again.fetched.values()) == {"not-modified"}
        keys = await outbox_keys(daemon)
    # Two mails and the ticket (the built-in tickets-local notifier, no recipient).
    assert keys == [
        "security-now|SA-CORE-2026-030|acme-www|email|sec@acme.example",
        "security-now|SA-CORE-2026-030|acme-www|email|support@collective.example",
        "security-now|SA-CORE-2026-030|acme-www|tickets|",
    ]
    statuses, tickets = await settled(cfg)
    assert statuses == dict.fromkeys(keys, SENT)
    assert [(t.thread, t.kind, t.site, t.status) for t in tickets] == [
        ("SA-CORE-2026-030:acme-www", "security-now", "acme-www", "open")
    ]

    # Restart; drupal.org re-serves the same advisories under a new ETag (so they are parsed).
    feeds.bodies["core.xml"] = rss(CORE_HC, "<!-- re-served -->")
    feeds.bodies["all.xml"] = rss(webform(affected="<6.0.0"), CORE_HC)
    clock.now += timedelta(minutes=15)
    async with running(cfg, clock) as (daemon, service):
        report = await service.run_once(clock.now)
        assert set(report.fetched.values()) == {"new"}
        assert report.events == [] and report.notifications == 0
        assert await outbox_keys(daemon) == keys
    assert len(mailer.messages) == 2
    assert await settled(cfg) == (statuses, tickets)


async def test_moderate_advisory_waits_for_patch_day_and_one_notice_lists_it(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    contrib = sa_item(
        "SA-CONTRIB-2026-301", "Token Plus", "token_plus", "Less critical", 7, "<2.0.0"
    )
    feeds.bodies["all.xml"] = rss(webform(), contrib)
    cfg = write_config(
        cfg_dir,
        mailer,
        [feeds.url("all.xml")],
        drupal="{modules: {drupal/core: 10.3.9, drupal/webform: 6.2.3, drupal/token_plus: 8.x-1.4}}",
    )
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, service):
        report = await service.run_once(clock.now)
        assert report.events == []
        assert report.decisions == {"patch-day": 2}
        queued = service.queued()
        assert [(q.advisory, q.patch_day) for q in queued] == [
            ("SA-CONTRIB-2026-300", PATCH_DAY),
            ("SA-CONTRIB-2026-301", PATCH_DAY),
        ]
        assert await outbox_keys(daemon) == []

        clock.now = PATCH_DAY - timedelta(minutes=1)
        early = await service.run_once(clock.now)
        assert early.events == []
        assert early.next_poll <= timedelta(minutes=1)  # the loop wakes for 09:00

        clock.now = PATCH_DAY
        due = await service.run_once(clock.now)
        assert [e.kind for e in due.events] == ["patch-day"]
        items = due.events[0].details["items"]
        assert [(i["advisory"], i["installed"], i["fixed"]) for i in items] == [
            ("SA-CONTRIB-2026-301", "8.x-1.4", "see advisory"),
            ("SA-CONTRIB-2026-300", "6.2.3", "6.2.9"),
        ]
        mails = await mailer.wait_for_async(2)
        assert recipients(mails) == ["maint@acme.example", "support@collective.example"]
        text = plain_text(mails[0].message)
        assert "SA-CONTRIB-2026-300" in text and "SA-CONTRIB-2026-301" in text

        clock.now += timedelta(hours=1)
        after = await service.run_once(clock.now)
        assert after.events == []
        assert service.queued() == []
    async with running(cfg, clock) as (daemon, service):
        assert (await service.run_once(clock.now)).events == []
        keys = await outbox_keys(daemon)
    assert keys == [
        "patch-day|acme-www|2026-11-19|email|maint@acme.example",
        "patch-day|acme-www|2026-11-19|email|support@collective.example",
        "patch-day|acme-www|2026-11-19|tickets|",
    ]
    statuses, tickets = await settled(cfg)
    assert statuses == dict.fromkeys(keys, SENT)
    assert [(t.kind, t.site, t.status) for t in tickets] == [("patch-day", "acme-www", "open")]
    assert "SA-CONTRIB-2026-300" in tickets[0].body and "SA-CONTRIB-2026-301" in tickets[0].body


async def test_revision_to_highly_critical_before_patch_day_acts_now(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    feeds.bodies["all.xml"] = rss(webform())
    cfg = write_config(cfg_dir, mailer, [feeds.url("all.xml")])
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, service):
        assert (await service.run_once(clock.now)).decisions == {"patch-day": 1}
        assert len(service.queued()) == 1

        # Saturday night (out of hours): drupal.org raises the risk to Highly critical 21.
        clock.now = datetime(2026, 11, 7, 22, 0, tzinfo=UTC)
        feeds.bodies["all.xml"] = rss(webform("Highly critical", 21))
        report = await service.run_once(clock.now)
        assert report.revised == ["SA-CONTRIB-2026-300"]
        assert [e.kind for e in report.events] == ["security-now"]
        assert service.queued() == []  # the urgent path replaces the queued item
        mails = await mailer.wait_for_async(2)
        # The on-call stand-in is the agency's support address (one mail, not two).
        assert recipients(mails) == ["sec@acme.example", "support@collective.example"]

        # A lagging mirror serving the old version is not a revision, and patch day is quiet.
        feeds.bodies["all.xml"] = rss(webform(), "<!-- a lagging mirror -->")
        clock.now = PATCH_DAY
        report = await service.run_once(clock.now)
        assert report.revised == [] and report.events == []
        # The two mails and the ticket of the urgent path, nothing for patch day.
        keys = await outbox_keys(daemon)
        assert keys == [
            "security-now|SA-CONTRIB-2026-300|acme-www|email|sec@acme.example",
            "security-now|SA-CONTRIB-2026-300|acme-www|email|support@collective.example",
            "security-now|SA-CONTRIB-2026-300|acme-www|tickets|",
        ]

        # A real revision lowering the risk again: a pair acted on now is not acted on again.
        feeds.bodies["all.xml"] = rss(webform("Critical", 16))
        clock.now += timedelta(hours=1)
        report = await service.run_once(clock.now)
        assert report.revised == ["SA-CONTRIB-2026-300"]
        assert report.events == [] and service.queued() == []
        assert await outbox_keys(daemon) == keys
    statuses, tickets = await settled(cfg)
    assert statuses == dict.fromkeys(keys, SENT)
    assert [(t.kind, t.priority, t.status) for t in tickets] == [("security-now", "urgent", "open")]


async def test_correction_that_unaffects_the_site_removes_its_queued_item(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    feeds.bodies["all.xml"] = rss(webform())
    cfg = write_config(cfg_dir, mailer, [feeds.url("all.xml")])
    clock = Clock(T0)
    async with running(cfg, clock) as (daemon, service):
        await service.run_once(clock.now)
        assert len(service.queued()) == 1
        feeds.bodies["all.xml"] = rss(webform(affected="<6.2.0"))
        clock.now += timedelta(hours=1)
        report = await service.run_once(clock.now)
        assert report.revised == ["SA-CONTRIB-2026-300"] and report.decisions == {"none": 1}
        assert service.queued() == []
    async with running(cfg, clock) as (daemon, service):
        assert service.queued() == []  # removed in the store, not only in memory
        clock.now = PATCH_DAY
        assert (await service.run_once(clock.now)).events == []
        assert await outbox_keys(daemon) == []


async def test_hostile_and_failing_feeds_are_survived_and_nothing_known_is_lost(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    feeds.bodies["laughs.xml"] = LAUGHS
    feeds.statuses["down.xml"] = 500
    feeds.bodies["html.xml"] = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
    feeds.bodies["all.xml"] = rss(webform())
    urls = [feeds.url(n) for n in ("laughs.xml", "down.xml", "html.xml", "all.xml")]
    cfg = write_config(cfg_dir, mailer, urls)
    clock = Clock(T0)
    async with running(cfg, clock) as (_daemon, service):
        report = await service.run_once(clock.now)
        assert report.decisions == {"patch-day": 1}  # the good feed still counts
        problems = "\n".join(report.errors)
        assert "entit" in problems  # billion laughs refused, not expanded
        assert "HTTP 500" in problems
        assert "HTML page" in problems
        # The good feed now goes down too: what is known stays known.
        feeds.statuses["all.xml"] = 500
        clock.now += timedelta(minutes=15)
        report = await service.run_once(clock.now)
        assert sum("HTTP 500" in e for e in report.errors) == 2
        assert len(service.queued()) == 1
        assert [a.id for a in service.advisories()] == ["SA-CONTRIB-2026-300"]


async def test_hostile_5_mib_feeds_cost_a_round_little_cpu_and_the_good_feed_still_acts(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    """A feed item whose ``Project:`` field was 400,000 ``<`` froze the daemon for ~48 s."""
    feeds.bodies["lt.xml"] = project_of_lt()
    feeds.bodies["labels.xml"] = unclosed_labels()
    feeds.bodies["deep.json"] = json_deep()
    feeds.bodies["all.xml"] = rss(CORE_HC)
    names = ("lt.xml", "labels.xml", "deep.json", "all.xml")
    cfg = write_config(cfg_dir, mailer, [feeds.url(n) for n in names])
    clock = Clock(T0)
    async with running(cfg, clock) as (_daemon, service):
        start = time.process_time()
        report = await service.run_once(clock.now)
        spent = time.process_time() - start
        # Three 5 MiB bodies served, fetched and parsed in this process (~0.12 s; the quadratic
        # parse needed minutes for one).
        assert spent < 1.0, f"{spent:.2f} s of CPU"
        assert [e.kind for e in report.events] == ["security-now"]
        problems = "\n".join(report.errors)
        assert "skipped: its <description> is " in problems  # the hostile item, named
        assert "nests deeper than any feed" in problems  # the fetcher's sniff survives it
        await mailer.wait_for_async(2)


async def test_a_hostile_composer_lock_fails_its_own_site_only(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """200,000 ``[`` in one site's composer.lock (RecursionError in json.loads) once failed every
    round: the Highly critical notice for another, healthy site was never sent."""
    feeds.bodies["all.xml"] = rss(CORE_HC)
    cfg = write_config(cfg_dir, mailer, [feeds.url("all.xml")])
    lock = cfg / "hostile.lock"
    lock.write_bytes(composer_lock_of_brackets(200_000))
    (cfg / "clients" / "beta.yml").write_text(
        textwrap.dedent(
            f"""            client: beta
            name: Beta Trust
            contacts:
              - {{name: Beta Sec, email: sec@beta.example, notify: [security]}}
            sites:
              - id: beta-www
                url: https://www.beta.example/
                drupal: {{composer_lock: {lock}}}
            """
        )
    )
    clock = Clock(T0)
    async with running(cfg, clock) as (_daemon, service):
        report = await service.run_once(clock.now)
        by_site = {e.site: e.kind for e in report.events}
        assert by_site == {"acme-www": "security-now", "beta-www": "security-unknown"}
        mails = await mailer.wait_for_async(3)
        assert recipients(mails) == [
            "sec@acme.example",  # the healthy site's client is told now
            "support@collective.example",
            "support@collective.example",  # the agency: act now (acme), check by hand (beta)
        ]
        unknown = next(e for e in report.events if e.kind == "security-unknown")
        assert "inventory unknown" in unknown.summary
        # The next round is not stopped either, and changes nothing.
        clock.now += timedelta(minutes=15)
        assert (await service.run_once(clock.now)).events == []

        async def status() -> str:
            capsys.readouterr()
            # The CLI runs its own event loop: give it a thread of its own.
            args = ["status", "--config", str(cfg), "--store"]
            assert await asyncio.to_thread(main, args) == 0
            return capsys.readouterr().out

        out = await status()
        beta = out[out.index("beta/beta-www") :]
        assert beta.splitlines()[1] == (
            "  inventory unknown — advisories for this site are checked by hand: composer.lock: "
            f"{lock} nests JSON deeper than Python's reader allows "
            f"({sys.getrecursionlimit()} levels; a real one is 4 deep), so it is broken or "
            "hostile; regenerate it with `composer update --lock`"
        )
        assert "inventory unknown" not in out[: out.index("beta/beta-www")]  # acme's is fine
        as_json = await asyncio.to_thread(collect, str(cfg), prefer_store=True)
        by_id = {site["site"]: site for site in as_json["sites"]}
        assert "inventory_unknown" not in by_id["acme-www"]
        assert by_id["beta-www"]["inventory_unknown"]["source"] == f"composer.lock {lock}"

        # The lock is repaired: the next round reads it, and status no longer complains.
        lock.write_text('{"packages": [{"name": "drupal/core", "version": "10.3.9"}]}')
        os.utime(lock, (1, 1))  # a new mtime, whatever the file system's resolution
        clock.now += timedelta(minutes=15)
        assert (await service.run_once(clock.now)).events == []
        assert "inventory unknown" not in await status()


async def test_unknown_inventory_tells_the_agency_only_and_psa_gives_a_heads_up(
    cfg_dir: Path, feeds: FeedServer, mailer: SmtpServer
) -> None:
    psa = psa_item(
        "PSA-2026-11-16",
        "Drupal core - Highly critical - Public Service announcement",
        "There will be a security release of Drupal core on Wednesday, November 18th, 2026 "
        "between 17:00 and 21:00 UTC. The risk is highly critical.",
    )
    feeds.bodies["all.xml"] = rss(CORE_HC, webform(), psa)
    cfg = write_config(cfg_dir, mailer, [feeds.url("all.xml")], drupal="{}")
    clock = Clock(datetime(2026, 11, 16, 16, 0, tzinfo=UTC))
    async with running(cfg, clock) as (daemon, service):
        report = await service.run_once(clock.now)
        kinds = sorted(e.kind for e in report.events)
        # webform: contrib, not told; the heads-up and its follow-up at the window's end
        assert kinds == ["psa-heads-up", "psa-heads-up", "security-unknown"]
        over = next(e for e in report.events if e.details.get("resolves"))
        assert over.thread == "PSA-2026-11-16"
        unknown = next(e for e in report.events if e.kind == "security-unknown")
        assert "inventory unknown" in unknown.summary
        mails = await mailer.wait_for_async(1)
        assert recipients(mails) == ["support@collective.example"]
        assert daemon.store is not None
        items = {i.notification.event.kind: i for i in await daemon.store.outbox_items()}
        # The heads-up is due two hours before the announced window opens.
        assert items["psa-heads-up"].due_at == datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
        assert items["psa-heads-up"].status == "pending"
        # Inside the announced window, polling is fast.
        clock.now = datetime(2026, 11, 18, 17, 30, tzinfo=UTC)
        inside = await service.run_once(clock.now)
        assert inside.next_poll == timedelta(minutes=2)
        assert inside.events == []


def test_factory_returns_none_when_security_is_disabled(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from monitord.config.models import MainConfig

    main = MainConfig.model_validate({"agency": {"name": "X"}, "security": {"enabled": False}})
    runtime = SimpleNamespace(config=lambda: SimpleNamespace(main=main))
    assert security_service(runtime) is None
    main_on = MainConfig.model_validate({"agency": {"name": "X"}})
    assert isinstance(
        security_service(SimpleNamespace(config=lambda: SimpleNamespace(main=main_on))),
        SecurityService,
    )
