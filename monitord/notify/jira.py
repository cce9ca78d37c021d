"""Jira Cloud (REST API v3): one issue per event thread, commented on and transitioned to done.

- create: ``POST {base_url}/rest/api/3/issue`` with ``fields``: ``project.key``, ``summary``
  (≤ 255 characters), ``issuetype.name``, ``description`` in Atlassian Document Format,
  ``priority.name`` (mapped from the ticket priority, option ``priorities``) and ``labels``
  (monitord, kind, client, site, and the thread's label ``monitord-<hash>``). Answers ``201
  {"id", "key", "self"}``; the key (``OPS-24``) is the external id.
- follow-ups: ``POST /rest/api/3/issue/{key}/comment`` with an ADF ``body`` (201).
- recovery: the comment, then, with ``done_transition`` (a transition id such as ``31`` or
  its name such as ``Done``), ``POST /rest/api/3/issue/{key}/transitions`` (204); a name is
  looked up with ``GET …/transitions`` first.
- before creating, the thread's issue is looked up in the store and then by its label with
  ``GET /rest/api/3/search/jql?jql=project = "KEY" AND labels = "monitord-<hash>"``, so an
  outbox re-send after a crash never opens a second issue.

Auth: HTTP Basic with the account's e-mail and an API token (id.atlassian.com → Security →
API tokens). 400 (invalid field), 401, 403 and 404 are permanent; 429 and 5xx are retried.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from monitord.config.models import HttpUrl
from monitord.errors import PermanentError
from monitord.events import Event
from monitord.notify.http import HTTP_TIMEOUT, Timeout
from monitord.notify.plugins import NotifierContext
from monitord.notify.ticketing import TicketNotifier
from monitord.tickets import Priority, Ticket, basic_auth, thread_label

SUMMARY_MAX_CHARS = 255
"""Jira refuses a longer summary (400, "summary: Summary must be less than 255 characters")."""

DEFAULT_PRIORITIES: dict[Priority, str] = {
    "urgent": "Highest",
    "high": "High",
    "normal": "Medium",
    "low": "Low",
}
"""Ticket priority → the names of Jira's default priority scheme."""

HINTS = {
    400: "check project, issue_type and priorities name things that exist in the project "
    "(the message says which field)",
    401: "check email and api_token: an API token made at id.atlassian.com (Security → API "
    "tokens) for the account with that e-mail",
    403: "check the account may create issues in the project (project permissions)",
    404: "check base_url (https://<site>.atlassian.net) and the project key",
}


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document (pure): one paragraph per block
    separated by a blank line, line breaks as ``hardBreak``; no empty text nodes."""
    content: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n")]
        if not any(line.strip() for line in lines):
            continue
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if i:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    if not content:
        content = [{"type": "paragraph", "content": [{"type": "text", "text": "—"}]}]
    return {"type": "doc", "version": 1, "content": content}


def build_issue(
    ticket: Ticket, project: str, issue_type: str, priorities: dict[Priority, str]
) -> dict[str, Any]:
    """The create-issue body (pure)."""
    summary = ticket.title
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[: SUMMARY_MAX_CHARS - 1] + "…"
    return {
        "fields": {
            "project": {"key": project},
            "summary": summary,
            "issuetype": {"name": issue_type},
            "description": adf(ticket.body),
            "priority": {"name": priorities[ticket.priority]},
            "labels": [*ticket.tags, thread_label(ticket.thread)],
        }
    }


class JiraNotifier(TicketNotifier):
    """Opens, comments on and closes Jira Cloud issues, one per event thread."""

    SERVICE = "Jira"
    HINTS = HINTS
    DEFAULT_HINT = "check base_url, email, api_token and project"
    SENT_EVENT = "jira.sent"
    ID_FIELD = "issue"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        base_url: HttpUrl
        """``https://<site>.atlassian.net``."""
        email: str = Field(min_length=3)
        """The Atlassian account the API token belongs to."""
        api_token: SecretStr
        project: str = Field(min_length=1, pattern=r"^[A-Z][A-Z0-9_]*$")
        """The project key (``OPS``)."""
        issue_type: str = "Task"
        priorities: dict[Priority, str] = Field(default_factory=dict)
        """Override the priority names, e.g. ``{urgent: P1}``."""
        done_transition: str | None = None
        """The transition that closes an issue on recovery: its id (``31``) or name
        (``Done``). Unset: a recovery only comments."""
        timeout: Timeout = HTTP_TIMEOUT

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        token = options.api_token.get_secret_value()
        auth = basic_auth(options.email, token)
        super().__init__(
            name,
            ctx,
            base_url=options.base_url,
            timeout=options.timeout,
            headers={"Authorization": auth, "Accept": "application/json"},
            secrets=[token, auth.removeprefix("Basic ")],
        )
        self._o = options
        self._priorities = {**DEFAULT_PRIORITIES, **options.priorities}

    # TicketApi

    async def find(self, ticket: Ticket) -> str | None:
        jql = f'project = "{self._o.project}" AND labels = "{thread_label(ticket.thread)}"'
        query = urlencode({"jql": jql, "fields": "key", "maxResults": "1"}, quote_via=quote)
        data = await self._call(f"/rest/api/3/search/jql?{query}", method="GET")
        issues = data.get("issues") if isinstance(data, dict) else None
        if isinstance(issues, list) and issues and isinstance(issues[0], dict):
            key = issues[0].get("key")
            return str(key) if key else None
        return None

    async def create(self, ticket: Ticket) -> str:
        body = build_issue(ticket, self._o.project, self._o.issue_type, self._priorities)
        data = await self._call("/rest/api/3/issue", body)
        key = data.get("key") if isinstance(data, dict) else None
        if not key:
            raise PermanentError(
                f"{self._service} accepted the issue but answered without its key — check "
                "base_url is the Jira Cloud site (https://<site>.atlassian.net)"
            )
        return str(key)

    async def comment(self, external_id: str, text: str, event: Event) -> None:
        await self._call(
            f"/rest/api/3/issue/{quote(external_id, safe='')}/comment", {"body": adf(text)}
        )

    async def resolve(self, external_id: str, text: str, event: Event) -> None:
        await self.comment(external_id, text, event)
        wanted = self._o.done_transition
        if not wanted:
            return
        path = f"/rest/api/3/issue/{quote(external_id, safe='')}/transitions"
        transition_id = wanted
        if not wanted.isdigit():
            data = await self._call(path, method="GET")
            found = [
                t
                for t in (data.get("transitions", []) if isinstance(data, dict) else [])
                if isinstance(t, dict) and str(t.get("name", "")).lower() == wanted.lower()
            ]
            if not found:
                names = ", ".join(
                    str(t.get("name"))
                    for t in (data.get("transitions", []) if isinstance(data, dict) else [])
                    if isinstance(t, dict)
                )
                raise PermanentError(
                    f"{self._service}: issue {external_id} has no transition named {wanted!r} "
                    f"(it offers: {names or 'none'}) — set done_transition to one of them or "
                    "to its id"
                )
            transition_id = str(found[0]["id"])
        await self._call(path, {"transition": {"id": transition_id}})
