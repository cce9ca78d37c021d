"""Events: what happened, before anyone decides who is told."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

__all__ = [
    "CONTACT_KIND",
    "EVENT_KINDS",
    "ROUTE_KINDS",
    "Event",
    "EventKind",
    "RouteKind",
    "Severity",
]

RouteKind = Literal[
    "site-down",
    "site-reminder",
    "site-recovered",
    "site-flapping",
    "site-update",  # a check joined or left an open site incident (a comment on its ticket)
    "certificate",
    "security-now",
    "security-unknown",
    "patch-day",
    "psa-heads-up",
    "connectivity",
    "ticket-overdue",
    "hours",  # a support contract's use passed a threshold, or an estimate needs approval
    "test",
]
"""Every kind a route can match (``routes[].match.kind``, ``routes explain --kind``)."""

EventKind = Literal[RouteKind, "digest"]
"""Every event kind: the routable ones and ``digest``, several notifications merged into one
message after routing (monitord.storm)."""

ROUTE_KINDS: tuple[RouteKind, ...] = get_args(RouteKind)
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

Severity = Literal["critical", "error", "warning", "info"]

# Which contact `notify:` kind a given event needs.
CONTACT_KIND: dict[str, str] = {
    "site-down": "site-down",
    "site-reminder": "site-down",
    "site-flapping": "site-down",
    "site-update": "site-down",
    "site-recovered": "site-recovered",
    "certificate": "certificate",
    "security-now": "security",
    "patch-day": "maintenance",
    "hours": "hours",
}


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    client: str
    site: str | None
    check: str | None
    at: datetime
    """When it happened (UTC, aware)."""
    key: str
    """Unique per event; the idempotency root of every notification made from it."""
    thread: str
    """Events about the same incident/advisory share it (mail threading, dedup keys, tickets)."""
    summary: str
    severity: Severity = "error"
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Event:
        d = dict(d)
        d["at"] = datetime.fromisoformat(d["at"])
        return cls(**d)
