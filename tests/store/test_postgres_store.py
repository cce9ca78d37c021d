"""The PostgreSQL store on a real server (tests/helpers/postgres.py): the Store, SecurityStore
and TicketStore behaviours the SQLite store's tests pin, its migrations, the one-daemon lock
and what several connections at once must not break (SKIP LOCKED claims)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from monitord.errors import StoreError
from monitord.events import Event
from monitord.notify.base import Notification
from monitord.runtime import RuntimeStore
from monitord.store import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    OutboxStats,
    Store,
)
from monitord.store.base import AdvisoryRow, DecisionRow, PatchItemRow, SecurityChanges
from monitord.store.copy import CLUSTER_TABLES, COPIED_TABLES
from monitord.store.migrations import MIGRATIONS
from monitord.store.pg_migrations import (
    PG_LATEST_VERSION,
    PG_MIGRATIONS,
    PgMigration,
    pg_migrate,
)
from monitord.store.postgres import PostgresStore
from monitord.store.sqlite import PRUNED_META_PREFIX, SqliteStore
from monitord.tickets import Ticket
from tests.helpers.postgres import PgServer, PostgresStoreFactory
from tests.store.contract.values import DAY, HOUR, T0, incident, note, result


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    # A flush interval of an hour: nothing is committed unless a test makes it so.
    s = PostgresStore(postgres_url, flush_interval=HOUR)
    await s.open()
    yield s
    await s.close()


async def peek(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read on a separate connection: only what is committed is visible."""
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def test_postgres_store_satisfies_the_runtime_protocol() -> None:
    store: RuntimeStore = PostgresStore("postgresql://u@127.0.0.1/db")  # mypy checks the shape
    for proto in RuntimeStore.__mro__:
        for name in getattr(proto, "__dict__", {}):
            if not name.startswith("_") and callable(getattr(proto, name)):
                assert callable(getattr(store, name)), name


# -- migrations ---------------------------------------------------------------------------------


async def test_open_migrates_to_the_latest_version_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url) for _ in range(3)]
    # Three nodes opening an empty database at once: one migrates, the others wait and find it
    # current (the advisory lock), none fails on "table already exists".
    await asyncio.gather(*(s.open() for s in stores))
    for s in stores:
        await s.close()
    rows = await peek(postgres_url, "SELECT version FROM schema_version ORDER BY version")
    assert [v for (v,) in rows] == [m.version for m in PG_MIGRATIONS]
    assert PG_LATEST_VERSION == 7


async def test_both_backends_have_the_same_versions_tables_and_columns(
    postgres_url: str, tmp_path: Path
) -> None:
    # A migration added to one backend only fails here, not in a copy (state migrate).
    assert [m.version for m in PG_MIGRATIONS] == [m.version for m in MIGRATIONS]
    lite = SqliteStore(tmp_path / "s.sqlite3")
    await lite.open()
    await lite.close()
    conn = sqlite3.connect(tmp_path / "s.sqlite3")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        sqlite_cols = {
            t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")}
            for t in tables
            if not t.startswith("sqlite_")
        }
    finally:
        conn.close()
    async with _opened(postgres_url):
        pass
    rows = await peek(
        postgres_url,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema()",
    )
    pg_cols: dict[str, set[str]] = {}
    for table, column in rows:
        pg_cols.setdefault(table, set()).add(column)
    assert pg_cols == sqlite_cols
    assert set(COPIED_TABLES) == set(sqlite_cols) - {"schema_version", *CLUSTER_TABLES}


async def test_a_failing_migration_leaves_the_database_as_it_was(postgres_url: str) -> None:
    broken = (*PG_MIGRATIONS, PgMigration(8, "broken", ("CREATE TABLE x (a int)", "SELEC 1")))
    conn = await asyncpg.connect(postgres_url)
    try:
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await pg_migrate(conn, "db", T0, broken)
        # All or nothing: not even the tables of versions 1 to 7 are left.
        assert await conn.fetchval("SELECT to_regclass('check_state')") is None
        assert await conn.fetchval("SELECT to_regclass('schema_version')") is None
        assert await pg_migrate(conn, "db", T0) == PG_LATEST_VERSION
    finally:
        await conn.close()


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    async with _opened(postgres_url):
        pass
    conn = await asyncpg.connect(postgres_url)
    await conn.execute("INSERT INTO schema_version VALUES (99, 'future', now())")
    await conn.close()
    with pytest.raises(StoreError, match=r"schema version 99.*Upgrade monitord"):
        await PostgresStore(postgres_url).open()


