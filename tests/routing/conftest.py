"""Shared configuration builders for the routing tests (pure values, no files)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitord.config.models import ClientConfig, Config, MainConfig
from monitord.events import Event, EventKind, Severity
from tests.helpers.secrets import captured_logs  # noqa: F401
from tests.helpers.smtp import smtp_server, smtp_server_factory  # noqa: F401
from tests.helpers.tls import test_ca  # noqa: F401

EXAMPLE_ROUTES: list[dict[str, Any]] = [
    {
        "match": {"kind": "security-now"},
        "when": "always",
        "notify": ["tickets", "client-contacts", "oncall-pager"],
    },
    {
        "match": {"kind": "site-down", "client_cover": "out_of_hours"},
        "when": "out_of_hours",
        "notify": ["oncall-pager"],
    },
    {
        "match": {"kind": ["site-down", "site-recovered"]},
        "when": "office_hours",
        "notify": ["tickets", "client-contacts"],
    },
    {"match": {"kind": "patch-day"}, "notify": ["tickets", "client-contacts"]},
]
"""The routes of docs/routing.md's example."""

ONCALL: dict[str, Any] = {
    "rota": [
        {"name": "Sam", "email": "sam@collective.example", "pagerduty_user": "P123"},
        {"name": "Alex", "email": "alex@collective.example", "pagerduty_user": "P456"},
    ],
    "handover": "mon 09:00",
    "overrides": [{"from": "2026-12-24T17:00", "to": "2026-12-29T09:00", "name": "Alex"}],
    "notifier": "pagerduty",
}

CLIENTS: list[dict[str, Any]] = [
    {
        "client": "acme",
        "name": "ACME Charity",
        "contacts": [
            {"name": "Jo", "email": "jo@acme.example", "notify": ["site-down", "security"]},
            {
                "name": "Ann",
                "email": "ann@acme.example",
                "notify": ["site-recovered", "certificate"],
            },
        ],
        "sites": [{"id": "acme-www", "url": "https://www.acme.example/"}],
    },
    {
        "client": "beta",
        "name": "Beta Trust",
        "cover": "out_of_hours",
        "contacts": [{"name": "Bob", "email": "bob@beta.example", "notify": ["site-down"]}],
        "sites": [
            {"id": "beta-www", "url": "https://www.beta.example/"},
            {"id": "beta-shop", "url": "https://shop.beta.example/"},
        ],
    },
]


def make_config(
    *,
    routes: list[dict[str, Any]] | None = None,
    oncall: dict[str, Any] | None = None,
    notifiers: dict[str, Any] | None = None,
    clients: list[dict[str, Any]] | None = None,
    **main: Any,
) -> Config:
    data: dict[str, Any] = {
        "agency": {
            "name": "Collective",
            "timezone": "Europe/London",
            "support_email": "support@collective.example",
            "holidays": {"extra": ["2026-12-29"]},
        },
        "smtp": {"host": "127.0.0.1", "port": 25, "from": "Mon <monitor@collective.example>"},
        "notifiers": notifiers if notifiers is not None else {"pagerduty": {"type": "pagerduty"}},
        **main,
    }
    if routes is not None:
        data["routes"] = routes
    if oncall is not None:
        data["oncall"] = oncall
    return Config(
        main=MainConfig.model_validate(data),
        clients=tuple(ClientConfig.model_validate(c) for c in (clients or CLIENTS)),
    )


def utc(text: str) -> datetime:
    """An aware instant from ``2026-12-24T18:30`` (UTC) or with an offset."""
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def event(
    kind: EventKind,
    client: str = "acme",
    site: str | None = "acme-www",
    at: str = "2026-11-26T14:00",
    severity: Severity = "error",
) -> Event:
    return Event(
        kind=kind,
        client=client,
        site=site,
        check="http" if site else None,
        at=utc(at),
        key=f"{client}/{site}/{kind}/{at}",
        thread=f"{client}/{site}",
        summary=f"{kind} of {site}",
        severity=severity,
    )
