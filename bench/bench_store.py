"""SqliteStore.write throughput: batched probe results (rows/s) and durable writes (tx/s).

A real SQLite file (WAL, synchronous=NORMAL, as the daemon opens it) in a temp directory:

* **batched**: ``write(key, state, result)`` for N results over 10,000 check keys, the way the
  daemon writes a passing probe (state JSON + latest result, no notification), in batches of
  limits.STORE_BATCH_SIZE distinct keys, each committed in one transaction (``flush``) before
  the next is written: rows/s committed, CPU per row (whole process: loop + store thread) and
  the loop's own share of it (what a probe pays on the event loop).
* **durable**: ``write(…, notifications=[2 e-mails], incident=…)`` — a DOWN with its outbox rows
  and incident, committed at once in its own transaction — one after another (tx/s), and from
  several concurrent tasks (they queue on the single store thread).

At 10,000 sites a minute the daemon writes about 167 rows/s; the figures say how far below the
store's ceiling that is and what share of a core it costs.

    .venv/bin/python bench/bench_store.py [--rows 200000] [--durable 3000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import loadavg, machine

from monitord import limits
from monitord.events import Event
from monitord.incidents import CheckState
from monitord.notify.base import Notification
from monitord.store.base import IncidentRow, ResultRow
from monitord.store.sqlite import SqliteStore

KEYS = 10_000
"""Distinct check keys written to (the 10k-site daemon)."""
DURABLE_CONCURRENCY = 20
"""Tasks writing durable rows at once in the concurrent durable run."""
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def key_of(i: int) -> str:
    return f"c{i % 100:03d}/s{i:06d}/http"


def state_json(i: int, now: datetime) -> dict[str, Any]:
    return CheckState(
        status="up", since=T0, successes=i % 50 + 1, last_message="HTTP 200 in 2 ms"
    ).to_json()


def result_row(key: str, now: datetime) -> ResultRow:
    client, site, check = key.split("/")
    return ResultRow(
        key=key,
        client=client,
        site=site,
        check=check,
        ok=True,
        message="HTTP 200 in 2 ms",
        warning=None,
        duration=0.0021,
        at=now,
        details={
            "status": 200,
            "response_time": 0.0019,
            "url": f"http://127.0.0.1:8080/s/{site}",
            "final_url": f"http://127.0.0.1:8080/s/{site}",
            "redirects": 0,
            "body_bytes": 52,
            "body_capped": False,
            "timings": {"connect": 0.0004, "headers": 0.0015, "total": 0.0019},
        },
    )


def cpu() -> float:
    return time.process_time()


async def batched(path: Path, rows: int) -> dict[str, float]:
    """Batches of limits.STORE_BATCH_SIZE distinct keys, each written then flushed: the loop
    side (serialising, merging) and the commit run one after the other, so this is the
    store's floor, with no overlap of the two threads."""
    store = SqliteStore(path)
    await store.open()
    try:
        states = [state_json(i, T0) for i in range(KEYS)]
        batch = limits.STORE_BATCH_SIZE
        rows -= rows % batch
        write_cpu = 0.0
        c0, t0 = cpu(), time.perf_counter()
        for start in range(0, rows, batch):
            w0 = cpu()
            for n in range(start, start + batch):
                i = n % KEYS
                now = T0 + timedelta(milliseconds=n)
                await store.write(key_of(i), states[i], result_row(key_of(i), now), now=now)
            write_cpu += cpu() - w0
            await store.flush()
        wall, used = time.perf_counter() - t0, cpu() - c0
        return {
            "rows": rows,
            "batch": batch,
            "rows_per_s": rows / wall,
            "cpu_us_per_row": 1e6 * used / rows,
            "loop_cpu_us_per_row": 1e6 * write_cpu / rows,
            "commits": store.commits,
            "rows_per_commit": rows / max(store.commits, 1),
        }
    finally:
        await store.close()


