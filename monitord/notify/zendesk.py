"""Zendesk Support (Tickets API v2): one ticket per event thread, commented on and solved.

- create: ``POST {base_url}/api/v2/tickets.json`` with ``{"ticket": {"subject", "comment":
  {"body", "public": false}, "priority": urgent|high|normal|low, "type": "incident",
  "external_id": "monitord-<hash of the thread>", "tags"}}``; ``201 {"ticket": {"id", …}}``.
- follow-ups: ``PUT /api/v2/tickets/{id}.json`` with ``{"ticket": {"comment": {"body",
  "public": false}}}``; a recovery adds ``"status": "solved"``.
- before creating, the thread's ticket is looked up in the store and then by its external id
  (``GET /api/v2/tickets.json?external_id=…``), so an outbox re-send never opens a second one.

Auth: HTTP Basic with ``{email}/token`` and an API token (Admin Center → Apps and integrations
→ Zendesk API, token access on). 400/401/403/404/422 are permanent; 429 (with
``Retry-After``) and 5xx are retried.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from monitord.config.models import HttpUrl
from monitord.errors import PermanentError
from monitord.events import Event
from monitord.notify.http import HTTP_TIMEOUT, Timeout
from monitord.notify.plugins import NotifierContext
from monitord.notify.ticketing import TicketNotifier
from monitord.tickets import Ticket, basic_auth, thread_label

HINTS = {
    401: "check email and api_token: Zendesk authenticates `{email}/token` with an API token "
    "(Admin Center → Apps and integrations → Zendesk API; token access must be on)",
    403: "check the token's user is an agent who may create tickets",
    404: "check base_url (https://<subdomain>.zendesk.com)",
    422: "Zendesk refused the ticket as invalid (the message says which field); check the "
    "notifier's options, else report it as a monitord bug",
}


def build_ticket(ticket: Ticket, ticket_type: str, extra_tags: tuple[str, ...]) -> dict[str, Any]:
    """The create-ticket body (pure)."""
    tags = list(dict.fromkeys([*ticket.tags, *extra_tags]))
    return {
        "ticket": {
            "subject": ticket.title,
            "comment": {"body": ticket.body, "public": False},
            "priority": ticket.priority,
            "type": ticket_type,
            "external_id": thread_label(ticket.thread),
            "tags": tags,
        }
    }


def build_update(text: str, solve: bool) -> dict[str, Any]:
    """The update body for a comment, and ``status: solved`` on recovery (pure)."""
    body: dict[str, Any] = {"comment": {"body": text, "public": False}}
    if solve:
        body["status"] = "solved"
    return {"ticket": body}


class ZendeskNotifier(TicketNotifier):
    """Opens, comments on and solves Zendesk tickets, one per event thread."""

    SERVICE = "Zendesk"
    HINTS = HINTS
    DEFAULT_HINT = "check base_url, email and api_token"
    SENT_EVENT = "zendesk.sent"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        base_url: HttpUrl
        """``https://<subdomain>.zendesk.com``."""
        email: str = Field(min_length=3)
        """The agent the API token acts as."""
        api_token: SecretStr
        type: Literal["problem", "incident", "question", "task"] = "incident"
        tags: tuple[str, ...] = ()
        timeout: Timeout = HTTP_TIMEOUT

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        token = options.api_token.get_secret_value()
        auth = basic_auth(f"{options.email}/token", token)
        super().__init__(
            name,
            ctx,
            base_url=options.base_url,
            timeout=options.timeout,
            headers={"Authorization": auth},
            secrets=[token, auth.removeprefix("Basic ")],
        )
        self._o = options

    async def find(self, ticket: Ticket) -> str | None:
        label = quote(thread_label(ticket.thread), safe="")
        data = await self._call(f"/api/v2/tickets.json?external_id={label}", method="GET")
        found = data.get("tickets") if isinstance(data, dict) else None
        if isinstance(found, list) and found and isinstance(found[0], dict) and found[0].get("id"):
            return str(found[0]["id"])
        return None

    async def create(self, ticket: Ticket) -> str:
        data = await self._call(
            "/api/v2/tickets.json", build_ticket(ticket, self._o.type, self._o.tags)
        )
        made = data.get("ticket") if isinstance(data, dict) else None
        if not isinstance(made, dict) or not made.get("id"):
            raise PermanentError(
                f"{self._service} accepted the ticket but answered without its id — check "
                "base_url is the Zendesk account (https://<subdomain>.zendesk.com)"
            )
        return str(made["id"])

    async def comment(self, external_id: str, text: str, event: Event) -> None:
        path = f"/api/v2/tickets/{quote(external_id, safe='')}.json"
        await self._call(path, build_update(text, False), method="PUT")

    async def resolve(self, external_id: str, text: str, event: Event) -> None:
        path = f"/api/v2/tickets/{quote(external_id, safe='')}.json"
        await self._call(path, build_update(text, True), method="PUT")
