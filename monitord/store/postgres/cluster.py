"""Several nodes on one database: node heartbeats, the leader row, each node's view of each
check (store.base.ClusterStore), and the statements of the leader lock (monitord.cluster.leader
runs them on its own connection, so no SQL lives outside the store).

Heartbeats and node results are written by every node and never fenced: a follower's view
of a check is as much the cluster's input as the leader's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta

import asyncpg

from monitord.errors import StoreError
from monitord.store.nodes import LeaderRow, NodeResultRow, NodeRow
from monitord.store.postgres.base import _NODE_LOCK_HOLDER, NODE_LOCK_CLASS, PostgresBase
from monitord.store.postgres.codec import _utc

LEADER_LOCK_KEY = 0x6D6F6E69_746F7204
"""pg_try_advisory_lock key of the cluster's leader ('monitor' + 4): held by the leader on its
own connection for as long as it leads."""

NODE_RESULT_LOCK_KEY = 0x6D6F6E69_746F7205
"""pg_advisory_xact_lock key every node_result write holds until it commits ('monitor' + 5): so
the seqs are committed in the order they were taken, and a reader that saw seq N has seen
every row below it (without it, a slower writer's lower seq could commit after a reader moved
past it, and that change would never be read). A batch commits in milliseconds."""

_UPSERT_NODE = (
    "INSERT INTO cluster_node (id, host, pid, started, heartbeat, run_id, source_address, "
    "version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
    "started = excluded.started, heartbeat = excluded.heartbeat, run_id = excluded.run_id, "
    "source_address = excluded.source_address, version = excluded.version"
)
_SELECT_NODES = (
    "SELECT id, host, pid, started, heartbeat, run_id, source_address, version "
    "FROM cluster_node ORDER BY id"
)
_SELECT_LEADER = "SELECT node, epoch, since FROM cluster_leader WHERE id = 1"
_UPSERT_NODE_RESULT = (
    "INSERT INTO node_result (key, node, ok, status, failures, successes, message, at, seq) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nextval('node_result_seq')) "
    "ON CONFLICT (key, node) DO UPDATE SET ok = excluded.ok, status = excluded.status, "
    "failures = excluded.failures, successes = excluded.successes, "
    "message = excluded.message, at = excluded.at, seq = nextval('node_result_seq')"
)
_NODE_RESULT_COLUMNS = "key, node, ok, status, failures, successes, message, at, seq"
_SELECT_CHANGED = (
    f"SELECT {_NODE_RESULT_COLUMNS} FROM node_result "  # noqa: S608 (fixed column names)
    "WHERE key IN (SELECT key FROM node_result WHERE seq > $1) ORDER BY key, node"
)
_SELECT_NODE_RESULTS = f"SELECT {_NODE_RESULT_COLUMNS} FROM node_result WHERE node = $1"  # noqa: S608
_ELECT = (
    "UPDATE cluster_leader SET epoch = epoch + 1, node = $1, since = now(), renewed = now() "
    "WHERE id = 1 RETURNING epoch"
)
_SELECT_STATES = "SELECT key, state FROM check_state"
_RENEW = "UPDATE cluster_leader SET renewed = now() WHERE id = 1 AND epoch = $1"
# The holder of the leader lock when the lease has not been renewed for $2 (the database's
# clock on both sides, so the nodes' clocks do not matter).
_STALLED = (
    "SELECT l.pid, c.node, EXTRACT(EPOCH FROM now() - c.renewed)::float8 AS silent "
    "FROM cluster_leader c JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted "
    "  AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 "
    "  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "WHERE c.id = 1 AND c.renewed < now() - $2::interval"
)


def _node_result(r: asyncpg.Record) -> NodeResultRow:
    return NodeResultRow(
        key=r["key"],
        node=r["node"],
        ok=r["ok"],
        status=r["status"],
        failures=r["failures"],
        successes=r["successes"],
        message=r["message"],
        at=r["at"].astimezone(UTC),
        seq=int(r["seq"]),
    )


class ClusterMixin(PostgresBase):
    async def node_heartbeat(self, node: NodeRow) -> None:
        args = (
            node.id,
            node.host,
            node.pid,
            _utc(node.started),
            _utc(node.heartbeat),
            node.run_id,
            node.source_address,
            node.version,
        )
        await self._exec("record this node's heartbeat", _UPSERT_NODE, *args)

    async def nodes(self) -> list[NodeRow]:
        async def run(conn: asyncpg.Connection) -> list[NodeRow]:
            return [
                NodeRow(
                    id=r["id"],
                    host=r["host"],
                    pid=r["pid"],
                    started=r["started"].astimezone(UTC),
                    heartbeat=r["heartbeat"].astimezone(UTC),
                    run_id=r["run_id"],
                    source_address=r["source_address"],
                    version=r["version"],
                )
                for r in await conn.fetch(_SELECT_NODES)
            ]

        return await self._do("read the cluster's nodes", run, tx=False)

    async def leader(self) -> LeaderRow | None:
        async def run(conn: asyncpg.Connection) -> LeaderRow | None:
            r = await conn.fetchrow(_SELECT_LEADER)
            if r is None or not r["epoch"] or r["node"] is None:
                return None
            return LeaderRow(
                node=r["node"], epoch=int(r["epoch"]), since=r["since"].astimezone(UTC)
            )

        return await self._do("read the cluster's leader", run, tx=False)

    async def write_node_results(self, rows: Sequence[NodeResultRow]) -> None:
        if not rows:
            return
        args = [
            (r.key, r.node, r.ok, r.status, r.failures, r.successes, r.message, _utc(r.at))
            for r in rows
        ]

        async def run(conn: asyncpg.Connection) -> None:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", NODE_RESULT_LOCK_KEY)
            await conn.executemany(_UPSERT_NODE_RESULT, args)

        await self._do("save this node's results", run)

    async def node_results_since(self, seq: int) -> tuple[list[NodeResultRow], int]:
        async def run(conn: asyncpg.Connection) -> tuple[list[NodeResultRow], int]:
            rows = [_node_result(r) for r in await conn.fetch(_SELECT_CHANGED, seq)]
            return rows, max([seq, *(r.seq for r in rows)])

        # One statement, one snapshot: the rows and the highest seq agree.
        return await self._do("read the nodes' results", run, tx=False)

    async def stored_states(self) -> dict[str, str]:
        async def run(conn: asyncpg.Connection) -> dict[str, str]:
            return {r["key"]: r["state"] for r in await conn.fetch(_SELECT_STATES)}

        return await self._do("read the decided states", run, tx=False)

    async def load_node_results(self, node: str) -> dict[str, NodeResultRow]:
        async def run(conn: asyncpg.Connection) -> dict[str, NodeResultRow]:
            return {r["key"]: _node_result(r) for r in await conn.fetch(_SELECT_NODE_RESULTS, node)}

        return await self._do("read this node's results", run, tx=False)

    async def forget_node(self, node: str) -> int:
        """Remove a retired node: its heartbeat row and its results. Refused (StoreError)
        while a daemon holds that node's lock. Returns the results removed."""

        async def run(conn: asyncpg.Connection) -> int:
            held = await conn.fetchval(_NODE_LOCK_HOLDER, NODE_LOCK_CLASS, node)
            if held is not None:
                raise StoreError(
                    f"node {node!r} is running ({held}); stop it first "
                    "(systemctl stop monitord on its host), then forget it"
                )
            known = await conn.fetchval("SELECT count(*) FROM cluster_node WHERE id = $1", node)
            if not known:
                raise StoreError(
                    f"no node {node!r} on this database; `monitord status` lists the nodes"
                )
            removed = await conn.execute("DELETE FROM node_result WHERE node = $1", node)
            await conn.execute("DELETE FROM cluster_node WHERE id = $1", node)
            return int(removed.split()[-1])

        return await self._do("forget a node", run)


