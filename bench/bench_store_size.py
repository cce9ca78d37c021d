"""The store's size after a simulated month (or more) at 10,000 sites, with retention.

Everything goes through the real ``SqliteStore`` on a real file (WAL, as the daemon opens it):

* every site has one http check: its state and latest result are written (upserts: one row
  per check, whatever the number of probes, so a few rounds give the steady size);
* each site has ``--incidents`` incidents a month, spread evenly: a DOWN (durable write: state,
  result, the open incident and 3 outbox rows — two e-mails and a ticket) and 20 minutes later
  a RECOVERED (the ended incident and 3 more rows), the way ``Daemon.apply`` writes them;
* a simulated sender claims every due row and records it sent (``claim_due``/``mark_sent``);
* at the end of each simulated day the retention pass runs (``SqliteStore.prune`` with the
  defaults of ``state.retention``: sent 30d, failed 90d, incidents 400d).

The figures: file size (database + WAL, after a checkpoint) at day 30 and at the end, rows per
table, the time of the retention passes, and the steady size once incidents reach their 400-day
retention (projected from the measured bytes per incident row). Not CPU-heavy: about a minute
for 30 days at the defaults on one core.

    .venv/bin/python bench/bench_store_size.py [--sites 10000] [--days 40] [--incidents 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's monitord

from _infra import loadavg, machine
from bench_store import key_of, result_row, state_json

from monitord.config.models import RetentionConfig
from monitord.events import Event
from monitord.incidents import CheckState
from monitord.notify.base import Notification
from monitord.store.base import IncidentRow
from monitord.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OUTAGE = timedelta(minutes=20)
"""How long each simulated incident lasts (DOWN to RECOVERED)."""
MONTH_DAYS = 30


def notes_for(event: Event, who: tuple[str, ...]) -> list[Notification]:
    """E-mails to ``who`` and the agency's ticket, as routing makes them."""
    out = [
        Notification(
            key=f"{event.key}|email|{w}@{event.client}.example",
            notifier="email",
            recipient=f"{w}@{event.client}.example",
            recipient_name=w.title(),
            event=event,
        )
        for w in who
    ]
    out.append(
        Notification(
            key=f"{event.key}|tickets|",
            notifier="tickets",
            recipient="",
            recipient_name="",
            event=event,
        )
    )
    return out


def incident_writes(
    i: int, n: int, start: datetime
) -> list[tuple[str, dict[str, Any], Any, list[Notification], IncidentRow, datetime]]:
    """The DOWN and the RECOVERED write of incident ``n`` of check ``i``."""
    key = key_of(i)
    client, site, check = key.split("/")
    thread = f"{key}@{start.isoformat()}"
    url = f"https://www.{site}.example/"
    details = {
        "check_type": "http",
        "url": url,
        "client_name": f"Client {client}",
        "site_name": f"www.{site}.example",
        "message": "HTTP 503 Service Unavailable (expected 200)",
        "started": start.isoformat(),
        "failures": 3,
    }
    down = Event(
        kind="site-down",
        client=client,
        site=site,
        check=check,
        at=start,
        key=f"{thread}/down",
        thread=thread,
        summary=f"www.{site}.example is down: HTTP 503 Service Unavailable (expected 200)",
        severity="critical",
        details=details,
    )
    end = start + OUTAGE
    up = Event(
        kind="site-recovered",
        client=client,
        site=site,
        check=check,
        at=end,
        key=f"{thread}/up",
        thread=thread,
        summary=f"www.{site}.example is up again after 20m",
        severity="info",
        details={**details, "down_for": "20m", "ended": end.isoformat()},
    )
    inc = IncidentRow(
        id=thread,
        key=key,
        client=client,
        site=site,
        check=check,
        started=start,
        ended=None,
        summary=down.summary,
        last_message="HTTP 503 Service Unavailable (expected 200)",
    )
    down_state = CheckState(status="down", since=start, failures=3, incident_id=thread)
    up_state = CheckState(status="up", since=end, successes=2)
    ended = _with_end(inc, end)
    return [
        (key, down_state.to_json(), result_row(key, start), notes_for(down, ("jo",)), inc, start),
        (key, up_state.to_json(), result_row(key, end), notes_for(up, ("jo", "ann")), ended, end),
    ]


def _fields(row: IncidentRow) -> dict[str, Any]:
    return {f: getattr(row, f) for f in row.__slots__}


def _with_end(row: IncidentRow, end: datetime) -> IncidentRow:
    d = _fields(row)
    d["ended"] = end
    return IncidentRow(**d)


