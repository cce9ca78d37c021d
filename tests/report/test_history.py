"""The uptime history fed from a real daemon's results: batched roll-ups, maintenance
windows excluded, raw results pruned after ``state.retention.results``, roll-ups kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.config.models import RetentionConfig
from monitord.daemon import Daemon
from monitord.probes.base import ProbeResult
from monitord.report.history import HistoryService, history_service
from monitord.report.rollup import Slice
from monitord.report.store import ReportStore
from tests.helpers.clock import Clock
from tests.report.seed import SHOP, WWW, write_config

START = datetime(2026, 11, 18, 5, 58, tzinfo=UTC)
"""Two minutes before acme-shop's maintenance window (06:00–08:00 UTC on 18 November)."""


async def test_results_become_hourly_rollups(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    clock = Clock(START)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[history_service])
    await daemon.start()
    history = next(s for s in daemon.services if isinstance(s, HistoryService))
    try:
        # acme-shop fails for 4 minutes across the window's start; acme-www is up
        for _ in range(4):
            await daemon.tick(SHOP, ProbeResult(False, "HTTP 503"))
            await daemon.tick(WWW, ProbeResult(True, "HTTP 200"))
            clock.advance(minutes=1)
        await daemon.tick(WWW, ProbeResult(False, "x", inconclusive=True))  # no evidence
        assert await history.flush() == 8
        assert await history.flush() == 0  # nothing batched since
    finally:
        await daemon.stop()
    with ReportStore(cfg / "state.sqlite3") as rs:
        got = rs.hours([SHOP, WWW], START - timedelta(hours=1), START + timedelta(hours=2))
        assert len(rs.results(SHOP)) == 4
    h5, h6 = datetime(2026, 11, 18, 5, tzinfo=UTC), datetime(2026, 11, 18, 6, tzinfo=UTC)
    assert got[SHOP] == [Slice(h5, 0, 120, 0, 2), Slice(h6, 0, 0, 120, 2)]
    assert got[WWW] == [Slice(h5, 120, 0, 0, 2), Slice(h6, 120, 0, 0, 2)]


async def test_prune_keeps_rollups_drops_old_results(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    clock = Clock(START)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[history_service])
    await daemon.start()
    history = next(s for s in daemon.services if isinstance(s, HistoryService))
    try:
        await daemon.tick(WWW, ProbeResult(True, "HTTP 200"))
        await history.flush()
        # 3 days later (the default retention), the raw result goes, its hour stays
        assert await history.prune(START + timedelta(days=3, seconds=1)) == (1, 0)
        # 13 months later the hour goes too
        assert await history.prune(START + timedelta(days=398)) == (0, 1)
    finally:
        await daemon.stop()


@pytest.mark.parametrize(
    ("value", "ok"), [("3d", True), ("1d", True), ("12h", False), ("3651d", False)]
)
def test_results_retention_is_validated(value: str, ok: bool) -> None:
    if ok:
        assert RetentionConfig.model_validate({"results": value}).results >= timedelta(days=1)
    else:
        with pytest.raises(ValueError, match="a retention must be from 1d"):
            RetentionConfig.model_validate({"results": value})


async def test_a_failed_write_is_kept_for_the_next(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    clock = Clock(START)
    daemon = Daemon(cfg, clock=clock, schedule=False, services=[history_service])
    await daemon.start()
    history = next(s for s in daemon.services if isinstance(s, HistoryService))
    try:
        await daemon.tick(WWW, ProbeResult(True, "HTTP 200"))
        store = history.store
        assert isinstance(store, ReportStore)
        await asyncio.to_thread(store._conn.execute, "DROP TABLE uptime_result")
        with pytest.raises(Exception, match="cannot write the uptime history"):
            await history.flush()
        await asyncio.to_thread(
            store._conn.execute,
            "CREATE TABLE uptime_result (check_id INTEGER NOT NULL, at INTEGER NOT NULL, "
            "ok INTEGER NOT NULL, message TEXT)",
        )
        assert await history.flush() == 1
    finally:
        await daemon.stop()


def test_the_report_reads_history_under_the_daemons_check_keys() -> None:
    from monitord.daemon import check_key as daemon_key
    from monitord.report.data import check_key as report_key

    assert report_key("acme", "acme-www", "http") == daemon_key("acme", "acme-www", "http")
