"""One advisory round as a plan: what to store, what to tell now, what to tell later — pure.

:func:`plan_round` takes every known advisory record, the inventories read this round, what was
decided before and the patch-day queue, and returns a :class:`RoundPlan`: the decisions to
remember, the queue rows to add and remove, the items ticketed by today's patch-day job, and
the events with the time each is due. It reads no clock, file or socket; the security service
(:mod:`monitord.drupal.service`) fetches, calls it, stores the plan in one transaction and
routes the events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from monitord.calendar import BusinessCalendar
from monitord.drupal import decide as dc
from monitord.drupal import events as ev
from monitord.drupal import psa as pw
from monitord.drupal.advisory import Advisory
from monitord.drupal.match import ReleaseTargets
from monitord.drupal.packages import Inventory
from monitord.events import Event

QueueKey = tuple[str, str]
"""(site id, advisory id)."""

PairKey = tuple[str, str]
"""(advisory id, site id): how decisions are kept."""


class PriorRow(Protocol):
    """What the plan reads of a decision made before (a store row, or a :class:`Decided`)."""

    @property
    def decision(self) -> dc.Action: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def installed(self) -> str | None: ...
    @property
    def patch_day(self) -> datetime | None: ...


class QueueRow(Protocol):
    """What the plan reads of a queued item (a store row, or a :class:`Queued`)."""

    @property
    def site(self) -> str: ...
    @property
    def advisory(self) -> str: ...
    @property
    def project(self) -> str: ...
    @property
    def installed(self) -> str: ...
    @property
    def fixed(self) -> str | None: ...
    @property
    def link(self) -> str: ...
    @property
    def patch_day(self) -> datetime: ...
    @property
    def queued_at(self) -> datetime: ...
    @property
    def ticketed_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Decided:
    """What was decided for one (advisory, site) pair, and on which facts (a store row)."""

    advisory: str
    site: str
    client: str
    fingerprint: str
    installed: str | None
    decision: dc.Action
    patch_day: datetime | None
    reason: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class Queued:
    """One queued maintenance item for a site's next patch day (a store row)."""

    site: str
    advisory: str
    client: str
    project: str
    installed: str
    fixed: str | None
    link: str
    patch_day: datetime
    queued_at: datetime
    ticketed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Planned:
    """An event and when it is due (``now``, or later: a heads-up before its window)."""

    event: Event
    due: datetime


@dataclass(slots=True)
class RoundPlan:
    """What one round changes. Empty when nothing happened."""

    decisions: list[Decided] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """Action -> number of pairs (re-)decided."""
    queue_add: dict[QueueKey, Queued] = field(default_factory=dict)
    queue_remove: set[QueueKey] = field(default_factory=set)
    ticketed: list[QueueKey] = field(default_factory=list)
    """Items the patch-day job hands over now."""
    dropped: list[str] = field(default_factory=list)
    """Sites of due items no longer configured (their items are removed)."""
    events: list[Planned] = field(default_factory=list)


def matchable(records: Iterable[Advisory]) -> dict[str, list[Advisory]]:
    """Per advisory id, the records that are matched against versions (no PSAs); ids with
    none are left out."""
    out: dict[str, list[Advisory]] = {}
    for adv_id, recs in dc.effective_records(records).items():
        kept = [a for a in recs if a.kind != "psa"]
        if kept:
            out[adv_id] = kept
    return out


def prior_of(row: PriorRow | None) -> dc.Prior | None:
    return (
        None
        if row is None
        else dc.Prior(row.decision, row.fingerprint, row.installed, row.patch_day)
    )


def _installed(inv: Inventory, packages: Iterable[str]) -> str | None:
    return next((inv.packages[p] for p in sorted(packages) if p in inv.packages), None)


@dataclass(slots=True)
class _Work:
    """The plan being built, and the queue as it stands after each step."""

    plan: RoundPlan
    queue: dict[QueueKey, QueueRow]
    now: datetime

    def put(self, key: QueueKey, row: Queued) -> None:
        self.plan.queue_add[key] = row
        self.plan.queue_remove.discard(key)
        self.queue[key] = row

    def drop(self, key: QueueKey) -> None:
        self.plan.queue_remove.add(key)
        self.plan.queue_add.pop(key, None)
        self.queue.pop(key, None)


def _apply(work: _Work, d: dc.Decision, t: dc.Transition, adv: Advisory) -> None:
    """The steps of one transition: events now, queue rows added, refreshed or removed."""
    ref, now = d.site, work.now
    key = (ref.site, adv.id)
    for step in t.steps:
        if step == "act-now":
            work.plan.events.append(Planned(ev.security_now_event(d, adv, now), now))
        elif step == "tell-unknown":
            work.plan.events.append(Planned(ev.security_unknown_event(d, adv, now), now))
        elif step in ("queue", "update-queue"):
            assert t.patch_day is not None
            item = ev.patch_item(d, adv)
            prev = work.queue.get(key)
            work.put(
                key,
                Queued(
                    site=ref.site,
                    advisory=d.advisory,
                    client=ref.client,
                    project=item.project,
                    installed=item.installed,
                    fixed=item.fixed,
                    link=item.link,
                    patch_day=t.patch_day,
                    queued_at=prev.queued_at if prev else now,
                    ticketed_at=prev.ticketed_at if prev else None,
                ),
            )
        elif step == "unqueue":
            prev = work.queue.get(key)
            if prev is not None and prev.ticketed_at is None:
                work.drop(key)


