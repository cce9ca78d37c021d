"""The PostgreSQL store: the same Protocols and semantics as store.sqlite, on asyncpg.

Split by concern as store.sqlite is, composed here into one class: ``base`` (the connection,
open/close and the node lock, fencing, the batched write path, meta), ``checks`` (states,
results, incidents), ``outbox``, ``security``, ``tickets``, ``retention``, ``cluster`` (nodes,
the leader, node results; the leader lock's statements); ``codec`` holds the stored forms.
"""

from __future__ import annotations

from monitord.store.postgres.base import (
    DAEMON_LOCK_KEY,
    NODE_LOCK_CLASS,
    PG_CONNECT_TIMEOUT,
    PG_STATEMENT_TIMEOUT,
    SCHEMES,
    PostgresBase,
    node_lock_holders,
    pg_connect,
    postgres_holder,
)
from monitord.store.postgres.checks import ChecksMixin
from monitord.store.postgres.cluster import LEADER_LOCK_KEY, ClusterMixin
from monitord.store.postgres.outbox import OutboxMixin
from monitord.store.postgres.retention import RetentionMixin
from monitord.store.postgres.security import SecurityMixin
from monitord.store.postgres.tickets import TicketsMixin

__all__ = [
    "DAEMON_LOCK_KEY",
    "LEADER_LOCK_KEY",
    "NODE_LOCK_CLASS",
    "PG_CONNECT_TIMEOUT",
    "PG_STATEMENT_TIMEOUT",
    "SCHEMES",
    "PostgresBase",
    "PostgresStore",
    "node_lock_holders",
    "pg_connect",
    "postgres_holder",
]


class PostgresStore(
    ChecksMixin, OutboxMixin, SecurityMixin, TicketsMixin, RetentionMixin, ClusterMixin
):
    """The store (store.base: Store, SecurityStore, TicketStore, ClusterStore) in a
    PostgreSQL database."""
