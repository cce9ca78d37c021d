"""The store's rows and Protocol for several nodes on one PostgreSQL store (monitord.cluster):
node heartbeats, the leader, each node's view of each check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

NodeStatus = Literal["unknown", "up", "down"]


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One daemon of a cluster as its heartbeat (every limits.NODE_HEARTBEAT) records it."""

    id: str
    host: str
    pid: int
    started: datetime
    heartbeat: datetime
    run_id: str
    source_address: str | None
    version: str


@dataclass(frozen=True, slots=True)
class LeaderRow:
    """Who leads the cluster (table cluster_leader, one row) and since when."""

    node: str
    epoch: int
    """+1 at each election: the fencing token of the leader's writes."""
    since: datetime


@dataclass(frozen=True, slots=True)
class NodeResultRow:
    """One node's folded view of one check (table node_result): its own streak."""

    key: str
    node: str
    ok: bool
    status: NodeStatus
    """The node's verdict after the site's thresholds."""
    failures: int
    successes: int
    """Consecutive failed (good) results so far."""
    message: str
    at: datetime
    seq: int = 0
    """The row's change counter (set by the store, ignored when writing)."""


class ClusterStore(Protocol):
    """The cluster's tables (PostgreSQL only). Heartbeats and node results are never fenced;
    the other Protocols' leader-only writes are, while ``fencing`` is on."""

    fence_epoch: int | None
    """The epoch this node was elected with (None: not the leader)."""
    fencing: bool
    """Whether leader-only writes check the epoch is ``fence_epoch`` (else FencedError)."""

    def drop_pending(self) -> None:
        """Forget the batched writes not yet committed (a node stepping down)."""

    async def node_heartbeat(self, node: NodeRow) -> None:
        """Record ``node`` (insert or replace its row by id)."""

    async def nodes(self) -> list[NodeRow]:
        """Every node that ever heartbeat, by id."""

    async def leader(self) -> LeaderRow | None:
        """The current leader; None before the first election."""

    async def write_node_results(self, rows: Sequence[NodeResultRow]) -> None:
        """Upsert ``rows`` by key and node in one transaction, each with a new seq."""

    async def node_results_since(self, seq: int) -> tuple[list[NodeResultRow], int]:
        """All rows of each key with a row changed after ``seq``; the highest seq seen."""

    async def stored_states(self) -> dict[str, str]:
        """Every stored check and site state as its stored text, by key (a follower compares
        them with what it read before and parses only the ones that changed)."""

    async def load_node_results(self, node: str) -> dict[str, NodeResultRow]:
        """One node's rows, by check key."""

    async def forget_node(self, node: str) -> int:
        """Remove a retired node's heartbeat row and results (the count removed); a
        StoreError while a daemon runs as that node, or when there is no such node."""
