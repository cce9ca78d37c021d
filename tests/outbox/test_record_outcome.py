"""An accepted send whose outcome the store cannot record at once is never sent again.

The real e-mail notifier and a real SMTP server (aiosmtpd); right after the server's 250,
another connection takes the SQLite file's write lock (a backup tool, ``sqlite3`` in a shell)
and holds it while the clock passes limits.OUTBOX_LEASE twice over. The sender keeps the
outcome and records it once the lock is gone: one message, never two.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from monitord import limits, outbox
from monitord.config.models import Agency
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.email import EmailNotifier
from monitord.outbox import OutboxSender
from monitord.store import SENT, SqliteStore
from monitord.store.sqlite import base as store_sqlite
from tests.helpers.clock import Clock
from tests.helpers.smtp import SmtpServer
from tests.outbox.test_sender import capturing_logger, note

T0 = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)
WAIT = 10.0
"""Seconds any awaited step may take (each takes milliseconds)."""


class LockedAfterAccept:
    """The real e-mail notifier; once the server has answered 250 to the first message, another
    connection takes the store's write lock (until ``locker.rollback()``)."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION

    def __init__(self, inner: EmailNotifier, db: Path) -> None:
        self.name = inner.name
        self.inner = inner
        self.locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.sends = 0
        self.locked = asyncio.Event()

    async def send(self, notification: Notification) -> str | None:
        message_id = await self.inner.send(notification)
        self.sends += 1
        if self.sends == 1:
            self.locker.execute("BEGIN IMMEDIATE")
            self.locked.set()
        return message_id

    async def aclose(self) -> None:
        self.locker.close()
        await self.inner.aclose()


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SqliteStore]:
    # A locked store answers within 50 ms instead of 5 s, and the outcome is recorded again
    # every 20 ms: the same path as in production, faster.
    monkeypatch.setattr(store_sqlite, "STORE_BUSY_TIMEOUT", timedelta(milliseconds=50))
    monkeypatch.setattr(outbox, "RECORD_RETRY_FIRST", timedelta(milliseconds=20))
    s = SqliteStore(tmp_path / "state.sqlite3")
    await s.open()
    yield s
    await s.close()


async def test_a_250_the_store_cannot_record_yet_is_recorded_later_never_resent(
    store: SqliteStore, smtp_server: SmtpServer
) -> None:
    clock = Clock(T0)
    email = LockedAfterAccept(
        EmailNotifier(
            "email", smtp_server.smtp_config(), Agency(name="Collective", timezone="UTC")
        ),
        store.path,
    )
    log, cap = capturing_logger()
    sender = OutboxSender(store, {"email": email}, clock, log=log)
    await store.enqueue([note("n1")], clock())
    runner = asyncio.create_task(sender.run())
    try:
        await asyncio.wait_for(email.locked.wait(), WAIT)
        # The store stays locked well past the lease; rounds go on (and fail) meanwhile.
        clock.advance(limits.OUTBOX_LEASE * 2)
        sender.wake()
        await asyncio.wait_for(cap.logged["outbox.round_failed"].wait(), WAIT)
        email.locker.rollback()
        sender.wake()
        await asyncio.wait_for(cap.logged["outbox.sent"].wait(), WAIT)
        sender.finish()
        await asyncio.wait_for(runner, WAIT)
        clock.advance(limits.OUTBOX_LEASE * 2)
        assert await sender.run_once() == 0
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await email.aclose()
    assert len(smtp_server.messages) == 1
    assert email.sends == 1
    (item,) = await store.outbox_items()
    assert (item.status, item.attempts) == (SENT, 1)
    assert item.external_id == smtp_server.messages[0].message["Message-ID"]
    failed = [e for e in cap.entries if e["event"] == "outbox.record_failed"]
    assert [(e["log_level"], e["what"]) for e in failed] == [("error", "mark_sent")]
