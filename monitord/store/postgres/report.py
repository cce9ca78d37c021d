"""The report's tables in the PostgreSQL store (``state.url``): :class:`PgReportStore` has the
methods and meaning of report.store.ReportStore (hourly uptime roll-ups, raw results, reports
sent), so a new leader sends what the old one did not, and never twice.

Synchronous, through store.postgres.side.SyncPostgres. The tables are versioned in
``report_schema_version`` with the SQLite tables' version numbers (PG_MIGRATIONS mirrors
report.store.MIGRATIONS): checks by a small integer id, hours since the epoch, durations in
integer milliseconds, instants of raw results in epoch seconds, as on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg

from monitord.report.rollup import Slice
from monitord.report.store import (
    MIGRATIONS,
    PRUNE_BATCH,
    PRUNE_CHECKS,
    Migration,
    RawResult,
    ReportStore,
    _at,
    _epoch,
    _hour,
    _ms,
)
from monitord.store.postgres.side import PgSideTables
from monitord.store.sqlite.side import SideMigration

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        MIGRATIONS[0].description,
        (
            """CREATE TABLE uptime_check (
                id serial PRIMARY KEY,
                key text NOT NULL UNIQUE
            )""",
            """CREATE TABLE uptime_hour (
                check_id integer NOT NULL,
                hour integer NOT NULL,
                up_ms integer NOT NULL,
                down_ms integer NOT NULL,
                maintenance_ms integer NOT NULL,
                probes integer NOT NULL,
                PRIMARY KEY (check_id, hour)
            )""",
            """CREATE TABLE uptime_result (
                check_id integer NOT NULL,
                at bigint NOT NULL,
                ok boolean NOT NULL,
                message text
            )""",
            "CREATE INDEX uptime_result_at ON uptime_result (at)",
            """CREATE TABLE report_sent (
                client text NOT NULL,
                month text NOT NULL,
                recipient text NOT NULL,
                sent_at timestamptz NOT NULL,
                message_id text NOT NULL,
                PRIMARY KEY (client, month, recipient)
            )""",
        ),
    ),
)
"""The same tables on PostgreSQL, version for version (``monitord state migrate`` converts)."""

_UPSERT_HOUR = """
INSERT INTO uptime_hour AS h (check_id, hour, up_ms, down_ms, maintenance_ms, probes)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (check_id, hour) DO UPDATE SET
    up_ms = h.up_ms + excluded.up_ms,
    down_ms = h.down_ms + excluded.down_ms,
    maintenance_ms = h.maintenance_ms + excluded.maintenance_ms,
    probes = h.probes + excluded.probes
