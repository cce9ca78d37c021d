"""Generic JSON webhooks, with ``slack`` and ``teams`` presets.

``webhook``: POSTs the documented body (docs/notifiers.md, :func:`webhook_body`)::

    {"version": 1, "kind": "site-down", "client": "acme", "site": "acme-www", "check": "http",
     "at": "2026-11-26T14:05:00+00:00", "severity": "error", "summary": "…",
     "thread": "…", "key": "…", "details": {…}}

with headers ``X-Monitord-Key`` (the notification's key: the same on a resend, for the
receiver's de-duplication), ``X-Monitord-Event`` (the kind), the configured ``headers`` (values
may be ``${SECRETS}``) and, with ``hmac_secret``, a signature of the exact body bytes:
``X-Monitord-Signature: sha256=<hex HMAC-SHA256(hmac_secret, body)>``. The body of one
notification is the same bytes on every try.

``slack``: a Slack incoming webhook (``{text, blocks}``; Slack answers ``200 ok``, 400/403/404/410
with a word such as ``invalid_payload`` or ``no_service``, 429 with ``Retry-After``).

``teams``: a Microsoft Teams *Workflows* (Power Automate) webhook — "Post to a channel when a
webhook request is received" — given a message with one Adaptive Card attachment; it answers 202.

Rendering is pure (the ``*_body`` functions) and golden-tested. A webhook URL is a secret
(Slack's and Teams' URLs are bearer tokens): it never appears in a message or a log line, only
its ``scheme://host``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from monitord.events import Event
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.http import HTTP_TIMEOUT, JsonPoster, Timeout, json_safe, safe_url
from monitord.notify.plugins import NotifierContext
from monitord.notify.render import format_time, one_line, render
from monitord.redact import link_url

WEBHOOK_BODY_VERSION = 1
"""``version`` of the documented webhook body; raised only for an incompatible change."""

SIGNATURE_HEADER = "X-Monitord-Signature"

SLACK_HEADER_MAX_CHARS = 150
SLACK_TEXT_MAX_CHARS = 3000
SLACK_FIELD_MAX_CHARS = 2000
"""Slack Block Kit limits: header text 150, section text 3000, each field 2000 characters."""

TEAMS_TEXT_MAX_CHARS = 4000
"""Longest text block put on a Teams card: a card is meant to be read at a glance, and Teams
refuses messages of more than about 28 KB."""

URL_SECRET_PART_MIN_CHARS = 12
"""Path segments and query values at least this long are treated as secret tokens in a webhook
URL (Slack's ``/services/T…/B…/<token>``, Teams' ``sig=``) and masked if a server echoes them;
shorter ones (``services``, ``api-version=1``) are not secret and would garble messages."""

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL to mask: the URL, its path and query, long segments."""
    parts = urlsplit(url)
    out = [url, parts.path, parts.query]
    if parts.password:
        out.append(parts.password)
    out += [s for s in parts.path.split("/") if len(s) >= URL_SECRET_PART_MIN_CHARS]
    out += [v for _, v in parse_qsl(parts.query) if len(v) >= URL_SECRET_PART_MIN_CHARS]
    return [s for s in out if s and s != "/"]


def _check_url(v: SecretStr) -> SecretStr:
    parts = urlsplit(v.get_secret_value())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "url is not an http(s) URL; paste the whole webhook URL, "
            "e.g. ${SLACK_WEBHOOK_URL} holding https://hooks.slack.com/services/…"
        )
    return v


# ---------------------------------------------------------------- pure rendering


def webhook_body(notification: Notification) -> dict[str, Any]:
    """The documented generic webhook body (pure)."""
    event = notification.event
    return {
        "version": WEBHOOK_BODY_VERSION,
        "kind": event.kind,
        "client": event.client,
        "site": event.site,
        "check": event.check,
        "at": event.at.isoformat(),
        "severity": event.severity,
        "summary": event.summary,
        "thread": event.thread,
        "key": notification.key,
        "details": json_safe(dict(sorted(event.details.items()))),
    }


