"""The daemon sends last month's report once, on the first working day at 09:00 (driven
clock), to the contacts with ``notify: [report]``: never twice, across a restart too."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.contracts.ledger import TimeEntry
from monitord.contracts.store import SqliteTimeEntryStore
from monitord.daemon import Daemon
from monitord.report.history import history_service
from monitord.report.service import ReportService, report_service
from tests.helpers.clock import Clock
from tests.helpers.smtp import SmtpServer
from tests.report.seed import seed, seed_uptime, write_config


async def measured_a_day_of(cfg: Path, due: datetime) -> None:
    """A day of roll-ups in the month reported at ``due`` (the seed holds November's): a
    report goes out on its own only for a month monitord measured something of."""
    first = datetime(due.year, due.month, 1, tzinfo=UTC)
    day = (first - timedelta(days=1)).replace(day=1)
    if day.month != 11:
        path = cfg / "state.sqlite3"
        await asyncio.to_thread(seed_uptime, path, day, day + timedelta(days=1))


def service_of(daemon: Daemon) -> ReportService:
    return next(s for s in daemon.services if isinstance(s, ReportService))


async def round_at(cfg: Path, clock: Clock, at: datetime) -> dict[str, list[str]]:
    """Start a daemon (a fresh process, as after a restart), run one round at ``at``, stop."""
    clock.now = at
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[history_service, report_service])
    await daemon.start()
    try:
        return await service_of(daemon).run_once(clock())
    finally:
        await daemon.stop()


@pytest.mark.parametrize(
    ("not_yet", "due", "month"),
    [
        # Tuesday 1 December 2026: an ordinary working day
        (
            [datetime(2026, 12, 1, 8, 59, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)],
            datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            "November 2026",
        ),
        # Friday 1 January 2027 is a bank holiday, then the weekend: Monday the 4th
        (
            [
                datetime(2027, 1, 1, 9, 0, tzinfo=UTC),
                datetime(2027, 1, 2, 12, 0, tzinfo=UTC),
                datetime(2027, 1, 4, 8, 59, tzinfo=UTC),
            ],
            datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
            "December 2026",
        ),
    ],
)
async def test_sent_once_on_the_first_working_day(
    tmp_path: Path,
    smtp_server: SmtpServer,
    not_yet: list[datetime],
    due: datetime,
    month: str,
) -> None:
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    await asyncio.to_thread(seed, cfg)
    await measured_a_day_of(cfg, due)
    clock = Clock(not_yet[0])
    for at in not_yet:
        assert await round_at(cfg, clock, at) == {}
    assert await round_at(cfg, clock, due) == {"acme": ["jo@acme.example"]}
    # the next round, and a restarted daemon later that day: nothing again
    assert await round_at(cfg, clock, due.replace(hour=10)) == {}
    assert await round_at(cfg, clock, due.replace(day=due.day + 1)) == {}
    # and a week later (the catch-up of a daemon stopped on the day is over) neither
    assert await round_at(cfg, clock, due.replace(day=due.day + 8)) == {}
    mails = smtp_server.messages
    assert len(mails) == 1
    assert mails[0].rcpt_tos == ("jo@acme.example",)  # Sam's contact has no `report`
    msg = mails[0].message
    assert msg["Subject"] == f"ACME Charity: your monthly report for {month}"
    assert msg["X-Monitord-Kind"] == "report"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert "UPTIME" in text.get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2
    cids = {str(p["Content-ID"]).strip("<>") for p in images}
    assert set(re.findall(r'src="cid:([^"]+)"', html.get_content())) == cids
    for p in images:
        assert p.get_content()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_refused_recipient_is_tried_again(tmp_path: Path, smtp_server: SmtpServer) -> None:
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    await asyncio.to_thread(seed, cfg)
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    smtp_server.fail("rcpt", "451 4.3.0 try later")
    assert await round_at(cfg, clock, clock()) == {}
    assert smtp_server.messages == []
    assert await round_at(cfg, clock, datetime(2026, 12, 1, 9, 5, tzinfo=UTC)) == {
        "acme": ["jo@acme.example"]
    }


def test_cli_send_then_resend(
    tmp_path: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    seed(cfg)
    args = [
        "report",
        "acme",
        "--month",
        "2026-11",
        "--at",
        "2026-12-01T10:00Z",
        "--config",
        str(cfg),
    ]
    assert main([*args, "--send"]) == 0
    assert "sent the 2026-11 report of acme to jo@acme.example" in capsys.readouterr().out
    assert main([*args, "--send"]) == 0
    assert "already sent" in capsys.readouterr().out
    assert len(smtp_server.messages) == 1
    assert main([*args, "--send", "--resend"]) == 0
    assert len(smtp_server.messages) == 2


async def test_a_daemon_stopped_on_the_day_catches_up_within_a_week(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    await asyncio.to_thread(seed, cfg)
    clock = Clock(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    assert await round_at(cfg, clock, clock()) == {"acme": ["jo@acme.example"]}
    assert len(smtp_server.messages) == 1


def closed_months(cfg: Path) -> dict[str, str]:
    """month -> when its statement was issued (acme)."""
    with SqliteTimeEntryStore(cfg / "state.sqlite3") as hs:
        return {str(m): st.as_of.isoformat() for m, st in hs.closed("acme").items()}


@pytest.mark.parametrize(
    ("not_yet", "due", "month"),
    [
        # Tuesday 1 December 2026
        ([datetime(2026, 12, 1, 8, 59, tzinfo=UTC)], datetime(2026, 12, 1, 9, 0, tzinfo=UTC), 11),
        # Friday 1 January 2027 is a bank holiday, then the weekend: Monday the 4th
        (
            [datetime(2027, 1, 1, 9, 0, tzinfo=UTC), datetime(2027, 1, 4, 8, 59, tzinfo=UTC)],
            datetime(2027, 1, 4, 9, 0, tzinfo=UTC),
            12,
        ),
    ],
)
async def test_the_month_is_closed_before_its_report_once(
    tmp_path: Path, smtp_server: SmtpServer, not_yet: list[datetime], due: datetime, month: int
) -> None:
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    await asyncio.to_thread(seed, cfg)
    await measured_a_day_of(cfg, due)
    ended = f"2026-{month}"
    clock = Clock(not_yet[0])
    for at in not_yet:
        assert await round_at(cfg, clock, at) == {}
        assert closed_months(cfg) == {}
    assert await round_at(cfg, clock, due) == {"acme": ["jo@acme.example"]}
    # Every open month of the contract up to the one just ended, in order, as of 09:00.
    months = [f"2026-{m:02d}" for m in range(9, month + 1)]
    assert closed_months(cfg) == dict.fromkeys(months, due.isoformat())
    (mail,) = smtp_server.messages
    text = mail.message.get_body(("plain",))
    assert text is not None
    assert "The month is closed: these are the figures of its statement." in text.get_content()

    # Time logged afterwards for the closed month goes into the open one; a restarted daemon
    # closes nothing again and sends nothing again.
    with SqliteTimeEntryStore(cfg / "state.sqlite3") as hs:
        hs.upsert(
            TimeEntry("manual", "late", "acme", datetime(2026, month, 20, 12, 0, tzinfo=UTC), 3600),
            due,
        )
    later = due.replace(hour=11)
    assert await round_at(cfg, clock, later) == {}
    assert closed_months(cfg) == dict.fromkeys(months, due.isoformat())
    assert len(smtp_server.messages) == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "acme", "--month", ended, "--json", "--at", later.isoformat(),
                     "--config", str(cfg)]) == 0  # fmt: skip
    hours = json.loads(out.getvalue())["hours"]
    assert hours["closed"] is True
    assert hours["used_minutes"] == (390 if month == 11 else 0)  # the late hour is not in it


async def test_months_are_closed_however_late_the_daemon_starts(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Stopped for longer than the report's catch-up: no month-old report, but November closes."""
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    await asyncio.to_thread(seed, cfg)
    late = datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
    assert await round_at(cfg, Clock(late), late) == {}
    assert list(closed_months(cfg)) == ["2026-09", "2026-10", "2026-11"]
    assert smtp_server.messages == []


async def test_a_contract_added_by_a_reload_is_closed_on_the_next_round(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    await asyncio.to_thread(seed, cfg)
    client_file = cfg / "clients" / "acme.yml"
    with_contract = client_file.read_text()
    contract = with_contract[with_contract.index("contract:") : with_contract.index("contacts:")]
    client_file.write_text(with_contract.replace(contract, ""))
    due = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = Clock(due)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[history_service, report_service])
    await daemon.start()
    try:
        await service_of(daemon).run_once(due)
        assert closed_months(cfg) == {}
        client_file.write_text(with_contract)
        assert await daemon.reload()
        later = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
        clock.now = later
        await service_of(daemon).run_once(later)
        assert list(closed_months(cfg)) == ["2026-09", "2026-10", "2026-11"]
    finally:
        await daemon.stop()


async def test_a_month_monitord_never_measured_is_not_sent_on_its_own(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Installed on 2 December: November's report would say only "not measured"; it is not
    sent by the daemon (the CLI's --send still can)."""
    cfg = write_config(tmp_path, smtp_port=smtp_server.port)
    clock = Clock(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    assert await round_at(cfg, clock, clock()) == {}
    assert smtp_server.messages == []
