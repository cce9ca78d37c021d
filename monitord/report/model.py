"""The monthly client report as a pure function of its data and ``now``.

:func:`build_report` takes :class:`ReportData` (what the store holds for one client and month,
gathered by :mod:`monitord.report.data`) and returns a :class:`Report`; nothing here reads a
clock, a file or the store. Rendering (HTML, text, PNG charts) is :mod:`monitord.report.render`.

Uptime: up ÷ (up + down) over the month's hourly roll-ups of the site's availability checks
(every check but tls, whose certificate warnings are reported on their own); seconds in a
maintenance window and seconds without probes (monitord not running) count as neither.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitord.contracts.ledger import Statement, money
from monitord.contracts.models import Month
from monitord.report.rollup import Slice, availability, daily

CERT_HORIZON = timedelta(days=30)
"""Certificates expiring within this of the report are listed."""

UNAVAILABILITY_CHECK_TYPES = frozenset({"tls"})
"""Check types left out of uptime: a certificate close to expiry is not downtime."""


# ---------------------------------------------------------------- input


@dataclass(frozen=True, slots=True)
class CheckInfo:
    key: str
    site: str
    check: str
    type: str
    interval: timedelta


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: str
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class IncidentInfo:
    id: str
    site: str
    check: str
    started: datetime
    ended: datetime | None
    cause: str
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class TicketInfo:
    ref: str
    site: str | None
    title: str
    opened_at: datetime
    respond_by: datetime
    answered_at: datetime | None
    """First acknowledged (or resolved, when never acknowledged)."""


@dataclass(frozen=True, slots=True)
class AdvisoryInfo:
    advisory: str
    title: str
    risk: str
    site: str
    decision: str
    """``now`` or ``patch-day``: how it was acted on."""
    detected: datetime
    fixed: datetime | None
    """When the inventory first showed a fixed version; None while still open."""
    link: str = ""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    site: str
    check: str
    not_after: datetime


@dataclass(frozen=True, slots=True)
class ReportData:
    client: str
    client_name: str
    month: Month
    zone: ZoneInfo
    sites: tuple[SiteInfo, ...]
    checks: tuple[CheckInfo, ...]
    hours: dict[str, list[Slice]]
    """Per check key, the month's hourly roll-ups."""
    incidents: tuple[IncidentInfo, ...] = ()
    tickets: tuple[TicketInfo, ...] = ()
    advisories: tuple[AdvisoryInfo, ...] = ()
    patch_days: tuple[date, ...] = ()
    certificates: tuple[CertificateInfo, ...] = ()
    statement: Statement | None = None
    agency: str = "monitord"


# ---------------------------------------------------------------- output


@dataclass(frozen=True, slots=True)
class IncidentLine:
    site: str
    check: str
    start: datetime
    end: datetime | None
    duration: timedelta
    """Within the month (an incident still open at its end counts to the month's end)."""
    cause: str
    ticket: str | None


@dataclass(frozen=True, slots=True)
class SiteSection:
    id: str
    name: str
    url: str
    uptime: float | None
    """Percent; None when nothing was measured."""
    up_seconds: float
    down_seconds: float
    maintenance_seconds: float
    unmeasured_seconds: float
    probes: int
    incidents: tuple[IncidentLine, ...]


@dataclass(frozen=True, slots=True)
class Sla:
    opened: int
    answered_in_time: int
    late: tuple[str, ...]

    @property
    def share(self) -> float | None:
        return None if self.opened == 0 else 100.0 * self.answered_in_time / self.opened


@dataclass(frozen=True, slots=True)
class SecurityLine:
    advisory: str
    title: str
    risk: str
    site: str
    decision: str
    detected: datetime
    fixed: datetime | None
    time_to_patch: timedelta | None
    link: str


@dataclass(frozen=True, slots=True)
class HoursSection:
    currency: str
    allowance: int
    brought_forward: int
    available: int
    used: int
    remaining: int
    carried_forward: int
    charged: int
    net: str
    vat: str
    gross: str
    by_ticket: tuple[tuple[str, int], ...]
    """(ticket or "no ticket", minutes), most first."""
    closed: bool
    """The month's statement is issued (else the figures are running ones as of the report)."""
    cumulative: tuple[tuple[date, int], ...]
    """Minutes used up to the end of each day of the month."""


@dataclass(frozen=True, slots=True)
class Report:
    client: str
    client_name: str
    agency: str
    month: Month
    generated: datetime
    zone: ZoneInfo
    method: str
    uptime: float | None
    sites: tuple[SiteSection, ...]
    sla: Sla
    security: tuple[SecurityLine, ...]
    still_open: tuple[SecurityLine, ...]
    patch_days: tuple[date, ...]
    certificates: tuple[CertificateInfo, ...]
    hours: HoursSection | None
    daily: tuple[tuple[date, float | None], ...] = field(default=())

    @property
    def subject(self) -> str:
        return f"{self.client_name}: your monthly report for {month_name(self.month)}"


