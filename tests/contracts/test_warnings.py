"""The hours warnings (pure): which threshold is told, once; when an estimate needs approval."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from monitord.contracts.ledger import Statement, Terms, TimeEntry, statement
from monitord.contracts.models import Month
from monitord.contracts.warnings import (
    estimate_key,
    estimate_warning,
    threshold_key,
    threshold_warning,
)

ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
TERMS = Terms(start=Month(2026, 3), allowances=((Month(2026, 3), 600),))  # 10h
T = (Decimal("0.75"), Decimal("1.00"))


def st(used_minutes: int) -> Statement:
    entries = [TimeEntry("manual", "1", "acme", NOW, used_minutes * 60)] if used_minutes else []
    return statement("acme", TERMS, Month(2026, 3), entries, {}, NOW, ZONE)


@pytest.mark.parametrize(
    ("used", "sent", "told", "marks"),
    [
        (449, set(), None, ()),  # 74.8 %: nothing
        (450, set(), "75%", ("75%",)),  # exactly 75 %
        (450, {"75%"}, None, ()),  # told already this month
        (599, {"75%"}, None, ()),
        (600, {"75%"}, "100%", ("75%", "100%")),  # all used: the next threshold
        (700, set(), "100%", ("75%", "100%")),  # a jump past both: one warning, the highest
        (700, {"75%", "100%"}, None, ()),
    ],
)
def test_thresholds(used: int, sent: set[str], told: str | None, marks: tuple[str, ...]) -> None:
    s = st(used)
    keys = {threshold_key("acme", s, Decimal(p[:-1]) / 100) for p in sent}
    w = threshold_warning("acme", "ACME Charity", s, T, keys, ZONE)
    if told is None:
        assert w is None
        return
    assert w is not None
    assert w.event.kind == "hours" and w.event.details["threshold"] == told
    assert w.event.thread == "hours|acme|2026-03"
    assert w.marks == tuple(threshold_key("acme", s, Decimal(p[:-1]) / 100) for p in marks)
    assert w.comment_on is None


def test_a_threshold_summary_says_what_is_left_or_over() -> None:
    w = threshold_warning("acme", "ACME Charity", st(480), T, set(), ZONE)
    assert w is not None
    assert w.event.summary == (
        "ACME Charity has used 8h 00m of 10h 00m support time in 2026-03 (75% passed); 2h 00m left"
    )
    w = threshold_warning("acme", "ACME Charity", st(630), T, set(), ZONE)
    assert w is not None and w.event.summary.endswith("(100% passed): 0h 30m over")


@pytest.mark.parametrize(
    ("used", "estimate_minutes", "asks"),
    [
        (480, 120, False),  # exactly the 2h left: no approval needed
        (480, 121, True),
        (600, 1, True),  # nothing left
        (0, 600, False),
        (0, 601, True),
    ],
)
def test_estimates(used: int, estimate_minutes: int, asks: bool) -> None:
    s = st(used)
    w = estimate_warning("acme", "ACME", "jira:ACME-7", estimate_minutes * 60, s, set(), ZONE)
    assert (w is not None) == asks
    if w is not None:
        assert w.comment_on == "jira:ACME-7"
        assert w.marks == (estimate_key("jira:ACME-7", estimate_minutes * 60),)
        assert "approve" in w.event.details["message"]


def test_an_estimate_is_asked_once_and_a_new_estimate_asks_again() -> None:
    s = st(480)
    sent = {estimate_key("jira:ACME-7", 3 * 3600)}
    assert estimate_warning("acme", "ACME", "jira:ACME-7", 3 * 3600, s, sent, ZONE) is None
    assert estimate_warning("acme", "ACME", "jira:ACME-7", 4 * 3600, s, sent, ZONE) is not None
