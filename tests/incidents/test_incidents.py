"""Table tests for the pure incident engine: sequences of results in, events out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitord.config.models import AlertPolicy
from monitord.incidents import CheckRef, CheckState, evaluate
from monitord.probes.base import ProbeResult

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
REF = CheckRef(
    key="acme/acme-www/http",
    client="acme",
    site="acme-www",
    check="http",
    check_type="http",
    url="https://www.acme.example/",
    client_name="ACME Charity",
    site_name="www.acme.example",
)
OK = ProbeResult(True, "HTTP 200 in 80 ms")
FAIL = ProbeResult(False, "HTTP 503 Service Unavailable")


def run(
    pattern: str,
    policy: AlertPolicy | None = None,
    step: timedelta = timedelta(minutes=1),
    state: CheckState | None = None,
    start: datetime = T0,
) -> tuple[CheckState, list[tuple[int, str]]]:
    """Feed a pattern of results ('+' pass, '-' fail, one per step); return (state, [(i, kind)])."""
    policy = policy or AlertPolicy(failure_threshold=3, success_threshold=2, repeat_every=None)
    s = state or CheckState()
    out: list[tuple[int, str]] = []
    for i, ch in enumerate(pattern):
        ev = evaluate(s, OK if ch == "+" else FAIL, policy, REF, start + i * step)
        s = ev.state
        out.extend((i, e.kind) for e in ev.events)
    return s, out


@pytest.mark.parametrize(
    ("pattern", "expected", "final"),
    [
        ("", [], "unknown"),
        ("+", [], "unknown"),
        ("++", [], "up"),
        ("++++++", [], "up"),
        ("--", [], "unknown"),
        ("---", [(2, "site-down")], "down"),
        ("++---", [(4, "site-down")], "down"),
        ("++--+--", [], "up"),  # failures not consecutive: never down
        ("++-----", [(4, "site-down")], "down"),  # one notice, no repeat configured
        ("++---+", [(4, "site-down")], "down"),  # one success is not enough
        ("++---++", [(4, "site-down"), (6, "site-recovered")], "up"),
        ("++---+-++", [(4, "site-down"), (8, "site-recovered")], "up"),
        ("---++", [(2, "site-down"), (4, "site-recovered")], "up"),
        ("++---++---", [(4, "site-down"), (6, "site-recovered"), (9, "site-down")], "down"),
        # Fourth change inside the flap window: one flapping notice instead of another DOWN.
        (
            "++---++---++---",
            [(4, "site-down"), (6, "site-recovered"), (9, "site-down"), (11, "site-flapping")],
            "down",
        ),
        # While flapping nothing more is said.
        (
            "++---++---++---++---++",
            [(4, "site-down"), (6, "site-recovered"), (9, "site-down"), (11, "site-flapping")],
            "up",
        ),
    ],
)
def test_transitions(pattern: str, expected: list[tuple[int, str]], final: str) -> None:
    state, events = run(pattern)
    assert events == expected
    assert state.status == final


@pytest.mark.parametrize(
    ("failure_threshold", "success_threshold", "pattern", "expected"),
    [
        (1, 1, "+-+", [(1, "site-down"), (2, "site-recovered")]),
        (1, 1, "-", [(0, "site-down")]),
        (5, 1, "----", []),
        (5, 1, "-----+", [(4, "site-down"), (5, "site-recovered")]),
        (2, 3, "+++--++", [(4, "site-down")]),
        (2, 3, "+++--+++", [(4, "site-down"), (7, "site-recovered")]),
    ],
)
def test_thresholds(
    failure_threshold: int, success_threshold: int, pattern: str, expected: list[tuple[int, str]]
) -> None:
    policy = AlertPolicy(
        failure_threshold=failure_threshold, success_threshold=success_threshold, repeat_every=None
    )
    assert run(pattern, policy)[1] == expected


def test_reminders_every_repeat_interval() -> None:
    policy = AlertPolicy(failure_threshold=1, success_threshold=1, repeat_every=timedelta(hours=4))
    # One result every 30 minutes for 10 hours of downtime.
    _, events = run("+" + "-" * 21 + "+", policy, step=timedelta(minutes=30))
    kinds = [(i, k) for i, k in events]
    assert kinds == [
        (1, "site-down"),
        (9, "site-reminder"),  # 4 h after the DOWN notice
        (17, "site-reminder"),  # 4 h after that
        (22, "site-recovered"),
    ]


def test_recovery_says_how_long_it_was_down_from_first_failure() -> None:
    policy = AlertPolicy(failure_threshold=3, success_threshold=2, repeat_every=None)
    s = CheckState()
    events = []
    times = [T0, T0 + timedelta(minutes=1)]
    for t in times:
        s = evaluate(s, OK, policy, REF, t).state
    for k in range(3):
        r = evaluate(s, FAIL, policy, REF, T0 + timedelta(minutes=10 + k))
        s = r.state
        events += r.events
    assert events[0].details["started"] == "2026-11-26T14:10:00Z"
    assert s.incident_id == "acme/acme-www/http@2026-11-26T14:10:00Z"
    for k in range(2):
        r = evaluate(s, OK, policy, REF, T0 + timedelta(minutes=57 + k))
        s = r.state
        events += r.events
    rec = events[-1]
    assert rec.kind == "site-recovered"
    assert rec.details["down_for_seconds"] == 48 * 60  # 14:10 .. 14:58
    assert rec.thread == events[0].thread
    assert r.incident is not None and r.incident.ended == T0 + timedelta(minutes=58)
    assert "48m" in rec.summary


def test_flapping_ends_after_a_quiet_window_with_the_settled_state() -> None:
    s, _ = run("++---++---++---")
    assert s.flapping
    # Stay up for more than an hour: flapping ends with one "stable" notice.
    later, more = run("+" * 70, state=s, start=T0 + timedelta(minutes=15))
    assert [k for _, k in more] == ["site-recovered"]
    assert not later.flapping


def test_flapping_ends_down_notifies_the_open_incident() -> None:
    s, _ = run("++---++---++---++---")  # flapping, now down
    assert s.flapping and s.status == "down"
    later, more = run("-" * 70, state=s, start=T0 + timedelta(minutes=20))
    assert [k for _, k in more] == ["site-down"]
    assert later.down_notified


def test_state_round_trips_through_json() -> None:
    s, _ = run("++---")
    again = CheckState.from_json(s.to_json())
    assert again == s
    # Restart during an incident: the next failure neither re-sends DOWN nor forgets it.
    r = evaluate(again, FAIL, AlertPolicy(repeat_every=None), REF, T0 + timedelta(minutes=9))
    assert r.events == []
    assert r.state.incident_id == s.incident_id


def test_event_keys_are_unique_and_stable() -> None:
    policy = AlertPolicy(failure_threshold=1, success_threshold=1, repeat_every=timedelta(hours=1))
    s = CheckState()
    keys = []
    for i, ch in enumerate("+---+--+"):
        r = evaluate(s, OK if ch == "+" else FAIL, policy, REF, T0 + i * timedelta(hours=1))
        s = r.state
        keys += [e.key for e in r.events]
    assert len(keys) == len(set(keys)) == 7  # down, 2 reminders, up, down, reminder, up


def cert(days: int) -> ProbeResult:
    warn = f"certificate expires in {days} days (warning at 14)" if days < 14 else None
    return ProbeResult(
        True,
        "certificate valid",
        warning=warn,
        details={"cert_days_left": days, "cert_not_after": "2026-12-20T00:00:00Z"},
    )


@pytest.mark.parametrize(
    ("days_seq", "warned_at"),
    [
        ([30, 20, 15], []),
        ([14, 13], [13]),
        ([13, 12, 11, 10, 9, 8], [13]),
        ([13, 12, 8, 7, 6, 5, 4, 3, 2, 1, 0], [13, 6, 2, 0]),
        ([5, 4], [5]),  # first sight already under 7: one warning at that stage
        ([13, 40, 13], [13, 13]),  # renewed (no warning), then a new certificate near expiry
    ],
)
def test_certificate_warnings_by_stage(days_seq: list[int], warned_at: list[int]) -> None:
    s = CheckState()
    warned = []
    for i, d in enumerate(days_seq):
        r = evaluate(s, cert(d), AlertPolicy(), REF, T0 + timedelta(days=i), min_days_left=14)
        s = r.state
        warned += [e.details["days_left"] for e in r.events if e.kind == "certificate"]
    assert warned == warned_at
