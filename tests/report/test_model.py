"""The report model from fixture data: uptime with maintenance, the response SLA, time to patch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitord.contracts.models import Month
from monitord.report.model import (
    AdvisoryInfo,
    CertificateInfo,
    CheckInfo,
    IncidentInfo,
    ReportData,
    SiteInfo,
    TicketInfo,
    build_report,
    report_json,
    sla,
)
from monitord.report.rollup import Slice

LONDON = ZoneInfo("Europe/London")
NOV = Month(2026, 11)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
H = 3600.0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def data(hours: list[Slice], **kw: object) -> ReportData:
    base: dict[str, object] = dict(
        client="acme",
        client_name="ACME",
        month=NOV,
        zone=LONDON,
        sites=(SiteInfo("www", "WWW", "https://w.example/"),),
        checks=(
            CheckInfo("k", "www", "http", "http", timedelta(minutes=1)),
            CheckInfo("t", "www", "tls", "tls", timedelta(hours=1)),
        ),
        hours={"k": hours, "t": [Slice(utc(2026, 11, 5, 0), down=H)]},
    )
    base.update(kw)
    return ReportData(**base)  # type: ignore[arg-type]


def full_month(**over: Slice) -> list[Slice]:
    """Every UTC hour of November up (London is on GMT all November), some replaced."""
    out = []
    t = utc(2026, 11, 1)
    while t < utc(2026, 12, 1):
        out.append(over.get(f"{t:%d%H}", Slice(t, up=H, probes=60)))
        t += timedelta(hours=1)
    return out


HOURS_IN_NOV = 30 * 24


@pytest.mark.parametrize(
    ("hours", "uptime", "maint", "unmeasured"),
    [
        (full_month(), 100.0, 0.0, 0.0),
        # one hour down of 720
        (
            full_month(**{"1210": Slice(utc(2026, 11, 12, 10), down=H)}),
            100 * (HOURS_IN_NOV - 1) / HOURS_IN_NOV,
            0.0,
            0.0,
        ),
        # down during maintenance: not counted against uptime
        (
            full_month(**{"1810": Slice(utc(2026, 11, 18, 10), maintenance=H)}),
            100.0,
            H,
            0.0,
        ),
        # half an hour down and half an hour in maintenance within the same hour
        (
            full_month(**{"1810": Slice(utc(2026, 11, 18, 10), down=H / 2, maintenance=H / 2)}),
            100 * (HOURS_IN_NOV - 1) / (HOURS_IN_NOV - 0.5),
            H / 2,
            0.0,
        ),
        # the daemon was not running for a day: that time is neither up nor down
        (
            [s for s in full_month() if s.hour.day != 20],
            100.0,
            0.0,
            24 * H,
        ),
        # nothing measured at all
        ([], None, 0.0, HOURS_IN_NOV * H),
        # hours outside the month are ignored
        ([*full_month(), Slice(utc(2026, 12, 1, 0), down=H)], 100.0, 0.0, 0.0),
    ],
)
def test_uptime_with_maintenance(
    hours: list[Slice], uptime: float | None, maint: float, unmeasured: float
) -> None:
    r = build_report(data(hours), NOW)
    site = r.sites[0]
    if uptime is None:
        assert site.uptime is None
    else:
        assert site.uptime == pytest.approx(uptime)
    assert site.maintenance_seconds == maint
    assert site.unmeasured_seconds == pytest.approx(unmeasured)
    assert r.uptime == site.uptime  # the tls check's "down" hour is not downtime
    assert "maintenance" in r.method and "1 min" in r.method


def ticket(opened: datetime, respond_by_h: float, answered_min: float | None) -> TicketInfo:
    return TicketInfo(
        "#1",
        None,
        "t",
        opened,
        opened + timedelta(hours=respond_by_h),
        None if answered_min is None else opened + timedelta(minutes=answered_min),
    )


@pytest.mark.parametrize(
    ("tickets", "opened", "in_time", "share"),
    [
        ([], 0, 0, None),
        ([ticket(utc(2026, 11, 3, 9), 1, 59)], 1, 1, 100.0),
        ([ticket(utc(2026, 11, 3, 9), 1, 60)], 1, 1, 100.0),  # exactly at respond-by
        ([ticket(utc(2026, 11, 3, 9), 1, 61)], 1, 0, 0.0),
        ([ticket(utc(2026, 11, 3, 9), 1, None)], 1, 0, 0.0),  # never answered
        # opened Friday 16:30, respond-by Monday 09:30: answered Monday 09:20 is in time
        ([ticket(utc(2026, 11, 20, 16, 30), 65, 64 * 60 + 50)], 1, 1, 100.0),
        (
            [
                ticket(utc(2026, 11, 3, 9), 1, 10),
                ticket(utc(2026, 11, 4, 9), 1, 90),
                ticket(utc(2026, 11, 5, 9), 1, 30),
            ],
            3,
            2,
            pytest.approx(200 / 3),
        ),
        # opened in October (answered in November) or December: not this month's
        ([ticket(utc(2026, 10, 31, 23, 59), 1, 5), ticket(utc(2026, 12, 1), 1, 5)], 0, 0, None),
        # 00:30 on 1 November in London is still November (GMT), 23:30 UTC on 31 October is not
        ([ticket(utc(2026, 11, 1, 0, 30), 1, 5)], 1, 1, 100.0),
    ],
)
def test_sla_share(
    tickets: list[TicketInfo], opened: int, in_time: int, share: float | None
) -> None:
    s = sla(tickets, NOV, LONDON)
    assert (s.opened, s.answered_in_time, s.share) == (opened, in_time, share)


def adv(detected: datetime, fixed: datetime | None, decision: str = "now") -> AdvisoryInfo:
    return AdvisoryInfo("SA-1", "t", "Critical", "www", decision, detected, fixed)


@pytest.mark.parametrize(
    ("advisories", "listed", "ttp", "still_open"),
    [
        ([adv(utc(2026, 11, 4, 18), utc(2026, 11, 4, 20))], 1, timedelta(hours=2), 0),
        (
            [adv(utc(2026, 11, 4, 18), utc(2026, 11, 11, 10), "patch-day")],
            1,
            timedelta(days=6, hours=16),
            0,
        ),
        ([adv(utc(2026, 11, 25, 17), None)], 1, None, 1),
        # detected in October, fixed in November: listed, with its whole time to patch
        ([adv(utc(2026, 10, 30, 9), utc(2026, 11, 2, 9))], 1, timedelta(days=3), 0),
        # fixed in October: not this month's
        ([adv(utc(2026, 10, 1, 9), utc(2026, 10, 2, 9))], 0, None, 0),
        # detected in December: not this month's
        ([adv(utc(2026, 12, 1, 0, 30), None)], 0, None, 0),
        # still open from October
        ([adv(utc(2026, 10, 20), None)], 1, None, 1),
    ],
)
def test_time_to_patch(
    advisories: list[AdvisoryInfo], listed: int, ttp: timedelta | None, still_open: int
) -> None:
    r = build_report(data(full_month(), advisories=tuple(advisories)), NOW)
    assert len(r.security) == listed
    if listed:
        assert r.security[0].time_to_patch == ttp
    assert len(r.still_open) == still_open


def test_incidents_certificates_and_json_keys() -> None:
    r = build_report(
        data(
            full_month(),
            incidents=(
                IncidentInfo(
                    "i1",
                    "www",
                    "http",
                    utc(2026, 11, 12, 10, 3),
                    utc(2026, 11, 12, 10, 50),
                    "503",
                    "#1",
                ),
                # open across the month's end: counted up to it
                IncidentInfo("i2", "www", "http", utc(2026, 11, 30, 23), None, "timeout"),
                IncidentInfo("i0", "www", "http", utc(2026, 10, 1), utc(2026, 10, 2), "old"),
            ),
            certificates=(
                CertificateInfo("www", "tls", NOW + timedelta(days=29)),
                CertificateInfo("www", "tls-2", NOW + timedelta(days=31)),
            ),
        ),
        NOW,
    )
    lines = r.sites[0].incidents
    assert [(i.cause, i.duration, i.ticket) for i in lines] == [
        ("503", timedelta(minutes=47), "#1"),
        ("timeout", timedelta(hours=1), None),
    ]
    assert [c.check for c in r.certificates] == ["tls"]
    j = report_json(r)
    assert set(j) >= {
        "client",
        "month",
        "method",
        "uptime_percent",
        "sites",
        "sla",
        "security",
        "still_open",
        "patch_days",
        "certificates",
        "hours",
        "daily_uptime_percent",
    }
    assert len(j["daily_uptime_percent"]) == 30


def test_a_client_without_a_contract_has_no_hours_section() -> None:
    from monitord.report.render import chart_pngs, render

    r = build_report(data(full_month()), NOW)
    assert r.hours is None and report_json(r)["hours"] is None
    assert "SUPPORT HOURS" not in render(r, {"daily": "d", "hours": "h"}).text
    assert chart_pngs(r)["hours"][:4] == b"\x89PNG"
