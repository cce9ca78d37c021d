"""Who is told about an event (pure).

Part 1's rule: a client contact gets an event when its ``notify:`` list has the event's kind
(events.CONTACT_KIND); events for the agency only (unknown inventories, node connectivity, overdue
tickets) go to ``agency.support_email``. Each notification's key is the event key plus notifier
and recipient, so a re-routed event is never queued twice.
"""

from __future__ import annotations

from monitord.config.models import ClientConfig, Config
from monitord.events import CONTACT_KIND, Event
from monitord.notify.base import Notification

AGENCY_KINDS = frozenset({"security-unknown", "connectivity", "ticket-overdue", "psa-heads-up"})


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
    recipients: list[tuple[str, str]] = []
    if event.kind in AGENCY_KINDS or event.kind == "test":
        if config.main.agency.support_email:
            recipients.append((config.main.agency.name, config.main.agency.support_email))
    else:
        client = next((c for c in config.clients if c.client == event.client), None)
        if client is not None:
            recipients.extend(contacts_for(event, client))
    seen: set[str] = set()
    out: list[Notification] = []
    for name, addr in recipients:
        if addr.lower() in seen:
            continue
        seen.add(addr.lower())
        out.append(
            Notification(
                key=notification_key(event, notifier, addr),
                notifier=notifier,
                recipient=addr,
                recipient_name=name,
                event=event,
            )
        )
    return out