def _opened(url: str, **kwargs: Any) -> Any:
    from tests.helpers.postgres import open_postgres_store

    return open_postgres_store(url, **kwargs)


async def test_an_unreachable_database_is_a_store_error_without_the_password(
    postgres_server: PgServer,
) -> None:
    url = postgres_server.url("nowhere")
    bad = url.replace("postgres@", "pwuser:wrong-staple-9@").replace(
        f"127.0.0.1:{postgres_server.port}", f"127.0.0.1:{_closed_port()}"
    )
    with pytest.raises(StoreError) as err:
        await PostgresStore(bad).open()
    text = str(err.value)
    assert "wrong-staple-9" not in text
    assert "cannot open the state store postgresql://pwuser:" in text
    assert "Check state.url" in text


def _closed_port() -> int:
    from tests.helpers.smtp import closed_port

    return closed_port()


# -- batching and durable writes ----------------------------------------------------------------


async def test_many_writes_are_one_transaction(store: PostgresStore, postgres_url: str) -> None:
    for seq in range(1000):
        key = f"site-{seq % 100}/http"
        await store.write(key, {"seq": seq}, result(key, seq), now=T0 + timedelta(seconds=seq))
    assert store.commits == 0
    assert await peek(postgres_url, "SELECT COUNT(*) FROM check_state") == [(0,)]
    await store.flush()
    assert store.commits == 1
    assert await peek(postgres_url, "SELECT COUNT(*) FROM check_state") == [(100,)]
    states = await store.load_states()
    assert states["site-7/http"] == {"seq": 907}
    results = await store.latest_results()
    assert results["site-7/http"] == result("site-7/http", 907)
    assert results["site-7/http"].at.tzinfo is not None


async def test_batch_size_and_interval_trigger_a_flush(postgres_url: str) -> None:
    s = PostgresStore(postgres_url, batch_size=10, flush_interval=HOUR)
    await s.open()
    try:
        s.flushed.clear()
        for seq in range(10):
            await s.write(f"k{seq}", {"seq": seq}, None, now=T0)
        await asyncio.wait_for(s.flushed.wait(), 10)
        assert await peek(postgres_url, "SELECT COUNT(*) FROM check_state") == [(10,)]
    finally:
        await s.close()


async def test_a_write_without_a_result_keeps_the_last_result(store: PostgresStore) -> None:
    await store.write("k", {"n": 1}, result("k", 1), now=T0)
    await store.write("k", {"n": 2}, None, now=T0 + HOUR)
    assert (await store.load_states())["k"] == {"n": 2}
    assert (await store.latest_results())["k"].message == "HTTP 200 in 1 ms"


async def test_state_that_is_not_json_is_refused_with_advice(store: PostgresStore) -> None:
    with pytest.raises(StoreError, match="not plain JSON"):
        await store.write("k", {"when": T0}, None, now=T0)


async def test_a_naive_time_is_refused(store: PostgresStore) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        await store.write("k", {}, None, now=T0.replace(tzinfo=None))


async def test_a_durable_write_commits_the_batch_before_it_state_incident_and_outbox(
    store: PostgresStore, postgres_url: str
) -> None:
    await store.write("a", {"n": 1}, result("a", 1), now=T0)
    await store.write(
        "b",
        {"n": 2},
        result("b", 2, ok=False),
        [note("down-1"), note("down-1-pd", notifier="pagerduty")],
        incident("inc-1", T0),
        now=T0,
        also={"site:acme-www": {"open": True}},
    )
    # Durable when write returns: another connection sees all of it, the batch included.
    assert await peek(postgres_url, "SELECT key FROM check_state ORDER BY key") == [
        ("a",),
        ("b",),
        ("site:acme-www",),
    ]
    assert await peek(postgres_url, "SELECT id, ended FROM incident") == [("inc-1", None)]
    assert await peek(postgres_url, "SELECT key, status FROM outbox ORDER BY id") == [
        ("down-1", "pending"),
        ("down-1-pd", "pending"),
    ]
    # Upserted by id: the incident ends.
    await store.write("b", {"n": 3}, None, incident=incident("inc-1", T0, T0 + HOUR), now=T0)
    assert await store.open_incidents() == []
    assert (await store.incidents())[0].ended == T0 + HOUR


