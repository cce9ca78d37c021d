"""Three monitord nodes on one PostgreSQL: the steady load, and the leader killed ten times.

**Steady** (``--sites``, default 10,000): three real daemons (bench/_daemon_child.py, each
``--node n1|n2|n3`` with its own source address 127.0.0.1/.2/.3) read one configuration of N
sites x one http check at 60 s on local nginx, every node probing every site ("all
locations"), on one PostgreSQL started here in a temporary directory (the server's own
durability defaults: fsync and synchronous_commit on). After ``--warmup`` seconds each node
measures itself over ``--duration`` seconds (probe-start lateness p50/p99, CPU % of one core,
RSS; the leader also times its decision rounds) while this script measures the database: its
processes' CPU from /proc, commits and rows written per second (pg_stat_database), the
database's growth (pg_database_size, extrapolated linearly to a day), and at the end how
fresh each node's node_result rows are.

**Failover** (``--kills``, default 10, on ``--failover-sites`` sites): three ``monitord run``
processes; ten times: find the leader (``cluster_leader``), ``kill -9`` it, time until another
node logs ``cluster.leader`` (and the epoch grew), restart the killed node, wait until it has
beaten (its pid in ``cluster_node``). Then two isolations of the leader:

* ``SIGSTOP`` (a hung process: its kernel still answers TCP keepalives) for up to
  ``--stop-wait`` seconds, then ``SIGCONT``: does another node take over, does the old one
  step down?
* its packets to and from the database dropped (iptables, in the benchmark's own network
  namespace: each node reaches PostgreSQL at an address of its own, 127.0.0.11/.12/.13):
  time to a new leader and to the old leader's ``cluster.leader_lost``; then healed.

Run as root, the whole benchmark re-runs itself in a new network namespace (``unshare -n``), so
the iptables rules and the thousands of loopback connections touch nothing else on the host;
``--no-netns`` keeps the host's (the network isolation is then skipped).

    .venv/bin/python bench/bench_cluster.py                         # 10k steady + failover
    .venv/bin/python bench/bench_cluster.py --sites 3000 --skip failover
    .venv/bin/python bench/bench_cluster.py --skip steady --kills 10
    .venv/bin/python bench/bench_cluster.py --quick                 # 1,000 sites, 3 kills

Everything is on 127.0.0.x; every wait has a deadline; the servers, nodes and temporary
directories are removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import (
    BENCH_DIR,
    PYTHON,
    REPO,
    PgServer,
    Servers,
    loadavg,
    local_servers,
    machine,
    median,
    postgres_server,
    process_tree_cpu,
    write_config,
)

NODES = ("n1", "n2", "n3")
SOURCE = {"n1": "127.0.0.1", "n2": "127.0.0.2", "n3": "127.0.0.3"}
"""Each node's probes come from its own address (``nodes.<id>.source_address``)."""
DB_HOST = {"n1": "127.0.0.11", "n2": "127.0.0.12", "n3": "127.0.0.13"}
"""Each node reaches PostgreSQL at an address of its own, so one node's database traffic can
be dropped while the others' is not."""
HOST_ENV = "MONITORD_BENCH_PGHOST"
NETNS_ENV = "MONITORD_BENCH_NETNS"

CHILD_GRACE_S = 180.0
"""Seconds a steady run may take beyond warm-up + window (three start-ups, shutdown)."""
NODE_START_S = 90.0
"""A ``monitord run`` node logs ``started`` within this (three at once on two cores)."""
TAKEOVER_WAIT_S = 60.0
"""How long to wait for a new leader after a kill or an isolation before calling it missed
(the issue's promise is 30 s)."""
STEP_DOWN_WAIT_S = 30.0
"""How long to wait for an isolated or resumed leader to say it no longer leads."""
SETTLE_S = 3.0
"""Pause after a restarted node has beaten, before the next kill: the new leader has
finished its election work and the restarted follower polls the lock."""
TAKEOVER_PROMISE_S = 30.0


