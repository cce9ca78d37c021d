"""The durable outbox sender: claim due notifications, deliver them, record what happened.

Notifications reach the outbox through the store (``Store.write`` with notifications, or
``Store.enqueue``) before anything is sent. ``OutboxSender`` claims due items, hands each to
its notifier, and records the outcome: sent, retry later (with backoff, honouring a server's
``Retry-After``), or failed (loudly).

Delivery is continuous: the sender keeps claiming while sends are in flight, and each notifier
has its own send slots (NOTIFIER_SLOTS), so a slow or hanging destination delays only its own
items. Items to one destination (notifier and recipient) go out in order within their event
thread (the store's claim sees to it).

Each sender run has a random ``run_id`` (``<node>/<token>`` on a node of a cluster). Before a
send begins its start is recorded (``Store.mark_attempt``); after it, the outcome. An outcome
the store cannot take is kept and recorded again until it is (never answered by a resend). At
start, a run takes over what a previous run (a process that died: one daemon per store, or per
node id in a cluster) left SENDING; a node of a cluster also takes, every RECOVER_EVERY_NODE,
what a gone node left (its node lock released and a heartbeat missed, or three missed) or what
is past its lease. Items whose send had not begun are simply sent; the others are *uncertain*
and are resolved at once, without a blind resend where the channel allows (see
``FindsDeliveries`` and ``resend_is_harmless``, and docs/notifiers.md "Delivery guarantees").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Protocol, runtime_checkable

import structlog
from structlog.typing import FilteringBoundLogger

from monitord import limits
from monitord.clock import Clock
from monitord.errors import PermanentError, RetryableError
from monitord.notify.base import Notification, Notifier, is_mergeable
from monitord.store.base import OutboxItem, Store
from monitord.storm import merge_notifications

JITTER_FRACTION = 0.1
"""Backoff delays vary by ±10% per key, so items that failed together do not retry together."""

RETRY_AFTER_CEILING = timedelta(days=1)
"""The longest ``Retry-After`` honoured; a longer (or absurd) one is read as a day, so a buggy
or hostile server cannot park a notification for ever."""

CLAIMS_PER_SLOT = 4
"""Items claimed per round for each concurrent send slot: enough to keep every slot busy
between rounds, few enough that a stop or a crash leaves little claimed and unsent."""

NOTIFIER_SLOTS = 4
"""Sends in flight at once to one notifier (at most ``concurrency``). A destination that hangs
until its timeout (a webhook with ``timeout: 60s``) fills only its own slots; the others keep
the rest, so another site's DOWN mail is not held behind it."""

RECORD_RETRY_FIRST = timedelta(milliseconds=500)
RECORD_RETRY_CAP = timedelta(seconds=30)
"""An outcome the store could not record (locked, disk full) is recorded again after 0.5 s,
doubling up to every 30 s, for as long as it takes: the send happened, so it is never
answered by sending again."""

RECOVER_EVERY_NODE = timedelta(seconds=5)
"""How often a node of several (a PostgreSQL store) looks for a gone node's claims: one cheap
query; with limits.NODE_HEARTBEAT it bounds how late a killed node's notices go out (~15 s)."""

RECOVER_EVERY = timedelta(minutes=1)
"""How often a running sender of a lone daemon looks for items another sender run left
SENDING past limits.OUTBOX_LEASE (another daemon on the same store, which is forbidden); a gone
run's items are taken over at once, at the first round."""

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
    # Up to the next whole microsecond, exactly: timedelta(seconds=float) rounds to the
    # nearest one, which can land just before the server's Retry-After.
    return timedelta(microseconds=math.ceil(Fraction(delay) * 1_000_000))


@runtime_checkable
class FindsDeliveries(Protocol):
    """A notifier that can tell whether a notification was already applied at its destination
    (a ticket system: the store's record, or the ticket found by its idempotency field)."""

    async def find_delivery(self, notification: Notification) -> str | None:
        """The external id of what ``notification`` made, or None when it made nothing."""
        ...


def resend_is_harmless(notifier: object) -> bool:
    """Whether sending a notification again is invisible at the destination: the notifier says
    so with a class attribute ``resend_is_harmless = True`` (PagerDuty deduplicates on
    ``dedup_key``, Opsgenie on ``alias``, the local tickets on the notification's key)."""
    return getattr(notifier, "resend_is_harmless", False) is True


def _error_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_CAP else text[: ERROR_TEXT_CAP - 1] + "…"


