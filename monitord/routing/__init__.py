"""Who is told about an event, and when (pure). The user's guide is docs/routing.md.

``routes:`` in monitord.yml is a list of ``{match, when, notify}``. Every route whose ``match``
fits the event applies; its ``when`` decides whether it applies now, is *held* to the next
office start (``office_hours`` matched out of hours), or does not apply now (``out_of_hours``
in office time, a named window that is closed). Recipients are de-duplicated per (notifier,
recipient); one due now beats the same one held.

With no ``routes:`` — or when none of the configured routes matches an event — the built-in
:data:`DEFAULT_ROUTES` apply:

- agency-only kinds (unknown inventories, node connectivity, overdue tickets, PSA heads-ups,
  tests) go to ``agency.support_email``;
- a client contact gets an event when its ``notify:`` list has the event's kind
  (events.CONTACT_KIND);
- ``security-now`` and ``patch-day`` also go to ``agency.support_email`` and ``security-now``
  out of hours pages the on-call person;
- every problem (:data:`TICKET_KINDS`: a site down, its reminders and flapping, its recovery, a
  certificate, security-now, security-unknown, patch-day) goes to ``tickets``: the built-in
  ``tickets-local`` notifier unless a ticket system is configured under that name;
- ``psa-heads-up`` (a PSA announcing a highly critical release) also goes to the on-call person.

Targets: a configured notifier's name (sent to that notifier's own destination), or one of the
pseudo-targets ``client-contacts``, ``agency``, ``oncall-pager`` and ``tickets``
(:func:`resolve_target`). Each notification's key is the event key plus notifier and
recipient, so a re-routed event is never queued twice.

Nothing here reads the clock: the daemon passes ``now``; :func:`route` without ``now`` judges
``when`` at the event's own time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from monitord.calendar import TimeWindow, agency_calendar
from monitord.config.models import (
    ClientConfig,
    Config,
    Route,
    RouteMatch,
    WindowConfig,
)
from monitord.events import CONTACT_KIND, Event
from monitord.notify.base import Notification
from monitord.notify.names import EMAIL as EMAIL
from monitord.notify.names import TICKET_TYPES, TICKETS, configured_types
from monitord.oncall import on_call, recipient_for

AGENCY_KINDS = frozenset({"security-unknown", "connectivity", "ticket-overdue", "psa-heads-up"})

AGENCY_COPY_KINDS = frozenset({"security-now", "patch-day"})
"""Client events the agency's support address is also mailed about (besides their ticket)."""

ONCALL_OUT_OF_HOURS_KINDS = frozenset({"security-now"})
"""Kinds that page the on-call person when they happen outside office hours."""

TICKET_KINDS = frozenset(
    {
        "site-down",
        "site-reminder",
        "site-flapping",
        "site-update",
        "site-recovered",
        "certificate",
        "security-now",
        "security-unknown",
        "patch-day",
        "hours",
    }
)
"""Kinds that go to the ``tickets`` target: every problem becomes a ticket. Reminders and
flapping are named, not left to the site-down rule (SITE_DOWN_LIKE), because the client-contacts
default route names them: they comment on the incident's ticket (or open one if the DOWN was
not ticketed); a recovery comments on and resolves it. ``site-update`` (a check joined or left
an open site incident) goes to the ticket alone by default: the client was told the site is
down, and hears again when all of it is back."""

SITE_DOWN_LIKE = frozenset({"site-reminder", "site-flapping"})
"""Kinds a route naming ``site-down`` also matches, unless some route names them itself."""

CLIENT_KINDS: tuple[str, ...] = (
    "site-down",
    "site-reminder",
    "site-recovered",
    "site-flapping",
    "certificate",
    "security-now",
    "patch-day",
    "hours",
)

