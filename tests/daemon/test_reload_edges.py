"""Reload edge cases in a real daemon (a site on 127.0.0.1, aiosmtpd, a real SQLite file, the
built-in tickets-local, a driven clock): a hostile or absurd configuration is a refused and
counted reload that leaves the running one whole; a check or site removed while its incident is
open closes the incident and its ticket instead of leaving a ghost."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.daemon import Daemon, check_key
from monitord.errors import ConfigError
from monitord.store.base import SENT
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, Switchable, ticks, write_config
from tests.helpers.secrets import CapturedLogs
from tests.helpers.sites import LoopbackSite
from tests.helpers.smtp import SmtpServer


async def _step(daemon: Daemon, clock: Clock) -> list[str]:
    kinds = await ticks(daemon, clock, 1)
    assert daemon.sender is not None
    await daemon.sender.run_once()
    return kinds


async def test_deep_yaml_on_sighup_is_refused_and_counted(
    tmp_path: Path,
    site: tuple[Switchable, LoopbackSite],
    smtp_server: SmtpServer,
    captured_logs: CapturedLogs,
) -> None:
    _, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    daemon = Daemon(cfg, clock=Clock(T0), schedule=True, services=[])
    await daemon.start()
    try:
        config, checks = daemon.config, dict(daemon.checks)
        (cfg / "clients" / "deep.yml").write_text(
            "client: deep\nname: Deep\nsites: " + "[" * 10_000 + "]" * 10_000 + "\n"
        )
        await daemon._sighup()  # what the SIGHUP handler runs
        assert (daemon.reloads_failed, daemon.reloads_ok) == (1, 0)
        assert daemon.config is config and daemon.checks == checks
        assert daemon._scheduler is not None and daemon._scheduler.get_job(KEY) is not None
        assert "reload refused: configuration invalid" in captured_logs.text
        assert "clients/deep.yml:3:" in captured_logs.text
        assert "nested more than 64 levels deep" in captured_logs.text
        assert "RecursionError" not in captured_logs.text
    finally:
        await daemon.stop()


async def test_absurd_interval_on_reload_is_refused_whole(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    """``interval: 1000000w`` used to pass validation and overflow when scheduled, after the new
    configuration had been swapped in."""
    _, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    daemon = Daemon(cfg, clock=Clock(T0), schedule=True, services=[])
    await daemon.start()
    try:
        config = daemon.config
        client_file = cfg / "clients" / "acme.yml"
        good = client_file.read_text()
        for absurd in ("1000000w", ".inf", "99999999999999999999w"):
            client_file.write_text(good.replace("interval: 60s", f"interval: {absurd}"))
            assert await daemon.reload() is False
        client_file.write_text(good.replace("repeat_every: 4h", "repeat_every: 9999999999999d"))
        assert await daemon.reload() is False
        assert daemon.reloads_failed == 4
        assert daemon.config is config
        assert daemon._scheduler is not None and daemon._scheduler.get_job(KEY) is not None
    finally:
        await daemon.stop()


async def _down_with_ticket(daemon: Daemon, clock: Clock, sw: Switchable) -> int:
    """Take the site down (threshold 1): DOWN mail and ticket sent. Returns the ticket id."""
    assert daemon.store is not None
    assert await _step(daemon, clock) == []
    sw.status = 503
    assert await _step(daemon, clock) == ["site-down"]
    (ticket,) = await daemon.store.local_tickets()
    assert ticket.status == "open"
    # One incident per site: keyed by the site, listing its failing check.
    assert [(i.key, i.check) for i in await daemon.store.open_incidents()] == [
        ("acme/acme-www", "http")
    ]
    return ticket.id


async def test_removing_a_site_with_an_open_incident_closes_it_and_its_ticket(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        store = daemon.store
        ticket_id = await _down_with_ticket(daemon, clock, sw)

        client_file = cfg / "clients" / "acme.yml"
        text = client_file.read_text()
        client_file.write_text(text[: text.index("sites:")] + "sites: []\n")
        clock.advance(seconds=30)
        assert await daemon.reload() is True
        assert daemon.sender is not None
        await daemon.sender.run_once()

        # No ghost: the incident ended now, saying why (status and the open-incidents metric
        # read open_incidents()); the state is gone.
        assert await store.open_incidents() == []
        (incident,) = await store.incidents()
        assert incident.ended == clock()
        assert incident.last_message == "site removed from the configuration"
        assert KEY not in daemon.states
        assert (await store.load_states())[KEY]["status"] == "unknown"
        # The ticket: commented on and resolved, as a recovery does.
        found = await store.local_ticket(ticket_id)
        assert found is not None
        ticket, notes = found
        assert ticket.status == "resolved"
        assert [n.kind for n in notes] == ["opened", "recovered"]
        assert "site removed from the configuration" in notes[-1].text
        # Jo, told it was down, is told it is no longer watched (not that it is back up).
        mails = await smtp_server.wait_for_async(2)
        closing = mails[1].message
        body = closing.get_body(("plain",))
        assert body is not None
        text_body = body.get_content()
        assert "NO LONGER MONITORED" in text_body and "BACK UP" not in text_body
        assert "site removed from the configuration" in text_body
        items = sorted(await store.outbox_items(limit=100), key=lambda i: i.id)
        assert [(i.notifier, i.notification.event.kind, i.status) for i in items] == [
            ("email", "site-down", SENT),
            ("tickets", "site-down", SENT),
            ("email", "site-recovered", SENT),
            ("tickets", "site-recovered", SENT),
        ]
    finally:
        await daemon.stop()


async def test_removing_a_check_of_a_kept_site_closes_its_incident(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    sw, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        store = daemon.store
        ticket_id = await _down_with_ticket(daemon, clock, sw)

        client_file = cfg / "clients" / "acme.yml"
        client_file.write_text(
            client_file.read_text().replace(
                "{type: http, interval: 60s, timeout: 5s, expect: {status: 200}}",
                f"{{type: tcp, host: 127.0.0.1, port: {loop_site.port}}}",
            )
        )
        assert await daemon.reload() is True
        assert set(daemon.checks) == {check_key("acme", "acme-www", "tcp")}
        assert daemon.sender is not None
        await daemon.sender.run_once()

        assert await store.open_incidents() == []
        (incident,) = await store.incidents()
        assert incident.last_message == "check removed from the configuration"
        found = await store.local_ticket(ticket_id)
        assert found is not None and found[0].status == "resolved"
        assert "check removed from the configuration" in found[1][-1].text
    finally:
        await daemon.stop()


async def test_removing_a_healthy_check_tells_nobody(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    _, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    clock = Clock(T0)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[])
    await daemon.start()
    try:
        assert daemon.store is not None
        assert await _step(daemon, clock) == []
        client_file = cfg / "clients" / "acme.yml"
        text = client_file.read_text()
        client_file.write_text(text[: text.index("sites:")] + "sites: []\n")
        assert await daemon.reload() is True
        assert await daemon.store.outbox_items(limit=100) == []
        assert await daemon.store.incidents() == []
        assert KEY not in daemon.states
    finally:
        await daemon.stop()


async def test_absurd_interval_at_start_is_a_config_error(
    tmp_path: Path, site: tuple[Switchable, LoopbackSite], smtp_server: SmtpServer
) -> None:
    """Not an OverflowError from the scheduler: the located problem ``monitord run`` prints."""
    _, loop_site = site
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server)
    client_file = cfg / "clients" / "acme.yml"
    client_file.write_text(client_file.read_text().replace("interval: 60s", "interval: 1000000w"))
    daemon = Daemon(cfg, clock=Clock(T0), schedule=True, services=[])
    with pytest.raises(ConfigError) as info:
        await daemon.start()
    (issue,) = info.value.issues
    assert str(issue).endswith(
        "sites[0].checks[0].interval: interval must be at least 1s and at most 1d — use a "
        "duration such as 60s, 5m or 6h"
    )