async def test_incidents_newest_first_with_a_limit(store: PostgresStore) -> None:
    for i in range(5):
        await store.write("k", {}, None, incident=incident(f"i{i}", T0 + i * HOUR), now=T0)
    assert [i.id for i in await store.incidents(limit=3)] == ["i4", "i3", "i2"]
    assert [i.id for i in await store.open_incidents()] == ["i0", "i1", "i2", "i3", "i4"]


async def test_a_failed_durable_write_keeps_the_batch(
    store: PostgresStore, postgres_url: str
) -> None:
    await store.write("a", {"n": 1}, None, now=T0)
    # The next transaction fails in the database: the outbox table is locked away.
    conn = await asyncpg.connect(postgres_url)
    await conn.execute("ALTER TABLE outbox ADD CONSTRAINT no_more CHECK (key <> 'boom')")
    await conn.close()
    with pytest.raises(StoreError, match="could not save a check state with its notifications"):
        await store.write("b", {"n": 2}, None, [note("boom")], now=T0)
    await store.flush()
    assert await peek(postgres_url, "SELECT key FROM check_state ORDER BY key") == [("a",)]


async def test_a_lost_connection_is_made_again(
    store: PostgresStore, postgres_server: PgServer
) -> None:
    await store.set_meta("x", "1")
    postgres_server.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'monitord' AND pid <> pg_backend_pid()"
    )
    with pytest.raises(StoreError, match="Check that PostgreSQL is running"):
        await store.get_meta("x")
    assert await store.get_meta("x") == "1"


# -- outbox -------------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_and_claims_in_order(store: PostgresStore) -> None:
    assert await store.enqueue([note("n1"), note("n2")], T0) == 2
    assert await store.enqueue([note("n1"), note("n3")], T0) == 1
    assert await store.enqueue([note("late")], T0, due_at=T0 + HOUR) == 1
    items = await store.claim_due(T0, limit=2, run_id="r1")
    assert [i.key for i in items] == ["n1", "n2"]
    assert all(i.status == SENDING and i.attempts == 1 for i in items)
    assert items[0].notification == note("n1")
    assert [i.key for i in await store.claim_due(T0, limit=10, run_id="r1")] == ["n3"]
    assert await store.claim_due(T0, limit=10) == []
    assert [i.key for i in await store.claim_due(T0 + HOUR, limit=10)] == ["late"]
    assert await store.claim_due(T0, limit=0) == []


async def test_claims_keep_order_per_destination_and_skip_busy_notifiers(
    store: PostgresStore,
) -> None:
    def in_thread(key: str, notifier: str = "email", recipient: str = "jo@acme.example") -> Any:
        n = note(key, notifier, recipient)
        ev = Event.from_json({**n.event.to_json(), "thread": "t1"})
        return Notification(n.key, n.notifier, n.recipient, n.recipient_name, ev)

    # A held DOWN (due in an hour) holds the recovery behind it to the same recipient...
    await store.enqueue([in_thread("down")], T0, due_at=T0 + HOUR)
    await store.enqueue([in_thread("up"), in_thread("up-sam", recipient="sam@acme.example")], T0)
    (up,) = [i for i in await store.outbox_items() if i.key == "up"]
    assert up.due_at == T0 + HOUR  # never due before the item ahead of it
    # ...but not another recipient's.
    assert [i.key for i in await store.claim_due(T0, 10, "r")] == ["up-sam"]
    await store.enqueue([in_thread("pd", notifier="pagerduty")], T0)
    assert await store.claim_due(T0, 10, "r", busy={"pagerduty"}) == []
    assert [i.key for i in await store.claim_due(T0 + HOUR, 10, "r")] == ["pd", "down"]


async def test_two_connections_never_claim_the_same_item(postgres_url: str) -> None:
    a = PostgresStore(postgres_url)
    b = PostgresStore(postgres_url)
    await a.open()
    await b.open()
    try:
        await a.enqueue([note(f"n{i}") for i in range(200)], T0)
        got = await asyncio.gather(
            *(s.claim_due(T0, 7, run_id=f"run-{i}") for i in range(20) for s in (a, b))
        )
        keys = [i.key for items in got for i in items]
        assert len(keys) == len(set(keys)) == 200
    finally:
        await a.close()
        await b.close()


