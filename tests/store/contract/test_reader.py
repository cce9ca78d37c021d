"""Contract: the read-only view another process (``monitord status``, /metrics, the status
page) has of a store (store.base.StoreReader) shows what the store holds, with the same
meaning on every backend: notifications by notifier and status (rows a retention pass deleted
still counted), advisories seen, the pending patch-day queue, meta rows by prefix."""

from __future__ import annotations

from datetime import timedelta

from monitord.runtime import RuntimeStore
from monitord.store.base import AdvisoryRow, PatchItemRow, SecurityChanges, StoreExtras, StoreReader
from monitord.store.sqlite import SqliteStore
from monitord.store.sqlite.reader import SqliteReader
from tests.store.contract.conftest import StoreFactory
from tests.store.contract.values import DAY, T0, note


def reader_of(store: RuntimeStore) -> StoreReader:
    """The backend's reader of the storage ``store`` is on."""
    if isinstance(store, SqliteStore):
        return SqliteReader(store.path)
    from monitord.store.postgres import PostgresStore
    from monitord.store.postgres.reader import PgReader

    assert isinstance(store, PostgresStore)
    return PgReader(store.url)


def _advisory(id_: str, source: str) -> AdvisoryRow:
    return AdvisoryRow(
        id=id_, source=source, fingerprint="f1", data={"title": id_}, first_seen=T0, last_seen=T0
    )


def _queued(site: str, advisory: str, patch_day: timedelta, client: str = "acme") -> PatchItemRow:
    return PatchItemRow(
        site=site,
        advisory=advisory,
        client=client,
        project="webform",
        installed="6.2.3",
        fixed=None if site == "blog" else "6.2.9",
        link=f"https://www.drupal.org/{advisory.lower()}",
        patch_day=T0 + patch_day,
        queued_at=T0,
    )


async def _finish(store: RuntimeStore, key: str, notifier: str, outcome: str) -> None:
    await store.enqueue([note(key, notifier=notifier)], T0)
    (item,) = [i for i in await store.claim_due(T0, 100, "run") if i.key == key]
    if outcome == "sent":
        await store.mark_sent(item.id, T0, "<id@x>")
    else:
        await store.mark_failed(item.id, T0, "550 no such user")


async def test_no_store_yet_reads_empty(store_factory: StoreFactory) -> None:
    reader = reader_of(store_factory())  # never opened: no file, no tables
    try:
        assert reader.extras() == StoreExtras()
        assert reader.meta("hb.") == {}
    finally:
        reader.close()


async def test_reads_what_the_store_holds(store: RuntimeStore) -> None:
    for n in range(3):
        await _finish(store, f"sent-{n}", "email", "sent")
    await _finish(store, "failed-0", "webhook.ops", "failed")
    await store.enqueue([note("waiting", notifier="pager")], T0)
    await store.save_security(
        SecurityChanges(
            advisories=[
                _advisory("SA-CONTRIB-2026-010", "rss"),
                _advisory("SA-CONTRIB-2026-010", "psa-json:webform"),
                _advisory("SA-CORE-2026-001", "rss"),
            ],
            queue_add=[
                _queued("www", "SA-CONTRIB-2026-010", 14 * DAY),
                _queued("blog", "SA-CONTRIB-2026-010", 7 * DAY),
                _queued("done", "SA-CORE-2026-001", 1 * DAY),
            ],
        ),
        T0,
    )
    await store.save_security(SecurityChanges(ticketed=[("done", "SA-CORE-2026-001")]), T0)
    await store.set_meta("heartbeat.acme/www/cron", '{"token": "t0k3n"}')
    await store.set_meta("heartbeat.acme/blog/cron", '{"token": "other"}')
    await store.set_meta("heartbeatless", "no")
    await store.flush()

    reader = reader_of(store)
    try:
        extras = reader.extras()
        assert extras.notifications == {
            ("email", "sent"): 3,
            ("webhook.ops", "failed"): 1,
            ("pager", "pending"): 1,
        }
        assert extras.advisories_seen == 2
        assert extras.patch_queue_pending == 2
        assert [(q.site, q.fixed, q.patch_day) for q in extras.patch_queue] == [
            ("blog", None, "2026-03-25T16:30:00.000000+00:00"),
            ("www", "6.2.9", "2026-04-01T16:30:00.000000+00:00"),
        ]
        assert reader.meta("heartbeat.") == {
            "heartbeat.acme/www/cron": '{"token": "t0k3n"}',
            "heartbeat.acme/blog/cron": '{"token": "other"}',
        }

        # Retention deletes finished rows; the counts behind /metrics do not go down, and
        # the same reader (kept open, as the daemon's API keeps it) sees the change.
        later = T0 + 40 * DAY
        pruned = await store.prune(sent_before=later, failed_before=later, incidents_before=later)
        assert (pruned.sent, pruned.failed) == (3, 1)
        assert {i.key for i in await store.outbox_items()} == {"waiting"}
        assert reader.extras().notifications == extras.notifications
    finally:
        reader.close()
        reader.close()  # harmless twice
