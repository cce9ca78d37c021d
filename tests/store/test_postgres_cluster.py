"""The cluster's tables on a real PostgreSQL (tests/helpers/postgres.py): node heartbeats,
the leader row, node results and their change counter, fencing of the leader-only writes,
and the outbox's recovery across nodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from monitord import limits
from monitord.errors import FencedError
from monitord.store import SENDING, SENT
from monitord.store.base import SecurityChanges
from monitord.store.nodes import ClusterStore, NodeResultRow, NodeRow
from monitord.store.postgres import PostgresStore
from monitord.store.postgres.cluster import take_leader_lock
from tests.store.contract.values import HOUR, MINUTE, T0, note, result


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(postgres_url, flush_interval=HOUR)
    await s.open()
    yield s
    await s.close()


async def elect(url: str, node: str) -> int:
    """An election as Leadership makes it (the lock is let go with the connection)."""
    conn = await asyncpg.connect(url)
    try:
        epoch = await take_leader_lock(conn, node)
        assert epoch is not None
        return epoch
    finally:
        await conn.close()


async def peek(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def node_row(id_: str, heartbeat: Any = T0) -> NodeRow:
    return NodeRow(
        id=id_,
        host=f"{id_}.example.net",
        pid=42,
        started=T0 - HOUR,
        heartbeat=heartbeat,
        run_id=f"{id_}/abc",
        source_address=None,
        version="0.1.0",
    )


def nr(key: str, node: str, ok: bool = True, at: Any = T0) -> NodeResultRow:
    return NodeResultRow(
        key=key,
        node=node,
        ok=ok,
        status="up" if ok else "down",
        failures=0 if ok else 3,
        successes=2 if ok else 0,
        message="HTTP 200" if ok else "HTTP 503",
        at=at,
    )


def test_the_postgres_store_is_a_cluster_store() -> None:
    store: ClusterStore = PostgresStore("postgresql://u@127.0.0.1/db")  # mypy checks the shape
    assert (store.fencing, store.fence_epoch) == (False, None)


# -- nodes and the leader -----------------------------------------------------------------------


async def test_heartbeats_upsert_one_row_per_node(store: PostgresStore) -> None:
    await store.node_heartbeat(node_row("lon-1"))
    await store.node_heartbeat(node_row("ams-1"))
    later = node_row("lon-1", heartbeat=T0 + MINUTE)
    await store.node_heartbeat(later)
    assert await store.nodes() == [node_row("ams-1"), later]


async def test_the_leader_is_none_until_an_election_then_the_latest(
    store: PostgresStore, postgres_url: str
) -> None:
    assert await peek(postgres_url, "SELECT id, epoch, node FROM cluster_leader") == [(1, 0, None)]
    assert await store.leader() is None
    assert await elect(postgres_url, "lon-1") == 1
    assert await elect(postgres_url, "ams-1") == 2
    leader = await store.leader()
    assert leader is not None and (leader.node, leader.epoch) == ("ams-1", 2)
    assert leader.since.tzinfo is not None


# -- node results -------------------------------------------------------------------------------


async def test_node_results_are_read_by_key_changed_since_a_seq(store: PostgresStore) -> None:
    assert await store.node_results_since(0) == ([], 0)
    await store.write_node_results([nr("a", "lon-1"), nr("a", "ams-1"), nr("b", "lon-1")])
    rows, top = await store.node_results_since(0)
    assert [(r.key, r.node) for r in rows] == [("a", "ams-1"), ("a", "lon-1"), ("b", "lon-1")]
    assert top == max(r.seq for r in rows) and len({r.seq for r in rows}) == 3
    assert await store.node_results_since(top) == ([], top)

    # One node's change to "a" brings back every node's row of "a", and only of "a".
    await store.write_node_results([nr("a", "lon-1", ok=False, at=T0 + MINUTE)])
    rows, top2 = await store.node_results_since(top)
    assert top2 > top
    assert [(r.key, r.node, r.status) for r in rows] == [
        ("a", "ams-1", "up"),
        ("a", "lon-1", "down"),
    ]
    changed = next(r for r in rows if r.node == "lon-1")
    assert (changed.failures, changed.message, changed.at) == (3, "HTTP 503", T0 + MINUTE)
    assert changed.seq == top2

    mine = await store.load_node_results("lon-1")
    assert sorted(mine) == ["a", "b"]
    assert mine["a"].status == "down" and mine["b"].status == "up"
    assert await store.load_node_results("fra-1") == {}


# -- fencing ------------------------------------------------------------------------------------


async def test_leader_only_writes_are_fenced_by_the_epoch(
    store: PostgresStore, postgres_url: str
) -> None:
    await store.enqueue([note("claimed")], T0)
    (claimed,) = await store.claim_due(T0, 10, "lon-1/r")
    store.fencing = True
    assert store.fence_epoch is None
    with pytest.raises(FencedError, match="no longer the leader"):
        await store.set_meta("k", "v")  # not elected at all

    store.fence_epoch = await elect(postgres_url, "lon-1")
    await store.write("k", {"s": 1}, result("k", 1), [note("down")], now=T0)
    await store.save_security(SecurityChanges(), T0)
    await store.set_meta("k", "1")

    await elect(postgres_url, "ams-1")  # another node is elected: epoch 2
    with pytest.raises(FencedError) as err:
        await store.write("k", {"s": 2}, result("k", 2), [note("up")], now=T0 + MINUTE)
    assert (err.value.mine, err.value.current) == (1, 2)
    assert "nothing is lost" in str(err.value).lower()
    with pytest.raises(FencedError):
        await store.enqueue([note("later")], T0)
    with pytest.raises(FencedError):
        await store.set_meta("k", "2")
    with pytest.raises(FencedError):
        await store.remind_local_tickets({1: [note("remind")]}, T0)
    assert await store.get_meta("k") == "1"
    assert sorted(i.key for i in await store.outbox_items()) == ["claimed", "down"]

    # The delivery bookkeeping, heartbeats, node results and a node's own records (a beat
    # received, the readiness probe) are never fenced.
    await store.set_meta("heartbeat:k", "beat", leader_only=False)
    assert await store.get_meta("heartbeat:k") == "beat"
    assert await store.add_meta("token:k", "t1") == "t1"
    await store.mark_sent(claimed.id, T0, "ext-1")
    await store.node_heartbeat(node_row("lon-1"))
    await store.write_node_results([nr("k", "lon-1")])
    (sent,) = [i for i in await store.outbox_items() if i.key == "claimed"]
    assert sent.status == SENT


async def test_a_fenced_flush_drops_its_batch_and_drop_pending_forgets(
    store: PostgresStore, postgres_url: str
) -> None:
    store.fencing = True
    store.fence_epoch = await elect(postgres_url, "lon-1")
    await store.write("a", {"v": 1}, result("a", 1), now=T0)  # batched
    await elect(postgres_url, "ams-1")
    with pytest.raises(FencedError):
        await store.flush()
    # Re-elected later with a new epoch: the fenced batch is not written then.
    store.fence_epoch = await elect(postgres_url, "lon-1")
    await store.flush()
    assert await store.load_states() == {}

    await store.write("b", {"v": 1}, result("b", 1), now=T0)
    store.drop_pending()
    await store.flush()
    assert await store.load_states() == {}
    await store.write("c", {"v": 1}, result("c", 1), now=T0)
    await store.flush()
    assert list(await store.load_states()) == ["c"]


async def test_without_fencing_the_epoch_is_not_read(
    store: PostgresStore, postgres_url: str
) -> None:
    await elect(postgres_url, "ams-1")
    await store.write("k", {}, None, [note("n")], now=T0)  # SQLite mode, a CLI, a test
    assert [i.key for i in await store.outbox_items()] == ["n"]


# -- the outbox across nodes --------------------------------------------------------------------


async def test_recover_takes_a_live_node_s_claims_only_after_its_heartbeat_is_stale(
    postgres_url: str,
) -> None:
    async with (
        _opened(postgres_url, node="a") as a,
        _opened(postgres_url, node="b") as b,
    ):
        await a.enqueue([note("begun"), note("not-begun")], T0)
        claimed = {i.key: i for i in await a.claim_due(T0, 10, "a/1")}
        await a.mark_attempt([claimed["begun"].id], T0, "a/1")
        await a.node_heartbeat(node_row("a", heartbeat=T0))

        # B starts while A is alive: A's claims in flight stay A's.
        now = T0 + limits.NODE_DEAD_AFTER
        assert await b.recover("b/1", now, now) == []
        assert {i.key: i.status for i in await b.outbox_items()} == {
            "begun": SENDING,
            "not-begun": SENDING,
        }
        # A's own next run (A restarted) takes them at once.
        assert [i.key for i in await a.recover("a/2", now, now)] == ["begun"]
        await a.mark_sent(claimed["begun"].id, now, None)
        await a.enqueue([note("again")], now)
        mine = {i.key: i for i in await a.claim_due(now, 10, "a/2")}
        assert sorted(mine) == ["again", "not-begun"]
        await a.mark_attempt([mine["again"].id], now, "a/2")

        # A's heartbeat goes stale (three missed): B takes A's claims at once.
        await a.node_heartbeat(node_row("a", heartbeat=now))
        later = now + limits.NODE_DEAD_AFTER
        assert await b.recover("b/1", later, later) == []  # exactly NODE_DEAD_AFTER: alive
        later += timedelta(seconds=1)
        recovered = await b.recover("b/1", later, later)
        assert [(i.key, i.uncertain) for i in recovered] == [("again", True)]
        pending = [i.key for i in await b.claim_due(later, 10, "b/1")]
        assert pending == ["not-begun"]


async def test_recover_takes_a_live_node_s_claims_after_the_lease(postgres_url: str) -> None:
    async with _opened(postgres_url, node="b") as b:
        await b.enqueue([note("n")], T0)
        (item,) = await b.claim_due(T0, 10, "a/1")
        await b.mark_attempt([item.id], T0, "a/1")
        now = T0 + limits.OUTBOX_LEASE - MINUTE
        await b.node_heartbeat(node_row("a", heartbeat=now))  # alive all along
        assert await b.recover("b/1", now, now) == []
        now = T0 + limits.OUTBOX_LEASE
        await b.node_heartbeat(node_row("a", heartbeat=now))
        # The running sender's periodic sweep: claims older than the lease.
        (taken,) = await b.recover("b/1", now, now - limits.OUTBOX_LEASE)
        assert (taken.key, taken.uncertain) == ("n", True)


async def test_a_run_of_an_unknown_node_is_waited_for_like_a_live_one(
    postgres_url: str,
) -> None:
    # No heartbeat row (a node that died before its first): the lease decides.
    async with _opened(postgres_url, node="b") as b:
        await b.enqueue([note("n")], T0)
        await b.claim_due(T0, 10, "c/1")
        assert await b.recover("b/1", T0 + MINUTE, T0 + MINUTE) == []
        assert len(await b.claim_due(T0 + limits.OUTBOX_LEASE, 10, "b/1")) == 0
        later = T0 + limits.OUTBOX_LEASE
        assert await b.recover("b/1", later, later) == []  # not begun: pending again
        assert [i.key for i in await b.claim_due(later, 10, "b/1")] == ["n"]


def _opened(url: str, **kwargs: Any) -> Any:
    from tests.helpers.postgres import open_postgres_store

    return open_postgres_store(url, exclusive=True, flush_interval=HOUR, **kwargs)


async def test_a_killed_node_s_claims_are_taken_once_its_lock_is_gone_and_a_beat_missed(
    postgres_url: str,
) -> None:
    # A holds its node lock (an exclusive store: a running daemon) and claims; B sweeps.
    async with _opened(postgres_url, node="b") as b:
        a = PostgresStore(postgres_url, exclusive=True, node="a", flush_interval=HOUR)
        await a.open()
        await a.enqueue([note("begun")], T0)
        (item,) = await a.claim_due(T0, 10, "a/1")
        await a.mark_attempt([item.id], T0, "a/1")
        await a.node_heartbeat(node_row("a", heartbeat=T0))
        missed = T0 + limits.NODE_HEARTBEAT + timedelta(seconds=1)
        # Alive (its lock held) with a late heartbeat: its claim stays its own.
        assert await b.recover("b/1", missed, missed) == []
        # A dies (kill -9: its sessions end, the lock goes with them).
        await a.close()
        # Within one heartbeat of its last, it may only be reconnecting: not yet taken.
        early = T0 + limits.NODE_HEARTBEAT
        assert await b.recover("b/1", early, early) == []
        (taken,) = await b.recover("b/1", missed, missed)
        assert (taken.key, taken.uncertain) == ("begun", True)
        assert missed - T0 < limits.NODE_DEAD_AFTER  # sooner than three missed heartbeats


async def test_a_retired_node_is_forgotten_only_once_it_has_stopped(
    postgres_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitord.cli import main
    from tests.daemon.test_daemon_postgres import on_postgres
    from tests.helpers.daemon import agency_yaml

    cfg = tmp_path / "cfg"
    (cfg / "clients").mkdir(parents=True)
    (cfg / "monitord.yml").write_text(agency_yaml(cfg))
    on_postgres(cfg, postgres_url)
    (cfg / "clients" / "acme.yml").write_text("client: acme\nname: ACME\ncontacts: []\nsites: []\n")
    old = PostgresStore(postgres_url, exclusive=True, node="old-1", flush_interval=HOUR)
    await old.open()
    try:
        await old.node_heartbeat(node_row("old-1"))
        await old.write_node_results([nr("k1", "old-1"), nr("k2", "old-1")])
        await old.write_node_results([nr("k1", "lon-1")])
        # Running: refused, nothing removed.
        assert (
            await asyncio.to_thread(main, ["state", "forget-node", "old-1", "--config", str(cfg)])
            == 1
        )
        assert "node 'old-1' is running" in capsys.readouterr().err
        assert [n.id for n in await old.nodes()] == ["old-1"]
    finally:
        await old.close()
    # Stopped: its heartbeat and results go; another node's stay.
    assert (
        await asyncio.to_thread(main, ["state", "forget-node", "old-1", "--config", str(cfg)]) == 0
    )
    assert "forgot node old-1: its heartbeat and 2 check results" in capsys.readouterr().out
    async with _opened(postgres_url, node="lon-1") as store:
        assert await store.nodes() == []
        rows, _ = await store.node_results_since(0)
        assert [(r.key, r.node) for r in rows] == [("k1", "lon-1")]
    assert (
        await asyncio.to_thread(main, ["state", "forget-node", "old-1", "--config", str(cfg)]) == 1
    )
    assert "no node 'old-1'" in capsys.readouterr().err
