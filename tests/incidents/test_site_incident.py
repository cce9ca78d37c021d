"""Table tests for the site incident (monitord.site_incident.site_step): a site's checks share one
incident — one DOWN naming what fails, joins and recoveries as updates on its thread, one
recovery when all are back — through orders of failures and recoveries, flapping, reminders,
removed checks and a restart in the middle (every state through its JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from monitord.config.models import AlertPolicy
from monitord.events import Event
from monitord.incidents import CheckRef, CheckState, evaluate
from monitord.probes.base import ProbeResult
from monitord.site_incident import SiteRef, SiteState, site_check_removed, site_step

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
SITE = SiteRef(
    key="acme/acme-www",
    client="acme",
    site="acme-www",
    url="https://www.acme.example/",
    client_name="ACME Charity",
    site_name="www.acme.example",
)


def _ref(check: str, type_: str, target: str) -> CheckRef:
    return CheckRef(
        key=f"acme/acme-www/{check}",
        client="acme",
        site="acme-www",
        check=check,
        check_type=type_,
        url="https://www.acme.example/",
        client_name="ACME Charity",
        site_name="www.acme.example",
        target=target,
    )


REFS = {
    "h": _ref("http", "http", "https://www.acme.example/"),
    "t": _ref("tcp", "tcp", "solr.acme.example:8983"),
    "d": _ref("dns", "dns", "www.acme.example"),
    "b": _ref("backup", "heartbeat", ""),
}
FAILS = {
    "h": ProbeResult(False, "HTTP 503"),
    "t": ProbeResult(False, "connection refused"),
    "d": ProbeResult(False, "name does not resolve"),
    "b": ProbeResult(False, "no heartbeat since 2026-11-26T13:00:00Z"),
}
OK = ProbeResult(True, "fine")
FAST = AlertPolicy(failure_threshold=1, success_threshold=1, repeat_every=None)


@dataclass
class Run:
    policy: AlertPolicy = FAST
    checks: dict[str, CheckState] = field(default_factory=dict)
    site: SiteState = field(default_factory=SiteState)
    events: list[tuple[int, Event]] = field(default_factory=list)

    def restart(self) -> None:
        """What a restart keeps: every state as the store has it (JSON)."""
        self.checks = {k: CheckState.from_json(v.to_json()) for k, v in self.checks.items()}
        self.site = SiteState.from_json(self.site.to_json())

    def step(self, i: int, token: str) -> None:
        c, sign = token[0], token[1]
        ref = REFS[c]
        before = self.checks.get(c, CheckState())
        ev = evaluate(before, OK if sign == "+" else FAILS[c], self.policy, ref, T0 + i * MIN)
        sev = site_step(self.site, SITE, ref, before, ev, self.policy, T0 + i * MIN)
        self.checks[c] = ev.state
        self.site = sev.state
        self.events.extend((i, e) for e in sev.events)

    def remove(self, i: int, c: str, reason: str = "check removed from the configuration") -> None:
        sev = site_check_removed(self.site, SITE, REFS[c], reason, T0 + i * MIN)
        self.checks.pop(c, None)
        self.site = sev.state
        self.events.extend((i, e) for e in sev.events)


MIN = timedelta(minutes=1)


def play(script: str, policy: AlertPolicy = FAST) -> Run:
    """``script``: one step per minute, separated by ``|``; a step is tokens like ``h-`` (http
    fails) ``t+`` (tcp passes), ``R`` (restart), ``xt`` (the tcp check is removed)."""
    run = Run(policy)
    for i, step in enumerate(script.split("|")):
        for token in step.split():
            if token == "R":
                run.restart()
            elif token.startswith("x"):
                run.remove(i, token[1])
            else:
                run.step(i, token)
    return run


def kinds(run: Run) -> list[tuple[int, str]]:
    return [(i, e.kind) for i, e in run.events]


HTTP = "http https://www.acme.example/: HTTP 503"
TCP = "tcp solr.acme.example:8983: connection refused"
DNS = "dns www.acme.example: name does not resolve"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # one check: as before, one DOWN and one recovery
        ("h+ | h- | h+", [(1, "site-down"), (2, "site-recovered")]),
        # the case: http and tcp fail one after the other: one DOWN, the second joins
        ("h+ t+ | h- | t- | h+ | t+",
         [(1, "site-down"), (2, "site-update"), (3, "site-update"), (4, "site-recovered")]),
        # both fail in the same minute, recover in the same minute
        ("h+ t+ | h- t- | h+ t+", [(1, "site-down"), (1, "site-update"), (2, "site-update"),
                                   (2, "site-recovered")]),
        # recovery order does not matter: the last one back closes it
        ("h+ t+ | t- | h- | t+ | h+",
         [(1, "site-down"), (2, "site-update"), (3, "site-update"), (4, "site-recovered")]),
        # three checks, one of them comes back and fails again inside the same incident
        ("h+ t+ d+ | h- | t- | t+ | d- | t- | h+ | d+",
         [(1, "site-down"), (2, "site-update"), (3, "site-update"), (4, "site-update"),
          (5, "site-update"), (6, "site-update"), (7, "site-update")]),  # tcp still fails
        # ... and its fourth change within the hour makes it flapping: noted on the thread
        ("h+ t+ d+ | h- | t- | t+ | t- | d- | h+ t+ | d+",
         [(1, "site-down"), (2, "site-update"), (3, "site-update"), (4, "site-update"),
          (5, "site-update"), (6, "site-update"), (6, "site-flapping"), (7, "site-recovered")]),
        # two incidents in a row: the second one is a new incident
        ("h+ t+ | h- | h+ | t- | t+",
         [(1, "site-down"), (2, "site-recovered"), (3, "site-down"), (4, "site-recovered")]),
        # a heartbeat and a dns check share the incident too
        ("b+ d+ | b- | d- | b+ d+", [(1, "site-down"), (2, "site-update"), (3, "site-update"),
                                      (3, "site-recovered")]),
        # the first verdict is DOWN (from unknown): told, and the second joins
        ("h- | t- | h+ t+", [(0, "site-down"), (1, "site-update"), (2, "site-update"),
                             (2, "site-recovered")]),
        # a restart in the middle: the incident carries on (no second DOWN, one recovery)
        ("h+ t+ | h- | R | t- | R | h+ | t+",
         [(1, "site-down"), (3, "site-update"), (5, "site-update"), (6, "site-recovered")]),
        ("h+ t+ | h- t- | R | h- t- | h+ t+",
         [(1, "site-down"), (1, "site-update"), (4, "site-update"), (4, "site-recovered")]),
        # a removed check leaves the incident; the last one removed closes it
        ("h+ t+ | h- t- | xt | h+", [(1, "site-down"), (1, "site-update"), (2, "site-update"),
                                     (3, "site-recovered")]),
        ("h+ t+ | h- t- | xt | xh", [(1, "site-down"), (1, "site-update"), (2, "site-update"),
                                     (3, "site-recovered")]),
        # removing a healthy check changes nothing
        ("h+ t+ | h- | xt | h+", [(1, "site-down"), (3, "site-recovered")]),
    ],
)  # fmt: skip
def test_site_incident_table(script: str, expected: list[tuple[int, str]]) -> None:
    run = play(script)
    assert kinds(run) == expected
    # Everything of one incident is on one thread.
    threads = [e.thread for _, e in run.events]
    opened = [n for n, (_, e) in enumerate(run.events) if e.kind == "site-down"]
    for a, b in zip(opened, [*opened[1:], len(run.events)], strict=True):
        assert len(set(threads[a:b])) == 1, run.events[a:b]
    # Every event key is unique (idempotency of the notifications made from them).
    keys = [e.key for _, e in run.events]
    assert len(keys) == len(set(keys))


def test_down_names_the_failing_checks_with_their_targets() -> None:
    run = play("h+ t+ | t- | h- | t+ | h+")
    down, joined, back, recovered = (e for _, e in run.events)
    assert down.summary == f"acme-www is down: {TCP}"
    assert down.details["message"] == TCP
    assert down.details["failing"] == [TCP]
    assert down.thread == "acme/acme-www@2026-11-26T14:01:00Z"
    assert joined.kind == "site-update"
    assert (
        joined.summary
        == f"acme-www: {HTTP.replace(': HTTP 503', '')} fails too: HTTP 503; failing now: {TCP}; {HTTP}"
    )
    assert joined.details["failing"] == [TCP, HTTP]
    assert back.summary == (
        "acme-www: tcp solr.acme.example:8983 is back up (it failed with: connection refused); "
        f"failing now: {HTTP}"
    )
    assert recovered.kind == "site-recovered"
    assert recovered.summary == "acme-www is back up after 3m"
    assert recovered.details["failed"] == [TCP, HTTP]
    assert recovered.details["down_for_seconds"] == 180
    assert recovered.details["started"] == "2026-11-26T14:01:00Z"
    assert {e.thread for _, e in run.events} == {down.thread}


def test_the_incident_row_lists_what_fails() -> None:
    run = Run()
    run.step(0, "h+")
    run.step(0, "t+")
    before = run.checks["t"]
    ev = evaluate(before, FAILS["t"], FAST, REFS["t"], T0 + MIN)
    opened = site_step(run.site, SITE, REFS["t"], before, ev, FAST, T0 + MIN)
    assert opened.incident is not None and opened.incident.ended is None
    assert opened.incident.id == "acme/acme-www@2026-11-26T14:01:00Z"
    assert opened.incident.summary == f"acme-www down: {TCP}"
    before_h = run.checks["h"]
    ev_h = evaluate(before_h, FAILS["h"], FAST, REFS["h"], T0 + 2 * MIN)
    joined = site_step(opened.state, SITE, REFS["h"], before_h, ev_h, FAST, T0 + 2 * MIN)
    assert joined.incident is not None and joined.incident.id == opened.incident.id
    assert joined.incident.last_message == f"{TCP}; {HTTP}"
    # A result that changes nothing changes no state (no durable write).
    again = evaluate(ev_h.state, FAILS["h"], FAST, REFS["h"], T0 + 3 * MIN)
    same = site_step(joined.state, SITE, REFS["h"], ev_h.state, again, FAST, T0 + 3 * MIN)
    assert same.state == joined.state and same.events == []


def test_reminders_are_per_site_incident_and_list_what_still_fails() -> None:
    policy = AlertPolicy(
        failure_threshold=1, success_threshold=1, repeat_every=timedelta(minutes=10)
    )
    # http and tcp fail from minute 1 and 2, each probed every minute for 25 minutes.
    steps = ["h+ t+", "h-", *["h- t-"] * 24]
    run = play(" | ".join(steps), policy)
    reminders = [(i, e) for i, e in run.events if e.kind == "site-reminder"]
    # One per 10 minutes for the site, not one per check.
    assert [i for i, _ in reminders] == [11, 21]
    assert reminders[0][1].summary == f"acme-www is still down: {HTTP}; {TCP}"
    assert reminders[0][1].details["down_for_seconds"] == 600


def test_flapping_check_goes_on_the_site_thread_and_settles_there() -> None:
    # tcp is down for good; http flaps (4 changes within the hour) meanwhile.
    run = play("h+ t+ | t- | h- | h+ | h- | h+ | h+")
    down = run.events[0][1]
    assert down.kind == "site-down"
    flap = [e for _, e in run.events if e.kind == "site-flapping"]
    assert len(flap) == 1 and flap[0].thread == down.thread
    assert "http https://www.acme.example/" in flap[0].summary
    assert {e.thread for _, e in run.events} == {down.thread}
    assert "site-recovered" not in [k for _, k in kinds(run)]  # tcp still fails


def test_a_flapping_site_closes_on_its_flapping_thread() -> None:
    # One check flapping alone: its incidents come and go; the flapping notice goes on the
    # incident it began with, and the settled "up" resolves that same thread an hour later.
    script = "h+ | h- | h+ | h- | h+" + " | h+" * 61
    run = play(script)
    assert kinds(run)[:4] == [(1, "site-down"), (2, "site-recovered"), (3, "site-down"),
                              (4, "site-flapping")]  # fmt: skip
    flap = run.events[3][1]
    stable = run.events[-1][1]
    assert stable.kind == "site-recovered" and stable.thread == flap.thread
    assert run.site.open is False and run.site.flap_thread is None


def test_state_round_trips_through_json() -> None:
    run = play("h+ t+ | h- | t-")
    assert SiteState.from_json(run.site.to_json()) == run.site
    assert run.site.open and [f.check for f in run.site.failing] == ["http", "tcp"]


def test_a_check_down_before_site_incidents_brings_its_thread() -> None:
    """A state stored by a per-check monitord (or a site switched back to per-site): the
    check's open incident becomes the site's, on the same thread, already told."""
    before = CheckState()
    ev = evaluate(before, FAILS["h"], FAST, REFS["h"], T0)
    old = ev.state  # down, told, its own incident id; no site state yet
    assert old.down_notified
    again = evaluate(old, FAILS["h"], FAST, REFS["h"], T0 + MIN)
    step = site_step(SiteState(), SITE, REFS["h"], old, again, FAST, T0 + MIN)
    assert step.state.open and step.state.notified and step.events == []
    assert step.state.thread == old.incident_id
    assert step.state.incident_id == old.incident_id  # its stored row becomes the site's
    back = evaluate(again.state, OK, FAST, REFS["h"], T0 + 2 * MIN)
    done = site_step(step.state, SITE, REFS["h"], again.state, back, FAST, T0 + 2 * MIN)
    assert [(e.kind, e.thread) for e in done.events] == [("site-recovered", old.incident_id)]


def test_certificate_warnings_keep_their_own_thread() -> None:
    tls = _ref("tls", "tls", "www.acme.example:443")
    cert = ProbeResult(
        True, "certificate valid", warning="certificate expires in 5 days",
        details={"cert_days_left": 5, "cert_not_after": "2026-12-01T00:00:00Z"},
    )  # fmt: skip
    run = play("h+ | h-")
    before = CheckState()
    ev = evaluate(before, cert, FAST, tls, T0 + 2 * MIN)
    step = site_step(run.site, SITE, tls, before, ev, FAST, T0 + 2 * MIN)
    (event,) = step.events
    assert event.kind == "certificate"
    assert event.thread != run.site.thread and event.thread != run.site.incident_id
    assert step.state == run.site


def test_a_check_down_before_site_incidents_that_recovers_at_once_closes_its_own_incident() -> None:
    """The first result after the upgrade is already the recovery: it resolves the check's
    old incident (its id and thread), not nothing."""
    old = evaluate(CheckState(), FAILS["t"], FAST, REFS["t"], T0).state
    back = evaluate(old, OK, FAST, REFS["t"], T0 + MIN)
    done = site_step(SiteState(), SITE, REFS["t"], old, back, FAST, T0 + MIN)
    assert [(e.kind, e.thread) for e in done.events] == [("site-recovered", old.incident_id)]
    assert done.incident is not None
    assert (done.incident.id, done.incident.ended) == (old.incident_id, T0 + MIN)
    assert not done.state.open
