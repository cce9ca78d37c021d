"""The support contract end to end, as one scenario: a real daemon on a driven clock, a Jira
worklog stand-in on 127.0.0.1, aiosmtpd and a real SQLite file, over December 2026 into
January 2027 (Friday 1 January is a bank holiday, the report is due on Monday the 4th):

1. worklogs arrive through the hourly refresh only, on the hour 09:00–16:00 on working days;
2. use passes 75 % → ONE warning: an e-mail to the ``notify: [hours]`` contact and a Jira ticket;
3. an estimate over the balance → ONE comment on the Jira issue asking to approve, and an e-mail;
4. a restart in the middle → nothing sent twice;
5. on the first working day of January, December is closed and its report (inline PNG charts,
   the closed statement) goes once to the ``notify: [report]`` contact; not again after
   another restart.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.contracts import cli as hours_cli
from monitord.contracts.service import hours_service
from monitord.contracts.store import SqliteTimeEntryStore
from monitord.report.history import history_service
from monitord.report.service import ReportService, report_service
from monitord.runtime import ServiceFactory
from tests.helpers.clock import Clock
from tests.helpers.hours import HoursRig, cli, write_hours_config
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.timeentries import JiraWorklogStandIn

START = datetime(2026, 12, 9, 16, 30, tzinfo=UTC)
"""Wednesday 9 December 2026, 16:30 in London (GMT = UTC): after the day's last refresh (and
more than a week after November's report was due: that one is not caught up)."""

ACME = """\
client: acme
name: ACME Charity
contract:
  start: 2026-12
  monthly_hours: 10h
  helpdesk: {jira_project: ACME}
contacts:
  - {name: Jo Bloggs, email: jo@acme.example, notify: [hours, report]}
  - {name: Max Other, email: max@acme.example, notify: [site-down]}
sites: []
"""


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture
async def rig(tmp_path: Path, smtp_server: SmtpServer) -> AsyncIterator[HoursRig]:
    jira = JiraWorklogStandIn(now_ms=ms(START))
    jira.add_issue(20007, "ACME-7")
    async with serve_app(jira.app()) as site:
        cfg = write_hours_config(tmp_path / "cfg", smtp_server.port, site.url, ACME)
        services: list[ServiceFactory] = [hours_service, history_service, report_service]
        r = HoursRig(cfg, jira, Clock(START), smtp_server, services)
        try:
            yield r
        finally:
            await r.stop()


async def round_at(rig: HoursRig, when: datetime) -> tuple[list[tuple[str, str]], list[str]]:
    """One round of the daemon's hours and report services at ``when``: the hours
    notifications queued and sent, the addresses a report went to."""
    told = await rig.at(when)
    reports = await rig.service_of(ReportService).run_once(when)
    return told, reports.get("acme", [])


def bodies(rig: HoursRig) -> list[str]:
    out = []
    for m in rig.smtp.messages:
        part = m.message.get_body(("plain",))
        assert part is not None
        out.append(part.get_content())
    return out