async def test_claim_group_and_recover(store: PostgresStore) -> None:
    grouped = [
        Notification(n.key, n.notifier, n.recipient, n.recipient_name, n.event, group="storm")
        for n in (note("g1"), note("g2"))
    ]
    await store.enqueue([*grouped, note("solo")], T0)
    assert [i.key for i in await store.claim_group("storm", T0, "r1")] == ["g1", "g2"]
    (solo,) = await store.claim_due(T0, 10, "r1")
    await store.mark_attempt([solo.id], T0, "r1")
    # Run r1 is gone; r2 takes over at its start: g1, g2 never began (back to pending, the
    # attempt not counted), solo began (uncertain, claimed by r2).
    took = await store.recover("r2", T0 + HOUR, claimed_before=T0 + HOUR)
    assert [(i.key, i.uncertain, i.attempts) for i in took] == [("solo", True, 1)]
    pending = {i.key: i.attempts for i in await store.outbox_items(PENDING)}
    assert pending == {"g1": 0, "g2": 0}
    assert await store.recover("r2", T0 + HOUR, claimed_before=T0 + HOUR) == []


async def test_outcomes_stats_and_a_sent_item_stays_sent(store: PostgresStore) -> None:
    await store.enqueue([note("a"), note("b"), note("c")], T0)
    a, b, c = await store.claim_due(T0, 10, "r")
    await store.mark_sent(a.id, T0, "<msg@x>")
    await store.mark_retry(b.id, T0, T0 + HOUR, "421 try later")
    await store.mark_failed(c.id, T0, "550 no such user")
    await store.mark_failed(a.id, T0, "late")  # refused: a is sent
    await store.mark_retry(a.id, T0, T0, "late")
    by_key = {i.key: i for i in await store.outbox_items()}
    assert (by_key["a"].status, by_key["a"].external_id) == (SENT, "<msg@x>")
    assert (by_key["b"].status, by_key["b"].last_error, by_key["b"].due_at) == (
        PENDING,
        "421 try later",
        T0 + HOUR,
    )
    assert by_key["c"].status == FAILED
    assert [i.key for i in await store.outbox_items(SENT)] == ["a"]
    assert await store.outbox_stats(T0 + HOUR) == OutboxStats(
        depth=1, oldest_age_seconds=3600.0, failed=1
    )
    with pytest.raises(ValueError, match="unknown outbox status"):
        await store.outbox_items("lost")


async def test_meta(store: PostgresStore) -> None:
    assert await store.get_meta("etag") is None
    await store.set_meta("etag", "W/1")
    await store.set_meta("etag", "W/2")
    assert await store.get_meta("etag") == "W/2"


# -- security -----------------------------------------------------------------------------------


async def test_security_changes_are_one_transaction(store: PostgresStore) -> None:
    adv = AdvisoryRow("SA-1", "rss", "f1", {"title": "x"}, T0, T0, history=("f0",))
    dec = DecisionRow("SA-1", "acme-www", "acme", "d1", "10.1.0", "patch-day", T0 + DAY, "r", T0)
    item = PatchItemRow("acme-www", "SA-1", "acme", "drupal", "10.1.0", "10.1.1", "l", T0 + DAY, T0)
    n = await store.save_security(
        SecurityChanges(
            advisories=[adv],
            decisions=[dec],
            queue_add=[item, PatchItemRow("b", "SA-1", "acme", "p", "1", None, "l", T0, T0)],
            notifications=[(note("sa-1"), T0 + HOUR)],
        ),
        T0,
    )
    assert n == 1
    assert await store.load_advisories() == [adv]
    assert await store.load_decisions() == {("SA-1", "acme-www"): dec}
    assert [i.site for i in await store.patch_queue()] == ["b", "acme-www"]
    await store.save_security(
        SecurityChanges(ticketed=[("acme-www", "SA-1")], queue_remove=[("b", "SA-1")]), T0 + DAY
    )
    assert await store.patch_queue() == []
    (done,) = await store.patch_queue(pending_only=False)
    assert done.ticketed_at == T0 + DAY
    (queued,) = await store.outbox_items()
    assert queued.due_at == T0 + HOUR


