"""Stand-ins for chat webhooks (Slack, Teams Workflows) and a generic JSON webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.notify.standins.common import Received, StandIn, json_response

SLACK_BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text"}


def validate_slack(body: Any) -> str | None:
    """Slack's error word for a message body, or None when it would be posted."""
    if not isinstance(body, dict):
        return "invalid_payload"
    blocks = body.get("blocks")
    text = body.get("text")
    if not (isinstance(text, str) and text.strip()) and not blocks:
        return "no_text"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in SLACK_BLOCK_TYPES:
            return "invalid_blocks"
        t = block.get("text")
        if block["type"] == "header" and (
            not isinstance(t, dict) or t.get("type") != "plain_text" or len(t.get("text", "")) > 150
        ):
            return "invalid_blocks"
        if block["type"] == "section":
            if t is not None and (not isinstance(t, dict) or len(t.get("text", "")) > 3000):
                return "invalid_blocks"
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return "invalid_blocks"
    return None


@dataclass
class SlackStandIn(StandIn):
    """``POST /services/{team}/{bot}/{token}``: 200 ``ok``; 403 ``invalid_token`` for a wrong
    token; 400 ``invalid_payload``/``no_text``/``invalid_blocks``; failures on demand."""

    token: str = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    posted: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/services/{path:.+}", self._post)
        return app

    async def _post(self, request: web.Request) -> web.StreamResponse:
        got = await self.record(request)
        failure = self.failure_response(got)
        if failure is not None:
            return failure
        if request.match_info["path"] != self.token:
            return web.Response(status=403, text="invalid_token")
        try:
            body = got.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        problem = validate_slack(body)
        if problem is not None:
            return web.Response(status=400, text=problem)
        self.posted.append(body)
        return web.Response(status=200, text="ok")


def validate_teams(body: Any) -> str | None:
    if not isinstance(body, dict) or body.get("type") != "message":
        return "the body must be {type: message, attachments: [...]}"
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "attachments must be a non-empty list"
    for a in attachments:
        if (
            not isinstance(a, dict)
            or a.get("contentType") != "application/vnd.microsoft.card.adaptive"
        ):
            return "each attachment must be an Adaptive Card"
        card = a.get("content")
        if (
            not isinstance(card, dict)
            or card.get("type") != "AdaptiveCard"
            or "version" not in card
        ):
            return "content must be an AdaptiveCard with a version"
        if not isinstance(card.get("body"), list):
            return "the card needs a body list"
    return None


@dataclass
class TeamsStandIn(StandIn):
    """A Workflows trigger ``POST /workflows/{id}/triggers/manual/paths/invoke?...&sig=…``:
    202 when the signature matches and the message carries an Adaptive Card; 401 for a wrong
    signature; 400 for a body the flow cannot use."""

    sig: str = "s1gnatureXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    posted: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/workflows/{flow}/triggers/manual/paths/invoke", self._post)
        return app

    async def _post(self, request: web.Request) -> web.StreamResponse:
        got = await self.record(request)
        failure = self.failure_response(got)
        if failure is not None:
            return failure
        if got.query.get("sig") != self.sig:
            return json_response(
                401,
                {
                    "error": {
                        "code": "DirectApiAuthorizationRequired",
                        "message": "The request must be authenticated",
                    }
                },
            )
        try:
            body = got.json()
        except ValueError:
            body = None
        problem = validate_teams(body)
        if problem is not None:
            return json_response(
                400, {"error": {"code": "InvalidRequestContent", "message": problem}}
            )
        self.posted.append(body)
        return web.Response(status=202)


@dataclass
class WebhookReceiver(StandIn):
    """``POST /hook``: checks a required header and an HMAC signature when configured;
    answers 200 with ``{"id": …}`` (or 204 with ``no_content``)."""

    required_header: tuple[str, str] | None = None
    hmac_secret: str | None = None
    no_content: bool = False
    accepted: list[Received] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._post)
        return app

    async def _post(self, request: web.Request) -> web.StreamResponse:
        got = await self.record(request)
        failure = self.failure_response(got)
        if failure is not None:
            return failure
        if self.required_header is not None:
            name, value = self.required_header
            if got.headers.get(name.lower()) != value:
                return json_response(401, {"error": "unauthorized"})
        if self.hmac_secret is not None:
            want = (
                "sha256="
                + hmac.new(self.hmac_secret.encode(), got.body, hashlib.sha256).hexdigest()
            )
            if not hmac.compare_digest(got.headers.get("x-monitord-signature", ""), want):
                return json_response(403, {"error": "bad signature"})
        self.accepted.append(got)
        if self.no_content:
            return web.Response(status=204)
        return json_response(200, {"id": f"evt-{len(self.accepted)}"})
