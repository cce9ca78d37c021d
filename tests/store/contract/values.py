"""Values the contract tests store: events, notifications, results, incidents, tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitord.events import Event
from monitord.notify.base import Notification
from monitord.store.base import IncidentRow, ResultRow
from monitord.tickets import Ticket

T0 = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def event(key: str, thread: str | None = None, at: datetime = T0, **details: Any) -> Event:
    return Event(
        kind="site-down",
        client="acme",
        site="acme-www",
        check="http",
        at=at,
        key=key,
        thread=thread if thread is not None else f"thread-of-{key}",
        summary="www.acme.example is down: HTTP 503",
        details=dict(details),
    )


def note(
    key: str,
    notifier: str = "email",
    recipient: str = "jo@acme.example",
    *,
    thread: str | None = None,
    due_at: datetime | None = None,
    group: str | None = None,
) -> Notification:
    """A notification; each key its own thread unless ``thread`` is given."""
    return Notification(
        key=key,
        notifier=notifier,
        recipient=recipient,
        recipient_name="Jo Bloggs",
        event=event(f"ev-{key}", thread, status=503, où="ça", nested={"a": [1, 2.5, None]}),
        due_at=due_at,
        group=group,
    )


def result(key: str, seq: int, at: datetime = T0, ok: bool = True) -> ResultRow:
    return ResultRow(
        key=key,
        client="acme",
        site="acme-www",
        check="http",
        ok=ok,
        message=f"HTTP 200 in {seq} ms",
        warning=None if ok else "slow",
        duration=seq / 1000,
        at=at,
        details={"status": 200, "seq": seq},
    )


def incident(id_: str, started: datetime, ended: datetime | None = None) -> IncidentRow:
    return IncidentRow(
        id=id_,
        key="acme-www/http",
        client="acme",
        site="acme-www",
        check="http",
        started=started,
        ended=ended,
        summary="www.acme.example is down",
        last_message="HTTP 503",
    )


def ticket(thread: str, opened_at: datetime = T0, client: str = "acme") -> Ticket:
    return Ticket(
        thread=thread,
        client=client,
        site="acme-www",
        check="http",
        kind="site-down",
        priority="urgent",
        title="www.acme.example is down",
        body="HTTP 503 since 16:30",
        opened_at=opened_at,
        respond_by=opened_at + HOUR,
        client_name="ACME",
        tags=(),
    )
