"""poll_interval: a table over the Wednesday release window, PSA windows and the run-up to both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitord.drupal.fetch import in_release_window, poll_interval

NORMAL = timedelta(minutes=15)
FAST = timedelta(minutes=2)
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def u(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


# 2026-10-21 is a Wednesday; 2026-10-25 is the end of British Summer Time.
PSA = (u(2026, 10, 23, 17), u(2026, 10, 23, 21))  # a Friday window a PSA announced


@pytest.mark.parametrize(
    ("now", "windows", "expected"),
    [
        # the Wednesday window, 16:00 inclusive to 22:00 exclusive (UTC)
        (u(2026, 10, 21, 16, 0), [], FAST),
        (u(2026, 10, 21, 17, 30), [], FAST),
        (u(2026, 10, 21, 21, 59, 59), [], FAST),
        (u(2026, 10, 21, 22, 0), [], NORMAL),
        (u(2026, 10, 21, 12, 0), [], NORMAL),
        # a Wednesday in summer and one in winter, given in local time: the window is UTC
        (datetime(2026, 7, 15, 17, 30, tzinfo=LONDON), [], FAST),  # 16:30 UTC
        (datetime(2026, 7, 15, 16, 30, tzinfo=LONDON), [], NORMAL),  # 15:30 UTC
        (datetime(2026, 12, 16, 16, 30, tzinfo=LONDON), [], FAST),  # GMT = UTC
        (datetime(2026, 10, 21, 17, 30, tzinfo=NEW_YORK), [], FAST),  # 21:30 UTC
        (datetime(2026, 10, 21, 18, 30, tzinfo=NEW_YORK), [], NORMAL),  # 22:30 UTC
        (datetime(2026, 10, 20, 20, 0, tzinfo=NEW_YORK), [], NORMAL),  # Wed 00:00 UTC
        # other days at the same hours
        (u(2026, 10, 20, 17, 0), [], NORMAL),  # Tuesday
        (u(2026, 10, 22, 17, 0), [], NORMAL),  # Thursday
        # inside a PSA window (start inclusive, end exclusive), outside it
        (u(2026, 10, 23, 17, 0), [PSA], FAST),
        (u(2026, 10, 23, 20, 59), [PSA], FAST),
        (u(2026, 10, 23, 21, 0), [PSA], NORMAL),
        (u(2026, 10, 23, 12, 0), [PSA], NORMAL),
        (u(2026, 10, 23, 12, 0), [], NORMAL),
        # the run-up: a wait never carries past the window's opening by more than FAST
        (u(2026, 10, 21, 15, 55), [], timedelta(minutes=5)),  # poll as it opens
        (u(2026, 10, 21, 15, 50), [], timedelta(minutes=10)),
        (u(2026, 10, 21, 15, 45), [], NORMAL),
        (u(2026, 10, 21, 15, 59, 30), [], FAST),  # never shorter than FAST
        (u(2026, 10, 23, 16, 50), [PSA], timedelta(minutes=10)),
        (u(2026, 10, 23, 16, 59), [PSA], FAST),
        # several windows: the nearest counts, past ones do not
        (
            u(2026, 10, 23, 16, 50),
            [(u(2026, 10, 1, 17), u(2026, 10, 1, 21)), PSA],
            timedelta(minutes=10),
        ),
        (u(2026, 10, 23, 18, 0), [(u(2026, 10, 1, 17), u(2026, 10, 1, 21)), PSA], FAST),
        # Tuesday night before the release window: still normal
        (u(2026, 10, 20, 23, 59), [], NORMAL),
    ],
)
def test_poll_interval(
    now: datetime, windows: list[tuple[datetime, datetime]], expected: timedelta
) -> None:
    assert poll_interval(now, windows, NORMAL, FAST) == expected


def test_fast_never_exceeds_normal() -> None:
    # a misconfiguration (fast slower than normal) must not slow polling in the window
    assert poll_interval(u(2026, 10, 21, 17), [], timedelta(minutes=1), FAST) == timedelta(
        minutes=1
    )


def test_every_minute_of_a_week() -> None:
    """Over a whole week: FAST exactly in the window, never longer than NORMAL, and a wait
    started outside never ends more than FAST after a window opened."""
    start = u(2026, 10, 19, 0)  # a Monday
    for minute in range(7 * 24 * 60):
        now = start + timedelta(minutes=minute)
        got = poll_interval(now, [], NORMAL, FAST)
        assert FAST <= got <= NORMAL
        if in_release_window(now):
            assert got == FAST
        else:
            opening = u(2026, 10, 21, 16) if now < u(2026, 10, 21, 16) else u(2026, 10, 28, 16)
            assert now + got <= max(opening + FAST, now + FAST)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        poll_interval(datetime(2026, 10, 21, 17), [], NORMAL, FAST)
