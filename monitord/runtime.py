"""What the daemon offers its services: narrow, typed views instead of the whole Daemon.

A service (the HTTP API, the advisory watcher, the ticket SLA, the systemd watchdog) is started
with a :class:`ServiceRuntime` and may only use what these Protocols name. The daemon implements
them (``monitord.daemon.DaemonRuntime``); a test implements them with a few fields around a
real store, so every service runs without a daemon.

Each service annotates the part it needs:

* :class:`Runtime` — the current configuration, the store, the clock, the agency's calendar and
  the one event pipeline (``route`` → ``emit``: persist in one transaction → tell → wake;
  monitord.pipeline);
* :class:`CheckBoard` — the scheduled checks and their states (status, metrics, systemd);
* :class:`DaemonHealth` — the counters and flags ``/readyz`` and ``/metrics`` report;
* :class:`ProbeFeed` — listeners on probe results and scheduler lateness (metrics);
* :class:`HeartbeatIntake` — the heartbeat book and the incident path a beat takes
  (monitord.probes.heartbeat).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from monitord.checks import CheckView
from monitord.probes.heartbeat import HeartbeatIntake
from monitord.store.base import SecurityStore, Store, TicketStore

if TYPE_CHECKING:
    from monitord.calendar import BusinessCalendar
    from monitord.config.models import Config
    from monitord.events import Event
    from monitord.fds import FdPlan
    from monitord.incidents import CheckState
    from monitord.notify.base import Notification
    from monitord.pipeline import StoreHealth, Told
    from monitord.probes.base import ProbeResult

__all__ = [
    "CheckBoard",
    "DaemonHealth",
    "HeartbeatIntake",
    "ProbeFeed",
    "ResultListener",
    "Runtime",
    "RuntimeStore",
    "Service",
    "ServiceFactory",
    "ServiceRuntime",
    "SupervisorLink",
]

_T = TypeVar("_T")

ResultListener = Callable[[CheckView, "ProbeResult", datetime], None]
"""Called with every probe result before it is evaluated."""


class RuntimeStore(Store, SecurityStore, TicketStore, Protocol):
    """The store a daemon runs on: checks and outbox, advisories, local tickets."""


class Runtime(Protocol):
    """What every service may use."""

    def config(self) -> Config:
        """The running configuration: a reload swaps it, so read it when needed."""
        ...

    @property
    def store(self) -> RuntimeStore: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def calendar(self) -> BusinessCalendar:
        """The agency's business calendar, built once per configuration."""
        ...

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """Trust for outgoing HTTPS (None: the system's)."""
        ...

    @property
    def background(self) -> bool:
        """Whether services run their own loops (False when a test drives every round)."""
        ...

    def route(self, event: Event) -> list[Notification]:
        """The notifications for ``event`` now: routes, holds and storm groups."""
        ...

    def persist(self, what: str, commit: Callable[[], Awaitable[_T]]) -> Awaitable[_T]:
        """``commit()`` until the store has it (monitord.pipeline.Pipeline.persist)."""
        ...

    def emit(
        self, what: str, told: Sequence[Told], commit: Callable[[], Awaitable[_T]]
    ) -> Awaitable[_T]:
        """Store ``commit()`` (the events' notifications with the caller's changes), then tell
        the listeners, log and wake the sender (monitord.pipeline.Pipeline.emit)."""
        ...


class CheckBoard(Protocol):
    """The scheduled checks and their current states (read-only)."""

    @property
    def checks(self) -> Mapping[str, CheckView]: ...

    @property
    def states(self) -> Mapping[str, CheckState]: ...


class DaemonHealth(Protocol):
    """The daemon's own counters and flags (``/readyz``, ``/metrics``)."""

    @property
    def scheduler_running(self) -> bool: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def store_health(self) -> StoreHealth: ...

    @property
    def probes_run(self) -> int: ...

    @property
    def reloads_ok(self) -> int: ...

    @property
    def reloads_failed(self) -> int: ...

    @property
    def last_reload(self) -> datetime | None: ...

    @property
    def fd_plan(self) -> FdPlan | None:
        """How the open-file limit is shared out (monitord.fds)."""
        ...

    def notifier_names(self) -> list[str]:
        """The notifiers configured now."""
        ...

    def notifier(self, name: str) -> object | None:
        """The notifier of that name configured now (a service sending through it: the
        monthly report goes through the e-mail notifier's SMTP settings)."""
        ...


class ProbeFeed(Protocol):
    """Listeners fed as probes run."""

    @property
    def result_listeners(self) -> list[ResultListener]: ...

    @property
    def decision_listeners(self) -> list[ResultListener]:
        """Called with every result the incident engine judges: each probe result on SQLite;
        in a cluster only on the leader, with the combined (quorum) results."""
        ...

    @property
    def node_id(self) -> str | None:
        """This node's id on a PostgreSQL store (a cluster node); None on SQLite."""
        ...

    @property
    def lateness_listeners(self) -> list[Callable[[float], None]]:
        """Called with each scheduled run's lateness in seconds."""
        ...


class SupervisorLink(Protocol):
    """The service manager's notify socket (monitord.systemd.SystemdNotifier)."""

    @property
    def enabled(self) -> bool: ...

    @property
    def watchdog(self) -> float | None: ...

    def status(self, text: str) -> bool: ...

    def watchdog_loop(self) -> Coroutine[Any, Any, None]: ...


class ServiceRuntime(Runtime, CheckBoard, DaemonHealth, ProbeFeed, HeartbeatIntake, Protocol):
    """Everything the daemon hands a service; each service uses the part it annotates."""

    @property
    def supervisor(self) -> SupervisorLink: ...


class Service(Protocol):
    """A part of the daemon with its own life cycle (advisory watcher, HTTP API, watchdog…).

    Services are started after the store, probes, notifiers and scheduler are up, in list
    order; stopped in reverse order before them; told after every successful reload.
    """

    name: str

    async def start(self, runtime: ServiceRuntime) -> None: ...

    async def stop(self) -> None: ...

    async def reload(self, runtime: ServiceRuntime) -> None: ...


ServiceFactory = Callable[[ServiceRuntime], "Service | None"]
"""Builds a service on a runtime (or None when its config turns it off)."""
