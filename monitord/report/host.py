"""The little of the daemon the report services use, behind one adapter: the configuration,
the clock, whether it schedules background work, probe results, and the e-mail notifier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monitord.config.models import Config
    from monitord.daemon import Daemon, ScheduledCheck
    from monitord.notify.email import EmailNotifier
    from monitord.probes.base import ProbeResult

ResultListener = Callable[["ScheduledCheck", "ProbeResult", datetime], None]


class Host(Protocol):
    @property
    def config(self) -> Config | None: ...

    @property
    def schedule(self) -> bool: ...

    def now(self) -> datetime: ...

    def listen(self, listener: ResultListener) -> None: ...

    def unlisten(self, listener: ResultListener) -> None: ...

    def email(self) -> EmailNotifier | None: ...


class DaemonHost:
    """:class:`Host` on a running :class:`~monitord.daemon.Daemon`."""

    def __init__(self, daemon: Daemon) -> None:
        self._d = daemon

    @property
    def config(self) -> Config | None:
        return self._d.config

    @property
    def schedule(self) -> bool:
        return self._d.schedule

    def now(self) -> datetime:
        return self._d.clock()

    def listen(self, listener: ResultListener) -> None:
        self._d.result_listeners.append(listener)

    def unlisten(self, listener: ResultListener) -> None:
        if listener in self._d.result_listeners:
            self._d.result_listeners.remove(listener)

    def email(self) -> EmailNotifier | None:
        from monitord.notify.email import EmailNotifier

        n = self._d.notifiers.get("email")
        return n if isinstance(n, EmailNotifier) else None
