"""Durable state behind one Protocol (store.base.Store); SQLite by default (store.sqlite).

``SqliteStore`` is imported on first use, so that the Protocols and row values of
``monitord.store.base`` (which the pure core reads) do not bring sqlite3 and asyncio with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name == "SqliteStore":
        return importlib.import_module("monitord.store.sqlite").SqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