def encode_body(body: Any) -> bytes:
    """The exact bytes sent (and signed): compact, keys in a fixed order, UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, data: bytes) -> str:
    """``sha256=<hex>`` HMAC of the body bytes, as in the signature header."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def slack_escape(text: str) -> str:
    """Slack mrkdwn escaping: &, < and > (so text cannot make links or mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _facts(event: Event) -> list[tuple[str, str]]:
    facts = [("Client", event.client), ("Site", event.site or ""), ("Check", event.check or "")]
    facts.append(("Severity", event.severity))
    return [(k, one_line(v)) for k, v in facts if v]


def slack_body(notification: Notification, agency_name: str, tz: ZoneInfo) -> dict[str, Any]:
    """A Slack incoming-webhook message: fallback ``text`` and Block Kit ``blocks`` (pure)."""
    event = notification.event
    subject = render(event, agency_name, tz, notification.recipient_name).subject
    summary = one_line(event.summary)
    when = format_time(event.at, tz)
    return {
        "text": slack_escape(_truncate(f"{subject}: {summary}", SLACK_TEXT_MAX_CHARS)),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _truncate(subject, SLACK_HEADER_MAX_CHARS)},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": slack_escape(_truncate(summary or subject, SLACK_TEXT_MAX_CHARS)),
                },
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": _truncate(f"*{k}*\n{slack_escape(v)}", SLACK_FIELD_MAX_CHARS),
                    }
                    for k, v in _facts(event)
                ],
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": slack_escape(f"monitord · {event.kind} · {when}")}
                ],
            },
        ],
    }


_TEAMS_COLOUR = {
    "critical": "Attention",
    "error": "Attention",
    "warning": "Warning",
    "info": "Good",
}


def teams_body(notification: Notification, agency_name: str, tz: ZoneInfo) -> dict[str, Any]:
    """A Teams Workflows message with one Adaptive Card (pure)."""
    event = notification.event
    subject = render(event, agency_name, tz, notification.recipient_name).subject
    colour = "Good" if event.kind == "site-recovered" else _TEAMS_COLOUR[event.severity]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "text": subject,
                "weight": "Bolder",
                "size": "Medium",
                "color": colour,
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": _truncate(one_line(event.summary), TEAMS_TEXT_MAX_CHARS),
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [
                    {"title": k, "value": v}
                    for k, v in [*_facts(event), ("When", format_time(event.at, tz))]
                ],
            },
        ],
    }
    url = event.details.get("url")
    link = link_url(url) if isinstance(url, str) else None
    if link is not None and link.startswith(("http://", "https://")):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open site", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


# ---------------------------------------------------------------- notifiers


class _UrlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr
    """The webhook's whole URL; a secret (it is the credential for Slack and Teams)."""
    timeout: Timeout = HTTP_TIMEOUT

    @field_validator("url")
    @classmethod
    def _url(cls, v: SecretStr) -> SecretStr:
        return _check_url(v)


class _WebhookBase:
    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    kind_label: ClassVar[str] = "webhook"
    hints: ClassVar[dict[int, str]] = {}
    default_hint: ClassVar[str] = "check the webhook's url"

    def __init__(
        self, name: str, options: _UrlOptions, ctx: NotifierContext, extra_secrets: list[str]
    ) -> None:
        self.name = name
        self._ctx = ctx
        self._url = options.url.get_secret_value()
        self._tz = ZoneInfo(ctx.agency.timezone)
        self._service = f"{self.kind_label} at {safe_url(self._url)} (notifier {name!r})"
        self._poster = JsonPoster(
            ssl_context=ctx.ssl_context,
            timeout=options.timeout,
            secrets=[*url_secrets(self._url), *extra_secrets],
        )

    def _render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        raise NotImplementedError

    async def send(self, notification: Notification) -> str | None:
        data, headers = self._render(notification)
        reply = await self._poster.post(
            self._url,
            data=data,
            service=self._service,
            now=self._ctx.clock(),
            headers=headers,
            hints=self.hints,
            default_hint=self.default_hint,
        )
        event = notification.event
        self._ctx.log.info(
            f"{self.kind_label.lower()}.sent",
            notifier=self.name,
            status=reply.status,
            kind=event.kind,
            client=event.client,
            site=event.site,
        )
        answer = reply.json()
        if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
            return str(answer["id"])
        return None

    async def aclose(self) -> None:
        await self._poster.aclose()


