"""Tickets: the pure model every ticket notifier shares, and the overdue rule (the user's guide
is docs/tickets.md).

A ticket is made from the first event of a *thread* (one incident, one advisory for one site,
one patch day): it records the client, site, kind, a priority mapped from the kind, the
respond-by time (one working hour after the event, :meth:`BusinessCalendar.respond_by`), a
title and a body. Later events of the same thread do not open another ticket: they comment
on it, and a site's recovery (``site-recovered``) comments and resolves it
(:func:`plan_action`).

Everything here is pure: no clock, no store, no network. The notifiers
(``monitord.notify.tickets_local``, ``jira``, ``zendesk``, ``freshdesk``, ``redmine``,
``helpdesk_email``) do the I/O; :func:`deliver` is the one send flow the external ones share
(it only calls the store and the API object it is given; their common plumbing is
:class:`monitord.notify.ticketing.TicketNotifier`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol
from zoneinfo import ZoneInfo

from monitord.calendar.hours import BusinessCalendar, agency_calendar
from monitord.events import Event
from monitord.notify.base import Notification
from monitord.notify.render import compose, format_time, one_line, subject_for, text_blocks
from monitord.store.base import LocalTicketRow, TicketOutcome

if TYPE_CHECKING:
    from monitord.config.models import Config
    from monitord.store.base import TicketStore

Priority = Literal["urgent", "high", "normal", "low"]

PRIORITY_ORDER: tuple[Priority, ...] = ("urgent", "high", "normal", "low")

PRIORITIES: dict[str, Priority] = {
    "security-now": "urgent",
    "site-down": "high",
    "site-reminder": "high",
    "site-flapping": "high",
    "site-update": "high",
    "connectivity": "high",
    "ticket-overdue": "high",
    "certificate": "normal",
    "patch-day": "normal",
    "hours": "normal",
    "security-unknown": "normal",
    "psa-heads-up": "normal",
    "digest": "normal",
    "site-recovered": "low",
    "test": "low",
}
"""Event kind → ticket priority: a Highly critical advisory is urgent (patched at once, even out
of hours); a site down is high; certificates and patch-day work are normal (planned)."""

RESOLVING_KINDS = frozenset({"site-recovered"})
"""Kinds that end their thread's ticket: it is commented on and resolved."""

TITLE_MAX_CHARS = 255
"""The shortest title limit among the ticket APIs (Jira's summary, Redmine's subject); the
rendered subject is at most 160 characters anyway."""

BODY_MAX_CHARS = 30_000
"""Ticket bodies and comments are cut here: Jira refuses a description over 32,767 characters;
no monitord event needs more than a few thousand."""

TEXT_WIDTH = 72
"""Paragraphs are wrapped as in the e-mail (monitord.notify.render.TEXT_WIDTH)."""

Action = Literal["open", "comment", "resolve", "skip-duplicate", "skip-nothing"]


def priority_for(kind: str) -> Priority:
    """The ticket priority of an event kind (``normal`` for a kind not listed)."""
    return PRIORITIES.get(kind, "normal")


def plan_action(resolving: bool, has_ticket: bool, already_applied: bool) -> Action:
    """What one notification does to its thread's ticket (pure).

    - a notification key already applied (an outbox re-send): nothing (``skip-duplicate``);
    - a recovery with a ticket: comment and resolve; without one: nothing to resolve
      (``skip-nothing``: the DOWN was never ticketed, e.g. routed elsewhere);
    - any other event: comment on the thread's ticket, or open one.
    """
    if already_applied:
        return "skip-duplicate"
    if resolving:
        return "resolve" if has_ticket else "skip-nothing"
    return "comment" if has_ticket else "open"


OUTCOMES: dict[Action, TicketOutcome] = {
    "open": "opened",
    "comment": "commented",
    "resolve": "resolved",
    "skip-duplicate": "duplicate",
    "skip-nothing": "nothing",
}


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a ticket notifier opens for one thread (pure value)."""

    thread: str
    client: str
    site: str | None
    check: str | None
    kind: str
    priority: Priority
    title: str
    body: str
    opened_at: datetime
    respond_by: datetime
    client_name: str
    tags: tuple[str, ...]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)


def event_text(event: Event, tz: ZoneInfo) -> str:
    """The event as plain text for a ticket or a comment: headline, paragraphs, facts and
    table of the e-mail's template, without greeting or mail footer (pure)."""
    _topic, body = compose(event, "", tz)
    lines = [body.headline, "", *text_blocks(body)]
    return "\n".join(lines).rstrip() + "\n"


def title_for(event: Event, agency_name: str, tz: ZoneInfo) -> str:
    """The ticket's title: the e-mail subject of the thread (stable for the whole thread)."""
    topic, _body = compose(event, agency_name, tz)
    return _cut(one_line(subject_for(event, topic, agency_name)), TITLE_MAX_CHARS)


