"""The daemon's side of routing: the state the pure parts need between events.

:class:`RoutingDesk` holds the open storm groups, the DOWNs suppressed by a maintenance window
or a connectivity problem (persisted in the store's meta table, so a restart inside a window
loses nothing) and the connectivity state; it probes the canary URLs when the pure rule asks.
Every decision is made by a pure function (monitord.routing, .storm, .maintenance, .oncall);
this class only keeps their inputs and moves their outputs to the outbox.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from monitord.config.models import ClientConfig, Config, Site
from monitord.events import Event
from monitord.logsetup import get_logger
from monitord.maintenance import (
    SUPPRESSIBLE_KINDS,
    Reason,
    Suppressed,
    follow_ups,
    in_maintenance,
    record_suppressed,
)
from monitord.notify.base import Notification, is_mergeable
from monitord.pipeline import Emit, Persist, emit_once, persist_once
from monitord.redact import display_url, scrub, url_credentials
from monitord.routing import EMAIL, grouping_window, notification_key, plan, resolve_target
from monitord.storm import (
    ConnectivityState,
    GroupKey,
    OpenGroup,
    assign_groups,
    connectivity_step,
)

if TYPE_CHECKING:
    from monitord.store.base import Store

SUPPRESSED_META_KEY = "routing.suppressed"
"""Where the suppressed DOWNs are kept (JSON) in the store's meta table."""

CANARY_TIMEOUT = timedelta(seconds=5)
"""How long one canary URL may take to answer: a reachable public site answers in well under
it, and the decision waits for it while many checks fail."""