class WebhookNotifier(_WebhookBase):
    """POSTs the documented JSON body to any URL, optionally signed."""

    kind_label: ClassVar[str] = "webhook"
    hints: ClassVar[dict[int, str]] = {
        401: "check the webhook's credentials in headers (e.g. Authorization)",
        403: "check the webhook's credentials in headers, or hmac_secret",
        404: "check url",
        410: "the receiver says it is gone; check url",
    }
    default_hint: ClassVar[str] = "check url and headers, and what the receiver expects"

    class Options(_UrlOptions):
        headers: dict[str, SecretStr] = {}
        """Extra request headers; values may be secrets (``Authorization: Bearer ${TOKEN}``)."""
        hmac_secret: SecretStr | None = None
        """When set, the body is signed: ``X-Monitord-Signature: sha256=<hex>``."""

        @field_validator("headers")
        @classmethod
        def _headers(cls, v: dict[str, SecretStr]) -> dict[str, SecretStr]:
            for name, value in v.items():
                if not _HEADER_NAME.match(name):
                    raise ValueError(
                        f"{name!r} is not a valid header name; use letters, digits and '-'"
                    )
                if any(c in value.get_secret_value() for c in "\r\n"):
                    raise ValueError(
                        f"the value of header {name!r} contains a line break; remove it"
                    )
            return v

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        secrets = [v.get_secret_value() for v in options.headers.values()]
        if options.hmac_secret is not None:
            secrets.append(options.hmac_secret.get_secret_value())
        super().__init__(name, options, ctx, secrets)
        self._options = options

    def _render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        data = encode_body(webhook_body(notification))
        headers = {k: v.get_secret_value() for k, v in self._options.headers.items()}
        headers["X-Monitord-Key"] = one_line(notification.key)
        headers["X-Monitord-Event"] = notification.event.kind
        if self._options.hmac_secret is not None:
            headers[SIGNATURE_HEADER] = signature(
                self._options.hmac_secret.get_secret_value(), data
            )
        return data, headers


class SlackNotifier(_WebhookBase):
    """Posts to a Slack channel through an incoming webhook."""

    kind_label: ClassVar[str] = "Slack"
    hints: ClassVar[dict[int, str]] = {
        400: "Slack refused the message (invalid_payload/no_text); report it as a monitord bug",
        403: "the webhook was revoked or its app lost access (action_prohibited/invalid_token): "
        "create a new incoming webhook and update url",
        404: "the webhook no longer exists (no_service/channel_not_found): create a new "
        "incoming webhook and update url",
        410: "the channel is archived (channel_is_archived): unarchive it or use a webhook for "
        "another channel",
    }
    default_hint: ClassVar[str] = "check url is a Slack incoming webhook URL"

    class Options(_UrlOptions):
        pass

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        super().__init__(name, options, ctx, [])

    def _render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = slack_body(notification, self._ctx.agency.name, self._tz)
        return encode_body(body), {}


class TeamsNotifier(_WebhookBase):
    """Posts an Adaptive Card to a Microsoft Teams channel through a Workflows webhook."""

    kind_label: ClassVar[str] = "Teams"
    hints: ClassVar[dict[int, str]] = {
        400: "the workflow refused the card; check the workflow is 'Post to a channel when a "
        "webhook request is received'",
        401: "the URL's signature (sig=) is wrong or expired: copy the workflow's URL again",
        403: "the URL's signature (sig=) is wrong or expired: copy the workflow's URL again",
        404: "the workflow no longer exists or is turned off: turn it on, or create a new one "
        "and update url",
    }
    default_hint: ClassVar[str] = "check url is the HTTP URL of a Teams Workflows webhook trigger"

    class Options(_UrlOptions):
        pass

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        super().__init__(name, options, ctx, [])

    def _render(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        body = teams_body(notification, self._ctx.agency.name, self._tz)
        return encode_body(body), {}
