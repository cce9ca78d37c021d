"""The hourly refresh schedule: on the hour, 09:00–16:00 starts, working days only."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from monitord.calendar.hours import BusinessCalendar
from monitord.contracts.refresh import is_refresh_time, next_refresh, refresh_hours

CAL = BusinessCalendar("Europe/London", extra=[date(2026, 12, 24)])


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected", "why"),
    [
        (utc(2026, 3, 4, 7, 0), utc(2026, 3, 4, 9, 0), "before the office opens (GMT)"),
        (utc(2026, 3, 4, 9, 0), utc(2026, 3, 4, 10, 0), "strictly after a run"),
        (utc(2026, 3, 4, 9, 59, 59), utc(2026, 3, 4, 10, 0), "the next whole hour"),
        (utc(2026, 3, 4, 15, 0), utc(2026, 3, 4, 16, 0), "16:00 is the last run"),
        (utc(2026, 3, 4, 16, 0), utc(2026, 3, 5, 9, 0), "none at 17:00: the next morning"),
        (utc(2026, 3, 4, 17, 0), utc(2026, 3, 5, 9, 0), "after hours"),
        (utc(2026, 3, 6, 16, 0), utc(2026, 3, 9, 9, 0), "Friday's last run, then Monday"),
        (utc(2026, 3, 7, 12, 0), utc(2026, 3, 9, 9, 0), "a Saturday"),
        (utc(2026, 5, 22, 16, 0), utc(2026, 5, 26, 8, 0), "spring bank holiday Monday off (BST)"),
        (
            utc(2026, 12, 23, 16, 0),
            utc(2026, 12, 29, 9, 0),
            "extra closure, Christmas, Boxing Day (observed)",
        ),
        (utc(2026, 3, 27, 16, 0), utc(2026, 3, 30, 8, 0), "clocks forward: 09:00 BST = 08:00Z"),
        (utc(2026, 10, 23, 15, 0), utc(2026, 10, 26, 9, 0), "clocks go back: 09:00 GMT again"),
    ],
)
def test_next_refresh(now: datetime, expected: datetime, why: str) -> None:
    got = next_refresh(now, CAL)
    assert got == expected, why
    assert got.tzinfo is not None and got.astimezone(CAL.zone).minute == 0
    assert is_refresh_time(got, CAL)


def test_good_friday_and_easter_monday_are_off() -> None:
    assert next_refresh(utc(2026, 4, 2, 15, 0), CAL) == utc(2026, 4, 7, 8, 0)


def test_runs_of_a_working_day_are_09_to_16() -> None:
    assert refresh_hours(CAL) == [time(h) for h in range(9, 17)]
    runs = []
    at = utc(2026, 3, 3, 23, 0)
    while True:
        at = next_refresh(at, CAL)
        if at.date() != date(2026, 3, 4):
            break
        runs.append(at.astimezone(CAL.zone).hour)
    assert runs == [9, 10, 11, 12, 13, 14, 15, 16]


def test_office_hours_off_the_hour_start_at_the_next_hour() -> None:
    cal = BusinessCalendar("Europe/London", start=time(8, 30), end=time(12, 0))
    assert refresh_hours(cal) == [time(9), time(10), time(11)]


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        next_refresh(datetime(2026, 3, 4, 9, 0), CAL)


def test_is_refresh_time() -> None:
    assert is_refresh_time(utc(2026, 3, 4, 12, 0), CAL)
    assert not is_refresh_time(utc(2026, 3, 4, 12, 1), CAL)
    assert not is_refresh_time(utc(2026, 3, 4, 17, 0), CAL)
    assert not is_refresh_time(utc(2026, 3, 7, 12, 0), CAL)
