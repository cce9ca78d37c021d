"""PagerDuty, through the Events API v2 (``POST {base_url}/v2/enqueue``).

One PagerDuty alert per incident or advisory: ``dedup_key`` is derived from the event's
``thread``, so a DOWN, its reminders and a resend after a crash all land on the same alert,
and ``site-recovered`` (same thread) resolves it, as does a follow-up with ``details.resolves``
(the end of a PSA heads-up's window). Every other event triggers.

Request (pure, :func:`build_event`)::

    {"routing_key": "<32 chars>", "event_action": "trigger" | "resolve",
     "dedup_key": "<thread, or monitord-<sha256> when longer than 255>",
     "client": "monitord", "client_url": <option, when set>,
     "payload": {"summary": "<≤1024 chars>", "source": "<site host>" (see source_of),
                 "severity": "critical|error|warning|info", "timestamp": "<ISO 8601>",
                 "component": "<check or site>", "group": "<client>", "class": "<kind>",
                 "custom_details": {..., "on_call": {"name": …, "pagerduty_user": …}}}}

Who is paged is PagerDuty's decision, not monitord's: an alert event goes to the service
whose integration ``routing_key`` names, and the incident is assigned to whoever that
service's escalation policy has on call. ``custom_details.on_call`` carries whom monitord's
own rota (``oncall:``) names, so a responder can see when PagerDuty's schedule and the rota
disagree.

A resolve carries only routing_key, event_action and dedup_key (PagerDuty ignores a payload on
resolve). Answers: 202 ``{"status": "success", "message": "Event processed", "dedup_key": …}``
(returned as the external id); 400 ``{"status": "invalid event", "errors": [...]}`` is
permanent; 429 and 5xx are retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from monitord.config.models import HttpUrl
from monitord.errors import PermanentError
from monitord.events import Event
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.http import HTTP_TIMEOUT, JsonPoster, Timeout, json_safe, safe_url
from monitord.notify.plugins import NotifierContext
from monitord.notify.render import one_line
from monitord.redact import display_host

SUMMARY_MAX_CHARS = 1024
"""PagerDuty rejects a longer ``payload.summary`` (400); longer ones are cut with an ellipsis."""

DEDUP_KEY_MAX_CHARS = 255
"""PagerDuty's limit for ``dedup_key``; a longer thread id is replaced by its hash."""

ROUTING_KEY_CHARS = 32
"""An Events API v2 integration key is exactly this long; PagerDuty answers 400 otherwise."""

DEFAULT_BASE_URL = "https://events.pagerduty.com"

RESOLVING_KINDS = frozenset({"site-recovered"})
"""Event kinds that end their thread's alert."""


def resolves(event: Event) -> bool:
    """Whether ``event`` ends its thread's alert: a resolving kind, or a follow-up that says
    so (``details.resolves``: the end of a PSA heads-up's window)."""
    return event.kind in RESOLVING_KINDS or event.details.get("resolves") is True


HINTS = {
    400: "check routing_key is the Integration Key of an Events API v2 integration "
    "(Service → Integrations), 32 characters",
    401: "check routing_key",
    403: "check routing_key and that the integration is enabled",
    404: "check base_url (https://events.pagerduty.com, or https://events.eu.pagerduty.com)",
    413: "the event is too large; report this as a monitord bug",
}


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def dedup_key_for(thread: str) -> str:
    """The ``dedup_key`` of a thread: itself, or a stable hash when over the limit."""
    if len(thread) <= DEDUP_KEY_MAX_CHARS:
        return thread
    return "monitord-" + hashlib.sha256(thread.encode("utf-8")).hexdigest()


URL_DETAILS = ("url", "site_url")
"""Event details that carry the affected site's (display-form) URL: incident events have
``url``; advisory and other site events may have ``site_url``."""


def _shown_host(host: str | None) -> str | None:
    """``host`` when it is a name that can be shown: not masked (``***``) and not a
    ``${NAME}`` placeholder left in a display-form URL."""
    if not host or any(c in host for c in "*${}"):
        return None
    return host


def source_of(event: Event, site_hosts: Mapping[tuple[str, str], str] | None = None) -> str:
    """The affected system, as PagerDuty's ``source`` wants it (a host name).

    For an event about a site: the host of its URL detail (``url``, else ``site_url``), else
    its ``host`` detail, else the host of the site's configured URL (``site_hosts``, from the
    configuration). Only when none is known (a masked URL): the site id. Events about no
    site (``connectivity``, a client-wide digest): the client, else ``monitord``.
    """
    for key in URL_DETAILS:
        url = event.details.get(key)
        if isinstance(url, str) and (host := _shown_host(display_host(url))):
            return host
    host_detail = event.details.get("host")
    if isinstance(host_detail, str) and (host := _shown_host(one_line(host_detail))):
        return host
    if event.site:
        known = _shown_host((site_hosts or {}).get((event.client, event.site)))
        return known or event.site
    return event.client or "monitord"