DEFAULT_ROUTES: tuple[Route, ...] = (
    Route.model_validate(
        {"match": {"kind": sorted(AGENCY_KINDS | {"test"})}, "notify": ["agency"]}
    ),
    Route.model_validate({"match": {"kind": list(CLIENT_KINDS)}, "notify": ["client-contacts"]}),
    Route.model_validate({"match": {"kind": sorted(AGENCY_COPY_KINDS)}, "notify": ["agency"]}),
    Route.model_validate(
        {
            "match": {"kind": sorted(ONCALL_OUT_OF_HOURS_KINDS)},
            "when": "out_of_hours",
            "notify": ["oncall-pager"],
        }
    ),
    # Every problem becomes a ticket (a recovery comments on and resolves it).
    Route.model_validate({"match": {"kind": sorted(TICKET_KINDS)}, "notify": ["tickets"]}),
    # A PSA announcing a highly critical release: whoever is on call then must be ready.
    Route.model_validate({"match": {"kind": ["psa-heads-up"]}, "notify": ["oncall-pager"]}),
)
"""The built-in routes, for when none is configured or none matches (see the module docstring)."""

DEFAULT_GROUPING_WINDOW = timedelta(seconds=30)
"""Storm grouping when ``routes:`` are configured and ``grouping:`` is not: long enough for a
burst of failures from one cause to land in one message, short enough not to delay a page."""


@lru_cache(maxsize=64)
def named_window(window: WindowConfig, default_zone: str) -> TimeWindow:
    """The calendar window of a ``windows:`` entry."""
    dates = None if window.dates is None else list(window.dates)
    return TimeWindow(
        window.days, window.start, window.end, ZoneInfo(window.zone or default_zone), dates
    )


def grouping_window(config: Config) -> timedelta:
    """The storm-grouping window in force: ``grouping.window`` when written; else
    DEFAULT_GROUPING_WINDOW with configured ``routes:``; without, none (each notification is
    sent alone, at once)."""
    if config.main.grouping is not None:
        return config.main.grouping.window
    return DEFAULT_GROUPING_WINDOW if config.main.routes else timedelta(0)


def notification_key(event: Event, notifier: str, recipient: str) -> str:
    return f"{event.key}|{notifier}|{recipient}"


def find_client(config: Config, client_id: str) -> ClientConfig | None:
    return next((c for c in config.clients if c.client == client_id), None)


def contacts_for(event: Event, client: ClientConfig) -> list[tuple[str, str]]:
    """(name, e-mail) of the client's contacts who asked for this kind of event."""
    wanted = CONTACT_KIND.get(event.kind)
    if wanted is None:
        return []
    return [(c.name, c.email) for c in client.contacts if wanted in c.notify]


def oncall_recipients(
    event: Event, config: Config, now: datetime | None = None
) -> list[tuple[str, str, str]]:
    """(notifier, name, address) of whoever is on call at ``now`` (default: the event's time).

    With an ``oncall:`` rota: its person on call, through ``oncall.notifier`` (their PagerDuty
    or Opsgenie user for those, else their e-mail). Without one: ``security.oncall_notifier``
    to ``agency.support_email`` (an agency without a rota is paged at its support address).
    """
    at = now or event.at
    oc = config.main.oncall
    agency = config.main.agency
    if oc is not None:
        who = on_call(oc, ZoneInfo(agency.timezone), at)
        nc = config.main.notifiers.get(oc.notifier)
        kind = nc.type if nc is not None else oc.notifier
        return [(oc.notifier, who.person.name, recipient_for(who.person, kind))]
    via = config.main.security.oncall_notifier
    if not agency.support_email or (via == EMAIL and config.main.smtp is None):
        return []
    return [(via, f"{agency.name} on call", agency.support_email)]


def oncall_gap(config: Config) -> str | None:
    """Why nobody can be paged through ``oncall-pager``, or None when someone can (who is on
    call changes; whether anyone can be reached does not). Pure: read from the configuration."""
    main = config.main
    oc = main.oncall
    if oc is not None:
        nc = main.notifiers.get(oc.notifier)
        kind = nc.type if nc is not None else oc.notifier
        if kind == EMAIL:
            if main.smtp is None:
                return (
                    f"oncall.notifier is {oc.notifier!r} (e-mail) but there is no smtp section; "
                    "add smtp to monitord.yml or page through pagerduty/opsgenie"
                )
            missing = [p.name for p in oc.rota if not p.email]
            if missing:
                return (
                    f"oncall.notifier is {oc.notifier!r} (e-mail) but {', '.join(missing)} "
                    "in oncall.rota have no email; add one for each"
                )
        return None
    via = main.security.oncall_notifier
    if not main.agency.support_email:
        return (
            "there is no oncall: rota and no agency.support_email to page instead; add an "
            "oncall: section (rota, notifier) to monitord.yml"
        )
    if via == EMAIL and main.smtp is None:
        return (
            "there is no oncall: rota, and paging falls back to e-mail to "
            "agency.support_email, but there is no smtp section; add oncall: or smtp:"
        )
    return None


