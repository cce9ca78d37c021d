"""This daemon as one node of several on one PostgreSQL database (docs/high-availability.md).

A mixin of :class:`monitord.daemon.Daemon`, active when the store is PostgreSQL:

* **Every node probes** the checks of its locations and folds each result into its own
  per-node streak (:func:`monitord.cluster.quorum.node_step`: down after the site's
  ``failure_threshold`` failures, up after ``success_threshold`` successes). The streak is
  written to ``node_result`` (batched, every :data:`NODE_RESULT_FLUSH`); nothing else.
* **Only the leader decides.** It reads the rows that changed, takes the quorum verdict of the
  fresh ones (:func:`monitord.cluster.quorum.verdict`) and feeds the incident engine
  (:meth:`CheckPath.apply`) one combined result per verdict, with thresholds of one (each node
  has applied the thresholds already). So one node's own network trouble is outvoted, and every
  DOWN, RECOVERED and ticket is made once, by one node, in one fenced transaction.
* **Leadership** (:class:`monitord.cluster.leader.Leadership`): a session advisory lock on its
  own connection plus an epoch. On election the new leader fences the store with its epoch,
  reads the stored check and site states (the last leader's), and starts the singletons
  (:data:`LEADER_SERVICES`); when it loses the lock it stops them at once and forgets writes
  not yet committed; a write it still tries is refused by the fence (FencedError).
* **Any node delivers** the outbox (claims are leases taken with SKIP LOCKED).
* Each node beats in ``cluster_node`` every NODE_HEARTBEAT; ``monitord status`` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitord import __version__, limits
from monitord.cluster.identity import NodeIdentity, location_labels
from monitord.cluster.quorum import NodeReport, NodeStreak, Verdict, describe_locations, node_step
from monitord.cluster.quorum import verdict as quorum_verdict
from monitord.config.models import HeartbeatCheck
from monitord.errors import FencedError, StoreError
from monitord.incidents import CheckState
from monitord.results import ProbeResult
from monitord.site_incident import SITE_KEY_PREFIX, SiteState
from monitord.store.nodes import NodeResultRow, NodeRow

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from monitord.cluster.leader import Leadership
    from monitord.config.models import Config
    from monitord.events import Event
    from monitord.routing.desk import RoutingDesk
    from monitord.runtime import ResultListener, Service, ServiceFactory, ServiceRuntime
    from monitord.schedule import ScheduledCheck
    from monitord.store.postgres import PostgresStore

LEADER_SERVICES = frozenset({"security", "tickets-sla", "hours", "client-report", "uptime-history"})
"""Services that run on the leader only: one advisory watcher, one patch-day run, one SLA
clock, one hours refresh and one monthly report for the whole cluster, and one uptime history
(fed by the leader's decisions, so a check probed by every node is counted once)."""

NODE_RESULT_FLUSH = timedelta(milliseconds=500)
"""How often a node writes its new per-node results (one transaction each time): the leader
sees a result within this plus LEADER_EVAL, well inside a check's interval."""

LEADER_EVAL = timedelta(seconds=1)
"""How often the leader reads the node results that changed and decides on them."""

FOLLOWER_REFRESH = timedelta(seconds=10)
"""How often a follower reads the leader's decided states (for status, metrics, the API)."""

NODE_MESSAGE_CHARS = 300
"""A node result's message is kept this long: enough to say what failed."""


@dataclass(slots=True)
class ClusterSeat:
    """What this daemon holds as a node of a cluster."""

    identity: NodeIdentity
    started: datetime
    leadership: Leadership | None = None
    leader: bool = False
    epoch: int | None = None
    streaks: dict[str, NodeStreak] = field(default_factory=dict)
    """This node's own streak per check key."""
    last: dict[str, ProbeResult] = field(default_factory=dict)
    """This node's latest result per check key (its warning and details go with a verdict)."""
    pending: dict[str, NodeResultRow] = field(default_factory=dict)
    """Results not yet written (the latest per key)."""
    seq: int = 0
    """The highest node_result sequence number the leader has decided on."""
    labels: dict[str, str] = field(default_factory=dict)
    """The nodes' location names (``nodes.<id>.location``) for the verdicts' messages."""
    stored: dict[str, str] = field(default_factory=dict)
    """A follower's last read of the decided states, as stored text, by key."""
    decided: dict[str, ScheduledCheck] = field(default_factory=dict)
    """The checks as the leader decides them: the site's thresholds set to one."""
    leader_factories: list[ServiceFactory] = field(default_factory=list)
    leader_services: list[Service] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    elections: int = 0
    """Elections this node has won (the benchmark reports it)."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever leadership changes (tests wait on it)."""

    @property
    def node(self) -> str:
        return self.identity.id


def decided_checks(checks: dict[str, ScheduledCheck]) -> dict[str, ScheduledCheck]:
    """The checks with each site's thresholds set to one: a quorum verdict has applied them
    per node already, so the leader's incident engine acts on the first verdict."""
    sites: dict[int, Any] = {}
    out: dict[str, ScheduledCheck] = {}
    for key, sc in checks.items():
        site = sites.get(id(sc.site))
        if site is None:
            alert = sc.site.alert.model_copy(
                update={"failure_threshold": 1, "success_threshold": 1}
            )
            site = sc.site.model_copy(update={"alert": alert})
            sites[id(sc.site)] = site
        out[key] = dataclasses.replace(sc, site=site)
    return out


def probes_here(sc: ScheduledCheck, node: str) -> bool:
    """Whether this node probes the check: the site names no locations, or names this node."""
    locations = sc.site.locations
    return not locations or node in locations


def combined_result(v: Verdict, own: ProbeResult | None) -> ProbeResult:
    """The result the leader's incident engine judges: the verdict's outcome and message; the
    duration, warning (a certificate's) and details of this node's own latest result when it
    agrees with the verdict."""
    ok = v.outcome == "up"
    mine = own if own is not None and own.ok == ok else None
    details: dict[str, Any] = dict(mine.details) if mine is not None else {}
    details["locations"] = describe_locations(v)
    return ProbeResult(
        ok=ok,
        message=v.message,
        duration=mine.duration if mine is not None else 0.0,
        warning=mine.warning if mine is not None else None,
        details=details,
    )


def heartbeat_verdict(v: Verdict) -> Verdict:
    """A heartbeat check is pushed to one node (whichever the site's ping reaches): it is up
    when any fresh node heard it, down only when every fresh node says it is late."""
    if v.passing:
        return dataclasses.replace(v, outcome="up")
    fresh = len(v.failing) + len(v.waiting)
    if v.failing and len(v.failing) == fresh:
        return dataclasses.replace(v, outcome="down")
    return dataclasses.replace(v, outcome="inconclusive")


class ClusterMember:
    """The cluster half of the daemon (see the module docstring)."""

    config: Config | None
    store: Any
    states: dict[str, CheckState]
    site_states: dict[str, SiteState]
    checks: dict[str, ScheduledCheck]
    desk: RoutingDesk
    result_listeners: list[ResultListener]
    log: FilteringBoundLogger
    clock: Callable[[], datetime]
    runtime: ServiceRuntime
    seat: ClusterSeat | None

    decide: Callable[[ScheduledCheck, ProbeResult, datetime], Awaitable[list[Event]]]
    """CheckPath's: the incident engine, without the result listeners."""
    _wake_sender: Callable[[], None]
    load_states: Callable[[], Awaitable[None]]
    """CheckPath's: the check and site states from the store into memory."""

    # -- start and stop ----------------------------------------------------------------------

    async def _cluster_start(self, store: PostgresStore, schedule: bool) -> None:
        """Load this node's streaks, beat once, and start the node's loops and the election."""
        from monitord.cluster.leader import Leadership

        seat = self.seat
        assert seat is not None
        store.fencing = True
        rows = await store.load_node_results(seat.node)
        seat.streaks = {
            k: NodeStreak(status=r.status, failures=r.failures, successes=r.successes)
            for k, r in rows.items()
        }
        self._cluster_reload()
        await self._beat()
        seat.leadership = Leadership(
            store.url, seat.node, on_elected=self._elected, on_lost=self._lost
        )
        seat.tasks = [asyncio.create_task(seat.leadership.run(), name="cluster-leadership")]
        if schedule:
            seat.tasks += [
                asyncio.create_task(self._node_loop(), name="cluster-node"),
                asyncio.create_task(self._leader_loop(), name="cluster-leader"),
            ]
        else:
            # Driven by tick() (tests, the demo): the first election is tried at once; wait
            # for its outcome so the first tick knows whether this node decides.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(seat.changed.wait(), limits.LEADER_POLL.total_seconds())

    async def _cluster_resign(self) -> None:
        """The first step of stopping: give up the lead (a follower takes over at once) and
        stop trying for it, before the services and the scheduler stop."""
        seat = self.seat
        if seat is None:
            return
        if seat.leadership is not None:
            with contextlib.suppress(Exception):
                await seat.leadership.resign()
        if seat.leader:
            await self._lost("this node is stopping")

    async def _cluster_stop(self) -> None:
        """The last step of stopping (after :meth:`_cluster_resign`, the first): end the
        loops, write the results still pending."""
        seat = self.seat
        if seat is None:
            return
        for t in seat.tasks:
            t.cancel()
        for t in seat.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        seat.tasks = []
        with contextlib.suppress(StoreError):
            await self._write_results()

    def _cluster_reload(self) -> None:
        if self.seat is not None and self.config is not None:
            self.seat.decided = decided_checks(self.checks)
            self.seat.labels = location_labels(self.config.main)

    # -- every node -------------------------------------------------------------------------

    def observe_node(self, sc: ScheduledCheck, result: ProbeResult, now: datetime) -> None:
        """This node's own result: its streak moves and the row waits for the next write."""
        seat = self.seat
        assert seat is not None
        for listener in self.result_listeners:
            listener(sc, result, now)
        seat.last[sc.key] = result
        if result.inconclusive:
            return  # the monitor could not probe: no evidence either way
        alert = sc.site.alert
        streak = node_step(
            seat.streaks.get(sc.key, NodeStreak()),
            result.ok,
            failure_threshold=alert.failure_threshold,
            success_threshold=alert.success_threshold,
        )
        seat.streaks[sc.key] = streak
        seat.pending[sc.key] = NodeResultRow(
            key=sc.key,
            node=seat.node,
            ok=result.ok,
            status=streak.status,
            failures=streak.failures,
            successes=streak.successes,
            message=result.message[:NODE_MESSAGE_CHARS],
            at=now,
        )

    async def _write_results(self) -> None:
        seat = self.seat
        if seat is None or not seat.pending:
            return
        rows, seat.pending = seat.pending, {}
        try:
            await self.store.write_node_results(list(rows.values()))
        except StoreError:
            # Kept (a newer result of the same check wins) and written with the next round.
            rows.update(seat.pending)
            seat.pending = rows
            raise

    async def _beat(self) -> None:
        seat = self.seat
        assert seat is not None
        sender = getattr(self, "sender", None)
        await self.store.node_heartbeat(
            NodeRow(
                id=seat.node,
                host=socket.gethostname(),
                pid=os.getpid(),
                started=seat.started,
                heartbeat=self.clock(),
                run_id=sender.run_id if sender is not None else "",
                source_address=seat.identity.source_address,
                version=__version__,
            )
        )

    async def _node_loop(self) -> None:
        """Write results every NODE_RESULT_FLUSH, beat every NODE_HEARTBEAT, and (a follower)
        read the decided states every FOLLOWER_REFRESH. A store error is logged and tried
        again the next round; nothing waiting is dropped."""
        seat = self.seat
        assert seat is not None
        last_beat = last_refresh = self.clock()
        failing = False
        while True:
            await asyncio.sleep(NODE_RESULT_FLUSH.total_seconds())
            now = self.clock()
            try:
                await self._write_results()
                if now - last_beat >= limits.NODE_HEARTBEAT:
                    await self._beat()
                    last_beat = now
                if not seat.leader and now - last_refresh >= FOLLOWER_REFRESH:
                    await self._refresh_decided()
                    last_refresh = now
                if failing:
                    self.log.warning("cluster.store_back", node=seat.node)
                    failing = False
            except StoreError as exc:
                if not failing:
                    self.log.error(
                        "cluster.store_failed",
                        node=seat.node,
                        error=str(exc),
                        hint="this node keeps its results and writes them when the database "
                        "answers again; the other nodes go on deciding meanwhile",
                    )
                failing = True

    async def _load_decided(self) -> None:
        """The check and site states as the leader stored them (all of them: at election)."""
        await self.load_states()
        if self.seat is not None:
            self.seat.stored = {}

    async def _refresh_decided(self) -> None:
        """A follower's refresh of the decided states: only those whose stored text changed
        since the last refresh are parsed (at 10,000 checks, parsing them all held the loop
        for 150–300 ms every FOLLOWER_REFRESH; about a sixth change in that time)."""
        seat = self.seat
        assert seat is not None
        stored = await self.store.stored_states()
        states = dict(self.states)
        sites = dict(self.site_states)
        for key, text in stored.items():
            if seat.stored.get(key) == text:
                continue
            value = json.loads(text)
            if key.startswith(SITE_KEY_PREFIX):
                sites[key.removeprefix(SITE_KEY_PREFIX)] = SiteState.from_json(value)
            else:
                states[key] = CheckState.from_json(value)
        for key in seat.stored.keys() - stored.keys():
            if key.startswith(SITE_KEY_PREFIX):
                sites.pop(key.removeprefix(SITE_KEY_PREFIX), None)
            else:
                states.pop(key, None)
        self.states, self.site_states, seat.stored = states, sites, stored

    # -- leadership -------------------------------------------------------------------------

    async def _elected(self, epoch: int) -> None:
        """This node leads from now: fence the store with the epoch, take the stored states
        (the last leader's decisions), start the singletons."""
        seat = self.seat
        assert seat is not None
        self.store.fence_epoch = epoch
        await self._load_decided()
        await self.desk.load(self.store)
        seat.seq = 0  # decide on every check's current rows once (idempotent)
        seat.epoch = epoch
        seat.leader = True
        seat.elections += 1
        for factory in seat.leader_factories:
            service = factory(self.runtime)
            if service is None:
                continue
            try:
                await service.start(self.runtime)
            except Exception:
                self.log.exception("service did not start", service=service.name)
                continue
            seat.leader_services.append(service)
        self.log.warning("cluster.leader", node=seat.node, epoch=epoch)
        seat.changed.set()
        self._wake_sender()

    async def _lost(self, reason: str) -> None:
        """This node no longer leads: stop the singletons at once and forget writes not yet
        committed (the new leader decides again from the node results)."""
        seat = self.seat
        assert seat is not None
        if not seat.leader:
            return
        seat.leader = False
        with contextlib.suppress(Exception):
            self.store.drop_pending()
        for service in reversed(seat.leader_services):
            try:
                await service.stop()
            except Exception:
                self.log.exception("service did not stop cleanly", service=service.name)
        seat.leader_services.clear()
        self.log.warning("cluster.leader_lost", node=seat.node, epoch=seat.epoch, reason=reason)
        seat.changed.set()

    async def _leader_loop(self) -> None:
        seat = self.seat
        assert seat is not None
        while True:
            await asyncio.sleep(LEADER_EVAL.total_seconds())
            if not seat.leader:
                continue
            try:
                await self.decide_round(self.clock())
            except FencedError as exc:
                self.log.error("cluster.fenced", node=seat.node, error=str(exc))
                await self._lost("the database refused a write: another node leads now")
            except StoreError as exc:
                self.log.error(
                    "cluster.decide_failed",
                    node=seat.node,
                    error=str(exc),
                    hint="the leader decides again on these results next round",
                )

    async def tick_node(
        self, sc: ScheduledCheck, result: ProbeResult, now: datetime
    ) -> list[Event]:
        """A driven tick (no scheduler): this node's result, written at once, and decided at
        once when this node leads. Returns the events the leader's decisions made."""
        self.observe_node(sc, result, now)
        await self._write_results()
        seat = self.seat
        if seat is None or not seat.leader:
            return []
        try:
            return await self.decide_round(now)
        except FencedError as exc:
            self.log.error("cluster.fenced", node=seat.node, error=str(exc))
            await self._lost("the database refused a write: another node leads now")
            return []

    async def decide_round(self, now: datetime) -> list[Event]:
        """The leader's round: the quorum verdict of every check whose node results changed,
        fed to the incident engine. Returns the events made."""
        seat = self.seat
        assert seat is not None
        rows, seq = await self.store.node_results_since(seat.seq)
        by_key: dict[str, list[NodeReport]] = defaultdict(list)
        for r in rows:
            by_key[r.key].append(NodeReport(r.node, r.status, r.ok, r.message, r.at))
        events: list[Event] = []
        for key, reports in by_key.items():
            if not seat.leader:
                return events  # stepped down mid-round: the new leader decides
            sc = seat.decided.get(key)
            if sc is None:
                continue
            v = quorum_verdict(
                reports,
                interval=sc.spec.interval,
                now=now,
                quorum=sc.site.alert.quorum,
                locations=sc.site.locations,
                labels=seat.labels,
            )
            if isinstance(sc.spec, HeartbeatCheck):
                v = heartbeat_verdict(v)
            if v.outcome == "inconclusive":
                continue
            events += await self.decide(sc, combined_result(v, seat.last.get(key)), now)
        seat.seq = seq
        return events
