"""Routing at daemon level: a driven clock, real loopback sites, a real SMTP server, SQLite.

Each test drives ``Daemon.tick`` by hand (``schedule=False``) and advances the clock; the
outbox sender is the daemon's own, woken after each step.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitord.daemon import Daemon, check_key
from tests.helpers.clock import Clock
from tests.helpers.sites import LoopbackSite, closed_port, serve_app
from tests.helpers.smtp import SmtpServer, plain_text

SUPPORT = "support@collective.example"


class Sites:
    """One loopback server, many sites: ``/s0`` … ``/sN``, each with a status the test sets."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}

    def app(self) -> web.Application:
        async def page(request: web.Request) -> web.Response:
            code = self.status.get(request.match_info["name"], 200)
            return web.Response(status=code, text="ACME")

        app = web.Application()
        app.router.add_get("/{name}", page)
        return app


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Sites, LoopbackSite]]:
    s = Sites()
    async with serve_app(s.app()) as loop_site:
        yield s, loop_site


def write_config(
    d: Path,
    loop_site: LoopbackSite,
    smtp: SmtpServer,
    *,
    n_sites: int = 1,
    main_extra: str = "",
    client_extra: str = "",
    site_extra: str = "",
    threshold: int = 1,
) -> Path:
    (d / "clients").mkdir(parents=True, exist_ok=True)
    (d / "monitord.yml").write_text(
        textwrap.dedent(
            f"""\
            agency:
              name: Collective
              timezone: Europe/London
              support_email: {SUPPORT}
              holidays: {{extra: ["2026-12-29"]}}
            state: {{path: {d / "state.sqlite3"}}}
            smtp: {{host: 127.0.0.1, port: {smtp.port}, from: "Mon <monitor@collective.example>"}}
            security: {{enabled: false}}
            http: {{listen: off}}
            """
        )
        + textwrap.dedent(main_extra)
    )
    site_lines = "".join(
        f"""
  - id: s{i}
    url: {loop_site.url_for(f"s{i}")}
    checks: [{{type: http, interval: 60s, timeout: 5s}}]
    alert: {{failure_threshold: {threshold}, success_threshold: 1, repeat_every: 4h}}
{textwrap.indent(textwrap.dedent(site_extra), "    ") if i == 0 else ""}"""
        for i in range(n_sites)
    )
    (d / "clients" / "acme.yml").write_text(
        "client: acme\nname: ACME Charity\n"
        "contacts:\n"
        "  - {name: Jo Bloggs, email: jo@acme.example, notify: [site-down, site-recovered]}\n"
        "  - {name: Ann Board, email: ann@acme.example, notify: [site-down]}\n"
        + textwrap.dedent(client_extra)
        + "sites:"
        + site_lines
    )
    return d


def key(i: int) -> str:
    return check_key("acme", f"s{i}", "http")


async def tick_all(daemon: Daemon, n: int) -> list[str]:
    kinds: list[str] = []
    for i in range(n):
        kinds += [e.kind for e in await daemon.tick(key(i))]
    return kinds


async def settle(daemon: Daemon) -> int:
    """Deliver what is due now (the daemon's own sender, run here for determinism)."""
    assert daemon.sender is not None
    total = 0
    while sent := await daemon.sender.run_once():
        total += sent
    return total


OFFICE_ONLY = """\
routes:
  - {match: {kind: [site-down, site-recovered]}, when: office_hours, notify: [client-contacts]}
grouping: {window: 0s}
"""


async def test_out_of_hours_down_is_held_and_delivered_at_nine_next_working_day(
    tmp_path: Path, sites: tuple[Sites, LoopbackSite], smtp_server: SmtpServer
) -> None:
    s, loop_site = sites
    cfg = write_config(tmp_path, loop_site, smtp_server, main_extra=OFFICE_ONLY)
    clock = Clock(datetime(2026, 12, 24, 18, 30, tzinfo=UTC))  # Christmas Eve, closed
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        s.status["s0"] = 503
        assert await tick_all(daemon, 1) == ["site-down"]
        assert await settle(daemon) == 0
        # Christmas, Boxing Day (observed 28th), the closure day 29th: nothing goes out.
        for stop in ("2026-12-25T10:00", "2026-12-28T10:00", "2026-12-30T08:59:59"):
            clock.now = datetime.fromisoformat(stop).replace(tzinfo=UTC)
            assert await settle(daemon) == 0
            assert smtp_server.messages == []
        # A restart while held loses nothing.
        await daemon.stop()
        daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
        await daemon.start()
        clock.now = datetime(2026, 12, 30, 9, 0, tzinfo=UTC)
        assert await settle(daemon) == 2
        mails = await smtp_server.wait_for_async(2)
        assert sorted(m.rcpt_tos[0] for m in mails) == ["ann@acme.example", "jo@acme.example"]
        body = plain_text(mails[0].message)
        assert "DOWN" in body and "HTTP 503" in body
    finally:
        await daemon.stop()


