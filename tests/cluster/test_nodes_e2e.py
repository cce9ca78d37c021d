"""Several real nodes on one real PostgreSQL: quorum, leader death (mid-incident and in the
middle of a patch-day run) and isolation, a database restart, each judged at the SMTP catcher
and in the database (issue 12's tests).

Three ``monitord run`` processes (n1, n2, n3) read one configuration directory; each binds its
probes to its own loopback address (127.0.0.1-3, ``nodes.<id>.source_address``), so a site
can fail for some nodes only. The scenarios run at once (tests/cluster/harness.py), so the
module takes as long as its longest scenario; the restart scenario has a server of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.daemon import Daemon
from monitord.drupal.service import SecurityService, security_service
from monitord.notify.email import message_id_for
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
from tests.drupal.test_service_daemon import rss, webform
from tests.faults.harness import (
    AGENCY,
    JO_CONTACT,
    MAIL_DOMAIN,
    REPO,
    FeedServer,
    SiteConf,
    notices,
    until,
    write_config,
)
from tests.helpers.clock import Clock
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


# ---------------------------------------------------------------- 3. the leader dies on patch day

PATCH_SITES = 8
MAINT = "maint@acme.example"
MAINT_CONTACT = "{name: Maint Person, email: maint@acme.example, notify: [maintenance]}"
PATCH_RCPTS = (MAINT, AGENCY)
"""Each site's patch-day notice goes to its maintenance contact and, a copy, to the agency."""
DRUPAL = "{modules: {drupal/core: 10.3.9, drupal/webform: 6.2.3}}"
"""Affected by the moderately critical Webform advisory: queued for patch day."""
QUEUED_BEFORE = timedelta(days=40)
"""The queue is built this long before now: its patch day (every month's, at most five weeks
after) has come by the time the nodes start."""
GATE_AFTER = 3
"""Patch-day mails the catcher accepts before it holds every later MAIL: the leader dies with
some sites' notices delivered and the others not."""
CLAIMS_BACK = 75.0
"""Seconds from the kill until every notice the dead leader had claimed is delivered by
another node: its heartbeat is stale after limits.NODE_DEAD_AFTER (30 s, the last beat up to
limits.NODE_HEARTBEAT earlier), a running sender looks for such claims every
limits.NODE_HEARTBEAT, then a send."""
MIGRATE_TIMEOUT = 60.0
"""Seconds ``monitord state migrate`` may take (imports and two schemas, on a busy box)."""


