"""Contract: check states, latest results, incidents, durable writes, meta."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from monitord.errors import StoreError
from monitord.runtime import RuntimeStore
from monitord.store.base import PENDING
from tests.store.contract.conftest import StoreFactory
from tests.store.contract.values import HOUR, T0, incident, note, result


async def test_states_and_results_come_back_after_a_restart(store_factory: StoreFactory) -> None:
    store = store_factory()
    await store.open()
    await store.write("a", {"down": False, "n": 1}, result("a", 1), now=T0)
    await store.write("a", {"down": True, "n": 2}, result("a", 2, ok=False), now=T0 + HOUR)
    await store.write("b", {"down": False}, result("b", 3), now=T0)
    # Read before any flush: the store's own reads see its batched writes.
    assert (await store.load_states())["a"] == {"down": True, "n": 2}
    await store.close()

    store = store_factory()
    await store.open()
    try:
        assert await store.load_states() == {"a": {"down": True, "n": 2}, "b": {"down": False}}
        results = await store.latest_results()
        assert results == {"a": result("a", 2, ok=False), "b": result("b", 3)}
    finally:
        await store.close()


async def test_a_write_without_a_result_keeps_the_last_result(store: RuntimeStore) -> None:
    await store.write("k", {"n": 1}, result("k", 1), now=T0)
    await store.flush()
    await store.write("k", {"n": 2}, None, now=T0 + HOUR)
    assert (await store.latest_results())["k"] == result("k", 1)
    assert (await store.load_states())["k"] == {"n": 2}


async def test_the_state_is_copied_when_written(store: RuntimeStore) -> None:
    state = {"n": 1}
    await store.write("k", state, None, now=T0)
    state["n"] = 2
    assert (await store.load_states())["k"] == {"n": 1}


async def test_results_come_back_in_utc(store: RuntimeStore) -> None:
    at = T0.astimezone(timezone(timedelta(hours=2)))
    await store.write("k", {}, result("k", 1, at=at), now=at)
    got = (await store.latest_results())["k"]
    assert got.at == T0
    assert got.at.utcoffset() == timedelta(0)


async def test_a_naive_time_is_refused(store: RuntimeStore) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        await store.write("k", {}, None, now=T0.replace(tzinfo=None))


async def test_state_that_is_not_json_is_refused_with_advice(store: RuntimeStore) -> None:
    with pytest.raises(StoreError, match="plain JSON"):
        await store.write("k", {"at": T0}, None, now=T0)


async def test_a_durable_write_stores_state_result_incident_and_notifications_together(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    await store.open()
    await store.write("other", {"batched": True}, None, now=T0)
    await store.write(
        "k",
        {"down": True},
        result("k", 1, ok=False),
        [note("k/down/jo"), note("k/down/ops", "webhook.ops", "ops")],
        incident("inc-1", T0),
        now=T0,
        also={"site": {"open": "inc-1"}},
    )
    # Durable when it returns: a second handle sees it without a flush or close.
    other = store_factory()
    await other.open()
    try:
        items = await other.outbox_items()
        assert sorted((i.key, i.status) for i in items) == [
            ("k/down/jo", PENDING),
            ("k/down/ops", PENDING),
        ]
        assert {i.key: i.notification for i in items}["k/down/jo"] == note("k/down/jo")
        assert await other.open_incidents() == [incident("inc-1", T0)]
        states = await other.load_states()
        # The batch before it is committed with it, in order.
        assert states == {
            "other": {"batched": True},
            "k": {"down": True},
            "site": {"open": "inc-1"},
        }
    finally:
        await other.close()
        await store.close()


async def test_incidents_are_upserted_open_ones_and_newest_first(store: RuntimeStore) -> None:
    await store.write("k", {}, None, incident=incident("i1", T0), now=T0)
    await store.write("k", {}, None, incident=incident("i2", T0 + HOUR), now=T0)
    await store.write("k", {}, None, incident=incident("i3", T0 + 2 * HOUR), now=T0)
    ended = incident("i1", T0, T0 + 3 * HOUR)
    await store.write("k", {}, None, incident=ended, now=T0 + 3 * HOUR)
    assert [i.id for i in await store.open_incidents()] == ["i2", "i3"]
    assert [i.id for i in await store.incidents()] == ["i3", "i2", "i1"]
    assert [i.id for i in await store.incidents(limit=2)] == ["i3", "i2"]
    assert (await store.incidents())[-1] == ended


async def test_meta_get_set_overwrite(store_factory: StoreFactory) -> None:
    store = store_factory()
    await store.open()
    assert await store.get_meta("etag:core") is None
    await store.set_meta("etag:core", 'W/"1"')
    await store.set_meta("etag:core", 'W/"2"')
    await store.set_meta("last-modified:core", "Wed, 18 Mar 2026 16:00:00 GMT")
    await store.close()
    store = store_factory()
    await store.open()
    try:
        assert await store.get_meta("etag:core") == 'W/"2"'
        assert await store.get_meta("last-modified:core") == "Wed, 18 Mar 2026 16:00:00 GMT"
    finally:
        await store.close()


async def test_add_meta_keeps_the_first_value(store: RuntimeStore) -> None:
    assert await store.add_meta("token:k", "first") == "first"
    assert await store.add_meta("token:k", "second") == "first"
    assert await store.get_meta("token:k") == "first"
