"""When the time entries are pulled from the helpdesks (pure).

The client can see the time left this month "updated hourly on weekdays during business hours":
a refresh starts on every whole hour of the agency's office hours on a working day (the agency
calendar: office days, bank holidays and extra closure days off). With office hours 09:00–17:00
that is 09:00, 10:00, … 16:00: eight runs a day, the last at 16:00, none at 17:00 (the office
is closed by then). Times are wall-clock times in the agency's zone, so a DST change moves the
UTC instants, never the local hours.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from monitord.calendar.hours import BusinessCalendar, require_aware, wall_to_utc

MAX_DAYS_AHEAD = 400
"""Days searched for the next working day: more than a year without one is a broken calendar."""


def refresh_hours(calendar: BusinessCalendar) -> list[time]:
    """The local start times of a working day's refreshes: each whole hour from the office
    start (rounded up to the hour) while the office is open."""
    start = calendar.start
    hour = start.hour + (1 if (start.minute, start.second, start.microsecond) != (0, 0, 0) else 0)
    end = calendar.end
    return [time(h) for h in range(hour, 24) if time(h) < end]


def next_refresh(now: datetime, calendar: BusinessCalendar) -> datetime:
    """The first refresh strictly after ``now`` (aware, in the agency's zone)."""
    at = require_aware(now, "now")
    hours = refresh_hours(calendar)
    day = at.astimezone(calendar.zone).date()
    if hours:
        for _ in range(MAX_DAYS_AHEAD):
            if calendar.is_working_day(day):
                for h in hours:
                    run = wall_to_utc(day, h, calendar.zone)
                    if run > at:
                        return run.astimezone(calendar.zone)
            day += timedelta(days=1)
    raise ValueError(
        f"no refresh within {MAX_DAYS_AHEAD} days of {at.isoformat()}: the office hours hold no "
        f"whole hour or there is no working day; check agency.office_hours ({calendar!r})"
    )


def is_refresh_time(at: datetime, calendar: BusinessCalendar) -> bool:
    """True when ``at`` is exactly a scheduled refresh."""
    return next_refresh(at - timedelta(microseconds=1), calendar) == at
