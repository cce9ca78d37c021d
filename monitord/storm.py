"""Alert storms (pure): grouping notifications into one message, and suspecting our own network.

Grouping
    Notifications for one client to one (notifier, recipient) within ``grouping.window`` go out
    as one message. The first one opens a group: due at ``now + window``, with a group key;
    later ones for the same (client, notifier, recipient) join it while it is open (before its
    due time). The outbox sender merges the due items of a group into one send
    (monitord.outbox). Notifications already held to a later time (office hours) are grouped
    by that due time instead, so everything held overnight for one person is one message.
    Only notifiers whose ``mergeable`` capability is true are grouped (see
    monitord.notify.base.is_mergeable); agency-only events (no client), pages (the on-call
    person) and URGENT_KINDS are never delayed.

Connectivity
    :func:`connectivity_step` decides, from how many checks fail right now, whether monitord
    itself has lost the network (see docs/routing.md): more than ``threshold`` of all checks
    with a result failing, and at least ``min_checks`` of them. Then canary URLs are probed;
    if they fail too (or none are configured) the node is *isolated*: one ``connectivity``
    event goes to the agency, client notifications are suppressed until the share drops
    again, and then one "connectivity restored" event goes out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitord.config.models import ConnectivityConfig
from monitord.events import Event
from monitord.notify.base import Notification

CANARY_RECHECK = timedelta(minutes=1)
"""While many checks fail but the canaries answered, they are probed again at most this
often: often enough to notice the network going, rarely enough not to hammer them."""

URGENT_KINDS = frozenset({"security-now"})
"""Kinds never delayed by a storm group: a highly critical advisory is acted on at once."""

GroupKey = tuple[str, str, str]
"""(client, notifier, recipient)."""


@dataclass(frozen=True, slots=True)
class OpenGroup:
    key: str
    due: datetime


def group_key(client: str, notifier: str, recipient: str, opened: datetime) -> str:
    return f"{client}|{notifier}|{recipient.lower()}|{opened.isoformat()}"


def assign_groups(
    notifications: Iterable[Notification],
    open_groups: Mapping[GroupKey, OpenGroup],
    now: datetime,
    window: timedelta,
    mergeable: Callable[[str], bool],
) -> tuple[list[Notification], dict[GroupKey, OpenGroup]]:
    """Give each groupable notification a group and a due time. Returns the notifications
    (others unchanged) and the open groups (those past their due dropped)."""
    groups = {k: g for k, g in open_groups.items() if g.due > now}
    out: list[Notification] = []
    for n in notifications:
        client = n.event.client
        if window <= timedelta(0) or not client or not mergeable(n.notifier) or n.page:
            out.append(n)
            continue
        is_held = n.due_at is not None and n.due_at > now
        if n.event.kind in URGENT_KINDS and not is_held:
            out.append(n)
            continue
        if n.due_at is not None and n.due_at > now:
            # Held (office hours): everything held to the same time for one person is one.
            held = f"{client}|{n.notifier}|{n.recipient.lower()}|held|{n.due_at.isoformat()}"
            out.append(dataclasses.replace(n, group=held))
            continue
        gk: GroupKey = (client, n.notifier, n.recipient.lower())
        g = groups.get(gk)
        if g is None:
            g = OpenGroup(group_key(client, n.notifier, n.recipient, now), now + window)
            groups[gk] = g
        out.append(dataclasses.replace(n, group=g.key, due_at=g.due))
    return out, groups


# ---------------------------------------------------------------- connectivity


@dataclass(frozen=True, slots=True)
class ConnectivityState:
    isolated: bool = False
    since: datetime | None = None
    """When the node was judged isolated."""
    canaries_ok_at: datetime | None = None
    """The last time the canaries answered while many checks failed."""


Announce = Literal["isolated", "restored"]


@dataclass(frozen=True, slots=True)
class ConnectivityStep:
    state: ConnectivityState
    probe_canaries: bool = False
    """Probe the canary URLs, then call again with the result."""
    announce: Announce | None = None


def share_exceeded(failing: int, total: int, rule: ConnectivityConfig) -> bool:
    """More than ``threshold`` of the checks with a result fail, and at least ``min_checks``."""
    return total > 0 and failing >= rule.min_checks and failing / total > rule.threshold


def connectivity_step(
    state: ConnectivityState,
    failing: int,
    total: int,
    canaries_ok: bool | None,
    now: datetime,
    rule: ConnectivityConfig,
) -> ConnectivityStep:
    """One decision. ``canaries_ok`` is the result of probing the canaries just now, or None
    when they were not probed for this decision."""
    if not share_exceeded(failing, total, rule):
        if state.isolated:
            return ConnectivityStep(ConnectivityState(), announce="restored")
        return ConnectivityStep(ConnectivityState())
    if state.isolated:
        return ConnectivityStep(state)
    if not rule.canaries or canaries_ok is False:
        return ConnectivityStep(ConnectivityState(isolated=True, since=now), announce="isolated")
    if canaries_ok:
        return ConnectivityStep(dataclasses.replace(state, canaries_ok_at=now))
    fresh = state.canaries_ok_at is not None and now - state.canaries_ok_at < CANARY_RECHECK
    return ConnectivityStep(state, probe_canaries=not fresh)


# ---------------------------------------------------------------- merging (the outbox's side)

_SEVERITY_ORDER = ("info", "warning", "error", "critical")


def merge_notifications(notes: Sequence[Notification]) -> Notification:
    """One ``digest`` notification standing for several of one group (same notifier and
    recipient), listing every event in ``details["events"]`` in time order. Its key (the
    idempotency key of the one send) is derived from the group and the merged keys, so a
    resend of the same merge is recognisably the same message."""
    if not notes:
        raise ValueError("nothing to merge")
    first = notes[0]
    events = sorted((n.event for n in notes), key=lambda e: (e.at, e.key))
    group = first.group or first.key
    digest_of = hashlib.sha256("\n".join(sorted(n.key for n in notes)).encode()).hexdigest()
    severity = max(
        (e.severity for e in events),
        key=lambda s: _SEVERITY_ORDER.index(s) if s in _SEVERITY_ORDER else 0,
    )
    client_name = next(
        (e.details["client_name"] for e in events if isinstance(e.details.get("client_name"), str)),
        first.event.client,
    )
    sites = sorted({e.site for e in events if e.site})
    event = Event(
        kind="digest",
        client=first.event.client,
        site=None,
        check=None,
        at=events[-1].at,
        key=f"digest|{group}|{digest_of[:16]}",
        thread=f"digest|{group}",
        summary=f"{len(events)} notices about {len(sites)} site(s) of {client_name}",
        severity=severity,
        details={
            "client_name": client_name,
            "events": [e.to_json() for e in events],
        },
    )
    return Notification(
        key=event.key,
        notifier=first.notifier,
        recipient=first.recipient,
        recipient_name=first.recipient_name,
        event=event,
        group=first.group,
    )
