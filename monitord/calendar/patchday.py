"""Patch days and drupal.org's security release window: pure date arithmetic.

Drupal security releases come out on Wednesdays (core: usually the third Wednesday of the month).
The agency's patch day is the Thursday after the third Wednesday — in a month that starts on a
Thursday that is the month's *fourth* Thursday, not its third — moved to the next working day when
it is a holiday or closure day. Queued (less than Highly critical) work is ticketed at 09:00 agency
time on that day, when the office opens.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache

from monitord.calendar.hours import BusinessCalendar, require_aware, wall_to_utc
from monitord.calendar.windows import TimeWindow

__all__ = [
    "PATCH_DAY_TIME",
    "RELEASE_WINDOW",
    "default_calendar",
    "next_patch_day",
    "patch_day",
    "patch_days",
    "release_window",
    "third_wednesday",
]

PATCH_DAY_TIME = time(9, 0)
"""Wall-clock time (agency zone) at which patch-day work is ticketed: the office opens."""

RELEASE_WINDOW = TimeWindow(["wed"], time(16, 0), time(22, 0), "UTC")
"""drupal.org's security release window, Wednesday 16:00–22:00 UTC: feeds are polled faster."""

_WEDNESDAY = 2


@cache
def default_calendar() -> BusinessCalendar:
    """The default agency calendar: Europe/London, Mon–Fri 09:00–17:00, GB/ENG bank holidays."""
    return BusinessCalendar()


def third_wednesday(year: int, month: int) -> date:
    """The third Wednesday of the month (the 15th to the 21st)."""
    first = date(year, month, 1)
    return first + timedelta(days=(_WEDNESDAY - first.weekday()) % 7 + 14)


def patch_day(year: int, month: int, cal: BusinessCalendar | None = None) -> date:
    """The month's patch day: the Thursday after the third Wednesday, or the next working day
    when that Thursday is not one in ``cal`` (the default GB/ENG calendar when None)."""
    thursday = third_wednesday(year, month) + timedelta(days=1)
    return (cal or default_calendar()).next_working_day(thursday)


def patch_days(year: int, cal: BusinessCalendar | None = None) -> list[date]:
    """The twelve patch days of ``year``, January first."""
    return [patch_day(year, month, cal) for month in range(1, 13)]


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def next_patch_day(
    at: datetime, cal: BusinessCalendar | None = None, *, at_time: time = PATCH_DAY_TIME
) -> datetime:
    """When work queued at ``at`` is ticketed: ``at_time`` (09:00) agency time on the first
    patch day whose ``at_time`` is at or after ``at``. An item queued after this month's
    patch-day 09:00 waits for next month's. The result is in the agency's zone."""
    cal = cal or default_calendar()
    at_utc = require_aware(at)
    local = at_utc.astimezone(cal.zone)
    # Closures can push last month's patch day into this month, so start one month back; next
    # month's is on or after its 16th, always after ``at``: three months always suffice.
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    for _ in range(3):
        moment = wall_to_utc(patch_day(year, month, cal), at_time, cal.zone)
        if moment >= at_utc:
            return moment.astimezone(cal.zone)
        year, month = _next_month(year, month)
    raise AssertionError("unreachable: every month has a patch day")  # pragma: no cover


def release_window(at: datetime) -> bool:
    """Whether ``at`` is in drupal.org's security release window (Wednesday 16:00–22:00 UTC)."""
    return RELEASE_WINDOW.contains(at)