def paging_warnings(config: Config) -> list[str]:
    """One line for each route that pages on-call (``oncall-pager``) when nobody can be paged:
    a page that goes nowhere is found by ``check-config``, not at 3 a.m."""
    gap = oncall_gap(config)
    if gap is None:
        return []
    out = [
        f"routes[{i}] ({short_form(r)}) pages on-call, but nobody can be paged: {gap}"
        for i, r in enumerate(config.main.routes)
        if "oncall-pager" in r.notify
    ]
    for r in DEFAULT_ROUTES:
        if "oncall-pager" not in r.notify:
            continue
        kinds = set(r.match.kind)
        if any(not c.match.kind or kinds & set(c.match.kind) for c in config.main.routes):
            continue  # configured routes take these kinds over
        out.append(
            f"the built-in route {short_form(r)} pages on-call, but nobody can be paged: {gap}"
        )
    return out


def _agency(config: Config, email: str) -> list[tuple[str, str, str]]:
    agency = config.main.agency
    if not agency.support_email or config.main.smtp is None:
        # No address, or no way to mail it (the daemon warns about the latter at start).
        return []
    return [(email, agency.name, agency.support_email)]


def resolve_target(
    target: str, event: Event, config: Config, now: datetime, email: str = EMAIL
) -> list[tuple[str, str, str]]:
    """(notifier, recipient name, recipient address) for one ``notify:`` entry."""
    if target == "client-contacts":
        client = find_client(config, event.client)
        if client is None:
            return []
        return [(email, name, addr) for name, addr in contacts_for(event, client)]
    if target in ("agency", EMAIL):
        # `email` on its own names no one: it means the agency's address.
        return _agency(config, email)
    if target == "oncall-pager":
        return oncall_recipients(event, config, now)
    if target == TICKETS:
        types = configured_types(config)
        if TICKETS in types:
            return [(TICKETS, "", "")]
        # A configured ticket system under another name (`jira: {type: jira}`) is the target.
        return [(sorted(n for n, t in types.items() if t in TICKET_TYPES)[0], "", "")]
    return [(target, "", "")]


# ---------------------------------------------------------------- matching


def _kind_matches(kinds: Sequence[str], kind: str, named: frozenset[str]) -> bool:
    if not kinds or kind in kinds:
        return True
    return kind in SITE_DOWN_LIKE and "site-down" in kinds and kind not in named


def match_problem(
    m: RouteMatch, event: Event, client: ClientConfig | None, named: frozenset[str]
) -> str | None:
    """Why the route's ``match`` does not fit ``event``, or None when it does."""
    if not _kind_matches(m.kind, event.kind, named):
        return f"kind is {event.kind}"
    if m.client and event.client not in m.client:
        return f"client is {event.client or '(none)'}"
    if m.client_cover is not None:
        cover = client.cover if client is not None else None
        if cover != m.client_cover:
            return f"client cover is {cover or '(no such client)'}"
    if m.site and (event.site or "") not in m.site:
        return f"site is {event.site or '(none)'}"
    if m.severity and event.severity not in m.severity:
        return f"severity is {event.severity}"
    return None


Status = Literal["applies", "held", "not-now", "no-match"]


