"""systemd's notify protocol and watchdog, spoken directly (it is a few lines; no libsystemd).

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET`` (a Unix datagram socket; a name starting
with ``@`` is in the abstract namespace) and, with ``WatchdogSec=``, ``$WATCHDOG_USEC`` (and
``$WATCHDOG_PID``, the process meant to ping). Each message is one datagram of ``KEY=VALUE``
lines. monitord sends:

* ``READY=1`` once the configuration is loaded and the schedules run;
* ``STATUS=…`` (sites up/down, outbox depth) every :data:`STATUS_INTERVAL`;
* ``WATCHDOG=1`` every half ``WATCHDOG_USEC``, from a task on the event loop: a blocked loop
  sends nothing and systemd restarts the service;
* ``RELOADING=1`` with ``MONOTONIC_USEC=`` when SIGHUP starts a reload, ``READY=1`` after it;
* ``STOPPING=1`` when SIGTERM arrives.

Without ``$NOTIFY_SOCKET`` (not run by systemd) every call is a cheap no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from monitord.logsetup import get_logger

if TYPE_CHECKING:
    from monitord.runtime import CheckBoard, Runtime, ServiceRuntime, SupervisorLink

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"

STATUS_INTERVAL = timedelta(seconds=30)
"""How often the ``STATUS=`` line (``systemctl status``) is refreshed: fresh enough for a person
looking, rare enough to cost nothing (it reads the outbox depth from the store)."""

MIN_WATCHDOG_PING = timedelta(milliseconds=10)
"""The shortest gap between watchdog pings, whatever ``WATCHDOG_USEC`` says: a tiny value (a
typo, or a test) must not turn the ping task into a busy loop."""


def notify_address(value: str | None) -> str | bytes | None:
    """The socket address for a ``$NOTIFY_SOCKET`` value; None when unset or unsupported.

    ``/run/systemd/notify`` is a path; ``@name`` is the abstract name ``\\0name``. Other forms
    (``vsock:…``, systemd ≥ 254) are not supported and return None.
    """
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half ``$WATCHDOG_USEC``, as systemd advises.

    None when there is no watchdog, the value is not a positive integer, or ``$WATCHDOG_PID``
    names another process (the watchdog is meant for it, not for us).
    """
    raw = environ.get(WATCHDOG_USEC_ENV, "")
    if not raw.isdigit() or int(raw) == 0:
        return None
    wd_pid = environ.get(WATCHDOG_PID_ENV)
    if wd_pid is not None and wd_pid.strip() != str(pid):
        return None
    return max(int(raw) / 2 / 1_000_000, MIN_WATCHDOG_PING.total_seconds())


def reloading_message(monotonic_ns: int) -> str:
    """``RELOADING=1`` with the CLOCK_MONOTONIC time in µs (systemd ≥ 253 requires it with
    ``Type=notify-reload``; older ones ignore the field)."""
    return f"RELOADING=1\nMONOTONIC_USEC={monotonic_ns // 1000}"


def status_text(site_states: Iterable[str], outbox_depth: int | None) -> str:
    """The ``STATUS=`` line: ``3 sites: 2 up, 1 down; outbox 0``.

    ``site_states`` holds one of ``up``, ``down``, ``unknown`` per site; unknown is only shown
    when there is some.
    """
    counts = {"up": 0, "down": 0, "unknown": 0}
    total = 0
    for state in site_states:
        counts[state] = counts.get(state, 0) + 1
        total += 1
    parts = [f"{counts['up']} up", f"{counts['down']} down"]
    if counts["unknown"]:
        parts.append(f"{counts['unknown']} unknown")
    text = f"{total} site{'' if total == 1 else 's'}: {', '.join(parts)}"
    if outbox_depth is not None:
        text += f"; outbox {outbox_depth}"
    return text


