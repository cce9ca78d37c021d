"""Contract: the outbox — idempotent enqueue, due times, claim order per destination, groups,
outcomes, recovery of another run's items, statistics and listing."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitord.runtime import RuntimeStore
from monitord.store.base import FAILED, PENDING, SENDING, SENT, OutboxStats
from tests.store.contract.values import HOUR, MINUTE, T0, note


async def test_enqueue_is_idempotent_by_key(store: RuntimeStore) -> None:
    assert await store.enqueue([note("a"), note("b"), note("c")], T0) == 3
    assert await store.enqueue([note("b"), note("c"), note("d")], T0 + HOUR) == 1
    assert await store.enqueue([], T0) == 0
    await store.write("k", {}, None, [note("a"), note("e")], now=T0 + HOUR)
    items = await store.outbox_items()
    assert sorted(i.key for i in items) == ["a", "b", "c", "d", "e"]
    # The first enqueue of a key wins; a repeat does not move it.
    assert next(i for i in items if i.key == "b").created == T0


async def test_an_item_is_claimed_when_due_not_before(store: RuntimeStore) -> None:
    await store.enqueue([note("later")], T0, due_at=T0 + HOUR)
    await store.enqueue([note("second")], T0, due_at=T0 + MINUTE)
    await store.enqueue([note("first")], T0, due_at=T0 - MINUTE)
    await store.enqueue([note("own-due", due_at=T0 + 2 * HOUR)], T0, due_at=T0)

    now = T0 + 2 * MINUTE
    claimed = await store.claim_due(now, 1, "run")
    assert [i.key for i in claimed] == ["first"]
    assert (claimed[0].status, claimed[0].attempts) == (SENDING, 1)
    assert claimed[0].notification == note("first")
    assert [i.key for i in await store.claim_due(now, 10, "run")] == ["second"]
    assert await store.claim_due(now, 10, "run") == []  # the others are not due
    assert await store.claim_due(now, 0, "run") == []
    assert [i.key for i in await store.claim_due(T0 + HOUR, 10, "run")] == ["later"]
    # A notification's own due time wins over an earlier one given to enqueue.
    assert await store.claim_due(T0 + 2 * HOUR - MINUTE, 10, "run") == []
    assert [i.key for i in await store.claim_due(T0 + 2 * HOUR, 10, "run")] == ["own-due"]


async def test_claim_keeps_order_per_destination_within_a_thread(store: RuntimeStore) -> None:
    await store.enqueue(
        [
            note("down-jo", thread="t"),
            note("up-jo", thread="t"),
            note("down-ops", "email", "ops@acme.example", thread="t"),
            note("down-page", "pagerduty", "jo@acme.example", thread="t"),
            note("other-thread-jo", thread="u"),
        ],
        T0,
    )
    first = await store.claim_due(T0, 10, "run")
    # The recovery to jo waits for the DOWN to jo; other destinations and threads do not.
    assert [i.key for i in first] == ["down-jo", "down-ops", "down-page", "other-thread-jo"]
    assert await store.claim_due(T0, 10, "run") == []
    by_key = {i.key: i for i in first}
    await store.mark_sent(by_key["down-jo"].id, T0, None)
    assert [i.key for i in await store.claim_due(T0, 10, "run")] == ["up-jo"]


async def test_an_item_is_never_due_before_the_open_items_ahead_of_it(
    store: RuntimeStore,
) -> None:
    await store.enqueue([note("held", thread="t")], T0, due_at=T0 + HOUR)
    await store.enqueue([note("always", thread="t")], T0)
    await store.enqueue([note("elsewhere", "email", "ops@acme.example", thread="t")], T0)
    due = {i.key: i.due_at for i in await store.outbox_items()}
    assert due == {"held": T0 + HOUR, "always": T0 + HOUR, "elsewhere": T0}


async def test_busy_notifiers_are_left_for_a_later_round(store: RuntimeStore) -> None:
    await store.enqueue([note("mail"), note("hook", "webhook.ops", "ops")], T0)
    claimed = await store.claim_due(T0, 10, "run", busy={"email"})
    assert [i.key for i in claimed] == ["hook"]
    assert [i.key for i in await store.claim_due(T0, 10, "run")] == ["mail"]


async def test_claim_group_takes_the_due_items_of_one_group(store: RuntimeStore) -> None:
    await store.enqueue([note("g1", group="storm"), note("g2", group="storm"), note("solo")], T0)
    await store.enqueue([note("g-later", group="storm")], T0, due_at=T0 + HOUR)
    await store.enqueue([note("other", group="calm")], T0)
    claimed = await store.claim_group("storm", T0, "run")
    assert [(i.key, i.status, i.attempts) for i in claimed] == [
        ("g1", SENDING, 1),
        ("g2", SENDING, 1),
    ]
    assert await store.claim_group("storm", T0, "run") == []
    assert sorted(i.key for i in await store.claim_due(T0, 10, "run")) == ["other", "solo"]


async def test_outcomes_are_recorded(store: RuntimeStore) -> None:
    await store.enqueue([note("ok"), note("retry"), note("bad")], T0)
    items = {i.key: i for i in await store.claim_due(T0, 10, "run")}
    t1 = T0 + 3 * MINUTE
    await store.mark_attempt([i.id for i in items.values()], T0, "run")
    await store.mark_sent(items["ok"].id, t1, "<ok@collective.example>")
    await store.mark_retry(items["retry"].id, t1, t1 + 5 * MINUTE, "HTTP 503")
    await store.mark_failed(items["bad"].id, t1, "550 no such user")

    got = {i.key: i for i in await store.outbox_items()}
    assert (got["ok"].status, got["ok"].external_id, got["ok"].last_error) == (
        SENT,
        "<ok@collective.example>",
        None,
    )
    assert (got["retry"].status, got["retry"].due_at, got["retry"].last_error) == (
        PENDING,
        t1 + 5 * MINUTE,
        "HTTP 503",
    )
    assert (got["bad"].status, got["bad"].last_error) == (FAILED, "550 no such user")
    assert await store.claim_due(t1 + 4 * MINUTE, 10, "run") == []
    (again,) = await store.claim_due(t1 + 5 * MINUTE, 10, "run")
    assert (again.key, again.attempts, again.last_error) == ("retry", 2, "HTTP 503")


async def test_a_sent_item_stays_sent(store: RuntimeStore) -> None:
    await store.enqueue([note("n")], T0)
    (item,) = await store.claim_due(T0, 10, "run")
    await store.mark_sent(item.id, T0, "id-1")
    await store.mark_retry(item.id, T0, T0 + HOUR, "late failure report")
    await store.mark_failed(item.id, T0, "late failure report")
    (got,) = await store.outbox_items()
    assert (got.status, got.external_id, got.last_error) == (SENT, "id-1", None)


async def test_recover_takes_over_what_another_run_left(store: RuntimeStore) -> None:
    await store.enqueue([note("begun"), note("also-begun"), note("not-begun")], T0)
    claimed = {i.key: i for i in await store.claim_due(T0, 10, "old-run")}
    await store.mark_attempt([claimed["begun"].id, claimed["also-begun"].id], T0, "old-run")
    now = T0 + MINUTE
    uncertain = await store.recover("new-run", now, now)
    assert [(i.key, i.uncertain, i.attempts, i.status) for i in uncertain] == [
        ("begun", True, 1, SENDING),
        ("also-begun", True, 1, SENDING),
    ]
    # The one whose send never began is pending again, that attempt not counted.
    (again,) = await store.claim_due(now, 10, "new-run")
    assert (again.key, again.attempts, again.uncertain) == ("not-begun", 1, False)
    assert await store.recover("new-run", now, now) == []


async def test_recover_takes_an_earlier_run_of_the_same_node_at_once(
    store: RuntimeStore,
) -> None:
    # A node's run ids are "<node>/<token>" (OutboxSender(node=…)); one daemon per node, so
    # an earlier run of this node is gone, on either backend.
    await store.enqueue([note("begun")], T0)
    (item,) = await store.claim_due(T0, 10, "lon-1/old")
    await store.mark_attempt([item.id], T0, "lon-1/old")
    now = T0 + MINUTE
    (again,) = await store.recover("lon-1/new", now, now)
    assert (again.key, again.uncertain) == ("begun", True)


async def test_recover_leaves_this_run_s_items_and_later_claims(store: RuntimeStore) -> None:
    await store.enqueue([note("n")], T0)
    (first,) = await store.claim_due(T0, 10, "r1")
    await store.mark_attempt([first.id], T0, "r1")
    late = T0 + 24 * HOUR
    assert await store.recover("r1", late, late) == []
    assert await store.recover("r2", late, T0 - MINUTE) == []
    (again,) = await store.recover("r2", late, T0)
    assert (again.id, again.attempts, again.uncertain) == (first.id, 1, True)


async def test_outbox_items_filter_and_order(store: RuntimeStore) -> None:
    await store.enqueue([note("a"), note("b"), note("c")], T0)
    items = {i.key: i for i in await store.claim_due(T0, 10, "run")}
    await store.mark_sent(items["a"].id, T0, None)
    await store.mark_failed(items["c"].id, T0, "550")
    assert [i.key for i in await store.outbox_items(SENT)] == ["a"]
    assert [i.key for i in await store.outbox_items(FAILED)] == ["c"]
    assert [i.key for i in await store.outbox_items(SENDING)] == ["b"]
    assert [i.key for i in await store.outbox_items(limit=2)] == ["c", "b"]
    with pytest.raises(ValueError, match="pending, sending, sent, failed"):
        await store.outbox_items("queued")


@pytest.mark.parametrize(
    ("setup", "now", "expected"),
    [
        ([], T0, OutboxStats(0, 0.0, 0)),
        ([("a", T0, None)], T0 + 1.5 * MINUTE, OutboxStats(1, 90.0, 0)),
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
    store: RuntimeStore,
    setup: list[tuple[str, datetime, str | None]],
    now: datetime,
    expected: OutboxStats,
) -> None:
    for key, created, outcome in setup:
        await store.enqueue([note(key)], created)
        if outcome is None:
            continue
        (item,) = await store.claim_due(created, 1, "run")
        if outcome == "sent":
            await store.mark_sent(item.id, created, None)
        elif outcome == "failed":
            await store.mark_failed(item.id, created, "550")
    assert await store.outbox_stats(now) == expected