def down_write(i: int, now: datetime) -> tuple[str, dict[str, Any], ResultRow, list[Any], Any]:
    key = key_of(i)
    client, site, check = key.split("/")
    event = Event(
        kind="site-down",
        client=client,
        site=site,
        check=check,
        at=now,
        key=f"{key}/down/{i}",
        thread=f"{key}/incident/{i}",
        summary=f"{site} is DOWN: HTTP 503 Service Unavailable",
        details={"url": f"http://127.0.0.1:8080/s/{site}", "failures": 3},
    )
    notes = [
        Notification(
            key=f"{event.key}/email/{who}@{client}.example",
            notifier="email",
            recipient=f"{who}@{client}.example",
            recipient_name=who.title(),
            event=event,
        )
        for who in ("jo", "sam")
    ]
    incident = IncidentRow(
        id=f"{key}/incident/{i}",
        key=key,
        client=client,
        site=site,
        check=check,
        started=now,
        ended=None,
        summary=event.summary,
        last_message="HTTP 503 Service Unavailable",
    )
    state = CheckState(status="down", since=now, failures=3, incident_id=incident.id).to_json()
    return key, state, result_row(key, now), notes, incident


async def durable(path: Path, count: int, concurrency: int) -> dict[str, float]:
    store = SqliteStore(path)
    await store.open()
    try:
        commits0 = store.commits
        c0, t0 = cpu(), time.perf_counter()
        counter = iter(range(count))

        async def worker() -> None:
            for i in counter:
                now = T0 + timedelta(milliseconds=i)
                key, state, row, notes, incident = down_write(i, now)
                await store.write(key, state, row, notifications=notes, incident=incident, now=now)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, used = time.perf_counter() - t0, cpu() - c0
        return {
            "transactions": count,
            "concurrency": concurrency,
            "tx_per_s": count / wall,
            "outbox_rows_per_s": 2 * count / wall,
            "cpu_us_per_tx": 1e6 * used / count,
            "commits": store.commits - commits0,
        }
    finally:
        await store.close()


async def measure(work: Path, rows: int, durable_n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"load_before": loadavg()}
    out["batched"] = await batched(work / "batched.sqlite3", rows)
    out["durable_serial"] = await durable(work / "durable1.sqlite3", durable_n, 1)
    out["durable_concurrent"] = await durable(
        work / "durable2.sqlite3", durable_n, DURABLE_CONCURRENCY
    )
    out["load_after"] = loadavg()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--durable", type=int, default=3_000)
    ap.add_argument("--quick", action="store_true", help="50,000 rows, 1,000 durable writes")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.rows, args.durable = 50_000, 1_000
    m = machine()
    print(f"machine: {m.nproc} CPUs ({m.cpu}), {m.memory}, Python {m.python}, load {loadavg()}")
    work = Path(tempfile.mkdtemp(prefix="monitord-bench-store-"))
    try:
        f = asyncio.run(measure(work, args.rows, args.durable))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    b, d1, dn = f["batched"], f["durable_serial"], f["durable_concurrent"]
    print(
        f"batched: {b['rows_per_s']:.0f} rows/s, {b['cpu_us_per_row']:.0f} µs CPU per row "
        f"({b['loop_cpu_us_per_row']:.0f} µs on the loop), {b['rows_per_commit']:.0f} rows "
        "per commit"
    )
    print(
        f"durable (one at a time): {d1['tx_per_s']:.0f} tx/s, {d1['cpu_us_per_tx']:.0f} µs CPU each"
    )
    print(
        f"durable ({DURABLE_CONCURRENCY} tasks): {dn['tx_per_s']:.0f} tx/s, "
        f"{dn['cpu_us_per_tx']:.0f} µs CPU each, {dn['commits']} commits"
    )
    at_10k = 10_000 / 60 * b["cpu_us_per_row"] / 1e6 * 100
    print(f"at 10,000 sites/min (167 rows/s) the batched store costs {at_10k:.2f} % of a core")
    print(f"load {f['load_before']} -> {f['load_after']}")
    f["machine"] = m.__dict__
    f["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    f["store_pct_of_core_at_10k"] = at_10k
    if args.json:
        args.json.write_text(json.dumps(f, indent=2))


if __name__ == "__main__":
    main()
