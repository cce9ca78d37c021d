"""The durable step (monitord.pipeline): retried until stored, counted, serialised per key."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import structlog

from monitord.errors import FencedError, StoreError
from monitord.pipeline import Pipeline
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0


def pipeline_with_recorded_waits(clock: Clock) -> tuple[Pipeline, list[float]]:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)
        clock.advance(timedelta(seconds=delay))

    return Pipeline(clock, sleep=record, first_retry=1, retry_cap=4), waits


async def test_persist_retries_with_backoff_until_stored_and_counts_each_refusal() -> None:
    clock = Clock(T0)
    pipeline, waits = pipeline_with_recorded_waits(clock)
    calls = 0

    async def commit() -> str:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise StoreError(f"refused #{calls}")
        assert pipeline.health.failing_since == T0
        assert pipeline.pending == 1
        return "stored"

    assert await pipeline.persist("a state", commit) == "stored"
    assert waits == [1, 2, 4, 4]
    assert pipeline.health.failures == 4
    assert not pipeline.health.failing and pipeline.pending == 0


async def test_a_fenced_write_is_not_retried_but_logged_once_and_raised() -> None:
    clock = Clock(T0)
    pipeline, waits = pipeline_with_recorded_waits(clock)
    calls = 0

    async def fenced() -> None:
        nonlocal calls
        calls += 1
        raise FencedError("db", 1, 2)

    with structlog.testing.capture_logs() as logs, pytest.raises(FencedError):
        await pipeline.persist("a state", fenced)
    assert calls == 1 and waits == []
    told = [e for e in logs if e["event"] == "cluster.fenced"]
    assert len(told) == 1 and told[0]["what"] == "a state"
    assert "no longer the leader" in told[0]["error"]
    assert not pipeline.health.failing

    calls = 0

    async def refused_then_fenced() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreError("locked")  # a passing refusal first: retried
        raise FencedError("db", 1, 2)

    with pytest.raises(FencedError):
        await pipeline.persist("a state", refused_then_fenced)
    assert calls == 2 and waits == [1]
    assert pipeline.pending == 0


async def test_a_cancelled_retry_leaves_no_pending_write_behind() -> None:
    gate = asyncio.Event()

    async def wait(_delay: float) -> None:
        await gate.wait()

    pipeline = Pipeline(Clock(T0), sleep=wait)

    async def refuse() -> None:
        raise StoreError("locked")

    refused = asyncio.Event()
    pipeline.health.listeners.append(lambda _exc: refused.set())
    task = asyncio.create_task(pipeline.persist("a state", refuse))
    await refused.wait()
    assert pipeline.pending == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert pipeline.pending == 0
    assert pipeline.health.failing  # until a write succeeds


async def test_hold_runs_the_work_of_one_key_in_arrival_order_and_forgets_idle_keys() -> None:
    pipeline = Pipeline(Clock(T0))
    first_in = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def work(name: str, key: str) -> None:
        async with pipeline.hold(key):
            order.append(f"{name} in")
            if name == "first":
                first_in.set()
                await release.wait()
            order.append(f"{name} out")

    first = asyncio.create_task(work("first", "k"))
    await first_in.wait()
    second = asyncio.create_task(work("second", "k"))
    other = asyncio.create_task(work("other", "j"))
    await other  # another key is not held up
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first in", "other in", "other out", "first out", "second in", "second out"]
    assert pipeline._holds == {}