Unit = list[OutboxItem]
"""Items delivered by one send: one item, or the due items of one storm group merged."""


class OutboxSender:
    """Delivers the outbox through the configured notifiers (by notifier name)."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        log: FilteringBoundLogger | None = None,
        concurrency: int = 8,
        per_notifier: int = NOTIFIER_SLOTS,
        node: str = "",
    ) -> None:
        if concurrency < 1 or per_notifier < 1:
            raise ValueError("concurrency and per_notifier must be at least 1")
        self._store = store
        self._notifiers = notifiers
        self._stopping = False
        self._clock = clock
        self._log: FilteringBoundLogger = log or structlog.get_logger("monitord.outbox")
        self._concurrency = concurrency
        self._per_notifier = min(per_notifier, concurrency)
        self._slots = asyncio.Semaphore(concurrency)
        self._notifier_slots: dict[str, asyncio.Semaphore] = {}
        self._claimed: Counter[str] = Counter()
        """Items claimed by this run and not finished, per notifier."""
        self._sizes: dict[asyncio.Task[None], int] = {}
        """The deliveries in flight, with how many items each carries."""
        self._woken = asyncio.Event()
        self._next_due: datetime | None = None
        self._recover_at: datetime | None = None
        self._round_lock = asyncio.Lock()
        token = secrets.token_hex(16)
        self.run_id = f"{node}/{token}" if node else token
        self.node = node
        """This sender's node of a cluster ("" with one daemon per store)."""
        """This run's id, recorded with every item it claims: SENDING items of another id
        were left by a run that is gone (or, ``<node>/…``, are another node's)."""

    @property
    def batch_size(self) -> int:
        """Items claimed per round at most."""
        return self._concurrency * CLAIMS_PER_SLOT

    @property
    def in_flight(self) -> int:
        """Items claimed by this run whose delivery is not finished."""
        return sum(self._claimed.values())

    def wake(self) -> None:
        """Tell ``run`` that new items were enqueued, so it delivers them now."""
        self._woken.set()

    def finish(self) -> None:
        """Ask ``run`` to return once the sends that have begun are done and recorded (so a
        restart does not repeat them); claimed items not yet begun are left for the next run."""
        self._stopping = True
        self._woken.set()

    # ------------------------------------------------------------------ rounds

    async def run_once(self) -> int:
        """One round: claim due items and deliver them, awaiting those deliveries and any
        others in flight (tests and one-shot use: what is due now is delivered when this
        returns). Returns how many items were delivered meanwhile (or failed, or retried)."""
        count, started = await self._round()
        others = {t: n for t, n in self._sizes.items() if t not in started}
        count += sum(others.values())
        await asyncio.gather(*started, *others, return_exceptions=True)
        for task in started:
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        return count

    async def run(self) -> None:
        """Deliver for ever, continuously: claim while sends are in flight, and wait for
        ``wake()``, a finished send, or the next due retry (at most IDLE_WAIT). ``finish()``
        returns after the sends under way; a cancel cancels them (they are recovered by the
        next run)."""
        try:
            while not self._stopping:
                self._woken.clear()
                try:
                    claimed, _ = await self._round()
                except Exception as exc:  # the store is failing: keep the sender alive, say so
                    self._log.error(
                        "outbox.round_failed",
                        error=_error_text(f"{type(exc).__name__}: {exc}"),
                        hint="deliveries resume when the state store works again",
                    )
                    claimed = 0
                if claimed > 0:
                    # More may be due right now: the rest of a full batch, or items of other
                    # notifiers while these are in flight.
                    continue
                timeout = IDLE_WAIT.total_seconds()
                if self._next_due is not None:
                    until = (self._next_due - self._clock()).total_seconds()
                    timeout = min(timeout, max(until, 0.0))
                    # Kept until it has come: a wake before then (another item, a finished
                    # send) must not make the sender forget it and poll 5 s late.
                    if until <= 0:
                        self._next_due = None
                # asyncio.timeout, not wait_for: wait_for can swallow a cancel that arrives
                # as the event is set (a send finishing), and the task would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._woken.wait()
            while self._sizes:
                await asyncio.gather(*list(self._sizes), return_exceptions=True)
        finally:
            for task in list(self._sizes):
                task.cancel()
            if self._sizes:
                await asyncio.gather(*list(self._sizes), return_exceptions=True)

    async def _round(self) -> tuple[int, list[asyncio.Task[None]]]:
        """Recover what a gone run left (all of it at this run's first round), claim what is
        due for notifiers with free slots, start their deliveries. Returns how many items
        were taken and the deliveries started. One round at a time (``run`` and
        ``run_once`` may overlap)."""
        async with self._round_lock:
            return await self._claim_and_start()

    async def _claim_and_start(self) -> tuple[int, list[asyncio.Task[None]]]:
        now = self._clock()
        recovered: list[OutboxItem] = []
        if self._recover_at is None or now >= self._recover_at:
            # At this run's first round: everything a gone run left; later, rarely, what
            # another run sharing the store (forbidden, but possible) left past the lease.
            # A node of several looks often, at every claim: the store takes only a gone
            # node's (or one past the lease), so a killed node's DOWN waits seconds, not
            # the lease (RECOVER_EVERY_NODE).
            first = self._recover_at is None
            before = now if first or self.node else now - limits.OUTBOX_LEASE
            recovered = await self._store.recover(self.run_id, now, before)
            self._recover_at = now + (RECOVER_EVERY_NODE if self.node else RECOVER_EVERY)
        if recovered:
            self._log.warning(
                "outbox.recovered",
                items=len(recovered),
                hint="a previous run stopped while sending these; resolving them now",
            )
        busy = [n for n, c in self._claimed.items() if c >= self._per_notifier]
        items = await self._store.claim_due(now, self.batch_size, self.run_id, busy)
        units = await self._units(recovered, complete_groups=False)
        units += await self._units(items, complete_groups=len(items) >= self.batch_size)
        return sum(len(u) for u in units), [self._start(unit) for unit in units]

    def _start(self, unit: Unit) -> asyncio.Task[None]:
        notifier = unit[0].notifier
        self._claimed[notifier] += len(unit)
        task = asyncio.create_task(self._deliver_unit(unit), name=f"outbox-send-{unit[0].key}")
        self._sizes[task] = len(unit)

        def done(t: asyncio.Task[None]) -> None:
            self._sizes.pop(t, None)
            self._claimed[notifier] -= len(unit)
            if self._claimed[notifier] <= 0:
                del self._claimed[notifier]
            # A slot is free, and the next item of this thread may be claimable now.
            self._woken.set()
            if not t.cancelled() and (exc := t.exception()) is not None:
                self._log.error(
                    "outbox.delivery_crashed",
                    notifier=notifier,
                    key=unit[0].key,
                    error=_error_text(f"{type(exc).__name__}: {exc}"),
                    hint="a monitord bug: the item is resolved again at the next start",
                )

        task.add_done_callback(done)
        return task

    async def _units(self, items: list[OutboxItem], *, complete_groups: bool) -> list[Unit]:
        """Split items into sends: the items of one storm group for a mergeable notifier are
        one send (with ``complete_groups``, their due members a full batch left out are
        claimed too); every other item is a send of its own."""
        groups: dict[tuple[str, str], Unit] = {}
        units: list[Unit] = []
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
        if complete_groups:
            # A full batch may have cut a group in two: take the rest of it now.
            for (_, group), members in groups.items():
                members.extend(await self._store.claim_group(group, self._clock(), self.run_id))
        return units

    def _slot(self, notifier: str) -> asyncio.Semaphore:
        slot = self._notifier_slots.get(notifier)
        if slot is None:
            slot = self._notifier_slots[notifier] = asyncio.Semaphore(self._per_notifier)
        return slot

    def _schedule(self, due: datetime) -> None:
        if self._next_due is None or due < self._next_due:
            self._next_due = due

    # ------------------------------------------------------------------ one send

    async def _deliver_unit(self, unit: Unit) -> None:
        first = unit[0]
        log = self._log.bind(
            notifier=first.notifier,
            key=first.key,
            attempt=first.attempts,
            thread=first.notification.event.thread,
        )
        if len(unit) > 1:
            log = log.bind(group=first.notification.group, merged=len(unit))
        notifier = self._notifiers.get(first.notifier)
        if notifier is None:
            error = (
                f"the configuration no longer has a notifier named {first.notifier!r}; "
                "add it back and re-queue the item, or leave it failed"
            )
            log.error("outbox.failed", reason="unknown-notifier", error=error)
            for item in unit:
                await self._record(log, self._store.mark_failed, item.id, self._clock(), error)
            return
        if first.attempts > limits.OUTBOX_MAX_ATTEMPTS:
            # Taken over from a run that stopped during the last allowed attempt.
            for item in unit:
                await self._give_up(item, log, item.last_error or "sender stopped mid-delivery")
            return
        notification = (
            first.notification
            if len(unit) == 1
            else merge_notifications([i.notification for i in unit])
        )
        async with self._slot(first.notifier), self._slots:
            if self._stopping:
                return  # not begun: the next run sends it
            try:
                external_id = await self._send(unit, notifier, notification, log)
            except PermanentError as exc:
                error = _error_text(str(exc))
                log.error(
                    "outbox.failed",
                    reason="permanent",
                    error=error,
                    hint="fix the destination or its configuration; this will not be retried",
                )
                for item in unit:
                    await self._record(log, self._store.mark_failed, item.id, self._clock(), error)
                return
            except Exception as exc:  # retryable, or a notifier bug / unclassified failure
                retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
                error = _error_text(
                    str(exc) if isinstance(exc, RetryableError) else f"{type(exc).__name__}: {exc}"
                )
                await self._retry(unit, notification.key, log, error, retry_after)
                return
        # Shielded and retried until stored: a send that happened is recorded even if we are
        # being stopped right now, and never answered by a resend.
        for item in unit:
            await self._record(log, self._store.mark_sent, item.id, self._clock(), external_id)
        if len(unit) == 1:
            log.info("outbox.sent", external_id=external_id)
        else:
            log.info("outbox.sent", external_id=external_id, keys=[i.key for i in unit])

    async def _send(
        self,
        unit: Unit,
        notifier: Notifier,
        notification: Notification,
        log: FilteringBoundLogger,
    ) -> str | None:
        """Record that the send begins, then send; an uncertain unit is first looked up where
        the notifier can, and otherwise resent only as the channel allows (logged)."""
        if any(i.uncertain for i in unit):
            if isinstance(notifier, FindsDeliveries):
                found = await notifier.find_delivery(notification)
                if found is not None:
                    log.info("outbox.uncertain", resolution="found-delivered", external_id=found)
                    return found
                log.info("outbox.uncertain", resolution="not-delivered-sending")
            elif resend_is_harmless(notifier):
                log.info("outbox.uncertain", resolution="resent-deduplicated-by-destination")
            else:
                log.warning(
                    "outbox.uncertain",
                    resolution="resent-may-duplicate",
                    hint="the previous run stopped after this send began; the destination "
                    "cannot be asked whether it arrived, so it is sent again with the same "
                    "identity (e-mail Message-ID, webhook X-Monitord-Key)",
                )
        ids = [i.id for i in unit]
        await self._record(log, self._store.mark_attempt, ids, self._clock(), self.run_id)
        log.debug("outbox.sending", key=notification.key)
        return await notifier.send(notification)

    async def _record(
        self,
        log: FilteringBoundLogger,
        op: Callable[..., Awaitable[None]],
        *args: object,
    ) -> None:
        """``op(*args)`` on the store, again and again until it succeeds (loudly meanwhile)."""
        delay = RECORD_RETRY_FIRST.total_seconds()
        failures = 0
        while True:
            try:
                await asyncio.shield(op(*args))
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.error(
                        "outbox.record_failed",
                        what=op.__name__,
                        error=_error_text(f"{type(exc).__name__}: {exc}"),
                        hint="the outcome is kept and recorded as soon as the state store "
                        "takes it; nothing is sent again meanwhile",
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_CAP.total_seconds())
                continue
            if failures:
                log.warning("outbox.recorded", what=op.__name__, tries=failures + 1)
            return

    async def _retry(
        self,
        unit: Unit,
        jitter_key: str,
        log: FilteringBoundLogger,
        error: str,
        retry_after: float | None,
    ) -> None:
        now = self._clock()
        # One due time for the whole unit (jitter by its key), so a group stays one send.
        due = now + backoff(max(i.attempts for i in unit), jitter_key, retry_after)
        retried = False
        for item in unit:
            if item.attempts >= limits.OUTBOX_MAX_ATTEMPTS:
                await self._give_up(item, log, error)
            else:
                await self._record(log, self._store.mark_retry, item.id, now, due, error)
                retried = True
        if retried:
            self._schedule(due)
            log.warning(
                "outbox.retry", error=error, due_at=due.isoformat(), retry_after=retry_after
            )

    async def _give_up(self, item: OutboxItem, log: FilteringBoundLogger, error: str) -> None:
        error = _error_text(f"gave up after {item.attempts} attempts; last error: {error}")
        log.error(
            "outbox.failed",
            reason="too-many-attempts",
            error=error,
            hint="check the destination; the item stays in the outbox as failed",
        )
        await self._record(log, self._store.mark_failed, item.id, self._clock(), error)
