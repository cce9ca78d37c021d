"""``helpdesk-email``: a ticket by e-mail to a helpdesk's inbound address.

Nearly every helpdesk (Zendesk, Freshdesk, Jira Service Management, Redmine's mail handler,
osTicket, Request Tracker…) turns mail to its support address into a ticket and threads
replies onto it. Each notification is a message through ``smtp:`` to ``address`` with:

- the e-mail notifier's message (same text, HTML, ``Message-ID`` derived from the
  notification key, ``In-Reply-To``/``References`` to the thread's root), so a re-send after a
  crash carries the same Message-ID and helpdesks that de-duplicate by it drop it;
- the subject ``[{label}] {title}`` where ``label`` is the thread's ``monitord-<hash>`` (the
  same for every message of the incident: helpdesks that thread by subject token — Request
  Tracker, osTicket, Redmine — and people can both match it) and the title is the thread's
  stable subject;
- ``X-Monitord-Thread`` (the label) and ``X-Monitord-Priority`` headers for helpdesk rules.

A recovery is one more message on the thread; closing the ticket is up to the helpdesk's
rules (most can close on a subject or header match).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from monitord.calendar.hours import BusinessCalendar, agency_calendar
from monitord.errors import PermanentError
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.email import EmailNotifier
from monitord.notify.plugins import NotifierContext
from monitord.tickets import priority_for, thread_label, title_for


def subject_for(notification: Notification, agency_name: str, calendar: BusinessCalendar) -> str:
    """``[monitord-<hash>] <the thread's stable title>`` (pure)."""
    event = notification.event
    return f"[{thread_label(event.thread)}] {title_for(event, agency_name, calendar.zone)}"


class HelpdeskEmailNotifier(EmailNotifier):
    """Mails each notification to one helpdesk inbound address, threaded per incident."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    mergeable: ClassVar[bool] = False
    """One message per thread: a digest of several incidents would become one ticket."""

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        address: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
        """The helpdesk's inbound address (support@acme.zendesk.com, …)."""
        name: str = "Helpdesk"
        """The display name on the To: line."""

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        if ctx.smtp is None:
            raise PermanentError(
                f"notifier {name!r} is of type helpdesk-email but there is no smtp section — "
                "add an smtp section (host, port, from) to monitord.yml"
            )
        super().__init__(name, ctx.smtp, ctx.agency, ctx.ssl_context, clock=ctx.clock)
        self._o = options
        self._calendar = agency_calendar(ctx.agency)

    def _addressed(self, notification: Notification) -> Notification:
        return replace(notification, recipient=self._o.address, recipient_name=self._o.name)

    def build_message(self, notification: Notification, now: datetime) -> EmailMessage:
        """The message for one notification, to the helpdesk (pure, given ``now``)."""
        msg = super().build_message(self._addressed(notification), now)
        event = notification.event
        msg.replace_header("Subject", subject_for(notification, self._agency.name, self._calendar))
        msg["X-Monitord-Thread"] = thread_label(event.thread)
        msg["X-Monitord-Priority"] = priority_for(event.kind)
        return msg

    async def send(self, notification: Notification) -> str:
        return await super().send(self._addressed(notification))
