"""The support-hours service of the daemon: the hourly refresh and the warnings.

- On every refresh (:func:`~monitord.contracts.refresh.next_refresh`: on the hour, 09:00–16:00
  on working days) it pulls the helpdesks' time entries and estimates into the hours store
  (:mod:`monitord.contracts.pull`).
- Every :data:`WARN_INTERVAL` — so time logged with ``monitord hours log`` or an estimate given
  with ``monitord hours estimate`` is acted on within a minute — it works out each contract's
  running statement and queues the ``hours`` warnings (:mod:`monitord.contracts.warnings`)
  through the outbox, then marks them sent in the hours store: a key already queued is ignored
  by the outbox, and a key marked sent is never queued again, so no warning goes twice across
  restarts.

The service reaches the daemon through the narrow :class:`~monitord.runtime.Runtime` only (the
store, the configuration, the clock, and ``emit``: the one pipeline that stores the warnings'
notifications, tells and wakes the sender).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from monitord.calendar import agency_calendar
from monitord.config.models import ClientConfig, Config
from monitord.contracts.ledger import Terms, statement
from monitord.contracts.models import Month
from monitord.contracts.pull import HelpdeskPull, PullResult, build_pulls, pull_all
from monitord.contracts.refresh import next_refresh
from monitord.contracts.warnings import (
    Warning,
    estimate_key,
    estimate_warning,
    threshold_key,
    threshold_warning,
)
from monitord.logsetup import get_logger
from monitord.notify.base import Notification
from monitord.routing import contacts_for, notification_key, route
from monitord.store.side import HoursStore, open_time_entries
from monitord.tickets import COMMENT_ON

if TYPE_CHECKING:
    from monitord.runtime import Runtime

_T = TypeVar("_T")

WARN_INTERVAL = timedelta(minutes=1)
"""How often the warnings are worked out: an entry logged by hand or an estimate given on the
command line is acted on within a minute; a round is one read of each contract's entries."""

COMMENTABLE = frozenset({"jira", "freshdesk", "redmine", "zendesk"})
"""Notifier types that can comment on a ticket of their helpdesk (an estimate to approve)."""


def contract_clients(config: Config) -> list[tuple[ClientConfig, Terms]]:
    billing = config.main.billing
    if billing is None:
        return []
    return [
        (c, Terms.from_config(billing, c.contract))
        for c in config.clients
        if c.contract is not None
    ]


def warning_notifications(
    w: Warning, client: ClientConfig, config: Config, now: datetime
) -> list[Notification]:
    """Who is told: a threshold goes where routing sends ``hours`` (the contacts with
    ``notify: [hours]`` and the ticket system); an estimate to approve goes to those contacts
    and as a comment on the ticket itself."""
    if w.comment_on is None:
        return route(w.event, config, now=now)
    out = [
        Notification(notification_key(w.event, "email", email), "email", email, name, w.event)
        for name, email in contacts_for(w.event, client)
        if config.main.smtp is not None
    ]
    notifier, _, external = w.comment_on.partition(":")
    configured = config.main.notifiers.get(notifier)
    if external and configured is not None and configured.type in COMMENTABLE:
        event = replace(w.event, details={**w.event.details, COMMENT_ON: external})
        out.append(Notification(notification_key(event, notifier, ""), notifier, "", "", event))
    return out


