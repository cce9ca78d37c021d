"""The long-running daemon: wiring of config, scheduler, probes, incidents, store and outbox.

All decisions live in pure modules (incidents, routing, calendar); this module only moves values
between them and the edges (network, disk, signals, clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitord.calendar import BusinessCalendar
from monitord.checkpath import CheckPath
from monitord.checks import CheckView
from monitord.checks import check_key as check_key  # where commands and tests look for it
from monitord.clock import Clock, utcnow
from monitord.cluster.config_warnings import cluster_warnings
from monitord.cluster.member import LEADER_SERVICES, ClusterMember, ClusterSeat, probes_here
from monitord.config import load_config
from monitord.config.models import (
    Config,
    HeartbeatCheck,
)
from monitord.errors import ConfigError, MonitordError, StoreError
from monitord.events import Event
from monitord.fds import FdPlan, plan_fds, probe_checks, raise_fd_limit
from monitord.incidents import (
    CheckState,
)
from monitord.limits import OUTBOX_STOP_GRACE
from monitord.logsetup import get_logger
from monitord.notify.base import Notification, Notifier, is_mergeable
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.outbox import OutboxSender
from monitord.pipeline import Pipeline, StoreHealth, Told
from monitord.probes.base import ProbeContext, ProbeResult
from monitord.probes.heartbeat import HeartbeatBook
from monitord.probes.runner import open_probe_context, run_check
from monitord.routing import paging_warnings
from monitord.routing.desk import RoutingDesk
from monitord.runtime import ResultListener, RuntimeStore, Service, ServiceFactory, SupervisorLink
from monitord.schedule import FIRST_RUN_SUFFIX as FIRST_RUN_SUFFIX
from monitord.schedule import FIRST_RUN_WITHIN as FIRST_RUN_WITHIN
from monitord.schedule import SCHEDULE_ANCHOR as SCHEDULE_ANCHOR
from monitord.schedule import ScheduledCheck as ScheduledCheck
from monitord.schedule import first_run as first_run
from monitord.schedule import last_due as last_due
from monitord.schedule import schedule_offset as schedule_offset
from monitord.schedule import scheduled_checks as scheduled_checks
from monitord.site_incident import (
    SiteState,
)
from monitord.store.base import Pruned, Store
from monitord.store.daemon_lock import DaemonLock
from monitord.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from monitord.store.postgres import PostgresStore
from monitord.systemd import SystemdNotifier

MAX_CONCURRENT_PROBES = 2000
"""Probes in flight at once: bounds sockets and memory if a slow network piles probes up; far
above what 10,000 sites at 60 s need (about 170 starts a second, each a few ms). Lowered at
start to what the open-file limit leaves probes (monitord.fds)."""

LATENESS_SAMPLES = 10_000
"""Recent probe-start lateness samples kept for metrics and the benchmark."""


PRUNE_INTERVAL = timedelta(hours=1)
"""How often finished rows older than their retention (``state.retention``) are deleted: the
shortest retention is a day, so an hour late is nothing; a pass at 10,000 sites takes
milliseconds (docs/benchmarks.md)."""


GC_THRESHOLDS = (50_000, 20, 10)
"""``gc.set_threshold`` for the daemon (Python's default is 700, 10, 10). A probe's transient
objects (coroutines, futures, requests, transports) die by reference counting within
milliseconds; with a young generation of 700 a collection catches thousands of them in flight
each second and promotes them, so the old generations fill and full collections follow. At
70,000 sites that spiralled: the GC took 40 s of CPU in 90 s and the loop saturated; with
these thresholds it ran one full collection in a minute at 62 % of a core (docs/benchmarks.md).
Garbage cycles wait longer to be freed: at most 50,000 young objects, a few MB."""


def settle_heap(*, after_reload: bool = False) -> None:
    """Collect the garbage of loading, then freeze every object alive now (the configuration,
    the scheduled checks and jobs: all long-lived) out of the garbage collector's sight, and
    set the daemon's collection thresholds (GC_THRESHOLDS).

    Without the freeze each full collection walks every one of them while the loop waits:
    0.3 s at 20,000 sites, 0.65 s at 40,000, every 30-90 s (docs/benchmarks.md). Objects made
    later (states, results) are still collected. After a reload the old configuration is
    unfrozen first, so its cycles are reclaimed (one pause per reload, not one a minute)."""
    if after_reload:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _moved(old: ScheduledCheck, new: ScheduledCheck) -> bool:
    """Whether a reload changes how or where a check is probed (its job is made again)."""
    return old.spec != new.spec or old.site.locations != new.site.locations


NotifierFactory = Callable[[Config, ssl.SSLContext | None, Store | None], dict[str, Notifier]]


def default_services() -> list[ServiceFactory]:
    """The services a real daemon runs. Each part of monitord adds its factory here."""
    from monitord.api.server import api_service
    from monitord.contracts.service import hours_service
    from monitord.drupal.service import security_service
    from monitord.report.history import history_service
    from monitord.report.service import report_service
    from monitord.systemd import systemd_service
    from monitord.tickets_sla import tickets_sla_service

    return [
        systemd_service,
        history_service,
        security_service,
        api_service,
        tickets_sla_service,
        hours_service,
        report_service,
    ]


def default_notifiers(
    config: Config, ssl_context: ssl.SSLContext | None, store: Store | None
) -> dict[str, Notifier]:
    """Every notifier the configuration names (``email`` with smtp, and ``notifiers:``), each
    loaded through its plugin (monitord.notify.plugins), with the daemon's store in its
    context (tickets-local and the ticket notifiers keep their state there)."""
    from monitord.notify.plugins import build_notifiers

    return build_notifiers(config, ssl_context, utcnow, store=store)


_T = TypeVar("_T")


class DaemonRuntime:
    """The daemon as its services see it (monitord.runtime.ServiceRuntime): read-only views
    of its state, and its event pipeline. Valid once the daemon has started."""

    def __init__(self, daemon: Daemon) -> None:
        self._d = daemon
        self._calendar: tuple[Config, BusinessCalendar] | None = None

    def config(self) -> Config:
        config = self._d.config
        assert config is not None, "the daemon has not loaded its configuration yet"
        return config

    @property
    def node_id(self) -> str | None:
        """This node's id on a PostgreSQL store (None on SQLite)."""
        seat = self._d.seat
        return seat.node if seat is not None else None

    @property
    def cluster_leader(self) -> bool | None:
        """Whether this node leads (None on SQLite: one node, no cluster)."""
        seat = self._d.seat
        return seat.leader if seat is not None else None

    @property
    def store(self) -> RuntimeStore:
        store = self._d.store
        assert store is not None, "the daemon has not opened its store yet"
        return store

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._d.clock

    def calendar(self) -> BusinessCalendar:
        config = self.config()
        if self._calendar is None or self._calendar[0] is not config:
            self._calendar = (config, BusinessCalendar.from_agency(config.main.agency))
        return self._calendar[1]

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._d.ssl_context

    @property
    def background(self) -> bool:
        return self._d.schedule

    def route(self, event: Event) -> list[Notification]:
        return self._d.route(event)

    def persist(self, what: str, commit: Callable[[], Awaitable[_T]]) -> Awaitable[_T]:
        return self._d.pipeline.persist(what, commit)

    def emit(
        self, what: str, told: Sequence[Told], commit: Callable[[], Awaitable[_T]]
    ) -> Awaitable[_T]:
        return self._d.pipeline.emit(what, told, commit)

    @property
    def checks(self) -> Mapping[str, CheckView]:
        return self._d.checks

    @property
    def states(self) -> Mapping[str, CheckState]:
        return self._d.states

    @property
    def scheduler_running(self) -> bool:
        return self._d.scheduler_running

    @property
    def stopping(self) -> bool:
        return self._d.stopping

    @property
    def store_health(self) -> StoreHealth:
        return self._d.pipeline.health

    @property
    def probes_run(self) -> int:
        return self._d.probes_run

    @property
    def reloads_ok(self) -> int:
        return self._d.reloads_ok

    @property
    def reloads_failed(self) -> int:
        return self._d.reloads_failed

    @property
    def last_reload(self) -> datetime | None:
        return self._d.last_reload

    @property
    def fd_plan(self) -> FdPlan | None:
        return self._d.fd_plan

    def notifier_names(self) -> list[str]:
        return list(self._d.notifiers)

    def notifier(self, name: str) -> object | None:
        return self._d.notifiers.get(name)

    @property
    def result_listeners(self) -> list[ResultListener]:
        return self._d.result_listeners

    @property
    def decision_listeners(self) -> list[ResultListener]:
        return self._d.decision_listeners

    @property
    def lateness_listeners(self) -> list[Callable[[float], None]]:
        return self._d.lateness_listeners

    @property
    def heartbeats(self) -> HeartbeatBook:
        return self._d.heartbeats

    async def apply(self, sc: CheckView, result: ProbeResult, now: datetime) -> list[Event]:
        return await self._d.apply(self._d.checks[sc.key], result, now)

    @property
    def supervisor(self) -> SupervisorLink:
        return self._d.sd


class Daemon(CheckPath, ClusterMember):
    """One monitord process. ``await run()`` until SIGTERM; tests drive it with ``tick()``."""

    def __init__(
        self,
        config_dir: Path,
        *,
        clock: Clock = utcnow,
        ssl_context: ssl.SSLContext | None = None,
        notifier_factory: NotifierFactory = default_notifiers,
        schedule: bool = True,
        services: list[ServiceFactory] | None = None,
        node: str | None = None,
    ) -> None:
        self.config_dir = config_dir
        self.node_arg = node
        """``--node`` (monitord.cluster.identity.resolve_node); None: not given."""
        self.seat: ClusterSeat | None = None
        """This daemon as a node of several (a PostgreSQL store); None on SQLite."""
        self.clock = clock
        self.ssl_context = ssl_context
        self.notifier_factory = notifier_factory
        self.schedule = schedule
        self.service_factories = default_services() if services is None else services
        self.services: list[Service] = []
        self.log = get_logger(component="daemon")
        self.config: Config | None = None
        self.store: RuntimeStore | None = None
        self.daemon_lock: DaemonLock | None = None
        self.states: dict[str, CheckState] = {}
        self.site_states: dict[str, SiteState] = {}
        """Per site key: its incident (monitord.site_incident.site_step), stored with the checks'."""
        self.checks: dict[str, ScheduledCheck] = {}
        self.notifiers: dict[str, Notifier] = {}
        self.sender: OutboxSender | None = None
        self.lateness: deque[float] = deque(maxlen=LATENESS_SAMPLES)
        self.probes_run = 0
        self.result_listeners: list[ResultListener] = []
        """Called with every probe result before it is evaluated (metrics)."""
        self.decision_listeners: list[ResultListener] = []
        """Called with every result the incident engine judges: this node's own on SQLite,
        the leader's combined quorum results in a cluster (CheckPath.decide)."""
        self._probe_ctx: ProbeContext | None = None
        self._stack = contextlib.AsyncExitStack()
        self._scheduler: AsyncIOScheduler | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sender_task: asyncio.Task[None] | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_PROBES)
        self.fd_plan: FdPlan | None = None
        """How the open-file limit is shared out (set at start, monitord.fds)."""
        self.reloads_ok = 0
        self.reloads_failed = 0
        self.last_reload: datetime | None = None
        self.sd = SystemdNotifier.from_environ()
        """systemd's notify socket (a no-op when not run by systemd): READY, RELOADING, STOPPING."""
        self.heartbeats = HeartbeatBook()
        """Tokens and last beats of the heartbeat checks (monitord.probes.heartbeat)."""
        self.lateness_listeners: list[Callable[[float], None]] = []
        """Called with each scheduled run's lateness in seconds (metrics)."""
        self.pipeline = Pipeline(clock)
        """The durable path from events to stored notifications (monitord.pipeline)."""
        self.event_listeners = self.pipeline.event_listeners
        """Called with every stored event and the notifications routed from it (demo)."""
        self.runtime = DaemonRuntime(self)
        """What the services are given (monitord.runtime)."""
        self.desk = RoutingDesk(
            lambda: self.config, lambda name: is_mergeable(self.notifiers.get(name)), ssl_context
        )
        """Routing state: storm groups, suppressed DOWNs, connectivity (monitord.routing.desk)."""
        self.desk.persist = self.pipeline.persist
        self.desk.emit = self.pipeline.emit

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        config = await asyncio.to_thread(
            load_config, self.config_dir, notifier_types=NOTIFIER_TYPES
        )
        self.config = config
        self._plan_fds(config)
        self.store = await self._open_store(config)
        self.store.flush_listeners.append(self._flushed)
        await self.desk.load(self.store)
        await self.load_states()
        source = self.seat.identity.source_address if self.seat is not None else None
        self._probe_ctx = await self._stack.enter_async_context(
            open_probe_context(self.ssl_context, source_address=source)
        )
        self.notifiers = self.notifier_factory(config, self.ssl_context, self.store)
        self.sender = OutboxSender(
            self.store,
            self.notifiers,
            self.clock,
            get_logger(component="outbox"),
            node=self.seat.node if self.seat is not None else "",
        )
        self.pipeline.wake = self.sender.wake
        self._sender_task = asyncio.create_task(self.sender.run(), name="outbox-sender")
        self.checks = scheduled_checks(config)
        await self.heartbeats.sync(self.store, self.checks, self.clock())
        local: list[Service] = []
        for factory in self.service_factories:
            service = factory(self.runtime)
            if service is not None and self.seat is not None and service.name in LEADER_SERVICES:
                self.seat.leader_factories.append(factory)  # started when elected
            elif service is not None:
                local.append(service)
        if self.seat is not None:
            # The leader services are known first: the election may be won at once, while
            # this start goes on, and its services start then.
            await self._cluster_start(cast("PostgresStore", self.store), self.schedule)
        if self.schedule:
            self._scheduler = AsyncIOScheduler(timezone=UTC)
            for sc in self.checks.values():
                self._add_job(sc)
            self._scheduler.start()
            self._prune_task = asyncio.create_task(self._prune_loop(), name="store-retention")
        settle_heap()
        for service in local:
            await service.start(self.runtime)
            self.services.append(service)
        self.last_reload = self.clock()
        if config.main.agency.support_email and config.main.smtp is None:
            self.log.warning(
                "agency.support_email is set but there is no smtp section: agency mail "
                "(overdue tickets, connectivity, unknown inventories) cannot be sent",
                hint="add an smtp section (host, port, from) to monitord.yml",
            )
        for warning in paging_warnings(config):
            self.log.warning("paging.unreachable", problem=warning)
        for warning in cluster_warnings(config):
            self.log.warning("cluster.config", problem=warning)
        self.log.info(
            "started",
            config=str(self.config_dir),
            clients=len(config.clients),
            checks=len(self.checks),
            store=str(config.state_path())
            if isinstance(self.store, SqliteStore)
            else self.store.where,
        )

    async def _open_store(self, config: Config) -> SqliteStore | PostgresStore:
        """The store the configuration names, opened; one daemon per store: refuse to start
        beside another (a lock file beside SQLite's, an advisory lock on PostgreSQL)."""
        url = config.main.state.url
        if url is not None:
            from monitord.cluster.identity import resolve_node
            from monitord.store.postgres import PostgresStore, postgres_holder

            identity = resolve_node(self.node_arg, os.environ, config.main, socket.gethostname())
            self.seat = ClusterSeat(identity, started=self.clock())
            pg = PostgresStore(
                url,
                exclusive=True,
                holder=postgres_holder(self.clock(), identity.id),
                node=identity.id,
            )
            await pg.open()
            self.log.info(
                "cluster.node", node=identity.id, chosen_by=identity.chosen_by, store=pg.where
            )
            return pg
        self.daemon_lock = DaemonLock(config.state_path())
        self.daemon_lock.acquire(started=self.clock(), config=self.config_dir)
        store = SqliteStore(config.state_path())
        try:
            await store.open()
        except BaseException:
            self.daemon_lock.release()
            raise
        return store

    def _plan_fds(self, config: Config, *, reload: bool = False) -> None:
        """Share the open-file limit out (raising the soft limit first when allowed): probes in
        flight are bounded by what is left after the reserve and the API, and a limit below
        what the configuration needs is said loudly. A reload keeps the probes' semaphore
        (probes in flight hold it; the limit has not changed) and only warns."""
        limit, hard, refused = raise_fd_limit()
        checks = probe_checks(config)
        plan = plan_fds(
            limit,
            checks=checks,
            api_max_connections=config.main.http.max_connections,
            max_probes=MAX_CONCURRENT_PROBES,
        )
        if reload and self.fd_plan is not None:
            plan = dataclasses.replace(plan, probes=self.fd_plan.probes)
        else:
            self._limit = asyncio.Semaphore(plan.probes)
        self.fd_plan = plan
        self.log.info(
            "fd_budget",
            fd_limit=limit,
            hard_limit=hard,
            probes=plan.probes,
            api_connections=plan.api_connections,
            needed=plan.needed,
        )
        if plan.short:
            self.log.warning(
                "fd_limit_low",
                fd_limit=limit,
                needed=plan.needed,
                checks=checks,
                probes=plan.probes,
                raise_refused=refused,
                hint=f"at most {plan.probes} probes run at once, so checks may start late; "
                f"set LimitNOFILE={plan.needed} or more in the unit (systemctl edit monitord; "
                "docs/service.md)",
            )

    async def stop(self) -> None:
        """Stop cleanly: no new probes, in-flight ones cancelled, the outbox kept as it is."""
        self._stop.set()
        await self._cluster_resign()
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:
                self.log.exception("service did not stop cleanly", service=service.name)
        self.services.clear()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._prune_task is not None:
            self._prune_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prune_task
            self._prune_task = None
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sender_task is not None and self.sender is not None:
            self.sender.finish()
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._sender_task), OUTBOX_STOP_GRACE.total_seconds()
                )
            except TimeoutError:
                self.log.warning("outbox sends still under way at stop; they will be retried")
                self._sender_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sender_task
        await self._cluster_stop()
        for n in self.notifiers.values():
            with contextlib.suppress(Exception):
                await n.aclose()
        await self._stack.aclose()
        try:
            if self.store is not None:
                await self.store.close()
        finally:
            # Even when the last flush failed: the next daemon may start (and retry it).
            if self.daemon_lock is not None:
                self.daemon_lock.release()
        self.log.info("stopped")

    async def prune(self, now: datetime) -> Pruned:
        """Delete what is finished and older than its retention (``state.retention``)."""
        assert self.store is not None and self.config is not None
        keep = self.config.main.state.retention
        pruned = await self.store.prune(
            sent_before=now - keep.sent,
            failed_before=now - keep.failed,
            incidents_before=now - keep.incidents,
        )
        if pruned:
            self.log.info(
                "store.pruned",
                sent=pruned.sent,
                failed=pruned.failed,
                incidents=pruned.incidents,
                patch_items=pruned.patch_items,
                ticket_records=pruned.ticket_applied,
                tickets=pruned.tickets,
            )
        return pruned

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune(self.clock())
            except StoreError as exc:
                self.log.error(
                    "store.prune_failed",
                    error=str(exc),
                    hint=f"nothing is lost; tried again in {PRUNE_INTERVAL}",
                )
            await asyncio.sleep(PRUNE_INTERVAL.total_seconds())

    def _flushed(self, error: StoreError | None) -> None:
        """The store's background flush of batched results: counted in the store's health."""
        if error is None:
            if self.pipeline.health.failing and not self.pipeline.pending:
                self.pipeline.health.succeeded()
        else:
            self.pipeline.health.failed(error, self.clock())

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the configuration."""
        loop = asyncio.get_running_loop()
        await self.start()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self._sighup()))
        self.sd.ready()
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()

    def request_stop(self) -> None:
        self.log.info("stopping")
        self.sd.stopping()
        self._stop.set()

    async def _sighup(self) -> None:
        """A reload asked by SIGHUP, framed for systemd by RELOADING=1 … READY=1."""
        self.sd.reloading()
        try:
            await self.reload()
        finally:
            self.sd.ready()

    @property
    def scheduler_running(self) -> bool:
        return self._scheduler is not None and bool(self._scheduler.running)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def reload(self) -> bool:
        """Validate the configuration again; swap it in only when it is valid.

        Everything that can fail (reading, validating, scheduling, building notifiers) happens
        before anything is swapped, so a refused reload leaves the running configuration whole.
        """
        try:
            new = await asyncio.to_thread(
                load_config, self.config_dir, notifier_types=NOTIFIER_TYPES
            )
            new_checks = scheduled_checks(new)
            new_notifiers = self.notifier_factory(new, self.ssl_context, self.store)
        except ConfigError as exc:
            self.reloads_failed += 1
            self.log.error(
                "reload refused: configuration invalid, keeping the running one",
                problems=[str(i) for i in exc.issues],
            )
            return False
        except MonitordError as exc:
            self.reloads_failed += 1
            self.log.error("reload refused, keeping the running configuration", error=str(exc))
            return False
        except Exception as exc:
            self.reloads_failed += 1
            self.log.exception(
                "reload refused: unexpected error, keeping the running configuration",
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        old_checks = self.checks
        if self.seat is None or self.seat.leader:
            # Several nodes: the leader closes them (a follower's reload leaves them to it).
            await self._close_removed(old_checks, new_checks, new)
        self.config = new
        self._plan_fds(new, reload=True)
        self.checks = new_checks
        self._cluster_reload()
        self.desk.forget(k for k in old_checks if k not in self.checks)
        if self.store is not None:
            await self.heartbeats.sync(self.store, self.checks, self.clock())
        old_notifiers = dict(self.notifiers)
        # Mutated in place: the outbox sender holds this very mapping.
        self.notifiers.clear()
        self.notifiers.update(new_notifiers)
        for n in old_notifiers.values():
            with contextlib.suppress(Exception):
                await n.aclose()
        if self._scheduler is not None:
            for key, sc in old_checks.items():
                if key not in self.checks or _moved(self.checks[key], sc):
                    with contextlib.suppress(Exception):
                        self._scheduler.remove_job(key)
            for key, sc in self.checks.items():
                if key not in old_checks or _moved(old_checks[key], sc):
                    self._add_job(sc)
        leading = self.seat.leader_services if self.seat is not None else []
        for service in [*self.services, *leading]:
            try:
                await service.reload(self.runtime)
            except Exception:
                self.log.exception("service reload failed", service=service.name)
        settle_heap(after_reload=True)
        self.reloads_ok += 1
        self.last_reload = self.clock()
        self.log.info("reloaded", clients=len(new.clients), checks=len(self.checks))
        return True

    # ------------------------------------------------------------------ probing

    def _add_job(self, sc: ScheduledCheck) -> None:
        assert self._scheduler is not None
        if self.seat is not None and not probes_here(sc, self.seat.node):
            return  # the site names its locations, and this node is not one of them
        secs = sc.spec.interval.total_seconds()
        self._scheduler.add_job(
            self._scheduled_run,
            IntervalTrigger(seconds=secs, start_date=sc.start, timezone=UTC),
            args=(sc.key,),
            id=sc.key,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(secs)),
        )
        # APScheduler fires on the wall clock, so its own time decides the first run.
        first = first_run(utcnow(), sc.start, sc.spec.interval, sc.key)
        if first is not None:
            self._scheduler.add_job(
                self._scheduled_run,
                DateTrigger(run_date=first, timezone=UTC),
                args=(sc.key, True),
                id=f"{sc.key}{FIRST_RUN_SUFFIX}",
                replace_existing=True,
                misfire_grace_time=int(FIRST_RUN_WITHIN.total_seconds()),
            )

    async def _scheduled_run(self, key: str, first: bool = False) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            sc = self.checks.get(key)
            if sc is None:
                return
            if not first:  # an extra first run has no slot to be late for
                now = self.clock()
                late = (now - last_due(now, sc.start, sc.spec.interval)).total_seconds()
                self.lateness.append(late)
                for lateness_listener in self.lateness_listeners:
                    lateness_listener(late)
            # Every log line of this run (probe, incident, routing) carries its check.
            with structlog.contextvars.bound_contextvars(
                client=sc.ref.client, site=sc.ref.site, check=sc.ref.check
            ):
                await self.tick(key)
        except asyncio.CancelledError:
            if self._stop.is_set():
                return  # stopping: a cancelled probe is expected, not an error
            raise
        except Exception:
            self.log.exception("check run failed", check=key)
        finally:
            self._tasks.discard(task)

    async def probe(self, key: str) -> ProbeResult:
        sc = self.checks[key]
        if isinstance(sc.spec, HeartbeatCheck):
            return self.heartbeats.result(key, sc.spec, self.clock())
        assert self._probe_ctx is not None
        async with self._limit:
            return await run_check(sc.site, sc.spec, self._probe_ctx)

    async def tick(self, key: str, result: ProbeResult | None = None) -> list[Event]:
        """Probe one check now (or take ``result``), evaluate, persist, route. Returns the events."""
        sc = self.checks[key]
        if result is None:
            result = await self.probe(key)
        self.probes_run += 1
        now = self.clock()
        if self.seat is not None:  # the leader decides (monitord.cluster.member)
            if self.schedule:
                self.observe_node(sc, result, now)  # written and decided in rounds
                return []
            return await self.tick_node(sc, result, now)
        return await self.apply(sc, result, now)

    def _wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def route(self, event: Event) -> list[Notification]:
        """The notifications for ``event`` now: configured routes (held ones carry ``due_at``)
        and storm groups. Enqueue each at the later of ``n.due_at`` and your own due time."""
        assert self.config is not None
        return self.desk.route(event, self.clock())