def cluster_config(directory: Path, pg: PgServer, db: str, urls: list[str], sites: int) -> Path:
    """bench_daemon's configuration of ``sites`` sites, on PostgreSQL, with three nodes."""
    write_config(directory, urls, sites)
    yml = directory / "monitord.yml"
    url = f"postgresql://postgres@${{{HOST_ENV}}}:{pg.port}/{db}"
    text, n = re.subn(
        r"^state: \{path: [^}]*\}$", f'state: {{url: "{url}"}}', yml.read_text(), flags=re.M
    )
    assert n == 1, "write_config's state line moved"
    text += "nodes:\n" + "".join(f"  {n}: {{source_address: {a}}}\n" for n, a in SOURCE.items())
    yml.write_text(text)
    return directory


def node_env(node: str, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "MONITORD_CONFIG")}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
        PYTHONUNBUFFERED="1",
        MONITORD_NODE=node,
        STATE_DIRECTORY=str(state_dir),
    )
    env[HOST_ENV] = DB_HOST[node]
    return env


def db_stats(pg: PgServer, db: str) -> dict[str, float]:
    row = pg.psql(
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, "
        f"pg_database_size(datname) FROM pg_stat_database WHERE datname = '{db}'"
    ).split()
    keys = ("commits", "rollbacks", "inserted", "updated", "deleted", "size")
    out = dict(zip(keys, (float(x) for x in row), strict=True))
    out["cpu_s"] = process_tree_cpu(pg.postmaster_pid())
    out["t"] = time.monotonic()
    return out


def rows(pg: PgServer, db: str, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in pg.psql(sql, db).splitlines() if line]


# ---------------------------------------------------------------------------- steady

DB_SAMPLE_S = 30.0
"""How often the steady window samples the database (size, CPU, commits)."""


def sample_db(pg: PgServer, db: str, s0: dict[str, float], duration: float) -> list[str]:
    """The database every DB_SAMPLE_S over the window: size, dead rows, CPU, commits/s."""
    out: list[str] = []
    prev, end = s0, s0["t"] + duration
    while (now := time.monotonic()) < end:
        time.sleep(min(DB_SAMPLE_S, end - now))
        cur = db_stats(pg, db)
        dead = rows(
            pg, db, "SELECT sum(n_dead_tup), sum(autovacuum_count) FROM pg_stat_user_tables"
        )
        dt = cur["t"] - prev["t"]
        out.append(
            f"t {cur['t'] - s0['t']:.0f} s: size {cur['size'] / 2**20:.1f} MiB, dead rows "
            f"{dead[0][0]}, autovacuums {dead[0][1]}, CPU "
            f"{100 * (cur['cpu_s'] - prev['cpu_s']) / dt:.1f} %, "
            f"{(cur['commits'] - prev['commits']) / dt:.1f} commits/s"
        )
        prev = cur
    return out


def cluster_events(log: Path) -> list[str]:
    """A node's ``cluster.*`` log lines (elections, losses, store trouble), short."""
    out = []
    with contextlib.suppress(OSError), log.open() as f:
        for line in f:
            if '"cluster.' not in line:
                continue
            with contextlib.suppress(ValueError):
                e = json.loads(line)
                keep = ("event", "timestamp", "epoch", "reason", "error", "problem")
                out.append(" ".join(f"{k}={e[k]}" for k in keep if k in e)[:300])
    return out


