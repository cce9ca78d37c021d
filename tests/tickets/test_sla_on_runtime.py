"""The ticket SLA alone on a small runtime (tests.helpers.runtime): a real SQLite file with one
local ticket, no Daemon. Its reminders take the runtime's one event pipeline: stored with the
ticket's ``reminded_at``, then told and logged, and the sender woken — once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitord.events import Event
from monitord.store.base import PENDING
from monitord.tickets import ticket_for
from monitord.tickets_sla import TicketSlaService, tickets_sla_service
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.helpers.runtime import FakeRuntime, as_service_runtime
from tests.service.conftest import write_config

DOWN = Event(
    kind="site-down",
    client="acme",
    site="acme-www",
    check="http",
    at=T0,
    key="site-down|acme/acme-www/http|1",
    thread="incident|acme/acme-www/http|1",
    summary="ACME main site is down",
    severity="critical",
)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[FakeRuntime]:
    cfg = write_config(tmp_path / "cfg", http="{listen: off}", smtp_port=2525)
    rt = await FakeRuntime.open(cfg, Clock(T0))
    try:
        yield rt
    finally:
        await rt.close()


async def test_an_overdue_ticket_is_reminded_once_through_the_pipeline(
    runtime: FakeRuntime,
) -> None:
    ticket = ticket_for(DOWN, runtime.calendar(), "Collective")
    await runtime.store.apply_local_ticket(ticket, "n-1", False, ticket.body, T0)
    service = tickets_sla_service(as_service_runtime(runtime))
    assert isinstance(service, TicketSlaService)
    await service.start(as_service_runtime(runtime))
    try:
        assert await service.run_once(ticket.respond_by - timedelta(seconds=1)) == []
        assert runtime.told == [] and runtime.wakes == 0

        late = ticket.respond_by + timedelta(minutes=1)
        notes = await service.run_once(late)
        assert [(n.notifier, n.recipient) for n in notes] == [
            ("email", "support@collective.example")
        ]
        ((event, told),) = runtime.told
        assert (event.kind, told) == ("ticket-overdue", notes)
        assert runtime.wakes == 1
        (item,) = await runtime.store.outbox_items(PENDING)
        assert item.notification.event.kind == "ticket-overdue"

        # Reminded once: the next round finds nothing to tell.
        assert await service.run_once(late + timedelta(minutes=1)) == []
        assert len(runtime.told) == 1 and runtime.wakes == 1
    finally:
        await service.stop()
