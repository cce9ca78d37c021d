"""The measured process of bench_daemon.py: one real monitord Daemon, figures written as JSON.

Runs ``monitord.daemon.Daemon`` (real scheduler, probes, incidents, SQLite store in WAL mode,
outbox) on a configuration directory, the way ``monitord run`` does (structlog at INFO, to a
file here), and measures itself:

* lateness of every scheduled probe start (the daemon's own ``lateness_listeners``);
* CPU of the whole process (all threads: the event loop and the store thread) from
  ``resource.getrusage`` deltas over the steady window, as % of one core;
* VmRSS / VmHWM from /proc/self/status;
* probes run, failed probes, store commits, in the window.

After ``--warmup`` seconds it starts the window, takes a sample every ``--sample`` seconds,
and after ``--duration`` seconds writes the JSON to ``--out`` and stops the daemon cleanly.
Run by bench_daemon.py; not meant to be run by hand (it needs the local servers).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import ssl
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import percentile, proc_status

from monitord.daemon import Daemon, ScheduledCheck
from monitord.logsetup import configure_logging
from monitord.probes.base import ProbeResult


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class GcPauses:
    """Durations of the garbage collector's runs per generation (``gc.callbacks``): a full
    collection walks every tracked object, so its pause grows with the number of sites."""

    def __init__(self) -> None:
        self.runs: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.runs[info["generation"]].append(time.perf_counter() - self._start)

    def since(self, marks: dict[int, int]) -> dict[str, dict[str, float]]:
        out = {}
        for gen, runs in self.runs.items():
            window = runs[marks[gen] :]
            out[f"gen{gen}"] = {
                "count": len(window),
                "total_ms": round(1000 * sum(window), 1),
                "max_ms": round(1000 * max(window), 1) if window else 0.0,
            }
        return out

    def marks(self) -> dict[int, int]:
        return {gen: len(runs) for gen, runs in self.runs.items()}


def lateness_stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def timed_method(daemon: Daemon, name: str) -> list[float]:
    """Seconds of each call of the daemon's coroutine method ``name`` (cluster mode only):
    the method wrapped on this instance, for measurement only."""
    durations: list[float] = []
    if daemon.seat is None:
        return durations
    inner = getattr(daemon, name)

    async def timed(*args: Any) -> Any:
        t = time.perf_counter()
        try:
            return await inner(*args)
        finally:
            durations.append(time.perf_counter() - t)

    setattr(daemon, name, timed)
    return durations


def spans(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": round(1000 * percentile(values, 50), 1) if values else None,
        "p99_ms": round(1000 * percentile(values, 99), 1) if values else None,
        "max_ms": round(1000 * max(values), 1) if values else None,
    }


def cluster_figures(
    daemon: Daemon, rounds: list[float], refreshes: list[float]
) -> dict[str, Any] | None:
    """This node's part in the cluster over the window (None on SQLite): the leader's decision
    rounds, a follower's reads of the decided states (every FOLLOWER_REFRESH)."""
    seat = daemon.seat
    if seat is None:
        return None
    return {
        "node": seat.node,
        "leader": seat.leader,
        "elections": seat.elections,
        "rounds": len(rounds),
        "round_p50_ms": spans(rounds)["p50_ms"],
        "round_p99_ms": spans(rounds)["p99_ms"],
        "round_max_ms": spans(rounds)["max_ms"],
        "load_decided": spans(refreshes),
        "pending": len(seat.pending),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else None
    daemon = Daemon(Path(args.config), ssl_context=ctx, node=args.node)
    late: list[float] = []
    failures: list[str] = []
    counters = {"results": 0, "failed": 0}

    def on_late(seconds: float) -> None:
        late.append(seconds)

    def on_result(sc: ScheduledCheck, result: ProbeResult, _now: datetime) -> None:
        counters["results"] += 1
        if not result.ok:
            counters["failed"] += 1
            if len(failures) < 5:
                failures.append(f"{sc.key}: {result.message}")

    pauses = GcPauses()
    gc.callbacks.append(pauses)
    daemon.lateness_listeners.append(on_late)
    daemon.result_listeners.append(on_result)
    t0 = time.monotonic()
    cpu0 = cpu_seconds()
    await daemon.start()
    rounds = timed_method(daemon, "decide_round")
    refreshes = timed_method(daemon, "_refresh_decided")
    if args.gc_threshold:
        gc.set_threshold(*(int(x) for x in args.gc_threshold.split(",")))
    startup = {
        "seconds": time.monotonic() - t0,
        "cpu_seconds": cpu_seconds() - cpu0,
        "rss_kib": proc_status().get("VmRSS", 0),
        "checks": len(daemon.checks),
    }
    print(json.dumps({"started": startup}), flush=True)
    try:
        await asyncio.sleep(args.warmup)
        assert daemon.store is not None
        w_cpu, w_t = cpu_seconds(), time.monotonic()
        w_late, w_probes = len(late), daemon.probes_run
        w_results, w_failed = counters["results"], counters["failed"]
        w_commits = daemon.store.commits
        w_gc = pauses.marks()
        w_rounds, w_refreshes = len(rounds), len(refreshes)
        samples: list[dict[str, Any]] = []
        s_cpu, s_t, s_late = w_cpu, w_t, w_late
        end = w_t + args.duration
        while (now := time.monotonic()) < end:
            await asyncio.sleep(min(args.sample, end - now))
            c, t, n = cpu_seconds(), time.monotonic(), len(late)
            window = late[s_late:n]
            samples.append(
                {
                    "t": round(t - w_t, 1),
                    "cpu_pct": round(100 * (c - s_cpu) / (t - s_t), 1),
                    "starts_per_s": round((n - s_late) / (t - s_t), 1),
                    "late_p99_ms": round(1000 * percentile(window, 99), 2),
                    "late_max_ms": round(1000 * max(window), 2) if window else None,
                    "rss_mib": round(proc_status().get("VmRSS", 0) / 1024, 1),
                    "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                }
            )
            s_cpu, s_t, s_late = c, t, n
        cpu1, t1 = cpu_seconds(), time.monotonic()
        window_late = late[w_late:]
        status = proc_status()
        return {
            "startup": startup,
            "window_seconds": t1 - w_t,
            "cpu_pct_of_one_core": 100 * (cpu1 - w_cpu) / (t1 - w_t),
            "lateness": lateness_stats(window_late),
            "probes": daemon.probes_run - w_probes,
            "probes_per_s": (daemon.probes_run - w_probes) / (t1 - w_t),
            "results": counters["results"] - w_results,
            "failed": counters["failed"] - w_failed,
            "failure_examples": failures,
            "commits": daemon.store.commits - w_commits,
            "rss_mib": status.get("VmRSS", 0) / 1024,
            "hwm_mib": status.get("VmHWM", 0) / 1024,
            "samples": samples,
            "gc": pauses.since(w_gc),
            "gc_frozen": gc.get_freeze_count(),
            "gc_threshold": gc.get_threshold(),
            "loop": type(asyncio.get_running_loop()).__module__,
            "cluster": cluster_figures(daemon, rounds[w_rounds:], refreshes[w_refreshes:]),
        }
    finally:
        await daemon.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--ca", help="PEM file of the CA that signed the local HTTPS servers")
    ap.add_argument("--warmup", type=float, default=65.0)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--sample", type=float, default=15.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", required=True, help="where the daemon's own log lines go")
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--node", help="this daemon's node id (cluster mode: a PostgreSQL store)")
    ap.add_argument("--gc-threshold", help="gc.set_threshold(…) after start, e.g. 50000,20,10")
    args = ap.parse_args()
    with open(args.log, "w") as log:
        configure_logging("INFO", stream=log, json=True)
        if args.uvloop:
            import uvloop

            figures = uvloop.run(measure(args))
        else:
            figures = asyncio.run(measure(args))
    Path(args.out).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
