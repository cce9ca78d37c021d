"""OutboxSender over a real SQLite store, with in-process notifiers and a driven clock."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import structlog
from structlog.testing import LogCapture

from monitord import limits
from monitord.errors import PermanentError, RetryableError
from monitord.events import Event
from monitord.notify.base import NOTIFIER_API_VERSION, Notification, Notifier
from monitord.outbox import (
    CLAIMS_PER_SLOT,
    NOTIFIER_SLOTS,
    RECOVER_EVERY,
    OutboxSender,
    backoff,
)
from monitord.store import FAILED, PENDING, SENDING, SENT, OutboxItem, SqliteStore
from tests.helpers.clock import Clock

T0 = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)
SECRET = "hunter2-smtp-password"


class ScriptedNotifier:
    """A Notifier whose first sends fail as scripted; later sends succeed."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION

    def __init__(self, name: str, failures: list[Exception] | None = None) -> None:
        self.name = name
        self.failures = list(failures or [])
        self.password = SECRET  # what a real notifier holds and must never leak
        self.calls: list[Notification] = []
        self.delivered: dict[str, Notification] = {}
        self.called = asyncio.Event()

    async def send(self, notification: Notification) -> str | None:
        self.calls.append(notification)
        self.called.set()
        if self.failures:
            raise self.failures.pop(0)
        self.delivered[notification.key] = notification
        return f"<{notification.key}@monitord.test>"

    async def aclose(self) -> None:
        pass


