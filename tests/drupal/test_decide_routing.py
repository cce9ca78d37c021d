"""Who hears about security events (routing's built-in rules, and a ticket for every problem),
by kind and time of day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitord.config.models import ClientConfig, Config, MainConfig
from monitord.events import Event
from monitord.routing import route

CONFIG = Config(
    main=MainConfig.model_validate(
        {
            "agency": {
                "name": "Collective",
                "support_email": "support@collective.example",
                "holidays": {"extra": ["2026-12-29"]},
            },
            "smtp": {"host": "127.0.0.1", "from": "Collective <monitor@collective.example>"},
            "security": {"oncall_notifier": "pager"},
        }
    ),
    clients=(
        ClientConfig.model_validate(
            {
                "client": "acme",
                "name": "ACME",
                "contacts": [
                    {"name": "Sec", "email": "sec@acme.example", "notify": ["security"]},
                    {"name": "Maint", "email": "maint@acme.example", "notify": ["maintenance"]},
                    {
                        "name": "Both",
                        "email": "both@acme.example",
                        "notify": ["security", "maintenance"],
                    },
                    {"name": "Down", "email": "down@acme.example", "notify": ["site-down"]},
                ],
            }
        ),
    ),
)

AGENCY = ("email", "support@collective.example")
PAGER = ("pager", "support@collective.example")
SEC = [("email", "sec@acme.example"), ("email", "both@acme.example")]
MAINT = [("email", "maint@acme.example"), ("email", "both@acme.example")]
TICKET = ("tickets", "")
"""Every problem becomes a ticket: the built-in tickets-local notifier (no recipient)."""


def event(kind: str, at: datetime) -> Event:
    return Event(
        kind=kind,  # type: ignore[arg-type]
        client="acme" if kind not in ("psa-heads-up",) else "",
        site="acme-www",
        check=None,
        at=at,
        key=f"{kind}|x",
        thread="x",
        summary="s",
    )


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


ROUTES: list[tuple[str, str, datetime, list[tuple[str, str]]]] = [
    ("security-now, Thursday 14:00", "security-now", utc(2026, 11, 5, 14), [*SEC, AGENCY, TICKET]),
    (
        "security-now, 08:59 GMT",
        "security-now",
        utc(2026, 11, 5, 8, 59),
        [*SEC, AGENCY, PAGER, TICKET],
    ),
    ("security-now, 09:00 GMT", "security-now", utc(2026, 11, 5, 9), [*SEC, AGENCY, TICKET]),
    (
        "security-now, 17:00 GMT",
        "security-now",
        utc(2026, 11, 5, 17),
        [*SEC, AGENCY, PAGER, TICKET],
    ),
    ("security-now, Saturday", "security-now", utc(2026, 11, 7, 11), [*SEC, AGENCY, PAGER, TICKET]),
    (
        "security-now, Wednesday release night",
        "security-now",
        utc(2026, 11, 18, 19),
        [*SEC, AGENCY, PAGER, TICKET],
    ),
    (
        "security-now, Christmas Day",
        "security-now",
        utc(2026, 12, 25, 11),
        [*SEC, AGENCY, PAGER, TICKET],
    ),
    (
        "security-now, closure day",
        "security-now",
        utc(2026, 12, 29, 11),
        [*SEC, AGENCY, PAGER, TICKET],
    ),
    (
        "security-now, 08:30 UTC in BST = 09:30",
        "security-now",
        utc(2026, 6, 18, 8, 30),
        [*SEC, AGENCY, TICKET],
    ),
    (
        "security-now, 16:30 UTC in BST = 17:30",
        "security-now",
        utc(2026, 6, 18, 16, 30),
        [*SEC, AGENCY, PAGER, TICKET],
    ),
    ("patch-day", "patch-day", utc(2026, 11, 19, 9), [*MAINT, AGENCY, TICKET]),
    ("patch-day never pages", "patch-day", utc(2026, 11, 21, 9), [*MAINT, AGENCY, TICKET]),
    (
        "security-unknown: agency and a ticket",
        "security-unknown",
        utc(2026, 11, 5, 14),
        [AGENCY, TICKET],
    ),
    (
        "security-unknown, night: agency and a ticket",
        "security-unknown",
        utc(2026, 11, 5, 23),
        [AGENCY, TICKET],
    ),
    ("psa-heads-up: agency and on call", "psa-heads-up", utc(2026, 11, 18, 15), [AGENCY, PAGER]),
]


@pytest.mark.parametrize(
    ("kind", "at", "expected"), [r[1:] for r in ROUTES], ids=[r[0] for r in ROUTES]
)
def test_security_routing(kind: str, at: datetime, expected: list[tuple[str, str]]) -> None:
    notes = route(event(kind, at), CONFIG)
    assert [(n.notifier, n.recipient) for n in notes] == expected
    assert len({n.key for n in notes}) == len(notes)


def test_without_support_email_only_contacts_are_told_and_a_ticket_opened() -> None:
    bare = CONFIG.model_copy(
        update={"main": MainConfig.model_validate({"agency": {"name": "Collective"}})}
    )
    notes = route(event("security-now", utc(2026, 11, 7, 11)), bare)
    assert [(n.notifier, n.recipient) for n in notes] == [*SEC, TICKET]