# -- tickets ------------------------------------------------------------------------------------


def _ticket(thread: str = "inc-1") -> Ticket:
    return Ticket(
        thread=thread,
        client="acme",
        site="acme-www",
        check="http",
        kind="site-down",
        priority="high",
        title="www.acme.example is down",
        body="HTTP 503",
        opened_at=T0,
        respond_by=T0 + HOUR,
        client_name="Acme",
        tags=(),
    )


async def test_local_tickets(store: PostgresStore) -> None:
    outcome, row = await store.apply_local_ticket(_ticket(), "down-1", False, "down", T0)
    assert outcome == "opened" and row is not None and row.status == "open"
    assert (await store.apply_local_ticket(_ticket(), "down-1", False, "down", T0))[0] == (
        "duplicate"
    )
    assert (await store.apply_local_ticket(_ticket(), "c-1", False, "again", T0))[0] == (
        "commented"
    )
    acked = await store.ack_local_ticket(row.id, "jo", T0 + HOUR)
    assert acked is not None and (acked.status, acked.acked_by) == ("acked", "jo")
    assert await store.remind_local_tickets({row.id: [note("remind")]}, T0) == 0  # acked
    outcome, done = await store.apply_local_ticket(_ticket(), "up-1", True, "up", T0 + 2 * HOUR)
    assert outcome == "resolved" and done is not None and done.resolved_at == T0 + 2 * HOUR
    found = await store.local_ticket(row.id)
    assert found is not None
    assert [n.kind for n in found[1]] == ["opened", "comment", "ack", "recovered"]
    assert await store.local_ticket(999) is None
    assert await store.ack_local_ticket(999, None, T0) is None
    assert await store.local_tickets(open_only=True) == []
    assert [t.id for t in await store.local_tickets(client="acme")] == [row.id]

    _, other = await store.apply_local_ticket(_ticket("inc-2"), "down-2", False, "down", T0)
    assert other is not None
    assert await store.remind_local_tickets({other.id: [note("remind")]}, T0) == 1
    assert await store.remind_local_tickets({other.id: [note("remind-2")]}, T0) == 0
    assert [i.key for i in await store.outbox_items()] == ["remind"]
    resolved = await store.resolve_local_ticket(other.id, "fixed by hand", T0)
    assert resolved is not None and resolved.status == "resolved"


async def test_ticket_refs_and_applied(store: PostgresStore) -> None:
    assert await store.ticket_ref("jira", "inc-1") is None
    await store.record_ticket("jira", "inc-1", "down-1", "OPS-1", T0)
    await store.record_ticket("jira", "inc-1", "up-1", "OPS-2", T0 + HOUR, resolved=True)
    ref = await store.ticket_ref("jira", "inc-1")
    assert ref is not None
    assert (ref.external_id, ref.created, ref.resolved_at) == ("OPS-1", T0, T0 + HOUR)
    assert await store.ticket_applied("jira", "up-1") == "OPS-2"
    assert await store.ticket_applied("jira", "nope") is None


# -- retention ----------------------------------------------------------------------------------


async def test_prune_deletes_only_finished_old_rows(store: PostgresStore) -> None:
    await store.enqueue([note("old"), note("new"), note("open"), note("bad")], T0)
    old, new, _open, bad = await store.claim_due(T0, 10, "r")
    await store.mark_sent(old.id, T0, None)
    await store.mark_sent(new.id, T0 + 40 * DAY, None)
    await store.mark_failed(bad.id, T0, "x")
    await store.mark_retry(_open.id, T0, T0, "again")
    await store.write("k", {}, None, incident=incident("old-inc", T0, T0 + HOUR), now=T0)
    await store.write("k", {}, None, incident=incident("open-inc", T0), now=T0)
    _, t = await store.apply_local_ticket(_ticket(), "d", False, "down", T0)
    assert t is not None
    await store.resolve_local_ticket(t.id, None, T0)
    await store.record_ticket("jira", "inc-1", "k1", "OPS-1", T0, resolved=True)
    cut = T0 + 30 * DAY
    pruned = await store.prune(sent_before=cut, failed_before=cut, incidents_before=cut)
    assert (pruned.sent, pruned.failed, pruned.incidents, pruned.ticket_applied) == (1, 1, 1, 1)
    assert pruned.tickets == 1
    assert sorted(i.key for i in await store.outbox_items()) == ["new", "open"]
    assert [i.id for i in await store.incidents()] == ["open-inc"]
    assert await store.local_tickets() == []
    assert await store.get_meta(f"{PRUNED_META_PREFIX}sent.email") == "1"
    assert not await store.prune(sent_before=cut, failed_before=cut, incidents_before=cut)


