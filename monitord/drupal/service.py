"""The advisory watcher: polls drupal.org, decides per site, notifies through the outbox.

:class:`SecurityService` is a daemon service (:class:`monitord.runtime.Service`). Each round
(:meth:`SecurityService.run_once`, which tests call with a driven clock):

1. fetch every configured feed and psa.json (conditional GET, one aiohttp session, ETags in the
   store's meta table); parse off the event loop; a feed that is down, slow, huge, not a feed or
   hostile is logged and polled again next round — nothing already known is lost;
2. remember each advisory per source; a changed fingerprint is a revision (an old version a
   lagging mirror serves again is not);
3. decide every (advisory, Drupal site) pair never decided, or decided on other facts (the
   advisory was revised, or the installed version changed) with :mod:`monitord.drupal.decide`;
4. queue patch-day items; at 09:00 agency time on patch day, one ``patch-day`` event per site;
5. write advisories, decisions, queue changes and their notifications in ONE transaction, so a
   restart, a re-poll or the same advisory in two feeds changes nothing (the daemon's event
   pipeline, :meth:`monitord.runtime.Runtime.emit`: stored, then told, then sent).

The background loop sleeps :func:`~monitord.drupal.fetch.poll_interval` between rounds (fast in
the Wednesday window and in windows PSAs announced), waking earlier for a due patch day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from monitord.calendar import BusinessCalendar
from monitord.config.models import Config, Site
from monitord.drupal import decide as dc
from monitord.drupal import plan
from monitord.drupal import psa as pw
from monitord.drupal.advisory import Advisory
from monitord.drupal.feeds import FeedParseResult, detect_revision, parse_feed
from monitord.drupal.fetch import FeedFetcher, FetchResult, display_url, poll_interval
from monitord.drupal.inventory import Inventory, load_inventory_contained
from monitord.events import Event
from monitord.logsetup import get_logger
from monitord.notify.base import Notification
from monitord.notify.plugins import configured_types
from monitord.pipeline import Told
from monitord.store.base import AdvisoryRow, DecisionRow, PatchItemRow, SecurityChanges

if TYPE_CHECKING:
    from monitord.runtime import Runtime, RuntimeStore

INVENTORY_COMMAND_REFRESH = timedelta(hours=1)
"""A ``command`` inventory (drush/composer on the site's host) is run at most this often: it
costs the client's server a PHP bootstrap, and installed versions change only when someone
deploys."""

INVENTORY_CONCURRENCY = 8
"""Inventory commands run at once: enough to load a few hundred sites in a round, few enough
not to fork-bomb the monitoring host."""

INVENTORY_PROBLEMS_META = "inventory-problems"
"""Store meta key holding, per Drupal site whose inventory is unknown, why (JSON ``{site:
{source, errors, checked}}``), which ``monitord status`` shows. One key written only when it
changes, so 10,000 healthy sites cost no writes."""

RESOLVING_NOTIFIER_TYPES = frozenset({"pagerduty"})
"""Notifier types given a resolving follow-up (the end of a PSA's window): it ends the alert
the heads-up raised. To people by mail, to tickets and chat, a window that closed is not news.
"""

RETRY_AFTER_CRASH = timedelta(minutes=2)
"""After a round fails unexpectedly (a bug, the store unwritable), the next one is this soon."""


@dataclass(slots=True)
class PollReport:
    """What one round did (for tests, logs and metrics)."""

    now: datetime
    fetched: dict[str, str] = field(default_factory=dict)
    """Display URL -> ``new``, ``not-modified`` or ``error``."""
    errors: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    """Advisory ids seen for the first time."""
    revised: list[str] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)
    """Action -> number of pairs (re-)decided this round."""
    events: list[Event] = field(default_factory=list)
    notifications: int = 0
    """Notifications new in the outbox."""
    next_poll: timedelta = timedelta(minutes=15)


@dataclass(slots=True)
class _CachedInventory:
    key: tuple[Any, ...]
    loaded: datetime
    inventory: Inventory


def source_key(advisory: Advisory) -> str:
    """How a record is stored: ``rss``, or ``psa-json:<package>`` (psa.json lists one SA per
    project)."""
    return "rss" if advisory.source == "rss" else f"psa-json:{advisory.package or ''}"


def read_inventory_problems(config: Config) -> dict[str, dict[str, Any]]:
    """Per Drupal site id whose inventory is unknown: why, as the watcher stored it (blocking;
    the store of ``config`` read through its read-only view). Empty when the store is absent
    or this user cannot read it."""
    from monitord.api.storeview import read_meta
    from monitord.errors import StoreError

    try:
        raw = read_meta(config, INVENTORY_PROBLEMS_META).get(INVENTORY_PROBLEMS_META)
        data = json.loads(raw) if raw else {}
    except (StoreError, OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)}


def feed_urls(config: Config) -> tuple[str, ...]:
    """Every source polled: the RSS feeds, then psa.json when configured."""
    sec = config.main.security
    return (*sec.feeds, *([sec.psa_json] if sec.psa_json else []))


def _fields(row: plan.Decided | plan.Queued) -> dict[str, Any]:
    """A planned row's fields, to build the store's row of the same shape."""
    return {f.name: getattr(row, f.name) for f in fields(row)}


def drupal_sites(config: Config) -> list[tuple[dc.SiteRef, Site]]:
    """Every site with a ``drupal:`` section, in config order."""
    out = []
    for client in config.clients:
        for site in client.sites:
            if site.drupal is not None:
                ref = dc.SiteRef(
                    client.client, site.id, client.name, site.display_name, site.display_url
                )
                out.append((ref, site))
    return out


class SecurityService:
    """Watches drupal.org's advisories for the daemon (see the module docstring)."""

    name = "security"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.log = get_logger(component="security")
        self._session: aiohttp.ClientSession | None = None
        self._fetcher: FeedFetcher | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._records: dict[tuple[str, str], AdvisoryRow] = {}
        self._parsed: dict[tuple[str, str], Advisory] = {}
        self._decisions: dict[tuple[str, str], DecisionRow] = {}
        self._queue: dict[tuple[str, str], PatchItemRow] = {}
        self._inventories: dict[str, _CachedInventory] = {}
        self._inventory_problems: str | None = None
        self._polled_urls: tuple[str, ...] = ()
        """The feed URLs of the last round that polled (a reload compares its own)."""
        self._refetch = False
        """A reload changed the feed URLs: the round it wakes polls them."""
        self.last_report: PollReport | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        store = self._store()
        ssl_context = runtime.ssl_context
        connector = aiohttp.TCPConnector(ssl=ssl_context) if ssl_context else None
        self._session = aiohttp.ClientSession(connector=connector)
        self._fetcher = FeedFetcher(self._session, store.get_meta, store.set_meta)
        for row in await store.load_advisories():
            self._remember(row)
        self._decisions = await store.load_decisions()
        self._queue = {(q.site, q.advisory): q for q in await store.patch_queue()}
        if runtime.background:
            self._task = asyncio.create_task(self._loop(), name="security-advisories")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def reload(self, runtime: Runtime) -> None:
        """New config: reload inventories, decide again at once (the calendar follows the config).

        The round a reload wakes polls the feeds only when their URLs changed: the advisories
        already known are decided for the new configuration (sites, inventories, calendar),
        and the feeds are polled at the time already planned, so a SIGHUP costs drupal.org
        nothing. The conditional-GET state (ETag / Last-Modified) lives in the store either
        way."""
        self.runtime = runtime
        self._inventories.clear()
        if feed_urls(self._config()) != self._polled_urls:
            self._refetch = True
        self._wake.set()

    # ------------------------------------------------------------------ helpers

    def _store(self) -> RuntimeStore:
        return self.runtime.store

    def _config(self) -> Config:
        return self.runtime.config()

    def calendar(self) -> BusinessCalendar:
        return self.runtime.calendar()

    def _remember(self, row: AdvisoryRow) -> None:
        key = (row.id, row.source)
        self._records[key] = row
        self._parsed[key] = Advisory.from_json(row.data)

    def advisories(self) -> list[Advisory]:
        """Every advisory record known (all sources)."""
        return list(self._parsed.values())

    def queued(self) -> list[PatchItemRow]:
        """Patch-day items not yet ticketed."""
        return sorted(
            (q for q in self._queue.values() if q.ticketed_at is None),
            key=lambda q: (q.patch_day, q.site, q.advisory),
        )

    async def _inventory(self, site: Site, now: datetime, sem: asyncio.Semaphore) -> Inventory:
        assert site.drupal is not None
        config = self._config()
        lock = site.drupal.composer_lock
        mtime: float | None = None
        if lock is not None:
            path = lock if lock.is_absolute() else config.directory / lock
            with contextlib.suppress(OSError):
                mtime = path.stat().st_mtime
        key = (site.drupal, mtime)
        cached = self._inventories.get(site.id)
        if (
            cached is not None
            and cached.key == key
            and (site.drupal.command is None or now - cached.loaded < INVENTORY_COMMAND_REFRESH)
        ):
            return cached.inventory
        async with sem:
            inv = await load_inventory_contained(site.drupal, Path(config.directory))
        if inv.errors:
            self.log.warning(
                "inventory problems; advisories for this site are checked by hand"
                if not inv.known
                else "inventory problems",
                site=site.id,
                problems=inv.errors,
            )
        self._inventories[site.id] = _CachedInventory(key, now, inv)
        return inv

    async def _show_inventory_problems(self, site_ids: list[str]) -> None:
        """Store why each unknown inventory is unknown, for ``monitord status`` (when changed)."""
        problems = {
            site_id: {
                "source": cached.inventory.source,
                "errors": cached.inventory.errors,
                "checked": cached.loaded.isoformat(),
            }
            for site_id in site_ids
            if (cached := self._inventories.get(site_id)) is not None and not cached.inventory.known
        }
        text = json.dumps(problems, sort_keys=True)
        if text == self._inventory_problems:
            return
        try:
            await self._store().set_meta(INVENTORY_PROBLEMS_META, text)
        except Exception:  # diagnostics only: the round goes on, the next one writes it again
            self.log.warning("inventory problems not stored for status", exc_info=True)
            return
        self._inventory_problems = text

    # ------------------------------------------------------------------ one round

    async def _fetch_all(self, report: PollReport) -> list[Advisory]:
        assert self._fetcher is not None
        urls = list(feed_urls(self._config()))
        self._polled_urls = tuple(urls)
        results: list[FetchResult] = await asyncio.gather(*(self._fetcher.fetch(u) for u in urls))
        found: list[Advisory] = []
        for url, result in zip(urls, results, strict=True):
            shown = display_url(url)
            report.fetched[shown] = result.status
            if result.status == "error":
                report.errors.append(result.error or f"{shown}: fetch failed")
                self.log.warning(
                    "feed not read; polling it again later", feed=shown, error=result.error
                )
                continue
            if result.status != "new" or result.body is None:
                continue
            parsed: FeedParseResult = await asyncio.to_thread(parse_feed, result.body)
            for problem in parsed.errors:
                report.errors.append(f"{shown}: {problem}")
                self.log.warning("feed problem", feed=shown, problem=problem)
            found.extend(parsed.advisories)
        return found

    def _merge(
        self, found: list[Advisory], now: datetime, report: PollReport
    ) -> tuple[list[AdvisoryRow], list[Advisory]]:
        """Rows to write, and the records that are new or changed (PSAs to look at again)."""
        rows: dict[tuple[str, str], AdvisoryRow] = {}
        changed: list[Advisory] = []
        for adv in found:
            key = (adv.id, source_key(adv))
            fp = adv.fingerprint()
            old = rows.get(key) or self._records.get(key)
            data = adv.to_json()
            if old is None:
                row = AdvisoryRow(adv.id, key[1], fp, data, now, now)
                if adv.id not in report.new and not any(k[0] == adv.id for k in self._records):
                    report.new.append(adv.id)
                changed.append(adv)
            elif old.fingerprint == fp:
                window_moved = (old.data.get("window_start"), old.data.get("window_end")) != (
                    data.get("window_start"),
                    data.get("window_end"),
                )
                if window_moved:
                    changed.append(adv)
                row = AdvisoryRow(adv.id, key[1], fp, data, old.first_seen, now, old.history)
            elif fp in old.history:
                # An older version served again (a lagging feed or mirror): not a revision.
                row = AdvisoryRow(
                    adv.id, key[1], old.fingerprint, old.data, old.first_seen, now, old.history
                )
            else:
                before = Advisory.from_json(old.data)
                self.log.info(
                    "advisory revised",
                    advisory=adv.id,
                    source=key[1],
                    changes=detect_revision(before, adv),
                )
                if adv.id not in report.revised:
                    report.revised.append(adv.id)
                row = AdvisoryRow(
                    adv.id, key[1], fp, data, old.first_seen, now, (*old.history, old.fingerprint)
                )
                changed.append(adv)
            rows[key] = row
        return list(rows.values()), changed

    async def run_once(self, now: datetime, *, fetch: bool = True) -> PollReport:
        """Poll every source, decide, run a due patch-day job; all written atomically.

        ``fetch=False``: decide on the advisories already known, polling nothing (the round a
        reload asks for when the feed URLs are unchanged)."""
        async with self._lock:
            return await self._run_once(now, fetch=fetch)

    async def _inventories_for(
        self, records: Iterable[Advisory], sites: list[tuple[dc.SiteRef, Site]], now: datetime
    ) -> list[tuple[dc.SiteRef, Inventory]]:
        """Each Drupal site's inventory, read only when some advisory needs matching."""
        if not sites or not plan.matchable(records):
            return []
        sem = asyncio.Semaphore(INVENTORY_CONCURRENCY)
        inventories = await asyncio.gather(*(self._inventory(s, now, sem) for _, s in sites))
        await self._show_inventory_problems([site.id for _, site in sites])
        return [(ref, inv) for (ref, _), inv in zip(sites, inventories, strict=True)]

    def _route(
        self, planned: list[plan.Planned]
    ) -> tuple[list[tuple[Notification, datetime]], list[Told]]:
        """The notifications of the planned events, each due at the later of its event's due
        time and its route's; a resolving follow-up only to notifiers that resolve alerts."""
        types = configured_types(self._config())
        notes: list[tuple[Notification, datetime]] = []
        told: list[Told] = []
        for p in planned:
            event = p.event
            routed = self.runtime.route(event)
            if event.details.get("resolves") is True:
                routed = [n for n in routed if types.get(n.notifier) in RESOLVING_NOTIFIER_TYPES]
            notes.extend((n, p.due) for n in routed)
            told.append((event, routed))
        return notes, told

    def _follow(self, rows: list[AdvisoryRow], changes: SecurityChanges, now: datetime) -> None:
        """Written: now the memory may follow."""
        for row in rows:
            self._remember(row)
        for d_row in changes.decisions:
            self._decisions[(d_row.advisory, d_row.site)] = d_row
        for key in changes.queue_remove:
            self._queue.pop(key, None)
        for q in changes.queue_add:
            self._queue[(q.site, q.advisory)] = q
        for key in changes.ticketed:
            if key in self._queue:
                self._queue[key] = replace(self._queue[key], ticketed_at=now)

    def _next_poll(self, now: datetime) -> timedelta:
        sec = self._config().main.security
        interval = poll_interval(
            now, pw.psa_windows(self._parsed.values(), now), sec.interval, sec.fast_interval
        )
        pending = [q.patch_day for q in self._queue.values() if q.ticketed_at is None]
        if pending:
            interval = max(timedelta(0), min(interval, min(pending) - now))
        return interval

    async def _run_once(self, now: datetime, *, fetch: bool) -> PollReport:
        """Fetch → plan (pure, :func:`monitord.drupal.plan.plan_round`) → persist → emit."""
        config = self._config()
        report = PollReport(now=now)
        found = await self._fetch_all(report) if fetch else []
        rows, changed = self._merge(found, now, report)
        records = dict(self._parsed)
        for row in rows:
            records[(row.id, row.source)] = Advisory.from_json(row.data)
        sites = drupal_sites(config)
        inventories = await self._inventories_for(records.values(), sites, now)
        todo = plan.plan_round(
            records.values(),
            inventories,
            self._decisions,
            self._queue,
            self.calendar(),
            now,
            changed=changed,
            sites=[ref for ref, _ in sites],
        )
        for site_id in todo.dropped:
            self.log.info("queued item of a site no longer configured dropped", site=site_id)
        report.decisions.update(todo.counts)
        report.events = [p.event for p in todo.events]
        notes, told = self._route(todo.events)
        changes = SecurityChanges(
            advisories=rows,
            decisions=[DecisionRow(**_fields(d)) for d in todo.decisions],
            queue_add=[PatchItemRow(**_fields(q)) for q in todo.queue_add.values()],
            queue_remove=sorted(todo.queue_remove),
            ticketed=todo.ticketed,
            notifications=notes,
        )
        store = self._store()

        async def commit() -> int:
            return await store.save_security(changes, now) if changes else 0

        # Stored (retried until it is), then told, logged and the sender woken: one pipeline.
        report.notifications = await self.runtime.emit("advisory decisions", told, commit)
        self._follow(rows, changes, now)
        report.next_poll = self._next_poll(now)
        self.last_report = report
        if report.new or report.revised or report.events or report.errors:
            self.log.info(
                "advisories polled",
                new=report.new,
                revised=report.revised,
                decided=dc.summarize(report.decisions),
                events=len(report.events),
                notifications=report.notifications,
                problems=len(report.errors),
            )
        return report

    # ------------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        """Rounds for ever: a polling round when its time has come, and a deciding round (no
        polling, unless the feed URLs changed) when a reload wakes the loop earlier; that one
        keeps the time planned for the next poll."""
        fetch = True
        deadline: datetime | None = None
        while True:
            # Cleared before the round: a reload during it wakes the next one at once.
            self._wake.clear()
            now = self.runtime.clock()
            try:
                report = await self.run_once(now, fetch=fetch)
                due = now + report.next_poll
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("advisory round failed; trying again soon")
                due = now + RETRY_AFTER_CRASH
            deadline = due if fetch or deadline is None else min(deadline, due)
            wait = (deadline - self.runtime.clock()).total_seconds()
            woken = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 1.0))
                woken = True
            fetch = not woken or self._refetch
            self._refetch = False


def security_service(runtime: Runtime) -> SecurityService | None:
    """The daemon's service factory: None when ``security.enabled`` is false."""
    if not runtime.config().main.security.enabled:
        return None
    return SecurityService(runtime)