def file_bytes(path: Path) -> dict[str, int]:
    """Database and WAL bytes after a passive checkpoint (what ``ls -l`` shows)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    return {
        "db": path.stat().st_size,
        "wal": wal.stat().st_size if wal.exists() else 0,
        "used": (pages - free) * size,
        "free_pages": free,
    }


def table_stats(path: Path) -> dict[str, dict[str, int]]:
    """Rows and bytes (dbstat, with its indexes) per table."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        out: dict[str, dict[str, int]] = {}
        try:
            by_name = dict(
                conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
            )
            owner = dict(
                conn.execute(
                    "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
                ).fetchall()
            )
        except sqlite3.OperationalError:  # SQLite built without dbstat
            by_name, owner = {}, {}
        for t in tables:
            (rows,) = conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()
            size = sum(b for name, b in by_name.items() if owner.get(name) == t)
            out[t] = {"rows": int(rows), "bytes": int(size)}
        return out
    finally:
        conn.close()


async def simulate(path: Path, sites: int, days: int, per_month: float) -> dict[str, Any]:
    keep = RetentionConfig()
    store = SqliteStore(path)
    await store.open()
    per_day = sites * per_month / MONTH_DAYS
    out: dict[str, Any] = {"days": {}}
    prune_s: list[float] = []
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        for r in range(3):  # the checks' state and latest result: upserts, one row each
            for i in range(sites):
                now = T0 + timedelta(seconds=r * 60 + i * 60 / sites)
                await store.write(key_of(i), state_json(i, now), result_row(key_of(i), now), now=now)  # fmt: skip
            await store.flush()
        made = 0
        for day in range(days):
            day_start = T0 + day * DAY
            target = round(per_day * (day + 1))
            count = target - made
            for n in range(count):
                i = (made + n) * 7919 % sites  # spread over the sites
                start = day_start + timedelta(seconds=(n + 0.5) * 86400 / max(count, 1))
                for key, state, row, notes, inc, at in incident_writes(i, made + n, start):
                    await store.write(key, state, row, notifications=notes, incident=inc, now=at)
                    # The sender: everything due is claimed and delivered at once.
                    while items := await store.claim_due(at, 500):
                        for item in items:
                            await store.mark_sent(item.id, at, f"<{item.id}@bench>")
            made = target
            end = day_start + DAY
            p0 = time.perf_counter()
            pruned = await store.prune(
                sent_before=end - keep.sent,
                failed_before=end - keep.failed,
                incidents_before=end - keep.incidents,
            )
            prune_s.append(time.perf_counter() - p0)
            if day + 1 in (1, 7, 15, MONTH_DAYS, days) or (day + 1) % 10 == 0:
                out["days"][day + 1] = {
                    "incidents_so_far": made,
                    "pruned_today": pruned.__repr__(),
                    **file_bytes(path),
                }
                print(f"day {day + 1}: {out['days'][day + 1]}", file=sys.stderr, flush=True)
    finally:
        await store.close()
    out["cpu_s"] = time.process_time() - c0
    out["wall_s"] = time.perf_counter() - t0
    out["prune_pass_ms"] = {
        "max": 1000 * max(prune_s),
        "median": 1000 * sorted(prune_s)[len(prune_s) // 2],
    }
    out["final"] = file_bytes(path)
    out["tables"] = table_stats(path)
    inc = out["tables"]["incident"]
    per_incident = inc["bytes"] / max(inc["rows"], 1)
    kept_incidents = sites * per_month * keep.incidents.days / MONTH_DAYS
    out["steady_state_projection"] = {
        "incident_bytes_per_row": per_incident,
        "incidents_kept_at_400d": kept_incidents,
        "bytes": out["final"]["used"] - inc["bytes"] + per_incident * kept_incidents,
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--incidents", type=float, default=2.0, help="incidents per site a month")
    ap.add_argument("--keep", action="store_true", help="keep the store file (path printed)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="monitord-bench-size-"))
    try:
        out: dict[str, Any] = {
            "machine": machine(),
            "load_before": loadavg(),
            "sites": args.sites,
            "incidents_per_site_month": args.incidents,
        }
        out.update(asyncio.run(simulate(work / "state.sqlite3", args.sites, args.days, args.incidents)))  # fmt: skip
        out["load_after"] = loadavg()
        print(json.dumps(out, indent=2, default=str))
    finally:
        if args.keep:
            print(f"store kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
