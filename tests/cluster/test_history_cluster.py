"""The uptime history of three real daemons on one real PostgreSQL, driven tick by tick: only
the leader keeps it, and it counts the leader's decisions (the combined quorum results), not
each node's own results: a check probed by three nodes is counted once, and the leader's own
failing location, outvoted, is not counted as down time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitord.daemon import Daemon
from monitord.probes.base import ProbeResult
from monitord.report.history import HistoryService, history_service
from monitord.store.postgres.report import PgReportStore
from tests.cluster.test_three_daemons import NODES_YAML
from tests.daemon.test_daemon_postgres import on_postgres
from tests.daemon.test_retention_daemon import on
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, write_config
from tests.helpers.smtp import SmtpServer

ROUNDS = 6


def history_of(d: Daemon) -> HistoryService | None:
    services = d.services + (d.seat.leader_services if d.seat is not None else [])
    return next((s for s in services if isinstance(s, HistoryService)), None)


async def test_the_leader_counts_its_decisions_once_per_interval(
    tmp_path: Path, smtp_server: SmtpServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    cfg = write_config(tmp_path / "cfg", "http://127.0.0.1:9/", smtp_server, main_extra=NODES_YAML)
    cfg = on_postgres(cfg, postgres_url)
    clock = Clock(T0)
    daemons: dict[str, Daemon] = {}
    decided: list[tuple[datetime, bool]] = []
    try:
        for node in ("n1", "n2", "n3"):
            daemons[node] = Daemon(
                cfg,
                clock=clock,
                schedule=False,
                notifier_factory=on(clock),
                services=[history_service],
                node=node,
            )
            await daemons[node].start()
        lead = daemons["n1"]
        assert lead.seat is not None and lead.seat.leader
        # Only the leader keeps the history; it listens to decisions, not to results.
        history = history_of(lead)
        assert history is not None
        assert [history_of(daemons[n]) for n in ("n2", "n3")] == [None, None]
        assert history.on_decision in lead.decision_listeners
        assert history.on_result not in lead.result_listeners
        lead.decision_listeners.append(lambda _sc, r, now: decided.append((now, r.ok)))

        for _ in range(ROUNDS):
            clock.advance(seconds=60)
            # Each follower's result is decided in a round of its own (as the leader's loop
            # does when results come in at different moments), then the leader's own, which
            # fails: its location is outvoted.
            for node in ("n2", "n3"):
                await daemons[node].tick(KEY, ProbeResult(True, "HTTP 200"))
                await lead.decide_round(clock())
            await lead.tick(KEY, ProbeResult(False, "HTTP 503"))
        await history.flush()
    finally:
        for d in daemons.values():
            await d.stop()

    times = sorted({at for at, _ok in decided})
    assert len(decided) > len(times) >= ROUNDS - 2  # several decisions an interval
    assert all(ok for _at, ok in decided)  # the leader's own failures were outvoted
    with PgReportStore(postgres_url) as rs:
        [hours] = rs.hours([KEY], T0, T0 + timedelta(hours=1)).values()
    # Each decision stands until the next (at most an interval): the time between the first
    # and the last decision, up, once; nothing down; never three nodes' worth.
    assert sum(s.up for s in hours) == (times[-1] - times[0]).total_seconds()
    assert sum(s.down for s in hours) == 0
