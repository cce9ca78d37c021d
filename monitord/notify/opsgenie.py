"""Opsgenie (and Jira Service Management operations), through the Alert API v2.

- create: ``POST {base_url}/v2/alerts`` with ``Authorization: GenieKey <api_key>``;
- close: ``POST {base_url}/v2/alerts/{alias}/close?identifierType=alias`` when the event is a
  recovery (``site-recovered``) of the same thread.

The alert's ``alias`` is derived from the event's ``thread``: Opsgenie keeps one open alert per
alias, so a DOWN, its reminders and a resend after a crash are one alert, and the recovery
closes it. Both calls answer ``202 {"result": "Request will be processed", "requestId": …}``
(the request id is returned as the external id); processing is asynchronous.

Limits (the API rejects more with 422, so fields are cut to fit): message 130 characters, alias
512, description 15,000, entity 512, source 100, at most 20 tags of 50 characters, details
values as strings.

``base_url``: ``https://api.opsgenie.com`` (default), ``https://api.eu.opsgenie.com`` (EU
accounts), or Jira Service Management's Integration Events API,
``https://api.atlassian.com/jsm/ops/integration`` — the same paths, bodies and ``GenieKey``
header, with the API key of an *API integration* made in JSM (Operations → Integrations). JSM's
other REST API (``/jsm/ops/api/{cloudId}/v1/alerts``, basic auth with an Atlassian API token)
cannot close an alert by alias and is not used.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from monitord.config.models import HttpUrl
from monitord.events import Event, Severity
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.http import HTTP_TIMEOUT, JsonPoster, Timeout, safe_url
from monitord.notify.plugins import NotifierContext
from monitord.notify.render import one_line, render

MESSAGE_MAX_CHARS = 130
ALIAS_MAX_CHARS = 512
DESCRIPTION_MAX_CHARS = 15_000
ENTITY_MAX_CHARS = 512
SOURCE_MAX_CHARS = 100
NOTE_MAX_CHARS = 25_000
TAG_MAX_CHARS = 50
MAX_TAGS = 20
DETAIL_VALUE_MAX_CHARS = 1000
"""Opsgenie's documented field limits (the API answers 422 beyond them); the details value cap
is ours: the whole details map must stay under Opsgenie's 8,000 characters."""
DETAILS_MAX_CHARS = 8000

DEFAULT_BASE_URL = "https://api.opsgenie.com"

RESOLVING_KINDS = frozenset({"site-recovered"})

Priority = Literal["P1", "P2", "P3", "P4", "P5"]

DEFAULT_PRIORITIES: dict[str, Priority] = {
    "critical": "P1",
    "error": "P2",
    "warning": "P3",
    "info": "P5",
}
"""Event severity → alert priority, unless the notifier's ``priorities`` option says otherwise."""

HINTS = {
    401: "check api_key: use the API key of an API integration (Opsgenie: Teams → "
    "Integrations; JSM: Operations → Integrations), not an account API key",
    403: "check the API integration may create and close alerts (its access rights) and is enabled",
    404: "check base_url: https://api.opsgenie.com, https://api.eu.opsgenie.com (EU), or "
    "https://api.atlassian.com/jsm/ops/integration (Jira Service Management)",
    422: "the alert was refused as invalid; report this as a monitord bug with the message",
}


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def alias_for(thread: str) -> str:
    if len(thread) <= ALIAS_MAX_CHARS:
        return thread
    return "monitord-" + hashlib.sha256(thread.encode("utf-8")).hexdigest()


def _detail_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return _truncate(one_line(text), DETAIL_VALUE_MAX_CHARS)


def details_for(event: Event) -> dict[str, str]:
    """Opsgenie's details: a flat string map, within the total size limit."""
    out: dict[str, str] = {}
    base = {
        "kind": event.kind,
        "client": event.client,
        "site": event.site,
        "check": event.check,
        "severity": event.severity,
        "event_key": event.key,
    }
    items = [(k, v) for k, v in base.items() if v] + sorted(event.details.items())
    size = 0
    for key, value in items:
        text = _detail_value(value)
        cost = len(str(key)) + len(text)
        if size + cost > DETAILS_MAX_CHARS:
            break
        out[str(key)[:TAG_MAX_CHARS]] = text
        size += cost
    return out


def tags_for(event: Event, extra: tuple[str, ...]) -> list[str]:
    raw = ["monitord", event.kind, event.client, event.site or "", *extra]
    out: list[str] = []
    for tag in raw:
        t = _truncate(one_line(tag).replace(" ", "-"), TAG_MAX_CHARS)
        if t and t not in out:
            out.append(t)
    return out[:MAX_TAGS]


