"""The outbox sender of a running node and another node's claims, on a real PostgreSQL with
a driven clock: a dead node's notices are delivered once its heartbeat is stale
(limits.NODE_DEAD_AFTER), not only after the five-minute lease; a live node's sends in flight
are left alone until the lease."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from monitord import limits
from monitord.outbox import RECOVER_EVERY_NODE, OutboxSender
from monitord.store import SENDING, SENT
from monitord.store.postgres import PostgresStore
from tests.helpers.clock import Clock
from tests.helpers.postgres import open_postgres_store
from tests.outbox.test_sender import ScriptedNotifier
from tests.store.contract.values import HOUR, T0, note
from tests.store.test_postgres_cluster import node_row


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Node a's store and node b's, on one database."""
    async with AsyncExitStack() as stack:
        a, b = [
            await stack.enter_async_context(
                open_postgres_store(postgres_url, exclusive=True, flush_interval=HOUR, node=n)
            )
            for n in ("a", "b")
        ]
        yield a, b


async def _a_sends(a: PostgresStore) -> None:
    """Node a claims two notices and begins sending one of them."""
    await a.enqueue([note("begun"), note("not-begun")], T0)
    claimed = {i.key: i for i in await a.claim_due(T0, 10, "a/1")}
    await a.mark_attempt([claimed["begun"].id], T0, "a/1")


async def test_a_running_node_delivers_a_dead_node_s_claims_once_its_heartbeat_is_stale(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    clock = Clock(T0)
    email = ScriptedNotifier("email")
    sender = OutboxSender(b, {"email": email}, clock, node="b")
    await a.node_heartbeat(node_row("a", heartbeat=T0))
    assert await sender.run_once() == 0  # b's first round: nothing to take
    await _a_sends(a)
    # a is killed right after its last beat. Not yet stale: its claims stay a's.
    clock.advance(limits.NODE_DEAD_AFTER)
    assert await sender.run_once() == 0
    # Stale: b's next look takes them, long before the lease is out.
    clock.advance(RECOVER_EVERY_NODE)
    assert clock.now - T0 < limits.OUTBOX_LEASE / 4
    assert await sender.run_once() == 2
    assert sorted(email.delivered) == ["begun", "not-begun"]
    assert {i.key: i.status for i in await b.outbox_items()} == {"begun": SENT, "not-begun": SENT}


async def test_a_running_node_leaves_a_live_node_s_sends_alone_until_the_lease(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    clock = Clock(T0)
    email = ScriptedNotifier("email")
    sender = OutboxSender(b, {"email": email}, clock, node="b")
    await a.node_heartbeat(node_row("a", heartbeat=T0))
    assert await sender.run_once() == 0
    await _a_sends(a)
    while clock.now + RECOVER_EVERY_NODE < T0 + limits.OUTBOX_LEASE:
        clock.advance(RECOVER_EVERY_NODE)
        await a.node_heartbeat(node_row("a", heartbeat=clock.now))  # a beats all along
        assert await sender.run_once() == 0
    assert email.calls == []
    assert {i.status for i in await b.outbox_items()} == {SENDING}
    # Past the lease, a's items are taken even though it beats (it may be stuck).
    clock.advance(RECOVER_EVERY_NODE)
    await a.node_heartbeat(node_row("a", heartbeat=clock.now))
    assert await sender.run_once() == 2
    assert sorted(email.delivered) == ["begun", "not-begun"]