# -- one daemon per node id ---------------------------------------------------------------------


async def test_a_second_daemon_of_the_same_node_is_refused_naming_the_first(
    postgres_url: str,
) -> None:
    first = PostgresStore(
        postgres_url, exclusive=True, holder="monitord pid 1 on lon-1", node="lon-1"
    )
    await first.open()
    try:
        with pytest.raises(StoreError) as err:
            await PostgresStore(postgres_url, exclusive=True, node="lon-1").open()
        text = str(err.value)
        assert "another monitord is already running as node 'lon-1' on the store" in text
        assert "monitord pid 1 on lon-1" in text
        assert "Stop that one first" in text
        assert "--node, $MONITORD_NODE" in text
        # Another node id runs beside it on the same database.
        async with _opened(postgres_url, exclusive=True, node="ams-1") as other:
            await other.set_meta("k", "v")
        # A reader (monitord status, a CLI) is not exclusive and is never refused.
        async with _opened(postgres_url) as reader:
            assert await reader.get_meta("x") is None
    finally:
        await first.close()
    second = PostgresStore(postgres_url, exclusive=True, node="lon-1")
    await second.open()  # the lock went with the first one's close
    await second.close()


async def test_the_node_id_defaults_to_the_host_name(postgres_url: str) -> None:
    assert PostgresStore(postgres_url).node == socket.gethostname()
    async with _opened(postgres_url, exclusive=True):
        with pytest.raises(StoreError, match=f"as node '{socket.gethostname()}'"):
            await PostgresStore(postgres_url, exclusive=True, node=socket.gethostname()).open()


async def test_a_lost_daemon_lock_is_taken_again_or_refused_if_another_took_it(
    postgres_url: str, postgres_server: PgServer
) -> None:
    first = PostgresStore(postgres_url, exclusive=True, holder="monitord on lon-1", node="n1")
    await first.open()

    async def end_lock_session() -> None:
        assert first._lock_conn is not None
        ended = asyncio.Event()
        first._lock_conn.add_termination_listener(lambda _c: ended.set())
        postgres_server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'monitord on lon-1'"
        )
        await asyncio.wait_for(ended.wait(), 10)

    async def holders() -> list[tuple[Any, ...]]:
        return await peek(
            postgres_url,
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted",
        )

    try:
        await end_lock_session()
        assert await holders() == []
        await first.set_meta("k", "1")  # takes the lock again first
        assert await holders() == [("monitord on lon-1",)]

        await end_lock_session()
        second = PostgresStore(postgres_url, exclusive=True, holder="monitord on ams-1", node="n1")
        await second.open()
        try:
            with pytest.raises(StoreError, match="another monitord is already running"):
                await first.set_meta("k", "2")
            assert await second.get_meta("k") == "1"
        finally:
            await second.close()
    finally:
        await first.close()


async def test_the_contract_factory_opens_and_closes(
    postgres_store_factory: PostgresStoreFactory,
) -> None:
    async with postgres_store_factory(flush_interval=HOUR) as s:
        store: Store = s
        await store.set_meta("k", "v")
        assert await store.get_meta("k") == "v"


async def test_a_session_the_server_ended_is_made_again_at_the_next_use(
    postgres_server: PgServer, postgres_url: str
) -> None:
    import time

    store = PostgresStore(postgres_url)
    await store.open()
    try:
        await store.set_meta("k", "1")
        postgres_server.psql(  # a blocking call: the loop sees nothing of it meanwhile
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'monitord' AND pid <> pg_backend_pid()",
            postgres_url.rsplit("/", 1)[1],
        )
        time.sleep(0.2)
        failures = 0
        for _ in range(2):  # the first use may fail, as a StoreError (retried by callers)
            try:
                await store.set_meta("k", "2")
                break
            except StoreError:
                failures += 1
        assert failures <= 1
        assert await store.get_meta("k") == "2"
    finally:
        await store.close()
