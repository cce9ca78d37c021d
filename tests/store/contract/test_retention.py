"""Contract: prune deletes only what is finished and older than its retention."""

from __future__ import annotations

from monitord.runtime import RuntimeStore
from monitord.store.base import PatchItemRow, Pruned, SecurityChanges
from tests.store.contract.values import DAY, HOUR, T0, incident, note, ticket


async def _finish(store: RuntimeStore, key: str, outcome: str, days: int) -> None:
    at = T0 + days * DAY
    await store.enqueue([note(key)], at)
    (item,) = [i for i in await store.claim_due(at, 100, "run") if i.key == key]
    if outcome == "sent":
        await store.mark_sent(item.id, at, "<id@x>")
    else:
        await store.mark_failed(item.id, at, "550 no such user")


def _queued(site: str) -> PatchItemRow:
    return PatchItemRow(
        site=site,
        advisory="SA-1",
        client="acme",
        project="drupal",
        installed="10.2.3",
        fixed="10.2.4",
        link="https://www.drupal.org/sa-1",
        patch_day=T0,
        queued_at=T0,
    )


async def test_prune_by_age_leaves_what_is_open_or_recent(store: RuntimeStore) -> None:
    await _finish(store, "sent-old", "sent", 0)
    await _finish(store, "sent-new", "sent", 20)
    await _finish(store, "failed-old", "failed", 0)
    await _finish(store, "failed-mid", "failed", 20)
    await store.enqueue([note("pending-old")], T0 + 30 * DAY, due_at=T0 + 40 * DAY)
    await store.enqueue([note("sending-old")], T0 - DAY)
    await store.claim_due(T0 - DAY, 1, "run")
    await store.write("k", {}, None, incident=incident("ended-old", T0, T0 + HOUR), now=T0)
    await store.write("k", {}, None, incident=incident("open-old", T0 - DAY), now=T0)
    ended_new = incident("ended-new", T0 + 19 * DAY, T0 + 20 * DAY)
    await store.write("k", {}, None, incident=ended_new, now=T0)
    await store.save_security(SecurityChanges(queue_add=[_queued("old"), _queued("waiting")]), T0)
    await store.save_security(SecurityChanges(ticketed=[("old", "SA-1")]), T0)
    _, old_ticket = await store.apply_local_ticket(ticket("old"), "t-old", False, "down", T0)
    _, open_ticket = await store.apply_local_ticket(ticket("open"), "t-open", False, "down", T0)
    assert old_ticket is not None and open_ticket is not None
    await store.resolve_local_ticket(old_ticket.id, None, T0 + HOUR)
    await store.record_ticket("jira", "done", "k-done", "OPS-1", T0, resolved=True)
    await store.record_ticket("jira", "live", "k-live", "OPS-2", T0 + 25 * DAY)

    now = T0 + 35 * DAY
    pruned = await store.prune(
        sent_before=now - 30 * DAY, failed_before=now - 30 * DAY, incidents_before=now - 20 * DAY
    )
    assert pruned == Pruned(
        sent=1, failed=1, incidents=1, patch_items=1, ticket_applied=1, tickets=1
    )
    left = {i.key for i in await store.outbox_items()}
    assert left == {"sent-new", "failed-mid", "pending-old", "sending-old"}
    assert {i.id for i in await store.incidents()} == {"open-old", "ended-new"}
    assert [q.site for q in await store.patch_queue(pending_only=False)] == ["waiting"]
    assert [t.id for t in await store.local_tickets()] == [open_ticket.id]
    assert await store.ticket_ref("jira", "done") is None
    assert await store.ticket_applied("jira", "k-done") is None
    assert await store.ticket_applied("jira", "k-live") == "OPS-2"

    again = await store.prune(
        sent_before=now - 30 * DAY, failed_before=now - 30 * DAY, incidents_before=now - 20 * DAY
    )
    assert not again
