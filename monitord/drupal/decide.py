"""Advisories into decisions: the action for each (advisory, site) pair — pure.

Nothing here reads a clock, a file or a socket: ``now`` and the agency calendar are passed in.
Matching lives in :mod:`monitord.drupal.match`, PSA windows in :mod:`monitord.drupal.psa`, the
events in :mod:`monitord.drupal.events` and a whole round's plan in :mod:`monitord.drupal.plan`.

* :func:`decide` — the action for one (advisory, site): ``now`` (affected and Highly critical,
  score 20–25 or the label), ``patch-day`` (affected, anything less; with the date from
  :func:`monitord.calendar.next_patch_day`), ``unknown`` (core advisory, inventory unknown: to
  the agency, "check by hand") or ``none``.
* :func:`transition` — what a (re-)decision changes given what was decided before: a raise to
  Highly critical takes the ``now`` path; a pair already acted on ``now`` is never acted on
  again; a correction that makes a site no longer affected removes its queued item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitord.calendar import BusinessCalendar, next_patch_day
from monitord.drupal.advisory import Advisory
from monitord.drupal.match import Match, ReleaseTargets, match
from monitord.drupal.packages import Inventory

Action = Literal["now", "patch-day", "unknown", "none"]

ACTION_RANK: dict[str, int] = {"none": 0, "unknown": 1, "patch-day": 2, "now": 3}
"""When one advisory id has several records (psa.json lists one per project), the strongest
action over them is the pair's decision."""


@dataclass(frozen=True, slots=True)
class SiteRef:
    """The facts about a site that deciding needs (built from the config by the caller)."""

    client: str
    site: str
    client_name: str = ""
    site_name: str = ""
    url: str = ""
    """The site's URL in its display form (no user-info, query or secrets), for messages and
    PagerDuty's ``payload.source``; never the raw configured URL."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one (advisory, site) pair and everything a message about it needs."""

    advisory: str
    site: SiteRef
    action: Action
    match: Match
    fingerprint: str
    """What the decision was made on (:func:`decision_fingerprint`)."""
    patch_day: datetime | None = None
    """For ``patch-day``: 09:00 agency time on the patch day the item is ticketed."""
    highly_critical: bool = False

    @property
    def installed(self) -> str | None:
        return self.match.installed

    @property
    def reason(self) -> str:
        return self.match.reason


def decision_fingerprint(advisories: Iterable[Advisory]) -> str:
    """One fingerprint for all records of one advisory id (order does not matter)."""
    joined = "\n".join(sorted(a.fingerprint() for a in advisories))
    return hashlib.sha256(joined.encode()).hexdigest()


def decide(
    advisory: Advisory | Sequence[Advisory],
    site: SiteRef,
    inventory: Inventory | None,
    calendar: BusinessCalendar,
    now: datetime,
    targets: ReleaseTargets | None = None,
) -> Decision:
    """The action for one advisory (or all records of one advisory id) and one Drupal site.

    ``targets``: built from every known advisory record (any id), so the release a notice names
    is one that none of them affects (:func:`fixed_version`)."""
    records: Sequence[Advisory] = [advisory] if isinstance(advisory, Advisory) else advisory
    if not records:
        raise ValueError("decide() needs at least one advisory record")
    fingerprint = decision_fingerprint(records)
    best: Decision | None = None
    for adv in records:
        m = match(adv, inventory, targets)
        if m.affected is None:
            action: Action = "unknown"
        elif not m.affected:
            action = "none"
        elif adv.highly_critical:
            action = "now"
        else:
            action = "patch-day"
        d = Decision(
            advisory=adv.id,
            site=site,
            action=action,
            match=m,
            fingerprint=fingerprint,
            patch_day=next_patch_day(now, calendar) if action == "patch-day" else None,
            highly_critical=adv.highly_critical,
        )
        if best is None or ACTION_RANK[d.action] > ACTION_RANK[best.action]:
            best = d
    assert best is not None
    return best


@dataclass(frozen=True, slots=True)
class Prior:
    """What was decided before for the pair (from the store)."""

    action: Action
    fingerprint: str
    installed: str | None
    patch_day: datetime | None = None


Step = Literal["act-now", "tell-unknown", "queue", "update-queue", "unqueue"]


@dataclass(frozen=True, slots=True)
class Transition:
    """What a decision changes. ``record`` is the action to remember for the pair."""

    record: Action
    steps: tuple[Step, ...] = ()
    patch_day: datetime | None = None
    """The patch day to remember (a re-queued item keeps its original day)."""


def needs_decision(prior: Prior | None, fingerprint: str, installed: str | None) -> bool:
    """Whether a pair must be (re-)decided: never decided, or decided on other facts."""
    return prior is None or prior.fingerprint != fingerprint or prior.installed != installed


def transition(prior: Prior | None, new: Decision) -> Transition:
    """The steps from what was decided before to ``new``.

    * never acted ``now`` twice: once ``now``, the pair stays ``now`` whatever follows;
    * ``now`` after anything else acts now (and a queued item is removed: the urgent path
      replaces it);
    * ``patch-day`` queues (or refreshes the queued item, keeping its day);
    * ``none`` removes a queued item (a correction, or the site was updated);
    * ``unknown`` tells the agency once; an item already queued on known facts stays queued.
    """
    before = None if prior is None else prior.action
    if before == "now":
        return Transition("now", (), prior.patch_day if prior else None)
    if new.action == "now":
        steps: tuple[Step, ...] = ("unqueue", "act-now") if before == "patch-day" else ("act-now",)
        return Transition("now", steps)
    if new.action == "patch-day":
        if before == "patch-day" and prior is not None:
            return Transition("patch-day", ("update-queue",), prior.patch_day)
        return Transition("patch-day", ("queue",), new.patch_day)
    if new.action == "none":
        if before == "patch-day":
            return Transition("none", ("unqueue",))
        return Transition("none")
    # unknown
    if before == "patch-day" and prior is not None:
        return Transition("patch-day", (), prior.patch_day)
    if before == "unknown":
        return Transition("unknown")
    return Transition("unknown", ("tell-unknown",))


# ---------------------------------------------------------------- merging sources


def effective_records(records: Iterable[Advisory]) -> dict[str, list[Advisory]]:
    """Group every known record by advisory id; where drupal.org's RSS has the advisory, use
    its record(s) only (they carry the constraint and score); else psa.json's, one per project."""
    by_id: dict[str, list[Advisory]] = {}
    for a in records:
        by_id.setdefault(a.id, []).append(a)
    out: dict[str, list[Advisory]] = {}
    for adv_id, group in sorted(by_id.items()):
        rss = [a for a in group if a.source == "rss"]
        chosen = rss or group
        out[adv_id] = sorted(chosen, key=lambda a: (a.package or "", a.guid))
    return out


def summarize(decisions: Mapping[str, int]) -> str:
    """``now 1, patch-day 2`` for logs (only non-zero counts)."""
    return ", ".join(f"{k} {v}" for k, v in decisions.items() if v) or "nothing"
