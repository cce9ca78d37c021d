"""Patch days and the release window.

Expected patch days are computed here independently, by walking every day of the month and
counting Wednesdays; holiday moves are checked against closures listed by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.calendar import (
    BusinessCalendar,
    next_patch_day,
    patch_day,
    patch_days,
    release_window,
    third_wednesday,
)

YEARS = range(2026, 2031)
MONTHS = [(y, m) for y in YEARS for m in range(1, 13)]


def enumerated_third_wednesday(year: int, month: int) -> date:
    days = [date(year, month, n) for n in range(1, 32) if _valid(year, month, n)]
    wednesdays = [d for d in days if d.strftime("%A") == "Wednesday"]
    return wednesdays[2]


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def enumerated_patch_thursday(year: int, month: int) -> date:
    """The first Thursday strictly after the third Wednesday, found by stepping day by day."""
    d = enumerated_third_wednesday(year, month)
    while True:
        d = date.fromordinal(d.toordinal() + 1)
        if d.strftime("%A") == "Thursday":
            return d


@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_third_wednesday(year: int, month: int) -> None:
    assert third_wednesday(year, month) == enumerated_third_wednesday(year, month)


@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_patch_day_2026_to_2030(year: int, month: int) -> None:
    """No English bank holiday falls on a patch day in 2026–2030: it is always the Thursday."""
    expected = enumerated_patch_thursday(year, month)
    assert patch_day(year, month) == expected
    assert patch_day(year, month, BusinessCalendar()) == expected
    assert expected.weekday() == 3 and 16 <= expected.day <= 22


def test_patch_days_are_the_twelve_in_order() -> None:
    for year in YEARS:
        assert patch_days(year) == [enumerated_patch_thursday(year, m) for m in range(1, 13)]


# Written out by hand from a printed calendar, as a second, literal check.
PATCH_DAYS_2026 = [
    "2026-01-22",  # 1 Jan 2026 is a Thursday: the fourth Thursday, not the 15th
    "2026-02-19",
    "2026-03-19",
    "2026-04-16",
    "2026-05-21",
    "2026-06-18",
    "2026-07-16",
    "2026-08-20",
    "2026-09-17",
    "2026-10-22",  # 1 Oct 2026 is a Thursday
    "2026-11-19",
    "2026-12-17",
]


def test_patch_days_2026_literal() -> None:
    assert [d.isoformat() for d in patch_days(2026)] == PATCH_DAYS_2026


MONTHS_STARTING_ON_THURSDAY = [
    (y, m) for y, m in MONTHS if date(y, m, 1).strftime("%A") == "Thursday"
]


def test_there_are_months_starting_on_thursday_in_the_table() -> None:
    assert (2026, 1) in MONTHS_STARTING_ON_THURSDAY
    assert (2026, 10) in MONTHS_STARTING_ON_THURSDAY
    assert len(MONTHS_STARTING_ON_THURSDAY) >= 8


@pytest.mark.parametrize(("year", "month"), MONTHS_STARTING_ON_THURSDAY)
def test_month_starting_on_thursday_uses_the_fourth_thursday(year: int, month: int) -> None:
    thursdays = [
        date(year, month, n)
        for n in range(1, 29)
        if date(year, month, n).strftime("%A") == "Thursday"
    ]
    assert thursdays[0].day == 1
    assert patch_day(year, month) == thursdays[3]
    assert patch_day(year, month).day == 22


# (calendar, year, month, expected, why)
BAVARIA = BusinessCalendar("Europe/Berlin", country="DE", subdivision="BY")
MOVED_ROWS = [
    (BAVARIA, 2025, 6, date(2025, 6, 20), "Thu 19 Jun 2025 is Corpus Christi"),
    (BAVARIA, 2030, 6, date(2030, 6, 21), "Thu 20 Jun 2030 is Corpus Christi"),
    # June 2028 starts on a Thursday: Corpus Christi is Thu 15 Jun (the third Thursday), but the
    # patch day is the fourth, 22 Jun, and stays put.
    (BAVARIA, 2028, 6, date(2028, 6, 22), "fourth Thursday, not the holiday"),
    (
        BusinessCalendar(extra=[date(2026, 3, 19)]),
        2026,
        3,
        date(2026, 3, 20),
        "closure on the Thursday -> Friday",
    ),
    (
        BusinessCalendar(extra=[date(2026, 3, 19), date(2026, 3, 20)]),
        2026,
        3,
        date(2026, 3, 23),
        "Thursday and Friday closed -> Monday",
    ),
    (
        BusinessCalendar(extra=[date(2026, 10, 22), date(2026, 10, 23), date(2026, 10, 26)]),
        2026,
        10,
        date(2026, 10, 27),
        "three closures across a weekend -> Tuesday",
    ),
    (
        BusinessCalendar(days=["mon", "tue", "wed"], country=None),
        2026,
        6,
        date(2026, 6, 22),
        "a Mon–Wed office: the next Monday",
    ),
]


@pytest.mark.parametrize(("cal", "year", "month", "expected", "why"), MOVED_ROWS)
def test_holidays_move_the_patch_day(
    cal: BusinessCalendar, year: int, month: int, expected: date, why: str
) -> None:
    assert patch_day(year, month, cal) == expected, why
    assert patch_days(year, cal)[month - 1] == expected


# (at, when its queued work is ticketed) — default calendar, 09:00 Europe/London.
NEXT_ROWS = [
    ("2026-01-01T00:00:00+00:00", "2026-01-22T09:00:00+00:00"),
    ("2026-01-22T08:59:59+00:00", "2026-01-22T09:00:00+00:00"),
    ("2026-01-22T09:00:00+00:00", "2026-01-22T09:00:00+00:00"),  # exactly 09:00: this one
    ("2026-01-22T09:00:01+00:00", "2026-02-19T09:00:00+00:00"),  # after 09:00: next month
    ("2026-01-21T17:30:00+00:00", "2026-01-22T09:00:00+00:00"),  # release evening
    ("2026-03-19T08:30:00+00:00", "2026-03-19T09:00:00+00:00"),
    ("2026-03-19T09:00:00+00:00", "2026-03-19T09:00:00+00:00"),
    ("2026-03-20T00:00:00+00:00", "2026-04-16T09:00:00+01:00"),  # across the clock change
    ("2026-04-16T08:00:00+00:00", "2026-04-16T09:00:00+01:00"),  # 09:00 BST is 08:00 UTC
    ("2026-04-16T08:00:01+00:00", "2026-05-21T09:00:00+01:00"),
    ("2026-10-22T08:00:00+00:00", "2026-10-22T09:00:00+01:00"),
    ("2026-10-23T12:00:00+01:00", "2026-11-19T09:00:00+00:00"),
    ("2026-12-17T09:00:01+00:00", "2027-01-21T09:00:00+00:00"),  # across the year end
    ("2030-12-31T23:59:59+00:00", "2031-01-16T09:00:00+00:00"),  # 1 Jan 2031 is a Wednesday
]


@pytest.mark.parametrize(("at", "expected"), NEXT_ROWS)
def test_next_patch_day(at: str, expected: str) -> None:
    assert next_patch_day(datetime.fromisoformat(at)).isoformat() == expected


def test_next_patch_day_follows_a_moved_patch_day_into_the_next_day() -> None:
    cal = BusinessCalendar(extra=[date(2026, 3, 19)])
    at = datetime(2026, 3, 19, 12, tzinfo=UTC)  # the usual patch day, closed here
    assert next_patch_day(at, cal).isoformat() == "2026-03-20T09:00:00+00:00"
    assert next_patch_day(at, cal, at_time=time(14)).isoformat() == "2026-03-20T14:00:00+00:00"


def test_next_patch_day_finds_last_months_day_pushed_into_this_month() -> None:
    """A closure from the patch day to the month's end pushes it into the next month."""
    closed = [date(2026, 12, 17) + timedelta(days=n) for n in range(20)]  # to 5 Jan 2027
    cal = BusinessCalendar(extra=closed)
    assert patch_day(2026, 12, cal) == date(2027, 1, 6)
    got = next_patch_day(datetime(2027, 1, 2, tzinfo=UTC), cal)
    assert got.isoformat() == "2027-01-06T09:00:00+00:00"


