"""Flapping is told on the thread of the incident it began with (docs/tickets.md: a comment on
the incident's ticket, never a ticket of its own), and the settled state closes that thread."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from monitord.config.models import AlertPolicy
from monitord.events import Event
from monitord.incidents import CheckState, close_removed, evaluate
from tests.incidents.test_incidents import FAIL, OK, REF, T0

POLICY = AlertPolicy(failure_threshold=1, success_threshold=1, repeat_every=timedelta(hours=1))


def feed(
    pattern: str, state: CheckState | None = None, start: int = 0
) -> tuple[CheckState, list[Event]]:
    """One result a minute from T0 + ``start`` minutes: '+' pass, '-' fail."""
    s = state or CheckState()
    events: list[Event] = []
    for i, ch in enumerate(pattern):
        r = evaluate(s, OK if ch == "+" else FAIL, POLICY, REF, T0 + timedelta(minutes=start + i))
        s = r.state
        events += r.events
    return s, events


def test_flapping_that_begins_at_a_recovery_goes_on_that_incident_and_ends_it() -> None:
    s, events = feed("+-+-+")
    assert [e.kind for e in events] == ["site-down", "site-recovered", "site-down", "site-flapping"]
    second_down, flapping = events[2], events[3]
    assert flapping.thread == second_down.thread  # a comment on the second incident's ticket
    assert s.flapping and s.status == "up"
    # Stable for the flap window: the same thread is resolved, once.
    later, more = feed("+" * 62, s, start=5)
    assert [(e.kind, e.thread) for e in more] == [("site-recovered", second_down.thread)]
    assert not later.flapping
    assert len({e.key for e in events + more}) == len(events + more)


def test_flapping_that_begins_at_a_down_goes_on_the_new_incident() -> None:
    s, events = feed("-+-+-")  # the first DOWN is not a change (from unknown)
    assert [e.kind for e in events][-1] == "site-flapping"
    assert s.status == "down" and events[-1].thread == s.incident_id


def test_settling_down_on_a_later_incident_stays_on_the_flapping_thread() -> None:
    """Flapping began with incident B (closed at the fourth change); the check then went down
    again (incident C) and stayed down: the settled DOWN, the reminders and C's recovery all
    go on B's thread, so the one ticket that was told about is the one resolved."""
    s, events = feed("+-+-+")  # flapping began at a recovery …
    flap_thread = events[-1].thread
    s, more = feed("-" * 62, s, start=5)  # … then down for good
    assert [e.kind for e in more] == ["site-down"]
    settled = more[0]
    assert settled.thread == flap_thread and s.incident_id != flap_thread
    s, reminders = feed("-" * 60, s, start=67)
    assert [(e.kind, e.thread) for e in reminders] == [("site-reminder", flap_thread)]
    s, recovery = feed("+", s, start=127)
    assert [(e.kind, e.thread) for e in recovery] == [("site-recovered", flap_thread)]
    assert s.thread is None
    keys = [e.key for e in events + more + reminders + recovery]
    assert len(set(keys)) == len(keys)


def test_a_removed_check_closes_the_flapping_thread() -> None:
    s, events = feed("+-+-+")
    r = close_removed(s, REF, T0 + timedelta(minutes=6), "check removed from the configuration")
    assert [(e.kind, e.thread) for e in r.events] == [("site-recovered", events[-1].thread)]
    assert r.incident is None and r.state == CheckState()


def test_a_removed_check_closes_its_open_incident() -> None:
    s, events = feed("+-")
    r = close_removed(s, REF, T0 + timedelta(minutes=6), "site removed from the configuration")
    assert r.incident is not None and r.incident.id == s.incident_id
    assert r.incident.ended == T0 + timedelta(minutes=6)
    assert r.incident.last_message == "site removed from the configuration"
    (ev,) = r.events
    assert (ev.kind, ev.thread, ev.details["removed"]) == (
        "site-recovered",
        events[0].thread,
        "site removed from the configuration",
    )


def test_a_removed_check_never_told_about_says_nothing() -> None:
    """No incident: nothing at all. An incident nobody was told about (its DOWN suppressed):
    it is closed in the store, silently."""
    s, _ = feed("++")
    r = close_removed(s, REF, T0, "x")
    assert (r.events, r.incident) == ([], None)
    s, _ = feed("+-")
    r = close_removed(replace(s, down_notified=False), REF, T0, "x")
    assert r.events == [] and r.incident is not None and r.incident.ended == T0
