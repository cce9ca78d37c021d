"""Durable state behind one Protocol (store.base.Store); SQLite by default (store.sqlite)."""

from monitord.store.base import (
    FAILED,
    OUTBOX_STATUSES,
    PENDING,
    SENDING,
    SENT,
    IncidentRow,
    OutboxItem,
    OutboxStats,
    ResultRow,
    Store,
)
from monitord.store.sqlite import SqliteStore

__all__ = [
    "FAILED",
    "OUTBOX_STATUSES",
    "PENDING",
    "SENDING",
    "SENT",
    "IncidentRow",
    "OutboxItem",
    "OutboxStats",
    "ResultRow",
    "SqliteStore",
    "Store",
]
