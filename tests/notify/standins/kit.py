"""Small builders shared by the notifier tests: a context, events, notifications, goldens."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from ssl import SSLContext
from typing import Any

import structlog

from monitord.config.models import Agency
from monitord.events import Event, EventKind
from monitord.notify.base import Notification
from monitord.notify.plugins import NotifierContext
from tests.helpers.clock import Clock

AGENCY = Agency(name="Collective", timezone="Europe/London")
NOW = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
THREAD = "acme/acme-www/http@2026-11-26T14:03:00Z"
GOLDEN = Path(__file__).resolve().parents[1] / "golden_ext"
"""Goldens of the external notifiers' bodies (tests/notify/golden/ belongs to render's own
cases, which checks that every file there is one of them)."""
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def make_ctx(ssl_context: SSLContext | None = None, clock: Clock | None = None) -> NotifierContext:
    return NotifierContext(
        agency=AGENCY,
        smtp=None,
        ssl_context=ssl_context,
        clock=clock or Clock(NOW),
        log=structlog.get_logger("monitord.notify.test"),
        config_dir=Path("."),
    )


def event(kind: EventKind = "site-down", *, thread: str = THREAD, **kw: Any) -> Event:
    fields: dict[str, Any] = {
        "client": "acme",
        "site": "acme-www",
        "check": "http",
        "at": NOW,
        "key": f"{thread}/{kind}",
        "thread": thread,
        "summary": f"acme-www is DOWN: HTTP 503 ({kind})",
        "severity": "info" if kind == "site-recovered" else "critical",
        "details": {
            "url": "https://www.acme.example/",
            "client_name": "ACME Charity",
            "message": "HTTP 503",
            "started": "2026-11-26T14:03:00Z",
        },
    }
    fields.update(kw)
    return Event(kind=kind, **fields)


def note(
    kind: EventKind = "site-down", notifier: str = "n", *, recipient: str = "", **kw: Any
) -> Notification:
    ev = event(kind, **kw)
    return Notification(f"{ev.key}|{notifier}|{recipient}", notifier, recipient, "", ev)


def check_golden(name: str, data: Any) -> None:
    """``data`` as pretty JSON equals tests/notify/golden/<name> (rewritten with
    UPDATE_GOLDEN=1; review the diff before committing)."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = GOLDEN / name
    if UPDATE or not path.exists():
        if not UPDATE:
            raise AssertionError(f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it")
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}"