class GatedNotifier:
    """Holds every send until released; records how many run at once."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION

    def __init__(self, name: str, full_at: int) -> None:
        self.name = name
        self.full_at = full_at
        self.active = 0
        self.most = 0
        self.full = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, notification: Notification) -> str | None:
        self.active += 1
        self.most = max(self.most, self.active)
        if self.active >= self.full_at:
            self.full.set()
        try:
            await self.release.wait()
        finally:
            self.active -= 1
        return None

    async def aclose(self) -> None:
        pass


def note(key: str, notifier: str = "email", thread: str | None = None) -> Notification:
    """One notification; each key is its own thread unless ``thread`` says otherwise."""
    return Notification(
        key=key,
        notifier=notifier,
        recipient="jo@acme.example",
        recipient_name="Jo Bloggs",
        event=Event(
            kind="site-down",
            client="acme",
            site="acme-www",
            check="http",
            at=T0,
            key=f"ev-{key}",
            thread=thread or f"acme-www/http/{key}",
            summary="www.acme.example is down",
        ),
    )


class Capture(LogCapture):
    """Captures log entries; ``logged[event]`` is set once that event has been logged."""

    def __init__(self) -> None:
        super().__init__()
        self.logged: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        self.logged[event_dict["event"]].set()
        return super().__call__(logger, method_name, event_dict)


def capturing_logger() -> tuple[Any, Capture]:
    cap = Capture()
    log = structlog.wrap_logger(
        None,
        processors=[cap],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    return log, cap


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "monitord.sqlite3")
    await s.open()
    yield s
    await s.close()


async def item(store: SqliteStore, key: str) -> OutboxItem:
    (found,) = [i for i in await store.outbox_items() if i.key == key]
    return found


def test_the_test_notifiers_satisfy_the_protocol() -> None:
    assert isinstance(ScriptedNotifier("x"), Notifier)
    assert isinstance(GatedNotifier("x", 1), Notifier)


async def test_retryable_failures_back_off_then_deliver(store: SqliteStore) -> None:
    clock = Clock(T0)
    email = ScriptedNotifier("email", [RetryableError("SMTP 451: try later")] * 3)
    sender = OutboxSender(store, {"email": email}, clock)
    await store.enqueue([note("n1")], clock())

    for attempt in (1, 2, 3):
        assert await sender.run_once() == 1
        got = await item(store, "n1")
        assert (got.status, got.attempts, got.last_error) == (
            PENDING,
            attempt,
            "SMTP 451: try later",
        )
        wait = got.due_at - clock()
        assert wait == backoff(attempt, "n1", None)
        nominal = 5 * 2 ** (attempt - 1)
        assert timedelta(seconds=nominal * 0.9) <= wait <= timedelta(seconds=nominal * 1.1)
        # Not due yet: nothing is claimed a moment before.
        clock.advance(wait - timedelta(milliseconds=1))
        assert await sender.run_once() == 0
        clock.advance(timedelta(milliseconds=1))

    assert await sender.run_once() == 1
    got = await item(store, "n1")
    assert (got.status, got.attempts, got.external_id) == (SENT, 4, "<n1@monitord.test>")
    assert len(email.calls) == 4
    assert email.delivered == {"n1": note("n1")}
    assert await sender.run_once() == 0


async def test_a_permanent_failure_is_recorded_loudly(store: SqliteStore) -> None:
    clock = Clock(T0)
    log, cap = capturing_logger()
    email = ScriptedNotifier("email", [PermanentError("550 5.1.1 no such mailbox")])
    sender = OutboxSender(store, {"email": email}, clock, log=log)
    await store.enqueue([note("n1")], clock())

    assert await sender.run_once() == 1
    got = await item(store, "n1")
    assert (got.status, got.last_error) == (FAILED, "550 5.1.1 no such mailbox")
    clock.advance(timedelta(days=2))
    assert await sender.run_once() == 0
    assert len(email.calls) == 1

    (failed,) = [e for e in cap.entries if e["event"] == "outbox.failed"]
    assert failed["log_level"] == "error"
    assert (failed["notifier"], failed["key"], failed["reason"]) == ("email", "n1", "permanent")
    assert "550 5.1.1" in failed["error"]
    assert SECRET not in repr(cap.entries)


async def test_retry_after_is_honoured(store: SqliteStore) -> None:
    clock = Clock(T0)
    hook = ScriptedNotifier("webhook", [RetryableError("HTTP 429", retry_after=120)])
    sender = OutboxSender(store, {"webhook": hook}, clock)
    await store.enqueue([note("n1", "webhook")], clock())

    assert await sender.run_once() == 1
    got = await item(store, "n1")
    assert got.due_at == T0 + timedelta(seconds=120)
    clock.advance(timedelta(seconds=119))
    assert await sender.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await sender.run_once() == 1
    assert (await item(store, "n1")).status == SENT


async def test_an_unknown_notifier_fails_with_advice(store: SqliteStore) -> None:
    clock = Clock(T0)
    log, cap = capturing_logger()
    sender = OutboxSender(store, {"email": ScriptedNotifier("email")}, clock, log=log)
    await store.enqueue([note("n1", "old-pager")], clock())

    assert await sender.run_once() == 1
    got = await item(store, "n1")
    assert got.status == FAILED
    assert got.last_error is not None
    assert "no longer has a notifier named 'old-pager'" in got.last_error
    (failed,) = [e for e in cap.entries if e["event"] == "outbox.failed"]
    assert (failed["log_level"], failed["notifier"], failed["key"]) == ("error", "old-pager", "n1")


async def test_an_unexpected_exception_is_retried(store: SqliteStore) -> None:
    clock = Clock(T0)
    email = ScriptedNotifier("email", [ConnectionResetError("peer reset")])
    sender = OutboxSender(store, {"email": email}, clock)
    await store.enqueue([note("n1")], clock())

    assert await sender.run_once() == 1
    got = await item(store, "n1")
    assert (got.status, got.last_error) == (PENDING, "ConnectionResetError: peer reset")
    clock.advance(backoff(1, "n1", None))
    assert await sender.run_once() == 1
    assert (await item(store, "n1")).status == SENT


async def test_too_many_attempts_gives_up(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "OUTBOX_MAX_ATTEMPTS", 3)
    clock = Clock(T0)
    email = ScriptedNotifier("email", [RetryableError("HTTP 503")] * 10)
    log, cap = capturing_logger()
    sender = OutboxSender(store, {"email": email}, clock, log=log)
    await store.enqueue([note("n1")], clock())

    for _ in range(3):
        assert await sender.run_once() == 1
        clock.advance(limits.OUTBOX_BACKOFF_CAP * 2)
    got = await item(store, "n1")
    assert (got.status, got.attempts) == (FAILED, 3)
    assert got.last_error == "gave up after 3 attempts; last error: HTTP 503"
    assert await sender.run_once() == 0
    assert len(email.calls) == 3
    assert [e["reason"] for e in cap.entries if e["event"] == "outbox.failed"] == [
        "too-many-attempts"
    ]


async def test_an_uncertain_item_past_the_limit_is_failed_without_sending(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T0)
    await store.enqueue([note("n1")], clock())
    (claimed,) = await store.claim_due(clock(), 10, "gone-run")
    await store.mark_retry(claimed.id, clock(), clock(), "451 try later")
    (claimed,) = await store.claim_due(clock(), 10, "gone-run")  # the second attempt …
    await store.mark_attempt([claimed.id], clock(), "gone-run")  # … began, then the run died
    monkeypatch.setattr(limits, "OUTBOX_MAX_ATTEMPTS", 1)
    email = ScriptedNotifier("email")
    assert await OutboxSender(store, {"email": email}, clock).run_once() == 1
    assert email.calls == []
    assert (await item(store, "n1")).status == FAILED


async def test_sends_run_concurrently_up_to_the_bound(store: SqliteStore) -> None:
    clock = Clock(T0)
    gate = GatedNotifier("email", full_at=3)
    sender = OutboxSender(store, {"email": gate}, clock, concurrency=3)
    await store.enqueue([note(f"n{i}") for i in range(20)], clock())

    first = asyncio.create_task(sender.run_once())
    await asyncio.wait_for(gate.full.wait(), timeout=5)
    for _ in range(20):  # let any over-eager task start
        await asyncio.sleep(0)
    assert gate.active == 3
    gate.release.set()
    assert await first == 3 * CLAIMS_PER_SLOT
    assert await sender.run_once() == 20 - 3 * CLAIMS_PER_SLOT
    assert gate.most == 3
    assert [i.status for i in await store.outbox_items()] == [SENT] * 20


class FindingNotifier(ScriptedNotifier):
    """A ticket-like notifier that can look up whether a notification was applied."""

    def __init__(self, name: str, applied: dict[str, str]) -> None:
        super().__init__(name)
        self.applied = applied

    async def find_delivery(self, notification: Notification) -> str | None:
        return self.applied.get(notification.key)


class DedupingNotifier(ScriptedNotifier):
    resend_is_harmless: ClassVar[bool] = True


async def crash_mid_send(path: Path, clock: Clock, notifier: str = "email") -> None:
    """Store ``n1`` and let a sender begin its send, then kill that sender (the send is
    never recorded): what a process killed between the server's answer and mark_sent leaves."""
    store = SqliteStore(path)
    await store.open()
    await store.write("acme-www/http", {"down": True}, None, [note("n1", notifier)], now=clock())
    stuck = GatedNotifier(notifier, full_at=1)
    sending = asyncio.create_task(OutboxSender(store, {notifier: stuck}, clock).run_once())
    await asyncio.wait_for(stuck.full.wait(), timeout=5)
    sending.cancel()  # the process dies mid-send
    with pytest.raises(asyncio.CancelledError):
        await sending
    await store.close()


