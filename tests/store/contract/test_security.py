"""Contract: advisories, decisions and the patch-day queue, saved atomically with their
notifications (store.base.SecurityStore)."""

from __future__ import annotations

from monitord.runtime import RuntimeStore
from monitord.store.base import (
    PENDING,
    AdvisoryRow,
    DecisionRow,
    PatchItemRow,
    SecurityChanges,
)
from tests.store.contract.values import DAY, HOUR, T0, note

ADV = AdvisoryRow(
    id="SA-CORE-2026-001",
    source="rss",
    fingerprint="f1",
    data={"title": "Drupal core - Critical", "risk": 20},
    first_seen=T0,
    last_seen=T0,
)


def decision(site: str, decided: str = "patch-day") -> DecisionRow:
    return DecisionRow(
        advisory=ADV.id,
        site=site,
        client="acme",
        fingerprint="d1",
        installed="10.2.3",
        decision=decided,  # type: ignore[arg-type]
        patch_day=T0 + 7 * DAY if decided == "patch-day" else None,
        reason="a patch day is set",
        decided_at=T0,
    )


def queued(site: str, patch_day: int = 7) -> PatchItemRow:
    return PatchItemRow(
        site=site,
        advisory=ADV.id,
        client="acme",
        project="drupal",
        installed="10.2.3",
        fixed="10.2.4",
        link="https://www.drupal.org/sa-core-2026-001",
        patch_day=T0 + patch_day * DAY,
        queued_at=T0,
    )


async def test_one_poll_is_saved_and_read_back(store: RuntimeStore) -> None:
    changes = SecurityChanges(
        advisories=[ADV],
        decisions=[decision("www"), decision("shop", "now")],
        queue_add=[queued("www"), queued("blog", 3)],
        notifications=[(note("sa/www"), T0), (note("sa/heads-up"), T0 + HOUR)],
    )
    assert await store.save_security(changes, T0) == 2
    assert await store.load_advisories() == [ADV]
    decisions = await store.load_decisions()
    assert decisions == {
        (ADV.id, "www"): decision("www"),
        (ADV.id, "shop"): decision("shop", "now"),
    }
    assert await store.patch_queue() == [queued("blog", 3), queued("www")]
    due = {i.key: (i.status, i.due_at) for i in await store.outbox_items()}
    assert due == {"sa/www": (PENDING, T0), "sa/heads-up": (PENDING, T0 + HOUR)}
    # The same notification again is not new.
    assert await store.save_security(SecurityChanges(notifications=[(note("sa/www"), T0)]), T0) == 0


async def test_upserts_and_the_queue_s_life(store: RuntimeStore) -> None:
    await store.save_security(
        SecurityChanges(advisories=[ADV], queue_add=[queued("www"), queued("blog")]), T0
    )
    revised = AdvisoryRow(
        id=ADV.id,
        source="rss",
        fingerprint="f2",
        data={"title": "Drupal core - Critical (revised)"},
        first_seen=T0 + DAY,
        last_seen=T0 + DAY,
        history=("f1",),
    )
    later = T0 + DAY
    await store.save_security(
        SecurityChanges(
            advisories=[revised],
            ticketed=[("www", ADV.id)],
            queue_remove=[("blog", ADV.id)],
        ),
        later,
    )
    (adv,) = await store.load_advisories()
    # Upserted by (id, source): the first sighting is kept.
    assert (adv.fingerprint, adv.first_seen, adv.last_seen, adv.history) == (
        "f2",
        T0,
        T0 + DAY,
        ("f1",),
    )
    assert await store.patch_queue() == []
    (www,) = await store.patch_queue(pending_only=False)
    assert (www.site, www.ticketed_at) == ("www", later)
    # A ticketed item is neither removed nor changed by a later poll.
    await store.save_security(
        SecurityChanges(queue_add=[queued("www", 9)], queue_remove=[("www", ADV.id)]), later
    )
    assert await store.patch_queue(pending_only=False) == [www]
