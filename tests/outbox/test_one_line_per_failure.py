"""One failed SMTP attempt is one log line: the outbox's ``outbox.retry`` (or
``outbox.failed``), which names the notifier, the item, the attempt and the error. The e-mail
notifier raises its classified error and says nothing more at the daemon's level (INFO), so
an outage is not logged twice in two long lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from monitord.config.models import Agency
from monitord.logsetup import configure_logging
from monitord.notify.email import EmailNotifier
from monitord.outbox import OutboxSender
from monitord.store import SqliteStore
from tests.helpers.clock import Clock
from tests.helpers.smtp import SmtpServer
from tests.outbox.test_sender import note

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


@pytest.fixture
def daemon_log() -> Iterator[io.StringIO]:
    """The daemon's own logging set-up (JSON lines at INFO), restored afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("INFO", stream, json=True)
    try:
        yield stream
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_a_refused_attempt_is_one_line(
    tmp_path: Path, smtp_server: SmtpServer, daemon_log: io.StringIO
) -> None:
    smtp_server.fail("data", "451 4.3.0 Mailbox busy, try again later")
    store = SqliteStore(tmp_path / "monitord.sqlite3")
    await store.open()
    clock = Clock(T0)
    email = EmailNotifier(
        "email", smtp_server.smtp_config(), Agency(name="Collective"), clock=clock
    )
    sender = OutboxSender(store, {"email": email}, clock)
    try:
        await store.enqueue([note("k1")], T0)
        await sender.run_once()
    finally:
        await store.close()
    lines = [json.loads(x) for x in daemon_log.getvalue().splitlines() if x.strip()]
    about = [x for x in lines if "451" in json.dumps(x)]
    assert [x["event"] for x in about] == ["outbox.retry"], about
    (line,) = about
    assert line["notifier"] == "email" and line["key"] == "k1"
    assert "451" in line["error"] and "Mailbox busy" in line["error"]
