"""The daemon sends last month's report once, on the first working day at 09:00 (driven
clock), to the contacts with ``notify: [report]``: never twice, across a restart too."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.cli import main
from monitord.daemon import Daemon
from monitord.report.history import history_service
from monitord.report.service import ReportService, report_service
from tests.helpers.clock import Clock
from tests.helpers.smtp import SmtpServer
from tests.report.seed import seed, write_config


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