def steady(
    pg: PgServer, servers: Servers, sites: int, *, warmup: float, duration: float
) -> dict[str, Any]:
    db = f"steady{sites}"
    pg.psql(f"CREATE DATABASE {db} TEMPLATE template0")
    work = Path(tempfile.mkdtemp(prefix="monitord-bench-cluster-"))
    children: dict[str, subprocess.Popen[str]] = {}
    try:
        cfg = cluster_config(work / "config", pg, db, servers.http_urls(), sites)
        for n in NODES:
            d = work / n
            d.mkdir()
            cmd = [PYTHON, str(BENCH_DIR / "_daemon_child.py"), "--config", str(cfg)]
            cmd += ["--node", n, "--ca", str(servers.ca_file), "--warmup", str(warmup)]
            cmd += ["--duration", str(duration), "--out", str(d / "figures.json")]
            cmd += ["--log", str(d / "daemon.log")]
            children[n] = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, text=True, cwd=d, env=node_env(n, d)
            )
        started: dict[str, Any] = {}
        for n, child in children.items():
            assert child.stdout is not None
            started[n] = json.loads(child.stdout.readline() or "{}").get("started")
            if started[n] is None:
                log = work / n / "daemon.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"node {n} did not start:\n{tail}")
            print(
                f"  {n} started: {started[n]['checks']} checks in {started[n]['seconds']:.1f} s, "
                f"RSS {started[n]['rss_kib'] / 1024:.0f} MiB",
                flush=True,
            )
        load_before = loadavg()
        time.sleep(warmup)
        s0, nginx0 = db_stats(pg, db), process_tree_cpu(servers.pid)
        samples = sample_db(pg, db, s0, duration)
        s1, nginx1 = db_stats(pg, db), process_tree_cpu(servers.pid)
        fresh = rows(
            pg,
            db,
            "SELECT node, count(*), round(max(extract(epoch FROM now() - at))::numeric, 1), "
            "round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM now() - at))"
            "::numeric, 1), sum((NOT ok)::int) FROM node_result GROUP BY node ORDER BY node",
        )
        tables = rows(
            pg,
            db,
            "SELECT relname, pg_total_relation_size(relid), n_live_tup, n_dead_tup, "
            "n_tup_ins, n_tup_upd, n_tup_hot_upd, autovacuum_count FROM pg_stat_user_tables "
            "ORDER BY pg_total_relation_size(relid) DESC LIMIT 8",
        )
        leader = rows(pg, db, "SELECT node, epoch FROM cluster_leader WHERE id = 1")
        for child in children.values():
            child.wait(timeout=warmup + duration + CHILD_GRACE_S)
        nodes: dict[str, Any] = {}
        for n in NODES:
            out = work / n / "figures.json"
            if children[n].returncode != 0 or not out.exists():
                log = work / n / "daemon.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"node {n} failed (exit {children[n].returncode}):\n{tail}")
            nodes[n] = json.loads(out.read_text())
        dt = s1["t"] - s0["t"]
        return {
            "sites": sites,
            "nodes": nodes,
            "db": {
                "window_s": dt,
                "cpu_pct_of_one_core": 100 * (s1["cpu_s"] - s0["cpu_s"]) / dt,
                "commits_per_s": (s1["commits"] - s0["commits"]) / dt,
                "rows_written_per_s": (
                    s1["inserted"] + s1["updated"] - s0["inserted"] - s0["updated"]
                )
                / dt,
                "inserted_per_s": (s1["inserted"] - s0["inserted"]) / dt,
                "updated_per_s": (s1["updated"] - s0["updated"]) / dt,
                "deleted_per_s": (s1["deleted"] - s0["deleted"]) / dt,
                "rollbacks": s1["rollbacks"] - s0["rollbacks"],
                "size_start_mib": s0["size"] / 2**20,
                "size_end_mib": s1["size"] / 2**20,
                "growth_mib_per_day_extrapolated": (s1["size"] - s0["size"]) / dt * 86400 / 2**20,
                "node_result_freshness": fresh,
                "tables": tables,
                "leader": leader,
                "samples": samples,
            },
            "cluster_events": {n: cluster_events(work / n / "daemon.log") for n in NODES},
            "nginx_cpu_pct_of_one_core": 100 * (nginx1 - nginx0) / dt,
            "load_before": load_before,
            "load_after": loadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        }
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


