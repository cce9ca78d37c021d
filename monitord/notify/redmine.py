"""Redmine (REST API): one issue per event thread, with notes, and resolved on recovery.

- create: ``POST {base_url}/issues.json`` ``{"issue": {"project_id", "subject" (≤ 255),
  "description", "priority_id", "tracker_id"?}}`` → ``201 {"issue": {"id", …}}``.
- follow-ups: ``PUT /issues/{id}.json`` ``{"issue": {"notes"}}`` (204); a recovery adds
  ``"status_id": resolved_status_id`` (Redmine's default data: 3 = Resolved, 5 = Closed).
- Redmine has no idempotency field: the thread's issue is found in monitord's store (recorded
  the moment it is created), so a reminder or an outbox re-send comments instead of opening a
  second issue. Only a crash in the instant between Redmine's answer and that record could
  repeat a create.

Auth: the ``X-Redmine-API-Key`` header (My account → API access key; the REST API must be
enabled in Administration → Settings → API). 422 (``{"errors": [...]}``, validation), 401,
403 and 404 are permanent; 429 and 5xx are retried.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from monitord.config.models import HttpUrl
from monitord.errors import PermanentError
from monitord.events import Event
from monitord.notify.http import HTTP_TIMEOUT, Timeout
from monitord.notify.plugins import NotifierContext
from monitord.notify.ticketing import TicketNotifier
from monitord.tickets import Priority, Ticket

SUBJECT_MAX_CHARS = 255
"""Redmine's subject column limit (422 "Subject is too long (maximum is 255 characters)")."""

DEFAULT_PRIORITY_IDS: dict[Priority, int] = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
"""The ids of Redmine's default priorities (Low, Normal, High, Urgent); installs differ: see
Administration → Enumerations and set ``priority_ids``."""

HINTS = {
    401: "check api_key (Redmine → My account → API access key) and that the REST API is on "
    "(Administration → Settings → API)",
    403: "check the API key's user may add issues to the project",
    404: "check base_url and project_id (the project's identifier or number)",
    422: "Redmine refused the issue as invalid (the message says why); check project_id, "
    "tracker_id, priority_ids and resolved_status_id exist in this Redmine",
}


def build_issue(
    ticket: Ticket, project_id: str, tracker_id: int | None, priority_ids: dict[Priority, int]
) -> dict[str, Any]:
    """The create-issue body (pure)."""
    issue: dict[str, Any] = {
        "project_id": project_id,
        "subject": ticket.title[:SUBJECT_MAX_CHARS],
        "description": ticket.body,
        "priority_id": priority_ids[ticket.priority],
    }
    if tracker_id is not None:
        issue["tracker_id"] = tracker_id
    return {"issue": issue}


class RedmineNotifier(TicketNotifier):
    """Opens, annotates and resolves Redmine issues, one per event thread."""

    SERVICE = "Redmine"
    HINTS = HINTS
    DEFAULT_HINT = "check base_url, api_key and project_id"
    SENT_EVENT = "redmine.sent"
    ID_FIELD = "issue"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        base_url: HttpUrl
        api_key: SecretStr
        project_id: str = Field(min_length=1)
        tracker_id: int | None = None
        priority_ids: dict[Priority, int] = Field(default_factory=dict)
        resolved_status_id: int | None = 3
        """The status a recovery sets (3 = Resolved in Redmine's default data); null to
        only add a note."""
        timeout: Timeout = HTTP_TIMEOUT

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        key = options.api_key.get_secret_value()
        super().__init__(
            name,
            ctx,
            base_url=options.base_url,
            timeout=options.timeout,
            headers={"X-Redmine-API-Key": key},
            secrets=[key],
        )
        self._o = options
        self._priorities = {**DEFAULT_PRIORITY_IDS, **options.priority_ids}

    async def find(self, ticket: Ticket) -> str | None:
        return None  # no idempotency field in Redmine: the store's record is the lookup

    async def create(self, ticket: Ticket) -> str:
        body = build_issue(ticket, self._o.project_id, self._o.tracker_id, self._priorities)
        data = await self._call("/issues.json", body)
        issue = data.get("issue") if isinstance(data, dict) else None
        if not isinstance(issue, dict) or not issue.get("id"):
            raise PermanentError(
                f"{self._service} accepted the issue but answered without its id — check "
                "base_url is the Redmine root"
            )
        return str(issue["id"])

    async def comment(self, external_id: str, text: str, event: Event) -> None:
        await self._call(f"/issues/{int(external_id)}.json", {"issue": {"notes": text}}, "PUT")

    async def resolve(self, external_id: str, text: str, event: Event) -> None:
        issue: dict[str, Any] = {"notes": text}
        if self._o.resolved_status_id is not None:
            issue["status_id"] = self._o.resolved_status_id
        await self._call(f"/issues/{int(external_id)}.json", {"issue": issue}, "PUT")