class Responder(BaseModel):
    """Who Opsgenie notifies: ``{type: team, name: Ops}`` or ``{type: user, username: …}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["team", "user", "escalation", "schedule"]
    name: str | None = None
    id: str | None = None
    username: str | None = None

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def build_create(
    notification: Notification,
    *,
    agency_name: str,
    tz: ZoneInfo,
    priorities: dict[str, Priority],
    responders: tuple[Responder, ...] = (),
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The create-alert body (pure)."""
    event = notification.event
    rendered = render(event, agency_name, tz, notification.recipient_name)
    summary = one_line(event.summary) or rendered.subject
    body: dict[str, Any] = {
        "message": _truncate(summary, MESSAGE_MAX_CHARS),
        "alias": alias_for(event.thread),
        "description": _truncate(rendered.text, DESCRIPTION_MAX_CHARS),
        "tags": tags_for(event, tags),
        "details": details_for(event),
        "entity": _truncate(one_line(event.site or event.client), ENTITY_MAX_CHARS),
        "source": "monitord",
        "priority": priorities.get(event.severity, DEFAULT_PRIORITIES[event.severity]),
    }
    # On an oncall-pager route the recipient is whoever monitord's rota has on call (their
    # opsgenie_user, else their e-mail, which is their Opsgenie username): Opsgenie's create
    # API takes them as a user responder, so the rota decides who is notified.
    if notification.recipient:
        person = Responder(type="user", username=notification.recipient)
        if person not in responders:
            responders = (*responders, person)
    if responders:
        body["responders"] = [r.to_json() for r in responders]
    return body


def build_close(notification: Notification) -> dict[str, Any]:
    """The close-alert body (pure)."""
    event = notification.event
    return {
        "source": "monitord",
        "note": _truncate(one_line(event.summary) or "recovered", NOTE_MAX_CHARS),
    }


def close_path(thread: str) -> str:
    return f"/v2/alerts/{quote(alias_for(thread), safe='')}/close?identifierType=alias"


class OpsgenieNotifier:
    """Creates and closes Opsgenie / JSM alerts, one per incident/advisory thread."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    resend_is_harmless: ClassVar[bool] = True
    """An alert created again with the same ``alias`` while open is de-duplicated by Opsgenie
    (its count goes up, no second alert); a close sent again is a no-op (monitord.outbox)."""

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        api_key: SecretStr
        """The API key of an API integration."""
        base_url: HttpUrl = DEFAULT_BASE_URL
        priorities: dict[Severity, Priority] = Field(default_factory=dict)
        """Override the severity → priority mapping, e.g. ``{warning: P4}``."""
        responders: tuple[Responder, ...] = ()
        tags: tuple[str, ...] = ()
        """Extra tags on every alert (besides monitord, the kind, client and site)."""
        timeout: Timeout = HTTP_TIMEOUT

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        self.name = name
        self._options = options
        self._ctx = ctx
        self._tz = ZoneInfo(ctx.agency.timezone)
        self._base = options.base_url.rstrip("/")
        self._priorities: dict[str, Priority] = dict(DEFAULT_PRIORITIES)
        for severity, priority in options.priorities.items():
            self._priorities[severity] = priority
        self._service = f"Opsgenie at {safe_url(options.base_url)} (notifier {name!r})"
        self._poster = JsonPoster(
            ssl_context=ctx.ssl_context,
            timeout=options.timeout,
            secrets=[options.api_key.get_secret_value()],
        )

    async def send(self, notification: Notification) -> str | None:
        event = notification.event
        if event.kind in RESOLVING_KINDS:
            action = "close"
            url = self._base + close_path(event.thread)
            body = build_close(notification)
        else:
            action = "create"
            url = self._base + "/v2/alerts"
            body = build_create(
                notification,
                agency_name=self._ctx.agency.name,
                tz=self._tz,
                priorities=self._priorities,
                responders=self._options.responders,
                tags=self._options.tags,
            )
        reply = await self._poster.post(
            url,
            body,
            service=self._service,
            now=self._ctx.clock(),
            headers={"Authorization": f"GenieKey {self._options.api_key.get_secret_value()}"},
            hints=HINTS,
            default_hint="check api_key and base_url",
        )
        data = reply.json()
        request_id = data.get("requestId") if isinstance(data, dict) else None
        self._ctx.log.info(
            "opsgenie.sent",
            notifier=self.name,
            action=action,
            alias=alias_for(event.thread),
            request_id=request_id,
            kind=event.kind,
            client=event.client,
            site=event.site,
        )
        return str(request_id) if request_id else alias_for(event.thread)

    async def aclose(self) -> None:
        await self._poster.aclose()
