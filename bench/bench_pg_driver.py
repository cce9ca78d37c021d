"""psycopg 3 against asyncpg on the PostgreSQL store's own operations.

Starts a throwaway PostgreSQL 15 (tests/helpers/postgres.py) and, for each driver, times:

- ``batch``: 500 state upserts and 500 result upserts in one transaction (a batched flush);
- ``durable``: one state + result + incident + 2 outbox rows in one transaction (a DOWN);
- ``claim``: claim 50 due outbox items with FOR UPDATE SKIP LOCKED, then mark them sent.

Run: .venv/bin/python bench/bench_pg_driver.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.helpers.postgres import running_postgres

SCHEMA = """
CREATE TABLE check_state (key text PRIMARY KEY, state text NOT NULL, updated timestamptz NOT NULL);
CREATE TABLE latest_result (key text PRIMARY KEY, ok boolean NOT NULL, message text NOT NULL,
  duration double precision NOT NULL, at timestamptz NOT NULL, details text NOT NULL);
CREATE TABLE incident (id text PRIMARY KEY, key text NOT NULL, started timestamptz NOT NULL,
  ended timestamptz, summary text NOT NULL);
CREATE TABLE outbox (id bigserial PRIMARY KEY, key text NOT NULL UNIQUE, notifier text NOT NULL,
  notification text NOT NULL, due_at timestamptz NOT NULL, status text NOT NULL,
  attempts int NOT NULL DEFAULT 0, claimed_at timestamptz, run_id text, sent_at timestamptz);
CREATE INDEX outbox_due ON outbox (status, due_at);
"""

UPSERT_STATE = (
    "INSERT INTO check_state (key, state, updated) VALUES ($1, $2, now()) "
    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated = excluded.updated"
)
UPSERT_RESULT = (
    "INSERT INTO latest_result (key, ok, message, duration, at, details) "
    "VALUES ($1, $2, $3, $4, now(), $5) ON CONFLICT (key) DO UPDATE SET ok = excluded.ok, "
    "message = excluded.message, duration = excluded.duration, at = excluded.at, "
    "details = excluded.details"
)
UPSERT_INCIDENT = (
    "INSERT INTO incident (id, key, started, summary) VALUES ($1, $2, now(), $3) "
    "ON CONFLICT (id) DO UPDATE SET summary = excluded.summary"
)
INSERT_OUTBOX = (
    "INSERT INTO outbox (key, notifier, notification, due_at, status) "
    "VALUES ($1, $2, $3, now(), 'pending') ON CONFLICT (key) DO NOTHING"
)
CLAIM = (
    "UPDATE outbox SET status = 'sending', claimed_at = now(), run_id = $1, "
    "attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' "
    "AND due_at <= now() ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, key, notification"
)
MARK_SENT = "UPDATE outbox SET status = 'sent', sent_at = now() WHERE id = ANY($1)"

STATE = json.dumps({"status": "up", "fails": 0, "since": "2026-12-06T12:00:00+00:00"})
BATCH = 500
CLAIM_N = 50


def _psycopg_sql(sql: str) -> str:
    for i in range(9, 0, -1):
        sql = sql.replace(f"${i}", "%s")
    return sql


async def bench_asyncpg(url: str, rounds: int) -> dict[str, list[float]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    await conn.execute(SCHEMA)
    out: dict[str, list[float]] = {"batch": [], "durable": [], "claim": []}
    n = 0
    for r in range(rounds):
        t = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(UPSERT_STATE, [(f"k{i}", STATE) for i in range(BATCH)])
            await conn.executemany(
                UPSERT_RESULT, [(f"k{i}", True, "200 OK", 0.01, "{}") for i in range(BATCH)]
            )
        out["batch"].append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(CLAIM_N // 2):
            n += 1
            async with conn.transaction():
                await conn.execute(UPSERT_STATE, f"k{n % BATCH}", STATE)
                await conn.execute(UPSERT_RESULT, f"k{n % BATCH}", False, "down", 1.0, "{}")
                await conn.execute(UPSERT_INCIDENT, f"i{n}", f"k{n % BATCH}", "down")
                await conn.executemany(
                    INSERT_OUTBOX, [(f"o{n}-{j}", "email", STATE) for j in range(2)]
                )
        out["durable"].append((time.perf_counter() - t) / (CLAIM_N // 2))
        t = time.perf_counter()
        async with conn.transaction():
            rows = await conn.fetch(CLAIM, f"run{r}", CLAIM_N)
        async with conn.transaction():
            await conn.execute(MARK_SENT, [row["id"] for row in rows])
        out["claim"].append(time.perf_counter() - t)
        assert len(rows) == CLAIM_N, len(rows)
    await conn.close()
    return out


async def bench_psycopg(url: str, rounds: int) -> dict[str, list[float]]:
    import psycopg

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await conn.execute(SCHEMA)
    out: dict[str, list[float]] = {"batch": [], "durable": [], "claim": []}
    st, rs, inc, ob = (
        _psycopg_sql(s) for s in (UPSERT_STATE, UPSERT_RESULT, UPSERT_INCIDENT, INSERT_OUTBOX)
    )
    claim, sent = _psycopg_sql(CLAIM), _psycopg_sql(MARK_SENT)
    n = 0
    for r in range(rounds):
        t = time.perf_counter()
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(st, [(f"k{i}", STATE) for i in range(BATCH)])
            await cur.executemany(
                rs,
                [(f"k{i}", True, "200 OK", 0.01, "{}") for i in range(BATCH)],
            )
        out["batch"].append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(CLAIM_N // 2):
            n += 1
            async with conn.transaction(), conn.cursor() as cur:
                await cur.execute(st, (f"k{n % BATCH}", STATE))
                await cur.execute(rs, (f"k{n % BATCH}", False, "down", 1.0, "{}"))
                await cur.execute(inc, (f"i{n}", f"k{n % BATCH}", "down"))
                await cur.executemany(ob, [(f"o{n}-{j}", "email", STATE) for j in range(2)])
        out["durable"].append((time.perf_counter() - t) / (CLAIM_N // 2))
        t = time.perf_counter()
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute(claim, (f"run{r}", CLAIM_N))
            rows = await cur.fetchall()
        async with conn.transaction():
            await conn.execute(sent, ([row[0] for row in rows],))
        out["claim"].append(time.perf_counter() - t)
        assert len(rows) == CLAIM_N, len(rows)
    await conn.close()
    return out


async def _timed(
    name: str, fn: Callable[[str, int], Awaitable[dict[str, list[float]]]], url: str, rounds: int
) -> dict[str, Any]:
    cpu = time.process_time()
    res = await fn(url, rounds)
    return {
        "driver": name,
        "cpu_s": time.process_time() - cpu,
        **{k: statistics.median(v) * 1000 for k, v in res.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    with running_postgres() as pg:
        rows = []
        for name, fn in (("asyncpg", bench_asyncpg), ("psycopg", bench_psycopg)):
            url = pg.create_database()
            rows.append(asyncio.run(_timed(name, fn, url, args.rounds)))
    print(
        f"{'driver':10} {'batch 500 ms':>13} {'durable ms':>11} {'claim 50 ms':>12} "
        f"{'client CPU s':>13}"
    )
    for r in rows:
        print(
            f"{r['driver']:10} {r['batch']:13.1f} {r['durable']:11.2f} {r['claim']:12.2f} "
            f"{r['cpu_s']:13.2f}"
        )


if __name__ == "__main__":
    main()
