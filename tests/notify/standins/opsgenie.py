"""A stand-in for Opsgenie's Alert API v2 (and JSM's Integration Events API, same shape).

``POST {prefix}/v2/alerts`` creates, ``POST {prefix}/v2/alerts/{identifier}/close
?identifierType=alias`` closes. Auth: ``Authorization: GenieKey <key>`` with a known key, else
401. Validation like the real API (422 ``{"message": "Request body is not processable. Please
check the errors.", "errors": {field: problem}}``): message required, at most 130 characters;
alias 512; description 15,000; entity 512; source 100; priority P1–P5; at most 20 tags of 50
characters; details a map of strings. Accepts with 202 ``{"result": "Request will be
processed", "took": …, "requestId": …}``. Keeps the alerts by alias.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.notify.standins.common import StandIn, json_response

LIMITS = {"message": 130, "alias": 512, "description": 15000, "entity": 512, "source": 100}


def validate_create(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {"body": "must be a JSON object"}
    errors: dict[str, str] = {}
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        errors["message"] = "Message can not be empty."
    for name, limit in LIMITS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors[name] = f"{name.capitalize()} can not be longer than {limit} characters."
    priority = body.get("priority")
    if priority is not None and priority not in ("P1", "P2", "P3", "P4", "P5"):
        errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]"
    tags = body.get("tags", [])
    if (
        not isinstance(tags, list)
        or len(tags) > 20
        or any(not isinstance(t, str) or len(t) > 50 for t in tags)
    ):
        errors["tags"] = "Tags can have at most 20 items of at most 50 characters."
    details = body.get("details", {})
    if not isinstance(details, dict) or any(not isinstance(v, str) for v in details.values()):
        errors["details"] = "Details should be a map of strings."
    responders = body.get("responders", [])
    if not isinstance(responders, list) or any(
        not isinstance(r, dict) or r.get("type") not in ("team", "user", "escalation", "schedule")
        for r in responders
    ):
        errors["responders"] = "Responder type should be one of team, user, escalation, schedule."
    return errors


@dataclass
class OgAlert:
    status: str
    creates: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


@dataclass
class OpsgenieStandIn(StandIn):
    api_keys: set[str] = field(default_factory=set)
    prefix: str = ""
    alerts: dict[str, OgAlert] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"{self.prefix}/v2/alerts", self._create)
        app.router.add_post(f"{self.prefix}/v2/alerts/{{identifier}}/close", self._close)
        return app

    def _request_id(self) -> str:
        return str(uuid.uuid4())

    def _auth(self, got: Any) -> web.Response | None:
        auth = got.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme != "GenieKey" or (self.api_keys and key not in self.api_keys):
            return json_response(
                401,
                {"message": "Could not authenticate", "took": 0.0, "requestId": self._request_id()},
            )
        return None

    async def _create(self, request: web.Request) -> web.StreamResponse:
        got = await self.record(request)
        failure = self.failure_response(got) or self._auth(got)
        if failure is not None:
            return failure
        try:
            body = got.json()
        except ValueError:
            body = None
        errors = validate_create(body)
        if errors:
            return json_response(
                422,
                {
                    "message": "Request body is not processable. Please check the errors.",
                    "errors": errors,
                    "took": 0.0,
                    "requestId": self._request_id(),
                },
            )
        alias = body.get("alias") or body["message"]
        alert = self.alerts.get(alias)
        if alert is None or alert.status == "closed":
            alert = self.alerts[alias] = OgAlert("open")
        alert.creates += 1
        alert.body = body
        return json_response(
            202,
            {"result": "Request will be processed", "took": 0.1, "requestId": self._request_id()},
        )

    async def _close(self, request: web.Request) -> web.StreamResponse:
        got = await self.record(request)
        failure = self.failure_response(got) or self._auth(got)
        if failure is not None:
            return failure
        kind = got.query.get("identifierType", "id")
        if kind not in ("id", "tiny", "alias"):
            return json_response(
                422,
                {
                    "message": "Identifier type should be one of [id, tiny, alias]",
                    "took": 0.0,
                    "requestId": self._request_id(),
                },
            )
        body = got.json() if got.body else {}
        note = body.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 25000):
            return json_response(
                422,
                {
                    "message": "Request body is not processable. Please check the errors.",
                    "errors": {"note": "Note can not be longer than 25000 characters."},
                    "took": 0.0,
                    "requestId": self._request_id(),
                },
            )
        alias = request.match_info["identifier"]
        if kind == "alias" and alias in self.alerts:
            self.alerts[alias].status = "closed"
            self.alerts[alias].note = note
        return json_response(
            202,
            {"result": "Request will be processed", "took": 0.1, "requestId": self._request_id()},
        )
