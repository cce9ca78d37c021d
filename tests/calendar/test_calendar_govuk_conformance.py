"""Conformance: the ``holidays`` package agrees with GOV.UK's England-and-Wales bank holidays.

Reads ``../shared/data/uk-bank-holidays.govuk.json`` (GOV.UK's own source data; found through
``$MONITORD_SHARED_DATA`` or next to the checkout) and skips when it is absent.

GOV.UK lists the days that are bank holidays (a substitute Monday/Tuesday when the day falls on a
weekend); the ``holidays`` package also lists the weekend day itself (Boxing Day on Saturday
26 Dec 2026, and so on). Weekend days are never working days, so the business calendar compares
weekday dates, and the weekend-only extras are listed and checked to be exactly those days.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path

import pytest

from monitord.calendar import BusinessCalendar

pytestmark = pytest.mark.conformance

FILE = "uk-bank-holidays.govuk.json"
DIVISION = "common.nations.england-and-wales_slug"


def shared_file() -> Path | None:
    candidates = []
    env = os.environ.get("MONITORD_SHARED_DATA")
    if env:
        candidates += [Path(env) / FILE, Path(env) / "data" / FILE]
    candidates.append(Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / FILE)
    return next((p for p in candidates if p.is_file()), None)


def govuk_england_and_wales() -> dict[int, dict[date, str]]:
    path = shared_file()
    if path is None:
        pytest.skip(f"{FILE} not found (set MONITORD_SHARED_DATA to the shared data folder)")
    data = json.loads(path.read_text(encoding="utf-8"))
    division = data["divisions"][DIVISION]
    years: dict[int, dict[date, str]] = {}
    for key, events in division.items():
        if not key.isdigit():
            continue  # "slug", "title"
        years[int(key)] = {
            datetime.strptime(e["date"], "%d/%m/%Y").date(): e["title"] for e in events
        }
    return years


# What the holidays package lists beyond GOV.UK: the weekend day a holiday falls on, whose
# weekday substitute both sources list. Written out by hand; a change here is a real change.
EXPECTED_WEEKEND_EXTRAS = {
    date(2020, 12, 26),  # Boxing Day, Sat -> Mon 28th
    date(2021, 12, 25),  # Christmas Day, Sat -> Mon 27th
    date(2021, 12, 26),  # Boxing Day, Sun -> Tue 28th
    date(2022, 1, 1),  # New Year's Day, Sat -> Mon 3rd
    date(2022, 12, 25),  # Christmas Day, Sun -> Tue 27th
    date(2023, 1, 1),  # New Year's Day, Sun -> Mon 2nd
    date(2026, 12, 26),  # Boxing Day, Sat -> Mon 28th
    date(2027, 12, 25),  # Christmas Day, Sat -> Mon 27th
    date(2027, 12, 26),  # Boxing Day, Sun -> Tue 28th
    date(2028, 1, 1),  # New Year's Day, Sat -> Mon 3rd
}


def test_holidays_package_agrees_with_govuk() -> None:
    govuk = govuk_england_and_wales()
    assert len(govuk) >= 5, "expected several years of GOV.UK data"
    cal = BusinessCalendar()  # GB / ENG
    missing: list[str] = []  # GOV.UK bank holidays the calendar would treat as working days
    extra_weekday: list[str] = []  # weekdays the calendar closes that GOV.UK does not list
    extra_weekend: set[date] = set()
    for year, days in sorted(govuk.items()):
        for d, title in sorted(days.items()):
            if cal.is_working_day(d) or cal.holiday_name(d) is None:
                missing.append(f"{d} {title}")
        for d in _all_days(year):
            name = cal.holiday_name(d)
            if name is None or d in days:
                continue
            if d.weekday() >= 5:
                extra_weekend.add(d)
            else:
                extra_weekday.append(f"{d} {name}")
    assert missing == [], f"GOV.UK bank holidays the calendar misses: {missing}"
    assert extra_weekday == [], f"weekday holidays GOV.UK does not list: {extra_weekday}"
    covered = {d for d in EXPECTED_WEEKEND_EXTRAS if d.year in govuk}
    assert extra_weekend == covered, (
        f"weekend-only differences changed: new {sorted(extra_weekend - covered)}, "
        f"gone {sorted(covered - extra_weekend)}"
    )


def test_govuk_substitute_days_are_closed_and_named_observed() -> None:
    path = shared_file()
    if path is None:
        pytest.skip(f"{FILE} not found")
    division = json.loads(path.read_text(encoding="utf-8"))["divisions"][DIVISION]
    substitutes = [
        datetime.strptime(e["date"], "%d/%m/%Y").date()
        for key, events in division.items()
        if key.isdigit()
        for e in events
        if "substitute" in e["notes"]
    ]
    assert len(substitutes) >= 5, "expected substitute days in GOV.UK's data"
    cal = BusinessCalendar()
    for d in substitutes:
        assert d.weekday() < 5
        assert not cal.is_working_day(d), d
        assert "observed" in (cal.holiday_name(d) or ""), (d, cal.holiday_name(d))


def _all_days(year: int) -> list[date]:
    start = date(year, 1, 1).toordinal()
    end = date(year, 12, 31).toordinal()
    return [date.fromordinal(n) for n in range(start, end + 1)]
