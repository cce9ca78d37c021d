"""Three real daemons, one real PostgreSQL, one configuration directory: each node probes the
loopback site from its own source address (127.0.0.1, .2, .3), which the site answers 503 or
200 by the caller's address. Driven tick by tick on one test clock (no scheduler), so every
round is: each node probes and writes its own result, then the leader decides.

- failing for one node only: no alert at all (the node is outvoted);
- failing for two of three: one DOWN (naming the two locations), one ticket; back: one
  RECOVERED; followers never decide;
- the leader stops: another node is elected with a higher epoch and finishes the incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from monitord.daemon import Daemon
from monitord.events import Event
from tests.daemon.test_daemon_postgres import on_postgres
from tests.daemon.test_retention_daemon import on
from tests.helpers.clock import Clock
from tests.helpers.daemon import KEY, T0, write_config
from tests.helpers.postgres import open_postgres_store
from tests.helpers.sites import LoopbackSite, serve_app
from tests.helpers.smtp import SmtpServer, plain_text

NODES = {"n1": "127.0.0.1", "n2": "127.0.0.2", "n3": "127.0.0.3"}
NODES_YAML = (
    "nodes: {" + ", ".join(f"{n}: {{source_address: {a}}}" for n, a in NODES.items()) + "}\n"
)


class ByCaller:
    """A site that fails (503) for the callers in ``failing`` and answers 200 to the others."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.seen: set[str] = set()

    def app(self) -> web.Application:
        async def page(request: web.Request) -> web.Response:
            remote = request.remote or ""
            self.seen.add(remote)
            return web.Response(status=503 if remote in self.failing else 200, text="ok")

        app = web.Application()
        app.router.add_get("/", page)
        return app


@pytest.fixture
async def by_caller() -> AsyncIterator[tuple[ByCaller, LoopbackSite]]:
    site = ByCaller()
    async with serve_app(site.app()) as loop_site:
        yield site, loop_site


class Cluster:
    """Daemons of one configuration on one database, started by node id, on one clock."""

    def __init__(self, cfg: Path, clock: Clock, site: ByCaller) -> None:
        self.cfg = cfg
        self.clock = clock
        self.site = site
        self.daemons: dict[str, Daemon] = {}

    async def start(self, node: str) -> Daemon:
        d = Daemon(
            self.cfg, clock=self.clock, schedule=False, notifier_factory=on(self.clock), node=node
        )
        await d.start()
        self.daemons[node] = d
        return d

    async def stop(self, node: str) -> None:
        await self.daemons.pop(node).stop()

    def leader(self) -> str | None:
        leaders = [n for n, d in self.daemons.items() if d.seat is not None and d.seat.leader]
        assert len(leaders) <= 1, leaders
        return leaders[0] if leaders else None

    async def round(self) -> dict[str, list[str]]:
        """One interval: every node probes (the leader last, so it decides on all three)."""
        self.clock.advance(seconds=60)
        lead = self.leader()
        order = sorted(self.daemons, key=lambda n: n == lead)
        out: dict[str, list[str]] = {}
        for node in order:
            events: list[Event] = await self.daemons[node].tick(KEY)
            out[node] = [e.kind for e in events]
        return out


