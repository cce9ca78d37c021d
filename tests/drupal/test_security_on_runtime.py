"""The advisory watcher alone on a small runtime (tests.helpers.runtime): a feed server on
127.0.0.1, a real SQLite file, a driven clock, no Daemon. A Highly critical core advisory for
an affected site takes the runtime's one event pipeline: routed, stored with the decision in one
transaction, then told and the sender woken; a second round tells nothing; while the store
refuses the write, nothing is told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from monitord.drupal.service import SecurityService, security_service
from monitord.errors import StoreError
from monitord.store.base import PENDING, SecurityChanges
from tests.drupal import test_service_daemon as daemon_tests
from tests.helpers.clock import Clock
from tests.helpers.runtime import FakeRuntime, as_service_runtime
from tests.helpers.smtp import SmtpServer

feeds = daemon_tests.feeds
smtp_server = daemon_tests.smtp_server
smtp_server_factory = daemon_tests.smtp_server_factory
test_ca = daemon_tests.test_ca


@pytest.fixture
async def runtime(
    tmp_path: Path, feeds: daemon_tests.FeedServer, smtp_server: SmtpServer
) -> AsyncIterator[FakeRuntime]:
    feeds.bodies["core"] = daemon_tests.rss(daemon_tests.CORE_HC)
    cfg = daemon_tests.write_config(tmp_path / "cfg", smtp_server, [feeds.url("core")])
    rt = await FakeRuntime.open(cfg, Clock(daemon_tests.T0))
    try:
        yield rt
    finally:
        await rt.close()


async def test_a_highly_critical_advisory_takes_the_pipeline_once(runtime: FakeRuntime) -> None:
    service = security_service(as_service_runtime(runtime))
    assert isinstance(service, SecurityService)
    await service.start(as_service_runtime(runtime))
    try:
        report = await service.run_once(daemon_tests.T0)
        assert [e.kind for e in report.events] == ["security-now"]
        ((event, routed),) = runtime.told
        assert event is report.events[0]
        assert {n.recipient for n in routed} >= {"sec@acme.example"}
        stored = await runtime.store.outbox_items(PENDING)
        assert sorted(i.key for i in stored) == sorted(n.key for n in routed)
        assert report.notifications == len(routed)
        assert runtime.wakes == 1
        assert [(d.advisory, d.site) for d in (await runtime.store.load_decisions()).values()] == [
            ("SA-CORE-2026-030", "acme-www")
        ]

        again = await service.run_once(daemon_tests.T0)
        assert again.events == [] and len(runtime.told) == 1 and runtime.wakes == 1
    finally:
        await service.stop()


async def test_nothing_is_told_while_the_store_refuses_the_round(
    runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round's events are told (listeners, log, sender) only once its write is stored."""
    store = runtime.store
    real_save = store.save_security
    refusals = [StoreError("database is locked")]

    async def save_security(changes: SecurityChanges, now: datetime) -> int:
        if refusals:
            raise refusals.pop()
        return await real_save(changes, now)

    told_while_retrying: list[int] = []

    async def retry_wait(_seconds: float) -> None:
        told_while_retrying.append(len(runtime.told) + runtime.wakes)

    monkeypatch.setattr(store, "save_security", save_security)
    runtime.pipeline.sleep = retry_wait
    service = security_service(as_service_runtime(runtime))
    assert isinstance(service, SecurityService)
    await service.start(as_service_runtime(runtime))
    try:
        report = await service.run_once(daemon_tests.T0)
    finally:
        await service.stop()
    assert told_while_retrying == [0]
    assert runtime.store_health.failures == 1
    assert [e.kind for e, _ in runtime.told] == ["security-now"] == [e.kind for e in report.events]
    assert runtime.wakes == 1
