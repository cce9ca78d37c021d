"""Uptime history and sent reports, in the daemon's SQLite file (``state.path``).

The tables are this package's own, created by its own versioned migrations (recorded in
``report_schema_version``), so they never collide with the daemon's or the hours' schemas:

* ``uptime_hour``: per check and UTC hour, seconds up, down and in maintenance, and probes;
  kept :data:`ROLLUP_RETENTION` (13 months: a year's report and the month before);
* ``uptime_result``: the raw results, kept ``state.retention.results`` (a few days);
* ``report_sent``: one row per (client, month, recipient) once the report went out, so it
  is never sent twice, across restarts too.

Synchronous (sqlite3, write-ahead log, short transactions): commands call it directly, the
daemon on a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitord.errors import StoreError
from monitord.report.rollup import Slice

BUSY_TIMEOUT = timedelta(seconds=5)
"""How long a write waits for the daemon's write lock: transactions last milliseconds."""

ROLLUP_RETENTION = timedelta(days=397)
"""Thirteen months of hourly roll-ups: the month reported, the year before it, and a margin."""

PRUNE_BATCH = 5_000
"""Rows deleted per transaction when pruning, so the daemon's writes never wait long."""


@dataclass(frozen=True, slots=True)
class RawResult:
    key: str
    at: datetime
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "hourly uptime roll-ups, raw results, reports sent",
        (
            # Hours as epoch seconds and WITHOUT ROWID: 13 months × 10,000 checks is ~95
            # million rows, so every byte per row counts (docs/benchmarks.md).
            """CREATE TABLE uptime_hour (
                key TEXT NOT NULL,
                hour INTEGER NOT NULL,
                up REAL NOT NULL,
                down REAL NOT NULL,
                maintenance REAL NOT NULL,
                probes INTEGER NOT NULL,
                PRIMARY KEY (key, hour)
            ) WITHOUT ROWID""",
            "CREATE INDEX uptime_hour_hour ON uptime_hour (hour)",
            """CREATE TABLE uptime_result (
                key TEXT NOT NULL,
                at INTEGER NOT NULL,
                ok INTEGER NOT NULL,
                message TEXT NOT NULL
            )""",
            "CREATE INDEX uptime_result_at ON uptime_result (at)",
            """CREATE TABLE report_sent (
                client TEXT NOT NULL,
                month TEXT NOT NULL,
                recipient TEXT NOT NULL,
                sent_at TEXT NOT NULL,
                message_id TEXT NOT NULL,
                PRIMARY KEY (client, month, recipient)
            )""",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version

_UPSERT_HOUR = """
INSERT INTO uptime_hour (key, hour, up, down, maintenance, probes) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key, hour) DO UPDATE SET
    up = up + excluded.up,
    down = down + excluded.down,
    maintenance = maintenance + excluded.maintenance,
    probes = probes + excluded.probes
"""


_PRUNE_RESULTS = (
    "DELETE FROM uptime_result WHERE rowid IN "
    "(SELECT rowid FROM uptime_result WHERE at < ? LIMIT ?)"
)
_PRUNE_HOURS = (
    "DELETE FROM uptime_hour WHERE (key, hour) IN "
    "(SELECT key, hour FROM uptime_hour WHERE hour < ? LIMIT ?)"
)


def _epoch(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware datetime")
    return int(dt.timestamp())


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class ReportStore:
    """The roll-ups, raw results and sent reports on the state store's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT.total_seconds(),
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the state store {path}: {exc}; check state.path in monitord.yml "
                "and that its directory exists and is writable"
            ) from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT.total_seconds() * 1000)}")
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

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS report_schema_version (
                    version INTEGER PRIMARY KEY,
                    description TEXT NOT NULL,
                    applied_at TEXT NOT NULL
                )"""
            )
            (version,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM report_schema_version"
            ).fetchone()
            if version > LATEST_VERSION:
                raise StoreError(
                    f"the report tables in {self.path} have schema version {version}, but this "
                    f"monitord only knows versions up to {LATEST_VERSION}: upgrade monitord"
                )
            for m in MIGRATIONS:
                if m.version <= version:
                    continue
                for stmt in m.statements:
                    conn.execute(stmt)
                conn.execute(
                    "INSERT INTO report_schema_version VALUES (?, ?, ?)",
                    (m.version, m.description, datetime.now(UTC).isoformat()),
                )

    # ------------------------------------------------------------ uptime

    def write_batch(
        self, slices: dict[tuple[str, datetime], Slice], results: Iterable[RawResult]
    ) -> None:
        """One batch of roll-up slices (added to what the hours hold) and raw results."""
        with self.transaction() as conn:
            conn.executemany(
                _UPSERT_HOUR,
                [
                    (key, _epoch(hour), s.up, s.down, s.maintenance, s.probes)
                    for (key, hour), s in slices.items()
                ],
            )
            conn.executemany(
                "INSERT INTO uptime_result (key, at, ok, message) VALUES (?, ?, ?, ?)",
                [(r.key, _epoch(r.at), int(r.ok), r.message) for r in results],
            )

    def hours(self, keys: Iterable[str], start: datetime, end: datetime) -> dict[str, list[Slice]]:
        """The roll-ups of ``keys`` for the hours starting in [start, end)."""
        out: dict[str, list[Slice]] = {}
        for key in keys:
            rows = self._conn.execute(
                "SELECT hour, up, down, maintenance, probes FROM uptime_hour "
                "WHERE key = ? AND hour >= ? AND hour < ? ORDER BY hour",
                (key, _epoch(start), _epoch(end)),
            ).fetchall()
            out[key] = [Slice(_at(h), up, down, m, p) for h, up, down, m, p in rows]
        return out

    def results(self, key: str) -> list[RawResult]:
        rows = self._conn.execute(
            "SELECT key, at, ok, message FROM uptime_result WHERE key = ? ORDER BY at", (key,)
        ).fetchall()
        return [RawResult(k, _at(a), bool(ok), m) for k, a, ok, m in rows]

    def prune(self, *, results_before: datetime, rollups_before: datetime) -> tuple[int, int]:
        """Delete raw results and roll-ups older than their retention; (results, hours)."""
        return (
            self._prune(_PRUNE_RESULTS, _epoch(results_before)),
            self._prune(_PRUNE_HOURS, _epoch(rollups_before)),
        )

    def _prune(self, sql: str, cutoff: int) -> int:
        total = 0
        while True:
            with self.transaction() as conn:
                n = conn.execute(sql, (cutoff, PRUNE_BATCH)).rowcount
            total += n
            if n < PRUNE_BATCH:
                return total

    # ------------------------------------------------------------ reports sent

    def sent(self, client: str, month: str) -> dict[str, datetime]:
        """Recipient -> when this month's report went to them."""
        rows = self._conn.execute(
            "SELECT recipient, sent_at FROM report_sent WHERE client = ? AND month = ?",
            (client, month),
        ).fetchall()
        return {r: datetime.fromisoformat(at) for r, at in rows}

    def mark_sent(
        self, client: str, month: str, recipient: str, now: datetime, message_id: str
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO report_sent VALUES (?, ?, ?, ?, ?)",
                (client, month, recipient, now.astimezone(UTC).isoformat(), message_id),
            )
