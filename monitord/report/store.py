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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from monitord.report.rollup import Slice
from monitord.store.sqlite.side import SideMigration, SideTables

ROLLUP_RETENTION = timedelta(days=397)
"""Thirteen months of hourly roll-ups: the month reported, the year before it, and a margin."""

PRUNE_BATCH = 5_000
"""Raw results deleted per transaction when pruning, so the daemon's writes never wait long."""

PRUNE_CHECKS = 500
"""Checks whose old roll-ups are deleted per transaction (an hour's worth each, hourly)."""


@dataclass(frozen=True, slots=True)
class RawResult:
    key: str
    at: datetime
    ok: bool
    message: str


Migration = SideMigration


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "hourly uptime roll-ups, raw results, reports sent",
        (
            # 13 months × 10,000 checks is ~95 million roll-up rows, so every byte of a row
            # counts (docs/benchmarks.md): checks by a small integer id, hours since the
            # epoch, durations in integer milliseconds (varints), no rowid.
            """CREATE TABLE uptime_check (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE
            )""",
            """CREATE TABLE uptime_hour (
                check_id INTEGER NOT NULL,
                hour INTEGER NOT NULL,
                up_ms INTEGER NOT NULL,
                down_ms INTEGER NOT NULL,
                maintenance_ms INTEGER NOT NULL,
                probes INTEGER NOT NULL,
                PRIMARY KEY (check_id, hour)
            ) WITHOUT ROWID""",
            # A failure's message only: a success says nothing a person needs days later.
            """CREATE TABLE uptime_result (
                check_id INTEGER NOT NULL,
                at INTEGER NOT NULL,
                ok INTEGER NOT NULL,
                message TEXT
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
INSERT INTO uptime_hour (check_id, hour, up_ms, down_ms, maintenance_ms, probes)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (check_id, hour) DO UPDATE SET
    up_ms = up_ms + excluded.up_ms,
    down_ms = down_ms + excluded.down_ms,
    maintenance_ms = maintenance_ms + excluded.maintenance_ms,
    probes = probes + excluded.probes
"""


_PRUNE_RESULTS = (
    "DELETE FROM uptime_result WHERE rowid IN "
    "(SELECT rowid FROM uptime_result WHERE at < ? LIMIT ?)"
)
_PRUNE_HOURS = "DELETE FROM uptime_hour WHERE check_id = ? AND hour < ?"
"""Per check, on the primary key: an index on the hour alone would add a third to each row."""


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _hour(dt: datetime) -> int:
    """Hours since the epoch."""
    return _epoch(dt) // 3600


def _epoch(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware datetime")
    return int(dt.timestamp())


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class ReportStore(SideTables):
    """The roll-ups, raw results and sent reports on the state store's SQLite file."""

    SCHEMA_TABLE: ClassVar[str] = "report_schema_version"
    WHAT: ClassVar[str] = "the report tables"
    MIGRATIONS: ClassVar[tuple[SideMigration, ...]] = MIGRATIONS

    def __init__(self, path: Path) -> None:
        self._id_cache: dict[str, int] = {}
        super().__init__(path, check_same_thread=False)

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ uptime

    def _ids(self, conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, int]:
        """The integer id of each check key (a new key is given one)."""
        out: dict[str, int] = {}
        for key in set(keys):
            if key not in self._id_cache:
                conn.execute("INSERT OR IGNORE INTO uptime_check (key) VALUES (?)", (key,))
                (self._id_cache[key],) = conn.execute(
                    "SELECT id FROM uptime_check WHERE key = ?", (key,)
                ).fetchone()
            out[key] = self._id_cache[key]
        return out

    def write_batch(
        self, slices: dict[tuple[str, datetime], Slice], results: Iterable[RawResult]
    ) -> None:
        """One batch of roll-up slices (added to what the hours hold) and raw results."""
        results = list(results)
        with self.transaction() as conn:
            ids = self._ids(conn, [k for k, _ in slices] + [r.key for r in results])
            conn.executemany(
                _UPSERT_HOUR,
                [
                    (ids[key], _hour(hour), _ms(s.up), _ms(s.down), _ms(s.maintenance), s.probes)
                    for (key, hour), s in slices.items()
                ],
            )
            conn.executemany(
                "INSERT INTO uptime_result (check_id, at, ok, message) VALUES (?, ?, ?, ?)",
                [
                    (ids[r.key], _epoch(r.at), int(r.ok), None if r.ok else r.message)
                    for r in results
                ],
            )

    def hours(self, keys: Iterable[str], start: datetime, end: datetime) -> dict[str, list[Slice]]:
        """The roll-ups of ``keys`` for the hours starting in [start, end)."""
        out: dict[str, list[Slice]] = {}
        for key in keys:
            rows = self._conn.execute(
                "SELECT h.hour, h.up_ms, h.down_ms, h.maintenance_ms, h.probes "
                "FROM uptime_hour h JOIN uptime_check c ON c.id = h.check_id "
                "WHERE c.key = ? AND h.hour >= ? AND h.hour < ? ORDER BY h.hour",
                (key, _hour(start), -(-_epoch(end) // 3600)),
            ).fetchall()
            out[key] = [
                Slice(_at(h * 3600), up / 1000, down / 1000, m / 1000, p)
                for h, up, down, m, p in rows
            ]
        return out

    def results(self, key: str) -> list[RawResult]:
        rows = self._conn.execute(
            "SELECT r.at, r.ok, r.message FROM uptime_result r "
            "JOIN uptime_check c ON c.id = r.check_id WHERE c.key = ? ORDER BY r.at",
            (key,),
        ).fetchall()
        return [RawResult(key, _at(a), bool(ok), m or "") for a, ok, m in rows]

    def prune(self, *, results_before: datetime, rollups_before: datetime) -> tuple[int, int]:
        """Delete raw results and roll-ups older than their retention; (results, hours)."""
        return (
            self._prune(_PRUNE_RESULTS, _epoch(results_before)),
            self._prune_hours(_hour(rollups_before)),
        )

    def _prune_hours(self, cutoff: int) -> int:
        ids = [i for (i,) in self._conn.execute("SELECT id FROM uptime_check")]
        total = 0
        for start in range(0, len(ids), PRUNE_CHECKS):
            with self.transaction() as conn:
                for i in ids[start : start + PRUNE_CHECKS]:
                    total += conn.execute(_PRUNE_HOURS, (i, cutoff)).rowcount
        return total

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
