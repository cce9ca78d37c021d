"""The outbox sender of a node of several (a PostgreSQL store): a node killed in the middle of
a send leaves its claim; a survivor's sender takes it within seconds (its node lock released
and a heartbeat missed), not after the five-minute lease, and delivers it once."""

from __future__ import annotations

from datetime import timedelta

import structlog

from monitord import limits
from monitord.outbox import RECOVER_EVERY_NODE, OutboxSender
from monitord.store import SENT
from monitord.store.postgres import PostgresStore
from tests.helpers.clock import Clock
from tests.outbox.test_sender import ScriptedNotifier
from tests.store.contract.values import HOUR, T0, note
from tests.store.test_postgres_cluster import node_row


async def test_a_killed_node_s_notice_is_sent_by_a_survivor_within_seconds(
    postgres_url: str,
) -> None:
    clock = Clock(T0)
    b = PostgresStore(postgres_url, exclusive=True, node="b", flush_interval=HOUR)
    await b.open()
    try:
        email = ScriptedNotifier("email")
        sender = OutboxSender(b, {"email": email}, clock, structlog.get_logger(), node="b")
        assert sender.run_id.startswith("b/")
        assert await sender.run_once() == 0  # its first round: nothing to take

        # Node A claims the DOWN, begins the send, and is killed (its sessions end).
        a = PostgresStore(postgres_url, exclusive=True, node="a", flush_interval=HOUR)
        await a.open()
        await a.node_heartbeat(node_row("a", heartbeat=clock()))
        await a.enqueue([note("down")], clock())
        (item,) = await a.claim_due(clock(), 10, "a/run")
        await a.mark_attempt([item.id], clock(), "a/run")
        await a.close()

        # B's next sweeps: not before A has missed a heartbeat, then at once.
        clock.advance(seconds=RECOVER_EVERY_NODE.total_seconds())
        assert await sender.run_once() == 0
        clock.advance(seconds=limits.NODE_HEARTBEAT.total_seconds())
        assert await sender.run_once() == 1
        assert list(email.delivered) == ["down"]
        assert clock() - T0 < timedelta(seconds=20) < limits.OUTBOX_LEASE
        [sent] = await b.outbox_items(SENT)
        assert sent.key == "down"
    finally:
        await b.close()
