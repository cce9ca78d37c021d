"""The SQLite store on real files: batching, durable writes, incidents, outbox, meta."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from monitord.errors import StoreError
from monitord.events import Event
from monitord.notify.base import Notification
from monitord.store import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    IncidentRow,
    OutboxStats,
    ResultRow,
    SqliteStore,
    Store,
)

T0 = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def event(key: str, at: datetime = T0, **details: Any) -> Event:
    return Event(
        kind="site-down",
        client="acme",
        site="acme-www",
        check="http",
        at=at,
        key=key,
        thread=f"thread-of-{key}",  # each its own: items of one thread are claimed in order
        summary="www.acme.example is down: HTTP 503",
        details=dict(details),
    )


def note(key: str, notifier: str = "email", recipient: str = "jo@acme.example") -> Notification:
    return Notification(
        key=key,
        notifier=notifier,
        recipient=recipient,
        recipient_name="Jo Bloggs",
        event=event(f"ev-{key}", status=503, où="ça", nested={"a": [1, 2.5, None]}),
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
        summary="www.acme.example down",
        last_message="HTTP 503",
    )


def peek(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read with a separate connection: only what is committed is visible."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "monitord.sqlite3"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    # A flush interval of an hour: nothing is committed unless a test makes it so.
    s = SqliteStore(path, flush_interval=HOUR)
    await s.open()
    yield s
    await s.close()


def test_sqlite_store_satisfies_the_protocol(path: Path) -> None:
    store: Store = SqliteStore(path)  # mypy checks the structure; this checks the names
    for name in Store.__dict__:
        if not name.startswith("_"):
            assert callable(getattr(store, name)), name


# -- batching ---------------------------------------------------------------------------------


async def test_many_writes_are_one_transaction(store: SqliteStore, path: Path) -> None:
    watcher = sqlite3.connect(path)
    version_before = watcher.execute("PRAGMA data_version").fetchone()[0]
    for seq in range(1000):
        key = f"site-{seq % 100}/http"
        await store.write(key, {"seq": seq}, result(key, seq), now=T0 + timedelta(seconds=seq))
    # Nothing committed yet: no transaction, and another connection sees nothing.
    assert store.commits == 0
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == version_before
    assert peek(path, "SELECT COUNT(*) FROM check_state") == [(0,)]

    await store.flush()
    assert store.commits == 1
    assert watcher.execute("PRAGMA data_version").fetchone()[0] != version_before
    watcher.close()
    # Later writes to a key superseded earlier ones: each key holds its last write.
    states = await store.load_states()
    assert states == {f"site-{k}/http": {"seq": 900 + k} for k in range(100)}
    results = await store.latest_results()
    assert {k: r.details["seq"] for k, r in results.items()} == {
        f"site-{k}/http": 900 + k for k in range(100)
    }
    assert peek(path, "SELECT COUNT(*) FROM latest_result") == [(100,)]


async def test_batch_size_triggers_a_flush(path: Path) -> None:
    store = SqliteStore(path, batch_size=10, flush_interval=HOUR)
    await store.open()
    try:
        for i in range(25):
            await store.write(f"k{i}", {"i": i}, None, now=T0)
            if i in (9, 19):
                await asyncio.wait_for(store.flushed.wait(), timeout=5)
                store.flushed.clear()
        assert store.commits == 2
        assert peek(path, "SELECT COUNT(*) FROM check_state") == [(20,)]
    finally:
        await store.close()
    # close() flushed the rest.
    assert peek(path, "SELECT COUNT(*) FROM check_state") == [(25,)]


async def test_the_flush_interval_triggers_a_flush(path: Path) -> None:
    store = SqliteStore(path, flush_interval=timedelta(0))
    await store.open()
    try:
        await store.write("k", {"v": 1}, None, now=T0)
        await asyncio.wait_for(store.flushed.wait(), timeout=5)
        assert store.commits == 1
        assert peek(path, "SELECT state FROM check_state") == [('{"v":1}',)]
    finally:
        await store.close()


async def test_a_write_without_a_result_keeps_the_last_result(store: SqliteStore) -> None:
    await store.write("k", {"n": 1}, result("k", 1), now=T0)
    await store.write("k", {"n": 2}, None, now=T0)  # same batch
    await store.flush()
    await store.write("k", {"n": 3}, None, now=T0)  # a later batch
    assert await store.load_states() == {"k": {"n": 3}}
    assert (await store.latest_results())["k"] == result("k", 1)


async def test_the_state_is_copied_when_written(store: SqliteStore) -> None:
    state: dict[str, Any] = {"failures": 1}
    await store.write("k", state, None, now=T0)
    state["failures"] = 99
    assert await store.load_states() == {"k": {"failures": 1}}


async def test_results_come_back_equal_and_in_utc(store: SqliteStore) -> None:
    london_summer = timezone(timedelta(hours=1))
    at = datetime(2026, 7, 1, 10, 0, 0, 123456, tzinfo=london_summer)
    row = result("k", 7, at=at, ok=False)
    await store.write("k", {}, row, now=at)
    got = (await store.latest_results())["k"]
    assert got == row
    assert got.at.utcoffset() == timedelta(0)
    assert got.at == datetime(2026, 7, 1, 9, 0, 0, 123456, tzinfo=UTC)


async def test_state_that_is_not_json_is_refused_with_advice(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="not plain JSON"):
        await store.write("k", {"when": T0}, None, now=T0)


# -- durable writes ---------------------------------------------------------------------------


async def test_a_write_with_notifications_is_durable_when_it_returns(
    store: SqliteStore, path: Path
) -> None:
    n1, n2 = note("n1"), note("n2", recipient="sam@collective.example")
    await store.write("k", {"down": True}, result("k", 1), [n1, n2], now=T0)
    # Committed before close: a separate connection sees state and outbox together.
    assert peek(path, "SELECT state FROM check_state WHERE key = 'k'") == [('{"down":true}',)]
    assert peek(path, "SELECT key, status FROM outbox ORDER BY key") == [
        ("n1", PENDING),
        ("n2", PENDING),
    ]
    await store.close()

    again = SqliteStore(path)
    await again.open()
    try:
        assert await again.load_states() == {"k": {"down": True}}
        items = sorted(await again.outbox_items(), key=lambda i: i.key)
        assert [i.notification for i in items] == [n1, n2]
        assert [i.due_at for i in items] == [T0, T0]
        assert [i.created for i in items] == [T0, T0]
    finally:
        await again.close()


async def test_a_durable_write_commits_the_batch_before_it_in_order(
    store: SqliteStore, path: Path
) -> None:
    await store.write("k", {"v": 1}, None, now=T0)
    await store.write("other", {"v": 1}, None, now=T0)
    await store.write("k", {"v": 2}, None, [note("n")], now=T0)
    assert store.commits == 1
    assert peek(path, "SELECT key, state FROM check_state ORDER BY key") == [
        ("k", '{"v":2}'),
        ("other", '{"v":1}'),
    ]
    await store.write("k", {"v": 3}, None, now=T0)
    await store.flush()
    assert (await store.load_states())["k"] == {"v": 3}


async def test_an_incident_is_durable_and_upserted(store: SqliteStore, path: Path) -> None:
    await store.write("acme-www/http", {}, None, incident=incident("i1", T0), now=T0)
    assert peek(path, "SELECT id, ended FROM incident") == [("i1", None)]
    assert await store.open_incidents() == [incident("i1", T0)]

    await store.write("acme-www/http", {}, None, incident=incident("i1", T0, T0 + HOUR), now=T0)
    assert await store.open_incidents() == []
    assert await store.incidents() == [incident("i1", T0, T0 + HOUR)]


async def test_incidents_newest_first_with_a_limit(store: SqliteStore) -> None:
    for day in range(5):
        started = T0 + timedelta(days=day)
        ended = None if day in (1, 3) else started + HOUR
        await store.write("k", {}, None, incident=incident(f"i{day}", started, ended), now=T0)
    assert [i.id for i in await store.incidents(limit=3)] == ["i4", "i3", "i2"]
    assert [i.id for i in await store.open_incidents()] == ["i1", "i3"]


async def test_a_failed_commit_keeps_batched_rows_but_not_the_durable_write(
    store: SqliteStore, path: Path
) -> None:
    # A trigger makes every state write fail while meta 'fail' is '1': a stand-in for a full disk.
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TRIGGER fail_states BEFORE INSERT ON check_state "
        "WHEN (SELECT value FROM meta WHERE key = 'fail') = '1' "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    conn.commit()
    conn.close()
    await store.set_meta("fail", "1")

    await store.write("kept", {"v": 1}, result("kept", 1), now=T0)
    await store.write("batched", {"v": 1}, None, now=T0)
    with pytest.raises(StoreError, match="disk on fire"):
        await store.flush()
    with pytest.raises(StoreError, match="disk on fire"):
        await store.write("durable", {"v": 1}, None, [note("n")], now=T0)
    assert peek(path, "SELECT COUNT(*) FROM outbox") == [(0,)]

    await store.write("batched", {"v": 2}, result("batched", 2), now=T0)
    await store.set_meta("fail", "0")
    await store.flush()
    # The kept rows were written, the newer write on top; the failed durable write was not.
    assert await store.load_states() == {"kept": {"v": 1}, "batched": {"v": 2}}
    assert await store.latest_results() == {
        "kept": result("kept", 1),
        "batched": result("batched", 2),
    }
    assert await store.outbox_items() == []


# -- outbox -----------------------------------------------------------------------------------


async def test_enqueue_is_idempotent(store: SqliteStore) -> None:
    assert await store.enqueue([note("a"), note("b"), note("c")], T0) == 3
    assert await store.enqueue([note("b"), note("c"), note("d")], T0 + HOUR) == 1
    assert await store.enqueue([], T0) == 0
    await store.write("k", {}, None, [note("a"), note("e")], now=T0 + HOUR)
    items = await store.outbox_items()
    assert sorted(i.key for i in items) == ["a", "b", "c", "d", "e"]
    # The first enqueue of a key wins; a repeat does not move it.
    b = next(i for i in items if i.key == "b")
    assert b.created == T0


async def test_claim_order_limit_and_fields(store: SqliteStore) -> None:
    await store.enqueue([note("later")], T0, due_at=T0 + HOUR)
    await store.enqueue([note("second")], T0, due_at=T0 + timedelta(minutes=1))
    await store.enqueue([note("first")], T0, due_at=T0 - timedelta(minutes=1))

    now = T0 + timedelta(minutes=2)
    claimed = await store.claim_due(now, 1)
    assert [i.key for i in claimed] == ["first"]
    assert claimed[0].status == SENDING
    assert claimed[0].attempts == 1
    assert claimed[0].notification == note("first")
    claimed = await store.claim_due(now, 10)
    assert [i.key for i in claimed] == ["second"]
    assert await store.claim_due(now, 10) == []  # 'later' is not due; the others are leased


async def test_recover_takes_over_at_once_what_a_gone_run_left(store: SqliteStore) -> None:
    await store.enqueue([note("begun"), note("also-begun"), note("not-begun")], T0)
    claimed = {i.key: i for i in await store.claim_due(T0, 10, "old-run")}
    await store.mark_attempt([claimed["begun"].id, claimed["also-begun"].id], T0, "old-run")
    # The old run is gone; the new one starts a minute later, long before any lease.
    now = T0 + timedelta(minutes=1)
    uncertain = await store.recover("new-run", now, now)
    assert [(i.key, i.uncertain, i.attempts, i.status) for i in uncertain] == [
        ("begun", True, 1, SENDING),
        ("also-begun", True, 1, SENDING),
    ]
    # The one whose send never began is pending again, that attempt not counted.
    (again,) = await store.claim_due(now, 10, "new-run")
    assert (again.key, again.attempts, again.uncertain) == ("not-begun", 1, False)
    # Taken over: neither run recovers them again.
    assert await store.recover("new-run", now, now) == []


async def test_recover_leaves_this_run_s_items_and_others_until_claimed_before(
    store: SqliteStore,
) -> None:
    await store.enqueue([note("n")], T0)
    (first,) = await store.claim_due(T0, 10, "r1")
    await store.mark_attempt([first.id], T0, "r1")
    late = T0 + timedelta(days=1)
    assert await store.recover("r1", late, late) == []  # its own, in flight: never taken back
    assert await store.recover("r2", late, T0 - timedelta(seconds=1)) == []
    (again,) = await store.recover("r2", late, T0)
    assert (again.id, again.attempts, again.uncertain) == (first.id, 1, True)
    # Only a claiming run may record the start of a send.
    await store.mark_attempt([first.id], late, "r1")
    assert await store.recover("r3", late, late) != []


async def test_a_crashed_sender_s_item_is_redelivered_with_the_same_key(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    n = note("acme-www/http/1/down/jo@acme.example")
    await store.write("k", {"down": True}, None, [n], now=T0)
    (claimed,) = await store.claim_due(T0, 10, "run-1")
    await store.mark_attempt([claimed.id], T0, "run-1")
    await store.close()  # the sender "crashed": never marked sent

    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.claim_due(T0 + timedelta(minutes=1), 10, "run-2") == []
        (again,) = await store.recover(
            "run-2", T0 + timedelta(minutes=1), T0 + timedelta(minutes=1)
        )
        assert again.key == claimed.key == n.key
        assert again.notification == n
        assert again.uncertain
    finally:
        await store.close()


async def test_outcomes_are_recorded(store: SqliteStore) -> None:
    await store.enqueue([note("ok"), note("retry"), note("bad")], T0)
    items = {i.key: i for i in await store.claim_due(T0, 10)}
    t1 = T0 + timedelta(seconds=3)
    await store.mark_sent(items["ok"].id, t1, "<ok@collective.example>")
    await store.mark_retry(items["retry"].id, t1, t1 + timedelta(seconds=5), "HTTP 503")
    await store.mark_failed(items["bad"].id, t1, "550 no such user")

    got = {i.key: i for i in await store.outbox_items()}
    assert (got["ok"].status, got["ok"].external_id, got["ok"].last_error) == (
        SENT,
        "<ok@collective.example>",
        None,
    )
    assert (got["retry"].status, got["retry"].due_at, got["retry"].last_error) == (
        PENDING,
        t1 + timedelta(seconds=5),
        "HTTP 503",
    )
    assert (got["bad"].status, got["bad"].last_error) == (FAILED, "550 no such user")
    assert [i.key for i in await store.outbox_items(SENT)] == ["ok"]
    assert [i.key for i in await store.outbox_items(FAILED)] == ["bad"]
    assert [i.key for i in await store.outbox_items(limit=2)] == ["bad", "retry"]

    # The retried item is due again at its due_at, not before.
    assert await store.claim_due(t1 + timedelta(seconds=4), 10) == []
    (again,) = await store.claim_due(t1 + timedelta(seconds=5), 10)
    assert (again.key, again.attempts, again.last_error) == ("retry", 2, "HTTP 503")


async def test_a_sent_item_stays_sent(store: SqliteStore) -> None:
    await store.enqueue([note("n")], T0)
    (item,) = await store.claim_due(T0, 10)
    await store.mark_sent(item.id, T0, "id-1")
    await store.mark_retry(item.id, T0, T0 + HOUR, "late failure report")
    await store.mark_failed(item.id, T0, "late failure report")
    (got,) = await store.outbox_items()
    assert (got.status, got.external_id, got.last_error) == (SENT, "id-1", None)


async def test_unknown_status_is_a_clear_error(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="pending, sending, sent, failed"):
        await store.outbox_items("queued")


@pytest.mark.parametrize(
    ("setup", "now", "expected"),
    [
        ([], T0, OutboxStats(0, 0.0, 0)),
        ([("a", T0, None)], T0 + timedelta(seconds=90), OutboxStats(1, 90.0, 0)),
        (
            [("a", T0, "sent"), ("b", T0 + HOUR, None), ("c", T0 + 2 * HOUR, "claim")],
            T0 + 3 * HOUR,
            OutboxStats(2, 7200.0, 0),
        ),
        (
            [("a", T0, "failed"), ("b", T0, "failed"), ("c", T0 + HOUR, None)],
            T0 + HOUR,
            OutboxStats(1, 0.0, 2),
        ),
    ],
)
async def test_outbox_stats(
    store: SqliteStore,
    setup: list[tuple[str, datetime, str | None]],
    now: datetime,
    expected: OutboxStats,
) -> None:
    for key, created, outcome in setup:
        await store.enqueue([note(key)], created)
        if outcome is None:
            continue
        (item,) = await store.claim_due(created, 1)
        if outcome == "sent":
            await store.mark_sent(item.id, created, None)
        elif outcome == "failed":
            await store.mark_failed(item.id, created, "550")
    assert await store.outbox_stats(now) == expected


# -- meta -------------------------------------------------------------------------------------


async def test_meta_get_set_overwrite(store: SqliteStore, path: Path) -> None:
    assert await store.get_meta("etag:core") is None
    await store.set_meta("etag:core", 'W/"1"')
    await store.set_meta("etag:core", 'W/"2"')
    await store.set_meta("last-modified:core", "Wed, 18 Mar 2026 16:00:00 GMT")
    assert await store.get_meta("etag:core") == 'W/"2"'
    assert peek(path, "SELECT COUNT(*) FROM meta") == [(2,)]