@pytest.fixture
async def cluster(
    tmp_path: Path,
    by_caller: tuple[ByCaller, LoopbackSite],
    smtp_server: SmtpServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cluster]:
    """The site, one configuration for the nodes (NODES), none started; all stopped after."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    site, loop_site = by_caller
    cfg = write_config(tmp_path / "cfg", loop_site.url, smtp_server, main_extra=NODES_YAML)
    made = Cluster(on_postgres(cfg, postgres_url), Clock(T0), site)
    try:
        yield made
    finally:
        for node in list(made.daemons):
            await made.stop(node)


async def test_one_failing_location_is_outvoted_two_make_one_incident(
    cluster: Cluster, smtp_server: SmtpServer, postgres_url: str
) -> None:
    site = cluster.site
    try:
        for node in NODES:
            await cluster.start(node)
        assert cluster.leader() == "n1"
        assert cluster.daemons["n1"].seat is not None
        assert cluster.daemons["n1"].seat.epoch == 1

        # Healthy: nothing.
        assert await cluster.round() == {"n2": [], "n3": [], "n1": []}
        assert site.seen == set(NODES.values())  # each node probed from its own address

        # One location fails (n3's network): outvoted, three rounds long.
        site.failing = {"127.0.0.3"}
        for _ in range(3):
            assert await cluster.round() == {"n2": [], "n3": [], "n1": []}

        # Two of three: one DOWN, decided by the leader only, then silence.
        site.failing = {"127.0.0.2", "127.0.0.3"}
        assert await cluster.round() == {"n2": [], "n3": [], "n1": ["site-down"]}
        for _ in range(2):
            assert await cluster.round() == {"n2": [], "n3": [], "n1": []}
        [down] = await smtp_server.wait_for_async(1)
        text = plain_text(down.message)
        assert "down from n2, n3; up from n1" in text, text

        # The leader stops: another node is elected (a higher epoch) and finishes the incident.
        await cluster.stop("n1")
        await _until(lambda: cluster.leader() is not None)
        new = cluster.leader()
        assert new in ("n2", "n3")
        seat = cluster.daemons[new].seat
        assert seat is not None and seat.epoch == 2

        site.failing = set()
        kinds = await cluster.round()
        assert sorted(k for ks in kinds.values() for k in ks) == ["site-recovered"]
        assert kinds[new] == ["site-recovered"]
        assert await cluster.round() == {n: [] for n in cluster.daemons}
        mails = await smtp_server.wait_for_async(2)
        # Read while the nodes run: as they stop one by one, a node still running may be
        # elected when the leader before it resigns (a higher epoch, rightly).
        async with open_postgres_store(postgres_url) as store:
            leader = await store.leader()
        assert leader is not None and (leader.node, leader.epoch) == (new, 2)
    finally:
        for node in list(cluster.daemons):
            await cluster.stop(node)

    assert [m.message["X-Monitord-Kind"] for m in mails] == ["site-down", "site-recovered"]
    async with open_postgres_store(postgres_url) as store:
        [ticket] = await store.local_tickets()
        assert ticket.status == "resolved"
        [incident] = await store.incidents()
        assert incident.ended is not None
        assert sorted(n.id for n in await store.nodes()) == ["n1", "n2", "n3"]


async def _until(cond: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_a_reload_that_removes_a_down_site_closes_its_incident_once_by_the_leader(
    cluster: Cluster, smtp_server: SmtpServer, postgres_url: str
) -> None:
    site, cfg = cluster.site, cluster.cfg
    try:
        for node in ("n1", "n2"):
            await cluster.start(node)
        assert cluster.leader() == "n1"
        site.failing = {"127.0.0.1", "127.0.0.2"}
        assert await cluster.round() == {"n2": [], "n1": ["site-down"]}
        await cluster.daemons["n2"].reload()  # a follower learns its state from the leader
        await cluster.daemons["n2"]._load_decided()
        assert cluster.daemons["n2"].states[KEY].status == "down"

        # The site is removed from the configuration; the follower reloads first.
        client = cfg / "clients" / "acme.yml"
        client.write_text(client.read_text().split("sites:")[0] + "sites: []\n")
        assert await cluster.daemons["n2"].reload()  # no write of the leader's: no refusal
        async with open_postgres_store(postgres_url) as store:
            assert len(await store.open_incidents()) == 1
        assert await cluster.daemons["n1"].reload()
        async with open_postgres_store(postgres_url) as store:
            assert await store.open_incidents() == []
        mails = await smtp_server.wait_for_async(2)
    finally:
        for node in list(cluster.daemons):
            await cluster.stop(node)
    assert [m.message["X-Monitord-Kind"] for m in mails] == ["site-down", "site-recovered"]


async def test_a_stale_leader_s_late_write_is_refused_by_the_epoch(
    cluster: Cluster, smtp_server: SmtpServer, postgres_url: str
) -> None:
    site, clock = cluster.site, cluster.clock
    try:
        for node in ("n1", "n2"):
            await cluster.start(node)
        n1, n2 = cluster.daemons["n1"], cluster.daemons["n2"]
        assert n1.seat is not None and n2.seat is not None
        assert n1.seat.leader and n1.seat.epoch == 1
        assert await cluster.round() == {"n2": [], "n1": []}

        # n1 is cut off from its lock without noticing (its election task stops dead, its
        # lock session ends): n2 is elected with epoch 2 while n1 still believes it leads.
        election = n1.seat.tasks[0]
        election.cancel()
        await _until(lambda: n2.seat is not None and n2.seat.leader)
        assert n2.seat.epoch == 2 and n1.seat.leader

        # The site goes down for both: n2 (the leader) decides one DOWN.
        site.failing = {"127.0.0.1", "127.0.0.2"}
        clock.advance(seconds=60)
        assert [e.kind for e in await n1.tick(KEY)] == []  # decided before n2's row: no quorum
        assert [e.kind for e in await n2.tick(KEY)] == ["site-down"]
        # n1's next decision is a late write of a stale leader: refused, and n1 steps down.
        clock.advance(seconds=60)
        assert [e.kind for e in await n1.tick(KEY)] == []
        assert not n1.seat.leader
        assert [e.kind for e in await n2.tick(KEY)] == []
        [down] = await smtp_server.wait_for_async(1)
        assert down.message["X-Monitord-Kind"] == "site-down"
    finally:
        for node in list(cluster.daemons):
            await cluster.stop(node)
    async with open_postgres_store(postgres_url) as store:
        [incident] = await store.incidents()
        assert incident.ended is None
        downs = [i for i in await store.outbox_items() if "/down|" in i.key]
        assert sorted(i.notifier for i in downs) == ["email", "tickets"]
    assert len(smtp_server.messages) == 1


async def test_a_follower_parses_only_the_decided_states_that_changed(
    cluster: Cluster, postgres_url: str
) -> None:
    site = cluster.site
    for node in ("n1", "n2"):
        await cluster.start(node)
    n1, n2 = cluster.daemons["n1"], cluster.daemons["n2"]
    assert n1.store is not None
    assert await cluster.round() == {"n2": [], "n1": []}
    await n1.store.flush()  # the leader's batched writes, as its flusher does every 0.5 s
    await n2._refresh_decided()
    first = n2.states[KEY]
    assert first.status == "up"
    await n2._refresh_decided()  # nothing stored has changed: the same object, not parsed again
    assert n2.states[KEY] is first
    site.failing = {"127.0.0.1", "127.0.0.2"}
    assert await cluster.round() == {"n2": [], "n1": ["site-down"]}
    await n1.store.flush()
    await n2._refresh_decided()  # changed: read again, and the site's incident with it
    assert n2.states[KEY].status == "down"
    assert [s.open for s in n2.site_states.values()] == [True]
