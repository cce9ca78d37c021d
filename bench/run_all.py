"""Every benchmark in turn, figures kept as JSON: what docs/benchmarks.md is made from.

    .venv/bin/python bench/run_all.py            # the full set, about 25-30 minutes
    .venv/bin/python bench/run_all.py --quick    # a smoke run of each, about 5 minutes

1. bench_feed_parse.py  — advisory feed parse cost (CPU only, no servers);
2. bench_store.py       — SqliteStore.write: batched rows/s, durable tx/s;
3. bench_throughput.py  — probes/s through the whole path vs bare aiohttp (asyncio and uvloop);
4. bench_daemon.py      — 10,000 sites in a real daemon process: lateness, CPU, RSS (+ py-spy);
5. bench_daemon.py --steps — the largest site count that keeps p99 lateness under 1 s;
6. bench_cluster.py     — three nodes on one PostgreSQL: load per node and on the database,
   takeover after ten kills of the leader and after its isolation (needs Debian's PostgreSQL).

Each step is a subprocess with its own time limit; they run one after another (never two at
once: they would measure each other). The machine's load is printed before each; re-run a step
when something else was busy.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import BENCH_DIR, PYTHON, loadavg, machine

STEP_TIME_LIMIT_S = 1500
"""No single benchmark may run longer than this (the site-count steps are the longest)."""

DEFAULT_STEPS = "30000,60000,90000,120000"
"""Site counts tried in turn after the 10k run; the first that breaks ends the series."""
QUICK_STEPS = "20000,40000"
"""The --quick series: a smoke run of the stepping, not an answer."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "monitord-bench-results"
    )
    ap.add_argument("--steps", help=f"site counts to step through (default {DEFAULT_STEPS})")
    ap.add_argument("--skip", default="", help="comma-separated names to skip, e.g. steps,feed")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    quick = ["--quick"] if args.quick else []
    skip = set(filter(None, args.skip.split(",")))
    plan = [
        ("feed", ["bench_feed_parse.py"] + (["--runs", "10"] if args.quick else [])),
        ("store", ["bench_store.py", *quick, "--json", str(args.out / "store.json")]),
        (
            "throughput",
            [
                "bench_throughput.py",
                "--loop",
                "both",
                *quick,
                "--json",
                str(args.out / "throughput.json"),
            ],
        ),
        (
            "daemon",
            ["bench_daemon.py", "--profile", *quick, "--json", str(args.out / "daemon.json")],
        ),
        (
            "steps",
            [
                "bench_daemon.py",
                "--steps",
                args.steps,
                *quick,
                "--json",
                str(args.out / "steps.json"),
            ],
        ),
        ("cluster", ["bench_cluster.py", *quick, "--json", str(args.out / "cluster.json")]),
    ]
    m = machine()
    print(f"machine: {m.nproc} CPUs, {m.cpu}, {m.memory}, Python {m.python}, kernel {m.kernel}")
    started = time.monotonic()
    for name, argv in plan:
        if name in skip:
            continue
        print(f"\n=== {name} (load {loadavg()}) ===", flush=True)
        t0 = time.monotonic()
        with (args.out / f"{name}.txt").open("w") as out:
            proc = subprocess.Popen(
                [PYTHON, str(BENCH_DIR / argv[0]), *argv[1:]],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            timer = threading.Timer(STEP_TIME_LIMIT_S, proc.kill)
            timer.start()
            try:
                for line in proc.stdout:
                    print(line, end="", flush=True)
                    out.write(line)
                proc.wait()
            finally:
                timer.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        print(f"--- {name}: exit {proc.returncode}, {time.monotonic() - t0:.0f} s", flush=True)
    print(f"\nall done in {(time.monotonic() - started) / 60:.1f} min; figures in {args.out}/")


if __name__ == "__main__":
    main()