@pytest.mark.parametrize(
    ("make", "sends", "resolution"),
    [
        (lambda: ScriptedNotifier("email"), 1, "resent-may-duplicate"),
        (lambda: DedupingNotifier("email"), 1, "resent-deduplicated-by-destination"),
        (lambda: FindingNotifier("email", {"n1": "T-1"}), 0, "found-delivered"),
        (lambda: FindingNotifier("email", {}), 1, "not-delivered-sending"),
    ],
)
async def test_a_crash_mid_send_is_resolved_by_the_next_run_at_once(
    tmp_path: Path, make: Any, sends: int, resolution: str
) -> None:
    """Not after limits.OUTBOX_LEASE: the new run knows the old one is gone (another run id)."""
    path = tmp_path / "monitord.sqlite3"
    clock = Clock(T0)
    await crash_mid_send(path, clock)
    store = SqliteStore(path)
    await store.open()
    try:
        assert (await item(store, "n1")).status == SENDING
        notifier = make()
        log, cap = capturing_logger()
        clock.advance(seconds=3)  # the restart
        assert await OutboxSender(store, {"email": notifier}, clock, log=log).run_once() == 1
        assert len(notifier.calls) == sends
        got = await item(store, "n1")
        assert got.status == SENT
        assert got.attempts == 1
        if sends == 0:
            assert got.external_id == "T-1"
        (uncertain,) = [e for e in cap.entries if e["event"] == "outbox.uncertain"]
        assert uncertain["resolution"] == resolution
    finally:
        await store.close()