def _decide_advisory(
    work: _Work,
    adv_id: str,
    recs: list[Advisory],
    inventories: Sequence[tuple[dc.SiteRef, Inventory]],
    decisions: Mapping[PairKey, PriorRow],
    calendar: BusinessCalendar,
    targets: ReleaseTargets,
) -> None:
    """Decide one advisory id for every site that needs (re-)deciding."""
    fingerprint = dc.decision_fingerprint(recs)
    packages = {a.package for a in recs if a.package}
    has_core = any(a.kind == "core" for a in recs)
    for ref, inv in inventories:
        installed = _installed(inv, packages)
        prior_row = decisions.get((adv_id, ref.site))
        if prior_row is None and installed is None and (inv.known or not has_core):
            continue  # not installed: nothing to decide or remember
        prior = prior_of(prior_row)
        if not dc.needs_decision(prior, fingerprint, installed):
            continue
        d = dc.decide(recs, ref, inv, calendar, work.now, targets)
        t = dc.transition(prior, d)
        adv = next((a for a in recs if a.package == d.match.package), recs[0])
        work.plan.counts[d.action] += 1
        _apply(work, d, t, adv)
        work.plan.decisions.append(
            Decided(
                advisory=adv_id,
                site=ref.site,
                client=ref.client,
                fingerprint=fingerprint,
                installed=installed,
                decision=t.record,
                patch_day=t.patch_day,
                reason=d.reason,
                decided_at=work.now,
            )
        )


def heads_ups(changed: Iterable[Advisory], now: datetime) -> list[Planned]:
    """For PSAs new or changed this round: the heads-up (due before the window) and its
    resolving follow-up at the window's end."""
    out: list[Planned] = []
    for adv in changed:
        hu = pw.heads_up(adv, now)
        if hu is not None:
            out.append(Planned(ev.psa_heads_up_event(adv, hu, now), hu.due))
            out.append(Planned(ev.psa_window_over_event(adv, hu), hu.window_end))
    return out


def _patch_day_job(work: _Work, sites: Sequence[dc.SiteRef], zone: ZoneInfo) -> None:
    """One ``patch-day`` event per site whose items are due; items of sites no longer
    configured are dropped."""
    refs = {ref.site: ref for ref in sites}
    due: list[tuple[dc.SiteRef, datetime, ev.PatchItem]] = []
    for key, q in sorted(work.queue.items()):
        if q.ticketed_at is not None or q.patch_day > work.now:
            continue
        site_ref = refs.get(q.site)
        if site_ref is None:
            work.plan.dropped.append(q.site)
            work.drop(key)
            continue
        due.append(
            (
                site_ref,
                q.patch_day,
                ev.PatchItem(q.advisory, q.project, q.installed, q.fixed, q.link),
            )
        )
        work.plan.ticketed.append(key)
    for site_queue in ev.group_due(due, work.now):
        day = site_queue.patch_day.astimezone(zone).date()
        work.plan.events.append(Planned(ev.patch_day_event(site_queue, work.now, day), work.now))


def plan_round(
    advisories: Iterable[Advisory],
    inventories: Sequence[tuple[dc.SiteRef, Inventory]],
    decisions: Mapping[PairKey, PriorRow],
    queue: Mapping[QueueKey, QueueRow],
    calendar: BusinessCalendar,
    now: datetime,
    *,
    changed: Iterable[Advisory] = (),
    sites: Sequence[dc.SiteRef] | None = None,
) -> RoundPlan:
    """Everything one round changes, given every known advisory record (all sources).

    ``inventories``: each Drupal site with its inventory (may be empty when no advisory needs
    matching); ``sites``: every configured Drupal site (the patch-day job's; default: those of
    ``inventories``); ``changed``: the records new or changed this round (PSAs among them may
    announce a window).
    """
    work = _Work(RoundPlan(), dict(queue), now)
    by_id = matchable(advisories)
    if by_id and inventories:
        # Every known record: the release a notice names must be one none of them affects.
        targets = ReleaseTargets.of(a for recs in by_id.values() for a in recs)
        for adv_id, recs in by_id.items():
            _decide_advisory(work, adv_id, recs, inventories, decisions, calendar, targets)
    work.plan.events.extend(heads_ups(changed, now))
    _patch_day_job(work, [ref for ref, _ in inventories] if sites is None else sites, calendar.zone)
    return work.plan
