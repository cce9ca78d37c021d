"""Retention on a real SQLite file: finished rows older than their retention are deleted, in
batches; pending and sending rows and open incidents never are; the notifications-sent and
-failed counts (/metrics) do not go down when rows are deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

import monitord.store.sqlite.retention as sqlite_store
from monitord.store import SqliteStore
from monitord.store.base import Pruned
from monitord.store.sqlite.reader import SqliteReader
from tests.store.test_sqlite_store import HOUR, T0, incident, note, peek

DAY = timedelta(days=1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "monitord.sqlite3"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(path, flush_interval=HOUR)
    await s.open()
    yield s
    await s.close()


async def finish(store: SqliteStore, key: str, notifier: str, outcome: str, days: int) -> None:
    """Enqueue ``key`` at T0 + ``days`` and record ``outcome`` (sent/failed) for it then."""
    at = T0 + days * DAY
    await store.enqueue([note(key, notifier=notifier)], at)
    (item,) = [i for i in await store.claim_due(at, 100) if i.key == key]
    if outcome == "sent":
        await store.mark_sent(item.id, at, "<id@x>")
    else:
        await store.mark_failed(item.id, at, "550 no such user")


async def test_prune_deletes_only_finished_rows_older_than_their_retention(
    store: SqliteStore, path: Path
) -> None:
    await finish(store, "sent-old", "email", "sent", 0)
    await finish(store, "sent-new", "email", "sent", 20)
    await finish(store, "failed-old", "webhook.ops", "failed", 0)
    await finish(store, "failed-mid", "email", "failed", 20)
    await store.enqueue([note("pending-old")], T0)  # never claimed: waits, however old
    await store.enqueue([note("sending-old")], T0 - DAY)
    assert [i.key for i in await store.claim_due(T0 - DAY, 1)] == ["sending-old"]
    await store.write("k", {}, None, incident=incident("ended-old", T0, T0 + HOUR), now=T0)
    await store.write("k", {}, None, incident=incident("open-old", T0 - DAY), now=T0)
    ended_new = incident("ended-new", T0 + 19 * DAY, T0 + 20 * DAY)
    await store.write("k", {}, None, incident=ended_new, now=T0)
    before = SqliteReader(path).extras().notifications

    now = T0 + 35 * DAY
    pruned = await store.prune(
        sent_before=now - 30 * DAY, failed_before=now - 30 * DAY, incidents_before=now - 20 * DAY
    )
    assert pruned == Pruned(sent=1, failed=1, incidents=1)
    left = {str(k) for (k,) in peek(path, "SELECT key FROM outbox")}
    assert left == {"sent-new", "failed-mid", "pending-old", "sending-old"}
    assert {i.id for i in await store.incidents()} == {"open-old", "ended-new"}
    # The counters behind monitord_notifications_{sent,failed}_total keep the deleted rows.
    assert SqliteReader(path).extras().notifications == before
    assert before[("webhook.ops", "failed")] == 1

    # Nothing more to do: a second pass deletes nothing, and is falsy (nothing logged).
    again = await store.prune(
        sent_before=now - 30 * DAY, failed_before=now - 30 * DAY, incidents_before=now - 20 * DAY
    )
    assert not again


async def test_prune_works_in_batches_until_done(
    store: SqliteStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "PRUNE_BATCH", 3)
    for n in range(10):
        await finish(store, f"s{n}", "email", "sent", 0)
    commits = store.commits
    pruned = await store.prune(
        sent_before=T0 + DAY, failed_before=T0 + DAY, incidents_before=T0 + DAY
    )
    assert pruned.sent == 10
    assert peek(path, "SELECT COUNT(*) FROM outbox") == [(0,)]
    assert store.commits - commits >= 4  # 3 + 3 + 3 + 1, each its own transaction
    assert SqliteReader(path).extras().notifications == {("email", "sent"): 10}
