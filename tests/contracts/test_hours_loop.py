"""The hours service's rounds (the minute's warnings, a helpdesk pull) use the ledger off the
event loop: on PostgreSQL every read and write is a round trip to the database (across a WAN
in a cluster), and a round that made them on the loop held up every probe for their sum. Here the ledger's database answers through a
forwarder that holds each reply back (a slow link); the loop must keep running meanwhile."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.config import load_config
from monitord.contracts.service import HoursService, hours_service
from monitord.store.postgres.hours import PgTimeEntryStore
from monitord.store.sqlite import SqliteStore
from tests.contracts.test_support_contract_daemon import ACME
from tests.daemon.test_daemon_postgres import on_postgres
from tests.faults.harness import Gate
from tests.helpers.clock import Clock
from tests.helpers.hours import write_hours_config
from tests.helpers.runtime import FakeRuntime
from tests.helpers.sites import serve_app
from tests.notify.standins.timeentries import JiraWorklogStandIn

NOW = datetime(2026, 12, 9, 16, 30, tzinfo=UTC)
REPLY_DELAY = 0.25
"""Seconds the slow link holds back each reply of the database."""


@pytest.mark.parametrize("round_", ["warn", "refresh"])
async def test_an_hours_round_does_not_hold_up_the_event_loop(
    tmp_path: Path, postgres_url: str, round_: str
) -> None:
    PgTimeEntryStore(postgres_url).close()  # the ledger's tables exist
    port = int(postgres_url.split(":")[-1].split("/")[0])
    # The link runs on a loop of its own (as a database elsewhere would): the ledger's
    # synchronous opening blocks this loop.
    link = asyncio.new_event_loop()
    thread = threading.Thread(target=link.run_forever, daemon=True)
    thread.start()
    gate = Gate(port)
    asyncio.run_coroutine_threadsafe(gate.open(delay=REPLY_DELAY), link).result(10)
    slow_url = postgres_url.replace(f":{port}/", f":{gate.port}/")
    jira = JiraWorklogStandIn(now_ms=int(NOW.timestamp() * 1000))
    jira.add_issue(20007, "ACME-7")
    jira_site = serve_app(jira.app())
    loop_site = await jira_site.__aenter__()
    cfg = write_hours_config(tmp_path / "cfg", 9, loop_site.url, ACME)
    on_postgres(cfg, slow_url)
    config = load_config(cfg)
    store = SqliteStore(tmp_path / "events.sqlite3")  # the runtime's own (unused here)
    await store.open()
    service: HoursService | None = None
    try:
        runtime = FakeRuntime(config, store, Clock(NOW))
        service = hours_service(runtime)
        assert service is not None
        await service.start(runtime)

        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        if round_ == "warn":
            await service.warn(NOW)
        else:  # a helpdesk pull: its cursor read and page writes
            [pulled] = await service.refresh(NOW)
            assert pulled.error is None
        took = time.monotonic() - started
        done.set()
        await task
        # The round waited on the slow link (several replies) while the loop went on.
        assert took >= 2 * REPLY_DELAY
        assert gaps, f"the loop stood still for the whole round ({took:.2f}s)"
        assert max(gaps) < REPLY_DELAY / 2, f"the loop stood still for {max(gaps):.2f}s"
    finally:
        if service is not None:
            await service.stop()
        await store.close()
        await jira_site.__aexit__(None, None, None)
        asyncio.run_coroutine_threadsafe(gate.aclose(), link).result(10)
        link.call_soon_threadsafe(link.stop)
        thread.join(10)
        link.close()