def describe_steady(f: dict[str, Any]) -> list[str]:
    out = [f"{f['sites']} sites x 3 nodes; load {f['load_before']} -> {f['load_after']}"]
    for n, g in f["nodes"].items():
        lat, c = g["lateness"], g["cluster"] or {}
        role = "leader" if c.get("leader") else "follower"
        rounds = (
            f", {c['rounds']} decision rounds (p50 {c['round_p50_ms']} ms, p99 "
            f"{c['round_p99_ms']} ms, max {c['round_max_ms']} ms)"
            if c.get("rounds")
            else ""
        )
        ld = c.get("load_decided") or {}
        if ld.get("n"):
            rounds += (
                f", {ld['n']} reads of the decided states (p50 {ld['p50_ms']} ms, p99 "
                f"{ld['p99_ms']} ms, max {ld['max_ms']} ms)"
            )
        out.append(
            f"  {n} ({role}): {g['probes_per_s']:.0f} probes/s, lateness p50 "
            f"{lat['p50'] * 1000:.1f} ms p99 {lat['p99'] * 1000:.1f} ms max "
            f"{lat['max'] * 1000:.0f} ms, CPU {g['cpu_pct_of_one_core']:.1f} % of a core, RSS "
            f"{g['rss_mib']:.0f} MiB (HWM {g['hwm_mib']:.0f}), failed {g['failed']}/"
            f"{g['results']}, {g['commits']} commits{rounds}"
        )
        for s in g["samples"]:
            out.append(f"      {s}")
    d = f["db"]
    out.append(
        f"  PostgreSQL: CPU {d['cpu_pct_of_one_core']:.1f} % of a core, "
        f"{d['commits_per_s']:.1f} commits/s, {d['rows_written_per_s']:.0f} rows written/s "
        f"({d['inserted_per_s']:.0f} inserted, {d['updated_per_s']:.0f} updated, "
        f"{d['deleted_per_s']:.0f} deleted), size {d['size_start_mib']:.1f} -> "
        f"{d['size_end_mib']:.1f} MiB over {d['window_s']:.0f} s = "
        f"{d['growth_mib_per_day_extrapolated']:.0f} MiB/day (linear extrapolation)"
    )
    out += [f"    {x}" for x in d["samples"]]
    out.append(f"  nginx: CPU {f['nginx_cpu_pct_of_one_core']:.1f} % of a core")
    out.append(f"  leader (cluster_leader): {d['leader']}")
    out.append("  node_result per node [node, rows, max age s, p99 age s, failing]:")
    out += [f"    {r}" for r in d["node_result_freshness"]]
    out.append("  tables [name, bytes, live, dead, inserted, updated, hot, autovacuums]:")
    out += [f"    {r}" for r in d["tables"]]
    for n, events in f["cluster_events"].items():
        out += [f"  {n}: {e}" for e in events]
    return out


# ---------------------------------------------------------------------------- failover