# -- the leader lock (monitord.cluster.leader, on its own connection) ---------------------------


async def take_leader_lock(conn: asyncpg.Connection, node: str) -> int | None:
    """Try the leader lock on ``conn``; when taken, record ``node`` as the leader with the
    next epoch and return it (None when another node leads)."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK_KEY):
        return None
    epoch = await conn.fetchval(_ELECT, node)
    return int(epoch)


async def release_leader_lock(conn: asyncpg.Connection) -> None:
    """Let go of the leader lock held on ``conn`` (a clean step down)."""
    await conn.fetchval("SELECT pg_advisory_unlock($1)", LEADER_LOCK_KEY)


async def depose_stalled_leader(conn: asyncpg.Connection, stall: timedelta) -> str | None:
    """End the lock session of a leader that has not renewed its lease for ``stall``
    (limits.LEADER_STALL): the lock is free at the next try. Returns who was deposed and how
    long it had been silent, or None when the leader is alive (or there is none)."""
    row = await conn.fetchrow(_STALLED, LEADER_LOCK_KEY, stall)
    if row is None:
        return None
    await conn.fetchval("SELECT pg_terminate_backend($1)", row["pid"])
    return f"{row['node']} (no renewal for {row['silent']:.0f} s)"


async def ping_leader_lock(
    conn: asyncpg.Connection, within: timedelta, epoch: int | None = None
) -> None:
    """Raise unless ``conn`` still holds the leader lock, answered ``within`` that long; with
    ``epoch``, renew the leader's lease too (raise when another epoch leads)."""
    held = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = pg_backend_pid() AND objsubid = 1 "
        "AND ((classid::bigint << 32) | objid::bigint) = $1)",
        LEADER_LOCK_KEY,
        timeout=within.total_seconds(),
    )
    if not held:
        raise LookupError("this connection no longer holds the leader lock")
    if epoch is not None:
        status = await conn.execute(_RENEW, epoch, timeout=within.total_seconds())
        if status != "UPDATE 1":
            raise LookupError(f"epoch {epoch} no longer leads the cluster")
