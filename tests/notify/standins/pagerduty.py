"""A stand-in for PagerDuty's Events API v2 (``POST /v2/enqueue``).

Validates like the real API (400 ``{"status": "invalid event", "message": "Event object is
invalid", "errors": [...]}``): routing_key present, 32 characters and known; event_action one of
trigger/acknowledge/resolve; dedup_key at most 255 characters (and present unless triggering);
a trigger's payload with summary (at most 1024 characters), source and a severity of
critical/error/warning/info. Accepts with 202 ``{"status": "success", "message": "Event
processed", "dedup_key": …}``. Keeps PagerDuty's alert state per dedup_key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.notify.standins.common import StandIn, json_response

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


def validate_event(body: Any, known_keys: set[str] | None = None) -> list[str]:
    """PagerDuty's complaints about one event (empty when it is valid)."""
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    errors: list[str] = []
    key = body.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        errors.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    elif known_keys is not None and key not in known_keys:
        errors.append("Invalid routing key")
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' is too long (maximum is 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or blank")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' is too long (maximum is 1024 characters)")
            source = payload.get("source")
            if not isinstance(source, str) or not source.strip():
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
                )
            details = payload.get("custom_details")
            if details is not None and not isinstance(details, dict):
                errors.append("'payload.custom_details' must be an object")
    return errors


@dataclass
class Alert:
    status: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PagerDutyStandIn(StandIn):
    routing_keys: set[str] = field(default_factory=set)
    """Keys the stand-in knows; empty accepts any well-formed key."""
    alerts: dict[str, Alert] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        return app

    async def _enqueue(self, request: web.Request) -> web.StreamResponse:
        got = await self.record(request)
        failure = self.failure_response(got)
        if failure is not None:
            return failure
        try:
            body = got.json()
        except ValueError:
            return json_response(
                400,
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["Invalid JSON"],
                },
            )
        errors = validate_event(body, self.routing_keys or None)
        if errors:
            return json_response(
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
            )
        dedup = body.get("dedup_key") or uuid.uuid4().hex
        action = body["event_action"]
        alert = self.alerts.get(dedup)
        if action == "trigger":
            if alert is None or alert.status == "resolved":
                alert = self.alerts[dedup] = Alert("triggered")
            alert.events.append(body)
        elif alert is not None:
            alert.status = "resolved" if action == "resolve" else "acknowledged"
            alert.events.append(body)
        return json_response(
            202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
        )
