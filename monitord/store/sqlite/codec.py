"""The stored forms: instants as text, values as JSON, rows to and from the store.base values.

Shared by every part of the SQLite store; nothing here touches a connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from monitord.errors import StoreError
from monitord.events import Event
from monitord.notify.base import Notification
from monitord.store.base import IncidentRow, LocalTicketRow, OutboxItem, ResultRow
from monitord.store.batching import Pending, merge_pending


def to_iso(dt: datetime) -> str:
    """The stored form of an instant: fixed-width UTC ISO 8601, so text order is time order."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware UTC datetime to the store")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"{what} cannot be stored: it is not plain JSON ({exc}); "
            "use only strings, numbers, booleans, None, lists and dicts with string keys"
        ) from exc


def notification_to_json(n: Notification) -> str:
    return _dumps(
        {
            "key": n.key,
            "notifier": n.notifier,
            "recipient": n.recipient,
            "recipient_name": n.recipient_name,
            "event": n.event.to_json(),
            # Routing's hold time and storm group: only when set, so items stored without
            # them read back unchanged.
            **({"due_at": to_iso(n.due_at)} if n.due_at is not None else {}),
            **({"group": n.group} if n.group is not None else {}),
            **({"page": True} if n.page else {}),
        },
        what=f"notification {n.key!r}",
    )


def notification_from_json(text: str) -> Notification:
    d = json.loads(text)
    return Notification(
        key=d["key"],
        notifier=d["notifier"],
        recipient=d["recipient"],
        recipient_name=d["recipient_name"],
        event=Event.from_json(d["event"]),
        due_at=from_iso(d["due_at"]) if d.get("due_at") else None,
        group=d.get("group"),
        page=bool(d.get("page", False)),
    )


_ResultParams = tuple[str, str, str, str, int, str, str | None, float, str, str]
_IncidentParams = tuple[str, str, str, str, str, str, str | None, str, str]
_OutboxParams = tuple[str, str, str, str, str, str, str, str | None]
"""key, notifier, notification JSON, due_at, created, thread, recipient (lower case), group."""


_Entry = Pending[_ResultParams, str]
"""One check's state and latest result in this backend's bound forms, waiting in a batch."""

_merge = merge_pending


def _result_params(r: ResultRow) -> _ResultParams:
    return (
        r.key,
        r.client,
        r.site,
        r.check,
        int(r.ok),
        r.message,
        r.warning,
        float(r.duration),
        to_iso(r.at),
        _dumps(r.details, what=f"details of the result for {r.key!r}"),
    )


def _incident_params(i: IncidentRow) -> _IncidentParams:
    return (
        i.id,
        i.key,
        i.client,
        i.site,
        i.check,
        to_iso(i.started),
        to_iso(i.ended) if i.ended is not None else None,
        i.summary,
        i.last_message,
    )


def _outbox_params(ns: Sequence[Notification], created: str, due: str) -> list[_OutboxParams]:
    """Outbox rows; an item is due at the later of ``due`` and its own ``due_at`` (and, in
    _INSERT_OUTBOX, of the open items before it to the same destination in its thread)."""
    return [
        (
            n.key,
            n.notifier,
            notification_to_json(n),
            max(due, to_iso(n.due_at)) if n.due_at is not None else due,
            created,
            n.event.thread,
            n.recipient.lower(),
            n.group,
        )
        for n in ns
    ]


def _result_row(row: sqlite3.Row) -> ResultRow:
    return ResultRow(
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        ok=bool(row["ok"]),
        message=row["message"],
        warning=row["warning"],
        duration=row["duration"],
        at=from_iso(row["at"]),
        details=json.loads(row["details"]),
    )


def _incident_row(row: sqlite3.Row) -> IncidentRow:
    return IncidentRow(
        id=row["id"],
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        started=from_iso(row["started"]),
        ended=from_iso(row["ended"]) if row["ended"] is not None else None,
        summary=row["summary"],
        last_message=row["last_message"],
    )


def _outbox_item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        key=row["key"],
        notifier=row["notifier"],
        notification=notification_from_json(row["notification"]),
        attempts=row["attempts"],
        due_at=from_iso(row["due_at"]),
        status=row["status"],
        last_error=row["last_error"],
        created=from_iso(row["created"]),
        external_id=row["external_id"],
    )


def _opt_time(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


def _ticket_row(row: sqlite3.Row) -> LocalTicketRow:
    return LocalTicketRow(
        id=row["id"],
        thread=row["thread"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        kind=row["kind"],
        priority=row["priority"],
        title=row["title"],
        body=row["body"],
        opened_at=from_iso(row["opened_at"]),
        respond_by=from_iso(row["respond_by"]),
        status=row["status"],
        acked_at=_opt_time(row["acked_at"]),
        acked_by=row["acked_by"],
        resolved_at=_opt_time(row["resolved_at"]),
        reminded_at=_opt_time(row["reminded_at"]),
    )