"""
_PRUNE_RESULTS = (
    "DELETE FROM uptime_result WHERE ctid IN "
    "(SELECT ctid FROM uptime_result WHERE at < $1 LIMIT $2)"
)
_PRUNE_HOURS = "DELETE FROM uptime_hour WHERE check_id = ANY($1::integer[]) AND hour < $2"


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


class PgReportStore(PgSideTables):
    """The roll-ups, raw results and sent reports in the PostgreSQL store."""

    SCHEMA_TABLE: ClassVar[str] = ReportStore.SCHEMA_TABLE
    WHAT: ClassVar[str] = ReportStore.WHAT
    APPLICATION: ClassVar[str] = "monitord report"
    MIGRATIONS: ClassVar[tuple[SideMigration, ...]] = PG_MIGRATIONS

    def __init__(self, url: str) -> None:
        self._id_cache: dict[str, int] = {}
        super().__init__(url)

    # ------------------------------------------------------------ uptime

    async def _ids(self, conn: asyncpg.Connection, keys: Iterable[str]) -> dict[str, int]:
        new = sorted(set(keys) - set(self._id_cache))
        if new:
            await conn.execute(
                "INSERT INTO uptime_check (key) SELECT unnest($1::text[]) "
                "ON CONFLICT (key) DO NOTHING",
                new,
            )
            for r in await conn.fetch(
                "SELECT id, key FROM uptime_check WHERE key = ANY($1::text[])", new
            ):
                self._id_cache[r["key"]] = r["id"]
        return {k: self._id_cache[k] for k in set(keys)}

    def write_batch(
        self, slices: dict[tuple[str, datetime], Slice], results: Iterable[RawResult]
    ) -> None:
        """One batch of roll-up slices (added to what the hours hold) and raw results."""
        results = list(results)
        hours = [
            (key, _hour(hour), _ms(s.up), _ms(s.down), _ms(s.maintenance), s.probes)
            for (key, hour), s in slices.items()
        ]
        raw = [(r.key, _epoch(r.at), r.ok, None if r.ok else r.message) for r in results]

        async def op(conn: asyncpg.Connection) -> None:
            try:
                async with conn.transaction():
                    await write(conn)
            except BaseException:
                self._id_cache.clear()  # the ids a rolled-back transaction made are gone
                raise

        async def write(conn: asyncpg.Connection) -> None:
            ids = await self._ids(conn, [h[0] for h in hours] + [r[0] for r in raw])
            if hours:
                await conn.executemany(_UPSERT_HOUR, [(ids[k], *rest) for k, *rest in hours])
            if raw:
                await conn.copy_records_to_table(
                    "uptime_result",
                    records=[(ids[k], *rest) for k, *rest in raw],
                    columns=["check_id", "at", "ok", "message"],
                )

        self.pg.call("write the uptime history", op)

    def hours(self, keys: Iterable[str], start: datetime, end: datetime) -> dict[str, list[Slice]]:
        """The roll-ups of ``keys`` for the hours starting in [start, end)."""
        wanted = list(keys)

        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT c.key, h.hour, h.up_ms, h.down_ms, h.maintenance_ms, h.probes "
                    "FROM uptime_hour h JOIN uptime_check c ON c.id = h.check_id "
                    "WHERE c.key = ANY($1::text[]) AND h.hour >= $2 AND h.hour < $3 "
                    "ORDER BY h.hour",
                    wanted,
                    _hour(start),
                    -(-_epoch(end) // 3600),
                )
            )

        out: dict[str, list[Slice]] = {k: [] for k in wanted}
        for key, h, up, down, m, p in self.pg.call("read the uptime history", op):
            out[key].append(Slice(_at(h * 3600), up / 1000, down / 1000, m / 1000, p))
        return out

    def results(self, key: str) -> list[RawResult]:
        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT r.at, r.ok, r.message FROM uptime_result r "
                    "JOIN uptime_check c ON c.id = r.check_id WHERE c.key = $1 ORDER BY r.at",
                    key,
                )
            )

        rows = self.pg.call("read raw results", op)
        return [RawResult(key, _at(a), bool(ok), m or "") for a, ok, m in rows]

    def prune(self, *, results_before: datetime, rollups_before: datetime) -> tuple[int, int]:
        """Delete raw results and roll-ups older than their retention; (results, hours)."""
        return (
            self._prune_results(_epoch(results_before)),
            self._prune_hours(_hour(rollups_before)),
        )

    def _prune_results(self, cutoff: int) -> int:
        async def op(conn: asyncpg.Connection) -> int:
            return _count(await conn.execute(_PRUNE_RESULTS, cutoff, PRUNE_BATCH))

        total = 0
        while True:
            n = self.pg.call("prune raw results", op)
            total += n
            if n < PRUNE_BATCH:
                return total

    def _prune_hours(self, cutoff: int) -> int:
        async def ids(conn: asyncpg.Connection) -> list[int]:
            return [r["id"] for r in await conn.fetch("SELECT id FROM uptime_check ORDER BY id")]

        all_ids = self.pg.call("read the checks", ids)
        total = 0
        for start in range(0, len(all_ids), PRUNE_CHECKS):
            batch = all_ids[start : start + PRUNE_CHECKS]

            async def op(conn: asyncpg.Connection, batch: list[int] = batch) -> int:
                return _count(await conn.execute(_PRUNE_HOURS, batch, cutoff))

            total += self.pg.call("prune uptime roll-ups", op)
        return total

    # ------------------------------------------------------------ reports sent

    def sent(self, client: str, month: str) -> dict[str, datetime]:
        """Recipient -> when this month's report went to them."""

        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    "SELECT recipient, sent_at FROM report_sent WHERE client = $1 AND month = $2",
                    client,
                    month,
                )
            )

        return {r: at.astimezone(UTC) for r, at in self.pg.call("read the reports sent", op)}

    def mark_sent(
        self, client: str, month: str, recipient: str, now: datetime, message_id: str
    ) -> None:
        _epoch(now)

        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "INSERT INTO report_sent (client, month, recipient, sent_at, message_id) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client, month, recipient) DO UPDATE "
                "SET sent_at = excluded.sent_at, message_id = excluded.message_id",
                client,
                month,
                recipient,
                now,
                message_id,
            )

        self.pg.call("record a report sent", op)
