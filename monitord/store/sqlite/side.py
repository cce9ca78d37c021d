"""Tables of their own in the state file, for a part that keeps them apart from the daemon's
store (the hours ledger, the report's uptime roll-ups): a synchronous connection in WAL mode,
one ``BEGIN IMMEDIATE`` transaction at a time, and a versioned schema of the part's own
(a ``<part>_schema_version`` table), brought up to date when the connection opens.

The daemon's own store (``SqliteStore``) runs on its thread and its migrations
(``store/migrations.py``); these parts open the same file next to it, so a command line
tool can use them while the daemon runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from monitord.errors import StoreError

SIDE_BUSY_TIMEOUT = timedelta(seconds=5)
"""How long a statement waits for the daemon's write lock: its transactions last
milliseconds, so this is only ever reached when something is wrong."""


@dataclass(frozen=True, slots=True)
class SideMigration:
    version: int
    description: str
    statements: tuple[str, ...]


class SideTables:
    """A part's own tables in the state file (see the module docstring). A subclass names
    its ``SCHEMA_TABLE``, ``WHAT`` (for messages: "the hours tables") and ``MIGRATIONS``."""

    SCHEMA_TABLE: ClassVar[str]
    WHAT: ClassVar[str]
    MIGRATIONS: ClassVar[tuple[SideMigration, ...]]

    def __init__(self, path: Path, *, check_same_thread: bool = True) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(
                path,
                timeout=SIDE_BUSY_TIMEOUT.total_seconds(),
                isolation_level=None,
                check_same_thread=check_same_thread,
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the state store {path}: {exc}; check state.path in monitord.yml "
                "and that its directory exists and is writable"
            ) from exc
        try:
            self._conn.execute(
                f"PRAGMA busy_timeout = {int(SIDE_BUSY_TIMEOUT.total_seconds() * 1000)}"
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(
                f"{path} is not a monitord state store ({exc}); check state.path in monitord.yml"
            ) from exc
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE): all of it is stored, or none."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def schema_version(self) -> int:
        (v,) = self._conn.execute(
            f"SELECT COALESCE(MAX(version), 0) FROM {self.SCHEMA_TABLE}"  # noqa: S608 (a class constant)
        ).fetchone()
        return int(v)

    def _migrate(self) -> None:
        latest = self.MIGRATIONS[-1].version
        with self.transaction() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.SCHEMA_TABLE} ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            (version,) = conn.execute(
                f"SELECT COALESCE(MAX(version), 0) FROM {self.SCHEMA_TABLE}"  # noqa: S608
            ).fetchone()
            if version > latest:
                raise StoreError(
                    f"{self.WHAT} in {self.path} have schema version {version}, but this "
                    f"monitord only knows versions up to {latest}: upgrade monitord"
                )
            applied = datetime.now(UTC).isoformat()
            for m in self.MIGRATIONS:
                if m.version <= version:
                    continue
                for stmt in m.statements:
                    conn.execute(stmt)
                conn.execute(
                    f"INSERT INTO {self.SCHEMA_TABLE} (version, description, applied_at) "  # noqa: S608
                    "VALUES (?, ?, ?)",
                    (m.version, m.description, applied),
                )
