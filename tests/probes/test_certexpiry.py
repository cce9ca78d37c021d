"""The one rule for a certificate's days left: floor((not_after − now) / 1 day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitord import certexpiry

T0 = datetime(2026, 12, 6, 10, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("left", "days", "words"),
    [
        (timedelta(days=40), 40, "40 days"),
        (timedelta(days=4, hours=23, minutes=59), 4, "4 days"),  # not 5 (round) — floor
        (timedelta(days=9, hours=12), 9, "9 days"),  # not 10 (round to .0f) — floor
        (timedelta(days=1), 1, "1 day"),
        (timedelta(hours=23, minutes=59), 0, "23 hours"),
        (timedelta(hours=1), 0, "1 hour"),
        (timedelta(minutes=59, seconds=59), 0, "59 minutes"),
        (timedelta(0), 0, "0 minutes"),
        (-timedelta(seconds=1), -1, "0 minutes"),  # expired: negative from the first second
        (-timedelta(days=2, hours=1), -3, "0 minutes"),
    ],
)
def test_days_left_table(left: timedelta, days: int, words: str) -> None:
    assert certexpiry.days_left(T0 + left, T0) == days
    assert certexpiry.time_left(T0 + left, T0) == words


@pytest.mark.parametrize(
    ("ago", "days", "words"),
    [
        (timedelta(hours=5), 0, "5 hours"),
        (timedelta(days=2, hours=1), 2, "2 days"),
        (timedelta(days=1), 1, "1 day"),
    ],
)
def test_days_ago_table(ago: timedelta, days: int, words: str) -> None:
    assert certexpiry.days_ago(T0 - ago, T0) == days
    assert certexpiry.time_since(T0 - ago, T0) == words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-10T12:00:00+00:00", datetime(2026, 12, 10, 12, tzinfo=UTC)),
        ("2026-12-10T12:00:00", datetime(2026, 12, 10, 12, tzinfo=UTC)),  # naive is UTC
        ("not a date", None),
        (None, None),
        (12, None),
    ],
)
def test_not_after_of(raw: object, expected: datetime | None) -> None:
    assert certexpiry.not_after_of({"cert_not_after": raw}) == expected