def on_call_of(notification: Notification) -> dict[str, str] | None:
    """Who monitord's rota says is on call, when this notification goes to them (an
    ``oncall-pager`` route): their name and their ``pagerduty_user`` (or e-mail, when they
    have none). PagerDuty pages whoever the service's escalation policy names — the Events
    API cannot address a user — so this is shown to responders to compare, not obeyed."""
    if not notification.recipient:
        return None
    who = {"name": notification.recipient_name}
    key = "email" if "@" in notification.recipient else "pagerduty_user"
    who[key] = notification.recipient
    return who


def build_event(
    notification: Notification,
    routing_key: str,
    *,
    client_url: str | None = None,
    site_hosts: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """The Events API v2 body for one notification (pure)."""
    event = notification.event
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if resolves(event) else "trigger",
        "dedup_key": dedup_key_for(event.thread),
    }
    if body["event_action"] == "resolve":
        return body
    body["client"] = "monitord"
    if client_url:
        body["client_url"] = client_url
    summary = one_line(event.summary) or f"{event.kind} {event.site or event.client}"
    details: dict[str, Any] = {
        "kind": event.kind,
        "client": event.client,
        "site": event.site,
        "check": event.check,
        "key": event.key,
        "thread": event.thread,
    }
    details.update({k: json_safe(v) for k, v in sorted(event.details.items())})
    if on_call := on_call_of(notification):
        details["on_call"] = on_call
    body["payload"] = {
        "summary": _truncate(summary, SUMMARY_MAX_CHARS),
        "source": source_of(event, site_hosts),
        "severity": event.severity,
        "timestamp": event.at.isoformat(),
        "component": event.check or event.site or event.client,
        "group": event.client,
        "class": event.kind,
        "custom_details": details,
    }
    return body


class PagerDutyNotifier:
    """Triggers and resolves PagerDuty alerts, one per incident/advisory thread."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    resend_is_harmless: ClassVar[bool] = True
    """A trigger sent again with the same ``dedup_key`` joins the alert it opened (PagerDuty
    de-duplicates while that alert is open); a resolve sent again is a no-op. So an uncertain
    send (its process died before recording it) is simply sent again (monitord.outbox)."""

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        routing_key: SecretStr
        """The Integration Key of the service's Events API v2 integration."""
        base_url: HttpUrl = DEFAULT_BASE_URL
        client_url: HttpUrl | None = None
        """A link shown with the alert (e.g. the monitord status page)."""
        timeout: Timeout = HTTP_TIMEOUT

        @field_validator("routing_key")
        @classmethod
        def _routing_key(cls, v: SecretStr) -> SecretStr:
            n = len(v.get_secret_value())
            if n != ROUTING_KEY_CHARS:
                raise ValueError(
                    f"routing_key must be {ROUTING_KEY_CHARS} characters, this one has {n}; "
                    "copy the Integration Key of the service's Events API v2 integration "
                    "(not a REST API key)"
                )
            return v

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        self.name = name
        self._options = options
        self._ctx = ctx
        self._url = options.base_url.rstrip("/") + "/v2/enqueue"
        self._service = f"PagerDuty at {safe_url(options.base_url)} (notifier {name!r})"
        self._poster = JsonPoster(
            ssl_context=ctx.ssl_context,
            timeout=options.timeout,
            secrets=[options.routing_key.get_secret_value()],
        )

    async def send(self, notification: Notification) -> str | None:
        body = build_event(
            notification,
            self._options.routing_key.get_secret_value(),
            client_url=self._options.client_url,
            site_hosts=self._ctx.site_hosts,
        )
        reply = await self._poster.post(
            self._url,
            body,
            service=self._service,
            now=self._ctx.clock(),
            hints=HINTS,
            default_hint="check routing_key and base_url",
        )
        data = reply.json()
        dedup = data.get("dedup_key") if isinstance(data, dict) else None
        if data is not None and not isinstance(data, dict):
            raise PermanentError(
                f"{self._service} accepted the event but answered something other than a JSON "
                "object — check base_url points at the Events API (events.pagerduty.com)"
            )
        self._ctx.log.info(
            "pagerduty.sent",
            notifier=self.name,
            action=body["event_action"],
            dedup_key=body["dedup_key"],
            kind=notification.event.kind,
            client=notification.event.client,
            site=notification.event.site,
        )
        return str(dedup) if dedup else str(body["dedup_key"])

    async def aclose(self) -> None:
        await self._poster.aclose()