async def test_a_claimed_item_whose_send_never_began_is_sent_plainly_by_the_next_run(
    store: SqliteStore,
) -> None:
    clock = Clock(T0)
    await store.enqueue([note("n1")], clock())
    await store.claim_due(clock(), 10, "gone-run")  # claimed, then the run died before sending
    email = ScriptedNotifier("email")
    log, cap = capturing_logger()
    assert await OutboxSender(store, {"email": email}, clock, log=log).run_once() == 1
    assert [n.key for n in email.calls] == ["n1"]
    got = await item(store, "n1")
    assert (got.status, got.attempts) == (SENT, 1)
    assert not [e for e in cap.entries if e["event"] == "outbox.uncertain"]


async def test_run_delivers_on_wake_retries_and_stops_cleanly(store: SqliteStore) -> None:
    clock = Clock(T0)
    email = ScriptedNotifier("email", [RetryableError("HTTP 503")])
    log, cap = capturing_logger()
    sender = OutboxSender(store, {"email": email}, clock, log=log)
    runner = asyncio.create_task(sender.run())

    await store.enqueue([note("n1")], clock())
    sender.wake()
    await asyncio.wait_for(email.called.wait(), timeout=5)
    email.called.clear()
    # The first try failed; once the (driven) clock passes the backoff, a wake delivers it.
    clock.advance(timedelta(minutes=1))
    sender.wake()
    await asyncio.wait_for(cap.logged["outbox.sent"].wait(), timeout=5)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert runner.cancelled()

    got = await item(store, "n1")
    assert (got.status, got.attempts) == (SENT, 2)
    sent = [e for e in cap.entries if e["event"] == "outbox.sent"]
    assert [(e["notifier"], e["key"], e["attempt"]) for e in sent] == [("email", "n1", 2)]
    retry = [e for e in cap.entries if e["event"] == "outbox.retry"]
    assert [(e["log_level"], e["attempt"]) for e in retry] == [("warning", 1)]


async def test_run_keeps_going_while_more_are_due(store: SqliteStore) -> None:
    clock = Clock(T0)
    email = ScriptedNotifier("email")
    log, _ = capturing_logger()
    sender = OutboxSender(store, {"email": email}, clock, log=log, concurrency=1)
    count = 3 * sender.batch_size + 1
    await store.enqueue([note(f"n{i}") for i in range(count)], clock())
    runner = asyncio.create_task(sender.run())
    try:
        # One wake-up, several full rounds back to back: no idle wait between them.
        while len(email.delivered) < count:
            email.called.clear()
            await asyncio.wait_for(email.called.wait(), timeout=2)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert sorted(email.delivered) == sorted(f"n{i}" for i in range(count))


async def test_run_survives_a_failing_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "monitord.sqlite3")  # never opened: every call fails
    log, cap = capturing_logger()
    sender = OutboxSender(store, {}, Clock(T0), log=log)
    runner = asyncio.create_task(sender.run())
    await asyncio.wait_for(cap.logged["outbox.round_failed"].wait(), timeout=5)
    assert not runner.done()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    (entry,) = [e for e in cap.entries if e["event"] == "outbox.round_failed"]
    assert entry["log_level"] == "error"
    assert "not open" in entry["error"]


async def test_items_of_one_thread_go_out_in_order_even_across_retries(tmp_path: Path) -> None:
    """A recovery never overtakes its DOWN notice (a ticket would be opened and never closed)."""
    clock = Clock(T0)
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.open()
    try:
        email = ScriptedNotifier("email", [RetryableError("451 try later")])
        other = ScriptedNotifier("pager")
        sender = OutboxSender(store, {"email": email, "pager": other}, clock)
        await store.enqueue(
            [
                note("down", thread="incident-1"),
                note("recovered", thread="incident-1"),
                note("down-pager", "pager", thread="incident-1"),  # another notifier: not held
                note("elsewhere", thread="incident-2"),
            ],
            clock(),
        )
        await sender.run_once()
        assert [n.key for n in email.calls] == ["down", "elsewhere"]  # the recovery waits
        assert list(other.delivered) == ["down-pager"]
        clock.advance(timedelta(minutes=10))
        await sender.run_once()
        await sender.run_once()
        assert [n.key for n in email.calls] == ["down", "elsewhere", "down", "recovered"]
        assert list(email.delivered) == ["elsewhere", "down", "recovered"]
    finally:
        await store.close()


