"""Time windows for routing and maintenance: recurring, crossing midnight, dated, one-off."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.calendar import AnyWindow, CalendarError, OneOffWindow, TimeWindow, Window

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]

NIGHTS = TimeWindow(WEEKDAYS, "22:00", "06:00", "Europe/London")
ONE_TO_TWO = TimeWindow(None, time(1), time(2), "Europe/London")
SATURDAYS = TimeWindow(["sat"], zone="Europe/London")  # 00:00–00:00: the whole day
SUNDAYS = TimeWindow(["sun"], "00:00", "00:00", "Europe/London")
CHRISTMAS_NIGHTS = TimeWindow(
    None,
    "17:00",
    "09:00",
    "Europe/London",
    dates=[date(2026, 12, 24), (date(2026, 12, 27), date(2026, 12, 31))],
)
JUNE_MONDAYS = TimeWindow(
    ["mon"], "10:00", "12:00", "UTC", dates=[(date(2026, 6, 1), date(2026, 6, 30))]
)
NY_OFFICE = TimeWindow(WEEKDAYS, "09:00", "17:00", "America/New_York")

# (window, instant, inside?)
CONTAINS_ROWS = [
    # Weeknights 22:00–06:00; June 2026 is BST. Mon 8th .. Sun 14th.
    (NIGHTS, "2026-06-08T21:59:59+01:00", False),
    (NIGHTS, "2026-06-08T22:00:00+01:00", True),
    (NIGHTS, "2026-06-08T23:30:00+01:00", True),
    (NIGHTS, "2026-06-09T00:00:00+01:00", True),  # opened Monday
    (NIGHTS, "2026-06-09T05:59:59+01:00", True),
    (NIGHTS, "2026-06-09T06:00:00+01:00", False),
    (NIGHTS, "2026-06-09T12:00:00+01:00", False),
    (NIGHTS, "2026-06-13T05:00:00+01:00", True),  # Saturday morning: Friday's night
    (NIGHTS, "2026-06-13T23:00:00+01:00", False),  # Saturday night: not a listed day
    (NIGHTS, "2026-06-14T05:00:00+01:00", False),
    (NIGHTS, "2026-06-15T05:00:00+01:00", False),  # Monday morning: Sunday's night
    (NIGHTS, "2026-06-15T21:30:00+00:00", True),  # 22:30 BST given in UTC
    (NIGHTS, "2026-06-15T21:30:00+01:00", False),
    # 01:00–02:00 every day, across both 2026 clock changes.
    (ONE_TO_TWO, "2026-03-29T00:30:00+00:00", False),  # 00:30 GMT
    (ONE_TO_TWO, "2026-03-29T01:00:00+00:00", False),  # 02:00 BST: 01:xx never happened
    (ONE_TO_TWO, "2026-03-30T00:30:00+00:00", True),  # 01:30 BST next day
    (ONE_TO_TWO, "2026-10-25T00:00:00+00:00", True),  # 01:00 BST
    (ONE_TO_TWO, "2026-10-25T00:30:00+00:00", True),  # 01:30 BST
    (ONE_TO_TWO, "2026-10-25T01:30:00+00:00", True),  # 01:30 GMT: the second time
    (ONE_TO_TWO, "2026-10-25T02:00:00+00:00", False),  # 02:00 GMT
    # Whole Saturdays.
    (SATURDAYS, "2026-06-12T23:59:59+01:00", False),
    (SATURDAYS, "2026-06-13T00:00:00+01:00", True),
    (SATURDAYS, "2026-06-13T23:59:59+01:00", True),
    (SATURDAYS, "2026-06-14T00:00:00+01:00", False),
    (SATURDAYS, "2026-06-13T23:30:00+00:00", False),  # 00:30 BST on Sunday
    # Dated nights over Christmas 2026 (GMT).
    (CHRISTMAS_NIGHTS, "2026-12-24T16:59:00+00:00", False),
    (CHRISTMAS_NIGHTS, "2026-12-24T18:00:00+00:00", True),
    (CHRISTMAS_NIGHTS, "2026-12-25T08:59:00+00:00", True),  # opened on the 24th
    (CHRISTMAS_NIGHTS, "2026-12-25T18:00:00+00:00", False),  # the 25th is not listed
    (CHRISTMAS_NIGHTS, "2026-12-26T08:00:00+00:00", False),
    (CHRISTMAS_NIGHTS, "2026-12-27T20:00:00+00:00", True),  # range start
    (CHRISTMAS_NIGHTS, "2026-12-31T20:00:00+00:00", True),  # range end
    (CHRISTMAS_NIGHTS, "2027-01-01T08:00:00+00:00", True),  # the 31st's night
    (CHRISTMAS_NIGHTS, "2027-01-01T18:00:00+00:00", False),
    # Days and dates together: Mondays in June 2026, 10:00–12:00 UTC.
    (JUNE_MONDAYS, "2026-06-08T10:30:00+00:00", True),
    (JUNE_MONDAYS, "2026-06-29T11:59:59+00:00", True),
    (JUNE_MONDAYS, "2026-06-09T10:30:00+00:00", False),  # Tuesday
    (JUNE_MONDAYS, "2026-07-06T10:30:00+00:00", False),  # July
    (JUNE_MONDAYS, "2026-06-08T12:00:00+00:00", False),
    # Another zone's office hours, across the US clock change (Sun 8 Mar 2026).
    (NY_OFFICE, "2026-03-06T13:30:00+00:00", False),  # 08:30 EST
    (NY_OFFICE, "2026-03-06T14:30:00+00:00", True),  # 09:30 EST
    (NY_OFFICE, "2026-03-09T13:30:00+00:00", True),  # 09:30 EDT
    (NY_OFFICE, "2026-03-09T21:30:00+00:00", False),  # 17:30 EDT
    (NY_OFFICE, "2026-03-06T21:30:00+00:00", True),  # 16:30 EST
    (NY_OFFICE, "2026-03-06T22:00:00+00:00", False),  # 17:00 EST
]


@pytest.mark.parametrize(("window", "at", "expected"), CONTAINS_ROWS)
def test_contains(window: TimeWindow, at: str, expected: bool) -> None:
    assert window.contains(datetime.fromisoformat(at)) is expected


# (window, instant, UTC start and end of the occurrence containing it)
OCCURRENCE_ROWS = [
    (
        NIGHTS,
        "2026-06-09T03:00:00+01:00",
        ("2026-06-08T21:00:00+00:00", "2026-06-09T05:00:00+00:00"),
    ),
    # Friday night 23 Oct 2026 is BST, Saturday morning too: 8 h.
    (
        NIGHTS,
        "2026-10-24T01:00:00+01:00",
        ("2026-10-23T21:00:00+00:00", "2026-10-24T05:00:00+00:00"),
    ),
    # 01:00 BST to 02:00 GMT on 25 Oct 2026: two real hours.
    (
        ONE_TO_TWO,
        "2026-10-25T01:30:00+00:00",
        ("2026-10-25T00:00:00+00:00", "2026-10-25T02:00:00+00:00"),
    ),
    (
        SATURDAYS,
        "2026-03-28T12:00:00+00:00",
        ("2026-03-28T00:00:00+00:00", "2026-03-29T00:00:00+00:00"),
    ),
    # Saturday 24 Oct 2026 is all BST: 24 hours; Sunday the 25th (clocks back) runs 25 hours.
    (
        SATURDAYS,
        "2026-10-24T12:00:00+00:00",
        ("2026-10-23T23:00:00+00:00", "2026-10-24T23:00:00+00:00"),
    ),
    (
        SUNDAYS,
        "2026-10-25T12:00:00+00:00",
        ("2026-10-24T23:00:00+00:00", "2026-10-26T00:00:00+00:00"),
    ),
    # Sunday 29 Mar 2026 (clocks forward) runs 23 hours.
    (
        SUNDAYS,
        "2026-03-29T12:00:00+00:00",
        ("2026-03-29T00:00:00+00:00", "2026-03-29T23:00:00+00:00"),
    ),
    (
        CHRISTMAS_NIGHTS,
        "2026-12-25T02:00:00+00:00",
        ("2026-12-24T17:00:00+00:00", "2026-12-25T09:00:00+00:00"),
    ),
]


@pytest.mark.parametrize(("window", "at", "span"), OCCURRENCE_ROWS)
def test_occurrence(window: TimeWindow, at: str, span: tuple[str, str]) -> None:
    got = window.occurrence(datetime.fromisoformat(at))
    assert got is not None
    assert (got[0].isoformat(), got[1].isoformat()) == span


def test_occurrence_outside_is_none() -> None:
    assert NIGHTS.occurrence(datetime(2026, 6, 9, 12, tzinfo=UTC)) is None


HOLIDAY_COVER = OneOffWindow.parse("2026-12-24T17:00", "2026-12-29T09:00", "Europe/London")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-12-24T16:59:59+00:00", False),
        ("2026-12-24T17:00:00+00:00", True),
        ("2026-12-27T03:00:00+00:00", True),
        ("2026-12-29T08:59:59+00:00", True),
        ("2026-12-29T09:00:00+00:00", False),
        ("2026-12-24T12:00:00-05:00", True),  # 17:00 GMT from New York
    ],
)
def test_one_off_window(at: str, expected: bool) -> None:
    assert HOLIDAY_COVER.contains(datetime.fromisoformat(at)) is expected


def test_one_off_window_reads_naive_values_in_its_zone_and_keeps_offsets() -> None:
    summer = OneOffWindow.parse("2026-07-01T09:00", "2026-07-01T10:00+00:00", "Europe/London")
    assert summer.start == datetime(2026, 7, 1, 8, tzinfo=UTC)  # 09:00 BST
    assert summer.end == datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert summer.occurrence(datetime(2026, 7, 1, 9, tzinfo=UTC)) == (summer.start, summer.end)
    assert summer.occurrence(datetime(2026, 7, 1, 10, tzinfo=UTC)) is None


def test_any_window_is_the_union() -> None:
    cover = AnyWindow((NIGHTS, SATURDAYS, HOLIDAY_COVER))
    assert isinstance(cover, Window)
    assert cover.contains(datetime.fromisoformat("2026-06-09T03:00:00+01:00"))  # a night
    assert cover.contains(datetime.fromisoformat("2026-06-13T12:00:00+01:00"))  # a Saturday
    assert cover.contains(datetime.fromisoformat("2026-12-28T12:00:00+00:00"))  # one-off
    assert not cover.contains(datetime.fromisoformat("2026-06-10T12:00:00+01:00"))
    # Saturday 00:00–06:00 is in both Friday's night and Saturday: the span covers both.
    span = cover.occurrence(datetime.fromisoformat("2026-06-13T03:00:00+01:00"))
    assert span is not None
    assert (span[0].isoformat(), span[1].isoformat()) == (
        "2026-06-12T21:00:00+00:00",
        "2026-06-13T23:00:00+00:00",
    )
    assert cover.occurrence(datetime.fromisoformat("2026-06-10T12:00:00+01:00")) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TimeWindow([], "09:00", "17:00"), "no days"),
        (lambda: TimeWindow(["mon"], "25:00", "17:00"), "not a time of day"),
        (lambda: TimeWindow(["mon"], "09:00", "5pm"), "not a time of day"),
        (lambda: TimeWindow(["moon"]), "not a weekday"),
        (lambda: TimeWindow(zone="Mars/Olympus"), "not a time zone"),
        (lambda: TimeWindow(dates=[]), "empty date list"),
        (lambda: TimeWindow(dates=[(date(2026, 2, 1), date(2026, 1, 1))]), "swap"),
        (lambda: OneOffWindow.parse("2026-12-29T09:00", "2026-12-24T17:00"), "after `from`"),
        (lambda: OneOffWindow.parse("christmas", "2026-12-24T17:00"), "not a date-time"),
        (lambda: OneOffWindow(datetime(2026, 1, 1), datetime(2026, 1, 2)), "no time zone"),
    ],
)
def test_bad_windows_say_what_to_do(make: object, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        make()  # type: ignore[operator]


def test_naive_instants_are_refused() -> None:
    with pytest.raises(CalendarError, match="no time zone"):
        NIGHTS.contains(datetime(2026, 6, 9, 3))


# ------------------------------------------------------------------ properties

ZONES = ["Europe/London", "America/New_York", "America/Havana", "Australia/Sydney", "UTC"]
quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@settings(max_examples=300, deadline=None)
@given(
    days=st.sets(st.integers(0, 6), min_size=1),
    start=quarter_hours,
    end=quarter_hours,
    zone=st.sampled_from(ZONES),
    at=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
)
def test_occurrence_agrees_with_contains(
    days: set[int], start: time, end: time, zone: str, at: datetime
) -> None:
    window = TimeWindow(days, start, end, zone)
    span = window.occurrence(at)
    assert window.contains(at) == (span is not None)
    if span is not None:
        opened, closed = span
        assert opened <= at < closed
        assert closed - opened <= timedelta(hours=25)
        assert window.contains(opened)
        local_open = opened.astimezone(ZoneInfo(zone))
        if local_open.time() == start:  # (not when ``start`` falls in a spring-forward gap)
            assert local_open.weekday() in days
