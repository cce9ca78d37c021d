"""The claim's order per destination, on a real SQLite store: within one event thread, items
to one notifier and recipient go out in order; other recipients are independent; an item is
never due before the open items ahead of it to its destination; migration 5 fills the new
columns of items written by an older monitord."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitord.events import EventKind
from monitord.notify.base import Notification
from monitord.store import PENDING, SENDING, SqliteStore
from monitord.store.migrations import MIGRATIONS, migrate
from monitord.store.sqlite import notification_to_json, to_iso
from tests.outbox.test_sender import note

T0 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)  # a Sunday
MONDAY_NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
THREAD = "acme/acme-www/http@2026-11-29T14:00:00Z"


def to(
    key: str, recipient: str, due: datetime | None = None, kind: EventKind = "site-down"
) -> Notification:
    n = note(key, thread=THREAD)
    return dataclasses.replace(
        n, recipient=recipient, due_at=due, event=dataclasses.replace(n.event, kind=kind)
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.sqlite3")
    await s.open()
    yield s
    await s.close()


async def keys(store: SqliteStore, now: datetime) -> list[str]:
    return [i.key for i in await store.claim_due(now, 100, "run")]


async def test_a_held_mail_to_one_recipient_does_not_hold_another_s(store: SqliteStore) -> None:
    await store.enqueue(
        [to("client-down", "jo@acme.example", MONDAY_NINE), to("oncall-down", "sam@x.example")],
        T0,
    )
    assert await keys(store, T0) == ["oncall-down"]
    assert await keys(store, MONDAY_NINE - timedelta(microseconds=1)) == []
    assert await keys(store, MONDAY_NINE) == ["client-down"]


async def test_a_recovery_never_overtakes_its_down_to_the_same_recipient(
    store: SqliteStore,
) -> None:
    # The DOWN is held to Monday; the recovery was routed "always" (due now) — and recipients
    # differing only in case are one destination.
    await store.enqueue([to("down", "jo@acme.example", MONDAY_NINE)], T0)
    await store.enqueue([to("recovered", "Jo@Acme.example", kind="site-recovered")], T0)
    (recovered,) = [i for i in await store.outbox_items() if i.key == "recovered"]
    assert recovered.due_at == MONDAY_NINE  # never due before the DOWN ahead of it
    assert await keys(store, T0) == []
    assert await keys(store, MONDAY_NINE) == ["down"]
    assert await keys(store, MONDAY_NINE) == []  # the DOWN is in flight
    (down,) = [i for i in await store.outbox_items() if i.key == "down"]
    await store.mark_sent(down.id, MONDAY_NINE, None)
    assert await keys(store, MONDAY_NINE) == ["recovered"]


async def test_a_notifier_with_full_slots_is_left_out_of_the_claim(store: SqliteStore) -> None:
    await store.enqueue([note("hook-1", "hook"), note("mail-1"), note("hook-2", "hook")], T0)
    got = await store.claim_due(T0, 100, "run", busy=["hook"])
    assert [i.key for i in got] == ["mail-1"]
    assert {i.key: i.status for i in await store.outbox_items()} == {
        "hook-1": PENDING,
        "mail-1": SENDING,
        "hook-2": PENDING,
    }


def test_migration_5_fills_thread_recipient_and_group_and_marks_sends_under_way(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(conn, path, T0, MIGRATIONS[:4])
        n = dataclasses.replace(to("old", "Jo@Acme.example"), group="g-1")
        for key, status in (("old", "pending"), ("in-flight", "sending")):
            conn.execute(
                "INSERT INTO outbox (key, notifier, notification, due_at, created, updated, "
                "status, claimed_at) VALUES (?, 'email', ?, ?, ?, ?, ?, ?)",
                (key, notification_to_json(n), to_iso(T0), to_iso(T0), to_iso(T0), status,
                 to_iso(T0) if status == "sending" else None),
            )  # fmt: skip
        assert migrate(conn, path, T0) == MIGRATIONS[-1].version
        rows = conn.execute(
            "SELECT key, thread, recipient, grp, run_id, attempt_started FROM outbox ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert rows == [
        ("old", THREAD, "jo@acme.example", "g-1", None, None),
        # Claimed by an older monitord: its send may have begun, so it is uncertain.
        ("in-flight", THREAD, "jo@acme.example", "g-1", None, to_iso(T0)),
    ]
