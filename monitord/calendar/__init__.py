"""The agency's calendar: office hours, holidays, the respond-by SLA, patch days, time windows.

Everything here is pure: instants are passed in (aware datetimes), nothing reads the clock.
"""

from __future__ import annotations

from monitord.calendar.hours import RESPONSE_TIME, BusinessCalendar, CalendarError, agency_calendar
from monitord.calendar.patchday import (
    PATCH_DAY_TIME,
    RELEASE_WINDOW,
    default_calendar,
    next_patch_day,
    patch_day,
    patch_days,
    release_window,
    third_wednesday,
)
from monitord.calendar.windows import AnyWindow, OneOffWindow, TimeWindow, Window

__all__ = [
    "PATCH_DAY_TIME",
    "RELEASE_WINDOW",
    "RESPONSE_TIME",
    "AnyWindow",
    "BusinessCalendar",
    "CalendarError",
    "OneOffWindow",
    "TimeWindow",
    "Window",
    "agency_calendar",
    "default_calendar",
    "next_patch_day",
    "patch_day",
    "patch_days",
    "release_window",
    "third_wednesday",
]
