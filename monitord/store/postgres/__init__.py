"""The PostgreSQL store (see base)."""

from __future__ import annotations

from monitord.store.postgres.base import (
    DAEMON_LOCK_KEY,
    PostgresStore,
    pg_connect,
    postgres_holder,
)

__all__ = ["DAEMON_LOCK_KEY", "PostgresStore", "pg_connect", "postgres_holder"]
