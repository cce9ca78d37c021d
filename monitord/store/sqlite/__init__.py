"""The SQLite store: one file, WAL mode, every statement on one dedicated thread.

Split by concern, composed here into one class: ``base`` (the connection, its thread,
open/close, the batched write path, meta), ``checks`` (states, results, incidents), ``outbox``,
``security``, ``tickets``, ``retention``; ``codec`` holds the stored forms and ``reader`` a
read-only view of a store file for another process (``monitord status``).
"""

from __future__ import annotations

from monitord.store.sqlite.base import STORE_BUSY_TIMEOUT, SqliteBase
from monitord.store.sqlite.checks import ChecksMixin
from monitord.store.sqlite.codec import (
    from_iso,
    notification_from_json,
    notification_to_json,
    to_iso,
)
from monitord.store.sqlite.outbox import OutboxMixin
from monitord.store.sqlite.retention import PRUNE_BATCH, PRUNED_META_PREFIX, RetentionMixin
from monitord.store.sqlite.security import SecurityMixin
from monitord.store.sqlite.tickets import TicketsMixin

__all__ = [
    "PRUNED_META_PREFIX",
    "PRUNE_BATCH",
    "STORE_BUSY_TIMEOUT",
    "SqliteBase",
    "SqliteStore",
    "from_iso",
    "notification_from_json",
    "notification_to_json",
    "to_iso",
]


class SqliteStore(ChecksMixin, OutboxMixin, SecurityMixin, TicketsMixin, RetentionMixin):
    """The default store (store.base.Store, SecurityStore, TicketStore) in one SQLite file.

    ``batch_size`` and ``flush_interval`` default to limits.STORE_BATCH_SIZE and
    limits.STORE_FLUSH_INTERVAL; tests and benchmarks may pass others.
    """
