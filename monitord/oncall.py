"""Who is on call at an instant (pure): a weekly rota with overrides.

- The rota is a list of people who take turns a week each, in list order. A turn starts at
  the weekly ``handover`` (``"mon 09:00"``) on the agency's wall clock, so it stays 09:00
  across clock changes (a turn spanning a change is an hour shorter or longer).
- The first person's first turn starts at the first handover on or after ``start``
  (``oncall.start``, default 2024-01-01); turns before it are counted backwards the same way.
- Overrides (``{from, to, name}``, naive times in the agency's zone) replace the rota for
  ``[from, to)``; when several cover an instant the one listed last wins.

Nothing here reads the clock: every function takes ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitord.calendar.hours import parse_weekday, require_aware, wall_to_utc
from monitord.config.models import OncallConfig, OncallPerson

WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Handover:
    weekday: int
    """``date.weekday()`` numbering (0 = Monday)."""
    at: time


def parse_handover(text: str) -> Handover:
    """``"mon 09:00"`` -> Handover(0, 09:00). The config model has validated the shape."""
    day, _, hhmm = text.strip().partition(" ")
    return Handover(parse_weekday(day), time.fromisoformat(hhmm.strip()))


@dataclass(frozen=True, slots=True)
class OnCall:
    person: OncallPerson
    since: datetime
    """When this person's current turn (or override) began (UTC)."""
    until: datetime
    """When it ends: the next handover, or the override's end (UTC)."""
    reason: str
    """``rota`` or ``override``."""


def _first_handover_on_or_after(d: date, h: Handover) -> date:
    return d + timedelta(days=(h.weekday - d.weekday()) % 7)


def last_handover(now: datetime, h: Handover, zone: ZoneInfo) -> date:
    """The local date of the latest handover at or before ``now``."""
    at = require_aware(now)
    local = at.astimezone(zone).date()
    d = local - timedelta(days=(local.weekday() - h.weekday) % 7)
    if wall_to_utc(d, h.at, zone) > at:
        d -= WEEK
    return d


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)


def rota_turn(
    rota: Sequence[OncallPerson], h: Handover, start: date, zone: ZoneInfo, now: datetime
) -> OnCall:
    """Whose turn it is on the rota at ``now`` (ignoring overrides)."""
    if not rota:
        raise ValueError("the on-call rota is empty; list at least one person under oncall.rota")
    turn_day = last_handover(now, h, zone)
    first = _first_handover_on_or_after(start, h)
    index = ((turn_day - first).days // 7) % len(rota)
    return OnCall(
        person=rota[index],
        since=wall_to_utc(turn_day, h.at, zone),
        until=wall_to_utc(turn_day + WEEK, h.at, zone),
        reason="rota",
    )


def on_call(config: OncallConfig, zone: ZoneInfo, now: datetime) -> OnCall:
    """Who is on call at ``now``: an override covering ``now`` (the last listed wins), else
    the rota's turn. An override naming nobody in the rota is skipped (the loader refuses it)."""
    at = require_aware(now)
    people = {p.name: p for p in config.rota}
    for ov in reversed(config.overrides):
        lo, hi = _local(ov.from_, zone), _local(ov.to, zone)
        if lo <= at < hi and ov.name in people:
            return OnCall(people[ov.name], lo, hi, "override")
    turn = rota_turn(config.rota, parse_handover(config.handover), config.start, zone, at)
    # An override starting inside this turn ends the rota part early.
    starts = [
        _local(ov.from_, zone)
        for ov in config.overrides
        if at < _local(ov.from_, zone) < turn.until and ov.name in people
    ]
    if starts:
        turn = OnCall(turn.person, turn.since, min(starts), turn.reason)
    return turn


def recipient_for(person: OncallPerson, notifier_type: str) -> str:
    """The address a notifier of ``notifier_type`` pages ``person`` at: the PagerDuty or
    Opsgenie user id for those, else the person's e-mail (empty when they have none)."""
    if notifier_type == "pagerduty" and person.pagerduty_user:
        return person.pagerduty_user
    if notifier_type == "opsgenie" and person.opsgenie_user:
        return person.opsgenie_user
    return person.email or ""
