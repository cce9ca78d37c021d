"""The size of the uptime history (monitord.report.store) for a simulated period.

Writes through the real ``ReportStore.write_batch`` into a real SQLite file (WAL, as the
daemon opens it): one check per site, one hourly roll-up row per check and hour (what the
history service's batches add up to; a real hour is upserted ~120 times, once per 30 s
flush, into the same row), plus ``--raw-days`` of raw results at one per minute per check
(``state.retention.results``, default 3 days). Sizes are the file after a checkpoint.

Thirteen months at 10,000 sites is ~95 million roll-up rows, beyond a couple of minutes on
this machine, so the default run measures ``--days`` (7) and extrapolates linearly by the
measured bytes per row (rows are near fixed-size: a check id, an hour, three millisecond counts, a probe count);
``--days 397`` measures the whole period instead.

    .venv/bin/python bench/bench_rollup_size.py [--sites 1000] [--days 7] [--raw-days 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's monitord

from _infra import loadavg, machine

from monitord.daemon import check_key
from monitord.report.rollup import Slice
from monitord.report.store import ROLLUP_RETENTION, RawResult, ReportStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
RAW_SAMPLE_SITES = 100
"""Raw results are measured on this many sites and scaled: their rows are fixed-size too."""


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def checkpoint(store: ReportStore) -> None:
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def run(sites: int, days: int, raw_days: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="rollup-size-"))
    path = tmp / "state.sqlite3"
    keys = [check_key(f"client{i // 10}", f"site{i}", "http") for i in range(sites)]
    started = time.perf_counter()
    with ReportStore(path) as store:
        base = size(path)
        hour = T0
        for _ in range(days * 24):
            store.write_batch(
                {
                    (k, hour): Slice(hour, 3540.0, 60.0 if i % 97 == 0 else 0.0, 0.0, 60)
                    for i, k in enumerate(keys)
                },
                [],
            )
            hour += HOUR
        checkpoint(store)
        rollup_bytes = size(path) - base
        write_s = time.perf_counter() - started
        rows = sites * days * 24
        per_row = rollup_bytes / rows
        # raw results: one a minute per check for raw_days, on a sample of sites
        sample = keys[: min(sites, RAW_SAMPLE_SITES)]
        before = size(path)
        t = T0
        for _ in range(raw_days * 24):
            store.write_batch(
                {},
                [
                    RawResult(k, t + timedelta(minutes=m), True, "HTTP 200 in 85 ms")
                    for m in range(60)
                    for k in sample
                ],
            )
            t += HOUR
        checkpoint(store)
        raw_bytes = (size(path) - before) * sites / len(sample)
        # a retention pass over what was written (nothing is due; its cost is the scan)
        p0 = time.perf_counter()
        store.prune(results_before=T0, rollups_before=T0)
        prune_s = time.perf_counter() - p0
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    kept_hours = ROLLUP_RETENTION.days * 24
    return {
        "sites": sites,
        "days_measured": days,
        "rollup_rows": rows,
        "rollup_bytes_measured": rollup_bytes,
        "bytes_per_rollup_row": round(per_row, 1),
        "rollup_bytes_13_months": round(per_row * sites * kept_hours),
        "extrapolated": days < ROLLUP_RETENTION.days,
        "raw_days": raw_days,
        "raw_bytes": round(raw_bytes),
        "total_13_months_plus_raw": round(per_row * sites * kept_hours + raw_bytes),
        "write_seconds": round(write_s, 1),
        "prune_scan_seconds": round(prune_s, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--raw-days", type=int, default=3)
    a = ap.parse_args()
    out = {
        "machine": str(machine()),
        "load_before": loadavg(),
        "runs": [run(s, a.days, a.raw_days) for s in a.sites],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
