"""The little of the daemon the report services use, behind one adapter: the configuration,
the clock, whether it schedules background work, probe results, and the e-mail notifier.

Nothing here imports the daemon: :class:`DaemonHost` adapts the narrow
:class:`~monitord.runtime.ServiceRuntime` every service is given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from monitord.config.models import ClientConfig, Config, Site
    from monitord.notify.email import EmailNotifier
    from monitord.probes.base import ProbeResult
    from monitord.runtime import ServiceRuntime


class CheckSpecLike(Protocol):
    @property
    def interval(self) -> timedelta: ...


class CheckLike(Protocol):
    """What a result listener is told about the check (the daemon's ScheduledCheck)."""

    @property
    def key(self) -> str: ...

    @property
    def client(self) -> ClientConfig: ...

    @property
    def site(self) -> Site: ...

    @property
    def spec(self) -> CheckSpecLike: ...


ResultListener = Callable[[Any, "ProbeResult", datetime], None]
"""Called with (the scheduled check: :class:`CheckLike`, its result, now)."""


class Host(Protocol):
    @property
    def config(self) -> Config | None: ...

    @property
    def schedule(self) -> bool: ...

    def now(self) -> datetime: ...

    @property
    def cluster(self) -> bool:
        """True on a cluster node (a PostgreSQL store): the results to count are the
        leader's decisions (:meth:`listen_decisions`), not each node's own probes."""
        ...

    def listen(self, listener: ResultListener) -> None: ...

    def unlisten(self, listener: ResultListener) -> None: ...

    def listen_decisions(self, listener: ResultListener) -> None: ...

    def unlisten_decisions(self, listener: ResultListener) -> None: ...

    def email(self) -> EmailNotifier | None: ...


class DaemonHost:
    """:class:`Host` on a running daemon."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._d = runtime

    @property
    def config(self) -> Config | None:
        return self._d.config()

    @property
    def schedule(self) -> bool:
        return self._d.background

    def now(self) -> datetime:
        return self._d.clock()

    def listen(self, listener: ResultListener) -> None:
        self._d.result_listeners.append(listener)

    def unlisten(self, listener: ResultListener) -> None:
        if listener in self._d.result_listeners:
            self._d.result_listeners.remove(listener)

    @property
    def cluster(self) -> bool:
        return self._d.node_id is not None

    def listen_decisions(self, listener: ResultListener) -> None:
        self._d.decision_listeners.append(listener)

    def unlisten_decisions(self, listener: ResultListener) -> None:
        if listener in self._d.decision_listeners:
            self._d.decision_listeners.remove(listener)

    def email(self) -> EmailNotifier | None:
        from monitord.notify.email import EmailNotifier

        n = self._d.notifier("email")
        return n if isinstance(n, EmailNotifier) else None
