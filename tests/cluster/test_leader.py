"""Leadership on a real PostgreSQL (tests/helpers/postgres.py): one leader among nodes, the
epoch it raises, a lost lock connection ending its lead at once and another node taking over,
the old leader's writes fenced, a clean resign handing over at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import structlog

from monitord.cluster.leader import Leadership
from monitord.errors import FencedError
from monitord.store import SENT
from monitord.store.postgres import PostgresStore
from tests.helpers.postgres import PgServer
from tests.store.contract.values import HOUR, T0, note, result

POLL = timedelta(seconds=0.2)
PING = timedelta(seconds=0.2)
DEADLINE_S = 10.0
"""Generous bound on every wait: the outcomes come within a few polls."""


@dataclass
class Node:
    name: str
    leadership: Leadership
    elected: list[int] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


def make_node(url: str, name: str) -> Node:
    node: Node

    async def on_elected(epoch: int) -> None:
        node.elected.append(epoch)
        node.changed.set()

    async def on_lost(reason: str) -> None:
        node.lost.append(reason)
        node.changed.set()

    node = Node(
        name,
        Leadership(url, name, on_elected=on_elected, on_lost=on_lost, poll=POLL, ping=PING),
    )
    return node


async def until(check: Callable[[], bool], nodes: list[Node], within: float = DEADLINE_S) -> None:
    """Wait for ``check()`` to hold, woken by the nodes' callbacks, with a deadline."""

    async def wait() -> None:
        while not check():
            for n in nodes:
                n.changed.clear()
            if check():
                return
            waits = [asyncio.create_task(n.changed.wait()) for n in nodes]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    await asyncio.wait_for(wait(), within)


@pytest.fixture
async def nodes(postgres_url: str) -> AsyncIterator[list[Node]]:
    # The cluster's tables exist once a store has opened the database.
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    made = [make_node(postgres_url, "lon-1"), make_node(postgres_url, "ams-1")]
    for n in made:
        n.task = asyncio.create_task(n.leadership.run())
    yield made
    for n in made:
        assert n.task is not None
        n.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await n.task
        assert n.task.cancelled() or n.task.exception() is None  # run() raises nothing else


def one_leader(nodes: list[Node]) -> bool:
    return sum(n.leadership.leader for n in nodes) == 1


async def test_one_of_two_nodes_is_elected_with_epoch_one(nodes: list[Node]) -> None:
    await until(lambda: one_leader(nodes), nodes)
    (leader,) = [n for n in nodes if n.leadership.leader]
    (follower,) = [n for n in nodes if not n.leadership.leader]
    assert leader.elected == [1] and leader.leadership.epoch == 1
    # Several polls later nothing has changed.
    for _ in range(3):
        await asyncio.sleep(POLL.total_seconds())  # polls must pass: nothing to await here
    assert follower.elected == [] and follower.leadership.epoch is None
    assert leader.lost == [] and leader.elected == [1]


async def test_a_lost_lock_connection_ends_the_lead_and_the_other_takes_over_fenced(
    nodes: list[Node], postgres_server: PgServer, postgres_url: str
) -> None:
    await until(lambda: one_leader(nodes), nodes)
    (old,) = [n for n in nodes if n.leadership.leader]
    (new,) = [n for n in nodes if not n.leadership.leader]

    store = PostgresStore(postgres_url, flush_interval=HOUR)
    await store.open()
    try:
        store.fencing, store.fence_epoch = True, 1
        await store.enqueue([note("claimed")], T0)
        (claimed,) = await store.claim_due(T0, 10, f"{old.name}/r")

        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        postgres_server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = 'monitord leader {old.name}'"
        )
        await until(lambda: bool(old.lost), nodes, within=2 * PING.total_seconds() + 1)
        assert loop.time() - killed_at <= 2 * PING.total_seconds() + 0.5
        assert not old.leadership.leader and old.leadership.epoch is None
        await until(lambda: new.leadership.leader, nodes, within=10 * POLL.total_seconds())
        assert new.elected == [2] and new.leadership.epoch == 2
        assert old.elected == [1]  # the old leader did not take it back

        # The old leader's store is fenced out of leader-only writes; deliveries go on.
        with pytest.raises(FencedError):
            await store.write("k", {}, result("k", 1), [note("down")], now=T0)
        with pytest.raises(FencedError):
            await store.enqueue([note("later")], T0)
        await store.mark_sent(claimed.id, T0, None)
        assert [(i.key, i.status) for i in await store.outbox_items()] == [("claimed", SENT)]
        leader = await store.leader()
        assert leader is not None and (leader.node, leader.epoch) == (new.name, 2)
    finally:
        await store.close()


