"""The security events and the patch-day queue's items — pure.

Builders for ``security-now``, ``security-unknown``, ``psa-heads-up`` and ``patch-day``, with
deterministic keys so the outbox never holds one twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from monitord.drupal.advisory import Advisory
from monitord.drupal.decide import Decision, SiteRef
from monitord.drupal.psa import HeadsUp
from monitord.events import Event


def _site_details(site: SiteRef) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if site.client_name:
        d["client_name"] = site.client_name
    if site.site_name and site.site_name != site.site:
        d["site_name"] = site.site_name
    if site.url:
        d["url"] = site.url
    return d


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def security_now_event(decision: Decision, advisory: Advisory, now: datetime) -> Event:
    """``security-now`` for one site: act at once (client security contacts, ticket, on-call)."""
    m = decision.match
    site = decision.site
    project = advisory.project or m.package or advisory.id
    details = {
        **_site_details(site),
        "advisory": advisory.id,
        "project": project,
        "package": m.package,
        "risk": advisory.risk_label,
        "score": advisory.score,
        "installed": m.installed,
        "constraint": m.constraint,
        "link": advisory.link,
        "fixed": m.fixed,
        "solution": advisory.solution_link or advisory.link,
        "why": m.reason,
    }
    return Event(
        kind="security-now",
        client=site.client,
        site=site.site,
        check=None,
        at=now,
        key=f"security-now|{advisory.id}|{site.site}",
        thread=f"{advisory.id}:{site.site}",
        summary=(
            f"{advisory.id}: {project} {m.installed} is affected by a Highly critical "
            f"advisory ({advisory.risk_text}); update now"
        ),
        severity="critical",
        details={k: v for k, v in details.items() if v is not None},
    )


def security_unknown_event(decision: Decision, advisory: Advisory, now: datetime) -> Event:
    """``security-unknown``, to the agency: this site may be affected; check it by hand."""
    site = decision.site
    details = {
        **_site_details(site),
        "advisory": advisory.id,
        "project": advisory.project or decision.match.package,
        "risk": advisory.risk_text,
        "affected_versions": advisory.affected,
        "link": advisory.link,
        "why": decision.match.reason,
    }
    return Event(
        kind="security-unknown",
        client=site.client,
        site=site.site,
        check=None,
        at=now,
        key=f"security-unknown|{advisory.id}|{site.site}",
        thread=f"{advisory.id}:{site.site}",
        summary=f"{advisory.id} ({advisory.risk_text}) may affect {site.site}: "
        f"{decision.match.reason}",
        severity="critical" if advisory.highly_critical else "warning",
        details={k: v for k, v in details.items() if v is not None},
    )


def psa_heads_up_event(advisory: Advisory, hu: HeadsUp, now: datetime) -> Event:
    """``psa-heads-up``, to the agency and on-call: a highly critical release is coming."""
    return Event(
        kind="psa-heads-up",
        client="",
        site=None,
        check=None,
        at=now,
        key=f"psa-heads-up|{advisory.id}|{_iso(hu.window_start)}",
        thread=f"{advisory.id}",
        summary=(
            f"{advisory.id}: a highly critical security release is announced for "
            f"{hu.window_start:%a %d %b %Y %H:%M}–{hu.window_end:%H:%M} UTC; be ready to patch"
        ),
        severity="warning",
        details={
            "advisory": advisory.id,
            "title": advisory.title,
            "link": advisory.link,
            "window_start": _iso(hu.window_start),
            "window_end": _iso(hu.window_end),
        },
    )


def psa_window_over_event(advisory: Advisory, hu: HeadsUp) -> Event:
    """The heads-up's follow-up at the window's end, on the same thread: ``resolves`` ends the
    on-call alert the heads-up raised (only notifiers that resolve alerts are given it)."""
    return Event(
        kind="psa-heads-up",
        client="",
        site=None,
        check=None,
        at=hu.window_end,
        key=f"psa-heads-up|{advisory.id}|{_iso(hu.window_start)}|over",
        thread=f"{advisory.id}",
        summary=(
            f"{advisory.id}: the announced release window "
            f"{hu.window_start:%a %d %b %Y %H:%M}–{hu.window_end:%H:%M} UTC is over"
        ),
        severity="info",
        details={
            "advisory": advisory.id,
            "link": advisory.link,
            "window_start": _iso(hu.window_start),
            "window_end": _iso(hu.window_end),
            "resolves": True,
        },
    )


@dataclass(frozen=True, slots=True)
class PatchItem:
    advisory: str
    project: str
    installed: str
    fixed: str | None
    link: str

    def to_json(self) -> dict[str, Any]:
        return {
            "advisory": self.advisory,
            "project": self.project,
            "installed": self.installed,
            "fixed": self.fixed or "see advisory",
            "link": self.link,
        }


def patch_item(decision: Decision, advisory: Advisory) -> PatchItem:
    """The queue entry for a ``patch-day`` decision."""
    m = decision.match
    return PatchItem(
        advisory=advisory.id,
        project=advisory.project or m.package or advisory.id,
        installed=m.installed or "",
        fixed=m.fixed,
        link=advisory.solution_link or advisory.link,
    )


@dataclass(frozen=True, slots=True)
class SiteQueue:
    """A site's due patch-day items."""

    site: SiteRef
    patch_day: datetime
    items: list[PatchItem] = field(default_factory=list)


def patch_day_event(queue: SiteQueue, now: datetime, zone_day: date | None = None) -> Event:
    """``patch-day`` for one site: ONE event listing every item due (maintenance contacts and
    the agency's ticket)."""
    day = zone_day or queue.patch_day.date()
    n = len(queue.items)
    items = sorted(queue.items, key=lambda i: (i.project.lower(), i.advisory))
    return Event(
        kind="patch-day",
        client=queue.site.client,
        site=queue.site.site,
        check=None,
        at=now,
        key=f"patch-day|{queue.site.site}|{day.isoformat()}",
        thread=f"patch-day:{queue.site.site}:{day.isoformat()}",
        summary=(
            f"Patch day {day.isoformat()}: {n} security update{'s' if n != 1 else ''} "
            f"to apply to {queue.site.site}"
        ),
        severity="warning",
        details={
            **_site_details(queue.site),
            "patch_day": day.isoformat(),
            "items": [i.to_json() for i in items],
        },
    )


def group_due(
    items: Iterable[tuple[SiteRef, datetime, PatchItem]], now: datetime
) -> list[SiteQueue]:
    """Items whose patch day has come (at or before ``now``), one queue per site; the queue's
    day is the latest of its items' days."""
    by_site: dict[str, SiteQueue] = {}
    for site, day, item in items:
        if day > now:
            continue
        q = by_site.get(site.site)
        if q is None:
            q = by_site[site.site] = SiteQueue(site, day)
        elif day > q.patch_day:
            q = by_site[site.site] = SiteQueue(site, day, q.items)
        q.items.append(item)
    return [by_site[k] for k in sorted(by_site)]
