"""The stored forms of the PostgreSQL store: arguments bound to statements, rows read back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from monitord.notify.base import Notification
from monitord.store.base import IncidentRow, LocalTicketRow, OutboxItem, ResultRow
from monitord.store.batching import Pending, merge_pending
from monitord.store.sqlite import notification_from_json, notification_to_json
from monitord.store.sqlite.codec import _dumps


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{dt!r} has no time zone; pass an aware UTC datetime to the store")
    return dt.astimezone(UTC)


def _opt(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.astimezone(UTC)


_OutboxArgs = tuple[str, str, str, datetime, datetime, str, str, str | None]


def _outbox_args(ns: Sequence[Notification], created: datetime, due: datetime) -> list[_OutboxArgs]:
    return [
        (
            n.key,
            n.notifier,
            notification_to_json(n),
            max(due, _utc(n.due_at)) if n.due_at is not None else due,
            created,
            n.event.thread,
            n.recipient.lower(),
            n.group,
        )
        for n in ns
    ]


_ResultArgs = tuple[str, str, str, str, bool, str, str | None, float, datetime, str]


def _result_args(r: ResultRow) -> _ResultArgs:
    return (
        r.key,
        r.client,
        r.site,
        r.check,
        bool(r.ok),
        r.message,
        r.warning,
        float(r.duration),
        _utc(r.at),
        _dumps(r.details, what=f"details of the result for {r.key!r}"),
    )


_Entry = Pending[_ResultArgs, datetime]
"""One check's state and latest result in this backend's bound forms, waiting in a batch."""

_merge = merge_pending


def _affected(status: str) -> int:
    """Rows an asyncpg command status (``UPDATE 3``, ``DELETE 0``) names."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _result_row(row: asyncpg.Record) -> ResultRow:
    return ResultRow(
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        ok=bool(row["ok"]),
        message=row["message"],
        warning=row["warning"],
        duration=row["duration"],
        at=row["at"].astimezone(UTC),
        details=json.loads(row["details"]),
    )


def _incident_row(row: asyncpg.Record) -> IncidentRow:
    return IncidentRow(
        id=row["id"],
        key=row["key"],
        client=row["client"],
        site=row["site"],
        check=row["check_id"],
        started=row["started"].astimezone(UTC),
        ended=_opt(row["ended"]),
        summary=row["summary"],
        last_message=row["last_message"],
    )


def _outbox_item(row: asyncpg.Record) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        key=row["key"],
        notifier=row["notifier"],
        notification=notification_from_json(row["notification"]),
        attempts=row["attempts"],
        due_at=row["due_at"].astimezone(UTC),
        status=row["status"],
        last_error=row["last_error"],
        created=row["created"].astimezone(UTC),
        external_id=row["external_id"],
    )


def _ticket_row(row: asyncpg.Record) -> LocalTicketRow:
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
        opened_at=row["opened_at"].astimezone(UTC),
        respond_by=row["respond_by"].astimezone(UTC),
        status=row["status"],
        acked_at=_opt(row["acked_at"]),
        acked_by=row["acked_by"],
        resolved_at=_opt(row["resolved_at"]),
        reminded_at=_opt(row["reminded_at"]),
    )


def _sorted(items: list[OutboxItem]) -> list[OutboxItem]:
    return sorted(items, key=lambda i: (i.due_at, i.id))
