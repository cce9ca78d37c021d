"""Time entries pulled from Freshdesk, Jira and Redmine stand-ins on 127.0.0.1 into a real
hours store (SQLite and PostgreSQL): mapped to clients by company/project, incremental, idempotent by the
source's id, edits and deletions followed, 429 and 401 stop only that source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.config import load_config
from monitord.contracts.pull import HelpdeskPull, build_pulls, pull_all
from monitord.contracts.store import SqliteTimeEntryStore
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.store.side import HoursStore
from tests.contracts.conftest import HoursStoreFactory
from tests.helpers.clock import Clock
from tests.helpers.sites import serve_app
from tests.notify.standins.timeentries import (
    FreshdeskTimeStandIn,
    JiraWorklogStandIn,
    RedmineTimeStandIn,
)

ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MS = int(NOW.timestamp() * 1000)

MAIN = """\
agency: {name: Collective, timezone: Europe/London}
state: STATE
billing: {currency: GBP, hourly_rate: "120.00", vat: 20%}
notifiers:
  fd: {type: freshdesk, base_url: FD, api_key: KEY, email: support@collective.example}
  jira: {type: jira, base_url: JIRA, email: ops@collective.example, api_token: jira-token, project: OPS}
  rm: {type: redmine, base_url: RM, api_key: rm-key, project_id: ops}
"""
ACME = """\
client: acme
name: ACME Charity
contract:
  start: 2026-01
  monthly_hours: 10h
  helpdesk: {freshdesk_company_id: 42, jira_project: ACME, redmine_project: acme}
sites: []
"""
RIVERSIDE = """\
client: riverside
name: Riverside Trust
contract:
  start: 2026-01
  monthly_hours: 4h
  helpdesk: {freshdesk_company_id: 43}
