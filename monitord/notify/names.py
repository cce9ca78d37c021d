"""The notifier names and types a configuration declares, as data: what the pure routing needs
to know about notifiers, without loading them (:mod:`monitord.notify.plugins` finds, checks and
builds them, and re-exports these names).
"""

from __future__ import annotations

from monitord.config.models import EMAIL_NOTIFIER, Config

EMAIL = EMAIL_NOTIFIER
"""The notifier every configuration with ``smtp:`` has: e-mail to each notification's recipient."""

TICKETS = "tickets"
TICKETS_LOCAL = "tickets-local"
TICKET_TYPES = frozenset(
    {TICKETS_LOCAL, "jira", "zendesk", "freshdesk", "redmine", "helpdesk-email"}
)
"""The built-in ticket systems. The notifier named ``tickets`` of type ``tickets-local`` exists
unless the configuration has a notifier named ``tickets`` or one of these types of its own (a
third-party ticket plugin is used as the ``tickets`` target when it is named ``tickets``)."""


def configured_types(config: Config) -> dict[str, str]:
    """Notifier name → type, as the configuration has them (``email`` included with smtp)."""
    out: dict[str, str] = {}
    if config.main.smtp is not None:
        out[EMAIL] = EMAIL
    for name, entry in config.main.notifiers.items():
        out[name] = entry.type
    if TICKETS not in out and not TICKET_TYPES & set(out.values()):
        # Every problem becomes a ticket: without a ticket system configured, they are kept
        # in monitord's own store (`monitord tickets list`).
        out[TICKETS] = TICKETS_LOCAL
    return out


__all__ = ["EMAIL", "TICKETS", "TICKETS_LOCAL", "TICKET_TYPES", "configured_types"]
