"""Several real nodes on one real PostgreSQL: quorum, leader death and isolation, a database
restart, each judged at the SMTP catcher and in the database (issue 12's tests).

Three ``monitord run`` processes (n1, n2, n3) read one configuration directory; each binds its
probes to its own loopback address (127.0.0.1-3, ``nodes.<id>.source_address``), so a site
can fail for some nodes only. The scenarios run at once (tests/cluster/harness.py), so the
module takes as long as its longest scenario; the restart scenario has a server of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitord.store.postgres.cluster import LEADER_LOCK_KEY
from tests.cluster.harness import (
    NODES,
    RESULTS,
    STEP_DOWN_LIMIT,
    TAKEOVER_LIMIT,
    VERDICT,
    ClusterRig,
    PeerSite,
    Scenario,
    ScenarioResult,
    run_scenarios,
)
from tests.helpers.postgres import PgServer, running_postgres

pytestmark = pytest.mark.cluster


async def _healthy(rig: ClusterRig, sites: list[PeerSite]) -> None:
    """Every node sees every site up, and one node leads."""
    if not await rig.all_see(sites, "up"):
        raise AssertionError("the nodes never all saw the sites up")
    await rig.wait_leader()


# ---------------------------------------------------------------- 1. quorum


async def quorum(rig: ClusterRig) -> None:
    """Site A fails for n3 only: outvoted, no alert. Site B fails for n2 and n3: one DOWN
    naming them, one RECOVERED, one incident, one ticket."""
    a, b = await rig.site("acme-a"), await rig.site("acme-b")
    rig.config([a, b])
    await rig.start(*NODES)
    await _healthy(rig, [a, b])
    since = await rig.db_now()
    a.fail_for("n3")
    b.fail_for("n2", "n3")
    await rig.mail("site-down", "acme-b")
    # n3 says A is down round after round; the leader decides on every change and stays quiet.
    rows = await rig.results_after(a, "n3", since, count=8)
    downs = sum(1 for _at, status in rows if status == "down")
    rig.check("n3 reports site A down again and again", downs >= 5, f"{downs} down results")
    views = await rig.node_views([a])
    rig.check(
        "n1 and n2 see site A up meanwhile",
        views.get(("acme-a", "n1")) == "up" and views.get(("acme-a", "n2")) == "up",
        f"{views}",
    )
    rig.check("no incident for site A", not await rig.incidents("acme-a"))
    rig.check("no DOWN for site A", rig.count("site-down", "acme-a") == 0)
    texts = rig.texts("site-down", "acme-b")
    rig.check(
        "the DOWN names the locations that saw it",
        bool(texts) and all(n in texts[0] for n in ("n2", "n3")),
        texts[0][:400] if texts else "no DOWN",
    )
    b.fix()
    a.fix()
    await rig.mail("site-recovered", "acme-b")
    await rig.stop_all()
    rig.exactly({("site-down", "acme-b"): 1, ("site-recovered", "acme-b"): 1}, [a, b])
    incidents = await rig.incidents("acme-b")
    rig.check(
        "one incident for site B, ended",
        len(incidents) == 1 and incidents[0]["ended"] is not None,
        f"{[dict(i) for i in incidents]}",
    )
    tickets = await rig.tickets("acme-b")
    rig.check("one ticket for site B", len(tickets) == 1, f"{[dict(t) for t in tickets]}")
    rig.check("no ticket for site A", not await rig.tickets("acme-a"))
    await rig.outbox_settled()
    rig.figure(
        "site A (down for n3 only)",
        f"{downs} down results from n3, {rig.count('site-down', 'acme-a')} DOWN",
    )
    rig.figure(
        "site B (down for n2, n3)",
        f"{rig.count('site-down', 'acme-b')} DOWN, {rig.count('site-recovered', 'acme-b')} "
        f"RECOVERED, {len(incidents)} incident, {len(tickets)} ticket",
    )


# ---------------------------------------------------------------- 2. the leader dies


async def leader_killed(rig: ClusterRig) -> None:
    """kill -9 of the leader while a site is down: a new leader within 30 s, one DOWN, one
    RECOVERED."""
    s = await rig.site("acme-www")
    rig.config([s])
    await rig.start(*NODES)
    await _healthy(rig, [s])
    s.fail_all()
    await rig.mail("site-down", s.name)
    # Recorded as sent first: the leader dies mid-incident, not mid-send (a kill between the
    # server's 250 and the record is SMTP's one resend, with the same Message-ID).
    rig.check("the DOWN is recorded as sent", await rig.all_sent())
    leader = await rig.wait_leader()
    others = [n for n in NODES if n != leader.node]
    t0 = time.monotonic()
    rig.nodes[leader.node].kill9()
    new = await rig.first("cluster.leader", TAKEOVER_LIMIT, nodes=others, since=t0)
    took = (new.t - t0) if new is not None else None
    rig.figure("takeover after kill -9 (s)", f"{took:.2f}" if took is not None else "none")
    rig.check(
        f"a new leader within {TAKEOVER_LIMIT:.0f}s of the kill",
        new is not None,
        f"{new.node} after {took:.1f}s" if new is not None and took is not None else "none",
    )
    if new is None:
        return
    rig.check(
        "the new leader's epoch is higher",
        int(new.entry["epoch"]) > int(leader.entry["epoch"]),
        f"{leader.entry['epoch']} -> {new.entry['epoch']}",
    )
    # The new leader decides on the still-down site for a few rounds: no second DOWN.
    since = await rig.db_now()
    for n in others:
        await rig.results_after(s, n, since, count=3)
    s.fix()
    await rig.mail("site-recovered", s.name)
    await rig.stop_all()
    rig.exactly({("site-down", s.name): 1, ("site-recovered", s.name): 1}, [s])
    incidents = await rig.incidents(s.name)
    rig.check("one incident", len(incidents) == 1, f"{len(incidents)}")
    await rig.outbox_settled()


# ---------------------------------------------------------------- 4. the database restarts

RESTART_SITES = 20


async def db_restarted(rig: ClusterRig) -> None:
    """PostgreSQL restarted (fast) while sites go down and come back: the nodes reconnect,
    every DOWN and RECOVERED is delivered exactly once."""
    sites = [await rig.site(f"acme-{i:02d}") for i in range(RESTART_SITES)]
    rig.config(sites)
    await rig.start(*NODES)
    await _healthy(rig, sites)
    first, second = sites[0:6], sites[6:12]
    for s in first:
        s.fail_all()
    for s in first:
        await rig.mail("site-down", s.name)
    epoch0 = await rig.epoch()
    t0 = time.monotonic()
    for s in second:
        s.fail_all()
    for s in first[:3]:
        s.fix()
    await asyncio.to_thread(rig.pg.restart)
    rig.figure("restart took (s)", f"{time.monotonic() - t0:.1f}")
    lost = await rig.first("cluster.leader_lost", VERDICT, since=t0)
    rig.check(
        "the restart ends the leader's lock session: it steps down",
        lost is not None,
        f"{lost.node}: {lost.entry.get('reason')}" if lost else "no node stepped down",
    )
    relected = await rig.first(
        "cluster.leader", VERDICT, since=t0, where=lambda e: int(e.get("epoch", 0)) > epoch0
    )
    rig.check(
        "a leader is elected again, with a higher epoch",
        relected is not None,
        f"{relected.node} epoch {relected.entry['epoch']} after {relected.t - t0:.1f}s"
        if relected
        else "none",
    )
    for s in second:
        await rig.mail("site-down", s.name)
    for s in first[:3]:
        await rig.mail("site-recovered", s.name)
    failing = sorted({f.node for f in rig.logged("cluster.store_failed", since=t0)})
    back = await asyncio.gather(
        *(rig.first("cluster.store_back", VERDICT, nodes=[n], since=t0) for n in failing)
    )
    rig.check(
        "every node that failed to write says it is back",
        all(b is not None for b in back),
        f"failed: {failing}",
    )
    rig.figure("nodes whose writes failed during the restart", failing or "none")
    for s in [*first[3:], *second]:
        s.fix()
    for s in [*first[3:], *second]:
        await rig.mail("site-recovered", s.name)
    leader = rig.leader()
    rig.figure(
        "leader after the restart",
        f"{leader.node if leader else None}, epoch {epoch0} -> {await rig.epoch()}",
    )
    await rig.stop_all()
    expected = {(k, s.name): 1 for s in [*first, *second] for k in ("site-down", "site-recovered")}
    rig.exactly(expected, sites)
    counts = {s.name: len(await rig.incidents(s.name)) for s in sites}
    wrong = {
        n: c for n, c in counts.items() if c != (1 if n in {s.name for s in first + second} else 0)
    }
    rig.check("one incident per site that failed, none for the others", not wrong, f"{wrong}")
    await rig.outbox_settled()
    rig.figure("notices", f"{len(rig.catcher.messages)} mails for {len(expected)} expected")


# ---------------------------------------------------------------- 5. the leader is cut off


async def leader_cut_off(rig: ClusterRig) -> None:
    """The leader's path to the database is cut (its connections killed) while the others'
    is not: it stops leading at once, another node leads with a higher epoch, the notices of
    a site that went down meanwhile are delivered once; mended, it stays a follower. Then
    the new leader's lock session alone is killed (its other connections live on): it steps
    down too, and a write it still tries is refused by the fence."""
    for n in NODES:
        await rig.forwarder(n, rig.pg.port)
    url = rig.db_url.replace(f":{rig.pg.port}/", ":${PGPORT}/")
    s = await rig.site("acme-www")
    rig.config([s], url=url)
    await rig.start(*NODES)
    await _healthy(rig, [s])
    old = await rig.wait_leader()
    others = [n for n in NODES if n != old.node]
    t0 = time.monotonic()
    rig.forwarders[old.node].cut()
    s.fail_all()
    lost = await rig.first("cluster.leader_lost", STEP_DOWN_LIMIT, nodes=[old.node], since=t0)
    rig.check(
        f"the cut-off leader steps down within {STEP_DOWN_LIMIT:.0f}s",
        lost is not None,
        f"after {lost.t - t0:.1f}s ({lost.entry.get('reason')})" if lost else "it did not",
    )
    new = await rig.first("cluster.leader", TAKEOVER_LIMIT, nodes=others, since=t0)
    took = new.t - t0 if new is not None else None
    rig.figure("step-down after the cut (s)", f"{lost.t - t0:.2f}" if lost else "none")
    rig.figure("takeover after the cut (s)", f"{took:.2f}" if took is not None else "none")
    rig.check(
        f"another node leads within {TAKEOVER_LIMIT:.0f}s, with a higher epoch",
        new is not None and int(new.entry["epoch"]) > int(old.entry["epoch"]),
        f"{new.node} epoch {new.entry['epoch']} after {took:.1f}s"
        if new is not None and took is not None
        else "none",
    )
    await rig.mail("site-down", s.name)
    t1 = time.monotonic()
    rig.forwarders[old.node].mend()
    back = await rig.first("cluster.store_back", VERDICT, nodes=[old.node], since=t1)
    rig.check("mended, the old leader writes again", back is not None)
    since = await rig.db_now()
    await rig.results_after(s, old.node, since, count=3)
    rig.check(
        "mended, the old leader stays a follower",
        not rig.logged("cluster.leader", nodes=[old.node], since=t0),
    )
    s.fix()
    await rig.mail("site-recovered", s.name)
    if new is not None:
        await _kill_lock_session(rig, new.node, int(new.entry["epoch"]))
    await rig.stop_all()
    rig.exactly({("site-down", s.name): 1, ("site-recovered", s.name): 1}, [s])
    rig.check("one incident", len(await rig.incidents(s.name)) == 1)
    await rig.outbox_settled()


async def _kill_lock_session(rig: ClusterRig, node: str, epoch: int) -> None:
    """Terminate the backend holding the leader lock (``node``'s lock connection only)."""
    rows = await rig.sql(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND ((classid::bigint << 32) | objid::bigint) = $1 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        LEADER_LOCK_KEY,
    )
    rig.check("the leader lock is held by one session", len(rows) == 1, f"{len(rows)}")
    if len(rows) != 1:
        return
    t0 = time.monotonic()
    await rig.sql("SELECT pg_terminate_backend($1)", rows[0]["pid"])
    lost = await rig.first("cluster.leader_lost", STEP_DOWN_LIMIT, nodes=[node], since=t0)
    rig.check(
        f"its lock session killed, {node} steps down within {STEP_DOWN_LIMIT:.0f}s",
        lost is not None,
        f"after {lost.t - t0:.1f}s ({lost.entry.get('reason')})" if lost else "it did not",
    )
    new = await rig.first(
        "cluster.leader",
        TAKEOVER_LIMIT,
        since=t0,
        where=lambda e: int(e.get("epoch", 0)) > epoch,
    )
    took = new.t - t0 if new is not None else None
    rig.figure("takeover after the lock session was killed (s)", f"{took:.2f}" if took else "none")
    rig.check("a leader with a higher epoch follows", new is not None, new.node if new else "none")
    fenced = rig.logged("cluster.fenced", nodes=[node], since=t0)
    rig.figure("late writes the fence refused", f"{len(fenced)} (cluster.fenced of {node})")


# ---------------------------------------------------------------- running them

SCENARIOS = [
    Scenario("quorum", quorum, budget=150),
    Scenario("leader-killed", leader_killed, budget=150),
    Scenario("db-restarted", db_restarted, budget=180, dedicated_server=True),
    Scenario("leader-cut-off", leader_cut_off, budget=180),
]
BY_ID = {s.id: s for s in SCENARIOS}


@pytest.fixture(scope="module")
def cluster_results(
    request: pytest.FixtureRequest,
    postgres_server: PgServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, ScenarioResult]]:
    """The results of every selected scenario, run at once the first time a test asks."""
    ids = [
        item.callspec.params["scenario_id"]
        for item in request.session.items
        if hasattr(item, "callspec") and "scenario_id" in item.callspec.params
    ]
    chosen = [BY_ID[i] for i in dict.fromkeys(ids)]
    with contextlib.ExitStack() as stack:
        own = (
            stack.enter_context(running_postgres())
            if any(s.dedicated_server for s in chosen)
            else None
        )

        def server_for(s: Scenario) -> PgServer:
            return own if s.dedicated_server and own is not None else postgres_server

        results = run_scenarios(chosen, Path(tmp_path_factory.mktemp("cluster")), server_for)
    request.config.stash[RESULTS] = results
    yield results


@pytest.mark.parametrize("scenario_id", list(BY_ID))
def test_cluster_scenario(scenario_id: str, cluster_results: dict[str, ScenarioResult]) -> None:
    result = cluster_results[scenario_id]
    print(result.explain())
    assert result.passed, result.explain()