MAINTENANCE_SITE = """\
maintenance:
  - {from: "2026-11-26T14:00", to: "2026-11-26T15:00", reason: upgrade}
"""


async def test_maintenance_suppresses_then_notifies_the_open_incident_at_its_end(
    tmp_path: Path, sites: tuple[Sites, LoopbackSite], smtp_server: SmtpServer
) -> None:
    s, loop_site = sites
    cfg = write_config(tmp_path, loop_site, smtp_server, n_sites=2, site_extra=MAINTENANCE_SITE)
    clock = Clock(datetime(2026, 11, 26, 14, 10, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        s.status["s0"] = 503  # in its window
        s.status["s1"] = 503  # not in maintenance: told at once
        assert await tick_all(daemon, 2) == ["site-down", "site-down"]
        await settle(daemon)
        mails = await smtp_server.wait_for_async(2)
        assert {m.message["X-Monitord-Site"] for m in mails} == {"s1"}
        assert daemon.store is not None
        incidents = await daemon.store.open_incidents()
        assert {i.site for i in incidents} == {"s0", "s1"}  # recorded all the same

        # A restart inside the window keeps what was suppressed.
        await daemon.stop()
        daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
        await daemon.start()
        clock.now = datetime(2026, 11, 26, 14, 59, tzinfo=UTC)
        assert await tick_all(daemon, 1) == []
        await settle(daemon)
        assert len(smtp_server.messages) == 2

        clock.now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # the window ends
        await tick_all(daemon, 1)
        await settle(daemon)
        mails = await smtp_server.wait_for_async(4)
        late = [m for m in mails[2:]]
        assert {m.message["X-Monitord-Site"] for m in late} == {"s0"}
        assert {m.rcpt_tos[0] for m in late} == {"jo@acme.example", "ann@acme.example"}
        assert "DOWN" in plain_text(late[0].message)
        # Once only.
        clock.advance(minutes=1)
        await tick_all(daemon, 1)
        assert await settle(daemon) == 0

        # Recovery after the window is told as usual, on the same thread.
        s.status["s0"] = 200
        clock.advance(minutes=1)
        assert await tick_all(daemon, 1) == ["site-recovered"]
        await settle(daemon)
        mails = await smtp_server.wait_for_async(5)
        assert mails[4].message["References"] == late[0].message["References"]
    finally:
        await daemon.stop()


async def test_down_and_up_inside_a_window_tell_nobody(
    tmp_path: Path, sites: tuple[Sites, LoopbackSite], smtp_server: SmtpServer
) -> None:
    s, loop_site = sites
    client_window = 'maintenance:\n  - {days: [thu], start: "14:00", end: "15:00"}\n'
    cfg = write_config(tmp_path, loop_site, smtp_server, client_extra=client_window)
    clock = Clock(datetime(2026, 11, 26, 14, 10, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        s.status["s0"] = 503
        assert await tick_all(daemon, 1) == ["site-down"]
        s.status["s0"] = 200
        clock.advance(minutes=5)
        assert await tick_all(daemon, 1) == ["site-recovered"]
        clock.now = datetime(2026, 11, 26, 15, 1, tzinfo=UTC)
        await tick_all(daemon, 1)
        assert await settle(daemon) == 0
        assert smtp_server.messages == []
        assert daemon.desk.suppressed == {}
    finally:
        await daemon.stop()


GROUPED = """\
routes:
  - {match: {kind: site-down}, notify: [client-contacts]}
grouping: {window: 30s}
"""


async def test_five_sites_down_within_the_window_make_one_mail_per_recipient(
    tmp_path: Path, sites: tuple[Sites, LoopbackSite], smtp_server: SmtpServer
) -> None:
    s, loop_site = sites
    cfg = write_config(tmp_path, loop_site, smtp_server, n_sites=5, main_extra=GROUPED)
    clock = Clock(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        for i in range(5):
            s.status[f"s{i}"] = 503
        for i in range(5):
            assert [e.kind for e in await daemon.tick(key(i))] == ["site-down"]
            clock.advance(seconds=5)  # 0 s … 20 s: all inside the 30 s window
        assert await settle(daemon) == 0  # not before the window closes
        clock.now = datetime(2026, 11, 26, 14, 0, 30, tzinfo=UTC)
        assert await settle(daemon) == 10  # 5 items × 2 recipients, merged into 2 sends
        mails = await smtp_server.wait_for_async(2)
        assert sorted(m.rcpt_tos[0] for m in mails) == ["ann@acme.example", "jo@acme.example"]
        for m in mails:
            text = plain_text(m.message)
            for i in range(5):
                assert f"s{i}" in text
            assert "5 NOTICES" in text and "HTTP 503" in text
            assert m.message["X-Monitord-Kind"] == "digest"
        assert len(smtp_server.messages) == 2
        # Every merged item is recorded as sent, with the digest's Message-ID.
        assert daemon.store is not None
        items = await daemon.store.outbox_items()
        assert len(items) == 10 and {i.status for i in items} == {"sent"}
        ids = {i.external_id for i in items}
        assert ids == {m.message["Message-ID"] for m in mails}
    finally:
        await daemon.stop()


def connectivity(canary: str) -> str:
    return f"""\
routes:
  - {{match: {{kind: [site-down, site-recovered]}}, notify: [client-contacts]}}
grouping: {{window: 0s}}
connectivity: {{canaries: ["{canary}"], threshold: 0.5, min_checks: 10}}
"""


async def test_twelve_of_twenty_failing_with_a_dead_canary_mail_the_agency_once(
    tmp_path: Path, sites: tuple[Sites, LoopbackSite], smtp_server: SmtpServer
) -> None:
    s, loop_site = sites
    with closed_port() as port:
        await _isolated(tmp_path, s, loop_site, smtp_server, f"http://127.0.0.1:{port}/")


async def _isolated(
    tmp_path: Path, s: Sites, loop_site: LoopbackSite, smtp_server: SmtpServer, canary: str
) -> None:
    cfg = write_config(
        tmp_path,
        loop_site,
        smtp_server,
        n_sites=20,
        main_extra=connectivity(canary),
        threshold=2,
    )
    clock = Clock(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    told: list[str] = []  # the connectivity notice takes the event pipeline: told once stored
    daemon.event_listeners.append(lambda event, _routed: told.append(event.kind))
    await daemon.start()
    try:
        for i in range(12):
            s.status[f"s{i}"] = 503
        for _ in range(3):  # three rounds: the failing sites go DOWN in the second
            await tick_all(daemon, 20)
            clock.advance(minutes=1)
        await settle(daemon)
        mails = await smtp_server.wait_for_async(1)
        assert [m.rcpt_tos[0] for m in mails] == [SUPPORT]
        assert mails[0].message["X-Monitord-Kind"] == "connectivity"
        text = plain_text(mails[0].message)
        found = re.search(r"(\d+) of (\d+) checks fail at once", text)
        assert found is not None and canary in text
        failing, total = int(found[1]), int(found[2])
        assert failing >= 10 and failing / total > 0.5  # judged as soon as the rule held
        assert daemon.desk.canary_probes == 1
        assert len(daemon.desk.suppressed) == 12
        assert len(smtp_server.messages) == 1  # no client mail
        assert told.count("connectivity") == 1

        # The network comes back: one "restored" notice, then the sites still down.
        for i in range(12):
            s.status[f"s{i}"] = 200 if i >= 3 else 503
        await tick_all(daemon, 20)
        clock.advance(minutes=1)
        await tick_all(daemon, 20)
        await settle(daemon)
        mails = await smtp_server.wait_for_async(1 + 1 + 3 * 2)
        restored = [m for m in mails if m.message["X-Monitord-Kind"] == "connectivity"]
        assert len(restored) == 2 and "restored" in plain_text(restored[1].message)
        downs = [m for m in mails if m.message["X-Monitord-Kind"] == "site-down"]
        assert sorted({m.message["X-Monitord-Site"] for m in downs}) == ["s0", "s1", "s2"]
        # The nine that came back meanwhile were never told about, so no recovery mail.
        assert not [m for m in mails if m.message["X-Monitord-Kind"] == "site-recovered"]
        assert told.count("connectivity") == 2
    finally:
        await daemon.stop()


async def test_many_failing_with_a_live_canary_routes_normally(
    tmp_path: Path, sites: tuple[Sites, LoopbackSite], smtp_server: SmtpServer
) -> None:
    s, loop_site = sites
    cfg = write_config(
        tmp_path,
        loop_site,
        smtp_server,
        n_sites=20,
        main_extra=connectivity(loop_site.url_for("canary")),
        threshold=2,
    )
    clock = Clock(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        for i in range(12):
            s.status[f"s{i}"] = 503
        for _ in range(2):
            await tick_all(daemon, 20)
            clock.advance(minutes=1)
        await settle(daemon)
        mails = await smtp_server.wait_for_async(24)  # 12 sites × Jo and Ann
        assert {m.message["X-Monitord-Kind"] for m in mails} == {"site-down"}
        assert not daemon.desk.connectivity.isolated
    finally:
        await daemon.stop()