@settings(max_examples=200, deadline=None)
@given(
    at=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    )
)
def test_next_patch_day_is_the_first_one_not_before_at(at: datetime) -> None:
    got = next_patch_day(at)
    assert got >= at
    assert got - at <= timedelta(days=38)  # the 16th..22nd to the next month's 22nd
    local = got.date()
    assert local == patch_day(local.year, local.month)
    assert (got.hour, got.minute) == (9, 0)
    # The previous month's patch-day 09:00 is before ``at``.
    prev_y, prev_m = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    prev = datetime.combine(patch_day(prev_y, prev_m), time(9), tzinfo=got.tzinfo)
    assert prev < at


# (instant, in drupal.org's release window, Wednesday 16:00–22:00 UTC?)
WINDOW_ROWS = [
    ("2026-01-21T15:59:59+00:00", False),  # Wednesday before 16:00 UTC
    ("2026-01-21T16:00:00+00:00", True),
    ("2026-01-21T18:30:00+00:00", True),
    ("2026-01-21T21:59:59+00:00", True),
    ("2026-01-21T22:00:00+00:00", False),
    ("2026-06-17T17:30:00+01:00", True),  # 16:30 UTC given in BST
    ("2026-06-17T16:30:00+01:00", False),  # 15:30 UTC
    ("2026-06-17T22:59:00+01:00", True),  # 21:59 UTC
    ("2026-06-17T23:00:00+01:00", False),  # 22:00 UTC
    ("2026-06-18T17:00:00+00:00", False),  # Thursday
    ("2026-06-16T17:00:00+00:00", False),  # Tuesday
    ("2026-01-22T01:30:00+09:00", True),  # Thursday in Tokyo, Wednesday 16:30 UTC
    ("2026-01-21T12:00:00-05:00", True),  # 17:00 UTC from New York
    ("2026-01-21T18:00:00-05:00", False),  # 23:00 UTC
]


@pytest.mark.parametrize(("at", "expected"), WINDOW_ROWS)
def test_release_window(at: str, expected: bool) -> None:
    assert release_window(datetime.fromisoformat(at)) is expected