class HoursService:
    """Pulls time entries on the refresh schedule and sends the hours warnings."""

    name = "hours"

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.log = get_logger(component="hours")
        self._task: asyncio.Task[None] | None = None
        self._hours: HoursStore | None = None
        self._pulls: list[HelpdeskPull] = []
        self._due: datetime | None = None
        self.refreshes: list[datetime] = []
        """When each refresh ran (tests read it)."""

    # ------------------------------------------------------------ life cycle

    async def start(self, runtime: Runtime) -> None:
        self.rt = runtime
        config = self.rt.config()
        if config is None:
            return
        # (Opening it on PostgreSQL connects and checks the schema: off the loop too.)
        self._hours = await asyncio.to_thread(open_time_entries, config)
        self._pulls = build_pulls(config, self.rt.clock)
        if runtime.background:
            self._task = asyncio.create_task(self._loop(), name="hours")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for p in self._pulls:
            await p.aclose()
        self._pulls = []
        if self._hours is not None:
            self._hours.close()
            self._hours = None

    async def reload(self, runtime: Runtime) -> None:
        self.rt = runtime
        for p in self._pulls:
            await p.aclose()
        config = self.rt.config()
        self._pulls = build_pulls(config, self.rt.clock) if config is not None else []
        self._due = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick(self.rt.clock())
            except Exception:  # keep the service alive; the next round tries again
                self.log.exception("hours.round_failed")
            wait = WARN_INTERVAL
            if self._due is not None:
                wait = min(wait, max(self._due - self.rt.clock(), timedelta(0)))
            await asyncio.sleep(max(wait.total_seconds(), 1.0))

    # ------------------------------------------------------------ rounds

    async def tick(self, now: datetime) -> list[Notification]:
        """One round at ``now``: the refresh when one is due, then the warnings."""
        config = self.rt.config()
        if config is None or self._hours is None:
            return []
        calendar = agency_calendar(config.main.agency)
        if self._due is None:
            self._due = next_refresh(now - timedelta(microseconds=1), calendar)
        if now >= self._due:
            await self.refresh(now)
            self._due = next_refresh(now, calendar)
        return await self.warn(now)

    async def refresh(self, now: datetime) -> list[PullResult]:
        """Pull every linked helpdesk now, and keep the estimates they carry."""
        config = self.rt.config()
        if config is None or self._hours is None:
            return []
        self.refreshes.append(now)
        zone = ZoneInfo(config.main.agency.timezone)
        hours = self._hours
        results = await pull_all(self._pulls, hours, now, zone)
        for r in results:
            await asyncio.to_thread(_set_estimates, hours, r, now)
            if r.error:
                self.log.warning("hours.pull_failed", source=r.source, error=r.error)
            else:
                self.log.info(
                    "hours.pulled", source=r.source, added=r.added, updated=r.updated,
                    deleted=r.deleted, pages=r.pages,
                )  # fmt: skip
        return results

    async def warn(self, now: datetime) -> list[Notification]:
        """Queue the warnings due at ``now``; returns the notifications queued."""
        config = self.rt.config()
        hours = self._hours
        store = self.rt.store
        if config is None or hours is None or store is None:
            return []
        zone = ZoneInfo(config.main.agency.timezone)
        month = Month.of(now, zone)
        # The ledger's reads on a worker thread: on PostgreSQL each is a round trip to the
        # database, which must not hold up the event loop (the probes' schedule).
        due = await asyncio.to_thread(_warnings_due, config, hours, now, zone, month)
        queued: list[Notification] = []
        for client, warnings in due:
            for w in warnings:
                notes = warning_notifications(w, client, config, now)
                if notes:
                    # Stored, then told and the sender woken: the one pipeline.
                    await self.rt.emit(
                        "hours warning", [(w.event, notes)], _enqueue(store, notes, now)
                    )
                await asyncio.to_thread(_mark_warned, hours, w.marks, client.client, month, now)
                self.log.info(
                    "hours.warning", client=client.client, key=w.event.key, sent_to=len(notes)
                )
                queued.extend(notes)
        return queued


def _warnings_due(
    config: Config, hours: HoursStore, now: datetime, zone: ZoneInfo, month: Month
) -> list[tuple[ClientConfig, list[Warning]]]:
    """Each contract client's warnings due at ``now`` (reads the ledger: run on a thread)."""
    estimates = hours.estimates()
    out: list[tuple[ClientConfig, list[Warning]]] = []
    for client, terms in contract_clients(config):
        if month < terms.start:
            continue
        st = statement(
            client.client,
            terms,
            month,
            hours.entries(client.client),
            hours.closed(client.client),
            now,
            zone,
        )
        warnings: list[Warning] = []
        keys = [threshold_key(client.client, st, t) for t in terms.thresholds]
        sent = {k for k in keys if hours.warned(k)}
        w = threshold_warning(client.client, client.name, st, terms.thresholds, sent, zone)
        if w is not None:
            warnings.append(w)
        for e in estimates:
            if e.client != client.client:
                continue
            key = estimate_key(e.ticket, e.seconds)
            done = {key} if hours.warned(key) else set()
            ew = estimate_warning(client.client, client.name, e.ticket, e.seconds, st, done, zone)
            if ew is not None:
                warnings.append(ew)
        out.append((client, warnings))
    return out


def _set_estimates(hours: HoursStore, r: PullResult, now: datetime) -> None:
    for ticket, client, seconds in r.estimates:
        hours.set_estimate(ticket, client, seconds, r.source, now)


def _mark_warned(
    hours: HoursStore, keys: Iterable[str], client: str, month: Month, now: datetime
) -> None:
    for key in keys:
        hours.mark_warned(key, client, month, now)


def _enqueue(store: Any, notes: list[Notification], now: datetime) -> Callable[[], Awaitable[int]]:
    async def commit() -> int:
        queued: int = await store.enqueue(notes, now)
        return queued

    return commit


def hours_service(runtime: Runtime) -> HoursService | None:
    """The daemon's service factory: on when some client has a contract."""
    config = runtime.config()
    if not any(c.contract is not None for c in config.clients):
        return None
    return HoursService(runtime)