def _with_failing(title: str, event: Event) -> str:
    """A site incident's ticket title also names what failed when it opened (``… — tcp
    solr.acme.example:8983: connection refused``): ``tickets list`` tells incidents apart."""
    failing = event.details.get("failing")
    if not isinstance(failing, list) or not failing:
        return title
    return _cut(one_line(f"{title} — " + "; ".join(str(f) for f in failing)), TITLE_MAX_CHARS)


def tags_for(event: Event, priority: Priority) -> tuple[str, ...]:
    """Labels every ticket API accepts (no spaces): monitord, the kind, client, site."""
    raw = ["monitord", event.kind, event.client, event.site or "", f"priority-{priority}"]
    out: list[str] = []
    for tag in raw:
        t = one_line(tag).replace(" ", "-").lower()[:50]
        if t and t not in out:
            out.append(t)
    return tuple(out)


def ticket_for(event: Event, calendar: BusinessCalendar, agency_name: str) -> Ticket:
    """The ticket an event opens (pure): priority by kind, respond-by one working hour after
    the event's time, title and body rendered."""
    tz = calendar.zone
    priority = priority_for(event.kind)
    respond_by = calendar.respond_by(event.at)
    client_name = str(event.details.get("client_name") or event.client or agency_name)
    facts = [
        ("Client", client_name + (f" ({event.client})" if event.client else "")),
        ("Site", event.site or "—"),
        ("Check", event.check or "—"),
        ("Kind", event.kind),
        ("Priority", priority),
        ("Received", format_time(event.at, tz)),
        ("Respond by", format_time(respond_by, tz)),
        ("Thread", one_line(event.thread)),
    ]
    width = max(len(label) for label, _ in facts) + 1
    ticket_block = "\n".join(f"{(label + ':').ljust(width)} {value}" for label, value in facts)
    body = (
        event_text(event, tz)
        + "\n-- \n"
        + ticket_block
        + "\n\n"
        + _wrap(
            f"Opened by {one_line(agency_name)}'s monitoring. Later events of this incident are "
            "added here as comments; a recovery resolves the ticket."
        )
        + "\n"
    )
    return Ticket(
        thread=event.thread,
        client=event.client,
        site=event.site,
        check=event.check,
        kind=event.kind,
        priority=priority,
        title=_with_failing(title_for(event, agency_name, tz), event),
        body=_cut(body, BODY_MAX_CHARS),
        opened_at=event.at,
        respond_by=respond_by,
        client_name=client_name,
        tags=tags_for(event, priority),
    )


def comment_for(event: Event, tz: ZoneInfo) -> str:
    """A follow-up (reminder, recovery, revision) as a comment on the thread's ticket (pure)."""
    head = f"{event.kind} at {format_time(event.at, tz)}"
    return _cut(head + "\n\n" + event_text(event, tz), BODY_MAX_CHARS)


# ---------------------------------------------------------------- the SLA: overdue tickets


def overdue(tickets: Iterable[LocalTicketRow], now: datetime) -> list[LocalTicketRow]:
    """The tickets whose reminder is due at ``now`` (pure): still ``open`` (neither
    acknowledged nor resolved), due (``respond_by <= now``) and not reminded yet. Oldest due
    first."""
    due = [
        t for t in tickets if t.status == "open" and t.reminded_at is None and t.respond_by <= now
    ]
    return sorted(due, key=lambda t: (t.respond_by, t.id))


