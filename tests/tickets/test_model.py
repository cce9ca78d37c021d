"""The pure ticket model: priorities, actions, respond-by, renders (golden), overdue, reminders."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitord.calendar.hours import BusinessCalendar
from monitord.events import Event, EventKind
from monitord.store.base import LocalTicketRow
from monitord.tickets import (
    PRIORITIES,
    Action,
    comment_for,
    overdue,
    plan_action,
    priority_for,
    reminder_event,
    reminder_recipients,
    text_to_html,
    thread_label,
    ticket_for,
)
from tests.routing.conftest import ONCALL, make_config

LONDON = ZoneInfo("Europe/London")
CAL = BusinessCalendar("Europe/London", extra=[date(2026, 12, 29)])
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def ev(kind: EventKind = "site-down", at: datetime | None = None, **kw: Any) -> Event:
    fields: dict[str, Any] = {
        "client": "acme",
        "site": "acme-www",
        "check": "http",
        "at": at or datetime(2026, 11, 26, 16, 30, tzinfo=UTC),
        "key": f"acme/acme-www/http@2026-11-26T16:28:00Z/{kind}",
        "thread": "acme/acme-www/http@2026-11-26T16:28:00Z",
        "summary": "acme-www is DOWN: HTTP 503",
        "severity": "critical",
        "details": {
            "url": "https://www.acme.example/",
            "client_name": "ACME Charity",
            "message": "HTTP 503",
            "started": "2026-11-26T16:28:00Z",
        },
    }
    fields.update(kw)
    return Event(kind=kind, **fields)


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


# ---------------------------------------------------------------- priorities and actions


@pytest.mark.parametrize(
    ("kind", "priority"),
    [
        ("security-now", "urgent"),
        ("site-down", "high"),
        ("site-reminder", "high"),
        ("site-flapping", "high"),
        ("certificate", "normal"),
        ("patch-day", "normal"),
        ("security-unknown", "normal"),
        ("psa-heads-up", "normal"),
        ("connectivity", "high"),
        ("ticket-overdue", "high"),
        ("site-recovered", "low"),
        ("test", "low"),
        ("no-such-kind", "normal"),
    ],
)
def test_priority_by_kind(kind: str, priority: str) -> None:
    assert priority_for(kind) == priority


def test_every_event_kind_has_a_priority() -> None:
    from typing import get_args

    assert set(get_args(EventKind)) <= set(PRIORITIES)


@pytest.mark.parametrize(
    ("resolving", "has_ticket", "applied", "action"),
    [
        (False, False, False, "open"),
        (False, True, False, "comment"),
        (True, True, False, "resolve"),
        (True, False, False, "skip-nothing"),
        (False, False, True, "skip-duplicate"),
        (False, True, True, "skip-duplicate"),
        (True, True, True, "skip-duplicate"),
        (True, False, True, "skip-duplicate"),
    ],
)
def test_plan_action(resolving: bool, has_ticket: bool, applied: bool, action: Action) -> None:
    assert plan_action(resolving, has_ticket, applied) == action


# ---------------------------------------------------------------- respond-by on the ticket


@pytest.mark.parametrize(
    ("received", "due", "why"),
    [
        ("2026-11-26T16:30", "2026-11-27T09:30", "16:30 on a working day: 09:30 next day"),
        ("2026-11-26T09:00", "2026-11-26T10:00", "the office opens"),
        ("2026-11-26T16:00", "2026-11-26T17:00", "due at the very end of the day"),
        ("2026-11-26T17:00", "2026-11-27T10:00", "17:00 is out of hours"),
        ("2026-11-26T20:00", "2026-11-27T10:00", "evening"),
        ("2026-11-27T16:30", "2026-11-30T09:30", "Friday 16:30 rolls over the weekend"),
        ("2026-11-28T12:00", "2026-11-30T10:00", "Saturday"),
        ("2026-12-24T16:30", "2026-12-30T09:30", "Christmas, Boxing Day (observed) and closure"),
        ("2026-12-25T10:00", "2026-12-30T10:00", "on Christmas Day"),
        ("2026-04-02T16:30", "2026-04-07T09:30", "Easter: Good Friday and Easter Monday"),
        ("2026-04-06T11:00", "2026-04-07T10:00", "on Easter Monday"),
        ("2026-03-27T16:30", "2026-03-30T09:30", "over the spring clock change (GMT to BST)"),
        ("2026-10-23T16:30", "2026-10-26T09:30", "over the autumn clock change (BST to GMT)"),
        ("2026-03-29T01:30", "2026-03-30T10:00", "inside the spring-forward gap"),
        ("2026-10-25T01:30", "2026-10-26T10:00", "inside the autumn fold"),
    ],
)
def test_ticket_respond_by(received: str, due: str, why: str) -> None:
    t = ticket_for(ev(at=london(received).astimezone(UTC)), CAL, "Collective")
    assert t.respond_by == london(due), why
    assert t.opened_at == london(received).astimezone(UTC)


def test_ticket_fields() -> None:
    t = ticket_for(ev(), CAL, "Collective")
    assert (t.client, t.site, t.check, t.kind, t.priority) == (
        "acme", "acme-www", "http", "site-down", "high",
    )  # fmt: skip
    assert t.client_name == "ACME Charity"
    assert t.title == "[ACME Charity] acme-www: site problem since 26 Nov 16:28"
    assert "monitord" in t.tags and "acme" in t.tags and "priority-high" in t.tags
    assert all(" " not in tag for tag in t.tags)


def test_title_is_the_same_for_the_whole_thread() -> None:
    titles = {
        ticket_for(ev(kind), CAL, "Collective").title
        for kind in ("site-down", "site-reminder", "site-recovered", "site-flapping")
    }
    assert len(titles) == 1


def test_long_titles_are_cut_to_255() -> None:
    t = ticket_for(ev("security-now", summary="x" * 600, details={}), CAL, "Collective")
    assert len(t.title) <= 255


def test_thread_label_is_stable_and_short() -> None:
    a = thread_label("acme/acme-www/http@2026")
    assert a == thread_label("acme/acme-www/http@2026")
    assert a != thread_label("acme/acme-www/http@2027")
    assert a.startswith("monitord-") and len(a) == 41


def test_text_to_html_escapes() -> None:
    assert text_to_html("a <b>\nc\n\nd & e") == "<p>a &lt;b&gt;<br>c</p><p>d &amp; e</p>"


# ---------------------------------------------------------------- golden renders


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}"


GOLDEN_CASES: list[tuple[str, Event]] = [
    ("site-down", ev("site-down")),
    (
        "certificate",
        ev(
            "certificate",
            summary="TLS certificate for www.acme.example expires in 10 days",
            severity="warning",
            details={
                "client_name": "ACME Charity",
                "host": "www.acme.example",
                "not_after": "2026-12-06T18:00:00Z",
                "days_left": 10,
                "url": "https://www.acme.example/",
            },
        ),
    ),
    (
        "security-now",
        ev(
            "security-now",
            at=datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
            thread="SA-CORE-2026-005/acme-www",
            key="SA-CORE-2026-005/acme-www/now",
            summary="Drupal core - Highly critical - Remote code execution - SA-CORE-2026-005",
            details={
                "client_name": "ACME Charity",
                "advisory": "SA-CORE-2026-005",
                "installed": "10.3.1",
                "fixed": "10.3.9",
                "link": "https://www.drupal.org/sa-core-2026-005",
            },
        ),
    ),
    (
        "patch-day",
        ev(
            "patch-day",
            at=datetime(2026, 12, 17, 9, 0, tzinfo=UTC),
            thread="patch-day/2026-12-17/acme-www",
            key="patch-day/2026-12-17/acme-www",
            summary="Patch day 17 Dec 2026: 2 updates for acme-www",
            severity="info",
            details={
                "client_name": "ACME Charity",
                "items": [
                    {
                        "advisory": "SA-CONTRIB-2026-101",
                        "project": "drupal/webform",
                        "installed": "6.2.3",
                        "fixed": "6.2.9",
                    },
                    {
                        "advisory": "SA-CONTRIB-2026-102",
                        "project": "drupal/token",
                        "installed": "1.13.0",
                        "fixed": "1.15.0",
                    },
                ],
            },
        ),
    ),
]


@pytest.mark.parametrize(("name", "event"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_golden_ticket(name: str, event: Event) -> None:
    t = ticket_for(event, CAL, "Collective")
    check_golden(f"ticket-{name}.txt", f"Title: {t.title}\nPriority: {t.priority}\n\n{t.body}")


def test_golden_recovery_comment() -> None:
    text = comment_for(
        ev(
            "site-recovered",
            at=datetime(2026, 11, 26, 17, 10, tzinfo=UTC),
            summary="acme-www is UP again",
            severity="info",
            details={
                "client_name": "ACME Charity",
                "started": "2026-11-26T16:28:00Z",
                "duration": 2520,
                "url": "https://www.acme.example/",
            },
        ),
        LONDON,
    )
    check_golden("comment-site-recovered.txt", text)


def test_every_golden_file_is_used() -> None:
    names = {f"ticket-{n}.txt" for n, _ in GOLDEN_CASES} | {"comment-site-recovered.txt"}
    assert {p.name for p in GOLDEN.iterdir()} == names


# ---------------------------------------------------------------- overdue (the SLA rule)

R = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def row(tid: int = 1, respond_by: datetime = R, **kw: Any) -> LocalTicketRow:
    base: dict[str, Any] = {
        "id": tid,
        "thread": f"t{tid}",
        "client": "acme",
        "site": "acme-www",
        "check": "http",
        "kind": "site-down",
        "priority": "high",
        "title": "[ACME Charity] acme-www: site problem since 26 Nov 16:28",
        "body": "…",
        "opened_at": respond_by - timedelta(hours=17),
        "respond_by": respond_by,
        "status": "open",
    }
    base.update(kw)
    return LocalTicketRow(**base)


MICRO = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("ticket", "now", "due"),
    [
        (row(), R - MICRO, False),
        (row(), R, True),
        (row(), R + timedelta(days=3), True),
        (row(status="acked", acked_at=R - timedelta(minutes=5)), R, False),
        (row(status="acked", acked_at=R + timedelta(minutes=5)), R + timedelta(hours=1), False),
        (row(status="resolved", resolved_at=R - MICRO), R, False),
        (row(reminded_at=R), R + timedelta(hours=1), False),
        # respond-by times over Christmas, Easter and both clock changes, one µs either side
        (row(respond_by=london("2026-12-30T09:30")), london("2026-12-30T09:30") - MICRO, False),
        (row(respond_by=london("2026-12-30T09:30")), london("2026-12-30T09:30"), True),
        (row(respond_by=london("2026-04-07T09:30")), london("2026-04-07T09:29:59"), False),
        (row(respond_by=london("2026-04-07T09:30")), london("2026-04-07T09:30"), True),
        (
            row(respond_by=london("2026-03-30T09:30")),
            datetime(2026, 3, 30, 8, 30, tzinfo=UTC),
            True,
        ),
        (
            row(respond_by=london("2026-03-30T09:30")),
            datetime(2026, 3, 30, 8, 29, 59, tzinfo=UTC),
            False,
        ),
        (
            row(respond_by=london("2026-10-26T09:30")),
            datetime(2026, 10, 26, 9, 30, tzinfo=UTC),
            True,
        ),
        (
            row(respond_by=london("2026-10-26T09:30")),
            datetime(2026, 10, 26, 8, 30, tzinfo=UTC),
            False,
        ),
    ],
)
def test_overdue_table(ticket: LocalTicketRow, now: datetime, due: bool) -> None:
    assert overdue([ticket], now) == ([ticket] if due else [])


def test_overdue_orders_oldest_due_first_and_is_pure() -> None:
    a = row(1, R + timedelta(minutes=10))
    b = row(2, R)
    c = row(3, R, status="acked")
    tickets = [a, b, c]
    assert overdue(tickets, R + timedelta(hours=1)) == [b, a]
    assert tickets == [a, b, c]


def test_reminder_event() -> None:
    t = row(7, priority="urgent")
    e = reminder_event(t, R + timedelta(minutes=3), LONDON)
    assert e.kind == "ticket-overdue"
    assert e.thread == t.thread and e.key == "ticket-overdue|t7|7"
    assert e.severity == "critical"
    assert e.details["minutes_late"] == 3
    assert e.details["acknowledge_with"] == "monitord tickets ack 7"
    assert "#7" in e.summary and "Fri 27 Nov 2026 09:30 GMT" in e.summary
    assert reminder_event(row(8), R, LONDON).severity == "warning"


EMAIL_ONCALL = {**ONCALL, "notifier": "email"}


@pytest.mark.parametrize(
    ("priority", "now", "oncall", "want"),
    [
        (
            "high",
            london("2026-11-27T09:30"),
            EMAIL_ONCALL,
            {("email", "support@collective.example")},
        ),
        (
            "high",
            london("2026-11-28T03:00"),
            EMAIL_ONCALL,
            {("email", "support@collective.example")},
        ),
        (
            "urgent",
            london("2026-11-27T10:00"),
            EMAIL_ONCALL,
            {("email", "support@collective.example")},
        ),
        (
            "urgent",
            london("2026-11-28T03:00"),  # the week from Mon 23 Nov is Alex's (2nd) turn
            EMAIL_ONCALL,
            {("email", "support@collective.example"), ("email", "alex@collective.example")},
        ),
        (
            "urgent",
            london("2026-12-04T10:00") + timedelta(days=1),  # Saturday: Sam's turn
            EMAIL_ONCALL,
            {("email", "support@collective.example"), ("email", "sam@collective.example")},
        ),
        (
            "urgent",
            london("2026-12-25T10:00"),  # a holiday is out of hours; Alex's override
            EMAIL_ONCALL,
            {("email", "support@collective.example"), ("email", "alex@collective.example")},
        ),
        (
            "urgent",
            london("2026-11-28T03:00"),
            ONCALL,  # paged through PagerDuty
            {("email", "support@collective.example"), ("pagerduty", "P456")},
        ),
    ],
)
def test_reminder_recipients(
    priority: str, now: datetime, oncall: dict[str, Any], want: set[tuple[str, str]]
) -> None:
    config = make_config(oncall=oncall)
    t = row(priority=priority, respond_by=now - timedelta(minutes=1))
    e = reminder_event(t, now, LONDON)
    notes = reminder_recipients(t, e, config, now)
    assert {(n.notifier, n.recipient) for n in notes} == want
    assert len({n.key for n in notes}) == len(notes)
    assert all(n.event == e for n in notes)


def test_reminder_recipients_without_support_address_is_nobody_in_hours() -> None:
    config = make_config(oncall=EMAIL_ONCALL)
    agency = config.main.agency.model_copy(update={"support_email": None})
    config = config.model_copy(update={"main": config.main.model_copy(update={"agency": agency})})
    t = row()
    assert reminder_recipients(t, reminder_event(t, R, LONDON), config, R) == []
