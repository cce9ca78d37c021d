"""Maintenance windows and suppressed incidents (pure).

A client and each of its sites may list ``maintenance:`` windows, one-off ``{from, to}`` or
recurring ``{days, start, end, zone}`` (zone defaults to the agency's). While a site is inside
one of its own windows or one of its client's, notifications about its incidents are
suppressed: probes go on, incidents are opened and recorded, nobody is told.

A suppressed DOWN is remembered (:class:`Suppressed`, persisted by the daemon) so that when
the suppression ends and the incident is still open, one site-down notice goes out then, on
the incident's thread (:func:`follow_ups`). A recovery while suppressed closes the record: the
people who were never told about the DOWN are not told about the recovery either.

The same record serves connectivity suppression (monitord.storm): ``reason`` says which.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from monitord.calendar import AnyWindow, OneOffWindow, TimeWindow, Window
from monitord.config.models import WEEKDAYS, ClientConfig, MaintenanceWindow, Site, WindowConfig
from monitord.events import Event

SUPPRESSIBLE_KINDS = frozenset(
    {"site-down", "site-reminder", "site-flapping", "site-update", "site-recovered"}
)
"""Kinds a maintenance window silences: those about a site's availability, which planned work
causes. Certificates, advisories and patch days are not caused by maintenance and still go."""

OPENING_KINDS = frozenset({"site-down", "site-flapping"})
"""Suppressed kinds that mean "people should hear about this incident later if it lasts"."""

Reason = Literal["maintenance", "connectivity"]


def _dates(spec: Any) -> list[Any] | None:
    return None if spec is None else list(spec)


def build_window(w: MaintenanceWindow | WindowConfig, default_zone: str) -> Window:
    """The calendar window a config entry describes."""
    zone = w.zone or default_zone
    if isinstance(w, MaintenanceWindow) and w.from_ is not None and w.to is not None:
        return OneOffWindow.parse(w.from_, w.to, zone)
    days = getattr(w, "days", None) or WEEKDAYS
    start = w.start
    end = w.end
    assert start is not None and end is not None  # the model refuses a recurring one without
    return TimeWindow(days, start, end, ZoneInfo(zone), _dates(w.dates))


def windows_for(client: ClientConfig, site: Site | None, default_zone: str) -> Window | None:
    """The union of the site's and its client's maintenance windows, or None if there are none."""
    entries = list(client.maintenance) + (list(site.maintenance) if site is not None else [])
    if not entries:
        return None
    return AnyWindow(tuple(build_window(w, default_zone) for w in entries))


def in_maintenance(
    client: ClientConfig, site: Site | None, default_zone: str, now: datetime
) -> tuple[datetime, datetime] | None:
    """The (start, end) of the maintenance occurrence ``now`` is in, for this site, or None."""
    w = windows_for(client, site, default_zone)
    return None if w is None else w.occurrence(now)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A DOWN nobody was told about yet, keyed by its check."""

    check: str
    event: Event
    reason: Reason
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "event": self.event.to_json(),
            "reason": self.reason,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Suppressed:
        return cls(
            check=str(d["check"]),
            event=Event.from_json(dict(d["event"])),
            reason=d["reason"],
            at=datetime.fromisoformat(d["at"]),
        )


def record_suppressed(
    suppressed: Mapping[str, Suppressed], check: str, event: Event, reason: Reason, now: datetime
) -> dict[str, Suppressed]:
    """Bookkeeping for one suppressed event: remember a DOWN, forget it on recovery."""
    out = dict(suppressed)
    if event.kind in OPENING_KINDS:
        out.setdefault(check, Suppressed(check, event, reason, now))
    elif event.kind == "site-recovered":
        out.pop(check, None)
    return out


def follow_ups(
    suppressed: Mapping[str, Suppressed],
    still_suppressed: Callable[[Suppressed], bool],
    is_down: Callable[[str], bool],
    now: datetime,
) -> tuple[list[Event], dict[str, Suppressed]]:
    """The site-down notices due now that suppression has ended, and the records left.

    A record whose check is no longer down is dropped silently; one still suppressed stays.
    """
    events: list[Event] = []
    left: dict[str, Suppressed] = {}
    for check, rec in suppressed.items():
        if still_suppressed(rec):
            left[check] = rec
            continue
        if not is_down(check):
            continue
        ev = rec.event
        why = "maintenance window" if rec.reason == "maintenance" else "connectivity problem"
        events.append(
            dataclasses.replace(
                ev,
                kind="site-down",
                key=f"{ev.key}|after-{rec.reason}",
                at=now,
                details={**ev.details, "held_by": why, "held_since": rec.at.isoformat()},
            )
        )
    return events, left