async def test_a_running_sender_takes_over_another_run_s_item_only_past_the_lease(
    store: SqliteStore,
) -> None:
    """Two senders on one store (one daemon per store forbids it): the other run's item in
    flight is left alone until limits.OUTBOX_LEASE has passed."""
    clock = Clock(T0)
    email = ScriptedNotifier("email")
    sender = OutboxSender(store, {"email": email}, clock)
    assert await sender.run_once() == 0  # this run's first round: nothing to recover
    await store.enqueue([note("n1")], clock())
    (other,) = await store.claim_due(clock(), 10, "another-live-run")
    await store.mark_attempt([other.id], clock(), "another-live-run")
    clock.advance(limits.OUTBOX_LEASE - timedelta(seconds=1))
    assert await sender.run_once() == 0
    # Looked for again RECOVER_EVERY later: now past the lease.
    clock.advance(RECOVER_EVERY)
    assert await sender.run_once() == 1
    assert [n.key for n in email.calls] == ["n1"]
    assert (await item(store, "n1")).status == SENT


async def test_a_hanging_notifier_fills_only_its_own_slots(store: SqliteStore) -> None:
    clock = Clock(T0)
    hook = GatedNotifier("hook", full_at=NOTIFIER_SLOTS)
    email = ScriptedNotifier("email")
    log, _ = capturing_logger()
    sender = OutboxSender(store, {"hook": hook, "email": email}, clock, log=log, concurrency=8)
    await store.enqueue([note(f"hook-{i}", "hook") for i in range(100)], clock())
    runner = asyncio.create_task(sender.run())
    try:
        await asyncio.wait_for(hook.full.wait(), timeout=5)
        await store.enqueue([note("mail-1"), note("mail-2")], clock())
        sender.wake()
        while len(email.delivered) < 2:
            email.called.clear()
            await asyncio.wait_for(email.called.wait(), timeout=5)
        assert hook.active == NOTIFIER_SLOTS  # still hanging, never more than its slots
        # Its backlog is not claimed round after round: once busy it is left out of the claim.
        claimed = [i for i in await store.outbox_items(SENDING, 1000) if i.notifier == "hook"]
        assert len(claimed) <= sender.batch_size
    finally:
        hook.release.set()
        sender.finish()
        await asyncio.wait_for(runner, timeout=5)
    assert hook.most == NOTIFIER_SLOTS
    # Stopped: what was claimed and not begun is left to the next run, which sends it all.
    after = OutboxSender(store, {"hook": hook, "email": email}, clock, log=log)
    while await after.run_once():
        pass
    assert {i.status for i in await store.outbox_items(limit=1000)} == {SENT}


async def test_a_retry_goes_out_when_due_even_after_an_unrelated_wake(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender remembers the next retry's due time across wake-ups: a wake for another
    item (or a finished send) must not make it forget and fall back to its idle poll
    (IDLE_WAIT, 5 s), which sent retries up to 5 s late (a 451 ×3 DOWN took 51 s, not 35)."""
    monkeypatch.setattr(limits, "OUTBOX_BACKOFF_BASE", timedelta(milliseconds=400))
    flaky = ScriptedNotifier("email", [RetryableError("451 4.3.0 busy")])
    sender = OutboxSender(store, {"email": flaky}, lambda: datetime.now(UTC))
    run = asyncio.create_task(sender.run())
    try:
        await store.enqueue([note("first")], datetime.now(UTC))
        sender.wake()
        async with asyncio.timeout(5):
            await flaky.called.wait()  # the first try, refused: a retry ~0.4 s later
        # Something else arrives and wakes the sender before the retry is due.
        await store.enqueue([note("second")], datetime.now(UTC))
        sender.wake()
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(5):
            while "first" not in flaky.delivered:
                await asyncio.sleep(0.05)
        assert loop.time() - started < 2.5  # IDLE_WAIT would be 5 s
    finally:
        sender.finish()
        async with asyncio.timeout(10):
            await run
