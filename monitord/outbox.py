"""The durable outbox sender: claim due notifications, deliver them, record what happened.

Notifications reach the outbox through the store (``Store.write`` with notifications, or
``Store.enqueue``) before anything is sent. ``OutboxSender`` claims due items, hands each to
its notifier, and records the outcome: sent, retry later (with backoff, honouring a server's
``Retry-After``), or failed (loudly). A sender that dies mid-send leaves its items claimed; they
are claimed again once limits.OUTBOX_LEASE has passed, and the notifier's idempotency on
``notification.key`` keeps the second send from being seen twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import Mapping
from datetime import datetime, timedelta

import structlog
from structlog.typing import FilteringBoundLogger

from monitord import limits
from monitord.clock import Clock
from monitord.errors import PermanentError, RetryableError
from monitord.notify.base import Notifier, is_mergeable
from monitord.store.base import OutboxItem, Store
from monitord.storm import merge_notifications

JITTER_FRACTION = 0.1
"""Backoff delays vary by ±10% per key, so items that failed together do not retry together."""

RETRY_AFTER_CEILING = timedelta(days=1)
"""The longest ``Retry-After`` honoured; a longer (or absurd) one is read as a day, so a buggy
or hostile server cannot park a notification for ever."""

CLAIMS_PER_SLOT = 4
"""Items claimed per ``run_once`` for each concurrent send slot. Even if every send takes the
full SMTP timeout, a claimed batch is done in 4 × 30 s = 2 min, well inside OUTBOX_LEASE, so no
item is claimed twice while its first send is still queued."""

IDLE_WAIT = timedelta(seconds=5)
"""The longest ``run`` waits between polls when not woken: it also picks up items enqueued by
another process or due later, and leases that expired."""

ERROR_TEXT_CAP = 1000
"""Characters of an error message kept in the outbox: enough to diagnose, bounded in size."""


def backoff(attempts: int, key: str, retry_after: float | None) -> timedelta:
    """How long to wait before the next try, after ``attempts`` failed tries of ``key``.

    OUTBOX_BACKOFF_BASE after the first failure, doubling each time, never above
    OUTBOX_BACKOFF_CAP, varied by a jitter of ±JITTER_FRACTION that depends only on ``key``
    (so it is reproducible). Never shorter than ``retry_after`` seconds when the server gave
    one (up to RETRY_AFTER_CEILING).
    """
    base = limits.OUTBOX_BACKOFF_BASE.total_seconds()
    cap = limits.OUTBOX_BACKOFF_CAP.total_seconds()
    # Past 2**40 every value is far over the cap; bounding the exponent avoids huge floats.
    exponent = min(max(attempts, 1) - 1, 40)
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64  # in [0, 1)
    jitter = 1.0 + JITTER_FRACTION * (2.0 * unit - 1.0)
    delay = min(base * 2.0**exponent * jitter, cap)
    if retry_after is not None and not math.isnan(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, RETRY_AFTER_CEILING.total_seconds()))
    return timedelta(seconds=delay)


def _error_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_CAP else text[: ERROR_TEXT_CAP - 1] + "…"


class OutboxSender:
    """Delivers the outbox through the configured notifiers (by notifier name)."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        log: FilteringBoundLogger | None = None,
        concurrency: int = 8,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._store = store
        self._notifiers = notifiers
        self._stopping = False
        self._clock = clock
        self._log: FilteringBoundLogger = log or structlog.get_logger("monitord.outbox")
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._woken = asyncio.Event()
        self._next_due: datetime | None = None

    @property
    def batch_size(self) -> int:
        """Items claimed per ``run_once``."""
        return self._concurrency * CLAIMS_PER_SLOT

    def wake(self) -> None:
        """Tell ``run`` that new items were enqueued, so it delivers them now."""
        self._woken.set()

    def finish(self) -> None:
        """Ask ``run`` to return after the round in flight: a clean stop lets sends that have
        begun complete and be recorded, so a restart does not repeat them."""
        self._stopping = True
        self._woken.set()

    async def run_once(self) -> int:
        """Claim due items, deliver them concurrently, record each outcome. Returns the count."""
        items = await self._store.claim_due(self._clock(), self.batch_size)
        if not items:
            return 0
        units = await self._units(items)
        # Every delivery finishes even if recording another one fails; then the first such
        # error (a store error) is raised.
        outcomes = await asyncio.gather(
            *(
                self._deliver(unit[0]) if len(unit) == 1 else self._deliver_merged(unit)
                for unit in units
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return sum(len(u) for u in units)

    async def run(self) -> None:
        """Deliver for ever: after each round, wait for ``wake()`` or the next due retry
        (at most IDLE_WAIT). Cancel the task to stop; claimed items left unsent are claimed
        again after the lease."""
        while not self._stopping:
            self._woken.clear()
            try:
                claimed = await self.run_once()
            except Exception as exc:  # the store is failing: keep the sender alive, say so
                self._log.error(
                    "outbox.round_failed",
                    error=_error_text(f"{type(exc).__name__}: {exc}"),
                    hint="deliveries resume when the state store works again",
                )
                claimed = 0
            if claimed > 0:
                # More may be due right now: the rest of a full batch, or a later item of a
                # thread whose earlier one this round just delivered.
                continue
            timeout = IDLE_WAIT.total_seconds()
            if self._next_due is not None:
                until = (self._next_due - self._clock()).total_seconds()
                timeout = min(timeout, max(until, 0.0))
                self._next_due = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=timeout)

    async def _units(self, items: list[OutboxItem]) -> list[list[OutboxItem]]:
        """Split claimed items into sends: the items of one storm group for a mergeable
        notifier are one send (their due members a batch left out are claimed too); every
        other item is a send of its own."""
        groups: dict[tuple[str, str], list[OutboxItem]] = {}
        units: list[list[OutboxItem]] = []
        for item in items:
            group = item.notification.group
            if group is None or not is_mergeable(self._notifiers.get(item.notifier)):
                units.append([item])
                continue
            key = (item.notifier, group)
            if key not in groups:
                groups[key] = []
                units.append(groups[key])
            groups[key].append(item)
        claim_group = getattr(self._store, "claim_group", None)  # SqliteStore has it
        if claim_group is not None and len(items) >= self.batch_size:
            # A full batch may have cut a group in two: take the rest of it now.
            for (_, group), members in groups.items():
                members.extend(await claim_group(group, self._clock()))
        return units

    async def _deliver_merged(self, items: list[OutboxItem]) -> None:
        """Send a group's items as one digest; record each item with the digest's outcome."""
        first = items[0]
        notifier = self._notifiers.get(first.notifier)
        log = self._log.bind(
            notifier=first.notifier, group=first.notification.group, merged=len(items)
        )
        if notifier is None:  # _units only merges for known notifiers; be safe anyway
            for item in items:
                await self._deliver(item)
            return
        digest = merge_notifications([i.notification for i in items])
        async with self._slots:
            log.debug("outbox.sending", key=digest.key)
            try:
                external_id = await notifier.send(digest)
            except PermanentError as exc:
                error = _error_text(str(exc))
                log.error("outbox.failed", reason="permanent", error=error)
                for item in items:
                    await self._store.mark_failed(item.id, self._clock(), error)
                return
            except Exception as exc:
                retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
                error = _error_text(
                    str(exc) if isinstance(exc, RetryableError) else f"{type(exc).__name__}: {exc}"
                )
                # One due time for the whole group (jitter by the group), so it stays one send.
                due = self._clock() + backoff(
                    max(i.attempts for i in items), digest.key, retry_after
                )
                for item in items:
                    if item.attempts >= limits.OUTBOX_MAX_ATTEMPTS:
                        await self._give_up(item, log, error)
                    else:
                        await self._store.mark_retry(item.id, self._clock(), due, error)
                self._schedule(due)
                log.warning("outbox.retry", error=error, due_at=due.isoformat())
                return
        for item in items:
            await asyncio.shield(self._store.mark_sent(item.id, self._clock(), external_id))
        log.info("outbox.sent", external_id=external_id, keys=[i.key for i in items])

    def _schedule(self, due: datetime) -> None:
        if self._next_due is None or due < self._next_due:
            self._next_due = due

    async def _deliver(self, item: OutboxItem) -> None:
        log = self._log.bind(
            notifier=item.notifier,
            key=item.key,
            attempt=item.attempts,
            thread=item.notification.event.thread,
        )
        notifier = self._notifiers.get(item.notifier)
        if notifier is None:
            error = (
                f"the configuration no longer has a notifier named {item.notifier!r}; "
                "add it back and re-queue the item, or leave it failed"
            )
            log.error("outbox.failed", reason="unknown-notifier", error=error)
            await self._store.mark_failed(item.id, self._clock(), error)
            return
        if item.attempts > limits.OUTBOX_MAX_ATTEMPTS:
            # Re-claimed after its sender died on the last allowed attempt.
            await self._give_up(item, log, item.last_error or "sender stopped mid-delivery")
            return
        async with self._slots:
            log.debug("outbox.sending")
            try:
                external_id = await notifier.send(item.notification)
            except PermanentError as exc:
                error = _error_text(str(exc))
                log.error(
                    "outbox.failed",
                    reason="permanent",
                    error=error,
                    hint="fix the destination or its configuration; this will not be retried",
                )
                await self._store.mark_failed(item.id, self._clock(), error)
                return
            except RetryableError as exc:
                await self._retry(item, log, _error_text(str(exc)), exc.retry_after)
                return
            except Exception as exc:  # a notifier bug or an unclassified failure: try again
                error = _error_text(f"{type(exc).__name__}: {exc}")
                await self._retry(item, log, error, None)
                return
        # Shielded: a send that happened is recorded even if we are being stopped right now,
        # so a restart does not repeat it.
        await asyncio.shield(self._store.mark_sent(item.id, self._clock(), external_id))
        log.info("outbox.sent", external_id=external_id)

    async def _retry(
        self,
        item: OutboxItem,
        log: FilteringBoundLogger,
        error: str,
        retry_after: float | None,
    ) -> None:
        if item.attempts >= limits.OUTBOX_MAX_ATTEMPTS:
            await self._give_up(item, log, error)
            return
        now = self._clock()
        due = now + backoff(item.attempts, item.key, retry_after)
        await self._store.mark_retry(item.id, now, due, error)
        self._schedule(due)
        log.warning("outbox.retry", error=error, due_at=due.isoformat(), retry_after=retry_after)

    async def _give_up(self, item: OutboxItem, log: FilteringBoundLogger, error: str) -> None:
        error = _error_text(f"gave up after {item.attempts} attempts; last error: {error}")
        log.error(
            "outbox.failed",
            reason="too-many-attempts",
            error=error,
            hint="check the destination; the item stays in the outbox as failed",
        )
        await self._store.mark_failed(item.id, self._clock(), error)
