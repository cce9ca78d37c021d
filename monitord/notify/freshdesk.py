"""Freshdesk (API v2): one ticket per event thread, with private notes and resolved on recovery.

- create: ``POST {base_url}/api/v2/tickets`` with ``subject``, ``description`` (HTML), the
  requester (``email`` or ``requester_id``), ``priority`` 1–4 (low, medium, high, urgent),
  ``status`` 2 (open), ``source`` 2 (portal) and ``tags`` (monitord, kind, client, site and
  the thread's ``monitord-<hash>``); ``201 {"id", …}``.
- follow-ups: ``POST /api/v2/tickets/{id}/notes`` ``{"body": html, "private": true}`` (201);
  a recovery then ``PUT /api/v2/tickets/{id}`` ``{"status": 4}`` (resolved).
- before creating, the thread's ticket is looked up in the store and then by its tag
  (``GET /api/v2/search/tickets?query="tag:'monitord-<hash>'"``).

Auth: HTTP Basic with the API key as user name and ``X`` as password (Profile settings → Your
API Key). 400 (validation), 401, 403, 404 are permanent; 429 (``Retry-After``) and 5xx retried.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from monitord.config.models import HttpUrl
from monitord.errors import PermanentError
from monitord.events import Event
from monitord.notify.http import HTTP_TIMEOUT, Timeout
from monitord.notify.plugins import NotifierContext
from monitord.notify.ticketing import TicketNotifier
from monitord.tickets import Priority, Ticket, basic_auth, text_to_html, thread_label

PRIORITIES: dict[Priority, int] = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
"""Freshdesk's priorities: 1 Low, 2 Medium, 3 High, 4 Urgent."""

STATUS_OPEN = 2
STATUS_RESOLVED = 4
"""Freshdesk's statuses: 2 Open, 3 Pending, 4 Resolved, 5 Closed."""

SOURCE_PORTAL = 2

SUBJECT_MAX_CHARS = 255

HINTS = {
    400: "Freshdesk refused the ticket as invalid (the message names the field); check email "
    "or requester_id and group_id",
    401: "check api_key (Freshdesk → Profile settings → Your API Key); it is sent as the user "
    "name with the password X",
    403: "check the API key's agent may create tickets (and the plan allows the API)",
    404: "check base_url (https://<domain>.freshdesk.com)",
}


def build_ticket(
    ticket: Ticket, email: str | None, requester_id: int | None, group_id: int | None
) -> dict[str, Any]:
    """The create-ticket body (pure)."""
    body: dict[str, Any] = {
        "subject": ticket.title[:SUBJECT_MAX_CHARS],
        "description": text_to_html(ticket.body),
        "priority": PRIORITIES[ticket.priority],
        "status": STATUS_OPEN,
        "source": SOURCE_PORTAL,
        "tags": [*ticket.tags, thread_label(ticket.thread)],
    }
    if requester_id is not None:
        body["requester_id"] = requester_id
    else:
        body["email"] = email
    if group_id is not None:
        body["group_id"] = group_id
    return body


class FreshdeskNotifier(TicketNotifier):
    """Opens, notes and resolves Freshdesk tickets, one per event thread."""

    SERVICE = "Freshdesk"
    HINTS = HINTS
    DEFAULT_HINT = "check base_url and api_key"
    SENT_EVENT = "freshdesk.sent"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        base_url: HttpUrl
        """``https://<domain>.freshdesk.com``."""
        api_key: SecretStr
        email: str | None = Field(default=None, min_length=3)
        """The requester of the tickets (e.g. the agency's support address)."""
        requester_id: int | None = None
        group_id: int | None = None
        timeout: Timeout = HTTP_TIMEOUT

        @model_validator(mode="after")
        def _requester(self) -> FreshdeskNotifier.Options:
            if self.email is None and self.requester_id is None:
                raise ValueError(
                    "a Freshdesk ticket needs a requester; set email (e.g. the agency's "
                    "support address) or requester_id"
                )
            return self

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        key = options.api_key.get_secret_value()
        auth = basic_auth(key, "X")
        super().__init__(
            name,
            ctx,
            base_url=options.base_url,
            timeout=options.timeout,
            headers={"Authorization": auth},
            secrets=[key, auth.removeprefix("Basic ")],
        )
        self._o = options

    async def find(self, ticket: Ticket) -> str | None:
        query = quote(f"\"tag:'{thread_label(ticket.thread)}'\"", safe="")
        data = await self._call(f"/api/v2/search/tickets?query={query}", method="GET")
        results = data.get("results") if isinstance(data, dict) else None
        if isinstance(results, list) and results and isinstance(results[0], dict):
            found = results[0].get("id")
            return str(found) if found else None
        return None

    async def create(self, ticket: Ticket) -> str:
        body = build_ticket(ticket, self._o.email, self._o.requester_id, self._o.group_id)
        data = await self._call("/api/v2/tickets", body)
        if not isinstance(data, dict) or not data.get("id"):
            raise PermanentError(
                f"{self._service} accepted the ticket but answered without its id — check "
                "base_url is the helpdesk (https://<domain>.freshdesk.com)"
            )
        return str(data["id"])

    async def comment(self, external_id: str, text: str, event: Event) -> None:
        path = f"/api/v2/tickets/{quote(external_id, safe='')}/notes"
        await self._call(path, {"body": text_to_html(text), "private": True})

    async def resolve(self, external_id: str, text: str, event: Event) -> None:
        await self.comment(external_id, text, event)
        path = f"/api/v2/tickets/{quote(external_id, safe='')}"
        await self._call(path, {"status": STATUS_RESOLVED}, method="PUT")
