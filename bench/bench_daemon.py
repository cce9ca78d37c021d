"""The whole daemon under load: N sites x one http check at 60 s, against local nginx.

Spawns a real ``monitord.daemon.Daemon`` in its own process (bench/_daemon_child.py) on a
generated configuration (N sites in 100 client files, SQLite store in a temp dir, advisory
watcher and HTTP API off), lets it warm up for a full interval, then measures over a steady
window: lateness of probe starts (p50/p99/max), the daemon's CPU as % of one core, VmRSS/VmHWM.

The targets at 10,000 sites: p99 lateness < 1 s, CPU < 25 % of one core, RSS < 200 MB.

    .venv/bin/python bench/bench_daemon.py                       # 10k sites, 65 s + 180 s
    .venv/bin/python bench/bench_daemon.py --profile             # + py-spy over the window
    .venv/bin/python bench/bench_daemon.py --steps 30000,60000,90000,120000
    .venv/bin/python bench/bench_daemon.py --quick               # 10k, 30 s + 45 s

``--steps`` runs each count in turn (shorter windows) and stops at the first that misses
p99 < 1 s (or saturates the CPU, or fails probes): the largest count that held is the answer.
Everything is on 127.0.0.x; every run is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import (
    BENCH_DIR,
    PYTHON,
    Servers,
    loadavg,
    local_servers,
    machine,
    write_config,
)

LATENESS_TARGET_S = 1.0
"""p99 lateness of probe starts under 1 s: a 60 s check runs within a second of its time."""
CPU_TARGET_PCT = 25.0
"""The daemon under 25 % of one core at 10,000 sites: room on a small VM for the rest."""
RSS_TARGET_MIB = 200.0
"""Resident memory under 200 MB: fits beside the sites on a small VM."""
SATURATED_CPU_PCT = 90.0
"""A step whose daemon uses more of a core than this is saturated (the event loop is one thread:
it cannot use the second core)."""
MAX_FAILED_SHARE = 0.01
"""A step where more than 1 % of probes fail is broken even if lateness holds."""
CHILD_GRACE_S = 120.0
"""Extra seconds a run may take beyond warm-up + window (start-up, shutdown) before it is killed."""


def py_spy() -> str | None:
    candidate = Path(PYTHON).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def run_once(
    servers: Servers,
    sites: int,
    *,
    warmup: float,
    duration: float,
    uvloop: bool = False,
    https: bool = False,
    profile: Path | None = None,
    gc_threshold: str | None = None,
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="monitord-bench-daemon-"))
    try:
        urls = servers.https_urls() if https else servers.http_urls()
        write_config(work / "config", urls, sites)
        out, log = work / "figures.json", work / "daemon.log"
        cmd = [
            PYTHON,
            str(BENCH_DIR / "_daemon_child.py"),
            "--config",
            str(work / "config"),
            "--ca",
            str(servers.ca_file),
            "--warmup",
            str(warmup),
            "--duration",
            str(duration),
            "--out",
            str(out),
            "--log",
            str(log),
        ] + (["--uvloop"] if uvloop else [])
        if gc_threshold:
            cmd += ["--gc-threshold", gc_threshold]
        load_before = loadavg()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=work)
        spy: subprocess.Popen[bytes] | None = None
        try:
            assert child.stdout is not None
            started = json.loads(child.stdout.readline() or "{}").get("started")
            if started is None:
                raise RuntimeError(f"the daemon did not start; see {log}")
            print(
                f"  started: {started['checks']} checks in {started['seconds']:.1f} s, "
                f"RSS {started['rss_kib'] / 1024:.0f} MiB",
                flush=True,
            )
            if profile is not None:
                spy_bin = py_spy()
                if spy_bin is None:
                    print("  py-spy not found: no profile (pip install py-spy into the venv)")
                else:
                    time.sleep(warmup)
                    spy = subprocess.Popen(
                        [
                            spy_bin,
                            "record",
                            "--pid",
                            str(child.pid),
                            "--duration",
                            str(int(max(duration - 5, 5))),
                            "--rate",
                            "100",
                            "--format",
                            "raw",
                            "--nonblocking",
                            "--threads",
                            "--output",
                            str(profile),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
            child.wait(timeout=warmup + duration + CHILD_GRACE_S)
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                child.wait()
            if spy is not None:
                try:
                    spy.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait()
        if child.returncode != 0 or not out.exists():
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"the daemon run failed (exit {child.returncode}):\n{tail}")
        figures: dict[str, Any] = json.loads(out.read_text())
        figures.update(
            sites=sites,
            https=https,
            uvloop=uvloop,
            load_before=load_before,
            load_after=loadavg(),
            date=time.strftime("%Y-%m-%d %H:%M %Z"),
        )
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def describe(f: dict[str, Any]) -> str:
    lat = f["lateness"]
    return (
        f"{f['sites']:>6} sites{' (uvloop)' if f['uvloop'] else ''}: "
        f"{f['probes_per_s']:.0f} probes/s, lateness p50 {lat['p50'] * 1000:.1f} ms "
        f"p99 {lat['p99'] * 1000:.1f} ms max {lat['max'] * 1000:.0f} ms, "
        f"CPU {f['cpu_pct_of_one_core']:.1f} % of a core, RSS {f['rss_mib']:.0f} MiB "
        f"(HWM {f['hwm_mib']:.0f}), failed {f['failed']}/{f['results']}, "
        f"commits {f['commits']}, load {f['load_before']} -> {f['load_after']}; GC gen2 "
        f"{f['gc']['gen2']['count']}x max {f['gc']['gen2']['max_ms']:.0f} ms "
        f"(frozen objects {f['gc_frozen']}, thresholds {f['gc_threshold']})"
    )


def verdict(f: dict[str, Any]) -> list[str]:
    """What broke in a run (empty: it held)."""
    broke = []
    if f["lateness"]["p99"] >= LATENESS_TARGET_S:
        broke.append(f"p99 lateness {f['lateness']['p99']:.2f} s >= {LATENESS_TARGET_S:g} s")
    if f["cpu_pct_of_one_core"] >= SATURATED_CPU_PCT:
        broke.append(f"CPU {f['cpu_pct_of_one_core']:.0f} % of a core (saturated)")
    if f["results"] and f["failed"] / f["results"] > MAX_FAILED_SHARE:
        broke.append(f"{f['failed']} of {f['results']} probes failed")
    expected = f["sites"] / 60.0
    if f["probes_per_s"] < 0.95 * expected:
        broke.append(f"{f['probes_per_s']:.0f} probes/s, expected {expected:.0f}")
    return broke


# ---------------------------------------------------------------------------- py-spy profile

CATEGORIES = (
    ("store (monitord/store, sqlite3)", ("monitord/store/", "sqlite3")),
    ("monitord probes", ("monitord/probes/",)),
    (
        "monitord daemon/incidents/routing",
        (
            "monitord/daemon.py",
            "monitord/incidents.py",
            "monitord/routing/",
            "monitord/storm.py",
            "monitord/maintenance.py",
        ),
    ),
    ("logging (structlog)", ("structlog/",)),
    ("apscheduler", ("apscheduler/",)),
    ("aiohttp/yarl/multidict", ("aiohttp/", "yarl/", "multidict/")),
    ("ssl", ("ssl.py",)),
    ("asyncio event loop", ("asyncio/",)),
)


def summarise_profile(path: Path) -> dict[str, Any]:
    """Shares of CPU samples from py-spy's raw (folded) output: by thread, by inclusive
    category (a sample counts for every category on its stack), and the top leaf frames."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        total += count
        threads[frames[0]] += count
        for name, needles in CATEGORIES:
            if any(n in stack for n in needles):
                inclusive[name] += count
        leaves[frames[-1]] += count
        seen = set()
        for fr in frames[1:]:
            if "monitord/" in fr:
                fn = fr.split(" (")[0] + " (" + fr.split("monitord/")[-1].split(":")[0] + ")"
                if fn not in seen:
                    seen.add(fn)
                    functions[fn] += count
    share = (lambda c: round(100 * c / total, 1)) if total else (lambda c: 0.0)
    return {
        "samples": total,
        "threads_pct": {k: share(v) for k, v in threads.most_common(6)},
        "inclusive_pct": {k: share(inclusive[k]) for k, _ in CATEGORIES},
        "monitord_functions_pct": {k: share(v) for k, v in functions.most_common(15)},
        "top_leaves_pct": {k: share(v) for k, v in leaves.most_common(15)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--warmup", type=float, default=65.0, help="seconds before the window")
    ap.add_argument("--duration", type=float, default=180.0, help="seconds of the window")
    ap.add_argument("--steps", help="comma-separated site counts: find where p99 breaks")
    ap.add_argument("--step-warmup", type=float, default=60.0)
    ap.add_argument("--step-duration", type=float, default=90.0)
    ap.add_argument("--profile", action="store_true", help="py-spy over the window")
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--gc-threshold", help="the daemon's gc.set_threshold, e.g. 50000,20,10")
    ap.add_argument("--https", action="store_true", help="https sites instead of http")
    ap.add_argument("--quick", action="store_true", help="shorter windows (a smoke run)")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    if args.quick:
        args.warmup, args.duration = 30.0, 45.0
        args.step_warmup, args.step_duration = 30.0, 40.0
    m = machine()
    print(f"machine: {m.nproc} CPUs ({m.cpu}), {m.memory}, Python {m.python}, load {loadavg()}")
    results: dict[str, Any] = {"machine": m.__dict__, "runs": []}
    with local_servers() as servers:
        print(f"servers: {servers.kind} on {', '.join(servers.hosts)}")
        results["servers"] = servers.kind
        if args.steps:
            counts = [int(x) for x in args.steps.split(",")]
            last_ok = None
            for n in counts:
                print(f"step {n} sites ({args.step_warmup:g} s + {args.step_duration:g} s)…")
                f = run_once(
                    servers,
                    n,
                    warmup=args.step_warmup,
                    duration=args.step_duration,
                    uvloop=args.uvloop,
                    https=args.https,
                    gc_threshold=args.gc_threshold,
                )
                f["broke"] = verdict(f)
                results["runs"].append(f)
                print("  " + describe(f), flush=True)
                if f["broke"]:
                    print(f"  BROKE at {n}: {'; '.join(f['broke'])}")
                    break
                last_ok = n
            results["largest_ok"] = last_ok
            print(f"largest site count holding p99 < 1 s: {last_ok}")
        else:
            print(f"{args.sites} sites ({args.warmup:g} s warm-up + {args.duration:g} s)…")
            prof = Path(tempfile.mkstemp(suffix=".pyspy.txt")[1]) if args.profile else None
            try:
                f = run_once(
                    servers,
                    args.sites,
                    warmup=args.warmup,
                    duration=args.duration,
                    uvloop=args.uvloop,
                    https=args.https,
                    profile=prof,
                    gc_threshold=args.gc_threshold,
                )
                if prof is not None and prof.stat().st_size:
                    f["profile"] = summarise_profile(prof)
            finally:
                if prof is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(prof)
            results["runs"].append(f)
            print(describe(f))
            for s in f["samples"]:
                print(f"    {s}")
            if "profile" in f:
                print(json.dumps(f["profile"], indent=2))
            print(
                "targets: p99 < 1 s: "
                + ("met" if f["lateness"]["p99"] < LATENESS_TARGET_S else "MISSED")
                + f"; CPU < {CPU_TARGET_PCT:g} %: "
                + ("met" if f["cpu_pct_of_one_core"] < CPU_TARGET_PCT else "MISSED")
                + f"; RSS < {RSS_TARGET_MIB:g} MB: "
                + ("met" if f["hwm_mib"] * 1.048576 < RSS_TARGET_MIB else "MISSED")
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
