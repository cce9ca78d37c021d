"""Route matching, ``when``, holding to the next office start, targets and the defaults (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitord.config.models import Route, RouteMatch
from monitord.events import Event, EventKind, Severity
from monitord.routing import (
    DEFAULT_ROUTES,
    grouping_window,
    match_problem,
    plan,
    route,
    short_form,
)
from tests.routing.conftest import CLIENTS, EXAMPLE_ROUTES, ONCALL, event, make_config, utc

SUPPORT = "support@collective.example"
OFFICE = "2026-11-26T14:00"  # Thursday, office time; Alex is on the rota
EVENING = "2026-11-26T20:00"  # Thursday evening
NEXT_MORNING = utc("2026-11-27T09:00")
XMAS_EVE = "2026-12-24T18:30"  # after the office closes for Christmas; Alex's override
AFTER_XMAS = utc("2026-12-30T09:00")  # 25 Christmas, 28 Boxing Day (observed), 29 closure

Row = tuple[str, str, datetime | None]


def got(kind: EventKind, client: str, site: str | None, at: str) -> set[Row]:
    cfg = make_config(routes=EXAMPLE_ROUTES, oncall=ONCALL)
    ev = event(kind, client, site, at)
    return {(n.notifier, n.recipient, n.due_at) for n in route(ev, cfg, now=utc(at))}


EXAMPLE_TABLE: list[tuple[str, EventKind, str, str | None, str, set[Row]]] = [
    (
        "office-hours site-down: ticket and contacts now",
        "site-down", "acme", "acme-www", OFFICE,
        {("tickets", "", None), ("email", "jo@acme.example", None)},
    ),
    (
        "evening site-down, office-hours-only client: held to 09:00 next working day",
        "site-down", "acme", "acme-www", EVENING,
        {("tickets", "", NEXT_MORNING), ("email", "jo@acme.example", NEXT_MORNING)},
    ),
    (
        "evening site-down, out-of-hours client: page now, the rest held",
        "site-down", "beta", "beta-www", EVENING,
        {
            ("pagerduty", "P456", None),
            ("tickets", "", NEXT_MORNING),
            ("email", "bob@beta.example", NEXT_MORNING),
        },
    ),
    (
        "office-hours site-down, out-of-hours client: no page, contacts now",
        "site-down", "beta", "beta-www", OFFICE,
        {("tickets", "", None), ("email", "bob@beta.example", None)},
    ),
    (
        "a reminder counts as site-down (no route names it)",
        "site-reminder", "beta", "beta-www", EVENING,
        {
            ("pagerduty", "P456", None),
            ("tickets", "", NEXT_MORNING),
            ("email", "bob@beta.example", NEXT_MORNING),
        },
    ),
    (
        "flapping counts as site-down too",
        "site-flapping", "acme", "acme-www", OFFICE,
        {("tickets", "", None), ("email", "jo@acme.example", None)},
    ),
    (
        "evening recovery: held, only to those who asked for recoveries",
        "site-recovered", "acme", "acme-www", EVENING,
        {("tickets", "", NEXT_MORNING), ("email", "ann@acme.example", NEXT_MORNING)},
    ),
    (
        "Christmas Eve 18:30: security-now always, Alex paged by override",
        "security-now", "acme", "acme-www", XMAS_EVE,
        {("tickets", "", None), ("email", "jo@acme.example", None), ("pagerduty", "P456", None)},
    ),
    (
        "the extra closure day 29 Dec: rota again (Sam), security-now now",
        "security-now", "acme", "acme-www", "2026-12-29T10:00",
        {("tickets", "", None), ("email", "jo@acme.example", None), ("pagerduty", "P123", None)},
    ),
    (
        "Christmas Eve 18:30 site-down: held past Christmas, Boxing Day and the closure day",
        "site-down", "acme", "acme-www", XMAS_EVE,
        {("tickets", "", AFTER_XMAS), ("email", "jo@acme.example", AFTER_XMAS)},
    ),
    (
        "Christmas Day: held to 30 Dec",
        "site-down", "acme", "acme-www", "2026-12-25T10:00",
        {("tickets", "", AFTER_XMAS), ("email", "jo@acme.example", AFTER_XMAS)},
    ),
    (
        "the extra closure day counts as out of hours",
        "site-down", "acme", "acme-www", "2026-12-29T10:00",
        {("tickets", "", AFTER_XMAS), ("email", "jo@acme.example", AFTER_XMAS)},
    ),
    (
        "Christmas Eve 16:59 is still office time",
        "site-down", "acme", "acme-www", "2026-12-24T16:59",
        {("tickets", "", None), ("email", "jo@acme.example", None)},
    ),
    (
        "Christmas Eve 17:00 is not",
        "site-down", "acme", "acme-www", "2026-12-24T17:00",
        {("tickets", "", AFTER_XMAS), ("email", "jo@acme.example", AFTER_XMAS)},
    ),
    (
        "Friday 17:00 is held to Monday 09:00",
        "site-down", "acme", "acme-www", "2026-11-27T17:00",
        {("tickets", "", utc("2026-11-30T09:00")), ("email", "jo@acme.example", utc("2026-11-30T09:00"))},
    ),
    (
        "summer time: held to 09:00 BST = 08:00 UTC",
        "site-down", "acme", "acme-www", "2026-06-05T18:00",
        {("tickets", "", utc("2026-06-08T08:00")), ("email", "jo@acme.example", utc("2026-06-08T08:00"))},
    ),
    (
        "the Friday before the clocks go forward: held to Monday 09:00 BST",
        "site-down", "acme", "acme-www", "2026-03-27T17:30",
        {("tickets", "", utc("2026-03-30T08:00")), ("email", "jo@acme.example", utc("2026-03-30T08:00"))},
    ),
    (
        "patch-day: the ticket; no contact asked for maintenance",
        "patch-day", "acme", "acme-www", OFFICE,
        {("tickets", "", None)},
    ),
    (
        "no configured route matches a certificate: the defaults (contacts who asked, a ticket)",
        "certificate", "acme", "acme-www", EVENING,
        {("email", "ann@acme.example", None), ("tickets", "", None)},
    ),
    (
        "agency-only kinds go to the agency by default",
        "connectivity", "", None, EVENING,
        {("email", SUPPORT, None)},
    ),
    (
        "an unknown client has no contacts",
        "site-down", "nobody", "x", OFFICE,
        {("tickets", "", None)},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "kind", "client", "site", "at", "expected"),
    EXAMPLE_TABLE,
    ids=[row[0] for row in EXAMPLE_TABLE],
)
def test_example_routes(
    why: str, kind: EventKind, client: str, site: str | None, at: str, expected: set[Row]
) -> None:
    assert got(kind, client, site, at) == expected, why


# ---------------------------------------------------------------- the built-in routes

TICKET = ("tickets", "")
"""Every problem becomes a ticket: the built-in ``tickets`` (tickets-local) notifier."""

BUILT_IN_TABLE: list[tuple[EventKind, str, str, list[tuple[str, str]]]] = [
    ("site-down", "acme", OFFICE, [("email", "jo@acme.example"), TICKET]),
    ("site-down", "acme", EVENING, [("email", "jo@acme.example"), TICKET]),
    # Reminders and flapping comment on the incident's ticket.
    ("site-reminder", "acme", EVENING, [("email", "jo@acme.example"), TICKET]),
    ("site-flapping", "acme", OFFICE, [("email", "jo@acme.example"), TICKET]),
    ("site-recovered", "acme", EVENING, [("email", "ann@acme.example"), TICKET]),
    ("certificate", "acme", OFFICE, [("email", "ann@acme.example"), TICKET]),
    ("security-now", "acme", OFFICE, [("email", "jo@acme.example"), ("email", SUPPORT), TICKET]),
    # Out of hours the on-call stand-in is the agency address again: one mail, not two.
    ("security-now", "acme", EVENING, [("email", "jo@acme.example"), ("email", SUPPORT), TICKET]),
    ("patch-day", "acme", OFFICE, [("email", SUPPORT), TICKET]),
    ("security-unknown", "acme", OFFICE, [("email", SUPPORT), TICKET]),
    ("psa-heads-up", "", EVENING, [("email", SUPPORT)]),
    ("test", "", OFFICE, [("email", SUPPORT)]),
    ("connectivity", "", EVENING, [("email", SUPPORT)]),
    ("ticket-overdue", "acme", EVENING, [("email", SUPPORT)]),
    ("site-down", "beta", EVENING, [("email", "bob@beta.example"), TICKET]),
]


@pytest.mark.parametrize(("kind", "client", "at", "expected"), BUILT_IN_TABLE)
def test_without_routes_the_built_in_routes_hold_exactly(
    kind: EventKind, client: str, at: str, expected: list[tuple[str, str]]
) -> None:
    cfg = make_config(notifiers={})
    ev = event(kind, client, None, at)
    notes = route(ev, cfg)  # the old call: judged at the event's time
    assert [(n.notifier, n.recipient) for n in notes] == expected  # order kept too
    assert all(n.due_at is None and n.group is None for n in notes)
    assert all(n.key == f"{ev.key}|{n.notifier}|{n.recipient}" for n in notes)


def test_default_security_page_uses_the_rota_once_there_is_one() -> None:
    cfg = make_config(oncall=ONCALL)
    notes = route(event("security-now", at=EVENING), cfg)
    assert ("pagerduty", "P456", "Alex") in {
        (n.notifier, n.recipient, n.recipient_name) for n in notes
    }
    # In office hours nobody is paged.
    notes = route(event("security-now", at=OFFICE), cfg)
    assert "pagerduty" not in {n.notifier for n in notes}


def test_only_what_goes_to_oncall_pager_is_a_page() -> None:
    cfg = make_config(routes=EXAMPLE_ROUTES, oncall=ONCALL)
    notes = route(event("site-down", "beta", "beta-www", EVENING), cfg, now=utc(EVENING))
    assert {(n.notifier, n.page) for n in notes} == {
        ("pagerduty", True),
        ("tickets", False),
        ("email", False),
    }


def test_a_recipient_also_on_call_is_paged() -> None:
    """The same (notifier, recipient) from two routes is one notification: a page if either
    route pages."""
    routes = [
        {"match": {"kind": "site-down"}, "notify": ["agency"]},
        {"match": {"kind": "site-down"}, "notify": ["oncall-pager"]},
    ]
    cfg = make_config(routes=routes, notifiers={}, security={"oncall_notifier": "email"})
    (note,) = route(event("site-down", "acme", "acme-www", EVENING), cfg, now=utc(EVENING))
    assert (note.notifier, note.recipient, note.page) == ("email", SUPPORT, True)


def test_default_oncall_without_a_rota_is_the_security_oncall_notifier() -> None:
    cfg = make_config(notifiers={}, security={"oncall_notifier": "pager2"})
    notes = route(event("security-now", at=EVENING), cfg)
    assert ("pager2", SUPPORT, "Collective on call") in {
        (n.notifier, n.recipient, n.recipient_name) for n in notes
    }


# ---------------------------------------------------------------- match keys


MATCH_TABLE: list[tuple[dict[str, object], EventKind, str, str | None, Severity, str | None]] = [
    ({}, "site-down", "acme", "acme-www", "error", None),
    ({"kind": "site-down"}, "site-recovered", "acme", "acme-www", "error", "kind is site-recovered"),
    ({"kind": ["site-down", "certificate"]}, "certificate", "acme", "acme-www", "error", None),
    ({"kind": "site-down"}, "site-reminder", "acme", "acme-www", "error", None),
    ({"kind": "site-down"}, "site-flapping", "acme", "acme-www", "error", None),
    ({"kind": "site-down"}, "certificate", "acme", "acme-www", "error", "kind is certificate"),
    ({"client": "acme"}, "site-down", "acme", "acme-www", "error", None),
    ({"client": ["beta", "gamma"]}, "site-down", "acme", "acme-www", "error", "client is acme"),
    ({"client_cover": "out_of_hours"}, "site-down", "beta", "beta-www", "error", None),
    ({"client_cover": "out_of_hours"}, "site-down", "acme", "acme-www", "error",
     "client cover is office_hours"),
    ({"client_cover": "office_hours"}, "site-down", "acme", "acme-www", "error", None),
    ({"client_cover": "office_hours"}, "site-down", "ghost", "x", "error",
     "client cover is (no such client)"),
    ({"site": "beta-shop"}, "site-down", "beta", "beta-shop", "error", None),
    ({"site": "beta-shop"}, "site-down", "beta", "beta-www", "error", "site is beta-www"),
    ({"site": "beta-shop"}, "connectivity", "", None, "error", "site is (none)"),
    ({"severity": ["critical"]}, "security-now", "acme", None, "critical", None),
    ({"severity": "critical"}, "site-down", "acme", None, "error", "severity is error"),
    ({"kind": "site-down", "client": "beta", "site": "beta-www", "severity": "error"},
     "site-reminder", "beta", "beta-www", "error", None),
]  # fmt: skip


@pytest.mark.parametrize(("match", "kind", "client", "site", "severity", "problem"), MATCH_TABLE)
def test_match(
    match: dict[str, object],
    kind: EventKind,
    client: str,
    site: str | None,
    severity: Severity,
    problem: str | None,
) -> None:
    cfg = make_config()
    m = RouteMatch.model_validate(match)
    c = next((x for x in cfg.clients if x.client == client), None)
    ev = event(kind, client, site, OFFICE, severity)
    assert match_problem(m, ev, c, frozenset(m.kind)) == problem


@pytest.mark.parametrize("kind", ["site-reminder", "site-flapping"])
def test_a_kind_named_by_some_route_no_longer_counts_as_site_down(kind: EventKind) -> None:
    routes = [
        {"match": {"kind": "site-down"}, "notify": ["agency"]},
        {"match": {"kind": kind}, "notify": ["client-contacts"]},
    ]
    cfg = make_config(routes=routes)
    p = plan(event(kind, at=OFFICE), cfg, utc(OFFICE))
    assert [t.status for t in p.traces] == ["no-match", "applies"]
    assert {n.recipient for n in p.notifications} == {"jo@acme.example"}


# ---------------------------------------------------------------- when, windows, dedup


WINDOW_TABLE: list[tuple[str, str]] = [
    ("2026-11-27T23:00", "applies"),  # Friday night
    ("2026-11-28T07:59", "applies"),  # Saturday morning belongs to Friday's window
    ("2026-11-28T08:00", "not-now"),  # closed
    ("2026-11-28T23:00", "not-now"),  # Saturday evening: not a listed day
    ("2026-11-30T18:00", "applies"),  # Monday 18:00
    ("2026-11-30T17:59", "not-now"),
    ("2026-07-01T17:30", "applies"),  # 18:30 BST: the window is on the London clock
    ("2026-07-01T16:30", "not-now"),  # 17:30 BST
]


@pytest.mark.parametrize(("at", "status"), WINDOW_TABLE)
def test_when_a_named_window(at: str, status: str) -> None:
    cfg = make_config(
        routes=[{"match": {"kind": "site-down"}, "when": "evenings", "notify": ["agency"]}],
        windows={
            "evenings": {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "18:00",
                "end": "08:00",
            }
        },
    )
    p = plan(event("site-down", at=at), cfg, utc(at))
    assert p.traces[0].status == status
    assert bool(p.notifications) == (status == "applies")


def test_window_limited_to_dates() -> None:
    cfg = make_config(
        routes=[{"match": {}, "when": "xmas", "notify": ["agency"]}],
        windows={"xmas": {"dates": [["2026-12-24", "2026-12-26"]]}},
    )
    assert plan(event("site-down"), cfg, utc("2026-12-25T12:00")).traces[0].status == "applies"
    assert plan(event("site-down"), cfg, utc("2026-12-27T12:00")).traces[0].status == "not-now"


def test_a_person_told_now_and_held_is_told_once_now() -> None:
    routes = [
        {"match": {"kind": "site-down"}, "when": "office_hours", "notify": ["client-contacts"]},
        {"match": {"kind": "site-down"}, "when": "out_of_hours", "notify": ["client-contacts"]},
    ]
    cfg = make_config(routes=routes)
    notes = route(event("site-down", at=EVENING), cfg, now=utc(EVENING))
    assert [(n.recipient, n.due_at) for n in notes] == [("jo@acme.example", None)]


def test_an_empty_notify_list_silences_a_kind() -> None:
    cfg = make_config(routes=[{"match": {"kind": "certificate"}, "notify": []}])
    assert route(event("certificate"), cfg, now=utc(OFFICE)) == []
    # Other kinds still get the defaults.
    assert route(event("site-down"), cfg, now=utc(OFFICE))


def test_named_notifier_and_tickets_targets() -> None:
    notifiers = {"tickets": {"type": "jira"}, "chat": {"type": "slack"}}
    cfg = make_config(
        routes=[{"match": {}, "notify": ["tickets", "chat", "oncall-pager"]}],
        notifiers=notifiers,
        oncall={**ONCALL, "notifier": "email"},
    )
    notes = route(event("site-down"), cfg, now=utc(OFFICE))
    assert [(n.notifier, n.recipient, n.recipient_name) for n in notes] == [
        ("tickets", "", ""),
        ("chat", "", ""),
        ("email", "alex@collective.example", "Alex"),  # e-mail pager: their address
    ]
    local = make_config(
        routes=[{"match": {}, "notify": ["tickets"]}], notifiers={"mine": {"type": "tickets-local"}}
    )
    assert [n.notifier for n in route(event("site-down"), local, now=utc(OFFICE))] == ["mine"]


def test_plan_traces_say_why() -> None:
    cfg = make_config(routes=EXAMPLE_ROUTES, oncall=ONCALL)
    p = plan(event("site-down", "beta", "beta-www", EVENING), cfg, utc(EVENING))
    assert [(t.index, t.status) for t in p.traces] == [
        (1, "no-match"),
        (2, "applies"),
        (3, "held"),
        (4, "no-match"),
    ]
    assert p.traces[2].held_until == NEXT_MORNING
    assert not p.defaults_used


def test_short_form() -> None:
    r = Route.model_validate(EXAMPLE_ROUTES[1])
    assert short_form(r) == (
        "kind=site-down client_cover=out_of_hours when=out_of_hours -> oncall-pager"
    )
    assert short_form(DEFAULT_ROUTES[0]).endswith("when=always -> agency")


def test_grouping_window_defaults() -> None:
    # No routes: each notification is sent alone, at once.
    assert grouping_window(make_config()) == timedelta(0)
    assert grouping_window(make_config(routes=EXAMPLE_ROUTES)) == timedelta(seconds=30)
    assert grouping_window(make_config(grouping={"window": "0s"}, routes=EXAMPLE_ROUTES)) == (
        timedelta(0)
    )
    assert grouping_window(make_config(grouping={"window": "10s"})) == timedelta(seconds=10)


def test_clients_fixture_is_valid() -> None:
    assert len(make_config().clients) == len(CLIENTS)


def test_agency_mail_without_smtp_is_not_queued_to_fail() -> None:
    """With support_email but no smtp section, agency mail has no way out: nothing is queued
    (the daemon warns at start) rather than an outbox item that can only fail."""
    from datetime import UTC, datetime

    from monitord.config.models import Config, MainConfig
    from monitord.events import Event

    cfg = Config(
        main=MainConfig.model_validate(
            {"agency": {"name": "Collective", "support_email": "support@collective.example"}}
        )
    )
    at = datetime(2026, 11, 26, 14, tzinfo=UTC)
    ev = Event(
        kind="connectivity",
        client="",
        site=None,
        check=None,
        at=at,
        key="k",
        thread="t",
        summary="s",
    )
    assert [n for n in route(ev, cfg) if n.notifier == "email"] == []


def test_tickets_target_uses_a_ticket_system_configured_under_another_name() -> None:
    from monitord.config.models import Config, MainConfig
    from monitord.routing import resolve_target

    cfg = Config(
        main=MainConfig.model_validate(
            {
                "agency": {"name": "Collective"},
                "smtp": {"host": "127.0.0.1", "from": "m@collective.example"},
                "notifiers": {"desk": {"type": "helpdesk-email", "address": "help@desk.example"}},
            }
        )
    )
    ev = _tickets_probe_event()
    assert resolve_target("tickets", ev, cfg, ev.at) == [("desk", "", "")]


def _tickets_probe_event() -> Event:
    at = datetime(2026, 11, 26, 14, tzinfo=UTC)
    return Event(
        kind="site-down",
        client="acme",
        site="w",
        check="http",
        at=at,
        key="k",
        thread="t",
        summary="s",
    )
