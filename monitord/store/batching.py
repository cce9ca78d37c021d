"""The batched half of a store's write path, shared by every backend.

Probe results that change nothing worth telling are not committed one by one: the latest
state and result per check wait here and are committed together, when STORE_BATCH_SIZE checks
are waiting or STORE_FLUSH_INTERVAL has passed (a durable write takes the waiting ones along in
its own transaction). A newer write of a check supersedes the waiting one, keeping its result
unless it brings its own. The backend says how to commit; this holds the waiting entries and
runs the background flush.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from structlog.typing import FilteringBoundLogger

from monitord.errors import StoreError

R = TypeVar("R")
"""A backend's bound form of a probe result."""
T = TypeVar("T")
"""A backend's bound form of a time."""


@dataclass(frozen=True)
class Pending(Generic[R, T]):
    """One check's state and latest result, serialised, waiting to be committed. (No
    ``slots``: a slotted generic dataclass cannot be built through its parametrised alias,
    ``Pending[R, T](…)``; at most one batch of these is alive.)"""

    state: str
    result: R | None
    now: T

    def superseded_by(self, newer: Pending[R, T]) -> Pending[R, T]:
        result = newer.result if newer.result is not None else self.result
        return Pending(newer.state, result, newer.now)


def merge_pending(
    older: dict[str, Pending[R, T]], newer: dict[str, Pending[R, T]]
) -> dict[str, Pending[R, T]]:
    """``newer`` over ``older``, entry by entry (a failed commit's batch, put back before what
    was queued since)."""
    if not older:
        return newer
    out = dict(older)
    for key, entry in newer.items():
        prev = out.get(key)
        out[key] = entry if prev is None else prev.superseded_by(entry)
    return out


class WriteBatch(Generic[R, T]):
    """The waiting entries of one store, and its background flush."""

    def __init__(self, batch_size: int, flush_interval: timedelta) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.pending: dict[str, Pending[R, T]] = {}
        self._has_pending = asyncio.Event()
        self._full = asyncio.Event()

    def add(self, key: str, entry: Pending[R, T]) -> None:
        prev = self.pending.get(key)
        self.pending[key] = entry if prev is None else prev.superseded_by(entry)
        self._has_pending.set()
        if len(self.pending) >= self.batch_size:
            self._full.set()

    def take(self) -> dict[str, Pending[R, T]]:
        """Everything waiting, for one commit (the batch is empty after)."""
        batch, self.pending = self.pending, {}
        self._has_pending.clear()
        self._full.clear()
        return batch

    async def run(
        self,
        flush: Callable[[], Awaitable[None]],
        listeners: list[Callable[[StoreError | None], None]],
        flushed: asyncio.Event,
        log: FilteringBoundLogger,
    ) -> None:
        """Flush for ever: once something waits, after the flush interval or at once when the
        batch is full; each outcome is told to ``listeners`` (the daemon's store health)."""
        interval = self.flush_interval.total_seconds()
        while True:
            await self._has_pending.wait()
            if not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), timeout=interval)
            error: StoreError | None = None
            try:
                await flush()
            except StoreError as exc:
                error = exc
                log.error(
                    "store.flush_failed",
                    error=str(exc),
                    hint="the batched results are kept and written with the next commit",
                )
            for listener in listeners:
                listener(error)
            flushed.set()