class Node:
    """``monitord run`` as one node, its JSON log lines kept with their arrival times."""

    def __init__(self, node: str, cfg: Path, work: Path) -> None:
        self.node = node
        self.cfg = cfg
        self.dir = work / node
        self.dir.mkdir(exist_ok=True)
        self.entries: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "monitord", "run", "--config", str(self.cfg)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            env=node_env(self.node, self.dir),
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with (self.dir / "node.log").open("ab") as log:
            for raw in proc.stdout:
                log.write(raw)
                try:
                    entry = json.loads(raw)
                except ValueError:
                    entry = {"event": raw.decode(errors="replace").rstrip()}
                if isinstance(entry, dict):
                    with self._lock:
                        self.entries.append((time.monotonic(), entry))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def first(self, event: str, since: float) -> float | None:
        with self._lock:
            for t, e in self.entries:
                if t >= since and e.get("event") == event:
                    return t
        return None

    def signal(self, sig: int) -> None:
        if self.alive:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def until(look: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


def leader_row(pg: PgServer, db: str) -> tuple[str, int]:
    got = rows(pg, db, "SELECT coalesce(node, ''), epoch FROM cluster_leader WHERE id = 1")
    return (got[0][0], int(got[0][1])) if got else ("", 0)


def new_leader(nodes: dict[str, Node], besides: str, since: float) -> tuple[str, float] | None:
    seen = [
        (t, n)
        for n, node in nodes.items()
        if n != besides and (t := node.first("cluster.leader", since)) is not None
    ]
    return (min(seen)[1], min(seen)[0]) if seen else None


def wait_beaten(pg: PgServer, db: str, node: Node, timeout: float) -> bool:
    def look() -> bool:
        got = rows(pg, db, f"SELECT pid FROM cluster_node WHERE id = '{node.node}'")
        return bool(got) and int(got[0][0]) == node.pid

    return bool(until(look, timeout, every=0.25))


def current_leader(pg: PgServer, db: str, nodes: dict[str, Node]) -> tuple[str, int]:
    """The node in cluster_leader, once it is a running node that has logged cluster.leader."""

    def look() -> tuple[str, int] | None:
        name, epoch = leader_row(pg, db)
        node = nodes.get(name)
        if node is not None and node.alive and node.first("cluster.leader", 0.0) is not None:
            return name, epoch
        return None

    found = until(look, TAKEOVER_WAIT_S, every=0.25)
    if not found:
        raise RuntimeError("no leader among the running nodes")
    return found  # type: ignore[no-any-return]


def kill_round(
    pg: PgServer, db: str, nodes: dict[str, Node], cfg: Path, work: Path
) -> dict[str, Any]:
    name, epoch = current_leader(pg, db, nodes)
    t0 = time.monotonic()
    nodes[name].kill()
    got = until(lambda: new_leader(nodes, name, t0), TAKEOVER_WAIT_S)
    took = got[1] - t0 if got else None
    after = until(lambda: leader_row(pg, db)[1] > epoch and leader_row(pg, db), 10.0, 0.25)
    restarted = Node(name, cfg, work)
    restarted.start()
    nodes[name] = restarted
    ok_start = until(lambda: restarted.first("started", 0.0), NODE_START_S, 0.25)
    beaten = bool(ok_start) and wait_beaten(pg, db, restarted, 30.0)
    return {
        "killed": name,
        "epoch_before": epoch,
        "new_leader": got[0] if got else None,
        "takeover_s": took,
        "epoch_after": after[1] if after else None,
        "restarted_and_beaten": beaten,
    }


def isolate_stop(pg: PgServer, db: str, nodes: dict[str, Node], wait: float) -> dict[str, Any]:
    """SIGSTOP the leader (hung, not dead: its kernel still answers keepalives); SIGCONT."""
    name, epoch = current_leader(pg, db, nodes)
    t0 = time.monotonic()
    nodes[name].signal(signal.SIGSTOP)
    got = until(lambda: new_leader(nodes, name, t0), wait)
    stopped_for = time.monotonic() - t0
    t1 = time.monotonic()
    nodes[name].signal(signal.SIGCONT)

    def stepped() -> tuple[str, float] | None:
        for ev in ("cluster.leader_lost", "cluster.fenced"):
            t = nodes[name].first(ev, t1)
            if t is not None:
                return ev, t - t1
        return None

    step = until(stepped, STEP_DOWN_WAIT_S)
    return {
        "stopped": name,
        "epoch_before": epoch,
        "stopped_for_s": stopped_for,
        "new_leader": got[0] if got else None,
        "takeover_s": got[1] - t0 if got else None,
        "epoch_after": leader_row(pg, db),
        "after_sigcont": {"event": step[0], "after_s": step[1]} if step else None,
    }


@contextlib.contextmanager
def dropped(host: str, port: int) -> Iterator[None]:
    """Every packet between ``host`` and the server's port dropped (this namespace only)."""
    rules = [
        ["OUTPUT", "-p", "tcp", "-d", host, "--dport", str(port), "-j", "DROP"],
        ["OUTPUT", "-p", "tcp", "-s", host, "--sport", str(port), "-j", "DROP"],
    ]
    for r in rules:
        subprocess.run(["iptables", "-A", *r], check=True, timeout=10)
    try:
        yield
    finally:
        for r in rules:
            subprocess.run(["iptables", "-D", *r], check=False, timeout=10)


def isolate_net(pg: PgServer, db: str, nodes: dict[str, Node]) -> dict[str, Any]:
    """The leader's packets to and from PostgreSQL dropped: a partition, as the server sees it."""
    name, epoch = current_leader(pg, db, nodes)
    t0 = time.monotonic()
    with dropped(DB_HOST[name], pg.port):
        got = until(lambda: new_leader(nodes, name, t0), TAKEOVER_WAIT_S)
        lost = until(lambda: nodes[name].first("cluster.leader_lost", t0), STEP_DOWN_WAIT_S)
        fenced = nodes[name].first("cluster.fenced", t0)
        failed = nodes[name].first("cluster.store_failed", t0)
        t_heal = time.monotonic()
        heal_db = float(rows(pg, db, "SELECT extract(epoch FROM now())")[0][0])

    def writes_again() -> bool:
        got = rows(
            pg, db, f"SELECT extract(epoch FROM max(at)) FROM node_result WHERE node = '{name}'"
        )
        return bool(got and got[0][0] and float(got[0][0]) > heal_db)

    back = until(writes_again, 60.0, 0.5)
    return {
        "isolated": name,
        "epoch_before": epoch,
        "new_leader": got[0] if got else None,
        "takeover_s": got[1] - t0 if got else None,
        "old_leader_lost_after_s": lost - t0 if lost else None,
        "old_leader_fenced_after_s": fenced - t0 if fenced else None,
        "epoch_after": leader_row(pg, db),
        "old_leader_store_failed_after_s": failed - t0 if failed else None,
        "old_leader_writes_again_after_heal_s": time.monotonic() - t_heal if back else None,
    }


def failover(
    pg: PgServer,
    servers: Servers,
    sites: int,
    kills: int,
    *,
    stop_wait: float,
    net: bool,
    keep: bool = False,
) -> dict[str, Any]:
    db = "failover"
    pg.psql(f"CREATE DATABASE {db} TEMPLATE template0")
    work = Path(tempfile.mkdtemp(prefix="monitord-bench-failover-"))
    nodes: dict[str, Node] = {}
    try:
        cfg = cluster_config(work / "config", pg, db, servers.http_urls(), sites)
        for n in NODES:
            nodes[n] = Node(n, cfg, work)
            nodes[n].start()
        for n, node in nodes.items():
            if not until(lambda node=node: node.first("started", 0.0), NODE_START_S, 0.25):
                raise RuntimeError(f"node {n} did not start; see its log")
        rounds = []
        for i in range(kills):
            r = kill_round(pg, db, nodes, cfg, work)
            rounds.append(r)
            took = f"{r['takeover_s']:.2f} s" if r["takeover_s"] is not None else "MISSED"
            print(
                f"  kill {i + 1}: {r['killed']} (epoch {r['epoch_before']}) -> "
                f"{r['new_leader']} (epoch {r['epoch_after']}) in {took}; restarted and beaten: "
                f"{r['restarted_and_beaten']}",
                flush=True,
            )
            time.sleep(SETTLE_S)
        times = [r["takeover_s"] for r in rounds if r["takeover_s"] is not None]
        out: dict[str, Any] = {
            "sites": sites,
            "kills": rounds,
            "takeover": {
                "n": len(times),
                "missed": len(rounds) - len(times),
                "min": min(times) if times else None,
                "median": median(times) if times else None,
                "max": max(times) if times else None,
            },
        }
        print(f"  takeover over {len(rounds)} kills: {out['takeover']}", flush=True)
        if stop_wait > 0:
            out["sigstop"] = isolate_stop(pg, db, nodes, stop_wait)
            print(f"  SIGSTOP of the leader: {out['sigstop']}", flush=True)
            time.sleep(SETTLE_S)
        if net:
            out["net"] = isolate_net(pg, db, nodes)
            print(f"  leader's database packets dropped: {out['net']}", flush=True)
        out["incidents"] = rows(pg, db, "SELECT count(*) FROM incident")[0][0]
        out["outbox"] = rows(pg, db, "SELECT count(*) FROM outbox")[0][0]
        return out
    finally:
        for node in nodes.values():
            node.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if keep:
            print(f"  the nodes' logs are kept in {work}/n*/node.log")
        else:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------- main


def in_own_netns() -> bool:
    return os.environ.get(NETNS_ENV) == "1"


def reexec_in_netns() -> None:
    """Become ``unshare``, running this script again in a new network namespace (root only)
    with lo up; a SIGTERM to it reaches the script (``--kill-child``), which cleans up."""
    os.environ[NETNS_ENV] = "1"
    argv = ["unshare", "-n", "--kill-child=SIGTERM", "--", "sh", "-c"]
    argv += ['ip link set lo up && exec "$@"', "sh", PYTHON, str(Path(__file__).resolve())]
    os.execvp("unshare", [*argv, *sys.argv[1:]])


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # run the clean-ups (finally blocks, context managers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--warmup", type=float, default=65.0)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--failover-sites", type=int, default=300)
    ap.add_argument("--stop-wait", type=float, default=60.0, help="0: no SIGSTOP isolation")
    ap.add_argument("--skip", default="", help="comma-separated: steady, failover, net")
    ap.add_argument("--no-netns", action="store_true", help="stay in the host's namespace")
    ap.add_argument("--quick", action="store_true", help="1,000 sites, short windows, 3 kills")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the failover nodes' logs")
    args = ap.parse_args()
    if args.quick:
        args.sites, args.warmup, args.duration, args.kills = 1000, 30.0, 45.0, 3
        args.stop_wait = min(args.stop_wait, 30.0)
    tools = os.geteuid() == 0 and all(shutil.which(t) for t in ("unshare", "ip", "iptables"))
    if tools and not args.no_netns and not in_own_netns():
        reexec_in_netns()
    signal.signal(signal.SIGTERM, _terminated)
    skip = set(filter(None, args.skip.split(",")))
    net = in_own_netns() and tools and "net" not in skip
    m = machine()
    print(f"machine: {m.nproc} CPUs ({m.cpu}), {m.memory}, Python {m.python}, load {loadavg()}")
    print(f"network namespace of its own: {in_own_netns()}")
    results: dict[str, Any] = {"machine": m.__dict__}
    listen = ("127.0.0.1", *DB_HOST.values())
    with local_servers() as servers, postgres_server(listen) as pg:
        print(f"servers: {servers.kind}; {pg.version} on port {pg.port}", flush=True)
        results.update(servers=servers.kind, postgres=pg.version)
        if "steady" not in skip:
            print(f"steady: {args.sites} sites ({args.warmup:g} s + {args.duration:g} s)…")
            f = steady(pg, servers, args.sites, warmup=args.warmup, duration=args.duration)
            results["steady"] = f
            print("\n".join(describe_steady(f)), flush=True)
        if "failover" not in skip:
            print(f"failover: {args.kills} kills of the leader, {args.failover_sites} sites…")
            results["failover"] = failover(
                pg,
                servers,
                args.failover_sites,
                args.kills,
                stop_wait=args.stop_wait,
                net=net,
                keep=args.keep,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
