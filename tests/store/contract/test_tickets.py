"""Contract: local tickets (open, comment, resolve, ack, remind) and the external ticket map
(store.base.TicketStore)."""

from __future__ import annotations

from monitord.runtime import RuntimeStore
from tests.store.contract.values import HOUR, MINUTE, T0, note, ticket


async def test_a_thread_s_ticket_is_opened_commented_resolved_once_per_key(
    store: RuntimeStore,
) -> None:
    t = ticket("acme-www/http/1")
    outcome, row = await store.apply_local_ticket(t, "k-down", False, "down: HTTP 503", T0)
    assert outcome == "opened"
    assert row is not None
    assert (row.thread, row.status, row.priority, row.opened_at, row.respond_by) == (
        t.thread,
        "open",
        "urgent",
        T0,
        T0 + HOUR,
    )
    again = await store.apply_local_ticket(t, "k-down", False, "down: HTTP 503", T0)
    assert again == ("duplicate", row)
    outcome, _ = await store.apply_local_ticket(t, "k-still", False, "still down", T0 + MINUTE)
    assert outcome == "commented"
    outcome, done = await store.apply_local_ticket(t, "k-up", True, "up again", T0 + HOUR)
    assert outcome == "resolved"
    assert done is not None
    assert (done.status, done.resolved_at) == ("resolved", T0 + HOUR)
    found = await store.local_ticket(done.id)
    assert found is not None
    assert [(n.kind, n.text) for n in found[1]] == [
        ("opened", "down: HTTP 503"),
        ("comment", "still down"),
        ("recovered", "up again"),
    ]
    # A recovery with no ticket for its thread opens none.
    assert await store.apply_local_ticket(ticket("other"), "k-x", True, "up", T0) == (
        "nothing",
        None,
    )


async def test_ack_resolve_and_listing(store: RuntimeStore) -> None:
    _, a = await store.apply_local_ticket(ticket("a"), "ka", False, "a down", T0)
    _, b = await store.apply_local_ticket(ticket("b", client="globex"), "kb", False, "b", T0)
    assert a is not None and b is not None
    acked = await store.ack_local_ticket(a.id, "jo", T0 + MINUTE)
    assert acked is not None
    assert (acked.status, acked.acked_by, acked.acked_at) == ("acked", "jo", T0 + MINUTE)
    # An ack of an acked ticket changes nothing.
    assert await store.ack_local_ticket(a.id, "kim", T0 + HOUR) == acked
    resolved = await store.resolve_local_ticket(b.id, "fixed the DNS", T0 + HOUR)
    assert resolved is not None
    assert resolved.status == "resolved"
    assert await store.resolve_local_ticket(b.id, "again", T0 + 2 * HOUR) == resolved
    assert await store.ack_local_ticket(999, None, T0) is None
    assert await store.resolve_local_ticket(999, None, T0) is None
    assert await store.local_ticket(999) is None

    assert [t.id for t in await store.local_tickets()] == [b.id, a.id]
    assert [t.id for t in await store.local_tickets(open_only=True)] == [a.id]
    assert [t.id for t in await store.local_tickets(client="globex")] == [b.id]
    assert [t.id for t in await store.local_tickets(limit=1)] == [b.id]
    found = await store.local_ticket(b.id)
    assert found is not None
    assert [(n.kind, n.text) for n in found[1]] == [("opened", "b"), ("resolve", "fixed the DNS")]


async def test_a_ticket_is_reminded_once_with_its_notifications(store: RuntimeStore) -> None:
    _, open_ = await store.apply_local_ticket(ticket("a"), "ka", False, "a", T0)
    _, acked = await store.apply_local_ticket(ticket("b"), "kb", False, "b", T0)
    assert open_ is not None and acked is not None
    await store.ack_local_ticket(acked.id, None, T0)
    reminders = {open_.id: [note("remind-a")], acked.id: [note("remind-b")]}
    assert await store.remind_local_tickets(reminders, T0 + HOUR) == 1
    assert await store.remind_local_tickets(reminders, T0 + 2 * HOUR) == 0
    assert [i.key for i in await store.outbox_items()] == ["remind-a"]
    row = await store.local_ticket(open_.id)
    assert row is not None
    assert row[0].reminded_at == T0 + HOUR


async def test_the_external_ticket_map(store: RuntimeStore) -> None:
    assert await store.ticket_ref("jira", "t1") is None
    assert await store.ticket_applied("jira", "k1") is None
    await store.record_ticket("jira", "t1", "k1", "OPS-1", T0)
    # The first external id of a thread wins; each applied key remembers its own.
    await store.record_ticket("jira", "t1", "k2", "OPS-2", T0 + MINUTE)
    ref = await store.ticket_ref("jira", "t1")
    assert ref is not None
    assert (ref.external_id, ref.created, ref.resolved_at) == ("OPS-1", T0, None)
    assert await store.ticket_applied("jira", "k1") == "OPS-1"
    assert await store.ticket_applied("jira", "k2") == "OPS-2"
    await store.record_ticket("jira", "t1", None, "OPS-1", T0 + HOUR, resolved=True)
    ref = await store.ticket_ref("jira", "t1")
    assert ref is not None
    assert ref.resolved_at == T0 + HOUR
    assert await store.ticket_ref("github", "t1") is None