sites: []
"""


@dataclass
class Rig:
    fd: FreshdeskTimeStandIn
    jira: JiraWorklogStandIn
    rm: RedmineTimeStandIn
    store: HoursStore
    pulls: list[HelpdeskPull]
    clock: Clock
    conf: Path

    async def pull(self) -> dict[str, str]:
        results = await pull_all(self.pulls, self.store, self.clock(), ZONE)
        return {r.source: r.line() for r in results}

    def live(self, client: str = "acme") -> dict[tuple[str, str], int]:
        return {e.key: e.seconds for e in self.store.entries(client) if not e.deleted}


def write_config(
    tmp: Path, urls: dict[str, str], fd_key: str = "fd-key", state: str | None = None
) -> Path:
    conf = tmp / "config"
    (conf / "clients").mkdir(parents=True, exist_ok=True)
    state = state or f"{{path: {tmp / 'state.sqlite3'}}}"
    main = MAIN.replace("STATE", state).replace("KEY", fd_key)
    for k, v in urls.items():
        main = main.replace(k, v)
    (conf / "monitord.yml").write_text(main)
    (conf / "clients" / "acme.yml").write_text(ACME)
    (conf / "clients" / "riverside.yml").write_text(RIVERSIDE)
    return conf


@pytest.fixture
async def rig(tmp_path: Path, hours_store_factory: HoursStoreFactory) -> AsyncIterator[Rig]:
    fd = FreshdeskTimeStandIn(ticket_company={501: 42, 502: 43})
    jira = JiraWorklogStandIn(now_ms=MS)
    jira.add_issue(20001, "ACME-7")
    jira.add_issue(20002, "OTHER-1")
    rm = RedmineTimeStandIn(issues={301: {"project": "acme", "estimated_hours": None}})
    async with (
        serve_app(fd.app()) as s1,
        serve_app(jira.app()) as s2,
        serve_app(rm.app()) as s3,
    ):
        urls = {"FD": s1.url, "JIRA": s2.url, "RM": s3.url}
        conf = write_config(tmp_path, urls, state=hours_store_factory.state)
        config = load_config(conf, notifier_types=NOTIFIER_TYPES)
        clock = Clock(NOW)
        store = hours_store_factory()
        pulls = build_pulls(config, clock)
        try:
            yield Rig(fd, jira, rm, store, pulls, clock, conf)
        finally:
            for p in pulls:
                await p.aclose()
            store.close()


async def test_entries_map_to_clients_and_a_repull_changes_nothing(rig: Rig) -> None:
    rig.fd.log(501, 90, datetime(2026, 3, 2, 10, 0, tzinfo=UTC), "fixed the form")
    rig.fd.log(502, 30, datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    rig.jira.log(20001, 2700, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MS - 3_600_000)
    rig.jira.log(20002, 600, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MS - 3_600_000)
    rig.rm.log(301, 1.25, date(2026, 3, 5))
    lines = await rig.pull()
    assert lines["fd"].startswith("fd: 2 added")
    assert lines["jira"].startswith("jira: 1 added")  # OTHER-1 belongs to no client
    assert lines["rm"].startswith("rm: 1 added")
    assert rig.live() == {("fd", "1"): 5400, ("jira", "10001"): 2700, ("rm", "1"): 4500}
    assert rig.live("riverside") == {("fd", "2"): 1800}
    entries = {e.key: e for e in rig.store.entries("acme")}
    assert entries["fd", "1"].ticket == "fd:501" and entries["fd", "1"].note == "fixed the form"
    assert entries["jira", "10001"].ticket == "jira:ACME-7"
    assert entries["jira", "10001"].person == "Sam Agent"
    assert entries["rm", "1"].ticket == "rm:301"
    assert entries["rm", "1"].at == datetime(2026, 3, 5, 12, 0, tzinfo=ZONE)
    again = await rig.pull()
    assert all(" 0 added, 0 updated, 0 deleted" in line for line in again.values()), again


async def test_edits_and_deletions_are_followed(rig: Rig) -> None:
    fd_id = rig.fd.log(501, 60, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    rig.fd.log(501, 15, datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    w1 = rig.jira.log(20001, 1800, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MS - 3_600_000)
    w2 = rig.jira.log(20001, 900, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MS - 3_600_000)
    rm_id = rig.rm.log(301, 1.0, date(2026, 3, 5))
    await rig.pull()
    rig.fd.entries[fd_id]["time_spent"] = "02:00"
    del rig.fd.entries[fd_id + 1]
    rig.clock.advance(hours=1)
    rig.jira.now_ms += 3_600_000
    rig.jira.edit(w1, 3600, MS + 60_000)
    rig.jira.delete(w2, MS + 60_000)
    del rig.rm.entries[rm_id]
    lines = await rig.pull()
    assert "1 updated, 1 deleted" in lines["fd"]
    assert "1 updated, 1 deleted" in lines["jira"]
    assert "0 updated, 1 deleted" in lines["rm"]
    assert rig.live() == {("fd", str(fd_id)): 7200, ("jira", str(w1)): 3600}
    deleted = {e.key for e in rig.store.entries("acme") if e.deleted}
    assert deleted == {("fd", str(fd_id + 1)), ("jira", str(w2)), ("rm", str(rm_id))}


async def test_jira_is_incremental_from_its_cursor(rig: Rig) -> None:
    rig.jira.log(20001, 1800, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MS - 3_600_000)
    await rig.pull()
    assert rig.store.cursor("jira:updated") == str(MS - 3_600_000)
    rig.jira.requests.clear()
    await rig.pull()
    (updated,) = [r for r in rig.jira.requests if r.path.endswith("/worklog/updated")]
    assert updated.query["since"] == str(MS - 3_600_000)


async def test_paging_reads_every_page(rig: Rig) -> None:
    for i in range(250):
        rig.fd.log(501, 1, datetime(2026, 3, 2, 9, 0, tzinfo=UTC).replace(minute=i % 60))
    for i in range(230):
        rig.rm.log(301, 0.1, date(2026, 3, 1 + i % 9))
    rig.jira.page_size = 3
    for i in range(7):
        rig.jira.log(20001, 60, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), MS - 3_600_000 + i)
    lines = await rig.pull()
    assert (
        lines["fd"].startswith("fd: 250 added") and "(4 pages)" in lines["fd"]
    )  # 3 + 1 for riverside
    assert lines["rm"].startswith("rm: 230 added")
    assert lines["jira"].startswith("jira: 7 added")
    pages = [r.query["page"] for r in rig.fd.requests if r.query.get("company_id") == "42"]
    assert pages == ["1", "2", "3"]
    assert all(r.query["per_page"] == "100" for r in rig.fd.requests)
    offsets = [r.query["offset"] for r in rig.rm.requests if r.path == "/time_entries.json"]
    assert offsets == ["0", "100", "200"]


async def test_429_stops_that_source_and_the_next_round_resumes(rig: Rig) -> None:
    rig.fd.log(501, 60, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    rig.rm.log(301, 1.0, date(2026, 3, 5))
    rig.fd.fail(429, '{"message": "slow down"}', retry_after="30")
    lines = await rig.pull()
    assert "stopped:" in lines["fd"] and "429" in lines["fd"]
    assert lines["rm"].startswith("rm: 1 added")
    assert rig.live() == {("rm", "1"): 3600}
    lines = await rig.pull()
    assert lines["fd"].startswith("fd: 1 added")


async def test_bad_credentials_are_refused_without_the_key(tmp_path: Path) -> None:
    fd = FreshdeskTimeStandIn(ticket_company={501: 42})
    fd.log(501, 60, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    async with serve_app(fd.app()) as site:
        conf = write_config(
            tmp_path,
            {"FD": site.url, "JIRA": "http://127.0.0.1:9", "RM": "http://127.0.0.1:9"},
            fd_key="wrong-key-123",
        )
        config = load_config(conf, notifier_types=NOTIFIER_TYPES)
        pulls = [p for p in build_pulls(config, Clock(NOW)) if p.name == "fd"]
        with SqliteTimeEntryStore(tmp_path / "state.sqlite3") as store:
            (result,) = await pull_all(pulls, store, NOW, ZONE)
            await pulls[0].aclose()
            assert result.error is not None and "401" in result.error
            assert "wrong-key-123" not in result.error
            assert store.entries("acme") == []


async def test_estimates_are_read_where_the_helpdesk_has_them(rig: Rig) -> None:
    rig.jira.add_issue(20003, "ACME-8", estimate=3 * 3600)
    rig.rm.issues[302] = {"project": "acme", "estimated_hours": 2.5}
    rig.rm.issues[303] = {"project": "acme", "estimated_hours": 9.0, "open": False}
    results = await pull_all(rig.pulls, rig.store, rig.clock(), ZONE)
    found = {r.source: r.estimates for r in results}
    assert found == {
        "fd": [],  # Freshdesk tickets have no estimate field
        "jira": [("jira:ACME-8", "acme", 10800)],
        "rm": [("rm:302", "acme", 9000)],  # closed issues are not asked about
    }


@pytest.mark.parametrize("kind", ["freshdesk", "redmine"])
async def test_an_approval_is_a_comment_on_the_helpdesks_own_ticket(rig: Rig, kind: str) -> None:
    """The estimate's request goes on the client's ticket (event detail comment_on), not on a
    ticket of monitord's own thread; a re-send of the same key adds nothing."""
    from dataclasses import replace

    from monitord.notify.freshdesk import FreshdeskNotifier
    from monitord.notify.redmine import RedmineNotifier
    from monitord.store.sqlite import SqliteStore
    from monitord.tickets import COMMENT_ON
    from tests.notify.standins.kit import make_ctx, note

    standin: FreshdeskTimeStandIn | RedmineTimeStandIn
    if kind == "freshdesk":
        standin, ticket = rig.fd, "501"
    else:
        standin, ticket = rig.rm, "301"
    async with serve_app(standin.app()) as site:
        if kind == "freshdesk":
            options = {"base_url": site.url, "api_key": "fd-key", "email": "s@collective.example"}
            notifier: FreshdeskNotifier | RedmineNotifier = FreshdeskNotifier(
                "fd", FreshdeskNotifier.Options.model_validate(options), make_ctx()
            )
        else:
            options = {"base_url": site.url, "api_key": "rm-key", "project_id": "ops"}
            notifier = RedmineNotifier(
                "rm", RedmineNotifier.Options.model_validate(options), make_ctx()
            )
        store = SqliteStore(rig.conf.parent / "daemon.sqlite3")
        await store.open()
        notifier.attach_store(store)
        try:
            n = note("test", notifier.name)
            event = replace(
                n.event,
                kind="hours",
                thread="hours|estimate|x",
                summary="Ticket is estimated at 3h 00m: please approve",
                details={COMMENT_ON: ticket, "message": "Please reply to approve."},
            )
            n = replace(n, event=event)
            assert await notifier.send(n) == ticket
            assert await notifier.send(n) == ticket
        finally:
            await notifier.aclose()
            await store.close()
    (text,) = standin.notes[int(ticket)]
    assert "approve" in text
    assert standin.creates() == 0


