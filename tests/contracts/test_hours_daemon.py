"""The support-hours service in a real daemon (driven clock), with a Jira stand-in on
127.0.0.1, aiosmtpd and a real SQLite file:

- the refresh runs on the hour 09:00–16:00 on working days only;
- worklogs arrive from Jira at 09:00 → use passes 75 % → ONE warning: an e-mail to the contact
  with ``notify: [hours]`` and a ticket in Jira;
- ``monitord hours estimate`` over the balance → ONE comment on that Jira issue asking to
  approve, and an e-mail;
- a restart in between and more rounds → nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.contracts import cli as hours_cli
from tests.helpers.clock import Clock
from tests.helpers.hours import HoursRig as Rig
from tests.helpers.hours import cli, write_hours_config
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.timeentries import JiraWorklogStandIn

NOW = datetime(2026, 3, 10, 8, 59, tzinfo=UTC)  # Tuesday, GMT = UTC
MS = int(NOW.timestamp() * 1000)

ACME = """\
client: acme
name: ACME Charity
contract:
  start: 2026-03
  monthly_hours: 10h
  helpdesk: {jira_project: ACME}
contacts:
  - {name: Jo Bloggs, email: jo@acme.example, notify: [hours]}
  - {name: Max Other, email: max@acme.example, notify: [site-down]}
sites: []
"""


@pytest.fixture
async def rig(tmp_path: Path, smtp_server: SmtpServer) -> AsyncIterator[Rig]:
    jira = JiraWorklogStandIn(now_ms=MS)
    jira.add_issue(20007, "ACME-7")
    async with serve_app(jira.app()) as site:
        cfg = write_hours_config(tmp_path / "cfg", smtp_server.port, site.url, ACME)
        r = Rig(cfg, jira, Clock(NOW), smtp_server)
        try:
            yield r
        finally:
            await r.stop()


async def test_refresh_runs_on_the_hour_in_office_hours_on_working_days(rig: Rig) -> None:
    start = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)  # Friday
    rig.clock.now = start
    await rig.start()
    at = start
    while at < datetime(2026, 3, 10, 0, 0, tzinfo=UTC):  # to Tuesday 00:00
        await rig.service.tick(at)
        at += timedelta(minutes=20)
    runs = [(r.strftime("%a"), r.hour) for r in rig.service.refreshes]
    assert runs == [("Fri", h) for h in range(9, 17)] + [("Mon", h) for h in range(9, 17)]
    pulls = [r for r in rig.jira.requests if r.path.endswith("/worklog/updated")]
    assert len(pulls) == 16


async def test_threshold_and_estimate_are_told_once_across_a_restart(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hours_cli, "utcnow", rig.clock)  # the commands see the driven clock
    rig.jira.log(20007, 4 * 3600, datetime(2026, 3, 9, 10, 0, tzinfo=UTC), MS - 3_600_000)
    rig.jira.log(20007, 4 * 3600, datetime(2026, 3, 9, 14, 0, tzinfo=UTC), MS - 3_600_000)
    await rig.start()

    assert await rig.at(NOW) == []  # 08:59: no refresh yet, nothing known
    told = await rig.at(NOW + timedelta(minutes=1))  # 09:00: the refresh brings 8h of 10h
    assert sorted(told) == [("email", "jo@acme.example"), ("jira", "")]
    (mail,) = await rig.smtp.wait_for_async(1)
    assert mail.rcpt_tos == ("jo@acme.example",)
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "SUPPORT HOURS" in text and "8h 00m of 10h 00m" in text and "75%" in text
    assert rig.jira.creates() == 1  # the month's hours ticket in the agency's Jira

    assert await rig.at(NOW + timedelta(minutes=2)) == []

    code, out = await cli("hours", "estimate", "jira:ACME-7", "3h", "--config", str(rig.cfg))
    assert code == 0, out
    assert "over the 2h 00m left in 2026-03" in out

    await rig.stop()  # a restart between the estimate and its warning
    await rig.start()
    asked = await rig.at(NOW + timedelta(minutes=3))
    assert sorted(asked) == [("email", "jo@acme.example"), ("jira", "")]
    (comment,) = rig.jira.issue_comments["ACME-7"]
    words = str(comment)
    assert "estimate" in words and "approve" in words and "3h 00m" in words
    mails = await rig.smtp.wait_for_async(2)
    assert "approve" in mails[-1].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # Another restart, the next refreshes and rounds: nothing is told twice.
    await rig.stop()
    await rig.start()
    for when in (NOW + timedelta(minutes=4), NOW + timedelta(hours=1, minutes=1)):
        assert await rig.at(when) == []
    assert len(rig.smtp.messages) == 2
    assert len(rig.jira.issue_comments["ACME-7"]) == 1
    assert rig.jira.creates() == 1

    # Use passing 100 % is the next threshold: told once more, as a comment on the month's
    # ticket; a new estimate asks again.
    rig.jira.log(20007, 2 * 3600 + 60, datetime(2026, 3, 10, 9, 30, tzinfo=UTC), MS + 3_600_000)
    told = await rig.at(datetime(2026, 3, 10, 11, 0, tzinfo=UTC))
    assert sorted(told) == [("email", "jo@acme.example"), ("jira", "")]
    (ticket,) = rig.jira.tickets.values()
    assert len(ticket.comments) == 1
    code, out = await cli("hours", "estimate", "jira:ACME-7", "4h", "--config", str(rig.cfg))
    assert code == 0
    assert len(await rig.at(datetime(2026, 3, 10, 11, 1, tzinfo=UTC))) == 2
    assert len(rig.jira.issue_comments["ACME-7"]) == 2