class RoutingDesk:
    def __init__(
        self,
        config: Callable[[], Config | None],
        mergeable: Callable[[str], bool],
        ssl_context: Any = None,
    ) -> None:
        self._config = config
        self._mergeable = mergeable
        self._ssl = ssl_context
        self.log = get_logger(component="routing")
        self.open_groups: dict[GroupKey, OpenGroup] = {}
        self.suppressed: dict[str, Suppressed] = {}
        self.connectivity = ConnectivityState()
        self.latest_ok: dict[str, bool] = {}
        self._failing: set[str] = set()
        """Keys whose latest result failed: counted in O(1) per result, not by a scan of
        ``latest_ok`` (at 50,000 checks the scan cost a fifth of a core)."""
        self._lock = asyncio.Lock()
        self._suppressed_lock = asyncio.Lock()
        self.canary_probes = 0
        self.persist: Persist = persist_once
        """How a change reaches the store; the daemon sets its pipeline's (retried until
        stored). Memory here moves only after it returned."""
        self.emit: Emit = emit_once
        """How a connectivity notice reaches the outbox; the daemon sets its pipeline's (stored,
        then told and logged, and the sender woken)."""

    def forget(self, keys: Iterable[str]) -> None:
        """Checks a reload removed: they no longer count toward the connectivity share."""
        for key in keys:
            self.latest_ok.pop(key, None)
            self._failing.discard(key)

    @property
    def config(self) -> Config:
        cfg = self._config()
        assert cfg is not None
        return cfg

    # ------------------------------------------------------------------ persistence

    async def load(self, store: Store) -> None:
        raw = await store.get_meta(SUPPRESSED_META_KEY)
        if not raw:
            return
        try:
            data = json.loads(raw)
            self.suppressed = {k: Suppressed.from_json(v) for k, v in data.items()}
        except (ValueError, KeyError, TypeError) as exc:
            self.log.error("routing.suppressed_unreadable", error=str(exc))

    async def _update_suppressed(
        self, store: Store, change: Callable[[dict[str, Suppressed]], dict[str, Suppressed]]
    ) -> None:
        """Store ``change(suppressed)``, then remember it (one change at a time, so two checks
        changing it together both stay in it)."""
        async with self._suppressed_lock:
            new = change(self.suppressed)
            if new == self.suppressed:
                return
            data = json.dumps({k: v.to_json() for k, v in new.items()}, sort_keys=True)
            await self.persist(
                "suppressed notifications", lambda: store.set_meta(SUPPRESSED_META_KEY, data)
            )
            self.suppressed = new

    # ------------------------------------------------------------------ routing

    def route(self, event: Event, now: datetime) -> list[Notification]:
        """The notifications for ``event`` at ``now``: routes, holds and storm groups."""
        cfg = self.config
        notes = plan(event, cfg, now).notifications
        notes, self.open_groups = assign_groups(
            notes, self.open_groups, now, grouping_window(cfg), self._mergeable
        )
        return notes

    def _site(self, client_id: str, site_id: str | None) -> tuple[ClientConfig, Site | None] | None:
        client = next((c for c in self.config.clients if c.client == client_id), None)
        if client is None:
            return None
        return client, next((s for s in client.sites if s.id == site_id), None)

    def suppression(self, event: Event, now: datetime) -> Reason | None:
        """Why notifications about ``event`` are suppressed now, or None."""
        if event.kind not in SUPPRESSIBLE_KINDS or not event.client:
            return None
        if self.connectivity.isolated:
            return "connectivity"
        found = self._site(event.client, event.site)
        if found is not None:
            client, site = found
            if in_maintenance(client, site, self.config.main.agency.timezone, now) is not None:
                return "maintenance"
        return None

    async def dispatch(
        self, store: Store, check: str, event: Event, now: datetime
    ) -> list[Notification]:
        """Route one probe event, unless it is suppressed (then remember it)."""
        reason = self.suppression(event, now)
        if reason is None:
            if event.kind == "site-recovered" and check in self.suppressed:
                # Its DOWN was never told (still suppressed a moment ago): stay quiet. The
                # record goes once the check's state is stored (follow_up, drop_suppressed).
                return []
            return self.route(event, now)
        await self._update_suppressed(
            store, lambda s: record_suppressed(s, check, event, reason, now)
        )
        self.log.info(
            "routing.suppressed", kind=event.kind, client=event.client, site=event.site,
            reason=reason,
        )  # fmt: skip
        return []

    def follow_up(self, check: str, down: bool, now: datetime) -> list[Notification] | None:
        """For a check just evaluated (``down``: its state now): None while nothing was
        suppressed or suppression goes on; else the site-down notifications to send now (none
        when the site came back meanwhile). The caller writes them with the check's state, and
        only then calls :meth:`drop_suppressed`, so a failed write keeps the record and the
        DOWN is followed up again. Judged per check on its fresh result."""
        rec = self.suppressed.get(check)
        if rec is None:
            return None
        events, left = follow_ups(
            {check: rec}, lambda r: self.suppression(r.event, now) is not None, lambda _: down, now
        )
        if check in left:
            return None
        for ev in events:
            self.log.info("routing.follow_up", client=ev.client, site=ev.site, key=ev.key)
        return [n for ev in events for n in self.route(ev, now)]

    async def drop_suppressed(self, store: Store, check: str) -> None:
        """Forget the check's suppressed DOWN: its follow-up is stored."""
        await self._update_suppressed(store, lambda s: _without(s, check))

    # ------------------------------------------------------------------ connectivity

    async def observe(
        self, store: Store, check: str, ok: bool, now: datetime
    ) -> list[Notification]:
        """Count one probe result toward the connectivity rule; returns (and enqueues) the
        agency notifications when the node is judged isolated or restored."""
        self.latest_ok[check] = ok
        if ok:
            self._failing.discard(check)
        else:
            self._failing.add(check)
        rule = self.config.main.connectivity
        failing = len(self._failing)
        total = len(self.latest_ok)
        step = connectivity_step(self.connectivity, failing, total, None, now, rule)
        if not step.probe_canaries and step.announce is None:
            self.connectivity = step.state
            return []
        # A change to announce: decided and stored one at a time, and remembered only once
        # its notifications are stored (a refused write is retried, never dropped).
        async with self._lock:
            step = connectivity_step(self.connectivity, failing, total, None, now, rule)
            if step.probe_canaries:
                ok_canary = await self.probe_canaries(rule.canaries)
                step = connectivity_step(self.connectivity, failing, total, ok_canary, now, rule)
            before = self.connectivity
            if step.announce is None:
                self.connectivity = step.state
                return []
            since = before.since if step.announce == "restored" else step.state.since
            event = self._connectivity_event(step.announce, failing, total, since, now)
            notes = [
                Notification(
                    key=notification_key(event, via, addr),
                    notifier=via,
                    recipient=addr,
                    recipient_name=name,
                    event=event,
                )
                for via, name, addr in resolve_target("agency", event, self.config, now, EMAIL)
            ]
            await self.emit(
                "connectivity notice", [(event, notes)], lambda: store.enqueue(notes, now)
            )
            self.connectivity = step.state
        self.log.warning("routing.connectivity", state=step.announce, failing=failing, checks=total)
        return notes

    def _connectivity_event(
        self, state: str, failing: int, total: int, since: datetime | None, now: datetime
    ) -> Event:
        rule = self.config.main.connectivity
        started = (since or now).isoformat()
        details: dict[str, Any] = {
            "failing_checks": failing,
            "checks": total,
            "threshold": rule.threshold,
            "state": state,
        }
        if rule.canaries:
            details["canaries"] = list(rule.canaries)
        else:
            details["note"] = (
                "no canary URLs are configured (connectivity.canaries): judged on the share "
                "of failing checks alone"
            )
        if state == "isolated":
            summary = (
                f"{failing} of {total} checks fail at once and the canary URLs do not answer: "
                "this monitoring node has probably lost its network. Client notifications are "
                "held back until it recovers."
                if rule.canaries
                else f"{failing} of {total} checks fail at once: this monitoring node has "
                "probably lost its network (no canary URLs configured to confirm). Client "
                "notifications are held back until it recovers."
            )
            severity = "critical"
        else:
            summary = (
                f"Monitoring connectivity restored: {failing} of {total} checks fail now. "
                "Sites still down are notified as usual."
            )
            severity = "info"
        return Event(
            kind="connectivity",
            client="",
            site=None,
            check=None,
            at=now,
            key=f"connectivity|{started}|{state}",
            thread=f"connectivity|{started}",
            summary=summary,
            severity=severity,  # type: ignore[arg-type]
            details=details,
        )

    async def probe_canaries(self, urls: Sequence[str]) -> bool:
        """True when at least one canary URL answers with any HTTP response."""
        self.canary_probes += 1
        if not urls:
            return False
        timeout = aiohttp.ClientTimeout(total=CANARY_TIMEOUT.total_seconds())
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for url in urls:
                try:
                    ssl = self._ssl if self._ssl is not None else True
                    async with session.get(url, ssl=ssl, allow_redirects=False) as resp:
                        await resp.read()
                        self.log.info("routing.canary", url=display_url(url), status=resp.status)
                        return True
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    self.log.warning(
                        "routing.canary_failed",
                        url=display_url(url),
                        error=scrub(str(exc), url_credentials(url)),
                    )
        return False


def _without(suppressed: dict[str, Suppressed], check: str) -> dict[str, Suppressed]:
    return {k: v for k, v in suppressed.items() if k != check}


def mergeable_from(notifiers: dict[str, Any]) -> Callable[[str], bool]:
    """The capability lookup for a daemon's live notifier mapping."""
    return lambda name: is_mergeable(notifiers.get(name))