def reminder_event(ticket: LocalTicketRow, now: datetime, tz: ZoneInfo) -> Event:
    """The one ``ticket-overdue`` event for a ticket not acknowledged in time (pure). It
    shares the ticket's thread, so mail threads with the incident's."""
    late = now - ticket.respond_by
    minutes = int(late.total_seconds() // 60)
    summary = (
        f"Ticket #{ticket.id} ({ticket.priority}) is not acknowledged and was due "
        f"{format_time(ticket.respond_by, tz)}: {ticket.title}"
    )
    return Event(
        kind="ticket-overdue",
        client=ticket.client,
        site=ticket.site,
        check=ticket.check,
        at=now,
        key=f"ticket-overdue|{ticket.thread}|{ticket.id}",
        thread=ticket.thread,
        summary=summary,
        severity="critical" if ticket.priority == "urgent" else "warning",
        details={
            "ticket": ticket.id,
            "title": ticket.title,
            "priority": ticket.priority,
            "opened": ticket.opened_at.isoformat(),
            "respond_by": ticket.respond_by.isoformat(),
            "minutes_late": minutes,
            "acknowledge_with": f"monitord tickets ack {ticket.id}",
        },
    )


def reminder_recipients(
    ticket: LocalTicketRow, event: Event, config: Config, now: datetime, email: str = "email"
) -> list[Notification]:
    """Who is reminded (pure): the agency's support address; for an urgent ticket out of
    office hours also whoever is on call (routing's on-call resolution)."""
    from monitord.routing import notification_key, resolve_target

    targets = ["agency"]
    if ticket.priority == "urgent" and not agency_calendar(config.main.agency).is_office_time(now):
        targets.append("oncall-pager")
    out: dict[tuple[str, str], Notification] = {}
    for target in targets:
        for via, name, addr in resolve_target(target, event, config, now, email):
            out.setdefault(
                (via, addr.lower()),
                Notification(notification_key(event, via, addr), via, addr, name, event),
            )
    return list(out.values())


# ---------------------------------------------------------------- the external notifiers' flow


class TicketApi(Protocol):
    """What an external ticket notifier implements; :func:`deliver` decides which to call."""

    async def find(self, ticket: Ticket) -> str | None:
        """The id of a ticket already made for ``ticket.thread`` by its idempotency field
        (Zendesk's external_id, Jira's label), or None when the API has no such lookup."""

    async def create(self, ticket: Ticket) -> str:
        """Open the ticket; return its id."""

    async def comment(self, external_id: str, text: str, event: Event) -> None: ...

    async def resolve(self, external_id: str, text: str, event: Event) -> None:
        """Comment and resolve (as far as the API allows)."""


async def deliver(
    api: TicketApi,
    name: str,
    store: TicketStore | None,
    notification: Notification,
    calendar: BusinessCalendar,
    agency_name: str,
    now: datetime,
) -> str | None:
    """Apply one notification to its thread's external ticket; returns the ticket's id.

    Idempotent on ``notification.key`` and per thread: a key already applied is answered from
    the store; the thread's ticket is looked up (store, then the API's own idempotency field)
    before one is created, and a created ticket is recorded at once, so an outbox re-send
    never opens a second one. Without a store (``monitord notify test``) it just acts.
    """
    event = notification.event
    if store is not None:
        done = await store.ticket_applied(name, notification.key)
        if done is not None:
            return done
    target = event.details.get(COMMENT_ON)
    if isinstance(target, str) and target:
        # A comment on a ticket of the helpdesk's own (an estimate the client must approve),
        # not on the thread's ticket: the thread records it, so a re-send is answered above.
        await api.comment(target, comment_for(event, calendar.zone), event)
        if store is not None:
            await store.record_ticket(name, event.thread, notification.key, target, now)
        return target
    if store is not None:
        ref = await store.ticket_ref(name, event.thread)
        external = ref.external_id if ref is not None else None
    else:
        external = None
    ticket = ticket_for(event, calendar, agency_name)
    resolving = event.kind in RESOLVING_KINDS
    if external is None:
        external = await api.find(ticket)
        if external is not None and store is not None:
            await store.record_ticket(name, event.thread, None, external, now)
    action = plan_action(resolving, external is not None, False)
    if action == "open":
        external = await api.create(ticket)
        if store is not None:
            await store.record_ticket(name, event.thread, notification.key, external, now)
        return external
    if external is None:  # skip-nothing: a recovery without a ticket
        return None
    if action == "resolve":
        await api.resolve(external, comment_for(event, calendar.zone), event)
    else:
        await api.comment(external, comment_for(event, calendar.zone), event)
    if store is not None:
        await store.record_ticket(
            name, event.thread, notification.key, external, now, resolved=action == "resolve"
        )
    return external


COMMENT_ON = "comment_on"
"""An event detail naming a ticket of the helpdesk itself (its id there) to comment on instead
of the thread's own ticket."""


def thread_label(thread: str) -> str:
    """A short, stable, label-safe id of a thread (``monitord-`` + 32 hex characters): the
    idempotency field of the ticket APIs (Zendesk external_id, Jira label, Freshdesk tag)."""
    return "monitord-" + hashlib.sha256(thread.encode("utf-8")).hexdigest()[:32]


def basic_auth(user: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def text_to_html(text: str) -> str:
    """Plain ticket text as simple HTML (Freshdesk descriptions and notes are HTML): escaped,
    paragraphs at blank lines, line breaks kept."""
    paras = [p for p in text.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paras
    )


def with_recipient(notification: Notification, address: str, name: str) -> Notification:
    return replace(notification, recipient=address, recipient_name=name)


def sort_tickets(rows: Sequence[LocalTicketRow]) -> list[LocalTicketRow]:
    """Open before acked before resolved, then by priority, then oldest due first."""
    status_rank = {"open": 0, "acked": 1, "resolved": 2}
    return sorted(
        rows,
        key=lambda t: (
            status_rank.get(t.status, 3),
            PRIORITY_ORDER.index(t.priority) if t.priority in PRIORITY_ORDER else 9,
            t.respond_by,
            t.id,
        ),
    )
