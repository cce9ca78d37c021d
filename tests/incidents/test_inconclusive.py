"""Table tests: an inconclusive result (the monitor could not probe: out of open files) is no
evidence about the site. From any state it changes nothing: no event, no incident, no count
toward a threshold, no break in a run of failures or successes."""

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
POLICY = AlertPolicy(failure_threshold=2, success_threshold=2, repeat_every=timedelta(minutes=5))
OK = ProbeResult(True, "HTTP 200 in 80 ms")
FAIL = ProbeResult(False, "HTTP 503 Service Unavailable")
NO_FILES = ProbeResult(
    False,
    "monitor error: out of open files; the site was not checked",
    inconclusive=True,
    details={"error": "EMFILE"},
)


def fold(pattern: str) -> tuple[CheckState, list[str]]:
    """'+' pass, '-' fail, '?' inconclusive, one a minute; the final state and event kinds."""
    s, kinds = CheckState(), list[str]()
    for i, ch in enumerate(pattern):
        result = {"+": OK, "-": FAIL, "?": NO_FILES}[ch]
        ev = evaluate(s, result, POLICY, REF, T0 + timedelta(minutes=i))
        s = ev.state
        kinds += [e.kind for e in ev.events]
    return s, kinds


@pytest.mark.parametrize(
    ("pattern", "status", "kinds"),
    [
        ("?????", "unknown", []),  # never a DOWN from the monitor's own trouble
        ("++???", "up", []),
        ("++-??", "up", []),  # one failure, then nothing known: still under the threshold
        ("++-??-", "down", ["site-down"]),  # the run of failures is not broken by '?'
        ("++--", "down", ["site-down"]),
        ("++--?????????", "down", ["site-down"]),  # no reminder from '?' (repeat_every 5m)
        ("++--+?+", "up", ["site-down", "site-recovered"]),  # nor is a run of successes
    ],
)
def test_inconclusive_results_change_nothing(pattern: str, status: str, kinds: list[str]) -> None:
    state, got = fold(pattern)
    assert (state.status, got) == (status, kinds)


@pytest.mark.parametrize("prefix", ["", "+", "++", "++-", "++--", "++--+"])
def test_the_state_after_an_inconclusive_result_is_the_state_before(prefix: str) -> None:
    before, _ = fold(prefix)
    ev = evaluate(before, NO_FILES, POLICY, REF, T0 + timedelta(hours=1))
    assert ev.state == before
    assert ev.events == [] and ev.incident is None
