"""The durable step between an event and its notification: nothing is told, and nothing is
remembered, before the store has it.

Whatever raises an event (a check result, the connectivity rule, an advisory round, the ticket
SLA), the state change and its outbox rows are committed together in one transaction by the
store. :meth:`Pipeline.persist` runs that commit and, when the store refuses it (another program
holds the file locked, the disk is full), tries it again with backoff until it is stored —
logging ``store.write_failed`` each time and counting it for ``/metrics`` and ``/readyz`` — so a
DOWN is delayed while the store is failing, never dropped. Callers move their memory only after
``persist`` returned.

:meth:`Pipeline.hold` serialises the work on one key (a site whose checks share an incident,
else a check): while a durable write is pending, the next result waits, and is then evaluated
against the state the store has. So the DOWN and the RECOVERED of an incident are stored, and
sent, in the order they happened, and two checks of one site never open two incidents.

:meth:`Pipeline.emit` is the one way an event's notifications reach the outbox, whatever raised
it (an advisory round, the ticket SLA, the connectivity rule): the caller routes the events and
hands over the transaction that stores them with its own changes; ``emit`` persists it as above,
then tells the event listeners, logs each event and wakes the outbox sender.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from monitord import limits
from monitord.clock import Clock
from monitord.errors import FencedError, StoreError
from monitord.logsetup import get_logger

if TYPE_CHECKING:
    from monitord.events import Event
    from monitord.notify.base import Notification

_T = TypeVar("_T")

Told = tuple["Event", Sequence["Notification"]]
"""An event and the notifications routed from it (none when no route wants it)."""

EventListener = Callable[["Event", list["Notification"]], None]
"""Called with every event once it is stored, and the notifications routed from it."""


class Persist(Protocol):
    """``await persist(what, commit)``: ``commit()`` until it is stored (Pipeline.persist)."""

    def __call__(self, what: str, commit: Callable[[], Awaitable[_T]], /) -> Awaitable[_T]: ...


class Emit(Protocol):
    """``await emit(what, told, commit)``: store, then tell (Pipeline.emit)."""

    def __call__(
        self, what: str, told: Sequence[Told], commit: Callable[[], Awaitable[_T]], /
    ) -> Awaitable[_T]: ...


STORE_FAILING_HINT = (
    "monitord keeps this change in memory and retries until the store takes it; nothing is "
    "sent or forgotten meanwhile. Check that no other program holds the state file locked "
    "(a backup, an sqlite3 shell in a transaction, a second monitord), that its filesystem has "
    "room (df), and that the file and its directory are writable by monitord"
)


@dataclass(slots=True)
class StoreHealth:
    """Whether the store currently takes writes, as the daemon last saw it."""

    failures: int = 0
    """Writes the store refused since start (each try counts): monitord_store_write_failures."""
    failing_since: datetime | None = None
    """When the current run of failures began; None while writes succeed."""
    last_error: str | None = None
    listeners: list[Callable[[StoreError], None]] = field(default_factory=list)
    """Called with each refused write (tests await the first one)."""

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    def failed(self, exc: StoreError, now: datetime) -> None:
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        self.last_error = str(exc)
        for listener in self.listeners:
            listener(exc)

    def succeeded(self) -> None:
        self.failing_since = None
        self.last_error = None


class Pipeline:
    """The durable path of one daemon (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        first_retry: float = limits.STORE_RETRY_FIRST.total_seconds(),
        retry_cap: float = limits.STORE_RETRY_CAP.total_seconds(),
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        """How a retry waits (a test may replace it to release the wait on its own event)."""
        self.first_retry = first_retry
        self.retry_cap = retry_cap
        self.health = StoreHealth()
        self.log = get_logger(component="pipeline")
        self._holds: dict[str, tuple[asyncio.Lock, int]] = {}
        self._retrying = 0
        self.event_listeners: list[EventListener] = []
        """Called with every stored event and its notifications (demo, tests)."""
        self.wake: Callable[[], None] = _nothing
        """Tells the outbox sender that notifications were stored (the daemon sets it)."""

    async def emit(
        self, what: str, told: Sequence[Told], commit: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Store ``commit()`` (it enqueues the notifications in ``told`` with the caller's own
        changes, in one transaction) as :meth:`persist` does; then tell each event and wake
        the sender. Returns what ``commit`` returned."""
        out = await self.persist(what, commit)
        for event, routed in told:
            self.tell(event, routed)
        if any(routed for _, routed in told):
            self.wake()
        return out

    def tell(self, event: Event, routed: Sequence[Notification]) -> None:
        """An event is stored: the listeners hear it, and the log says it."""
        for listener in self.event_listeners:
            listener(event, list(routed))
        self.log.info(
            "event",
            kind=event.kind,
            client=event.client,
            site=event.site,
            check=event.check,
            summary=event.summary,
            notifications=len(routed),
        )

    async def persist(self, what: str, commit: Callable[[], Awaitable[_T]]) -> _T:
        """``await commit()`` until it succeeds; each StoreError is logged, counted and retried
        after a backoff (limits.STORE_RETRY_FIRST doubling to STORE_RETRY_CAP). Only
        cancellation (the daemon stopping) ends it unstored: then the caller's memory has not
        moved either, and the event is raised again from the stored state after a restart.

        A FencedError (this node is no longer the cluster's leader) is never retried: it is
        logged once (``cluster.fenced``) and raised; the new leader evaluates from the stored
        state, so nothing is lost, and this node steps down."""
        delay = self.first_retry
        attempt = 0
        retrying = False
        try:
            while True:
                attempt += 1
                try:
                    out = await commit()
                except FencedError as exc:
                    self.log.warning("cluster.fenced", what=what, error=str(exc))
                    raise
                except StoreError as exc:
                    if not retrying:
                        retrying = True
                        self._retrying += 1
                    self.health.failed(exc, self.clock())
                    self.log.error(
                        "store.write_failed",
                        what=what,
                        attempt=attempt,
                        retry_in_seconds=delay,
                        error=str(exc),
                        hint=STORE_FAILING_HINT,
                    )
                    await self.sleep(delay)
                    delay = min(delay * 2, self.retry_cap)
                    continue
                if retrying:
                    self.log.warning("store.write_recovered", what=what, attempts=attempt)
                break
        finally:
            # Also when cancelled while retrying (the daemon is stopping).
            if retrying:
                self._retrying -= 1
        if not self._retrying:
            self.health.succeeded()
        return out

    @property
    def pending(self) -> int:
        """Durable writes being retried now."""
        return self._retrying

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Exclusive use of ``key`` until the block ends (FIFO among waiters)."""
        lock, users = self._holds.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._holds[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock_now, users_now = self._holds[key]
            if users_now <= 1:
                del self._holds[key]
            else:
                self._holds[key] = (lock_now, users_now - 1)


async def persist_once(what: str, commit: Callable[[], Awaitable[_T]]) -> _T:
    """A :data:`Persist` without retries (a part used outside a daemon, e.g. in a test)."""
    return await commit()


async def emit_once(what: str, told: Sequence[Told], commit: Callable[[], Awaitable[_T]]) -> _T:
    """An :data:`Emit` without retries, listeners or sender (a part used outside a daemon)."""
    return await commit()


def _nothing() -> None:
    return None
