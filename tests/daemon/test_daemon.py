"""The daemon end to end: a real site on 127.0.0.1, a real SMTP server, a real SQLite file.

The clock is driven (``Clock``); probes and mail are real. ``schedule=False`` turns the
scheduler off so each probe happens when the test calls ``tick``; one test runs the real
scheduler.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.daemon import (
    FIRST_RUN_SUFFIX,
    FIRST_RUN_WITHIN,
    Daemon,
    check_key,
    first_run,
    last_due,
    schedule_offset,
)
from tests.helpers.clock import Clock
from tests.helpers.daemon import JO, KEY, T0, Switchable, ticks
from tests.helpers.daemon import write_config as daemon_config
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer, plain_text

CONTACTS = (
    JO,
    "{name: Ann Board, email: ann@acme.example, notify: [site-recovered]}",
    "{name: Cert Person, email: certs@acme.example, notify: [certificate]}",
)


def write_config(d: Path, site_url: str, smtp: SmtpServer, *, alert: str = "") -> Path:
    """Jo (down and recovery), Ann (recovery only) and a certificate contact; three failures
    to go down, two passes to recover, a reminder every 4 h."""
    return daemon_config(
        d,
        site_url,
        smtp,
        contacts=CONTACTS,
        expect="{status: 200, contains: ACME}",
        alert=alert or "{failure_threshold: 3, success_threshold: 2, repeat_every: 4h}",
    )


async def test_down_reminder_recovery_mail_only_to_those_who_asked(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False)
    await daemon.start()
    try:
        assert await ticks(daemon, clock, 3) == []  # healthy: silent
        sw.status = 503
        assert await ticks(daemon, clock, 2) == []  # below the threshold
        assert await ticks(daemon, clock, 1) == ["site-down"]
        down = (await smtp_server.wait_for_async(1))[0]
        assert down.rcpt_tos == ("jo@acme.example",)  # Ann asked only for recoveries
        msg = down.message
        assert "acme-www" in msg["Subject"]
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg.get_content_type() == "multipart/alternative"
        assert "HTTP 503" in plain_text(msg)

        # Still down: nothing until repeat_every (4 h) has passed since the notice.
        assert await ticks(daemon, clock, 200) == []  # 3 h 20 min
        assert await ticks(daemon, clock, 41) == ["site-reminder"]
        await smtp_server.wait_for_async(2)

        sw.status = 200
        assert await ticks(daemon, clock, 2) == ["site-recovered"]
        mails = await smtp_server.wait_for_async(4)  # Jo and Ann
        recovered = {m.rcpt_tos[0]: m.message for m in mails[2:]}
        assert set(recovered) == {"jo@acme.example", "ann@acme.example"}
        body = plain_text(recovered["jo@acme.example"])
        # First failure at 14:04, recovered at 18:09.
        assert "4h 5m" in body
        assert "HTTP 503" in body  # the problem, not the passing result
        # One thread: same subject and References for every message of the incident.
        subjects = {m.message["Subject"] for m in mails}
        assert len(subjects) == 1
        refs = {m.message["References"] for m in mails}
        assert len(refs) == 1 and None not in refs
        assert len({m.message["Message-ID"] for m in mails}) == 4
    finally:
        await daemon.stop()


async def test_restart_during_incident_neither_resends_nor_forgets(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    sw.status = 500
    first = Daemon(cfg, clock=clock, schedule=False)
    await first.start()
    assert await ticks(first, clock, 3) == ["site-down"]
    await smtp_server.wait_for_async(1)
    await first.stop()

    second = Daemon(cfg, clock=clock, schedule=False)
    await second.start()
    try:
        assert await ticks(second, clock, 5) == []  # no second DOWN notice
        assert second.states[KEY].status == "down"
        sw.status = 200
        assert await ticks(second, clock, 2) == ["site-recovered"]
        mails = await smtp_server.wait_for_async(3)
        assert [m.rcpt_tos for m in mails].count(("jo@acme.example",)) == 2
        assert second.store is not None
        incidents = await second.store.incidents()
        assert len(incidents) == 1 and incidents[0].ended is not None
    finally:
        await second.stop()


async def test_smtp_outage_delays_mail_and_loses_none(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False)
    await daemon.start()
    assert daemon.sender is not None and daemon.store is not None
    try:
        smtp_server.fail("mail", "451 4.3.0 Try again later", times=3)
        sw.status = 503
        assert await ticks(daemon, clock, 3) == ["site-down"]
        for _ in range(3):  # three tries, each refused with 451
            clock.advance(hours=1)
            await daemon.sender.run_once()
        stats = await daemon.store.outbox_stats(clock())
        assert stats.depth == 1  # kept, not lost
        assert smtp_server.messages == []
        clock.advance(hours=1)
        await daemon.sender.run_once()
        mail = (await smtp_server.wait_for_async(1))[0]
        assert mail.rcpt_tos == ("jo@acme.example",)
        assert (await daemon.store.outbox_stats(clock())).depth == 0
    finally:
        await daemon.stop()


async def test_reload_keeps_running_config_when_new_one_is_bad(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    _, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    daemon = Daemon(cfg, clock=Clock(T0), schedule=True)
    await daemon.start()
    try:
        before = set(daemon.checks)
        client_file = cfg / "clients" / "acme.yml"
        good = client_file.read_text()
        client_file.write_text(good.replace("interval: 60s", "interval: sixty"))
        assert await daemon.reload() is False
        assert set(daemon.checks) == before
        assert daemon._scheduler is not None and daemon._scheduler.get_job(KEY) is not None
        # A valid change: a second check is scheduled.
        client_file.write_text(
            good.replace(
                "      - {type: http,",
                f"      - {{type: tcp, host: 127.0.0.1, port: {loop_site.port}}}\n      - {{type: http,",
            )
        )
        assert await daemon.reload() is True
        assert set(daemon.checks) == before | {check_key("acme", "acme-www", "tcp")}
        tcp = check_key("acme", "acme-www", "tcp")
        assert daemon._scheduler.get_job(tcp) is not None
        await daemon.tick(tcp)
        assert tcp in daemon.desk.latest_ok
        # Removed again: unscheduled, and no longer counted for the connectivity rule.
        client_file.write_text(good)
        assert await daemon.reload() is True
        assert daemon._scheduler.get_job(tcp) is None
        assert tcp not in daemon.desk.latest_ok
    finally:
        await daemon.stop()


async def test_real_scheduler_probes_and_mails(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(
        tmp_path / "cfg",
        loop_site.url,
        smtp_server,
        alert="{failure_threshold: 1, success_threshold: 1, repeat_every: null}",
    )
    (cfg / "clients" / "acme.yml").write_text(
        (cfg / "clients" / "acme.yml").read_text().replace("interval: 60s", "interval: 1s")
    )
    sw.status = 503
    daemon = Daemon(cfg)  # real clock, real scheduler
    await daemon.start()
    try:
        mail = (await smtp_server.wait_for_async(1, timeout=20))[0]
        assert mail.rcpt_tos == ("jo@acme.example",)
        assert daemon.probes_run >= 1
        assert daemon.lateness and max(daemon.lateness) < 1.0
    finally:
        await daemon.stop()


def test_first_runs_are_spread_over_the_interval() -> None:
    interval = timedelta(seconds=60)
    offsets = [schedule_offset(f"c/site-{i}/http", interval).total_seconds() for i in range(6000)]
    assert all(0 <= o < 60 for o in offsets)
    per_second = [0] * 60
    for o in offsets:
        per_second[int(o)] += 1
    # 100 a second on average; no second gets more than twice its share.
    assert max(per_second) < 200 and min(per_second) > 40
    # Stable across processes (not Python's randomised hash).
    assert schedule_offset("acme/acme-www/http", interval) == schedule_offset(
        "acme/acme-www/http", interval
    )


@pytest.mark.parametrize(
    ("now_s", "expected_s"),
    [(0, 0), (59.9, 0), (60, 60), (61, 60), (3599, 3540), (-5, 0)],
)
def test_last_due(now_s: float, expected_s: float) -> None:
    start = T0
    got = last_due(T0 + timedelta(seconds=now_s), start, timedelta(seconds=60))
    assert got == T0 + timedelta(seconds=expected_s)


async def test_stop_cancels_in_flight_probes_and_keeps_outbox(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    from tests.helpers.sites import hanging_server

    async with hanging_server() as hang:
        cfg = write_config(tmp_path / "cfg", hang.url, smtp_server)
        clock = Clock(T0)
        daemon = Daemon(cfg, clock=clock, schedule=False)
        await daemon.start()
        task = asyncio.ensure_future(daemon._scheduled_run(KEY))
        await hang.connected.wait()  # the probe is in flight, the server never answers
        await daemon.stop()
        await asyncio.wait_for(task, 5)
        assert task.done() and not task.cancelled()


H6 = timedelta(hours=6)


@pytest.mark.parametrize(
    ("now_s", "start_s", "interval", "extra"),
    [
        # A 6 h check whose slot is hours away gets an extra run within the minute.
        (0, 4 * 3600, H6, True),
        (10_000, 4 * 3600, H6, True),  # after its first slot: the next is at 10 h
        (4 * 3600 - 60, 4 * 3600, H6, False),  # its slot is exactly a minute away
        (4 * 3600 - 30, 4 * 3600, H6, False),
        (4 * 3600, 4 * 3600, H6, False),  # due right now
        (4 * 3600 + H6.total_seconds() - 59, 4 * 3600, H6, False),
        (4 * 3600 + 1, 4 * 3600, H6, True),
        # Short intervals never need one: the next slot is always within the minute.
        (0, 30, timedelta(seconds=60), False),
        (1234.5, 30, timedelta(seconds=60), False),
        (0, 59, timedelta(seconds=60), False),
        (0, 200, timedelta(minutes=5), True),
    ],
)
def test_first_run_within_a_minute(
    now_s: float, start_s: float, interval: timedelta, extra: bool
) -> None:
    now = T0 + timedelta(seconds=now_s)
    got = first_run(now, T0 + timedelta(seconds=start_s), interval, "acme/acme-www/tls")
    if not extra:
        assert got is None
        return
    assert got is not None
    assert now <= got < now + FIRST_RUN_WITHIN
    # Stable by key, different for another check.
    assert got == first_run(now, T0 + timedelta(seconds=start_s), interval, "acme/acme-www/tls")


def test_first_runs_within_the_minute_are_spread() -> None:
    delays = [(first_run(T0, T0 + H6 / 2, H6, f"c/site-{i}/tls") or T0) - T0 for i in range(3000)]
    per_second = [0] * 60
    for d in delays:
        per_second[int(d.total_seconds())] += 1
    assert max(per_second) < 100 and min(per_second) > 20  # 50 a second on average


async def test_a_long_interval_check_runs_within_its_first_minute(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    _, loop_site = site
    cfg = daemon_config(tmp_path / "cfg", loop_site.url, smtp_server)
    client_file = cfg / "clients" / "acme.yml"
    client_file.write_text(
        client_file.read_text().replace(
            "      - {type: http,",
            f"      - {{type: tcp, host: 127.0.0.1, port: {loop_site.port}, interval: 6h}}\n"
            "      - {type: http,",
        )
    )
    daemon = Daemon(cfg, clock=Clock(T0), schedule=True)
    await daemon.start()
    try:
        assert daemon._scheduler is not None
        tcp = check_key("acme", "acme-www", "tcp")
        extra = daemon._scheduler.get_job(tcp + FIRST_RUN_SUFFIX)
        regular = daemon._scheduler.get_job(tcp)
        assert extra is not None and regular is not None
        wall = datetime.now(UTC)
        assert extra.next_run_time - wall < FIRST_RUN_WITHIN
        # The regular schedule keeps the check's stable offset.
        sc = daemon.checks[tcp]
        assert (regular.next_run_time - sc.start) % sc.spec.interval == timedelta(0)
        # A 60 s check needs no extra run.
        assert daemon._scheduler.get_job(KEY + FIRST_RUN_SUFFIX) is None
    finally:
        await daemon.stop()
