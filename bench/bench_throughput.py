"""Probe throughput: monitord's whole path vs a bare aiohttp client, same run, same servers.

Fresh-connection HTTP and HTTPS requests against a local nginx (its own process), at a fixed
concurrency, for a few seconds each, alternating the two clients round by round:

* **bare**: ``aiohttp.ClientSession`` with ``TCPConnector(force_close=True)``, GET, read body;
* **monitord**: ``Daemon.tick(key)`` of a real daemon (``schedule=False``): ``run_check`` (the
  http probe with its timeout, body cap and checks) + ``incidents.evaluate`` + routing
  bookkeeping + ``SqliteStore.write`` (batched, WAL) — everything a scheduled run does but the
  scheduler itself (bench_daemon.py measures that).

Reported per protocol: probes/s (wall, one event loop), CPU per probe (the whole process:
loop thread + store thread), and the RATIO monitord/bare of each — the robust figure on a
shared, noisy machine, since both clients meet the same load in the same minute.

    .venv/bin/python bench/bench_throughput.py                 # asyncio loop, 5 rounds x 3 s
    .venv/bin/python bench/bench_throughput.py --loop both     # and again under uvloop
    .venv/bin/python bench/bench_throughput.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import Servers, loadavg, local_servers, machine, median, write_config

from monitord.daemon import Daemon, ScheduledCheck
from monitord.logsetup import configure_logging
from monitord.probes.base import ProbeResult

SITES_PER_PROTOCOL = 400
"""Distinct sites (URLs, check keys) cycled through: state and store rows for each, as at scale."""


async def drive(
    call: Callable[[str], Awaitable[bool]], items: Sequence[str], concurrency: int, seconds: float
) -> dict[str, float]:
    """Run ``call`` over ``items`` (cycled) from ``concurrency`` workers for ``seconds``."""
    source = itertools.cycle(items)
    done = failed = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.monotonic() < deadline:
            ok = await call(next(source))
            done += 1
            failed += not ok

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    return {
        "n": done,
        "failed": failed,
        "per_s": done / wall,
        "cpu_ms_per_probe": 1000 * cpu / done if done else float("nan"),
        "per_cpu_s": done / cpu if cpu else float("nan"),
        "cpu_pct": 100 * cpu / wall,
    }


async def measure(
    servers: Servers, work: Path, rounds: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    ctx = servers.client_ssl_context()
    urls = servers.http_urls() + servers.https_urls()
    write_config(work / "config", urls, 2 * SITES_PER_PROTOCOL, clients=10)
    daemon = Daemon(work / "config", ssl_context=ctx, schedule=False, services=[])
    failures: list[str] = []

    def on_result(sc: ScheduledCheck, result: ProbeResult, _now: datetime) -> None:
        if not result.ok and len(failures) < 5:
            failures.append(f"{sc.key}: {result.message}")

    daemon.result_listeners.append(on_result)
    await daemon.start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0))
    out: dict[str, Any] = {"loop": type(asyncio.get_running_loop()).__module__}
    try:
        for proto in ("http", "https"):
            keys = [k for k, sc in daemon.checks.items() if sc.ref.url.startswith(proto + ":")]
            site_urls = [daemon.checks[k].ref.url for k in keys]

            async def bare(url: str) -> bool:
                async with session.get(url, ssl=ctx) as resp:
                    await resp.read()
                    return resp.status == 200

            async def whole(key: str) -> bool:
                await daemon.tick(key)
                return daemon.states[key].status != "down"

            # One short untimed round each: connection set-up paths, caches, first rows.
            await drive(bare, site_urls, concurrency, 0.5)
            await drive(whole, keys, concurrency, 0.5)
            runs: dict[str, list[dict[str, float]]] = {"bare": [], "monitord": []}
            loads = []
            for _ in range(rounds):
                loads.append(loadavg())
                runs["bare"].append(await drive(bare, site_urls, concurrency, seconds))
                runs["monitord"].append(await drive(whole, keys, concurrency, seconds))
            bare_s = median([r["per_s"] for r in runs["bare"]])
            whole_s = median([r["per_s"] for r in runs["monitord"]])
            bare_cpu = median([r["cpu_ms_per_probe"] for r in runs["bare"]])
            whole_cpu = median([r["cpu_ms_per_probe"] for r in runs["monitord"]])
            # Ratio per round (same minute, same load), then the median of those ratios.
            ratios = [
                m["per_s"] / b["per_s"] for b, m in zip(runs["bare"], runs["monitord"], strict=True)
            ]
            out[proto] = {
                "bare_per_s": bare_s,
                "monitord_per_s": whole_s,
                "ratio_per_s": median(ratios),
                "ratio_per_s_range": [min(ratios), max(ratios)],
                "bare_cpu_ms": bare_cpu,
                "monitord_cpu_ms": whole_cpu,
                "bare_per_cpu_s": 1000 / bare_cpu,
                "monitord_per_cpu_s": 1000 / whole_cpu,
                "ratio_per_cpu_s": bare_cpu / whole_cpu,
                "failed": sum(int(r["failed"]) for rs in runs.values() for r in rs),
                "loads": loads,
                "rounds": runs,
            }
    finally:
        await session.close()
        await daemon.stop()
    out["failure_examples"] = failures
    return out


def report(name: str, f: dict[str, Any]) -> None:
    for proto in ("http", "https"):
        p = f[proto]
        print(
            f"  [{name}] {proto:5}: bare {p['bare_per_s']:6.0f}/s ({p['bare_cpu_ms']:.2f} ms CPU), "
            f"monitord {p['monitord_per_s']:6.0f}/s ({p['monitord_cpu_ms']:.2f} ms CPU); "
            f"ratio {p['ratio_per_s']:.2f} (rounds {p['ratio_per_s_range'][0]:.2f}–"
            f"{p['ratio_per_s_range'][1]:.2f}), per CPU-second {p['ratio_per_cpu_s']:.2f}; "
            f"failed {p['failed']}; load {p['loads'][0]}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one timed round")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="asyncio")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 1.5 s")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 1.5
    m = machine()
    print(f"machine: {m.nproc} CPUs ({m.cpu}), {m.memory}, Python {m.python}, load {loadavg()}")
    # The daemon's log lines are rendered as in production (JSON at INFO), then discarded.
    with open(os.devnull, "w") as log:
        configure_logging("INFO", stream=log, json=True)
        results: dict[str, Any] = {
            "machine": m.__dict__,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        }
        loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
        with local_servers() as servers:
            print(f"servers: {servers.kind}; concurrency {args.concurrency}, "
                  f"{args.rounds} rounds x {args.seconds:g} s per client")  # fmt: skip
            results["servers"] = servers.kind
            for loop in loops:
                work = Path(tempfile.mkdtemp(prefix="monitord-bench-tp-"))
                try:
                    coro = measure(servers, work, args.rounds, args.seconds, args.concurrency)
                    if loop == "uvloop":
                        import uvloop

                        f = uvloop.run(coro)
                    else:
                        f = asyncio.run(coro)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
                results[loop] = f
                report(loop, f)
                if f["failure_examples"]:
                    print("  failures:", *f["failure_examples"], sep="\n    ")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
