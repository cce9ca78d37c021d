"""The leader-only services (the advisory watcher and its patch-day run, the SLA clock, the
hours refresh, reports) start on the node that is elected, even when the election is won
while the daemon is still starting (the first node up usually wins it then)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.daemon import Daemon
from monitord.drupal.service import security_service
from tests.daemon.test_daemon_postgres import on_postgres
from tests.drupal.test_service_daemon import T0, write_config
from tests.helpers.clock import Clock
from tests.helpers.smtp import SmtpServer


async def test_a_node_elected_while_it_starts_starts_the_leader_services(
    tmp_path: Path, smtp_server: SmtpServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    cfg = on_postgres(
        write_config(tmp_path / "cfg", smtp_server, ["https://feeds.invalid/rss.xml"]),
        postgres_url,
    )
    # Driven (no scheduler): the start waits for the first election, so it is won mid-start.
    daemon = Daemon(cfg, clock=Clock(T0), schedule=False, services=[security_service], node="n1")
    await daemon.start()
    try:
        assert daemon.seat is not None and daemon.seat.leader
        assert [s.name for s in daemon.seat.leader_services] == ["security"]
        assert daemon.services == []  # nothing leader-only runs outside the seat
    finally:
        await daemon.stop()
    assert daemon.seat.leader_services == []
