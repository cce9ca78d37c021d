"""The plumbing the external ticket notifiers share (``jira``, ``zendesk``, ``freshdesk``,
``redmine``): the state they keep, the store the daemon attaches, one JSON call to the API,
``send`` (:func:`monitord.tickets.deliver` and a log line) and ``aclose``.

A notifier subclasses :class:`TicketNotifier`, names its service, hints and log line in class
attributes, passes its base URL, auth headers and secrets to ``__init__``, and implements the
:class:`~monitord.tickets.TicketApi` methods (``find``, ``create``, ``comment``, ``resolve``)
with :meth:`TicketNotifier._call`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from monitord.calendar.hours import agency_calendar
from monitord.events import Event
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.http import JsonPoster, Timeout, safe_url
from monitord.notify.plugins import NotifierContext
from monitord.tickets import RESOLVING_KINDS, Ticket, deliver, ticket_for


class TicketNotifier(ABC):
    """Base of the external ticket notifiers: one ticket per event thread, through
    :func:`monitord.tickets.deliver`."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION

    SERVICE: ClassVar[str]
    """The API's name in errors: ``Jira`` → "Jira at https://… (notifier 'ops')"."""
    HINTS: ClassVar[Mapping[int, str]]
    """What to check, by HTTP status of a refusal."""
    DEFAULT_HINT: ClassVar[str]
    """What to check for any other refusal."""
    SENT_EVENT: ClassVar[str]
    """The log event of a delivered notification (``jira.sent``)."""
    ID_FIELD: ClassVar[str] = "ticket"
    """The log field holding the ticket's id (``issue`` where the API says issue)."""

    def __init__(
        self,
        name: str,
        ctx: NotifierContext,
        *,
        base_url: str,
        timeout: Timeout,
        headers: Mapping[str, str],
        secrets: Sequence[str],
    ) -> None:
        self.name = name
        self._ctx = ctx
        self._store: Any = ctx.store
        self._calendar = agency_calendar(ctx.agency)
        self._base = base_url.rstrip("/")
        self._service = f"{self.SERVICE} at {safe_url(base_url)} (notifier {name!r})"
        self._headers = dict(headers)
        self._poster = JsonPoster(
            ssl_context=ctx.ssl_context, timeout=timeout, secrets=list(secrets)
        )

    def attach_store(self, store: Any) -> None:
        self._store = store

    async def _call(self, path: str, body: Any = None, method: str = "POST") -> Any:
        """``method`` ``path`` (below the base URL) with ``body`` as JSON; the answer's JSON.
        Raises the classified error (retryable or permanent, with the hint)."""
        reply = await self._poster.post(
            self._base + path,
            body,
            method=method,
            service=self._service,
            now=self._ctx.clock(),
            headers=self._headers,
            hints=self.HINTS,
            default_hint=self.DEFAULT_HINT,
        )
        return reply.json()

    # TicketApi: what each API does

    @abstractmethod
    async def find(self, ticket: Ticket) -> str | None:
        """The id of the thread's ticket by the API's idempotency field, or None."""

    @abstractmethod
    async def create(self, ticket: Ticket) -> str:
        """Open the ticket; return its id."""

    @abstractmethod
    async def comment(self, external_id: str, text: str, event: Event) -> None:
        """Add ``text`` to the ticket."""

    @abstractmethod
    async def resolve(self, external_id: str, text: str, event: Event) -> None:
        """Comment and resolve (as far as the API allows)."""

    # Notifier

    async def find_delivery(self, notification: Notification) -> str | None:
        """Whether ``notification`` was already applied, for an uncertain send (its process
        died before recording it, monitord.outbox): the ticket id if the store recorded it,
        or, for a notification that would open the thread's ticket, if the API has that
        ticket by its idempotency field (the create went through, its record did not).
        None: not applied, so it is sent (a comment whose record was lost may repeat)."""
        event = notification.event
        store = self._store
        if store is None:
            return None
        done: str | None = await store.ticket_applied(self.name, notification.key)
        if done is not None:
            return done
        if event.kind in RESOLVING_KINDS or await store.ticket_ref(self.name, event.thread):
            return None
        found = await self.find(ticket_for(event, self._calendar, self._ctx.agency.name))
        if found is not None:
            await store.record_ticket(
                self.name, event.thread, notification.key, found, self._ctx.clock()
            )
        return found

    async def send(self, notification: Notification) -> str | None:
        external = await deliver(
            self,
            self.name,
            self._store,
            notification,
            self._calendar,
            self._ctx.agency.name,
            self._ctx.clock(),
        )
        event = notification.event
        self._ctx.log.info(
            self.SENT_EVENT, notifier=self.name, **{self.ID_FIELD: external}, kind=event.kind,
            client=event.client, site=event.site,
        )  # fmt: skip
        return external

    async def aclose(self) -> None:
        await self._poster.aclose()
