"""The hourly roll-up arithmetic: a result's interval attributed to hours, maintenance out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitord.report.rollup import Slice, attribute, availability, daily, merge

LONDON = ZoneInfo("Europe/London")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def secs(slices: list[Slice]) -> list[tuple[str, float, float, float, int]]:
    return [(f"{s.hour:%H}", s.up, s.down, s.maintenance, s.probes) for s in slices]


@pytest.mark.parametrize(
    ("at", "interval", "ok", "maint", "expected"),
    [
        # inside one hour
        (utc(2026, 3, 2, 10, 0), 60, True, [], [("10", 60, 0, 0, 1)]),
        (utc(2026, 3, 2, 10, 59), 60, False, [], [("10", 0, 60, 0, 1)]),
        # across an hour boundary: 30 s each side, the probe counted where it was taken
        (utc(2026, 3, 2, 10, 59, 30), 60, True, [], [("10", 30, 0, 0, 1), ("11", 30, 0, 0, 0)]),
        # a long interval spans several hours
        (
            utc(2026, 3, 2, 10, 30),
            7200,
            False,
            [],
            [("10", 0, 1800, 0, 1), ("11", 0, 3600, 0, 0), ("12", 0, 1800, 0, 0)],
        ),
        # maintenance covers part of the interval: that part is neither up nor down
        (
            utc(2026, 3, 2, 10, 0),
            300,
            False,
            [(utc(2026, 3, 2, 10, 2), utc(2026, 3, 2, 11, 0))],
            [("10", 0, 120, 180, 1)],
        ),
        # all of it in maintenance
        (
            utc(2026, 3, 2, 10, 0),
            300,
            True,
            [(utc(2026, 3, 2, 9, 0), utc(2026, 3, 2, 12, 0))],
            [("10", 0, 0, 300, 1)],
        ),
        # overlapping windows are counted once
        (
            utc(2026, 3, 2, 10, 0),
            600,
            True,
            [
                (utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 10, 5)),
                (utc(2026, 3, 2, 10, 3), utc(2026, 3, 2, 10, 6)),
            ],
            [("10", 240, 0, 360, 1)],
        ),
        # a window that ends before the result is ignored
        (
            utc(2026, 3, 2, 10, 0),
            60,
            True,
            [(utc(2026, 3, 2, 8, 0), utc(2026, 3, 2, 9, 0))],
            [("10", 60, 0, 0, 1)],
        ),
        # an aware local time is put in its UTC hour (BST: 11:00 local is 10:00 UTC)
        (
            datetime(2026, 6, 1, 11, 0, tzinfo=LONDON),
            60,
            True,
            [],
            [("10", 60, 0, 0, 1)],
        ),
    ],
)
def test_attribute(
    at: datetime,
    interval: int,
    ok: bool,
    maint: list[tuple[datetime, datetime]],
    expected: list[tuple[str, float, float, float, int]],
) -> None:
    assert secs(attribute(at, timedelta(seconds=interval), ok, maint)) == expected


def _day_of_results(day: date, zone: ZoneInfo, down: frozenset[int] = frozenset()) -> list[Slice]:
    """A result a minute for the whole local ``day``; the minutes listed in ``down`` fail."""
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    out: list[Slice] = []
    t, i = start, 0
    while t < end:
        out += attribute(t, timedelta(minutes=1), i not in down)
        t += timedelta(minutes=1)
        i += 1
    return list(merge(("k", s) for s in out).values())


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 3, 28), 24),
        (date(2026, 3, 29), 23),  # clocks go forward in London
        (date(2026, 10, 25), 25),  # clocks go back
    ],
)
def test_dst_days_have_their_real_length(day: date, hours: int) -> None:
    slices = _day_of_results(day, LONDON)
    assert len(slices) == hours
    per_day = daily(slices, LONDON)
    assert list(per_day) == [day]
    assert per_day[day].up == hours * 3600
    assert per_day[day].percent == 100.0


def test_availability_excludes_maintenance_and_counts_down() -> None:
    slices = _day_of_results(date(2026, 10, 25), LONDON, down=frozenset(range(15)))
    a = availability(slices)
    assert a.down == 15 * 60
    assert a.percent == pytest.approx(100 * (25 * 60 - 15) / (25 * 60))
    assert availability([Slice(utc(2026, 1, 1), maintenance=3600)]).percent is None


def test_merge_sums_per_check_and_hour() -> None:
    a = attribute(utc(2026, 3, 2, 10, 0), timedelta(minutes=1), True)
    b = attribute(utc(2026, 3, 2, 10, 1), timedelta(minutes=1), False)
    merged = merge([("k", a[0]), ("k", b[0]), ("j", a[0])])
    assert merged[("k", utc(2026, 3, 2, 10))] == Slice(utc(2026, 3, 2, 10), 60, 60, 0, 2)
    assert merged[("j", utc(2026, 3, 2, 10))].probes == 1