async def _queue_patch_day(rig: ClusterRig, sites: Sequence[SiteConf], security: str) -> None:
    """Build the patch-day queue as a single daemon did ``QUEUED_BEFORE`` ago (the real advisory
    watcher on a driven clock, an SQLite store) and move it into the scenario's database with
    ``monitord state migrate``: the cluster starts with every site's item due."""
    seed = write_config(
        rig.dir / "seed",
        smtp_port=rig.catcher.port,
        sites=list(sites),
        contacts=(JO_CONTACT, MAINT_CONTACT),
        security=security,
    )
    then = datetime.now(UTC) - QUEUED_BEFORE
    daemon = Daemon(seed, clock=Clock(then), schedule=False, services=[security_service])
    await daemon.start()
    try:
        service = next(s for s in daemon.services if isinstance(s, SecurityService))
        report = await service.run_once(then)
    finally:
        await daemon.stop()
    rig.check(
        "the advisory is queued for patch day on every site",
        report.decisions == {"patch-day": len(sites)} and not report.events,
        f"{dict(report.decisions)}, {len(report.events)} events",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitord",
        "state",
        "migrate",
        "--to",
        rig.db_url,
        "--from",
        str(seed / "state.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), MIGRATE_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(f"monitord state migrate failed: {out.decode(errors='replace')}")


def _patch_counts(rig: ClusterRig) -> Counter[tuple[str, str]]:
    """Patch-day notices at the catcher by (site, recipient)."""
    return Counter((n.site, n.rcpt) for n in notices(rig.catcher) if n.kind == "patch-day")


async def _sent_message_ids(rig: ClusterRig) -> set[str]:
    rows = await rig.sql("SELECT key FROM outbox WHERE notifier = 'email' AND status = 'sent'")
    return {message_id_for(r["key"], MAIL_DOMAIN) for r in rows}


async def _at_the_gate(rig: ClusterRig) -> bool:
    """The middle of the run, made safe to kill in: sends are held at the gate, none is past
    its MAIL, and every message the catcher accepted is recorded as sent in the outbox (so
    the kill cannot fall between the server's 250 and the sender's record)."""
    catcher = rig.catcher
    deadline = time.monotonic() + VERDICT
    while time.monotonic() < deadline:
        if catcher.held >= 1 and catcher.open_transactions == 0:
            accepted = {n.message_id for n in notices(catcher)}
            if accepted <= await _sent_message_ids(rig):
                return True
        await asyncio.sleep(0.05)
    return False


async def leader_killed_mid_patch_day(rig: ClusterRig) -> None:
    """A patch day is due for eight sites when the nodes start; the leader's advisory round
    tickets them (one transaction) and starts mailing; kill -9 of the leader with some sites'
    notices delivered and the others not: a new leader within 30 s, and exactly one
    patch-day notice per site and recipient, one patch-day ticket per site."""
    feeds = FeedServer()
    feeds.base = await rig.serve(feeds.app())
    feeds.bodies["sa.xml"] = rss(webform())
    security = f"security:\n  feeds: [{feeds.url('sa.xml')}]\n  psa_json: null\n"
    sites = [
        SiteConf(f"acme-{i:02d}", f"https://www{i:02d}.acme.example/", checks="[]", drupal=DRUPAL)
        for i in range(PATCH_SITES)
    ]
    await _queue_patch_day(rig, sites, security)
    days = await rig.sql(
        "SELECT DISTINCT patch_day, patch_day <= now() AS due FROM patch_queue "
        "WHERE ticketed_at IS NULL"
    )
    rig.figure("patch day of the queue", ", ".join(str(r["patch_day"]) for r in days))
    if not rig.check(
        "the queue's patch day has come when the nodes start",
        bool(days) and all(r["due"] for r in days),
        f"{len(days)} days",
    ):
        return
    rig.config([], unprobed=sites, contacts=(JO_CONTACT, MAINT_CONTACT), security=security)
    rig.catcher.close_gate_after(GATE_AFTER)
    await rig.start(*NODES)
    leader = await rig.wait_leader()
    if not rig.check(
        "the run reaches the middle: sends held, none half-done", await _at_the_gate(rig)
    ):
        return
    ticketed = await rig.sql("SELECT count(*) AS n FROM patch_queue WHERE ticketed_at IS NOT NULL")
    rig.check(
        "the leader's run ticketed every site's item in one transaction",
        ticketed[0]["n"] == PATCH_SITES,
        f"{ticketed[0]['n']} of {PATCH_SITES}",
    )
    sending = await rig.sql(
        "SELECT run_id FROM outbox WHERE status = 'sending' AND attempt_started IS NOT NULL"
    )
    senders = Counter(str(r["run_id"]).rpartition("/")[0] for r in sending)
    rig.check(
        "the sends held at the gate are the leader's",
        set(senders) == {leader.node},
        f"{dict(senders)}, leader {leader.node}",
    )
    before = sum(_patch_counts(rig).values())
    rig.figure(
        "patch-day mails delivered before the kill",
        f"{before} of {PATCH_SITES * len(PATCH_RCPTS)} ({rig.catcher.held} sends held)",
    )
    rig.note(
        "killed where SMTP's one resend cannot duplicate: every later MAIL held at the "
        "catcher, no transaction past its MAIL, every accepted message recorded as sent; "
        "the held sends are resent by a survivor with the same Message-ID, never accepted "
        "before"
    )
    others = [n for n in NODES if n != leader.node]
    killed_at = await rig.db_now()
    t0 = time.monotonic()
    rig.nodes[leader.node].kill9()
    rig.catcher.open_gate()  # the dead leader's held sessions end without a message
    new = await rig.first("cluster.leader", TAKEOVER_LIMIT, nodes=others, since=t0)
    took = (new.t - t0) if new is not None else None
    rig.figure(
        "takeover after kill -9 mid patch day (s)", f"{took:.2f}" if took is not None else "none"
    )
    rig.check(
        f"a new leader within {TAKEOVER_LIMIT:.0f}s of the kill",
        new is not None,
        f"{new.node} after {took:.1f}s" if new is not None and took is not None else "none",
    )

    async def polled_again() -> bool:
        rows = await rig.sql("SELECT max(last_seen) AS t FROM advisory")
        return rows[0]["t"] is not None and rows[0]["t"] > killed_at

    deadline = time.monotonic() + VERDICT
    while not await polled_again() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    rig.check("the new leader's advisory round ran", await polled_again())
    want = {(s.id, r) for s in sites for r in PATCH_RCPTS}
    done = await until(lambda: want <= set(_patch_counts(rig)), CLAIMS_BACK)
    rig.figure(
        "the rest of the notices delivered after the kill (s)",
        f"{time.monotonic() - t0:.1f}" if done else f"not within {CLAIMS_BACK:.0f}",
    )
    await rig.stop_all()
    counts = _patch_counts(rig)
    wrong = {f"{s}->{r}": counts.get((s, r), 0) for s, r in want if counts.get((s, r), 0) != 1}
    extra = sorted(f"{s}->{r}" for s, r in set(counts) - want)
    rig.check(
        f"exactly one patch-day notice per site and recipient ({len(want)})",
        not wrong and not extra,
        f"wrong: {wrong}, unasked: {extra}",
    )
    ids = Counter((n.message_id, n.rcpt) for n in notices(rig.catcher))
    twice = [mid for mid, c in ids.items() if c > 1]
    rig.check("no message delivered twice (by Message-ID)", not twice, f"{twice}")
    tickets = await rig.sql(
        "SELECT site, count(*) AS n FROM ticket WHERE kind = 'patch-day' GROUP BY site"
    )
    per_site = {r["site"]: r["n"] for r in tickets}
    rig.check(
        "one patch-day ticket per site",
        per_site == {s.id: 1 for s in sites},
        f"{per_site}",
    )
    await rig.outbox_settled()
    resent = rig.logged(
        "outbox.uncertain",
        nodes=others,
        where=lambda e: e.get("resolution") == "resent-may-duplicate",
    )
    rig.figure(
        "held sends resent by the survivors (same Message-ID, never accepted before)",
        len(resent),
    )


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


# ---------------------------------------------------------------- 6. the leader freezes


async def leader_stopped(rig: ClusterRig) -> None:
    """The leader is stopped (SIGSTOP: alive to TCP, its kernel answers the keepalives, so the
    server keeps its lock) and a site goes down meanwhile: a follower deposes it once its lease
    is limits.LEADER_STALL old and takes over within 30 s; one DOWN; woken (SIGCONT) the old
    leader steps down; one RECOVERED."""
    s = await rig.site("acme-www")
    rig.config([s])
    await rig.start(*NODES)
    await _healthy(rig, [s])
    leader = await rig.wait_leader()
    others = [n for n in NODES if n != leader.node]
    frozen = rig.nodes[leader.node]
    t0 = time.monotonic()
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        s.fail_all()
        new = await rig.first("cluster.leader", TAKEOVER_LIMIT, nodes=others, since=t0)
        took = (new.t - t0) if new is not None else None
        rig.figure("takeover after SIGSTOP of the leader (s)", f"{took:.1f}" if took else "none")
        rig.check(
            f"a new leader within {TAKEOVER_LIMIT:.0f}s of the stop",
            new is not None,
            f"{new.node} after {took:.1f}s" if new is not None and took is not None else "none",
        )
        deposed = rig.logged("cluster.leader_stalled", nodes=others, since=t0)
        rig.check("a follower deposed the stalled leader", bool(deposed), f"{len(deposed)}")
        rig.check("one DOWN, from the new leader", await rig.mail("site-down", s.name))
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    t1 = time.monotonic()
    lost = await rig.first("cluster.leader_lost", STEP_DOWN_LIMIT, nodes=[leader.node], since=t1)
    rig.figure(
        "the woken leader stepped down after (s)",
        f"{lost.t - t1:.1f}" if lost is not None else "never",
    )
    rig.check("the woken leader steps down", lost is not None)
    s.fix()
    await rig.mail("site-recovered", s.name)
    await rig.stop_all()
    rig.exactly({("site-down", s.name): 1, ("site-recovered", s.name): 1}, [s])
    incidents = await rig.incidents(s.name)
    rig.check("one incident", len(incidents) == 1, f"{len(incidents)}")
    await rig.outbox_settled()


# ---------------------------------------------------------------- running them

SCENARIOS = [
    Scenario("quorum", quorum, budget=150),
    Scenario("leader-killed", leader_killed, budget=150),
    Scenario("leader-killed-patch-day", leader_killed_mid_patch_day, budget=180),
    Scenario("db-restarted", db_restarted, budget=180, dedicated_server=True),
    Scenario("leader-cut-off", leader_cut_off, budget=180),
    Scenario("leader-stopped", leader_stopped, budget=180),
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