def site_states(board: CheckBoard) -> dict[str, str]:
    """``client/site`` -> ``down`` if any of its checks is down, else ``unknown`` if any is
    unknown (or it has no checks), else ``up``."""
    out: dict[str, str] = {}
    states = board.states
    for key, sc in board.checks.items():
        site = f"{sc.ref.client}/{sc.ref.site}"
        state = states[key].status if key in states else "unknown"
        prev = out.get(site)
        if prev is None or _RANK[state] < _RANK[prev]:
            out[site] = state
    return out


_RANK = {"down": 0, "unknown": 1, "up": 2}


class SystemdNotifier:
    """Sends notify messages to one socket address (or nowhere when ``address`` is None)."""

    def __init__(self, address: str | bytes | None, watchdog: float | None = None) -> None:
        self.address = address
        self.watchdog = watchdog
        """Seconds between watchdog pings, or None when systemd watches nothing."""
        self.sent = 0
        self._log = get_logger(component="systemd")
        self._warned = False

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, pid: int | None = None
    ) -> SystemdNotifier:
        env = os.environ if environ is None else environ
        address = notify_address(env.get(NOTIFY_SOCKET_ENV))
        if env.get(NOTIFY_SOCKET_ENV) and address is None:
            get_logger(component="systemd").warning(
                "systemd.notify_socket_unsupported",
                hint="NOTIFY_SOCKET is neither a path nor an @abstract name; "
                "readiness is not reported (run under systemd 252/253 or without Type=notify)",
            )
        interval = watchdog_interval(env, os.getpid() if pid is None else pid)
        return cls(address, interval if address is not None else None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        """Send one message; True when it went out. Never raises: systemd being away must
        not take monitoring down (the failure is logged once)."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                self._log.warning(
                    "systemd.notify_failed",
                    error=exc.strerror or type(exc).__name__,
                    hint="systemd's notify socket did not take the message; check NotifyAccess=",
                )
            return False
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def reloading(self) -> bool:
        return self.send(reloading_message(time.clock_gettime_ns(time.CLOCK_MONOTONIC)))

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def ping(self) -> bool:
        return self.send("WATCHDOG=1")

    async def watchdog_loop(self) -> None:
        """Ping every ``watchdog`` seconds from the event loop, until cancelled."""
        if self.watchdog is None:
            return
        while True:
            self.ping()
            await asyncio.sleep(self.watchdog)


if TYPE_CHECKING:

    class _StatusSource(Runtime, CheckBoard, Protocol):
        """What the ``STATUS=`` line reads."""


class SystemdService:
    """The daemon's systemd side: the watchdog pinger and the periodic ``STATUS=`` line.

    READY, RELOADING and STOPPING are sent by the daemon itself around start, SIGHUP and
    SIGTERM (``Daemon.sd``). It reads the checks' states and the outbox depth.
    """

    name = "systemd"

    def __init__(self, notifier: SupervisorLink) -> None:
        self.notifier = notifier
        self._tasks: list[asyncio.Task[None]] = []
        self._runtime: _StatusSource | None = None

    async def start(self, runtime: _StatusSource) -> None:
        self._runtime = runtime
        if self.notifier.watchdog is not None:
            self._tasks.append(
                asyncio.create_task(self.notifier.watchdog_loop(), name="systemd-watchdog")
            )
        self._tasks.append(asyncio.create_task(self._status_loop(), name="systemd-status"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()

    async def reload(self, runtime: _StatusSource) -> None:
        self._runtime = runtime
        await self.send_status()

    async def send_status(self) -> None:
        runtime = self._runtime
        if runtime is None:
            return
        depth: int | None = None
        try:
            depth = (await runtime.store.outbox_stats(runtime.clock())).depth
        except Exception:  # the store reports its own failures; the line just omits it
            depth = None
        self.notifier.status(status_text(site_states(runtime).values(), depth))

    async def _status_loop(self) -> None:
        while True:
            await self.send_status()
            await asyncio.sleep(STATUS_INTERVAL.total_seconds())


def systemd_service(runtime: ServiceRuntime) -> SystemdService | None:
    """The service factory for ``daemon.default_services()``: only under systemd."""
    link = runtime.supervisor
    return SystemdService(link) if link.enabled else None
