"""BusinessCalendar: office time, holidays and the respond-by SLA, on tables of real dates.

Expected values are written out by hand from the rules (09:00–17:00 Mon–Fri, one working hour,
GOV.UK's bank holidays, the UK clock changes on the last Sundays of March and October), not
computed with the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.calendar import BusinessCalendar, CalendarError, agency_calendar
from monitord.calendar.hours import EXTRA_CLOSURE_NAME, parse_weekday
from monitord.config.models import Agency, HolidaysConfig, OfficeHours

LONDON = ZoneInfo("Europe/London")

# The example config's agency: GB/ENG plus the extra closure day 2026-12-29.
AGENCY = BusinessCalendar(extra=[date(2026, 12, 29)])
PLAIN_GB = BusinessCalendar()


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


# (received, due) — both ISO 8601 with offset; the due time is in agency time (Europe/London).
RESPOND_BY_ROWS = [
    # An ordinary week in June 2026 (BST, +01:00): Wed 10th, Thu 11th, Fri 12th, Mon 15th.
    ("2026-06-10T16:30:00+01:00", "2026-06-11T09:30:00+01:00"),  # 16:30 -> 09:30 next day
    ("2026-06-10T15:30:00+00:00", "2026-06-11T09:30:00+01:00"),  # the same instant, given in UTC
    ("2026-06-10T20:00:00+01:00", "2026-06-11T10:00:00+01:00"),  # evening -> 10:00
    ("2026-06-10T08:00:00+01:00", "2026-06-10T10:00:00+01:00"),  # early -> 10:00 same day
    ("2026-06-10T00:00:00+01:00", "2026-06-10T10:00:00+01:00"),
    ("2026-06-10T08:59:00+01:00", "2026-06-10T10:00:00+01:00"),
    ("2026-06-10T08:59:59+01:00", "2026-06-10T10:00:00+01:00"),
    ("2026-06-10T09:00:00+01:00", "2026-06-10T10:00:00+01:00"),
    ("2026-06-10T09:01:00+01:00", "2026-06-10T10:01:00+01:00"),
    ("2026-06-10T12:34:56+01:00", "2026-06-10T13:34:56+01:00"),
    ("2026-06-10T15:59:00+01:00", "2026-06-10T16:59:00+01:00"),
    ("2026-06-10T16:00:00+01:00", "2026-06-10T17:00:00+01:00"),  # ends exactly at closing
    ("2026-06-10T16:00:01+01:00", "2026-06-11T09:00:01+01:00"),
    ("2026-06-10T16:01:00+01:00", "2026-06-11T09:01:00+01:00"),
    ("2026-06-10T16:30:00+01:00", "2026-06-11T09:30:00+01:00"),
    ("2026-06-10T16:59:00+01:00", "2026-06-11T09:59:00+01:00"),
    ("2026-06-10T16:59:59.999999+01:00", "2026-06-11T09:59:59.999999+01:00"),
    ("2026-06-10T17:00:00+01:00", "2026-06-11T10:00:00+01:00"),  # exactly 17:00 is closed
    ("2026-06-10T17:01:00+01:00", "2026-06-11T10:00:00+01:00"),
    ("2026-06-10T23:59:59+01:00", "2026-06-11T10:00:00+01:00"),
    ("2026-06-12T16:30:00+01:00", "2026-06-15T09:30:00+01:00"),  # Friday -> Monday
    ("2026-06-12T17:00:00+01:00", "2026-06-15T10:00:00+01:00"),
    ("2026-06-13T11:00:00+01:00", "2026-06-15T10:00:00+01:00"),  # Saturday
    ("2026-06-14T23:59:00+01:00", "2026-06-15T10:00:00+01:00"),  # Sunday night
    # Other zones' inputs for an office in London.
    ("2026-06-10T11:30:00-04:00", "2026-06-11T09:30:00+01:00"),  # New York 11:30 = 16:30 BST
    ("2026-06-11T00:30:00+09:00", "2026-06-11T09:30:00+01:00"),  # Tokyo next day = 16:30 BST
    ("2026-06-10T05:30:00-04:00", "2026-06-10T11:30:00+01:00"),  # 10:30 BST
    # Christmas 2026: Thu 24th; Fri 25th Christmas; Mon 28th Boxing Day (substitute, the 26th
    # is a Saturday); Tue 29th the agency's extra closure day; open Wed 30th.
    ("2026-12-24T15:00:00+00:00", "2026-12-24T16:00:00+00:00"),
    ("2026-12-24T16:00:00+00:00", "2026-12-24T17:00:00+00:00"),
    ("2026-12-24T16:30:00+00:00", "2026-12-30T09:30:00+00:00"),
    ("2026-12-24T20:00:00+00:00", "2026-12-30T10:00:00+00:00"),
    ("2026-12-24T22:00:00-08:00", "2026-12-30T10:00:00+00:00"),  # Christmas morning in UTC
    ("2026-12-25T10:00:00+00:00", "2026-12-30T10:00:00+00:00"),
    ("2026-12-26T10:00:00+00:00", "2026-12-30T10:00:00+00:00"),
    ("2026-12-28T10:00:00+00:00", "2026-12-30T10:00:00+00:00"),  # substitute Boxing Day
    ("2026-12-29T10:00:00+00:00", "2026-12-30T10:00:00+00:00"),  # extra closure
    ("2026-12-30T16:15:00+00:00", "2026-12-31T09:15:00+00:00"),
    ("2026-12-31T16:30:00+00:00", "2027-01-04T09:30:00+00:00"),  # New Year's Day is a Friday
    ("2027-01-01T09:00:00+00:00", "2027-01-04T10:00:00+00:00"),
    # Christmas 2027: Fri 24th; 25th/26th are a weekend, so Mon 27th and Tue 28th are the
    # substitute days; the 2026 extra closure does not recur.
    ("2027-12-24T16:30:00+00:00", "2027-12-29T09:30:00+00:00"),
    ("2027-12-27T12:00:00+00:00", "2027-12-29T10:00:00+00:00"),
    ("2027-12-28T16:30:00+00:00", "2027-12-29T10:00:00+00:00"),
    ("2027-12-31T16:30:00+00:00", "2028-01-04T09:30:00+00:00"),  # Mon 3 Jan 2028 substitute
    # Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr (BST).
    ("2026-04-02T16:30:00+01:00", "2026-04-07T09:30:00+01:00"),
    ("2026-04-06T09:00:00+01:00", "2026-04-07T10:00:00+01:00"),
    # Easter 2027: Good Friday 26 Mar, Easter Monday 29 Mar — and the clocks go forward on
    # Sunday 28 Mar in between, so a GMT receipt is due in BST.
    ("2027-03-25T15:59:00+00:00", "2027-03-25T16:59:00+00:00"),
    ("2027-03-25T16:30:00+00:00", "2027-03-30T09:30:00+01:00"),
    ("2027-03-26T11:00:00+00:00", "2027-03-30T10:00:00+01:00"),  # Good Friday
    ("2027-03-28T01:30:00+00:00", "2027-03-30T10:00:00+01:00"),  # 02:30 BST, just after
    ("2027-03-29T11:00:00+01:00", "2027-03-30T10:00:00+01:00"),  # Easter Monday
    # Clocks forward, Sunday 29 Mar 2026 01:00 GMT -> 02:00 BST.
    ("2026-03-27T08:30:00+00:00", "2026-03-27T10:00:00+00:00"),
    ("2026-03-27T16:30:00+00:00", "2026-03-30T09:30:00+01:00"),
    ("2026-03-29T00:30:00+00:00", "2026-03-30T10:00:00+01:00"),  # 00:30 GMT, before
    ("2026-03-29T01:30:00+00:00", "2026-03-30T10:00:00+01:00"),  # 02:30 BST, after
    ("2026-03-30T07:30:00+00:00", "2026-03-30T10:00:00+01:00"),  # 08:30 BST: not yet open
    ("2026-03-30T08:30:00+00:00", "2026-03-30T10:30:00+01:00"),  # 09:30 BST
    ("2026-03-30T15:30:00+00:00", "2026-03-31T09:30:00+01:00"),  # 16:30 BST
    ("2026-03-30T16:00:00+00:00", "2026-03-31T10:00:00+01:00"),  # 17:00 BST: closed
    # Clocks back, Sunday 25 Oct 2026 02:00 BST -> 01:00 GMT (01:xx happens twice).
    ("2026-10-23T16:30:00+01:00", "2026-10-26T09:30:00+00:00"),
    ("2026-10-25T00:30:00+00:00", "2026-10-26T10:00:00+00:00"),  # 01:30 BST, first time
    ("2026-10-25T01:30:00+00:00", "2026-10-26T10:00:00+00:00"),  # 01:30 GMT, second time
    ("2026-10-26T08:30:00+00:00", "2026-10-26T10:00:00+00:00"),  # 08:30 GMT: not yet open
    ("2026-10-26T08:00:00+01:00", "2026-10-26T10:00:00+00:00"),  # the same, written in BST
    ("2026-10-26T16:30:00+00:00", "2026-10-27T09:30:00+00:00"),
    # 2027: forward Sunday 28 Mar (above, with Easter), back Sunday 31 Oct.
    ("2027-10-29T16:30:00+01:00", "2027-11-01T09:30:00+00:00"),
    ("2027-10-29T15:30:00+00:00", "2027-11-01T09:30:00+00:00"),
    ("2027-10-31T01:30:00+00:00", "2027-11-01T10:00:00+00:00"),
    ("2027-11-01T07:59:00+00:00", "2027-11-01T10:00:00+00:00"),
    ("2027-11-01T16:00:00+00:00", "2027-11-01T17:00:00+00:00"),
]


@pytest.mark.parametrize(("received", "due"), RESPOND_BY_ROWS)
def test_respond_by_agency(received: str, due: str) -> None:
    assert AGENCY.respond_by(iso(received)).isoformat() == due


# Rows where the 2026-12-29 extra closure is what makes the difference.
PLAIN_GB_ROWS = [
    ("2026-12-24T16:30:00+00:00", "2026-12-29T09:30:00+00:00"),
    ("2026-12-28T10:00:00+00:00", "2026-12-29T10:00:00+00:00"),
    ("2026-12-29T10:00:00+00:00", "2026-12-29T11:00:00+00:00"),
]


@pytest.mark.parametrize(("received", "due"), PLAIN_GB_ROWS)
def test_respond_by_without_extra_closure(received: str, due: str) -> None:
    assert PLAIN_GB.respond_by(iso(received)).isoformat() == due
    assert AGENCY.respond_by(iso(received)).isoformat() != due


NEW_YORK = BusinessCalendar("America/New_York", country="US", subdivision="NY")
SYDNEY = BusinessCalendar("Australia/Sydney", country="AU", subdivision="NSW")
TOKYO_10_18 = BusinessCalendar("Asia/Tokyo", start=time(10), end=time(18), country="JP")
LONDON_8_16 = BusinessCalendar(start=time(8), end=time(16))
LONDON_HALF_HOURS = BusinessCalendar(start=time(8, 30), end=time(12, 45))
SIX_DAY = BusinessCalendar(days=["mon", "tue", "wed", "thu", "fri", "sat"])

OTHER_OFFICE_ROWS = [
    # New York: US clocks go forward Sun 8 Mar 2026; Thanksgiving Thu 26 Nov 2026.
    (NEW_YORK, "2026-03-06T21:30:00+00:00", "2026-03-09T09:30:00-04:00"),
    (NEW_YORK, "2026-03-09T13:30:00+00:00", "2026-03-09T10:30:00-04:00"),  # 09:30 EDT
    (NEW_YORK, "2026-11-25T16:30:00-05:00", "2026-11-27T09:30:00-05:00"),
    (NEW_YORK, "2026-06-10T16:30:00+01:00", "2026-06-10T12:30:00-04:00"),  # London 16:30
    # Sydney: clocks go back Sun 5 Apr 2026 inside the Easter weekend (Fri 3–Mon 6 Apr).
    (SYDNEY, "2026-04-02T16:30:00+11:00", "2026-04-07T09:30:00+10:00"),
    (SYDNEY, "2026-04-02T05:30:00+00:00", "2026-04-07T09:30:00+10:00"),
    # Tokyo office open 10:00–18:00; Fri 20 Mar 2026 is Vernal Equinox Day.
    (TOKYO_10_18, "2026-03-19T17:30:00+09:00", "2026-03-23T10:30:00+09:00"),
    (TOKYO_10_18, "2026-06-10T09:59:00+09:00", "2026-06-10T11:00:00+09:00"),
    (TOKYO_10_18, "2026-06-10T08:00:00+00:00", "2026-06-10T18:00:00+09:00"),  # 17:00 JST
    (TOKYO_10_18, "2026-06-10T09:00:00+00:00", "2026-06-11T11:00:00+09:00"),  # 18:00 JST
    # London, other hours.
    (LONDON_8_16, "2026-06-10T15:30:00+01:00", "2026-06-11T08:30:00+01:00"),
    (LONDON_8_16, "2026-06-10T07:59:00+01:00", "2026-06-10T09:00:00+01:00"),
    (LONDON_HALF_HOURS, "2026-06-10T12:15:00+01:00", "2026-06-11T09:00:00+01:00"),
    (SIX_DAY, "2026-06-12T16:30:00+01:00", "2026-06-13T09:30:00+01:00"),  # Saturday open
    (SIX_DAY, "2026-06-13T16:30:00+01:00", "2026-06-15T09:30:00+01:00"),
]


@pytest.mark.parametrize(("cal", "received", "due"), OTHER_OFFICE_ROWS)
def test_respond_by_other_offices(cal: BusinessCalendar, received: str, due: str) -> None:
    assert cal.respond_by(iso(received)).isoformat() == due


# (instant, in office time?) for the default calendar around both 2026 clock changes.
OFFICE_TIME_ROWS = [
    ("2026-03-27T08:59:59+00:00", False),  # Fri before the change: GMT
    ("2026-03-27T09:00:00+00:00", True),
    ("2026-03-27T16:59:59+00:00", True),
    ("2026-03-27T17:00:00+00:00", False),
    ("2026-03-29T10:00:00+00:00", False),  # the Sunday of the change
    ("2026-03-30T07:59:59+00:00", False),  # Mon after: 08:59:59 BST
    ("2026-03-30T08:00:00+00:00", True),  # 09:00 BST
    ("2026-03-30T08:30:00+00:00", True),
    ("2026-03-30T15:59:59+00:00", True),  # 16:59:59 BST
    ("2026-03-30T16:00:00+00:00", False),  # 17:00 BST
    ("2026-03-30T16:30:00+00:00", False),  # would be open if read as GMT
    ("2026-10-23T08:00:00+00:00", True),  # Fri before: 09:00 BST
    ("2026-10-23T07:59:59+00:00", False),
    ("2026-10-23T16:00:00+00:00", False),  # 17:00 BST
    ("2026-10-25T01:30:00+00:00", False),  # Sunday, second 01:30
    ("2026-10-26T08:30:00+00:00", False),  # Mon after: 08:30 GMT (09:30 in BST)
    ("2026-10-26T09:00:00+00:00", True),
    ("2026-10-26T16:30:00+00:00", True),  # 16:30 GMT (17:30 in BST)
    ("2026-10-26T17:00:00+00:00", False),
    ("2027-03-29T09:30:00+01:00", False),  # Easter Monday
    ("2027-03-30T08:00:00+00:00", True),  # Tue after Easter, 09:00 BST
    ("2026-12-28T12:00:00+00:00", False),  # substitute Boxing Day
    ("2026-12-29T12:00:00+00:00", True),  # the plain GB calendar is open on the 29th
]


@pytest.mark.parametrize(("at", "expected"), OFFICE_TIME_ROWS)
def test_is_office_time(at: str, expected: bool) -> None:
    assert PLAIN_GB.is_office_time(iso(at)) is expected


WORKING_DAY_ROWS = [
    (date(2026, 12, 24), True, None),
    (date(2026, 12, 25), False, "Christmas Day"),
    (date(2026, 12, 26), False, "Boxing Day"),  # a Saturday, named all the same
    (date(2026, 12, 27), False, None),  # a plain Sunday
    (date(2026, 12, 28), False, "Boxing Day (observed)"),
    (date(2026, 12, 29), False, EXTRA_CLOSURE_NAME),
    (date(2026, 12, 30), True, None),
    (date(2027, 3, 26), False, "Good Friday"),
    (date(2027, 3, 29), False, "Easter Monday"),
    (date(2027, 5, 3), False, "May Day"),
    (date(2027, 5, 31), False, "Spring Bank Holiday"),
    (date(2027, 8, 30), False, "Late Summer Bank Holiday"),
    (date(2027, 12, 27), False, "Christmas Day (observed)"),
    (date(2027, 12, 28), False, "Boxing Day (observed)"),
    (date(2028, 1, 3), False, "New Year's Day (observed)"),
    (date(2028, 1, 4), True, None),
]


@pytest.mark.parametrize(("d", "working", "name"), WORKING_DAY_ROWS)
def test_working_days_and_holiday_names(d: date, working: bool, name: str | None) -> None:
    assert AGENCY.is_working_day(d) is working
    assert AGENCY.holiday_name(d) == name


# (at, next office start, end of that office period) on the agency calendar.
PERIOD_ROWS = [
    ("2026-06-10T12:00:00+01:00", "2026-06-10T12:00:00+01:00", "2026-06-10T17:00:00+01:00"),
    ("2026-06-10T09:00:00+01:00", "2026-06-10T09:00:00+01:00", "2026-06-10T17:00:00+01:00"),
    ("2026-06-10T08:59:00+01:00", "2026-06-10T09:00:00+01:00", "2026-06-10T17:00:00+01:00"),
    ("2026-06-10T17:00:00+01:00", "2026-06-11T09:00:00+01:00", "2026-06-11T17:00:00+01:00"),
    ("2026-06-12T18:00:00+01:00", "2026-06-15T09:00:00+01:00", "2026-06-15T17:00:00+01:00"),
    ("2026-12-24T17:00:00+00:00", "2026-12-30T09:00:00+00:00", "2026-12-30T17:00:00+00:00"),
    ("2026-03-28T12:00:00+00:00", "2026-03-30T09:00:00+01:00", "2026-03-30T17:00:00+01:00"),
    ("2026-10-24T12:00:00+01:00", "2026-10-26T09:00:00+00:00", "2026-10-26T17:00:00+00:00"),
]


@pytest.mark.parametrize(("at", "start", "end"), PERIOD_ROWS)
def test_next_office_start_and_period_end(at: str, start: str, end: str) -> None:
    assert AGENCY.next_office_start(iso(at)).isoformat() == start
    assert AGENCY.office_period_end(iso(at)).isoformat() == end


# (start, working time to add, result) — long spans cross weekends, holidays and clock changes.
ADD_ROWS = [
    ("2026-06-10T10:00:00+01:00", timedelta(0), "2026-06-10T10:00:00+01:00"),
    ("2026-06-10T18:00:00+01:00", timedelta(0), "2026-06-11T09:00:00+01:00"),
    ("2026-06-10T10:00:00+01:00", timedelta(hours=7), "2026-06-10T17:00:00+01:00"),
    ("2026-06-10T10:00:00+01:00", timedelta(hours=8), "2026-06-11T10:00:00+01:00"),
    ("2026-06-08T09:00:00+01:00", timedelta(hours=40), "2026-06-12T17:00:00+01:00"),  # a week
    ("2026-06-08T09:00:00+01:00", timedelta(hours=41), "2026-06-15T10:00:00+01:00"),
    # Christmas 2026: 23rd, 24th, then closed until the 30th; 31st; then 4 Jan 2027.
    ("2026-12-23T09:00:00+00:00", timedelta(hours=24), "2026-12-30T17:00:00+00:00"),
    ("2026-12-23T09:00:00+00:00", timedelta(hours=32), "2026-12-31T17:00:00+00:00"),
    ("2026-12-23T09:00:00+00:00", timedelta(hours=33), "2027-01-04T10:00:00+00:00"),
    ("2026-03-27T13:00:00+00:00", timedelta(hours=4, minutes=30), "2026-03-30T09:30:00+01:00"),
    ("2026-10-23T13:00:00+01:00", timedelta(hours=12), "2026-10-26T17:00:00+00:00"),
]


@pytest.mark.parametrize(("start", "delta", "result"), ADD_ROWS)
def test_add_working_time(start: str, delta: timedelta, result: str) -> None:
    got = AGENCY.add_working_time(iso(start), delta)
    assert got.isoformat() == result
    if delta:
        assert AGENCY.working_time_between(iso(start), got) == delta


BETWEEN_ROWS = [
    ("2026-06-10T10:00:00+01:00", "2026-06-10T09:00:00+01:00", timedelta(0)),  # reversed
    ("2026-06-10T18:00:00+01:00", "2026-06-11T08:00:00+01:00", timedelta(0)),
    ("2026-06-10T16:30:00+01:00", "2026-06-11T09:30:00+01:00", timedelta(hours=1)),
    ("2026-06-12T00:00:00+01:00", "2026-06-15T00:00:00+01:00", timedelta(hours=8)),
    # 24 Dec, 30 Dec, 31 Dec, 4 Jan.
    ("2026-12-24T00:00:00+00:00", "2027-01-05T00:00:00+00:00", timedelta(hours=32)),
]


@pytest.mark.parametrize(("a", "b", "expected"), BETWEEN_ROWS)
def test_working_time_between(a: str, b: str, expected: timedelta) -> None:
    assert AGENCY.working_time_between(iso(a), iso(b)) == expected


def test_office_hours_inside_a_clock_change_count_real_time() -> None:
    """Havana moves its clocks at midnight (00:00 -> 01:00 on Sun 8 Mar 2026). An office open
    00:00–08:00 every day therefore has 7 real hours that day; the start that does not exist is
    read just after the gap."""
    cal = BusinessCalendar(
        "America/Havana", days=range(7), start=time(0), end=time(8), country=None
    )
    day_start = iso("2026-03-08T05:00:00+00:00")  # 00:00 CST == 01:00 CDT
    assert cal.next_office_start(iso("2026-03-08T04:00:00+00:00")) == day_start
    assert cal.office_period_end(day_start).isoformat() == "2026-03-08T08:00:00-04:00"
    assert cal.add_working_time(day_start, timedelta(hours=7)).isoformat() == (
        "2026-03-08T08:00:00-04:00"
    )
    assert cal.add_working_time(day_start, timedelta(hours=7, minutes=30)).isoformat() == (
        "2026-03-09T00:30:00-04:00"
    )
    assert cal.working_time_between(day_start, iso("2026-03-09T00:00:00-04:00")) == timedelta(
        hours=7
    )


def test_from_agency_uses_every_config_field() -> None:
    agency = Agency(
        name="Collective",
        timezone="Europe/Berlin",
        office_hours=OfficeHours(days=("mon", "tue", "wed", "thu"), start=time(8), end=time(16)),
        holidays=HolidaysConfig(country="DE", subdivision="BY", extra=(date(2026, 6, 10),)),
    )
    cal = BusinessCalendar.from_agency(agency)
    assert cal.zone == ZoneInfo("Europe/Berlin")
    assert cal.days == frozenset({0, 1, 2, 3})
    assert not cal.is_working_day(date(2026, 6, 12))  # a Friday: not an office day here
    assert not cal.is_working_day(date(2026, 6, 4))  # Corpus Christi in Bavaria
    assert cal.holiday_name(date(2026, 6, 10)) == EXTRA_CLOSURE_NAME
    # Tue 9 Jun 15:30 CEST: 30 min left; Wed closed; Thu 11th 08:30.
    assert cal.respond_by(iso("2026-06-09T15:30:00+02:00")).isoformat() == (
        "2026-06-11T08:30:00+02:00"
    )


def test_agency_calendar_is_built_once_per_configuration() -> None:
    """Every part asks :func:`agency_calendar`; an equal agency (a reload that did not change
    it) gets the same calendar, another agency its own."""
    london = agency_calendar(Agency(name="Collective"))
    assert agency_calendar(Agency(name="Collective")) is london
    assert repr(london) == repr(BusinessCalendar.from_agency(Agency(name="Collective")))
    berlin = agency_calendar(Agency(name="Collective", timezone="Europe/Berlin"))
    assert berlin is not london
    assert berlin.zone == ZoneInfo("Europe/Berlin")


def test_from_agency_defaults_match_the_default_calendar() -> None:
    cal = BusinessCalendar.from_agency(Agency(name="Collective"))
    assert (cal.zone, cal.days, cal.start, cal.end, cal.extra) == (
        LONDON,
        frozenset(range(5)),
        time(9),
        time(17),
        frozenset(),
    )
    for received, due in PLAIN_GB_ROWS:
        assert cal.respond_by(iso(received)).isoformat() == due


def test_no_country_means_only_extra_closures() -> None:
    cal = BusinessCalendar(country=None, extra=[date(2026, 12, 24)])
    assert cal.is_working_day(date(2026, 12, 25))
    assert not cal.is_working_day(date(2026, 12, 24))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zone": "Europe/Londres"}, "not a time zone"),
        ({"days": []}, "days is empty"),
        ({"days": ["mon", "funday"]}, "not a weekday"),
        ({"days": [7]}, "out of range"),
        ({"start": time(17), "end": time(9)}, "not after start"),
        ({"start": time(9), "end": time(9)}, "not after start"),
        ({"country": "XX"}, "not a known country"),
        ({"country": "GB", "subdivision": "XYZ"}, "GB/XYZ"),
    ],
)
def test_bad_calendar_settings_say_what_to_do(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 6, 10, 12)
    for call in (
        AGENCY.is_office_time,
        AGENCY.next_office_start,
        AGENCY.office_period_end,
        AGENCY.respond_by,
    ):
        with pytest.raises(CalendarError, match="no time zone"):
            call(naive)


def test_negative_working_time_is_refused() -> None:
    with pytest.raises(CalendarError, match="negative"):
        AGENCY.add_working_time(iso("2026-06-10T12:00:00+01:00"), timedelta(seconds=-1))


def test_a_calendar_with_no_working_day_fails_instead_of_hanging() -> None:
    closed = BusinessCalendar(
        days=["sat"],
        country=None,
        extra=[date(2026, 1, 3) + timedelta(weeks=w) for w in range(600)],
    )
    with pytest.raises(CalendarError, match="no working day"):
        closed.respond_by(iso("2026-01-01T12:00:00+00:00"))


@pytest.mark.parametrize(
    ("name", "number"),
    [("mon", 0), ("Tue", 1), ("wednesday", 2), ("THU", 3), (" fri ", 4), ("sat", 5), (6, 6)],
)
def test_parse_weekday(name: str | int, number: int) -> None:
    assert parse_weekday(name) == number


def test_holiday_years_are_computed_once() -> None:
    cal = BusinessCalendar()
    assert cal.holiday_name(date(2030, 12, 25)) == "Christmas Day"
    table = cal._holidays(2030)
    assert cal._holidays(2030) is table


# ------------------------------------------------------------------ properties

CALENDARS = [AGENCY, NEW_YORK, SYDNEY, TOKYO_10_18, LONDON_HALF_HOURS, SIX_DAY]
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(cal=st.sampled_from(CALENDARS), received=instants)
def test_respond_by_is_in_office_time_and_not_before_receipt(
    cal: BusinessCalendar, received: datetime
) -> None:
    due = cal.respond_by(received)
    assert due >= received
    assert due.tzinfo is cal.zone
    # In office time, or exactly the end of the period it finished in.
    just_before = due - timedelta(microseconds=1)
    assert cal.is_office_time(due) or (
        cal.is_office_time(just_before) and cal.office_period_end(just_before) == due
    )
    assert cal.working_time_between(received, due) == timedelta(hours=1)
    # Never more than a fortnight away for a calendar with a working day every week.
    assert due - received < timedelta(days=14)


@settings(max_examples=200, deadline=None)
@given(cal=st.sampled_from(CALENDARS), at=instants)
def test_next_office_start_is_the_first_office_instant(cal: BusinessCalendar, at: datetime) -> None:
    start = cal.next_office_start(at)
    assert start >= at
    assert cal.is_office_time(start)
    assert cal.is_office_time(at) == (start == at)
    if start != at:
        # Nothing between at and start is office time.
        assert cal.working_time_between(at, start) == timedelta(0)
        assert cal.next_office_start(start - timedelta(microseconds=1)) == start