async def _cli(*argv: str) -> tuple[int, str]:
    import asyncio
    import contextlib
    import io

    from monitord.cli import main

    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return main(list(argv))

    return await asyncio.to_thread(run), out.getvalue()


async def test_hours_refresh_and_estimate_commands(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitord.contracts import cli as hours_cli

    monkeypatch.setattr(hours_cli, "utcnow", rig.clock)
    # 20h available in March (January's and February's unused 10h rolled over, capped at 2x)
    for day in (3, 4):
        started = datetime(2026, 3, day, 8, 0, tzinfo=UTC)
        rig.jira.log(20001, 9 * 3600 + 1800, started, MS - 3_600_000)
    code, out = await _cli("hours", "refresh", "--config", str(rig.conf))
    assert code == 0, out
    assert "jira: 2 added, 0 updated, 0 deleted, 0 unchanged (2 pages)" in out  # updated, deleted
    assert "fd: 0 added" in out and "rm: 0 added" in out
    code, out = await _cli("hours", "estimate", "jira:ACME-7", "90m", "--config", str(rig.conf))
    assert (code, out) == (
        0,
        "jira:ACME-7 (acme): estimated at 1h 30m\n"
        "over the 1h 00m left in 2026-03: the running daemon asks the client to approve (a "
        "comment on the ticket and an e-mail to the hours contacts) within a minute, once for "
        "this estimate\n",
    )
    code, out = await _cli("hours", "estimate", "fd:777", "1h", "--config", str(rig.conf))
    assert code == 1 and "no client is known for ticket fd:777; name it with --client" in out
    code, out = await _cli(
        "hours", "estimate", "fd:777", "30m", "--client", "riverside", "--config", str(rig.conf)
    )
    assert code == 0 and "within the 8h 00m left in 2026-03: no approval needed" in out
    code, out = await _cli("hours", "estimate", "ACME-7", "1h", "--config", str(rig.conf))
    assert code == 1 and "write it as NOTIFIER:ID, such as jira:ACME-12" in out
    code, out = await _cli("hours", "estimate", "zd:1", "1h", "--config", str(rig.conf))
    assert code == 1 and "there is no notifier 'zd'" in out and "fd, jira, rm" in out
    code, out = await _cli("hours", "estimate", "fd:1", "1.5", "--config", str(rig.conf))
    assert code == 1 and "not an estimate" in out
    assert {e.ticket: e.seconds for e in rig.store.estimates()} == {
        "jira:ACME-7": 5400,
        "fd:777": 1800,
    }


async def test_hours_refresh_exits_1_when_a_source_fails(rig: Rig) -> None:
    rig.rm.fail(503, "down for maintenance")
    code, out = await _cli("hours", "refresh", "--config", str(rig.conf))
    assert code == 1
    assert "rm: 0 added" in out and "stopped:" in out and "503" in out
    assert "jira: 0 added" in out


async def test_an_answer_that_is_not_the_api_stops_only_that_source(rig: Rig) -> None:
    rig.rm.log(301, 1.0, date(2026, 3, 5))
    rig.fd.fail(200, "<html>Sign in</html>", content_type="text/html")
    rig.jira.fail(200, '{"values": 7}')
    lines = await rig.pull()
    assert "stopped:" in lines["fd"] and "not JSON" in lines["fd"]
    assert "stopped:" in lines["jira"] and "unexpected shape" in lines["jira"]
    assert lines["rm"].startswith("rm: 1 added")