@dataclass(frozen=True, slots=True)
class RouteTrace:
    """What one route did with one event (for ``monitord routes explain`` and logs)."""

    index: int
    """1-based position in ``routes:`` (or in DEFAULT_ROUTES when ``default``)."""
    default: bool
    route: Route
    status: Status
    reason: str
    held_until: datetime | None = None
    notifications: tuple[Notification, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    notifications: list[Notification]
    traces: list[RouteTrace]
    defaults_used: bool


def when_status(when: str, config: Config, now: datetime) -> tuple[Status, str, datetime | None]:
    """Whether a route with this ``when`` applies at ``now``, is held (until when), or not."""
    cal = agency_calendar(config.main.agency)
    if when == "always":
        return "applies", "always", None
    if when == "office_hours":
        if cal.is_office_time(now):
            return "applies", "office hours now", None
        until = cal.next_office_start(now).astimezone(UTC)
        return "held", "out of hours: held to the next office start", until
    if when == "out_of_hours":
        if cal.is_office_time(now):
            return "not-now", "it is office time; the route is for out of hours", None
        return "applies", "out of hours now", None
    window = config.main.windows.get(when)
    if window is None:
        return "not-now", f"no window named {when!r} in windows:", None
    if named_window(window, config.main.agency.timezone).contains(now):
        return "applies", f"window {when} is open", None
    return "not-now", f"window {when} is closed", None


def _evaluate(
    routes: Sequence[Route],
    default: bool,
    event: Event,
    config: Config,
    now: datetime,
    email: str,
) -> list[RouteTrace]:
    client = find_client(config, event.client) if event.client else None
    named = frozenset(k for r in routes for k in r.match.kind)
    traces: list[RouteTrace] = []
    for i, r in enumerate(routes, start=1):
        problem = match_problem(r.match, event, client, named)
        if problem is not None:
            traces.append(RouteTrace(i, default, r, "no-match", problem))
            continue
        status, reason, until = when_status(r.when, config, now)
        notes: list[Notification] = []
        if status in ("applies", "held"):
            for target in r.notify:
                for via, name, addr in resolve_target(target, event, config, now, email):
                    notes.append(
                        Notification(
                            key=notification_key(event, via, addr),
                            notifier=via,
                            recipient=addr,
                            recipient_name=name,
                            event=event,
                            due_at=until,
                            page=target == "oncall-pager",
                        )
                    )
        traces.append(RouteTrace(i, default, r, status, reason, until, tuple(notes)))
    return traces


def plan(event: Event, config: Config, now: datetime | None = None, *, email: str = EMAIL) -> Plan:
    """Every route's verdict on ``event`` at ``now`` and the notifications that result."""
    at = now or event.at
    traces: list[RouteTrace] = []
    defaults_used = True
    if config.main.routes:
        traces = _evaluate(config.main.routes, False, event, config, at, email)
        defaults_used = all(t.status == "no-match" for t in traces)
    if defaults_used:
        traces += _evaluate(DEFAULT_ROUTES, True, event, config, at, email)
    chosen: dict[tuple[str, str], Notification] = {}
    for t in traces:
        for n in t.notifications:
            k = (n.notifier, n.recipient.lower())
            prev = chosen.get(k)
            if prev is None:
                chosen[k] = n
                continue
            if prev.due_at is not None and (n.due_at is None or n.due_at < prev.due_at):
                # The same person told now (or sooner) by another route: keep the first
                # position, take the earlier time.
                prev = chosen[k] = replace(prev, due_at=n.due_at)
            if n.page and not prev.page:
                # Also the person on call: a page, never delayed by grouping.
                chosen[k] = replace(prev, page=True)
    return Plan(list(chosen.values()), traces, defaults_used)


def route(
    event: Event, config: Config, notifier: str = EMAIL, *, now: datetime | None = None
) -> list[Notification]:
    """The notifications one event makes at ``now`` (default: the event's time).

    ``notifier`` is the name of the e-mail notifier (client contacts, agency mail)."""
    return plan(event, config, now, email=notifier).notifications


def short_form(r: Route) -> str:
    """One line for a route: ``kind=site-down client_cover=out_of_hours when=out_of_hours ->
    oncall-pager``."""
    m = r.match
    parts = []
    for name, values in (
        ("kind", m.kind),
        ("client", m.client),
        ("site", m.site),
        ("severity", m.severity),
    ):
        if values:
            parts.append(f"{name}={','.join(values)}")
    if m.client_cover:
        parts.append(f"client_cover={m.client_cover}")
    parts.append(f"when={r.when}")
    return " ".join(parts) + " -> " + (", ".join(r.notify) or "(nobody)")