async def test_a_month_of_support_hours(rig: HoursRig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hours_cli, "utcnow", rig.clock)  # the commands see the driven clock
    await rig.start()

    # 1. Work logged in Jira on Wednesday evening is not pulled overnight, only at 09:00 Thursday.
    rig.jira.log(20007, 8 * 3600, datetime(2026, 12, 9, 14, 0, tzinfo=UTC), ms(START))
    at = START
    while at < datetime(2026, 12, 10, 9, 0, tzinfo=UTC):
        assert await round_at(rig, at) == ([], [])
        at += timedelta(minutes=30)
    assert rig.service.refreshes == []
    assert rig.smtp.messages == []

    # 2. The 09:00 refresh brings 8h of 10h: past 75 %, told once (e-mail + agency ticket).
    told, _ = await round_at(rig, at)
    assert rig.service.refreshes == [at]
    assert sorted(told) == [("email", "jo@acme.example"), ("jira", "")]
    assert rig.jira.creates() == 1
    (text,) = bodies(rig)
    assert "SUPPORT HOURS" in text and "8h 00m of 10h 00m" in text and "75%" in text
    assert await round_at(rig, at + timedelta(minutes=1)) == ([], [])

    # 3. An estimate over the 2h left, then 4. a restart before the daemon acts on it.
    code, out = await cli("hours", "estimate", "jira:ACME-7", "3h", "--config", str(rig.cfg))
    assert code == 0, out
    assert "over the 2h 00m left in 2026-12" in out
    await rig.stop()
    await rig.start()
    told, _ = await round_at(rig, at + timedelta(minutes=2))
    assert sorted(told) == [("email", "jo@acme.example"), ("jira", "")]
    (comment,) = rig.jira.issue_comments["ACME-7"]
    assert "approve" in str(comment) and "3h 00m" in str(comment)
    assert "approve" in bodies(rig)[-1]

    # Another restart and the rest of the month's refreshes: nothing is told twice.
    await rig.stop()
    await rig.start()
    at = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    while at < datetime(2026, 12, 12, 0, 0, tzinfo=UTC):
        assert await round_at(rig, at) == ([], [])
        at += timedelta(hours=1)
    assert len(rig.service.refreshes) == 7 + 8  # Thursday 10:00–16:00, Friday 09:00–16:00
    assert all(r.day in (10, 11) for r in rig.service.refreshes)
    assert len(rig.smtp.messages) == 2
    assert len(rig.jira.issue_comments["ACME-7"]) == 1
    assert rig.jira.creates() == 1

    # 5. The holidays, hour by hour: refreshes on working days only (Christmas Day, Boxing
    # Day's substitute on Monday 28th and New Year's Day are bank holidays), and no closing
    # and no report before the first working day of January.
    while at < datetime(2027, 1, 4, 9, 0, tzinfo=UTC):
        assert await round_at(rig, at) == ([], [])
        at += timedelta(hours=1)
    with SqliteTimeEntryStore(rig.cfg / "state.sqlite3") as hs:
        assert hs.closed("acme") == {}
    days = sorted({r.day for r in rig.service.refreshes if r.month == 12 and r.day > 11})
    assert days == [14, 15, 16, 17, 18, 21, 22, 23, 24, 29, 30, 31]
    assert all(r.year == 2026 for r in rig.service.refreshes)
    assert {r.hour for r in rig.service.refreshes} == set(range(9, 17))

    # Monday 4 January, 09:00: December closed, its report sent once to Jo.
    due = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    told, reports = await round_at(rig, due)
    assert reports == ["jo@acme.example"]
    with SqliteTimeEntryStore(rig.cfg / "state.sqlite3") as hs:
        (december,) = hs.closed("acme").values()
    assert str(december.month) == "2026-12" and december.as_of == due
    assert december.figures.used == 8 * 60 and december.figures.carried_forward == 2 * 60
    report = rig.smtp.messages[-1]
    assert report.rcpt_tos == ("jo@acme.example",)
    assert report.message["Subject"] == "ACME Charity: your monthly report for December 2026"
    text = bodies(rig)[-1]
    assert "The month is closed: these are the figures of its statement." in text
    assert "Used 8h 00m, remaining 2h 00m, carried forward 2h 00m" in text
    html = report.message.get_body(("html",))
    assert html is not None
    images = [p for p in report.message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2
    cids = {str(p["Content-ID"]).strip("<>") for p in images}
    assert set(re.findall(r'src="cid:([^"]+)"', html.get_content())) == cids

    # A restart that morning, and the next rounds: no second report, nothing else told.
    await rig.stop()
    await rig.start()
    for when in (due + timedelta(minutes=5), due + timedelta(hours=2)):
        assert await round_at(rig, when) == ([], [])
    assert len(rig.smtp.messages) == 3
    assert rig.jira.creates() == 1
    assert len(rig.jira.issue_comments["ACME-7"]) == 1
