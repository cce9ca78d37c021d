"""Who is told about an event (pure).

Part 1's rule: a client contact gets an event when its ``notify:`` list has the event's kind
(events.CONTACT_KIND); events for the agency only (unknown inventories, node connectivity, overdue
tickets) go to ``agency.support_email``. Each notification's key is the event key plus notifier
and recipient, so a re-routed event is never queued twice.

Part 2's rules (security advisories): ``security-now`` also goes to ``agency.support_email``
(standing in for the urgent ticket) and, outside office hours, to the on-call person
(:func:`oncall_recipients`); ``patch-day`` also goes to ``agency.support_email`` (standing in for
the patch-day ticket). Part 3 replaces these with configured routes.
"""

from __future__ import annotations

from functools import lru_cache

from monitord.calendar import BusinessCalendar
from monitord.config.models import Agency, ClientConfig, Config
from monitord.events import CONTACT_KIND, Event
from monitord.notify.base import Notification

AGENCY_KINDS = frozenset({"security-unknown", "connectivity", "ticket-overdue", "psa-heads-up"})

AGENCY_COPY_KINDS = frozenset({"security-now", "patch-day"})
"""Client events the agency's support address also gets (standing in for a ticket)."""

ONCALL_OUT_OF_HOURS_KINDS = frozenset({"security-now"})
"""Kinds that page the on-call person when they happen outside office hours."""


@lru_cache(maxsize=8)
def agency_calendar(agency: Agency) -> BusinessCalendar:
    """The agency's office calendar (cached: building one loads the holiday tables)."""
    return BusinessCalendar.from_agency(agency)


def oncall_recipients(event: Event, config: Config) -> list[tuple[str, str, str]]:
    """(notifier, name, address) of whoever is on call for ``event``.

    Until part 3 brings rotas and paging: ``security.oncall_notifier`` (``email``) to
    ``agency.support_email``. Part 3 swaps this function for the configured rota.
    """
    agency = config.main.agency
    if not agency.support_email:
        return []
    return [(config.main.security.oncall_notifier, f"{agency.name} on call", agency.support_email)]


def notification_key(event: Event, notifier: str, recipient: str) -> str:
    return f"{event.key}|{notifier}|{recipient}"


def contacts_for(event: Event, client: ClientConfig) -> list[tuple[str, str]]:
    """(name, e-mail) of the client's contacts who asked for this kind of event."""
    wanted = CONTACT_KIND.get(event.kind)
    if wanted is None:
        return []
    return [(c.name, c.email) for c in client.contacts if wanted in c.notify]


def route(event: Event, config: Config, notifier: str = "email") -> list[Notification]:
    """The notifications one event makes under the part-1 rules."""
    recipients: list[tuple[str, str, str]] = []
    agency = config.main.agency
    if event.kind in AGENCY_KINDS or event.kind == "test":
        if agency.support_email:
            recipients.append((notifier, agency.name, agency.support_email))
    else:
        client = next((c for c in config.clients if c.client == event.client), None)
        if client is not None:
            recipients.extend((notifier, name, addr) for name, addr in contacts_for(event, client))
        if event.kind in AGENCY_COPY_KINDS and agency.support_email:
            recipients.append((notifier, agency.name, agency.support_email))
        if event.kind in ONCALL_OUT_OF_HOURS_KINDS and not agency_calendar(agency).is_office_time(
            event.at
        ):
            recipients.extend(oncall_recipients(event, config))
    seen: set[tuple[str, str]] = set()
    out: list[Notification] = []
    for via, name, addr in recipients:
        if (via, addr.lower()) in seen:
            continue
        seen.add((via, addr.lower()))
        out.append(
            Notification(
                key=notification_key(event, via, addr),
                notifier=via,
                recipient=addr,
                recipient_name=name,
                event=event,
            )
        )
    return out