def month_name(m: Month) -> str:
    return m.first_day().strftime("%B %Y")


def month_span(m: Month, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return m.start(zone), m.next().start(zone)


def _days(m: Month) -> list[date]:
    d = m.first_day()
    out = []
    while d.month == m.month:
        out.append(d)
        d += timedelta(days=1)
    return out


def _method(checks: Sequence[CheckInfo]) -> str:
    intervals = sorted({c.interval for c in checks if c.type not in UNAVAILABILITY_CHECK_TYPES})
    every = ", ".join(_fmt_interval(i) for i in intervals) or "their interval"
    return (
        f"Uptime is the time the site answered ÷ the time it was measured, probed every "
        f"{every}. Time inside agreed maintenance windows, and any time without a probe, "
        "counts as neither up nor down."
    )


def _fmt_interval(i: timedelta) -> str:
    s = int(i.total_seconds())
    if s % 3600 == 0:
        return f"{s // 3600} h"
    if s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def sla(tickets: Sequence[TicketInfo], month: Month, zone: ZoneInfo) -> Sla:
    """Tickets opened in the month, and how many were first answered by their respond-by time
    (one working hour after they were opened)."""
    opened = [t for t in tickets if Month.of(t.opened_at, zone) == month]
    ok = [t for t in opened if t.answered_at is not None and t.answered_at <= t.respond_by]
    late = tuple(t.ref for t in opened if t not in ok)
    return Sla(len(opened), len(ok), late)


def security_line(a: AdvisoryInfo) -> SecurityLine:
    return SecurityLine(
        a.advisory,
        a.title,
        a.risk,
        a.site,
        a.decision,
        a.detected,
        a.fixed,
        None if a.fixed is None else a.fixed - a.detected,
        a.link,
    )


def incident_lines(
    incidents: Sequence[IncidentInfo], start: datetime, end: datetime
) -> list[IncidentLine]:
    out = []
    for i in sorted(incidents, key=lambda i: i.started):
        stop = i.ended if i.ended is not None else end
        if i.started >= end or stop <= start:
            continue
        duration = min(stop, end) - max(i.started, start)
        out.append(IncidentLine(i.site, i.check, i.started, i.ended, duration, i.cause, i.ticket))
    return out


def hours_section(st: Statement, zone: ZoneInfo) -> HoursSection:
    f = st.figures
    by_ticket: dict[str, int] = defaultdict(int)
    per_day: dict[date, int] = defaultdict(int)
    for ln in st.lines:
        by_ticket[ln.ticket or "no ticket"] += ln.minutes
        per_day[ln.at.astimezone(zone).date()] += ln.minutes
    running = 0
    cumulative = []
    for d in _days(st.month):
        running += per_day.get(d, 0)
        cumulative.append((d, running))
    # Adjustments name their original date (an earlier month): they count from the 1st.
    early = sum(v for d, v in per_day.items() if d < st.month.first_day())
    cumulative = [(d, v + early) for d, v in cumulative]
    return HoursSection(
        currency=st.currency,
        allowance=f.allowance,
        brought_forward=f.brought_forward,
        available=f.available,
        used=f.used,
        remaining=f.remaining,
        carried_forward=f.carried_forward,
        charged=f.charged,
        net=money(f.net),
        vat=money(f.vat),
        gross=money(f.gross),
        by_ticket=tuple(sorted(by_ticket.items(), key=lambda kv: (-kv[1], kv[0]))),
        cumulative=tuple(cumulative),
        closed=st.closed,
    )


def build_report(data: ReportData, now: datetime) -> Report:
    """The report of ``data.month`` for ``data.client``, as of ``now``."""
    zone = data.zone
    start, end = month_span(data.month, zone)
    measured_end = min(end, max(now, start))
    span_seconds = (measured_end - start).total_seconds()
    uptime_checks = [c for c in data.checks if c.type not in UNAVAILABILITY_CHECK_TYPES]
    incidents = incident_lines(data.incidents, start, end)
    sites: list[SiteSection] = []
    all_slices: list[Slice] = []
    for site in data.sites:
        checks = [c for c in uptime_checks if c.site == site.id]
        slices = [s for c in checks for s in data.hours.get(c.key, ()) if start <= s.hour < end]
        all_slices += slices
        a = availability(slices)
        expected = span_seconds * len(checks)
        sites.append(
            SiteSection(
                site.id,
                site.name,
                site.url,
                a.percent,
                a.up,
                a.down,
                a.maintenance,
                max(0.0, expected - a.up - a.down - a.maintenance),
                sum(s.probes for s in slices),
                tuple(i for i in incidents if i.site == site.id),
            )
        )
    by_day = daily(all_slices, zone)
    day_series = tuple((d, by_day[d].percent if d in by_day else None) for d in _days(data.month))
    security = tuple(
        security_line(a)
        for a in sorted(data.advisories, key=lambda a: (a.detected, a.site))
        if a.detected < end and (a.fixed is None or a.fixed >= start)
    )
    horizon = now + CERT_HORIZON
    return Report(
        client=data.client,
        client_name=data.client_name,
        agency=data.agency,
        month=data.month,
        generated=now,
        zone=zone,
        method=_method(data.checks),
        uptime=availability(all_slices).percent,
        sites=tuple(sites),
        sla=sla(data.tickets, data.month, zone),
        security=security,
        still_open=tuple(s for s in security if s.fixed is None or s.fixed > now),
        patch_days=tuple(
            sorted(d for d in data.patch_days if Month(d.year, d.month) == data.month)
        ),
        certificates=tuple(
            sorted(
                (c for c in data.certificates if c.not_after <= horizon),
                key=lambda c: c.not_after,
            )
        ),
        hours=None if data.statement is None else hours_section(data.statement, zone),
        daily=day_series,
    )


# ---------------------------------------------------------------- JSON


def _iso(dt: datetime | None, zone: ZoneInfo) -> str | None:
    return None if dt is None else dt.astimezone(zone).isoformat()


def _pct(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def report_json(r: Report) -> dict[str, Any]:
    """The report as ``monitord report --json`` prints it."""
    z = r.zone
    return {
        "client": r.client,
        "client_name": r.client_name,
        "month": str(r.month),
        "generated": _iso(r.generated, z),
        "method": r.method,
        "uptime_percent": _pct(r.uptime),
        "sites": [
            {
                "site": s.id,
                "name": s.name,
                "url": s.url,
                "uptime_percent": _pct(s.uptime),
                "up_seconds": round(s.up_seconds),
                "down_seconds": round(s.down_seconds),
                "maintenance_seconds": round(s.maintenance_seconds),
                "unmeasured_seconds": round(s.unmeasured_seconds),
                "probes": s.probes,
                "incidents": [
                    {
                        "check": i.check,
                        "start": _iso(i.start, z),
                        "end": _iso(i.end, z),
                        "duration_seconds": round(i.duration.total_seconds()),
                        "cause": i.cause,
                        "ticket": i.ticket,
                    }
                    for i in s.incidents
                ],
            }
            for s in r.sites
        ],
        "sla": {
            "tickets_opened": r.sla.opened,
            "answered_within_one_working_hour": r.sla.answered_in_time,
            "share_percent": _pct(r.sla.share),
            "late": list(r.sla.late),
        },
        "security": [_sec_json(s, z) for s in r.security],
        "still_open": [_sec_json(s, z) for s in r.still_open],
        "patch_days": [d.isoformat() for d in r.patch_days],
        "certificates": [
            {"site": c.site, "check": c.check, "expires": _iso(c.not_after, z)}
            for c in r.certificates
        ],
        "hours": None
        if r.hours is None
        else {
            "closed": r.hours.closed,
            "currency": r.hours.currency,
            "allowance_minutes": r.hours.allowance,
            "brought_forward_minutes": r.hours.brought_forward,
            "available_minutes": r.hours.available,
            "used_minutes": r.hours.used,
            "remaining_minutes": r.hours.remaining,
            "carried_forward_minutes": r.hours.carried_forward,
            "charged_minutes": r.hours.charged,
            "net": r.hours.net,
            "vat": r.hours.vat,
            "gross": r.hours.gross,
            "by_ticket": [{"ticket": t, "minutes": m} for t, m in r.hours.by_ticket],
        },
        "daily_uptime_percent": [
            {"date": d.isoformat(), "uptime_percent": _pct(v)} for d, v in r.daily
        ],
    }


def _sec_json(s: SecurityLine, z: ZoneInfo) -> dict[str, Any]:
    return {
        "advisory": s.advisory,
        "title": s.title,
        "risk": s.risk,
        "site": s.site,
        "decision": s.decision,
        "detected": _iso(s.detected, z),
        "fixed": _iso(s.fixed, z),
        "time_to_patch_seconds": None
        if s.time_to_patch is None
        else round(s.time_to_patch.total_seconds()),
        "link": s.link,
    }
