"""backoff(): exponential, capped, deterministic jitter per key, honours Retry-After."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitord import limits
from monitord.outbox import RETRY_AFTER_CEILING, backoff

KEYS = [
    "",
    "a",
    "acme-www/http/1/down/jo@acme.example",
    "SA-CORE-2026-001/acme-www/pager",
    "ünïcödé-ключ-鍵",
    "x" * 1000,
    *(f"n{i}" for i in range(40)),
]

# attempts -> the nominal delay in seconds before jitter (5 s doubling, capped at an hour).
NOMINAL = [
    (-3, 5),
    (0, 5),
    (1, 5),
    (2, 10),
    (3, 20),
    (4, 40),
    (5, 80),
    (6, 160),
    (7, 320),
    (8, 640),
    (9, 1280),
    (10, 2560),
    (11, 3600),
    (12, 3600),
    (20, 3600),
    (50, 3600),
    (10_000, 3600),
]


def test_the_tables_here_assume_these_limits() -> None:
    """If a limit changes, this names the tables below that need new figures."""
    assumed = (timedelta(seconds=5), timedelta(hours=1), timedelta(days=1))
    actual = (limits.OUTBOX_BACKOFF_BASE, limits.OUTBOX_BACKOFF_CAP, RETRY_AFTER_CEILING)
    assert actual == assumed


@pytest.mark.parametrize(("attempts", "nominal"), NOMINAL)
def test_backoff_is_within_ten_percent_of_nominal_and_capped(attempts: int, nominal: float) -> None:
    for key in KEYS:
        d = backoff(attempts, key, None).total_seconds()
        assert nominal * 0.9 <= d <= nominal * 1.1, (key, d)
        assert d <= 3600, (key, d)


@pytest.mark.parametrize("key", KEYS)
def test_each_step_doubles_for_one_key_below_the_cap(key: str) -> None:
    for attempts in range(1, 10):
        ratio = backoff(attempts + 1, key, None) / backoff(attempts, key, None)
        assert ratio == pytest.approx(2.0)


@pytest.mark.parametrize("key", KEYS)
def test_backoff_is_deterministic(key: str) -> None:
    assert backoff(3, key, None) == backoff(3, key, None)


def test_jitter_spreads_keys_across_the_band() -> None:
    delays = [backoff(1, f"notification-{i}", None).total_seconds() for i in range(500)]
    assert min(delays) >= 4.5
    assert max(delays) <= 5.5
    # Items that failed together do not come back together.
    assert min(delays) < 4.6
    assert max(delays) > 5.4
    assert len(set(delays)) > 490
    below = sum(d < 5.0 for d in delays)
    assert 180 < below < 320


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected_min", "expected_max"),
    [
        (1, 120.0, 120.0, 120.0),  # the server's wait beats the 5 s backoff
        (1, 3.0, 4.5, 5.5),  # a shorter Retry-After does not shorten the backoff
        (10, 120.0, 2304.0, 2816.0),  # backoff already longer than Retry-After
        (11, 7200.0, 7200.0, 7200.0),  # Retry-After beyond the cap is still honoured
        (1, 0.0, 4.5, 5.5),
        (1, -30.0, 4.5, 5.5),
        (1, math.nan, 4.5, 5.5),
        (1, math.inf, 86400.0, 86400.0),  # absurd values are read as the ceiling
        (1, 1e12, 86400.0, 86400.0),
        (1, 86400.0, 86400.0, 86400.0),
        (1, 0.5, 4.5, 5.5),
    ],
)
def test_retry_after(
    attempts: int, retry_after: float, expected_min: float, expected_max: float
) -> None:
    for key in KEYS:
        d = backoff(attempts, key, retry_after).total_seconds()
        assert expected_min <= d <= expected_max, (key, d)


@given(
    attempts=st.integers(min_value=-5, max_value=10**9),
    key=st.text(max_size=200),
    retry_after=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
# Retry-After values just past a whole microsecond, which timedelta(seconds=…) rounded down.
@example(attempts=1, key="", retry_after=120.0000004)
@example(attempts=1, key="", retry_after=7200.0000004)
@example(attempts=11, key="", retry_after=5000.0000001)
def test_backoff_properties(attempts: int, key: str, retry_after: float | None) -> None:
    delay = backoff(attempts, key, retry_after)
    d = delay.total_seconds()
    assert d >= 4.5
    honoured = (
        min(retry_after, 86400.0)
        if retry_after is not None and not math.isnan(retry_after) and retry_after > 0
        else 0.0
    )
    # Never before the server's time; rounded up to the next whole microsecond at most.
    assert d >= honoured
    assert (delay - timedelta(microseconds=1)).total_seconds() < max(3600.0, honoured)


@pytest.mark.parametrize("retry_after", [120.0000004, 7200.0000004, 86399.9999999])
def test_retry_after_is_never_rounded_down(retry_after: float) -> None:
    d = backoff(1, "k", retry_after)
    assert d.total_seconds() >= retry_after
    assert (d - timedelta(microseconds=1)).total_seconds() < retry_after