async def test_resign_hands_over_at_once(nodes: list[Node]) -> None:
    await until(lambda: one_leader(nodes), nodes)
    (old,) = [n for n in nodes if n.leadership.leader]
    (new,) = [n for n in nodes if not n.leadership.leader]
    await old.leadership.resign()
    assert not old.leadership.leader
    await until(lambda: new.leadership.leader, nodes, within=3 * POLL.total_seconds() + 1)
    assert new.elected == [2]
    assert old.lost == []  # a clean stop is not a loss
    assert old.task is not None
    await asyncio.wait_for(old.task, DEADLINE_S)  # run() returns after resign


async def test_an_unreachable_database_is_logged_and_retried(postgres_server: PgServer) -> None:
    # A database that does not exist: every poll fails to connect; run() goes on.
    url = postgres_server.url("no_such_database")
    attempts = asyncio.Event()
    count = 0
    node = make_node(url, "lon-1")

    def seen(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        nonlocal count
        if event.get("event") == "cluster.leader_connect_failed":
            count += 1
            if count >= 2:
                attempts.set()
        return event

    with structlog.testing.capture_logs(processors=[seen]):
        task = asyncio.create_task(node.leadership.run())
        try:
            await asyncio.wait_for(attempts.wait(), DEADLINE_S)
            assert not task.done()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert not node.leadership.leader and node.elected == []


async def test_the_lock_connection_carries_keepalives_on_both_ends(postgres_url: str) -> None:
    import socket

    from monitord.cluster.leader import _lock_connection

    conn = await _lock_connection(postgres_url, "lon-1")
    try:
        shown = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in (
                "tcp_keepalives_idle",
                "tcp_keepalives_interval",
                "tcp_keepalives_count",
                "tcp_user_timeout",
                "application_name",
            )
        }
        assert shown == {
            "tcp_keepalives_idle": "5",
            "tcp_keepalives_interval": "2",
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": "10000",
            "application_name": "monitord leader lon-1",
        }
        sock = conn._transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        await conn.close()


async def test_a_stalled_leader_is_deposed_and_steps_down_when_it_wakes(
    postgres_url: str,
) -> None:
    # A leader alive to TCP but doing nothing (a stopped process: its kernel still answers
    # the keepalives, so the server keeps its session and lock): here its ping is held.
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    frozen = make_node(postgres_url, "lon-1")
    frozen.task = asyncio.create_task(frozen.leadership.run())
    await until(lambda: frozen.leadership.leader, [frozen])
    stall = timedelta(seconds=1)
    ams: Node

    async def on_elected(epoch: int) -> None:
        ams.elected.append(epoch)
        ams.changed.set()

    async def on_lost(reason: str) -> None:
        ams.lost.append(reason)

    ams = Node(
        "ams-1",
        Leadership(
            postgres_url,
            "ams-1",
            on_elected=on_elected,
            on_lost=on_lost,
            poll=POLL,
            ping=PING,
            stall=stall,
        ),
    )
    hold = frozen.leadership._lock  # what its ping takes: held, the ping never runs
    await hold.acquire()
    ams.task = asyncio.create_task(ams.leadership.run())
    try:
        # Not before the lease is older than the stall limit; then within a few polls.
        await asyncio.sleep(stall.total_seconds() / 2)  # half the limit must pass unrenewed
        assert ams.elected == []
        await until(lambda: ams.elected == [2], [ams])
        assert frozen.lost == [] and frozen.leadership.epoch == 1  # it has not noticed yet
        hold.release()  # it wakes: its lock session was ended, so it steps down at once
        await until(lambda: bool(frozen.lost), [frozen])
        assert not frozen.leadership.leader
        assert ams.leadership.leader
    finally:
        if hold.locked():
            hold.release()
        for n in (frozen, ams):
            assert n.task is not None
            n.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await n.task


async def test_a_lock_session_ended_while_the_loop_was_busy_still_ends_the_lead(
    postgres_server: PgServer, postgres_url: str
) -> None:
    # The server ends the lock's session while this node's event loop is blocked (a long
    # garbage collection, a stopped process): when the loop runs again the ping meets a
    # connection in a state asyncpg reports with its own errors. Whatever the error, the
    # node must step down and keep competing, not stop silently as leader.
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    node = make_node(postgres_url, "lon-1")
    node.task = asyncio.create_task(node.leadership.run())
    try:
        await until(lambda: node.leadership.leader, [node])
        await asyncio.sleep(PING.total_seconds() / 2)  # between two pings
        # The loop is busy (this blocking call): the session ends meanwhile, unseen.
        postgres_server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'monitord leader lon-1'",
            postgres_url.rsplit("/", 1)[1],
        )
        time.sleep(2 * PING.total_seconds())
        await until(lambda: bool(node.lost), [node])
        assert not node.task.done()  # still competing
        await until(lambda: node.elected == [1, 2], [node])  # and elected again
    finally:
        node.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await node.task
