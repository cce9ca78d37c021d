"""A runtime without a daemon, to run one service alone (monitord.runtime).

    runtime = await FakeRuntime.open(cfg_dir, Clock(T0))
    service = tickets_sla_service(runtime)
    await service.start(runtime)
    ...
    await runtime.close()

What is real: the configuration (loaded from the directory as the daemon loads it), the SQLite
store (``state.path`` of that configuration), the event pipeline (monitord.pipeline.Pipeline:
``emit`` persists, tells and wakes as in the daemon) and routing's pure planner. What is a plain
field the test sets or reads: the check states, the health flags and counters, the heartbeat
book, the listener lists; ``told`` holds every event told, ``wakes`` counts the sender's wake-ups
and ``applied`` every result handed to the incident path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from monitord.calendar import BusinessCalendar
from monitord.checks import CheckView
from monitord.config import load_config
from monitord.config.models import Config
from monitord.daemon import ScheduledCheck, scheduled_checks
from monitord.events import Event
from monitord.fds import FdPlan
from monitord.incidents import CheckState
from monitord.notify.base import Notification
from monitord.notify.plugins import NOTIFIER_TYPES
from monitord.pipeline import Pipeline, StoreHealth, Told
from monitord.probes.base import ProbeResult
from monitord.probes.heartbeat import HeartbeatBook
from monitord.routing import plan
from monitord.runtime import ResultListener, ServiceRuntime, SupervisorLink
from monitord.store.sqlite import SqliteStore
from monitord.systemd import SystemdNotifier
from tests.helpers.clock import Clock

_T = TypeVar("_T")


class FakeRuntime:
    """Implements monitord.runtime.ServiceRuntime around a real store (see the module)."""

    def __init__(self, config: Config, store: SqliteStore, clock: Clock) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self.pipeline = Pipeline(clock)
        self.told: list[tuple[Event, list[Notification]]] = []
        self.pipeline.event_listeners.append(lambda e, ns: self.told.append((e, ns)))
        self.wakes = 0
        self.pipeline.wake = self._wake
        self.checks: dict[str, ScheduledCheck] = scheduled_checks(config)
        self.states: dict[str, CheckState] = {}
        self.heartbeats = HeartbeatBook()
        self.applied: list[tuple[str, ProbeResult, datetime]] = []
        self.ssl_context = None
        self.background = False
        self.scheduler_running = True
        self.stopping = False
        self.probes_run = 0
        self.reloads_ok = 0
        self.reloads_failed = 0
        self.last_reload: datetime | None = None
        self.fd_plan: FdPlan | None = None
        self.result_listeners: list[ResultListener] = []
        self.decision_listeners: list[ResultListener] = []
        self.node_id: str | None = None
        self.lateness_listeners: list[Callable[[float], None]] = []
        self.supervisor: SupervisorLink = SystemdNotifier(None)

    @classmethod
    async def open(cls, config_dir: Path, clock: Clock) -> FakeRuntime:
        config = load_config(config_dir, notifier_types=NOTIFIER_TYPES)
        store = SqliteStore(config.state_path())
        await store.open()
        return cls(config, store, clock)

    async def close(self) -> None:
        await self._store.close()

    def _wake(self) -> None:
        self.wakes += 1

    def config(self) -> Config:
        return self._config

    @property
    def store(self) -> SqliteStore:
        return self._store

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._clock

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar.from_agency(self._config.main.agency)

    def route(self, event: Event) -> list[Notification]:
        return plan(event, self._config, self._clock()).notifications

    def persist(self, what: str, commit: Callable[[], Awaitable[_T]]) -> Awaitable[_T]:
        return self.pipeline.persist(what, commit)

    def emit(
        self, what: str, told: Sequence[Told], commit: Callable[[], Awaitable[_T]]
    ) -> Awaitable[_T]:
        return self.pipeline.emit(what, told, commit)

    @property
    def store_health(self) -> StoreHealth:
        return self.pipeline.health

    def notifier_names(self) -> list[str]:
        return sorted(self._config.main.notifiers)

    def notifier(self, name: str) -> object | None:
        return None  # the services tested on this runtime send nothing themselves

    async def apply(self, sc: CheckView, result: ProbeResult, now: datetime) -> list[Event]:
        self.applied.append((sc.key, result, now))
        return []


def as_service_runtime(runtime: FakeRuntime) -> ServiceRuntime:
    """The fake, typed as what services are given (mypy checks that it conforms)."""
    return runtime
