"""The outbox sender of a node of several (a PostgreSQL store): a node killed in the middle of
a send leaves its claim; a survivor's sender takes it within seconds (its node lock released
and a heartbeat missed), not after the five-minute lease, and delivers it once."""

from __future__ import annotations

from datetime import timedelta

import structlog

from monitord import limits
from monitord.outbox import RECOVER_EVERY_NODE, OutboxSender
from monitord.store import SENT
from monitord.store.postgres import PostgresStore
from tests.helpers.clock import Clock
from tests.outbox.test_sender import ScriptedNotifier
from tests.store.contract.values import HOUR, T0, note
from tests.store.test_postgres_cluster import node_row


async def test_a_killed_node_s_notice_is_sent_by_a_survivor_within_seconds(
    postgres_url: str,
) -> None:
    clock = Clock(T0)
    b = PostgresStore(postgres_url, exclusive=True, node="b", flush_interval=HOUR)
    await b.open()
    try:
        email = ScriptedNotifier("email")
        sender = OutboxSender(b, {"email": email}, clock, structlog.get_logger(), node="b")
        assert sender.run_id.startswith("b/")
        assert await sender.run_once() == 0  # its first round: nothing to take

        # Node A claims the DOWN, begins the send, and is killed (its sessions end).
        a = PostgresStore(postgres_url, exclusive=True, node="a", flush_interval=HOUR)
        await a.open()
        await a.node_heartbeat(node_row("a", heartbeat=clock()))
        await a.enqueue([note("down")], clock())
        (item,) = await a.claim_due(clock(), 10, "a/run")
        await a.mark_attempt([item.id], clock(), "a/run")
        await a.close()

        # B's next sweeps: not before A has missed a heartbeat, then at once.
        clock.advance(seconds=RECOVER_EVERY_NODE.total_seconds())
        assert await sender.run_once() == 0
        clock.advance(seconds=limits.NODE_HEARTBEAT.total_seconds())
        assert await sender.run_once() == 1
        assert list(email.delivered) == ["down"]
        assert clock() - T0 < timedelta(seconds=20) < limits.OUTBOX_LEASE
        [sent] = await b.outbox_items(SENT)
        assert sent.key == "down"
    finally:
        await b.close()


class _ReadBeforeTheOther:
    """A node's view of the store as it was a moment ago: its read finds no record yet (the
    other node's write lands between its read and its own write)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def get_meta(self, key: str) -> str | None:
        return None

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


async def test_two_nodes_making_a_heartbeat_token_at_once_agree_on_one(
    postgres_url: str,
) -> None:
    import pathlib
    import tempfile

    from monitord.probes.heartbeat import HeartbeatBook
    from monitord.schedule import scheduled_checks
    from tests.helpers.daemon import agency_yaml

    with tempfile.TemporaryDirectory() as d:
        cfg = pathlib.Path(d)
        (cfg / "clients").mkdir()
        (cfg / "monitord.yml").write_text(agency_yaml(cfg))
        (cfg / "clients" / "acme.yml").write_text(
            "client: acme\nname: ACME\ncontacts: []\nsites:\n"
            "  - id: www\n    url: https://www.acme.example/\n"
            "    checks: [{type: heartbeat, id: cron, every: 1h, grace: 10m}]\n"
        )
        from monitord.config import load_config

        checks = scheduled_checks(load_config(cfg))
    store = PostgresStore(postgres_url, flush_interval=HOUR)
    await store.open()
    try:
        first, second = HeartbeatBook(), HeartbeatBook()
        await first.sync(store, checks, T0)
        await second.sync(_ReadBeforeTheOther(store), checks, T0)  # type: ignore[arg-type]
        [key] = checks
        assert first.records[key].token == second.records[key].token
        assert second.lookup(first.records[key].token) == key
    finally:
        await store.close()
